"""tfd distribution classes (TFP 0.25): their parameters, and how a call to one reads.

For each class: the tensor parameters its constructor takes, the ones that must be > 0 (TFP
constrains them with a softplus), and for those taking `logits=` / `probs=` whether a
softmax (Categorical, OneHotCategorical, ...) or a sigmoid (Bernoulli, ...) turns the
logits into probabilities.

A call is recognised by its spelling, the same way in user source (`tfpcheck.source_scan`)
and in decompiled lambdas (`tfpcheck.rules.heads`): see `is_distribution_call`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tfpcheck.catalog.tfp_layers import HEADS, LOGIT_HEADS, TFP_LAYER_NAMES

Family = Literal["softmax", "sigmoid"]


@dataclass(frozen=True)
class Distribution:
    name: str
    parameters: tuple[str, ...]  # the constructor's tensor parameters, in its order
    family: Family | None = None  # what turns its logits into probabilities
    positive: frozenset[str] = frozenset()  # parameters that must be > 0
    # every parameter has the shape of one event of scalars: slices of one tensor that feed
    # them must be equally wide
    elementwise: bool = False

    @property
    def logits(self) -> str | None:
        return "logits" if "logits" in self.parameters else None

    @property
    def probs(self) -> str | None:
        return "probs" if "probs" in self.parameters else None


def _d(
    name: str,
    parameters: str,
    *,
    family: Family | None = None,
    positive: str = "",
    elementwise: bool = False,
) -> Distribution:
    return Distribution(
        name, tuple(parameters.split()), family, frozenset(positive.split()), elementwise
    )


_DISTRIBUTIONS = (
    # softmax over the last axis
    _d("Categorical", "logits probs", family="softmax"),
    _d("OneHotCategorical", "logits probs", family="softmax"),
    _d(
        "RelaxedOneHotCategorical",
        "temperature logits probs",
        family="softmax",
        positive="temperature",
    ),
    _d(
        "ExpRelaxedOneHotCategorical",
        "temperature logits probs",
        family="softmax",
        positive="temperature",
    ),
    _d("Multinomial", "total_count logits probs", family="softmax"),
    _d("FiniteDiscrete", "outcomes logits probs", family="softmax"),
    # a sigmoid per value
    _d("Bernoulli", "logits probs", family="sigmoid"),
    _d("RelaxedBernoulli", "temperature logits probs", family="sigmoid", positive="temperature"),
    _d("Binomial", "total_count logits probs", family="sigmoid"),
    _d("ContinuousBernoulli", "logits probs", family="sigmoid"),
    _d("NegativeBinomial", "total_count logits probs", family="sigmoid"),
    _d("Geometric", "logits probs", family="sigmoid"),
    # real-valued, one value per parameter entry
    _d("Normal", "loc scale", positive="scale", elementwise=True),
    _d("LogNormal", "loc scale", positive="scale", elementwise=True),
    _d("Logistic", "loc scale", positive="scale", elementwise=True),
    _d("LogLogistic", "loc scale", positive="scale", elementwise=True),
    _d("Laplace", "loc scale", positive="scale", elementwise=True),
    _d("Cauchy", "loc scale", positive="scale", elementwise=True),
    _d("HalfCauchy", "loc scale", positive="scale", elementwise=True),
    _d("Gumbel", "loc scale", positive="scale", elementwise=True),
    _d("StudentT", "df loc scale", positive="df scale", elementwise=True),
    _d("TruncatedNormal", "loc scale low high", positive="scale", elementwise=True),
    _d("GeneralizedNormal", "loc scale power", positive="scale power", elementwise=True),
    _d("HalfNormal", "scale", positive="scale", elementwise=True),
    _d("Gamma", "concentration rate log_rate", positive="concentration rate", elementwise=True),
    _d("InverseGamma", "concentration scale", positive="concentration scale", elementwise=True),
    _d("Weibull", "concentration scale", positive="concentration scale", elementwise=True),
    _d("Pareto", "concentration scale", positive="concentration scale", elementwise=True),
    _d(
        "Beta",
        "concentration1 concentration0",
        positive="concentration1 concentration0",
        elementwise=True,
    ),
    _d(
        "Kumaraswamy",
        "concentration1 concentration0",
        positive="concentration1 concentration0",
        elementwise=True,
    ),
    _d("VonMises", "loc concentration", positive="concentration", elementwise=True),
    _d("Uniform", "low high", elementwise=True),
    _d("Exponential", "rate", positive="rate", elementwise=True),
    _d("Chi2", "df", positive="df", elementwise=True),
    _d("Poisson", "rate log_rate", positive="rate", elementwise=True),
    # vector events
    _d("Dirichlet", "concentration", positive="concentration"),
    _d("MultivariateNormalDiag", "loc scale_diag", positive="scale_diag", elementwise=True),
    _d("MultivariateNormalTriL", "loc scale_tril"),
    _d("MultivariateNormalFullCovariance", "loc covariance_matrix"),
    _d("MultivariateNormalLinearOperator", "loc scale"),  # scale: a LinearOperator
    _d(
        "MultivariateNormalDiagPlusLowRank",
        "loc scale_diag scale_perturb_factor scale_perturb_diag",
        positive="scale_diag scale_perturb_diag",
    ),
    # made of other distributions
    _d("Independent", "distribution reinterpreted_batch_ndims"),
    _d("MixtureSameFamily", "mixture_distribution components_distribution"),
)
DISTRIBUTIONS: dict[str, Distribution] = {d.name: d for d in _DISTRIBUTIONS}

SOFTMAX_LOGIT_DISTRIBUTIONS = frozenset(d.name for d in _DISTRIBUTIONS if d.family == "softmax")
SIGMOID_LOGIT_DISTRIBUTIONS = frozenset(d.name for d in _DISTRIBUTIONS if d.family == "sigmoid")
# Keywords that are a positive parameter wherever a tfd class takes them.
POSITIVE_PARAMETERS = frozenset(p for d in _DISTRIBUTIONS for p in d.positive)
ELEMENTWISE_DISTRIBUTIONS = frozenset(d.name for d in _DISTRIBUTIONS if d.elementwise)


def family_of(name: str) -> Family | None:
    found = DISTRIBUTIONS.get(name)
    return None if found is None else found.family


def heads_reading(family: Family) -> frozenset[str]:
    """The tfp.layers heads whose input becomes the logits of a `family` distribution."""
    return frozenset(
        name for name in LOGIT_HEADS if family_of(HEADS[name].distribution or "") == family
    )


# ---- how a call is recognised ------------------------------------------------------------

# What `tfp.distributions` is imported as, as written before the class name: `tfd.Normal`,
# `tfp.distributions.Normal`, `tfp.d.Normal`, `tfpd.Normal`; a module path ending in one of
# these counts too (`self.tfd.Normal`, `tensorflow_probability.distributions.Normal`).
DISTRIBUTION_MODULES = ("tfd", "tfpd", "tfp.d", "distributions")
# What `tfp.layers` is imported as: `tfpl.OneHotCategorical(10)` is the layer.
LAYER_MODULES = ("tfpl", "layers")


def _under(module: str, names: tuple[str, ...]) -> bool:
    return any(module == name or module.endswith(f".{name}") for name in names)


def is_distribution_call(callee: str, keywords: Iterable[str] = ()) -> bool:
    """Whether a call spelled `callee` ("tfd.Normal", "Normal") builds a tfd distribution.

    Under a tfd module any capitalized name does. Under a tfp.layers module none does.
    Otherwise (a bare name, another module) the name must be a known tfd class; one that
    tfp.layers has too (OneHotCategorical, MultivariateNormalTriL, MixtureSameFamily) is the
    distribution only when given a parameter of the distribution (`keywords`: logits=, ...).
    """
    module, _, short = callee.rpartition(".")
    if not short[:1].isupper():
        return False
    if module and _under(module, DISTRIBUTION_MODULES):
        return True
    if module and _under(module, LAYER_MODULES):
        return False
    known = DISTRIBUTIONS.get(short)
    if known is None:
        return False
    if short not in TFP_LAYER_NAMES:
        return True
    return any(keyword in known.parameters for keyword in keywords)
