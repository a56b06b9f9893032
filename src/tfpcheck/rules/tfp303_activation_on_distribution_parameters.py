"""TFP303 activation-on-distribution-parameters: relu/sigmoid/softmax before a distribution."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.catalog.activations import (
    LOGIT_CHANGING_ACTIVATIONS,
    NONNEGATIVE_ACTIVATIONS,
    activation_range,
)
from tfpcheck.catalog.distributions import (
    POSITIVE_PARAMETERS,
    SIGMOID_LOGIT_DISTRIBUTIONS,
    SOFTMAX_LOGIT_DISTRIBUTIONS,
    is_distribution_call,
)
from tfpcheck.findings import Finding, Severity
from tfpcheck.model_file.bytecode.expr_query import uses_name
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    Head,
    activation_source,
    call_arguments,
    distribution_heads,
    keras_layer_call,
    layer_where,
)

# Activations that never output a negative value (relu, sigmoid, softmax, exponential, ...):
# no location can be negative. softplus is left out: a softplus layer feeding a lambda that
# takes a positive parameter from it is how TFP301 wants scales made.
SQUASHING = NONNEGATIVE_ACTIVATIONS - {"softplus"}
# Logits must range over all reals: anything that bounds them, or bends the negative half
# (leaky_relu, elu, selu keep it but squash it), limits how confident the model can be.
# Only the identity and log_softmax (a shift per row) leave softmax(logits) as it was.
CLAMPS_LOGITS = LOGIT_CHANGING_ACTIVATIONS


def _reported_elsewhere(head: Head, activation: str) -> bool:
    """Cases TFP202/TFP203/TFP204 own, or where the activation is exactly right."""
    if head.parameterization == "probs" and activation in {"sigmoid", "softmax"}:
        return True  # probabilities wanted: a squashing activation is the right thing
    dists = set(head.distributions)
    if activation == "softmax" and dists & SOFTMAX_LOGIT_DISTRIBUTIONS:
        return True  # double-softmax
    return activation in {"sigmoid", "hard_sigmoid"} and bool(dists & SIGMOID_LOGIT_DISTRIBUTIONS)


def fed_parameters(head: Head) -> tuple[str, ...] | None:
    """The parameters of the head's distributions that its input reaches (keywords, and
    positional arguments by the constructor's order); None when the head does not say."""
    arg = head.input_variable
    if head.is_builtin or arg is None or not head.calls:
        return None
    fed: list[str] = []
    for call in head.calls:
        arguments = call_arguments(call)
        if len(arguments) - len(call.kwargs) < len(call.args):
            return None  # a *args, or more positional arguments than the catalog names
        for key, expr in arguments:
            # a distribution built inside the call (Independent(Normal(...))) is its own call
            nested = expr.kind == "call" and is_distribution_call(str(expr.value))
            if not nested and uses_name(expr, arg):
                fed.append(key)
    return tuple(fed) or None


LOCATIONS_HARM = "locations and log-scales cannot take the values they need"
LOGITS_HARM = (
    "logits cannot range over all reals, so the class probabilities cannot take the values "
    "they need"
)


def _real_harm(head: Head, activation: str) -> str | None:
    """What a non-negative activation does to the real-valued parameters it feeds; None
    when it is harmless there. A head whose input only becomes positive parameters (a
    Poisson rate, a Gamma's concentration and rate) needs exactly such a constraint."""
    fed = fed_parameters(head)
    if fed is None or not set(fed) <= POSITIVE_PARAMETERS:
        return LOCATIONS_HARM  # locations, or parameters the head does not name
    found = activation_range(activation)
    if found is None or (found.positive and found.high == float("inf")):
        return None  # > 0 and unbounded (exponential): what a positive parameter needs
    names = ", ".join(dict.fromkeys(fed))
    if found.low == 0 and found.low_included:
        if head.function is not None:
            return None  # TFP301 reads the lambda and says so, at the parameter
        # the class itself (DistributionLambda(tfd.Poisson)): no lambda for TFP301 to read
        return f"{names} is exactly 0 wherever its input is negative, where log_prob is not finite"
    return f"{names} cannot exceed {found.high:g}, so the model cannot fit larger values"


def check(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        found = activation_source(ctx.model, head.layer)
        if found is None:
            continue
        source, activation = found
        logits = head.parameterization == "logits"
        harmful = CLAMPS_LOGITS if logits else SQUASHING
        if activation not in harmful or _reported_elsewhere(head, activation):
            continue
        what = LOGITS_HARM if logits else _real_harm(head, activation)
        if what is None:
            continue
        target = head.layer.class_name if head.is_builtin else ", ".join(head.distributions)
        relu_note = " (relu also zeroes the gradient of every negative unit)"
        yield RULE.finding(
            f"{keras_layer_call(source)} applies {activation} to the values that become the "
            f"parameters of '{head.layer.name}' ({target or 'a distribution'}): {what}"
            + (relu_note if activation in {"relu", "relu6"} else ""),
            f"Feed '{head.layer.name}' from a layer with no activation: drop "
            f"activation={activation!r} from '{source.name}', or keep it as a hidden layer and "
            f"insert a linear Dense between '{source.name}' and '{head.layer.name}'; constrain "
            "positive parameters inside the distribution (scale=1e-3 + tf.math.softplus(...)).",
            layer_where(source),
            {
                "activation_layer": source.name,
                "activation": activation,
                "consumer": head.layer.name,
            },
        )


RULE = Rule(
    code="TFP303",
    name="activation-on-distribution-parameters",
    title="squashing activation on the layer that feeds distribution parameters",
    severity=Severity.WARNING,
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds a relu, sigmoid or softmax activation on the layer whose outputs become "
            "distribution parameters (the input of a `DistributionLambda` or of a tfp.layers "
            "distribution layer); for logits (`logits=`, `OneHotCategorical`, "
            "`IndependentBernoulli`) also elu, selu, leaky_relu, softplus, tanh and the like, "
            "on a Dense, a convolution or a Bayesian layer (`DenseFlipout(activation=...)`)."
        ),
        why=(
            "Distribution layers expect unconstrained real values: they turn them into "
            "locations, log-scales or logits themselves. relu forbids negative locations "
            "and kills the gradient of negative units; sigmoid and softmax squeeze every "
            "parameter into (0, 1)."
        ),
        example=("tfk.layers.Dense(2, activation='relu'),\ntfp.layers.IndependentNormal(1)"),
        use_instead="tfk.layers.Dense(2),\ntfp.layers.IndependentNormal(1)",
    ),
)
