"""The loss function's own operations, traced at batch 1 and N: which of them pair examples.

A hand-written loss needs no distribution to broadcast across the batch: `mean - y_true`
with `mean = y_pred[:, 0]` of shape (N,) and `y_true` of shape (N, 1) is (N, N), and a
`K.mean` over it returns a scalar that looks like any other loss. The loss's value says
nothing, its intermediate tensors do. So the loss function is traced (never run again) with
the shapes `fit` gave it at both batch sizes, and each operation's output is compared: an
operation whose output grows as N x N while none of its inputs does, combining two inputs of
one example per row but of different ranks, pairs every prediction with every target.

Traced operations are read into plain data first (`GraphOp`), so the comparison itself needs
no TensorFlow.
"""

from __future__ import annotations

import linecache
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tfpcheck.evidence.observations import Broadcast, LossGraph, Shape
from tfpcheck.evidence.sites import Site
from tfpcheck.probe.frames import is_library, is_orchestration

MAX_OPS = 5_000  # a loss is small; a bigger graph is not read (its cost would be the probe's)
MAX_WALK = 32  # producers followed back from a tensor to where its rank was dropped


@dataclass(frozen=True)
class GraphOp:
    """One traced operation: its inputs' producers and shapes, its output, the user's line."""

    name: str
    type: str
    inputs: tuple[tuple[str, Shape | None], ...]  # (producing op, shape) of each input
    output: Shape | None  # the first output's shape
    site: Site | None
    argument: int | None = None  # the loss argument a placeholder stands for (0: y_true)


def _elements(shape: Shape | None) -> int | None:
    if shape is None or any(d < 0 for d in shape):
        return None
    return math.prod(shape)


def _growth(small: Shape | None, large: Shape | None) -> float | None:
    """How many times more elements the tensor has at batch N than at batch 1."""
    e1, en = _elements(small), _elements(large)
    if not e1 or en is None:
        return None
    return en / e1


@dataclass(frozen=True)
class _Input:
    producer: str
    shape: Shape
    growth: float | None


def _inputs(op_1: GraphOp, op_n: GraphOp) -> list[_Input] | None:
    if len(op_1.inputs) != len(op_n.inputs):
        return None
    found = []
    for (_, s1), (producer, sn) in zip(op_1.inputs, op_n.inputs, strict=True):
        if sn is None:
            return None
        found.append(_Input(producer, sn, _growth(s1, sn)))
    return found


def _pairs_examples(op_1: GraphOp, op_n: GraphOp, n: int) -> list[_Input] | None:
    """The inputs with one row per example and a lower rank than the output, when this
    operation's output grows as N x N from them; None when it does not."""
    output = op_n.output
    if output is None or _growth(op_1.output, output) != n * n:
        return None
    if sum(1 for d in output if d == n) < 2:
        return None
    inputs = _inputs(op_1, op_n)
    if inputs is None:
        return None
    per_example = [i for i in inputs if i.growth == n]
    lower = [i for i in per_example if len(i.shape) < len(output)]
    return lower or None


def _creates(op_1: GraphOp, op_n: GraphOp, n: int) -> bool:
    """The first operation of a broadcast: two per-example inputs of different ranks, and
    none that has N x N elements already."""
    inputs = _inputs(op_1, op_n)
    if inputs is None or any(i.growth is None or i.growth >= n * n for i in inputs):
        return False
    ranks = {len(i.shape) for i in inputs if i.growth == n}
    return len(ranks) >= 2


def _rank_drops(start: str, shape: Shape, ops: dict[str, GraphOp]) -> Iterator[GraphOp]:
    """Where a tensor lost its trailing axis: back through operations that keep its shape
    to the one whose output has a lower rank than its input (a slice `y_pred[:, 0]`, a
    squeeze, a reduction), or to the loss argument that already had it."""
    pending: list[tuple[str, Shape | None]] = [(start, shape)]
    seen: set[str] = set()
    while pending and len(seen) < MAX_WALK:
        name, current = pending.pop()
        op = ops.get(name)
        if op is None or current is None or name in seen:
            continue
        seen.add(name)
        if op.argument is not None:
            yield op
            continue
        first = op.inputs[0][1] if op.inputs else None
        if first is not None and len(first) > len(current):
            yield op
            continue
        pending += [(p, s) for p, s in op.inputs if s == current]


def broadcasts(at_1: list[GraphOp], at_n: list[GraphOp], n: int) -> LossGraph:
    """The operations of the traced loss that pair examples, matched by name across the two
    traces (one function traced twice names its operations alike)."""
    by_name = {op.name: op for op in at_1}
    ops_n = {op.name: op for op in at_n}
    found: list[Broadcast] = []
    drops: list[Site] = []
    arguments: list[int] = []
    lines: dict[tuple[str, int], Shape] = {}
    for op_n in at_n:
        op_1 = by_name.get(op_n.name)
        if op_1 is None or op_1.type != op_n.type:
            continue
        _note_line(lines, op_n)
        lower = _pairs_examples(op_1, op_n, n)
        if lower is None:
            continue
        for item in lower:
            for source in _rank_drops(item.producer, item.shape, ops_n):
                if source.argument is not None:
                    arguments.append(source.argument)
                elif source.site is not None and source.site not in drops:
                    drops.append(source.site)
        if _creates(op_1, op_n, n):
            found.append(
                Broadcast(
                    op_n.type,
                    tuple(s for _, s in op_n.inputs if s is not None),
                    op_n.output or (),
                    op_1.output or (),
                    op_n.site,
                )
            )
    return LossGraph(tuple(found), tuple(drops), tuple(dict.fromkeys(arguments)), lines)


def _note_line(lines: dict[tuple[str, int], Shape], op: GraphOp) -> None:
    """The largest tensor an operation of two or more inputs makes at each user line."""
    if op.site is None or op.output is None or len(op.inputs) < 2:
        return
    key = (op.site.file, op.site.line)
    size = _elements(op.output) or 0
    if size > (_elements(lines.get(key)) or -1):
        lines[key] = op.output


# ---- reading a traced graph (TensorFlow from here on) -------------------------------------


def _shape(tensor: Any) -> Shape | None:
    try:
        dims = tensor.shape.as_list()
    except (AttributeError, ValueError):
        return None
    return tuple(-1 if d is None else int(d) for d in dims)


def _user_site(op: Any) -> Site | None:
    """The innermost frame of the user's code that created the operation."""
    try:
        frames = list(op.traceback)
    except Exception:
        return None
    for frame in reversed(frames):
        filename = frame.filename
        if is_orchestration(filename):
            return None
        if not is_library(filename):
            code = frame.line or linecache.getline(filename, frame.lineno)
            return Site(filename, frame.lineno, frame.name, code.strip())
    return None


def read_graph(graph: Any) -> list[GraphOp] | None:
    operations = graph.get_operations()
    if len(operations) > MAX_OPS:
        return None
    placeholders = 0
    ops = []
    for op in operations:
        argument = None
        if op.type == "Placeholder":
            argument, placeholders = placeholders, placeholders + 1
        inputs = tuple((t.op.name, _shape(t)) for t in op.inputs)
        output = _shape(op.outputs[0]) if op.outputs else None
        site = _user_site(op) if op.type not in {"Const", "Placeholder"} else None
        ops.append(GraphOp(op.name, op.type, inputs, output, site, argument))
    return ops


def trace(
    fn: Callable[[Any, Any], Any], specs: Iterable[tuple[Shape, str, Shape, str]]
) -> list[list[GraphOp]] | None:
    """The operations of `fn(y_true, y_pred)` traced once per (y_true, y_pred) shapes and
    dtypes; None when it cannot be traced (Python control flow on values, `.numpy()`)."""
    import tensorflow as tf

    def spec(shape: Shape, dtype: str) -> Any:
        return tf.TensorSpec(tuple(None if d < 0 else d for d in shape), dtype)

    traced = []
    for true_shape, true_dtype, pred_shape, pred_dtype in specs:
        function = tf.function(lambda a, b: fn(a, b), autograph=False)
        try:
            concrete = function.get_concrete_function(
                spec(true_shape, true_dtype), spec(pred_shape, pred_dtype)
            )
        except Exception:
            return None
        ops = read_graph(concrete.graph)
        if ops is None:
            return None
        traced.append(ops)
    return traced
