"""TFP205 label-encoding-mismatch: one-hot targets for a sparse loss, or the reverse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.catalog.keras_losses import ONE_HOT_CONSUMERS, SPARSE_CONSUMERS
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    import numpy as np

    from tfpcheck.evidence.observations import LossEval, Observation


def is_one_hot(y: np.ndarray, classes: int) -> bool:
    import numpy as np

    if y.ndim < 2 or y.shape[-1] != classes or classes < 2:
        return False
    if not np.all((y == 0) | (y == 1)):
        return False
    return bool(np.all(y.sum(axis=-1) == 1))


def is_integer_labels(y: np.ndarray, classes: int) -> bool:
    import numpy as np

    per_example = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
    if per_example != 1 or classes < 3:
        return False
    if not np.all(np.equal(np.mod(y, 1), 0)):
        return False
    return bool(np.all((y >= 0) & (y < classes)))


def _classes(obs: Observation, evaluation: LossEval) -> int | None:
    if obs.classes:
        return obs.classes
    forward = obs.forwards.get(evaluation.batch_size)
    if forward is None or forward.output is None:
        return None
    output = forward.output
    if output.is_distribution:
        for record in evaluation.records:
            for key in ("logits", "probs"):
                shape = record.param_shapes.get(key)
                if shape:
                    return shape[-1]
        return None
    return output.shape[-1] if output.shape else None


def _consumer(obs: Observation) -> str | None:
    """'sparse' or 'one-hot': the label encoding the loss (or output distribution) expects."""
    if obs.loss.kind == "keras":
        if obs.loss.name in SPARSE_CONSUMERS:
            return "sparse"
        if obs.loss.name in ONE_HOT_CONSUMERS:
            return "one-hot"
        return None
    forward = obs.forwards.get(obs.batch_size)
    dist = forward.output.distribution if forward and forward.output else None
    if dist == "Categorical":
        return "sparse"
    if dist == "OneHotCategorical":
        return "one-hot"
    return None


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import loss_where, output_where, probe_finding

    if obs.targets_source == "synthesized":
        return  # synthesized targets are right by construction
    consumer = _consumer(obs)
    if consumer is None:
        return
    evaluation = next((e for e in obs.evals if e.batch_size == obs.batch_size), None)
    if evaluation is None or evaluation.y_values is None:
        return
    classes = _classes(obs, evaluation)
    if classes is None:
        return
    y = evaluation.y_values
    source = "--data" if obs.targets_source == "data" else "--target-shape"
    what = (
        f"the loss {obs.loss.label}"
        if obs.loss.kind == "keras"
        else f"the output distribution ({_dist(obs)})"
    )
    evidence: dict[str, Any] = {
        "target_shape": fmt_shape(tuple(y.shape)),
        "classes": classes,
        "targets_from": source,
    }
    if consumer == "sparse" and is_one_hot(y, classes):
        fix = (
            "Feed integer labels (y.argmax(-1)), or use categorical_crossentropy"
            if obs.loss.kind == "keras"
            else "Feed integer labels (y.argmax(-1)), or use tfd.OneHotCategorical"
        )
        yield probe_finding(
            RULE,
            f"the targets ({source}) are one-hot {fmt_shape(tuple(y.shape))}, but {what} "
            "expects integer class labels",
            fix + " so that the targets and the loss agree.",
            loss_where(obs) if obs.loss.kind == "keras" else output_where(obs),
            {**evidence, "expected": "integer labels"},
        )
    elif consumer == "one-hot" and is_integer_labels(y, classes):
        fix = (
            "Feed one-hot targets (tf.one_hot(y, depth)), or use sparse_categorical_crossentropy"
            if obs.loss.kind == "keras"
            else "Feed one-hot targets (tf.one_hot(y, depth)), or use tfd.Categorical"
        )
        yield probe_finding(
            RULE,
            f"the targets ({source}) are integer labels {fmt_shape(tuple(y.shape))}, but "
            f"{what} expects one-hot vectors of {classes} classes",
            fix + " so that the targets and the loss agree.",
            loss_where(obs) if obs.loss.kind == "keras" else output_where(obs),
            {**evidence, "expected": "one-hot"},
        )


def _dist(obs: Observation) -> str:
    forward = obs.forwards.get(obs.batch_size)
    return (forward.output.distribution if forward and forward.output else None) or "?"


RULE = Rule(
    check_probe=check_probe,
    code="TFP205",
    name="label-encoding-mismatch",
    title="label encoding does not match the loss",
    severity=Severity.ERROR,
    # labels in the wrong encoding break the loss's shapes in every way these rules see
    explains=frozenset({"TFP101", "TFP102", "TFP103", "TFP108", "TFP107"}),
    doc=RuleDoc(
        what=(
            "With real targets (`--data`) or a pinned `--target-shape`, compares the label "
            "encoding with what the loss expects: one-hot targets with "
            "`sparse_categorical_crossentropy` or `tfd.Categorical`, integer labels with "
            "`categorical_crossentropy` or `tfd.OneHotCategorical`."
        ),
        why=(
            "A sparse loss reads a one-hot row as a batch of labels (an error or a wrong "
            "loss); a one-hot loss or OneHotCategorical broadcasts an integer label against "
            "every class. Either way the model does not learn the task."
        ),
        example=(
            "model.compile(loss='sparse_categorical_crossentropy')\n"
            "model.fit(x, tf.one_hot(labels, 10))"
        ),
        use_instead=(
            "model.compile(loss='sparse_categorical_crossentropy')\n"
            "model.fit(x, labels)   # integer class ids, shape (N,)"
        ),
    ),
)
