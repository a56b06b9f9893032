"""The tfp.layers classes (TFP 0.25), by the class name a saved config records.

For the distribution heads: the tfd family whose parameters the head's input becomes, how it
reads that input (logits or unconstrained reals it transforms itself), the parameters it
builds from it, and its `params_size` formula as a function of the same arguments TFP's own
`params_size` takes (tensorflow_probability/python/layers/distribution_layer.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

LayerKind = Literal["head", "lambda", "variational", "other"]
Reads = Literal["logits", "real"]
EventShape = int | Sequence[int]


def event_size(event_shape: EventShape) -> int:
    """The number of values in one event: 4 for 4 or [4], 16 for (4, 4), 1 for ()."""
    if isinstance(event_shape, int):
        return event_shape
    return math.prod(event_shape)


# ---- params_size, with TFP's arguments -----------------------------------------------------


def one_hot_categorical_params_size(event_size: int) -> int:
    return event_size  # one logit per class


def multivariate_normal_tril_params_size(event_size: int) -> int:
    # a location, then the lower triangle of the scale matrix
    return event_size + event_size * (event_size + 1) // 2


def independent_bernoulli_params_size(event_shape: EventShape = ()) -> int:
    return event_size(event_shape)  # one logit per value


def independent_poisson_params_size(event_shape: EventShape = ()) -> int:
    return event_size(event_shape)  # one log-rate per value


def independent_normal_params_size(event_shape: EventShape = ()) -> int:
    return 2 * event_size(event_shape)  # a location and a scale per value


def independent_logistic_params_size(event_shape: EventShape = ()) -> int:
    return 2 * event_size(event_shape)


def mixture_same_family_params_size(num_components: int, component_params_size: int) -> int:
    # k mixture logits, then k components
    return num_components * (1 + component_params_size)


def mixture_normal_params_size(num_components: int, event_shape: EventShape = ()) -> int:
    return mixture_same_family_params_size(
        num_components, independent_normal_params_size(event_shape)
    )


def mixture_logistic_params_size(num_components: int, event_shape: EventShape = ()) -> int:
    return mixture_same_family_params_size(
        num_components, independent_logistic_params_size(event_shape)
    )


def categorical_mixture_of_one_hot_categorical_params_size(
    event_size: int, num_components: int
) -> int:
    return mixture_same_family_params_size(
        num_components, one_hot_categorical_params_size(event_size)
    )


# ---- the classes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TfpLayer:
    name: str  # the class's __name__, as configs record it
    kind: LayerKind
    exported_as: str | None = None  # its name in tfp.layers when that differs
    # ---- heads ----
    distribution: str | None = None  # the tfd family its input parameterizes
    reads: Reads | None = None
    # params_size's arguments, in TFP's order: event_shape / event_size, num_components,
    # component_params_size (MixtureSameFamily: the params_size of its component layer)
    arguments: tuple[str, ...] = ()
    params_size: Callable[..., int] | None = None
    # the parameters it builds from its input, in the order it slices them; a mixture's
    # are its mixture's logits, followed by its component's
    parameters: tuple[str, ...] = ()
    component: str | None = None  # a mixture's component head (MixtureSameFamily: the user's)
    # ---- layers with weights of their own ----
    width_argument: Literal["units", "filters"] | None = None

    @property
    def event_argument(self) -> str | None:
        """ "event_shape" or "event_size": how the head is told its event; None for
        MixtureSameFamily, whose event is its component's."""
        for name in ("event_shape", "event_size"):
            if name in self.arguments:
                return name
        return None

    @property
    def is_mixture(self) -> bool:
        return "num_components" in self.arguments

    @property
    def has_activation(self) -> bool:
        return self.width_argument is not None


def _head(
    name: str,
    distribution: str,
    reads: Reads,
    params_size: Callable[..., int],
    arguments: tuple[str, ...],
    parameters: tuple[str, ...],
    component: str | None = None,
) -> TfpLayer:
    return TfpLayer(
        name,
        "head",
        distribution=distribution,
        reads=reads,
        arguments=arguments,
        params_size=params_size,
        parameters=parameters,
        component=component,
    )


def _variational(
    name: str, width: Literal["units", "filters"], exported: str | None = None
) -> TfpLayer:
    return TfpLayer(name, "variational", exported_as=exported, width_argument=width)


_LAYERS = (
    _head(
        "OneHotCategorical",
        "OneHotCategorical",
        "logits",
        one_hot_categorical_params_size,
        ("event_size",),
        ("logits",),
    ),
    _head(
        "CategoricalMixtureOfOneHotCategorical",
        "OneHotCategorical",
        "logits",
        categorical_mixture_of_one_hot_categorical_params_size,
        ("event_size", "num_components"),
        ("logits",),
        component="OneHotCategorical",
    ),
    _head(
        "IndependentBernoulli",
        "Bernoulli",
        "logits",
        independent_bernoulli_params_size,
        ("event_shape",),
        ("logits",),
    ),
    _head(
        "IndependentNormal",
        "Normal",
        "real",
        independent_normal_params_size,
        ("event_shape",),
        ("loc", "scale"),
    ),
    _head(
        "IndependentLogistic",
        "Logistic",
        "real",
        independent_logistic_params_size,
        ("event_shape",),
        ("loc", "scale"),
    ),
    _head(
        "IndependentPoisson",
        "Poisson",
        "real",
        independent_poisson_params_size,
        ("event_shape",),
        ("log_rate",),
    ),
    _head(
        "MultivariateNormalTriL",
        "MultivariateNormalTriL",
        "real",
        multivariate_normal_tril_params_size,
        ("event_size",),
        ("loc", "scale_tril"),
    ),
    _head(
        "MixtureNormal",
        "Normal",
        "real",
        mixture_normal_params_size,
        ("num_components", "event_shape"),
        ("logits",),
        component="IndependentNormal",
    ),
    _head(
        "MixtureLogistic",
        "Logistic",
        "real",
        mixture_logistic_params_size,
        ("num_components", "event_shape"),
        ("logits",),
        component="IndependentLogistic",
    ),
    _head(
        "MixtureSameFamily",
        "MixtureSameFamily",
        "real",
        mixture_same_family_params_size,
        ("num_components", "component_params_size"),
        ("logits",),
    ),
    TfpLayer("DistributionLambda", "lambda"),
    # DistributionLambda subclasses that are no head with a params_size of their own
    TfpLayer("AutoregressiveTransform", "other"),
    TfpLayer("VariationalGaussianProcess", "other"),
    _variational("DenseFlipout", "units"),
    _variational("DenseReparameterization", "units"),
    _variational("DenseLocalReparameterization", "units"),
    _variational("DenseVariational", "units"),
    *(
        _variational(f"Conv{n}D{kind}", "filters", f"Convolution{n}D{kind}")
        for kind in ("Flipout", "Reparameterization")
        for n in (1, 2, 3)
    ),
    TfpLayer("KLDivergenceAddLoss", "other"),
    TfpLayer("VariableLayer", "other"),
)
TFP_LAYERS: dict[str, TfpLayer] = {layer.name: layer for layer in _LAYERS}
# The class names configs record, and the other names tfp.layers exports them under.
TFP_LAYER_NAMES = frozenset(
    {*TFP_LAYERS, *(layer.exported_as for layer in _LAYERS if layer.exported_as)}
)
HEADS: dict[str, TfpLayer] = {
    name: layer for name, layer in TFP_LAYERS.items() if layer.kind == "head"
}
MIXTURE_HEADS = frozenset(name for name, head in HEADS.items() if head.is_mixture)
# Heads told their event by an int `event_size` (the others take an `event_shape`).
EVENT_SIZE_HEADS = frozenset(
    name for name, head in HEADS.items() if head.event_argument == "event_size"
)
# Heads whose input is logits: they apply the softmax or sigmoid themselves.
LOGIT_HEADS = frozenset(name for name, head in HEADS.items() if head.reads == "logits")
# tfp.layers with an `activation` and `units` / `filters` of their own, like Dense / Conv.
ACTIVATED_TFP_LAYERS = frozenset(name for name, layer in TFP_LAYERS.items() if layer.has_activation)


def head_params_size(layer_class: str, arguments: dict[str, object]) -> int | None:
    """The head's params_size for its arguments by name; None when it is no head or one of
    the arguments it takes is missing (None)."""
    head = HEADS.get(layer_class)
    if head is None or head.params_size is None:
        return None
    values = [arguments.get(name) for name in head.arguments]
    if any(value is None for value in values):
        return None
    return int(head.params_size(*values))
