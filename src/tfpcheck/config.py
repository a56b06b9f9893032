"""Configuration: `[tool.tfpcheck]` in pyproject.toml, merged under the command line.

The command line's parameters (by their Python names, as the `check` command receives them)
are the unit of exchange: a configuration file supplies values for the parameters that were
not given on the command line, in the same form the command line would give them, so the
command checks them the same way whatever their origin. Values from a file are validated
here, when the file is read, so a bad value is reported with its key and its file.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfpcheck.option_values import BadValue, string
from tfpcheck.options import CONFIG_KEYS, MODEL_KEYS, RUN_KEYS
from tfpcheck.references import display, is_code_reference, is_file_target

PYPROJECT = "pyproject.toml"

# The keys and what they hold come from the table of options (options.OPTIONS): "run" keys
# apply to the whole run; "model" keys may also be set per `[[tool.tfpcheck.models]]` table.
TOP_KEYS = (*MODEL_KEYS, *RUN_KEYS, "models")


class ConfigError(Exception):
    """A configuration file that cannot be used: one line naming the file and the key."""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


# -- files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTable:
    """One `[[tool.tfpcheck.models]]`: which models (a glob or a factory) and their values."""

    pattern: str  # as written
    values: dict[str, Any]  # parameter name -> value, as the command line would give it
    base: Path
    is_factory: bool = False
    regex: re.Pattern[str] | None = None
    label: str = ""  # how messages name it: 'pyproject.toml: [[tool.tfpcheck.models]] #2 ...'

    def matches(self, path: str) -> bool:
        if self.is_factory:
            return is_code_reference(path) and _absolute_spec(path, Path.cwd()) == _absolute_spec(
                self.pattern, self.base
            )
        assert self.regex is not None
        absolute = os.path.abspath(path)
        if os.path.isabs(self.pattern):
            return bool(self.regex.match(Path(absolute).as_posix()))
        relative = os.path.relpath(absolute, self.base)
        if relative.startswith(os.pardir):
            return False
        return bool(self.regex.match(Path(relative).as_posix()))

    def expand(self) -> list[str]:
        """The models this table names, as paths to show (no PATH on the command line)."""
        if self.is_factory:
            target, _, name = self.pattern.rpartition(":")
            if is_file_target(target):
                return [f"{display(self.base / target)}:{name}"]
            return [self.pattern]
        found = glob.glob(self.pattern, root_dir=self.base, recursive=True)
        return [display(self.base / f) for f in sorted(found)]


@dataclass(frozen=True)
class Config:
    file: Path
    values: dict[str, Any]  # parameter name -> value
    models: tuple[ModelTable, ...] = ()

    def model_tables_for(self, path: str) -> list[ModelTable]:
        return [table for table in self.models if table.matches(path)]


def _absolute_spec(spec: str, base: Path) -> str:
    target, _, name = spec.rpartition(":")
    if is_file_target(target):
        return f"{os.path.abspath(base / target)}:{name}"
    return spec


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression on '/'-separated paths: `*` and `?` stay within one
    directory, `**` spans directories, `[...]` is a character class (`[!...]` negated)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if at_segment_start and pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif at_segment_start and pattern.startswith("**", i) and i + 2 == len(pattern):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _unknown(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def _read_values(
    table: Mapping[str, Any], known: tuple[str, ...], where: str, base: Path
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in known:
            message = _unknown(key, known)
            if key in RUN_KEYS:
                message = f"'{key}' applies to the whole run: set it in the top-level table"
            elif key == "tool" and "[tool.tfpcheck]" not in where:
                message += (
                    " (only a file named pyproject.toml is read for its [tool.tfpcheck] table;"
                    " other files hold the keys at the top level)"
                )
            raise ConfigError(f"{where} {message}")
        if key in ("models", "path"):
            continue
        option = CONFIG_KEYS[key]
        assert option.validate is not None  # every configuration key has a validator
        try:
            value = option.validate(raw, base)
        except BadValue as exc:
            raise ConfigError(f"{where} {key} = {_show(raw)}: {exc}") from None
        if option.inverted:
            value = not value
        values[option.param] = value
    return values


def _read_models(raw: Any, file: str, name: str, base: Path) -> tuple[ModelTable, ...]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{file} 'models' must be an array of tables: {name}")
    tables = []
    for number, table in enumerate(raw, start=1):
        here = f"{file} {name} #{number}"
        if "path" not in table:
            raise ConfigError(
                f"{here} has no 'path' (a glob like \"models/*.keras\" or FILE.py:NAME)"
            )
        try:
            pattern = string(table["path"])
        except BadValue as exc:
            raise ConfigError(f"{here} path = {_show(table['path'])}: {exc}") from None
        here = f"{here} (path {_show(pattern)})"
        values = _read_values(table, ("path", *MODEL_KEYS), here, base)
        pattern = pattern.removeprefix("./")
        if is_code_reference(pattern):
            tables.append(ModelTable(pattern, values, base, is_factory=True, label=here))
        else:
            try:
                regex = glob_regex(pattern)
            except re.error as exc:  # a character class like [z-a]
                raise ConfigError(f"{here}: not a valid glob ({exc})") from None
            tables.append(ModelTable(pattern, values, base, regex=regex, label=here))
    return tuple(tables)


def _parse(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{display(file)}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{display(file)}: cannot be read ({exc.strerror})") from None


def read_config(file: Path) -> Config:
    """A pyproject.toml's `[tool.tfpcheck]`, or the top-level keys of any other TOML file."""
    document = _parse(file)
    base = file.resolve().parent
    if file.name == PYPROJECT:
        tool = document.get("tool", {})
        table = tool.get("tfpcheck") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{display(file)}: has no [tool.tfpcheck] table")
        top, models = f"{display(file)}: [tool.tfpcheck]", "[[tool.tfpcheck.models]]"
    else:
        table, top, models = document, f"{display(file)}:", "[[models]]"
    values = _read_values(table, TOP_KEYS, top, base)
    tables: tuple[ModelTable, ...] = ()
    if "models" in table:
        tables = _read_models(table["models"], f"{display(file)}:", models, base)
    return Config(file=file, values=values, models=tables)


def _has_table(file: Path) -> bool:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if "tfpcheck" not in text:  # most pyproject.toml files: no need to parse them
        return False
    tool = _parse(file).get("tool", {})
    return isinstance(tool, dict) and "tfpcheck" in tool


def discover(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.tfpcheck] table, from `start` up to the
    repository root (the directory that holds .git) or the filesystem root."""
    for directory in (start, *start.parents):
        candidate = directory / PYPROJECT
        if candidate.is_file() and _has_table(candidate):
            return candidate
        if (directory / ".git").exists():
            return None
    return None


# -- merging -----------------------------------------------------------------------------


@dataclass
class Plan:
    """What to check and with which values: parameter name -> value, as the command has them."""

    paths: list[str]
    values: dict[str, Any]  # for the whole run, and for paths no model table names
    per_path: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: Path | None = None
    warnings: list[str] = field(default_factory=list)


def load(config_file: str | None, isolated: bool, cwd: Path | None = None) -> Config | None:
    if config_file is not None and isolated:
        raise ConfigError("--config and --isolated contradict each other: give one")
    if isolated:
        return None
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"--config {config_file}: no such file")
        return read_config(path)
    found = discover((cwd or Path.cwd()).resolve())
    return read_config(found) if found is not None else None


def _with_table(values: dict[str, Any], table: ModelTable, given: set[str]) -> dict[str, Any]:
    merged = dict(values)
    for param, value in table.values.items():
        if param == "ignore":  # a model's ignore adds to the run's, like per-file ignores
            merged["ignore"] = [*(merged.get("ignore") or []), *value]
        elif param not in given:
            merged[param] = value
    return merged


def plan(
    paths: list[str],
    params: Mapping[str, Any],
    given: set[str],
    config: Config | None,
) -> Plan:
    """Merge: the command's defaults < [tool.tfpcheck] < a model's table < the command line.

    `params` are all the command's parameters, `given` the names typed on the command line.
    """
    values = dict(params)
    if config is None:
        return Plan(list(paths), values)
    for param, value in config.values.items():
        if param not in given:
            values[param] = value
    warnings = []
    if not paths:
        paths = []
        for table in config.models:
            expanded = table.expand()
            if not expanded:
                warnings.append(f"{table.label} matches no file")
            paths.extend(p for p in expanded if p not in paths)
    per_path: dict[str, dict[str, Any]] = {}
    for path in paths:
        tables = config.model_tables_for(path)
        if tables:
            merged = values
            for table in tables:  # later tables override earlier ones
                merged = _with_table(merged, table, given)
            per_path[path] = merged
    return Plan(list(paths), values, per_path, config.file, warnings)
