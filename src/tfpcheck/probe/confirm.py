"""Probe-side evidence for rules the static tier also checks (TFP105/201/202/203/204/301/304).

The static rules guess from the configuration; here the probe has seen the values. When a
static finding with the same code exists, the aggregator merges the two into one finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tfpcheck.evidence.observations import DistRecord, Observation, fmt_shape
from tfpcheck.evidence.where import output_where, probe_finding, record_where
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules import BY_CODE
from tfpcheck.rules.heads import SIGMOID_LOGIT_DISTRIBUTIONS, SOFTMAX_LOGIT_DISTRIBUTIONS
from tfpcheck.rules.tfp104_distribution_parameter_broadcast import (
    broadcast_parameters,
    width_fix,
)
from tfpcheck.rules.tfp105_params_size_mismatch import confirm_widths
from tfpcheck.rules.tfp301_unconstrained_scale import POSITIVE_PARAMETERS

ONE_HOT_CONSUMERS = frozenset({"categorical_crossentropy", "categorical_focal_crossentropy"})
SOFTMAX_LOSSES = ONE_HOT_CONSUMERS | {"sparse_categorical_crossentropy"}
SIGMOID_LOSSES = frozenset({"binary_crossentropy", "binary_focal_crossentropy"})


def on_simplex(values: np.ndarray) -> bool:
    if values.ndim < 1 or values.shape[-1] < 2 or values.size == 0:
        return False
    if np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        return False
    return bool(np.all(np.abs(values.sum(axis=-1) - 1.0) < 1e-3))


def in_unit_interval(values: np.ndarray) -> bool:
    return values.size >= 8 and bool(np.all((values > 0) & (values < 1)))


def _records(obs: Observation) -> list[DistRecord]:
    return obs.distributions_at(obs.batch_size)


def _first_of_each(records: list[DistRecord]) -> list[DistRecord]:
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for record in records:
        key = (record.distribution, record.layer, record.built_at)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _finding(code: str, *args: Any, **kwargs: Any) -> Finding:
    return probe_finding(BY_CODE[code], *args, **kwargs)


def _row_sums(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values.reshape(-1, values.shape[-1]).sum(axis=-1)[:3]]


def squash_in_distributions(obs: Observation) -> Iterator[Finding]:
    for record in _first_of_each(_records(obs)):
        logits = record.param_values.get("logits")
        probs = record.param_values.get("probs")
        name = record.distribution
        evidence: dict[str, Any] = {"distribution": name}
        if record.built_at is not None:
            evidence["built_at"] = record.built_at.describe()
        if logits is not None and name in SOFTMAX_LOGIT_DISTRIBUTIONS and on_simplex(logits):
            yield _finding(
                "TFP202",
                f"the logits passed to {name} in '{record.layer or 'the loss'}' are "
                f"probabilities: every row is in [0, 1] and sums to 1 (row sums "
                f"{_row_sums(logits)}), so {name} applies a second softmax",
                f"Feed raw logits (remove the softmax before it) and keep {name}(logits=t); "
                f"or keep the softmax and build tfd.{name}(probs=t).",
                record_where(obs, record),
                {
                    **evidence,
                    "logits_shape": fmt_shape(logits.shape),
                    "min": float(logits.min()),
                    "max": float(logits.max()),
                },
            )
        elif (
            logits is not None and name in SIGMOID_LOGIT_DISTRIBUTIONS and in_unit_interval(logits)
        ):
            yield _finding(
                "TFP203",
                f"every logit passed to {name} in '{record.layer or 'the loss'}' lies in "
                f"(0, 1) (min {logits.min():.4g}, max {logits.max():.4g}): they are "
                "sigmoid outputs, and Bernoulli(logits=) applies a second sigmoid",
                f"Remove the sigmoid before it and keep {name}(logits=t), or pass "
                f"tfd.{name}(probs=t).",
                record_where(obs, record),
                {**evidence, "logits_shape": fmt_shape(logits.shape)},
            )
        if probs is not None and name in SOFTMAX_LOGIT_DISTRIBUTIONS and not on_simplex(probs):
            yield _finding(
                "TFP204",
                f"the probs passed to {name} in '{record.layer or 'the loss'}' are not "
                f"probabilities: values from {probs.min():.4g} to {probs.max():.4g}, row "
                f"sums {_row_sums(probs)}",
                f"Pass raw outputs as logits: tfd.{name}(logits=t); or put a softmax before it.",
                record_where(obs, record),
                {**evidence, "probs_shape": fmt_shape(probs.shape)},
            )
        elif (
            probs is not None
            and name in SIGMOID_LOGIT_DISTRIBUTIONS
            and (np.any(probs < 0) or np.any(probs > 1))
        ):
            yield _finding(
                "TFP204",
                f"the probs passed to {name} in '{record.layer or 'the loss'}' leave [0, 1] "
                f"(min {probs.min():.4g}, max {probs.max():.4g}): they are logits",
                f"Pass them as logits: tfd.{name}(logits=t); or put a sigmoid before it.",
                record_where(obs, record),
                {**evidence, "probs_shape": fmt_shape(probs.shape)},
            )


def squash_in_keras_loss(obs: Observation) -> Iterator[Finding]:
    loss = obs.loss
    forward = obs.forwards.get(obs.batch_size)
    if loss.kind != "keras" or forward is None or forward.output is None:
        return
    if forward.output.is_distribution:
        return  # the loss sees samples; TFP201 is about that
    values = forward.output.values
    if values is None:
        return
    name = loss.name or ""
    where = output_where(obs)
    evidence = {
        "loss": name,
        "from_logits": loss.from_logits,
        "output_shape": fmt_shape(values.shape),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    layer = obs.output_layer.name if obs.output_layer else "the output"
    if loss.from_logits and name in SOFTMAX_LOSSES and on_simplex(values):
        yield _finding(
            "TFP202",
            f"the output of '{layer}' is already a softmax (rows in [0, 1] summing to 1, "
            f"row sums {_row_sums(values)}) and {name} is computed with from_logits=True: "
            "softmax is applied twice",
            f"Remove the softmax from '{layer}' (activation=None) and keep from_logits=True, "
            "or keep it and use from_logits=False.",
            where,
            evidence,
        )
    elif loss.from_logits and name in SIGMOID_LOSSES and in_unit_interval(values):
        yield _finding(
            "TFP203",
            f"every output of '{layer}' lies in (0, 1) and {name} is computed with "
            "from_logits=True: sigmoid is applied twice",
            f"Remove the sigmoid from '{layer}' and keep from_logits=True, or use "
            "from_logits=False.",
            where,
            evidence,
        )
    elif not loss.from_logits and name in SOFTMAX_LOSSES and not on_simplex(values):
        yield _finding(
            "TFP204",
            f"the output of '{layer}' is not a probability vector (values from "
            f"{values.min():.4g} to {values.max():.4g}, row sums {_row_sums(values)}) but "
            f"{name} is computed with from_logits=False: logits are read as probabilities",
            f"Compile with {name} from_logits=True, or give '{layer}' activation='softmax'.",
            where,
            evidence,
        )
    elif (
        not loss.from_logits
        and name in SIGMOID_LOSSES
        and (np.any(values < 0) or np.any(values > 1))
    ):
        yield _finding(
            "TFP204",
            f"the output of '{layer}' leaves [0, 1] (min {values.min():.4g}, max "
            f"{values.max():.4g}) but {name} is computed with from_logits=False",
            f"Compile with {name} from_logits=True, or give '{layer}' activation='sigmoid'.",
            where,
            evidence,
        )


def unconstrained_scale(obs: Observation) -> Iterator[Finding]:
    for record in _first_of_each(_records(obs)):
        for key in sorted(POSITIVE_PARAMETERS):
            values = record.param_values.get(key)
            if values is None or values.size == 0 or np.all(values > 0):
                continue
            bad = int(np.sum(~(values > 0)))
            yield _finding(
                "TFP301",
                f"{record.distribution}'s {key} takes values <= 0 at the probe ({bad} of "
                f"{values.size}, min {np.nanmin(values):.4g}): log_prob is NaN for them",
                f"Constrain it: {key}=1e-3 + tf.math.softplus(...) of the raw outputs.",
                record_where(obs, record),
                {
                    "distribution": record.distribution,
                    "parameter": key,
                    "non_positive": bad,
                    "size": int(values.size),
                    "min": float(np.nanmin(values)),
                },
                severity=Severity.ERROR,
            )
            break


def covariance(obs: Observation) -> Iterator[Finding]:
    for record in _first_of_each(_records(obs)):
        cov = record.param_values.get("covariance_matrix")
        if cov is None or cov.ndim < 2:
            continue
        symmetric = np.allclose(cov, np.swapaxes(cov, -1, -2), atol=1e-5)
        smallest = float(np.min(np.linalg.eigvalsh(cov))) if symmetric else float("nan")
        if symmetric and smallest > 0:
            continue
        yield _finding(
            "TFP304",
            f"{record.distribution} gets covariance matrices that are not symmetric positive "
            f"definite (symmetric: {symmetric}, smallest eigenvalue {smallest:.4g})",
            BY_CODE["TFP304"].doc.use_instead.replace("\n", " "),
            record_where(obs, record),
            {"distribution": record.distribution, "covariance_shape": fmt_shape(cov.shape)},
            severity=Severity.ERROR,
        )
    seen = set()
    for evaluation in obs.evals:
        error = evaluation.error
        if error is None or "cholesky" not in (error.message + (error.op or "")).lower():
            continue
        key = error.message
        if key in seen:
            continue
        seen.add(key)
        from tfpcheck.evidence.where import site_where
        from tfpcheck.rules.tfp108_loss_or_forward_fails import error_evidence

        yield _finding(
            "TFP304",
            "the covariance matrix built from the network's outputs is not positive "
            f"definite: the Cholesky decomposition fails ({error.describe()})",
            BY_CODE["TFP304"].doc.use_instead.replace("\n", " "),
            site_where(error.site, error.layer, obs),
            {"target_shape": evaluation.target.label, **error_evidence(error)},
            severity=Severity.ERROR,
        )


def onehot_classifier(obs: Observation) -> Iterator[Finding]:
    forward = obs.forwards.get(obs.batch_size)
    if forward is None or forward.output is None or obs.loss.kind == "nll":
        return
    if forward.output.distribution not in {"OneHotCategorical", "RelaxedOneHotCategorical"}:
        return
    evals = [e for e in obs.evals if e.batch_size == obs.batch_size and e.target.canonical]
    if not evals:
        return
    failed = [e for e in evals if e.error is not None]
    no_grad = [e for e in evals if e.error is None and all(g.status != "ok" for g in e.gradients)]
    if not failed and not no_grad:
        return
    evidence: dict[str, Any] = {
        "distribution": forward.output.distribution,
        "loss": obs.loss.label,
        "output_dtype": forward.output.dtype,
    }
    if failed and failed[0].error is not None:
        evidence["error"] = failed[0].error.describe()
        outcome = f"the loss fails ({failed[0].error.message})"
    else:
        evidence["gradients"] = "None for every trainable variable"
        outcome = "no variable gets a gradient"
    layer = obs.output_layer.name if obs.output_layer else "the output"
    yield _finding(
        "TFP201",
        f"'{layer}' outputs a {forward.output.distribution} and the loss {obs.loss.label} "
        f"receives a one-hot *sample* of it ({forward.output.dtype}): {outcome}",
        "Train on the distribution itself: model.compile(loss=lambda y, rv: "
        f"-rv.log_prob(y)); or drop '{layer}' and end the model at the logits layer with "
        "CategoricalCrossentropy(from_logits=True).",
        output_where(obs),
        evidence,
    )


def params_size(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    yield from confirm_widths(obs, static)
    if not any(f.code == "TFP105" for f in static):
        return
    for record in _first_of_each(_records(obs)):
        params = broadcast_parameters(record, obs.batch_size)
        if params is None:
            continue
        widths = {k: s[-1] for k, s in params.items()}
        yield _finding(
            "TFP105",
            f"the probe sees {record.distribution}'s parameters with widths {widths} from "
            f"{sum(widths.values())} inputs: the layer feeding it has the wrong number of "
            "units",
            width_fix(obs, record, params),
            record_where(obs, record),
            {"parameter_widths": widths, "distribution": record.distribution},
        )


def confirmations(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    yield from onehot_classifier(obs)
    yield from squash_in_distributions(obs)
    yield from squash_in_keras_loss(obs)
    yield from unconstrained_scale(obs)
    yield from covariance(obs)
    yield from params_size(obs, static)
