"""Where the user's code is: a source line, and a summarized error with the frame it came from."""

from __future__ import annotations

from dataclasses import dataclass

from tfpcheck.recorded_files import is_placeholder, why_unknown


@dataclass(frozen=True)
class Site:
    file: str
    line: int
    function: str
    code: str  # the source line, stripped ("" when unavailable)

    def describe(self) -> str:
        if is_placeholder(self.file):
            return (
                f"{self.function}, line {self.line} (source file unknown: {why_unknown(self.file)})"
            )
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ErrorSummary:
    kind: str  # exception class name
    message: str  # one line, TensorFlow's decorations removed
    op: str | None  # the TensorFlow op that failed, e.g. "Reshape"
    site: Site | None  # the user's frame
    layer: str | None  # the Keras layer being called, when the message names one

    def describe(self) -> str:
        op = f" [op {self.op}]" if self.op else ""
        return f"{self.kind}: {self.message}{op}"
