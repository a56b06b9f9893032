"""TFP402 kl-dominates-loss: model.losses (KL terms) dwarf the data loss at initialization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.probe.observations import LossEval, Observation

RATIO = 10.0  # KL more than 10x the data loss: the data barely moves the weights
DIVERGENCE_FN_LAYERS = (
    "Flipout",
    "Reparameterization",
)


def _divisor(obs: Observation) -> str:
    return str(obs.num_examples) if obs.num_examples else "NUM_EXAMPLES"


def _fix(obs: Observation, class_name: str, layer: str, ratio: float) -> str:
    divisor = _divisor(obs)
    known = (
        f" ({divisor} = the number of training examples)"
        if obs.num_examples
        else " (NUM_EXAMPLES = the size of the training set; pass --num-examples to see it here)"
    )
    if any(part in class_name for part in DIVERGENCE_FN_LAYERS):
        return (
            f"Scale the divergence of '{layer}' (and of every {class_name} layer) by the "
            f"number of training examples{known}: {class_name}(..., "
            f"kernel_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p) / {divisor}) "
            "(and bias_divergence_fn the same way if the bias is Bayesian)."
        )
    if class_name == "DenseVariational":
        return f"Pass kl_weight=1 / {divisor} to DenseVariational '{layer}'{known}."
    return (
        f"Divide the KL/regularization terms added by '{layer}' by the number of training "
        f"examples{known}, e.g. tfp.layers.KLDivergenceRegularizer(prior, weight=1 / "
        f"{divisor}) or kl_divergence(q, p) / {divisor}."
    )


def _evaluation(obs: Observation) -> LossEval | None:
    """The loss at batch N with the targets the loss expects, when it ran."""
    evaluation = next(
        (
            e
            for e in obs.evals
            if e.batch_size == obs.batch_size and e.error is None and e.target.canonical
        ),
        None,
    )
    if evaluation is None or evaluation.data_loss is None:
        return None
    return evaluation


def _kl_finding(
    obs: Observation,
    extra_losses: dict[str, float],
    data: float,
    data_label: str,
    layer_index: int | None,
    evidence: dict[str, Any],
) -> Iterator[Finding]:
    from tfpcheck.probe.report import probe_finding

    extra = sum(extra_losses.values())
    if not extra_losses or extra <= RATIO * max(abs(data), 1.0):
        return
    layer, _value = max(extra_losses.items(), key=lambda item: item[1])
    info = obs.layer(layer)
    class_name = info.class_name if info is not None else "?"
    ratio = extra / max(abs(data), 1e-12)
    yield probe_finding(
        RULE,
        f"at initialization the model's own losses (KL terms of its Bayesian layers) sum to "
        f"{extra:.4g}, {ratio:.0f}x the data loss {data:.4g} ({data_label}): the "
        "divergence is not scaled by the number of examples, so training mostly shrinks "
        "the weights toward the prior and the model does not learn the data",
        _fix(obs, class_name, layer, ratio),
        Where(layer=layer, layer_index=layer_index),
        {
            "kl_total": round(extra, 4),
            "data_loss": round(data, 4),
            "ratio": round(ratio, 1),
            "kl_by_layer": {k: round(v, 4) for k, v in extra_losses.items()},
            **evidence,
            "num_examples": obs.num_examples,
        },
    )


def check_probe(obs: Observation) -> Iterator[Finding]:
    if obs.extra.get("output") is not None:
        return  # one output of several: `check_outputs` compares the KL with their sum
    evaluation = _evaluation(obs)
    if evaluation is None:
        return
    largest = max(evaluation.extra_losses.items(), key=lambda item: item[1], default=None)
    info = obs.layer(largest[0]) if largest else None
    yield from _kl_finding(
        obs,
        evaluation.extra_losses,
        evaluation.data_loss or 0.0,
        obs.loss.label,
        info.index if info is not None else None,
        {"batch_size": evaluation.batch_size},
    )


def check_outputs(
    observations: dict[str, Observation],
    weights: dict[str, float],
    layer_index: dict[str, int],
) -> Iterator[Finding]:
    """A model with several outputs: `fit` adds `sum(model.losses)` once to the sum of the
    outputs' losses (each times its `loss_weights` entry), so that sum is what the KL is
    compared with, in one finding for the model."""
    data_losses: dict[str, float] = {}
    extra_losses: dict[str, float] = {}  # layers are shared: each counted once
    first: Observation | None = None
    for name, obs in observations.items():
        evaluation = _evaluation(obs)
        if evaluation is None:
            return  # an output's loss did not run: the total is unknown
        data_losses[name] = evaluation.data_loss or 0.0
        extra_losses.update(evaluation.extra_losses)
        first = first or obs
    if first is None:
        return
    data = sum(weights.get(name, 1.0) * value for name, value in data_losses.items())
    largest = max(extra_losses.items(), key=lambda item: item[1], default=(None, 0.0))[0]
    owner = next((o for o in observations.values() if o.layer(largest)), first)
    label = " + ".join(
        f"{weights.get(name, 1.0):g} x {name}" if weights.get(name, 1.0) != 1.0 else name
        for name in data_losses
    )
    yield from _kl_finding(
        owner,
        extra_losses,
        data,
        f"the sum over outputs {label}",
        layer_index.get(largest) if largest else None,
        {
            "data_loss_by_output": {k: round(v, 4) for k, v in data_losses.items()},
            "loss_weights": {name: weights.get(name, 1.0) for name in data_losses},
            "batch_size": first.batch_size,
        },
    )


RULE = Rule(
    check_probe=check_probe,
    code="TFP402",
    name="kl-dominates-loss",
    title="KL terms dwarf the data loss at initialization",
    severity=Severity.ERROR,
    tiers=("probe",),
    doc=RuleDoc(
        what=(
            "Compares `sum(model.losses)` — the KL divergences that Bayesian layers "
            "(`DenseFlipout`, `DenseReparameterization`, `DenseVariational`, KL "
            "regularizers) add — with the data loss at initialization, and reports a KL "
            "more than 10x larger. For a model with several outputs the data loss is what "
            "`fit` adds up: each output's loss times its `loss_weights` entry; the model "
            "gets one finding."
        ),
        why=(
            "Keras adds `model.losses` to every batch's loss. The KL of the whole "
            "network's weights must be counted once per epoch, i.e. divided by the number "
            "of training examples; unscaled, it outweighs the data by orders of magnitude "
            "and the network does not learn ('my Bayesian network does not learn')."
        ),
        example="tfp.layers.DenseFlipout(64, activation='relu')",
        use_instead=(
            "kl = lambda q, p, _: tfd.kl_divergence(q, p) / NUM_EXAMPLES\n"
            "tfp.layers.DenseFlipout(64, activation='relu', kernel_divergence_fn=kl)"
        ),
    ),
)
