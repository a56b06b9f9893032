"""GitHub Actions workflow commands: one annotation per finding, file error and note.

An annotation shows best on a line of a text file in the repository, so a finding that knows
its source line inside the checkout (a lambda, a loss function) points there and names the
model in its message; any other finding points at the model file with no line.
"""

from __future__ import annotations

from tfpcheck.findings import FileResult, Finding, Severity
from tfpcheck.report.locations import display_path, model_file, relative_posix

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, str | int], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}"


def _model_display(path: str) -> str:
    file = model_file(path)
    return display_path(file) if file is not None else path


def _finding_command(path: str, finding: Finding) -> str:
    where = finding.where
    model = _model_display(path)
    source = relative_posix(where.file) if where.file is not None else None
    props: dict[str, str | int]
    context = []
    if source is not None and where.line is not None:
        props = {"file": source, "line": where.line}
        context.append(model)  # the annotation sits in the source: name the model
    else:
        props = {"file": model}
    if where.layer is not None:
        index = f" (#{where.layer_index})" if where.layer_index is not None else ""
        context.append(f"layer '{where.layer}'{index}")
    if where.function is not None:
        context.append(f"function {where.function}")
    unplaced = finding.unplaced_source()
    if unplaced is not None:
        context.append(unplaced)
    props["title"] = f"tfpcheck {finding.code}"
    lines = [finding.message]
    if context:
        lines.append(f"at {', '.join(context)}")
    lines.append(f"Fix: {finding.fix}")
    return command(COMMANDS[finding.severity], props, "\n".join(lines))


def render_lines(results: list[FileResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        model = _model_display(result.path)
        if result.error is not None:
            title = f"tfpcheck {result.error.code}"
            lines.append(command("error", {"file": model, "title": title}, result.error.message))
        lines.extend(_finding_command(result.path, f) for f in result.findings)
        lines.extend(
            command("notice", {"file": model, "title": "tfpcheck"}, note) for note in result.notes
        )
    return lines


def render(results: list[FileResult]) -> str:
    lines = render_lines(results)
    return "".join(line + "\n" for line in lines)
