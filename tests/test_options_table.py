"""The table of options is the one place an option is declared: the command line, the
configuration keys, CheckOptions, the probe's request, the cache key and the Python API
agree with it."""

from __future__ import annotations

import inspect
from dataclasses import fields, replace
from pathlib import Path

import typer

from tfpcheck import cache, config
from tfpcheck.api import check
from tfpcheck.cli import check_app
from tfpcheck.engine import CheckOptions
from tfpcheck.options import BY_PARAM, CONFIG_KEYS, OPTIONS, PROBE_FIELDS, UNKEYED, check_options
from tfpcheck.probe import ProbeRequest

# ProbeRequest fields that are not options: the model, and what the engine adds
NOT_OPTIONS = {"path", "flavor", "static_findings", "arrays"}
# CheckOptions fields the Python API takes under another name, or not at all (and why)
API_NAMES = {"static_only": "static_only", "data": "x", "use_cache": None, "debug": None}


def _command() -> typer.core.TyperCommand:
    return typer.main.get_command(check_app)


def test_the_command_has_exactly_the_table_s_options() -> None:
    params = {p.name: p for p in _command().params}
    assert set(params) == {o.param for o in OPTIONS} | {"paths"}
    for option in OPTIONS:
        assert params[option.param].param_type_name == "option"
        assert tuple(params[option.param].opts + params[option.param].secondary_opts) == (
            option.flags
        )


def test_every_check_options_field_is_set_by_one_row() -> None:
    rows = [o.sets for o in OPTIONS if o.sets is not None]
    assert len(rows) == len(set(rows))
    assert set(rows) == {f.name for f in fields(CheckOptions)}


def test_the_defaults_give_the_default_check_options() -> None:
    values = {o.param: o.default for o in OPTIONS}
    defaults = check_options(values, set())
    # the command line keeps TFP006 for -v (VERBOSE_ONLY); the rest is CheckOptions' default
    assert defaults.selector.ignore == ("TFP006",)
    assert replace(defaults, selector=CheckOptions().selector) == CheckOptions()


def test_probe_fields_are_the_requests_options() -> None:
    request = {f.name for f in fields(ProbeRequest)}
    assert set(PROBE_FIELDS) == request - NOT_OPTIONS
    for name in PROBE_FIELDS:
        assert name not in UNKEYED, f"{name} goes to the probe, so it changes what is found"


def test_unkeyed_options_are_the_cache_s() -> None:
    assert cache.UNKEYED_OPTIONS == UNKEYED
    keyed = {f.name for f in fields(CheckOptions)} - set(UNKEYED)
    assert set(cache.options_fingerprint(CheckOptions())) == keyed


def test_every_configuration_key_is_an_option_with_a_validator(tmp_path: Path) -> None:
    assert set(config.TOP_KEYS) == set(CONFIG_KEYS) | {"models"}
    for key, option in CONFIG_KEYS.items():
        assert option.validate is not None, key
    # a model table takes exactly the "model" keys; the others are for the whole run
    assert set(config.MODEL_KEYS) == {k for k, o in CONFIG_KEYS.items() if o.scope == "model"}


def test_a_configuration_value_arrives_as_the_command_line_gives_it(tmp_path: Path) -> None:
    file = tmp_path / "tfpcheck.toml"
    file.write_text('batch-size = 8\ncache = false\ntarget-shape = [28, 28]\nformat = "json"\n')
    values = config.read_config(file).values
    assert values == {
        "batch_size": 8,
        "no_cache": True,
        "target_shape": "28,28",
        "output_format": "json",
    }
    merged = {**{o.param: o.default for o in OPTIONS}, **values}
    options = check_options(merged, set())
    assert (options.batch_size, options.use_cache, options.target_shape) == (8, False, (28, 28))


def test_the_python_api_takes_every_option_that_changes_the_result() -> None:
    api = set(inspect.signature(check).parameters)
    for option in OPTIONS:
        if option.sets is None or option.sets in UNKEYED:
            continue
        name = API_NAMES.get(option.sets, option.param)
        assert name in api, f"tfpcheck.check has no parameter for {option.flags[0]}"
    assert BY_PARAM["select"].sets == "selector" and {"select", "ignore"} <= api
