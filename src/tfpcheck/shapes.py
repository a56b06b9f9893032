"""The shapes table: every distribution the probe saw, at batch 1 and N, as plain data.

What users otherwise find out with `print(dist)` inside a loss: where each distribution was
built, its `batch | event` shape at both probe batch sizes, the value its log_prob was asked
for and the log_prob's shape, then what the loss returned per example. Built by the probe
(`probe/shape_table.py`), carried through the worker and the cache as plain values, shown by
`tfpcheck shapes`, `Report.shapes` and Jupyter. Free of TensorFlow.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tfpcheck.findings import Where

Shape = tuple[int, ...]


def fmt(shape: Shape | None) -> str:
    """A shape as Python writes a tuple: (32, 1), (32,), (); '-' when not seen."""
    if shape is None:
        return "-"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join("?" if d < 0 else str(d) for d in shape) + ")"


def _shape(value: Any) -> Shape | None:
    return None if value is None else tuple(int(d) for d in value)


def _list(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


@dataclass(frozen=True)
class DistShape:
    """One distribution at one batch size."""

    batch: Shape | None
    event: Shape | None
    value: Shape | None = None  # what log_prob was called on; None: never called
    log_prob: Shape | None = None

    def batch_event(self) -> str:
        return f"{fmt(self.batch)} | {fmt(self.event)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_shape": _list(self.batch),
            "event_shape": _list(self.event),
            "value_shape": _list(self.value),
            "log_prob_shape": _list(self.log_prob),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DistShape | None:
        if data is None:
            return None
        return cls(
            _shape(data["batch_shape"]),
            _shape(data["event_shape"]),
            _shape(data["value_shape"]),
            _shape(data["log_prob_shape"]),
        )


@dataclass(frozen=True)
class DistRow:
    """One distribution the model or the loss built, at batch 1 and at N."""

    where: Where
    distribution: str  # class name: "Normal", "Independent"
    in_loss: bool  # built while the loss ran (else by the model's forward pass)
    at_1: DistShape | None
    at_n: DistShape | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "where": self.where.as_dict(),
            "distribution": self.distribution,
            "built_by": "loss" if self.in_loss else "model",
            "at_1": None if self.at_1 is None else self.at_1.as_dict(),
            "at_n": None if self.at_n is None else self.at_n.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistRow:
        return cls(
            Where(**data["where"]),
            str(data["distribution"]),
            data["built_by"] == "loss",
            DistShape.from_dict(data["at_1"]),
            DistShape.from_dict(data["at_n"]),
        )


@dataclass(frozen=True)
class LossShapes:
    """What the loss function received and returned, at batch 1 and N."""

    label: str  # "nll", "mse", "losses.py:nll"
    y_true_1: Shape | None = None
    y_true_n: Shape | None = None
    y_pred_1: Shape | None = None  # a tensor output as the loss received it; None: a distribution
    y_pred_n: Shape | None = None
    per_example_1: Shape | None = None
    per_example_n: Shape | None = None
    error: str | None = None  # the loss raised (TFP108 says more)

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.label,
            "y_true": {"at_1": _list(self.y_true_1), "at_n": _list(self.y_true_n)},
            "y_pred": {"at_1": _list(self.y_pred_1), "at_n": _list(self.y_pred_n)},
            "per_example": {"at_1": _list(self.per_example_1), "at_n": _list(self.per_example_n)},
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossShapes:
        return cls(
            str(data["loss"]),
            _shape(data["y_true"]["at_1"]),
            _shape(data["y_true"]["at_n"]),
            _shape(data["y_pred"]["at_1"]),
            _shape(data["y_pred"]["at_n"]),
            _shape(data["per_example"]["at_1"]),
            _shape(data["per_example"]["at_n"]),
            data.get("error"),
        )


HEADER = ("where", "distribution", "batch | event at 1", "at N", "value (N)", "log_prob (N)")


def row_cells(row: DistRow, show: Callable[[Where], str]) -> tuple[str, ...]:
    """One row of the table as text cells, in HEADER's order."""
    at_n = row.at_n
    return (
        ("loss: " if row.in_loss else "") + show(row.where),
        row.distribution,
        row.at_1.batch_event() if row.at_1 else "-",
        at_n.batch_event() if at_n else "-",
        fmt(at_n.value) if at_n else "-",
        fmt(at_n.log_prob) if at_n else "-",
    )


@dataclass(frozen=True)
class ShapeTable:
    """The distributions of one probed model (or one output of a model with several)."""

    batch_size: int  # N
    target: str  # the target variant the loss ran on: "(N, 1)"
    targets_source: str  # "synthesized", "data", "target-shape"
    rows: tuple[DistRow, ...] = ()
    loss: LossShapes | None = None
    output: str | None = None  # the output's name, for a model with several

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "batch_size": self.batch_size,
            "target": self.target,
            "targets": self.targets_source,
            "distributions": [row.as_dict() for row in self.rows],
            "loss": None if self.loss is None else self.loss.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShapeTable:
        loss = data.get("loss")
        return cls(
            int(data["batch_size"]),
            str(data["target"]),
            str(data["targets"]),
            tuple(DistRow.from_dict(row) for row in data["distributions"]),
            None if loss is None else LossShapes.from_dict(loss),
            data.get("output"),
        )

    def heading(self) -> str:
        output = f"output '{self.output}': " if self.output else ""
        return f"{output}N = {self.batch_size}, targets {self.target} ({self.targets_source})"

    def lines(self, where: Callable[[Where], str] | None = None) -> list[str]:
        """The table as aligned text lines; `where(Where) -> str` shows a location."""
        show = where or (lambda w: w.describe())
        body = [row_cells(row, show) for row in self.rows]
        lines = [self.heading()]
        if body:
            widths = [max(len(r[i]) for r in [HEADER, *body]) for i in range(len(HEADER))]
            for cells in [HEADER, *body]:
                text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
                lines.append(text.rstrip())
        else:
            lines.append("no distribution was built or scored")
        if self.loss is not None:
            lines.append(self.loss_line())
        return lines

    def loss_line(self) -> str:
        loss = self.loss
        assert loss is not None
        parts = [f"loss {loss.label}: y_true {fmt(loss.y_true_n)}"]
        if loss.y_pred_n is not None:
            parts.append(f"y_pred {fmt(loss.y_pred_n)}")
        if loss.error is not None:
            parts.append(f"raised {loss.error}")
        else:
            parts.append(
                f"per example {fmt(loss.per_example_n)} (at batch 1: {fmt(loss.per_example_1)})"
            )
        return ", ".join(parts)


@dataclass(frozen=True)
class Shapes(Sequence[DistRow]):
    """`Report.shapes`: the rows of every table, in call order; prints as the table."""

    tables: tuple[ShapeTable, ...] = ()

    @property
    def rows(self) -> tuple[DistRow, ...]:
        return tuple(row for table in self.tables for row in table.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[DistRow]:
        return iter(self.rows)

    def __str__(self) -> str:
        if not self.tables:
            return "no shapes: the model was not probed"
        from tfpcheck.report.text import describe_location

        return "\n".join(line for table in self.tables for line in table.lines(describe_location))

    def to_dict(self) -> list[dict[str, Any]]:
        return [table.as_dict() for table in self.tables]

    def _repr_html_(self) -> str:
        e = html.escape
        if not self.tables:
            return f"<p>{e(str(self))}</p>"
        from tfpcheck.report.text import describe_location

        parts = []
        for table in self.tables:
            parts.append(f"<p><strong>{e(table.heading())}</strong></p>")
            head = "".join(f"<th>{e(c)}</th>" for c in HEADER)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
            for row in table.rows:
                cells = row_cells(row, describe_location)
                parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
            parts.append("</tbody></table>")
            if table.loss is not None:
                parts.append(f"<p><code>{e(table.loss_line())}</code></p>")
        return "\n".join(parts)
