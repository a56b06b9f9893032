"""TFP402 kl-dominates-loss: a Bayesian layer's KL is not divided by the training-set size."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import KLTerm, LossEval, Observation

# A weight within this factor of 1/N is 1/N (the KL of a Monte Carlo penalty, the N the user
# gives, 1/(N - validation split) all move it a little); within it of 1 it is unscaled.
TOLERANCE = 2.0
# Layers whose KL weight cannot be measured are judged by size alone: their losses more than
# 10x the data loss.
RATIO = 10.0
PLACEHOLDER = "NUM_EXAMPLES"

Problem = Literal["unscaled", "misscaled"]


@dataclass(frozen=True)
class Judged:
    term: KLTerm
    problem: Problem

    @property
    def weight(self) -> float:
        return self.term.weight or 0.0


@dataclass(frozen=True)
class DataLoss:
    value: float | None  # None: the loss did not run
    label: str


def _near(value: float, target: float) -> bool:
    return target / TOLERANCE <= value <= target * TOLERANCE


def problem_of(term: KLTerm, num_examples: int | None) -> Problem | None:
    """What is wrong with a KL term's weight, if anything.

    Keras adds `model.losses` to every batch's mean loss; a KL over the weights must count
    once per pass over the data, so its weight is 1/N. Without N only a weight of 1 is
    certainly wrong. A latent KL (a VAE's code) is per example already: its weight is the
    user's (beta), not a matter of N.
    """
    weight = term.weight
    if term.kind != "weights" or weight is None or not math.isfinite(weight) or weight <= 0:
        return None
    if num_examples is not None and _near(weight, 1.0 / num_examples):
        return None
    if _near(weight, 1.0):
        return "unscaled"
    return "misscaled" if num_examples is not None else None


def _sig(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.3g}x"


def _divisor_text(weight: float) -> str:
    divisor = 1.0 / weight
    return f"{divisor:.0f}" if divisor >= 100 else f"{divisor:.3g}"


def _part_text(term: KLTerm) -> str:
    if term.part == "bias":
        return "bias"
    if term.part == "kernel":
        return "kernel"
    return "weights"


def _measured(term: KLTerm) -> str:
    """How the weight was measured, for the message."""
    if term.against == "reference":
        return (
            f"what its penalty gives for its posterior against a reference prior, over their "
            f"{term.method} KL (at initialization its posterior is its prior, whose KL is 0)"
        )
    of = f"{term.part} " if term.part in ("kernel", "bias") else ""
    return (
        f"what it adds to model.losses, {term.added:.4g}, over the {term.method} KL of its "
        f"{of}posterior from its prior, {term.kl:.4g}"
    )


def _problem_text(judged: Judged, num_examples: int | None) -> str:
    term, weight = judged.term, judged.weight
    name = f"{term.class_name} '{term.layer}'"
    part = _part_text(term)
    if num_examples is None:  # then only a weight of 1 is a problem
        return (
            f"{name} adds the KL of its {part} to the loss unscaled (effective KL weight "
            f"{weight:.3g}: {_measured(term)}): it counts the whole KL at every batch; the "
            "weight must be 1 / the number of training examples, which tfpcheck was not "
            "given (--num-examples)"
        )
    if judged.problem == "unscaled":
        return (
            f"{name} adds the KL of its {part} to the loss unscaled (effective KL weight "
            f"{weight:.3g}: {_measured(term)}), where the {num_examples} training examples "
            f"make it 1/{num_examples}: every batch counts the whole KL as if it were the "
            f"whole training set, {_times(num_examples)} too much"
        )
    factor = weight * num_examples
    how = (
        f"{_times(factor)} too much, so training pulls the weights toward the prior"
        if factor > 1
        else f"{_times(1 / factor)} too little, so the posterior narrows to a point estimate"
    )
    return (
        f"{name} divides the KL of its {part} by {_divisor_text(weight)} (effective KL weight "
        f"{weight:.3g}: {_measured(term)}), not by the {num_examples} training examples "
        f"(1/{num_examples}): it counts {how}"
    )


def _fix_line(term: KLTerm, divisor: str) -> str:
    if term.class_name == "DenseVariational":
        return f"kl_weight=1 / {divisor}"
    argument = "bias_divergence_fn" if term.part == "bias" else "kernel_divergence_fn"
    return f"{argument}=lambda q, p, _: tfd.kl_divergence(q, p) / {divisor}"


def _fix(judged: list[Judged], obs: Observation) -> str:
    n = obs.num_examples
    divisor = str(n) if n is not None else PLACEHOLDER
    if n is not None:
        head = f"Divide the KL of each Bayesian layer by the {n} training examples."
    else:
        held = f"; --data holds {obs.data_examples}" if obs.data_examples else ""
        head = (
            "Divide the KL of each Bayesian layer by the number of training examples "
            f"({PLACEHOLDER} = the size of the training set: pass --num-examples so that "
            f"tfpcheck checks the weight{held})."
        )
    # one line per layer class and argument, naming the layers it is for
    lines: dict[tuple[str, str, str], list[str]] = {}
    for item in judged:
        term = item.term
        was = f"  # not / {_divisor_text(item.weight)}" if item.problem == "misscaled" else ""
        key = (term.class_name, _fix_line(term, divisor), was)
        lines.setdefault(key, []).append(f"'{term.layer}'")
    body = " ".join(
        f"{', '.join(dict.fromkeys(layers))}: `{class_name}(..., {line}){was}`"
        for (class_name, line, was), layers in lines.items()
    )
    return f"{head} {body}"


def _ratio(total: float, data: DataLoss) -> float | None:
    if data.value is None:
        return None
    return total / max(abs(data.value), 1e-12)


def _weight_finding(
    obs: Observation,
    terms: list[KLTerm],
    judged: list[Judged],
    extra_losses: dict[str, float],
    data: DataLoss,
    index_of: Callable[[str], int | None],
    evidence: dict[str, Any],
) -> Finding:
    from tfpcheck.evidence.where import probe_finding

    n = obs.num_examples
    # The finding points at the term that adds the most; the others are named after it.
    judged = sorted(judged, key=lambda j: -(j.term.added or 0.0))
    first = judged[0]
    term = first.term
    message = _problem_text(first, n)
    others = judged[1:]
    if others:
        message += "; also " + ", ".join(
            f"'{j.term.key}' (weight {j.weight:.3g})" for j in others[:5]
        )
        if len(others) > 5:
            message += f" and {len(others) - 5} more"
    total = sum(extra_losses.values())
    ratio = _ratio(total, data)
    if ratio is not None and data.value is not None:
        message += (
            f". At initialization the model's KL terms sum to {total:.4g}, {_times(ratio)} the "
            f"data loss {data.value:.4g} ({data.label})"
        )
    weight = first.weight
    return probe_finding(
        RULE,
        message,
        _fix(judged, obs),
        Where(layer=term.layer, layer_index=index_of(term.top)),
        {
            # the first four are what the text report shows
            "effective_weight": _sig(weight),
            "divisor": _sig(1.0 / weight),
            "expected_divisor": n,
            "ratio": None if ratio is None else round(ratio, 1),
            "problem": first.problem,
            "layer_class": term.class_name,
            "part": term.part,
            "kl": _sig(term.kl),
            "added": _sig(term.added),
            "kl_method": term.method,
            "weight_measured_against": term.against,
            "weights_by_layer": {
                t.key: _sig(t.weight) for t in terms if t.kind == "weights" and t.weight
            },
            "kl_total": round(total, 4),
            "data_loss": None if data.value is None else round(data.value, 4),
            "kl_by_layer": {k: round(v, 4) for k, v in extra_losses.items()},
            **evidence,
            "num_examples": n,
        },
        severity=Severity.ERROR if n is not None else Severity.WARNING,
    )


def _magnitude_finding(
    obs: Observation,
    terms: list[KLTerm],
    extra_losses: dict[str, float],
    data: DataLoss,
    index_of: Callable[[str], int | None],
    evidence: dict[str, Any],
) -> Iterator[Finding]:
    """Layers whose KL weight tfpcheck cannot measure (a custom layer's add_loss, a KL it
    cannot evaluate), judged by size as before. A warning: a correctly scaled KL of a large
    network can still be many times the data loss at initialization."""
    from tfpcheck.evidence.where import probe_finding

    weighed = {t.top for t in terms if t.weight is not None or t.kind == "latent"}
    unweighed = {k: v for k, v in extra_losses.items() if k not in weighed}
    total = sum(unweighed.values())
    if not unweighed or data.value is None or total <= RATIO * max(abs(data.value), 1.0):
        return
    layer = max(unweighed.items(), key=lambda item: item[1])[0]
    info = obs.layer(layer)
    class_name = info.class_name if info is not None else "?"
    notes = {t.key: t.note for t in terms if t.top in unweighed and t.note}
    why = (
        "its KL could not be evaluated: " + "; ".join(notes.values())
        if notes
        else "it is not one of tfp.layers' Bayesian layers"
    )
    ratio = total / max(abs(data.value), 1e-12)
    n = obs.num_examples
    divisor = str(n) if n is not None else PLACEHOLDER
    yield probe_finding(
        RULE,
        f"at initialization the losses that {', '.join(repr(k) for k in unweighed)} "
        f"{'adds' if len(unweighed) == 1 else 'add'} to model.losses sum to {total:.4g}, "
        f"{_times(ratio)} the data loss {data.value:.4g} "
        f"({data.label}), and tfpcheck cannot tell their KL weight ({why}): if they are "
        "KL terms not divided by the number of training examples, training mostly shrinks "
        "the weights toward the prior",
        f"Divide the KL/regularization terms added by '{layer}' ({class_name}) by the number "
        f"of training examples, e.g. kl_divergence(q, p) / {divisor}.",
        Where(layer=layer, layer_index=index_of(layer)),
        {
            "kl_total": round(sum(extra_losses.values()), 4),
            "unweighed_total": round(total, 4),
            "data_loss": round(data.value, 4),
            "ratio": round(ratio, 1),
            "kl_by_layer": {k: round(v, 4) for k, v in extra_losses.items()},
            **evidence,
            "num_examples": n,
        },
        severity=Severity.WARNING,
    )


def _kl_findings(
    obs: Observation,
    terms: list[KLTerm],
    extra_losses: dict[str, float],
    data: DataLoss,
    index_of: Callable[[str], int | None],
    evidence: dict[str, Any],
) -> Iterator[Finding]:
    judged = [
        Judged(term, problem)
        for term in terms
        if (problem := problem_of(term, obs.num_examples)) is not None
    ]
    if judged:
        yield _weight_finding(obs, terms, judged, extra_losses, data, index_of, evidence)
        return
    yield from _magnitude_finding(obs, terms, extra_losses, data, index_of, evidence)


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


def _index_in(obs: Observation) -> Callable[[str], int | None]:
    def index_of(name: str) -> int | None:
        info = obs.layer(name)
        return info.index if info is not None else None

    return index_of


def check_probe(obs: Observation) -> Iterator[Finding]:
    if obs.extra.get("output") is not None:
        return  # one output of several: `check_outputs` compares the KL with their sum
    evaluation = _evaluation(obs)
    data = DataLoss(evaluation.data_loss if evaluation else None, obs.loss.label)
    yield from _kl_findings(
        obs,
        obs.kl_terms,
        evaluation.extra_losses if evaluation else {},
        data,
        _index_in(obs),
        {"batch_size": obs.batch_size},
    )


def check_outputs(
    observations: Mapping[str, Observation],
    weights: Mapping[str, float],
    layer_index: Mapping[str, int],
) -> Iterator[Finding]:
    """A model with several outputs: `fit` adds `sum(model.losses)` once to the sum of the
    outputs' losses (each times its `loss_weights` entry), so the KL weights are judged once
    for the model, and that sum is what the KL is compared with."""
    data_losses: dict[str, float] = {}
    extra_losses: dict[str, float] = {}  # layers are shared: each counted once
    terms: dict[str, KLTerm] = {}
    complete = True
    first: Observation | None = None
    for name, obs in observations.items():
        first = first or obs
        terms.update((t.key, t) for t in obs.kl_terms if t.key not in terms)
        evaluation = _evaluation(obs)
        if evaluation is None:
            complete = False  # an output's loss did not run: the total is unknown
            continue
        data_losses[name] = evaluation.data_loss or 0.0
        extra_losses.update(evaluation.extra_losses)
    if first is None:
        return
    total = sum(weights.get(name, 1.0) * value for name, value in data_losses.items())
    label = " + ".join(
        f"{weights.get(name, 1.0):g} x {name}" if weights.get(name, 1.0) != 1.0 else name
        for name in data_losses
    )
    yield from _kl_findings(
        first,
        list(terms.values()),
        extra_losses,
        DataLoss(total if complete else None, f"the sum over outputs {label}"),
        layer_index.get,
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
    title="a Bayesian layer's KL is not divided by the number of training examples",
    severity=Severity.ERROR,
    check_outputs=check_outputs,
    doc=RuleDoc(
        what=(
            "Measures the effective KL weight of every Bayesian layer (`DenseFlipout`, "
            "`DenseReparameterization`, `DenseLocalReparameterization`, `Conv*Flipout`, "
            "`Conv*Reparameterization`, `DenseVariational`): what the layer adds to "
            "`model.losses` divided by the KL of its posterior from its prior "
            "(`tfd.kl_divergence(q, p)` where TFP has it, else sampled). A weight of 1 is "
            "the unscaled KL. With the number of training examples N (`--num-examples` or "
            "`num-examples` in the configuration), a weight of 1, or one more than 2x away "
            "from 1/N (a KL divided by the batch size, by 10, ...), is an error that names "
            "the divisor used and N; a weight near 1/N is clean however large the KL is. "
            "Without N, a weight of 1 is a warning that asks for `--num-examples`. The KL's "
            "ratio to the data loss at initialization is shown as evidence; a model with "
            "several outputs gets one finding. A per-example latent KL "
            "(`KLDivergenceRegularizer`, as in a VAE) is not judged: its weight is a choice "
            "about the data. Losses of layers whose KL weight cannot be measured (a custom "
            "layer's `add_loss`) are a warning when they exceed 10x the data loss."
        ),
        why=(
            "Keras adds `model.losses` to every batch's mean loss. The KL of the network's "
            "weights belongs once to the whole training set, so per example it must be "
            "divided by the number of training examples. Unscaled, every batch counts the "
            "whole KL and the prior outweighs the data ('my Bayesian network does not "
            "learn'); divided by the batch size it still counts N/batch_size times too "
            "much; divided by too much, the posterior shrinks to a point estimate. The "
            "size of the KL alone does not tell: a correctly scaled KL of a large network "
            "can be many times the data loss at initialization."
        ),
        example=(
            "tfp.layers.DenseFlipout(64, activation='relu')  # weight 1\n"
            "tfp.layers.DenseVariational(64, posterior, prior, kl_weight=1 / BATCH_SIZE)"
        ),
        use_instead=(
            "kl = lambda q, p, _: tfd.kl_divergence(q, p) / NUM_EXAMPLES\n"
            "tfp.layers.DenseFlipout(64, activation='relu', kernel_divergence_fn=kl)\n"
            "tfp.layers.DenseVariational(64, posterior, prior, kl_weight=1 / NUM_EXAMPLES)"
        ),
    ),
)
