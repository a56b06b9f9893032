"""Every option of the check, in one table: the command line, the configuration file, the
engine's CheckOptions, the probe's request and the cache key are all derived from it.

A row says how the option is typed (flag, type, default, help), whether and where the
configuration may set it (`key`, `scope`, the validator of a file's value), which field of
CheckOptions it becomes and how, whether it changes what is found (else it stays out of the
cache key, with the reason), and whether the probe needs it (a ProbeRequest field of the same
name). A new option is one row; the tests check that every place agrees with the table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from tfpcheck import option_values as value
from tfpcheck.option_values import UsageError

if TYPE_CHECKING:
    from tfpcheck.engine import CheckOptions
    from tfpcheck.probe import ProbeRequest
    from tfpcheck.selection import Selector


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


class Device(StrEnum):
    """Where the probe runs. The CPU by default: a hook must not take a GPU from training."""

    cpu = "cpu"
    gpu = "gpu"


DEFAULT_TIMEOUT = 300.0  # seconds per model's probe (--timeout)
DEFAULT_BATCH_SIZE = 32

Values = Mapping[str, Any]  # the check command's parameters by name, as it received them
Convert = Callable[[Values, set[str]], Any]

# Shown with -v or when selected by code: TFP006 says that a factory's model cannot be
# saved, which is true of nearly every tfp.layers model and why factories are the way in.
VERBOSE_ONLY = ("TFP006",)


@dataclass(frozen=True)
class Option:
    param: str  # the check command's parameter: "batch_size"
    flags: tuple[str, ...]  # ("--batch-size",)
    type: Any  # as typer reads it: int, str | None, list[str] | None, an enum
    default: Any
    help: str
    metavar: str | None = None
    minimum: int | None = None
    # the configuration key ("batch-size"); None: the command line only
    key: str | None = None
    # "model": also in a [[tool.tfpcheck.models]] table; "run": only for the whole run
    scope: Literal["model", "run"] = "model"
    validate: value.Validator | None = None  # a configuration value -> the parameter's value
    inverted: bool = False  # `cache = false` is `--no-cache`
    # the CheckOptions field it sets (None: it only shapes the report or the run)
    sets: str | None = None
    convert: Convert | None = None  # parameters -> the field's value; None: the value as is
    # why it cannot change what is found (so it stays out of the cache key); None: it can
    unkeyed: str | None = None
    probe: bool = False  # the probe needs it: a ProbeRequest field of the same name
    cli: dict[str, Any] = field(default_factory=dict)  # more of typer.Option's arguments


# -- conversions into CheckOptions ------------------------------------------------------------


def _loss(values: Values, given: set[str]) -> Any:
    from tfpcheck.losses import LossSpecError, parse_loss_spec

    loss, from_logits = values["loss"], values["from_logits"]
    try:
        spec = parse_loss_spec(loss, from_logits) if loss is not None else None
    except LossSpecError as exc:
        raise UsageError(f"--loss: {exc}") from None
    if spec is None and from_logits:
        if "from_logits" in given:
            raise UsageError("--from-logits goes with a Keras loss: --loss cce --from-logits")
        raise UsageError(
            "from-logits = true in the configuration goes with a Keras loss: "
            'set loss = "cce" (or give --loss) too'
        )
    return spec


def selector(
    select: list[str] | None,
    ignore: list[str] | None,
    verbose: bool,
    names: tuple[str, str] = ("--select", "--ignore"),
) -> Selector:
    """Which codes are reported: --select and --ignore (code prefixes, comma-separated or
    repeated; one that matches no rule is a UsageError naming `names`), and without -v the
    VERBOSE_ONLY codes unless selected by code. The command line's and the Python API's."""
    from tfpcheck.selection import Selector

    chosen = value.split_codes(select, names[0])
    selected = {code.upper() for code in chosen}
    quiet = [] if verbose else [code for code in VERBOSE_ONLY if code not in selected]
    return Selector.from_lists(chosen, value.split_codes(ignore, names[1]) + quiet)


def _selector(values: Values, given: set[str]) -> Selector:
    return selector(values["select"], values["ignore"], values["verbose"])


def _timeout(values: Values, given: set[str]) -> float:
    if not values["timeout"] > 0:
        raise UsageError(f"--timeout {values['timeout']:g}: must be a positive number of seconds")
    return float(values["timeout"])


def _version_callback(given: bool) -> None:
    if given:
        import typer

        from tfpcheck import __version__

        typer.echo(f"tfpcheck {__version__}")
        raise typer.Exit(0)


UNKEYED_SELECTOR = "--select/--ignore are applied to the cached result: one entry serves all"

OPTIONS: tuple[Option, ...] = (
    Option(
        "loss",
        ("--loss",),
        str | None,
        None,
        "nll, compiled, a Keras loss name (cce, scce, bce, mse, ...), or FILE.py:NAME / "
        "module:NAME naming a loss function (y_true, y_pred).",
        metavar="SPEC",
        key="loss",
        validate=value.loss,
        sets="loss",
        convert=_loss,
        probe=True,
    ),
    Option(
        "from_logits",
        ("--from-logits",),
        bool,
        False,
        "The Keras loss takes logits.",
        key="from-logits",
        validate=value.boolean,
    ),  # part of the loss's LossSpec
    Option(
        "static",
        ("--static",),
        bool,
        False,
        "Static tier only.",
        key="static",
        validate=value.boolean,
        sets="static_only",
    ),
    Option(
        "unsafe",
        ("--unsafe",),
        bool,
        False,
        "Allow loading files that hold Python code.",
        key="unsafe",
        validate=value.boolean,
        sets="unsafe",
        probe=True,
    ),
    Option(
        "no_cache",
        ("--no-cache",),
        bool,
        False,
        "Check again even if a cached result exists.",
        key="cache",
        scope="run",
        validate=value.boolean,
        inverted=True,
        sets="use_cache",
        convert=lambda values, given: not values["no_cache"],
        unkeyed="it decides whether the cache is asked at all",
    ),
    Option(
        "batch_size",
        ("--batch-size",),
        int,
        DEFAULT_BATCH_SIZE,
        "Probe batch size N.",
        metavar="N",
        minimum=2,
        key="batch-size",
        validate=value.integer(2),
        sets="batch_size",
        probe=True,
    ),
    Option(
        "timeout",
        ("--timeout",),
        float,
        DEFAULT_TIMEOUT,
        "Stop a model's probe after this long (TFP008).",
        metavar="SECONDS",
        key="timeout",
        scope="run",
        validate=value.seconds,
        sets="timeout",
        convert=_timeout,
        unkeyed="a probe cut short is never stored, and one that finished finds the same "
        "whatever the limit was",
    ),
    Option(
        "target_shape",
        ("--target-shape",),
        str | None,
        None,
        "Per-example target shape: scalar (targets (N,)), 1 ((N, 1)), 28,28, ...",
        metavar="D,...",
        key="target-shape",
        validate=value.target_shape,
        sets="target_shape",
        convert=lambda values, given: value.parse_shape(values["target_shape"]),
        probe=True,
    ),
    Option(
        "classes",
        ("--classes",),
        int | None,
        None,
        "Number of classes.",
        metavar="K",
        minimum=2,
        key="classes",
        validate=value.integer(2),
        sets="classes",
        probe=True,
    ),
    Option(
        "data",
        ("--data",),
        str | None,
        None,
        "An .npz of real examples: arrays x and y (x_<input> or x0, x1, ... for several "
        "inputs; y_<output> for several outputs).",
        metavar="FILE.npz",
        key="data",
        validate=value.file_path,
        sets="data",
        probe=True,
    ),
    Option(
        "num_examples",
        ("--num-examples",),
        int | None,
        None,
        "Training-set size: the KL weight TFP402 expects is 1/N.",
        metavar="N",
        minimum=1,
        key="num-examples",
        validate=value.integer(1),
        sets="num_examples",
        probe=True,
    ),
    Option(
        "custom_objects",
        ("--custom-objects",),
        str | None,
        None,
        "Where custom layers and functions are defined.",
        metavar="FILE.py|module",
        key="custom-objects",
        validate=value.custom_objects,
        sets="custom_objects",
        probe=True,
    ),
    Option(
        "select",
        ("--select",),
        list[str] | None,
        None,
        "Only these code prefixes (repeat or comma).",
        metavar="CODES",
        key="select",
        validate=value.codes,
        sets="selector",
        convert=_selector,
        unkeyed=UNKEYED_SELECTOR,
    ),
    Option(
        "ignore",
        ("--ignore",),
        list[str] | None,
        None,
        "Skip these code prefixes (repeat or comma).",
        metavar="CODES",
        key="ignore",
        validate=value.codes,
    ),  # part of the selector
    Option(
        "jobs",
        ("-j", "--jobs"),
        int | None,
        None,
        "Probe this many models at once (default: one per core, as memory allows).",
        metavar="N",
        minimum=1,
        key="jobs",
        scope="run",
        validate=value.integer(1),
        sets="jobs",
        unkeyed="it decides how many models are probed at once, not what is found",
    ),
    Option(
        "device",
        ("--device",),
        Device,
        Device.cpu,
        "Run the probe on the CPU (default: leaves GPUs to training) or the GPU.",
        key="device",
        scope="run",
        validate=value.choice([d.value for d in Device]),
        sets="device",
        convert=lambda values, given: Device(values["device"]).value,
        unkeyed="it decides where the probe runs (CPU or GPU), not what it finds",
    ),
    Option(
        "require_probe",
        ("--require-probe",),
        bool,
        False,
        "Exit 2 when a model could not be probed (CI gates).",
        key="require-probe",
        scope="run",
        validate=value.boolean,
    ),
    Option(
        "output_format",
        ("--format",),
        OutputFormat,
        OutputFormat.text,
        "Output format.",
        key="format",
        scope="run",
        validate=value.choice([f.value for f in OutputFormat]),
    ),
    Option(
        "fail_on",
        ("--fail-on",),
        FailOn,
        FailOn.error,
        "Exit 1 on findings at or above this severity.",
        key="fail-on",
        scope="run",
        validate=value.choice([f.value for f in FailOn]),
    ),
    Option(
        "quiet",
        ("-q", "--quiet"),
        bool,
        False,
        "Summary only.",
        key="quiet",
        scope="run",
        validate=value.boolean,
    ),
    Option(
        "verbose",
        ("-v", "--verbose"),
        bool,
        False,
        "All evidence.",
        key="verbose",
        scope="run",
        validate=value.boolean,
    ),
    Option(
        "debug",
        ("--debug",),
        bool,
        False,
        "Show tracebacks of internal errors.",
        sets="debug",
        unkeyed="it only shows the tracebacks of failures of tfpcheck, which are never stored",
    ),
    Option(
        "config",
        ("--config",),
        str | None,
        None,
        "Read this configuration file instead of the nearest pyproject.toml.",
        metavar="FILE",
    ),
    Option("isolated", ("--isolated",), bool, False, "Ignore all configuration files."),
    Option(
        "version",
        ("--version",),
        bool | None,
        None,
        "Version.",
        cli={"callback": _version_callback, "is_eager": True},
    ),
    # `tfpcheck shapes PATH [options]` is the check with the shapes table for its report
    Option("shapes_table", ("--shapes-table",), bool, False, "", cli={"hidden": True}),
)

BY_PARAM = {option.param: option for option in OPTIONS}
CONFIG_KEYS = {option.key: option for option in OPTIONS if option.key is not None}
MODEL_KEYS = tuple(k for k, o in CONFIG_KEYS.items() if o.scope == "model")
RUN_KEYS = tuple(k for k, o in CONFIG_KEYS.items() if o.scope == "run")
# CheckOptions fields that cannot change what is found, and why (kept out of the cache key)
UNKEYED: dict[str, str] = {o.sets: o.unkeyed for o in OPTIONS if o.sets and o.unkeyed}
PROBE_FIELDS = tuple(o.sets for o in OPTIONS if o.probe and o.sets)


def check_options(values: Values, given: set[str]) -> CheckOptions:
    """The engine's options from the merged values (command line over configuration)."""
    from tfpcheck.engine import CheckOptions

    found = {
        o.sets: (o.convert(values, given) if o.convert else values[o.param])
        for o in OPTIONS
        if o.sets is not None
    }
    return CheckOptions(**found)


def probe_request(
    options: CheckOptions, path: str, flavor: str | None, **more: Any
) -> ProbeRequest:
    """The probe's request for one model: the options the probe needs, by name."""
    from tfpcheck.probe import ProbeRequest

    fields = {name: getattr(options, name) for name in PROBE_FIELDS}
    return ProbeRequest(path=path, flavor=flavor, **{**fields, **more})


def command_parameters() -> list[inspect.Parameter]:
    """The check command's options as typer reads a function's parameters."""
    import typer

    parameters = []
    for o in OPTIONS:
        info = typer.Option(
            *o.flags,
            help=o.help or None,
            metavar=o.metavar,
            min=o.minimum,
            **o.cli,
        )
        parameters.append(
            inspect.Parameter(
                o.param,
                inspect.Parameter.KEYWORD_ONLY,
                default=o.default,
                annotation=Annotated[o.type, info],
            )
        )
    return parameters
