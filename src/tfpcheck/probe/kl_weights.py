"""Each Bayesian layer's KL term against the KL it stands for: the layer's effective KL weight.

A layer adds `weight * KL(posterior || prior)` to `model.losses`; the weight is buried in a
divergence function or a closure, so it is measured: the layer's own penalty on its own
posterior and prior, divided by the true KL of that pair (analytic where TFP has it, else
sampled). When the posterior is still the prior (a trainable prior starts where the
posterior does) that KL is zero and says nothing, so the penalty is measured on the layer's
posterior and a reference prior a few units away instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpcheck.evidence.observations import KLMethod, KLTerm

tfd = tfp.distributions
tfpl = tfp.layers

# A penalty that samples (a Monte Carlo KL) is averaged over this many draws: its
# single-draw spread is about sqrt(2 / KL) of its value for a posterior near the prior.
DRAWS = 16
# Samples for a KL that TFP cannot compute analytically.
KL_SAMPLES = 64
SAMPLED_ELEMENTS = 1 << 22  # values drawn at once, whatever the number of weights
# A KL under this (nats in all, and per weight) is noise: the posterior is the prior.
MEASURABLE_KL = 1.0
MEASURABLE_PER_WEIGHT = 1e-3
# The reference prior sits this far from the posterior's mean: about 8 nats per weight.
REFERENCE_SHIFT = 4.0

Pair = tuple[Any, Any]
Penalty = Callable[[Any, Any], Any]


def kl_terms(model: Any) -> list[KLTerm]:
    """The KL terms of every Bayesian layer of `model`, nested models included."""
    terms: list[KLTerm] = []
    for path, top, layer in _walk(model, "", None):
        terms += _layer_terms(path, top, layer)
    return terms


def _walk(model: Any, prefix: str, top: str | None) -> Iterator[tuple[str, str, Any]]:
    for layer in getattr(model, "layers", None) or []:
        path = f"{prefix}{layer.name}"
        owner = top if top is not None else layer.name
        yield path, owner, layer
        if hasattr(layer, "layers") and not _is_bayesian(layer):
            yield from _walk(layer, f"{path}/", owner)


def _is_bayesian(layer: Any) -> bool:
    return _has_divergence_fns(layer) or isinstance(layer, tfpl.DenseVariational)


def _has_divergence_fns(layer: Any) -> bool:
    """DenseFlipout, DenseReparameterization, DenseLocalReparameterization, Conv*Flipout and
    Conv*Reparameterization share these attributes (tfp.layers' _DenseVariational and
    _ConvVariational)."""
    return hasattr(layer, "kernel_divergence_fn") and hasattr(layer, "kernel_posterior_fn")


def _layer_terms(path: str, top: str, layer: Any) -> list[KLTerm]:
    class_name = type(layer).__name__
    if not getattr(layer, "built", True):
        return []  # never called: it added nothing (the forward pass failed)
    if _has_divergence_fns(layer):
        terms = []
        for part in ("kernel", "bias"):
            divergence = getattr(layer, f"{part}_divergence_fn", None)
            posterior = getattr(layer, f"{part}_posterior", None)
            prior = getattr(layer, f"{part}_prior", None)
            if divergence is None or posterior is None or prior is None:
                continue  # the layer adds no loss for it either (_apply_divergence)
            # Flipout and local reparameterization pass no posterior sample; the
            # reparameterization layers pass the one their forward pass drew.
            sampled = getattr(layer, f"{part}_posterior_tensor", None) is not None
            term = KLTerm(path, top, class_name, "weights", part)
            terms.append(
                _measure(term, _fixed(posterior, prior), _divergence_penalty(divergence, sampled))
            )
        return terms
    if isinstance(layer, tfpl.DenseVariational):
        term = KLTerm(path, top, class_name, "weights", "kernel and bias")
        return [_measure(term, _variational_pair(layer), layer._kl_divergence_fn)]
    regularizer = getattr(layer, "activity_regularizer", None)
    if isinstance(layer, tfpl.KLDivergenceAddLoss):
        regularizer = getattr(layer, "_regularizer", None)
    if isinstance(regularizer, tfpl.KLDivergenceRegularizer):
        # The KL of a per-example latent (a VAE's code): tf_keras divides an activity
        # regularizer by the batch size, so its weight is per example, a choice the user
        # makes about the data (beta), not about the number of training examples.
        weight = regularizer.weight
        return [
            KLTerm(
                path,
                top,
                class_name,
                "latent",
                None,
                weight=1.0 if weight is None else _float(weight),
                method="configured",
            )
        ]
    return []


def _fixed(posterior: Any, prior: Any) -> Callable[[], Pair]:
    return lambda: (posterior, prior)


def _divergence_penalty(divergence: Callable[..., Any], sampled: bool) -> Penalty:
    def penalty(q: Any, p: Any) -> Any:
        return divergence(q, p, _unwrap(q).sample() if sampled else None)

    return penalty


def _variational_pair(layer: Any) -> Callable[[], Pair]:
    """DenseVariational builds its posterior and prior from the inputs at each call: each
    draw is a fresh pair (and a fresh posterior sample for a sampled KL). The tutorials'
    posteriors and priors ignore the inputs (VariableLayer), so zeros stand for them."""

    def draw() -> Pair:
        dtype = tf.as_dtype(layer.dtype or "float32")
        x = tf.zeros([1, int(layer.input_spec.axes[-1])], dtype=dtype)
        return layer._posterior(x), layer._prior(x)

    return draw


def _measure(term: KLTerm, draw: Callable[[], Pair], penalty: Penalty) -> KLTerm:
    try:
        posterior, prior = draw()
        term.parameters = _size(posterior)
        term.added = _expected(lambda: penalty(*draw()))
        kl, method = _true_kl(posterior, prior)
        term.kl, term.method, term.against = kl, method, "prior"
        if _measurable(kl, term.parameters):
            term.weight = term.added / kl
            return term
        # The posterior is the prior: weigh the penalty on a pair whose KL is known.
        reference = _reference(posterior)
        kl, method = _true_kl(posterior, reference)
        added = _expected(lambda: penalty(draw()[0], reference))
        term.method, term.against = method, "reference"
        if _measurable(kl, term.parameters):
            term.weight = added / kl
        else:
            term.note = "the KL of the posterior from a reference prior is not measurable"
    except Exception as exc:  # a custom divergence or posterior that cannot be evaluated
        term.note = f"{type(exc).__name__}: {exc}"[:300]
        term.weight = None
    if term.weight is not None and not math.isfinite(term.weight):
        term.note, term.weight = "the KL or the penalty is not finite", None
    return term


def _expected(value: Callable[[], Any]) -> float:
    """The penalty as training adds it on average: one value when it does not sample."""
    first, second = _float(value()), _float(value())
    if math.isclose(first, second, rel_tol=1e-6, abs_tol=1e-9):
        return first
    draws = [first, second] + [_float(value()) for _ in range(DRAWS - 2)]
    return float(np.mean(draws))


def _true_kl(q: Any, p: Any) -> tuple[float, KLMethod]:
    q, p = _unwrap(q), _unwrap(p)
    try:
        return _float(tfd.kl_divergence(q, p)), "analytic"
    except (NotImplementedError, ValueError, TypeError):
        pass  # no registered KL for this pair (or for its shapes): estimate it
    chunk = max(1, min(KL_SAMPLES, SAMPLED_ELEMENTS // max(_size(q), 1)))
    total, drawn = 0.0, 0
    while drawn < KL_SAMPLES:
        n = min(chunk, KL_SAMPLES - drawn)
        z = q.sample(n)
        total += _float(q.log_prob(z) - p.log_prob(z))
        drawn += n
    return total / KL_SAMPLES, "sampled"


def _reference(posterior: Any) -> Any:
    """A normal prior of the posterior's shape, REFERENCE_SHIFT from its mean."""
    q = _unwrap(posterior)
    batch = [int(d) for d in q.batch_shape]
    event = [int(d) for d in q.event_shape]
    try:
        loc = tf.cast(q.mean(), q.dtype) + tf.cast(REFERENCE_SHIFT, q.dtype)
    except (NotImplementedError, ValueError, TypeError):
        loc = tf.fill(batch + event, tf.cast(REFERENCE_SHIFT, q.dtype))
    normal = tfd.Normal(loc=loc, scale=tf.ones_like(loc))
    return tfd.Independent(normal, reinterpreted_batch_ndims=len(event)) if event else normal


def _measurable(kl: float, parameters: int) -> bool:
    return kl >= max(MEASURABLE_KL, MEASURABLE_PER_WEIGHT * parameters)


def _size(distribution: Any) -> int:
    d = _unwrap(distribution)
    shape = [int(s) for s in d.batch_shape] + [int(s) for s in d.event_shape]
    return int(np.prod(shape)) if shape else 1


def _unwrap(distribution: Any) -> Any:
    """The distribution inside tfp.layers' tensor-coercible wrapper."""
    return getattr(distribution, "tensor_distribution", distribution)


def _float(value: Any) -> float:
    return float(np.sum(np.asarray(value.numpy() if hasattr(value, "numpy") else value)))
