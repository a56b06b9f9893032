"""The command line: options, exit status, and which reporter writes. Never inspects a model."""

from __future__ import annotations

import inspect
import sys
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from tfpcheck.findings import FileResult, Severity
from tfpcheck.option_values import UsageError
from tfpcheck.options import FailOn, OutputFormat, check_options, command_parameters

SUBCOMMANDS = ("rules", "explain", "doctor", "cache")
EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class ListFormat(StrEnum):
    """Output of the commands that describe tfpcheck itself (rules, doctor)."""

    text = "text"
    json = "json"


def exit_status(results: list[FileResult], fail_on: Severity, require_probe: bool = False) -> int:
    if any(r.error is not None for r in results):
        return EXIT_USAGE
    if require_probe and any(not r.probed for r in results):
        return EXIT_USAGE
    if any(f.severity.rank >= fail_on.rank for r in results for f in r.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAN


check_app = typer.Typer(add_completion=False, rich_markup_mode=None)


CHECK_HELP = (
    "Check Keras + TensorFlow Probability models for configuration mistakes.\n\n"
    "PATH is a .keras archive, an .h5 file, a SavedModel directory, or FILE.py:NAME / "
    "module:NAME naming a function that builds the model. With no PATH, the models "
    "listed in [tool.tfpcheck] of the nearest pyproject.toml are checked. "
    "Other commands: 'tfpcheck shapes PATH' prints the shape of every distribution the "
    "probe saw, 'tfpcheck rules' lists the rules, 'tfpcheck explain CODE' "
    "documents one, 'tfpcheck doctor' checks the TensorFlow installation."
)


def check(ctx: typer.Context, paths: list[str] | None = None, **params: Any) -> int:
    """The check command; its options are the table's (options.OPTIONS, see below)."""
    from tfpcheck import config as configuration
    from tfpcheck.engine import check_paths

    # Only what was typed on the command line overrides the configuration files.
    given = {
        name
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    }
    try:
        found = configuration.load(params["config"], params["isolated"])
        plan = configuration.plan(paths or [], ctx.params, given, found)
    except configuration.ConfigError as exc:
        raise UsageError(str(exc)) from None
    for warning in plan.warnings:
        typer.echo(f"tfpcheck: warning: {warning}", err=True)
    if not plan.paths:
        raise UsageError(_no_paths_message(found))
    options = check_options(plan.values, given)
    per_path = {path: check_options(values, given) for path, values in plan.per_path.items()}
    from tfpcheck.preflight import check_references
    from tfpcheck.references import BadReference

    try:
        check_references(plan.paths, [options, *per_path.values()])
    except BadReference as exc:
        raise UsageError(str(exc)) from None
    values = plan.values
    shapes_table = values["shapes_table"]
    fmt = OutputFormat(values["output_format"])
    if shapes_table and fmt not in (OutputFormat.text, OutputFormat.json):
        raise UsageError(f"tfpcheck shapes writes text or json, not --format {fmt.value}")
    started = time.perf_counter()
    from tfpcheck.report.progress import progress, wanted

    with progress(plan.paths, wanted(plan.paths, values["quiet"])) as tracker:
        results = check_paths(
            plan.paths,
            options,
            per_path=per_path,
            on_result=tracker.on_result if tracker else None,
            on_stage=tracker.on_stage if tracker else None,
        )
    if shapes_table:
        return _shapes_report(results, fmt)
    _report(results, time.perf_counter() - started, fmt, values["quiet"], values["verbose"])
    unprobed = [r for r in results if r.error is None and not r.probed]
    if values["require_probe"] and unprobed:
        first = unprobed[0]
        more = f" and {len(unprobed) - 1} more" if len(unprobed) > 1 else ""
        typer.echo(
            f"tfpcheck: error: --require-probe: {first.path}{more} not probed ({first.not_probed})",
            err=True,
        )
    return exit_status(results, Severity(FailOn(values["fail_on"]).value), values["require_probe"])


def _shapes_report(results: list[FileResult], fmt: OutputFormat) -> int:
    """`tfpcheck shapes`: the tables; exit 2 when a model has none (it was not probed)."""
    from tfpcheck.report import shapes_format

    if fmt is OutputFormat.json:
        sys.stdout.write(shapes_format.render_json(results) + "\n")
    else:
        from tfpcheck.report.text import make_console

        shapes_format.render_text(make_console(), results)
    return EXIT_CLEAN if all(shapes_format.shown(r) for r in results) else EXIT_USAGE


def _no_paths_message(found: Any) -> str:
    if found is None:
        return (
            "no PATH given: tfpcheck model.keras [options], or list the models in "
            "[[tool.tfpcheck.models]] of pyproject.toml (tfpcheck --help)"
        )
    from tfpcheck.references import display

    where = display(found.file)
    if found.models:
        return f"no PATH given and the model tables of {where} match no file"
    return (
        f"no PATH given and {where} lists no models: give PATHs, or add "
        '[[tool.tfpcheck.models]] tables with path = "models/*.keras"'
    )


def _report(
    results: list[FileResult], seconds: float, fmt: OutputFormat, quiet: bool, verbose: bool
) -> None:
    from tfpcheck.report import summarize

    summary = summarize(results, seconds)
    # Machine formats go straight to stdout: no wrapping, no highlighting, no colour.
    if fmt is OutputFormat.json:
        from tfpcheck.report import json_format

        sys.stdout.write(json_format.render(results, summary) + "\n")
        return
    if fmt is OutputFormat.sarif:
        from tfpcheck.report import sarif

        sys.stdout.write(sarif.render(results, summary) + "\n")
        return
    if fmt is OutputFormat.github:
        from tfpcheck.report import github_format

        sys.stdout.write(github_format.render(results))
        return
    from tfpcheck.report import text

    text.render(text.make_console(), results, summary, quiet=quiet, verbose=verbose)


# typer reads a command's options from its signature: the check's come from the table.
check.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "paths",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=None,
            annotation=Annotated[
                list[str] | None, typer.Argument(metavar="PATH", show_default=False)
            ],
        ),
        *command_parameters(),
    ],
    return_annotation=int,
)
check_app.command(help=CHECK_HELP, context_settings={"help_option_names": ["-h", "--help"]})(check)


commands_app = typer.Typer(add_completion=False, rich_markup_mode=None, no_args_is_help=True)


@commands_app.command("rules", help="List every rule: code, name, severity, tiers.")
def rules_command(
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> int:
    from tfpcheck.rules import REGISTRY

    if output_format is ListFormat.json:
        import json

        sys.stdout.write(json.dumps([rule_dict(rule) for rule in REGISTRY], indent=2) + "\n")
        return EXIT_CLEAN
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    for column in ("code", "name", "severity", "tier"):
        table.add_column(column, no_wrap=True)
    table.add_column("what it finds")
    for rule in REGISTRY:
        table.add_row(rule.code, rule.name, rule.severity.value, "/".join(rule.tiers), rule.title)
    # Piped output has no width: give the table room instead of wrapping at 80 columns.
    from tfpcheck.report.text import color_system

    console = Console(width=None if sys.stdout.isatty() else 160, color_system=color_system())
    console.print(table)
    return EXIT_CLEAN


def rule_dict(rule: object) -> dict[str, object]:
    from tfpcheck.rules.base import Rule

    assert isinstance(rule, Rule)
    doc = rule.doc
    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "tiers": list(rule.tiers),
        "title": rule.title,
        "doc": {
            "what": doc.what,
            "why": doc.why,
            "example": doc.example,
            "use_instead": doc.use_instead,
        },
    }


@commands_app.command(
    "doctor",
    help=(
        "Show the versions of Python, TensorFlow, TFP, tf_keras and Keras, and whether they "
        "are a working combination for tfp.layers. Exit 1 when they are not."
    ),
)
def doctor_command(
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> int:
    from tfpcheck import doctor

    installed = doctor.installed_versions()
    diagnosis = doctor.diagnose(installed)
    if output_format is ListFormat.json:
        import json

        sys.stdout.write(json.dumps(doctor.report_dict(installed, diagnosis), indent=2) + "\n")
    else:
        sys.stdout.write(doctor.report_text(installed, diagnosis))
    return EXIT_CLEAN if diagnosis.working else EXIT_FINDINGS


@commands_app.command("explain", help="Show a rule's documentation (by code or name).")
def explain_command(code: Annotated[str, typer.Argument(metavar="CODE|NAME")]) -> int:
    from tfpcheck.rules import REGISTRY, get_rule

    rule = get_rule(code) or next((r for r in REGISTRY if r.name == code.lower()), None)
    if rule is None:
        import difflib

        names = [r.code for r in REGISTRY] + [r.name for r in REGISTRY]
        close = difflib.get_close_matches(code, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"unknown rule '{code}'{hint}: tfpcheck rules lists them all")
    typer.echo(explain_text(rule))
    return EXIT_CLEAN


@commands_app.command("cache", help="'tfpcheck cache clear' empties the result cache.")
def cache_command(
    action: Annotated[str | None, typer.Argument(metavar="clear", show_default=False)] = None,
) -> int:
    if action is None:
        raise UsageError("'tfpcheck cache' needs an action: tfpcheck cache clear")
    if action != "clear":
        raise UsageError(f"unknown cache action '{action}': the one action is tfpcheck cache clear")
    from tfpcheck import cache

    directory = cache.cache_dir()
    removed = cache.clear(directory)
    typer.echo(f"removed {removed} cached result{'' if removed == 1 else 's'} from {directory}")
    return EXIT_CLEAN


def explain_text(rule: object) -> str:
    from tfpcheck.rules.base import Rule

    assert isinstance(rule, Rule)
    doc = rule.doc

    def indent(block: str) -> str:
        return "\n".join("    " + line for line in block.splitlines())

    return (
        f"{rule.code} {rule.name} ({rule.severity.value}; {'/'.join(rule.tiers)})\n"
        f"{rule.title}\n\n"
        f"What it does\n{doc.what}\n\n"
        f"Why is this bad?\n{doc.why}\n\n"
        f"Example\n{indent(doc.example)}\n\n"
        f"Use instead\n{indent(doc.use_instead)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "shapes":  # the check, reporting the shapes table
        args = ["--shapes-table", *args[1:]]
    app = commands_app if args and args[0] in SUBCOMMANDS else check_app
    try:
        result = app(args=args, prog_name="tfpcheck", standalone_mode=False)
    except UsageError as exc:
        typer.echo(f"tfpcheck: error: {exc}", err=True)
        return EXIT_USAGE
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # typer's (click's) usage errors: ours in style
        message = " ".join(exc.format_message().split())
        typer.echo(f"tfpcheck: error: {message} (tfpcheck --help)", err=True)
        return EXIT_USAGE
    except typer.Abort:
        typer.echo("tfpcheck: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("tfpcheck: interrupted", err=True)
        return 130
    except Exception as exc:  # a bug of ours: one line unless the user asked for --debug
        if "--debug" in args:
            raise
        typer.echo(
            f"tfpcheck: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True
        )
        return EXIT_USAGE
    return result if isinstance(result, int) else EXIT_CLEAN
