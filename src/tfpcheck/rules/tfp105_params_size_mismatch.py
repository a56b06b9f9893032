"""TFP105 params-size-mismatch: the units feeding a distribution are not what it consumes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfpcheck.catalog.distributions import ELEMENTWISE_DISTRIBUTIONS
from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.model_file.bytecode.expr_query import last_axis_slice, subscript_of, walk
from tfpcheck.model_file.types import Expr
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    Head,
    WidthSource,
    distribution_heads,
    keras_layer_call,
    layer_where,
    render_call,
    units_source,
    width_source,
)
from tfpcheck.rules.params_size import MIXTURES, HeadSpec, head_spec

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import HeadCall, Observation

# Families whose parameters are elementwise: every parameter slice must be equally wide.
ELEMENTWISE_FAMILIES = ELEMENTWISE_DISTRIBUTIONS


def _slice_of_arg(expr: Expr, argname: str) -> tuple[int | None, int | None] | None:
    for node in walk(expr):
        sub = subscript_of(node)
        if sub is not None and sub[0] == argname:
            return last_axis_slice(node)
    return None


@dataclass(frozen=True)
class SliceMismatch:
    """A DistributionLambda whose elementwise parameters take slices of unequal widths."""

    units: int
    parameters: dict[str, str]  # parameter -> the expression it is given
    widths: dict[str, int]
    expression: str
    line: int | None

    @property
    def expected_units(self) -> int:
        return min(self.widths.values()) * len(self.widths)

    def evidence(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "parameters": self.parameters,
            "widths": self.widths,
            "expected_units": self.expected_units,
            "expression": self.expression,
        }


def _lambda_mismatch(head: Head, units: int) -> SliceMismatch | None:
    fn = head.function
    if fn is None or not fn.argnames:
        return None
    argname = fn.argnames[0]
    for call in head.calls:
        if call.short_name not in ELEMENTWISE_FAMILIES:
            continue
        widths: dict[str, int] = {}
        slices: dict[str, str] = {}
        for key, expr in call.kwargs:
            bounds = _slice_of_arg(expr, argname)
            if bounds is None:
                continue
            start, stop = bounds
            start = start or 0
            stop = units if stop is None else stop
            if start < 0 or stop < 0:
                return None  # negative bounds: the width depends on units, don't guess
            widths[key] = stop - start
            slices[key] = expr.render()
        if len(widths) < 2 or len(set(widths.values())) == 1:
            continue
        return SliceMismatch(units, slices, widths, render_call(call), call.line)
    return None


# ---- built-in tfp.layers heads: the width received against params_size ---------------------


@dataclass(frozen=True)
class WidthMismatch:
    """A built-in head that receives `width` values per example and consumes `needed`."""

    head: HeadSpec
    width: int
    needed: int
    # k when the event size is params_size(k) and the head receives exactly that: the event
    # shape was given the parameter count (tensorflow/probability#1379)
    event_is_params_size_of: int | None = None
    # the number of mixture logits missing when the width is that of the components alone
    missing_logits: int | None = None

    def evidence(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "units": self.width,
            "params_size": self.needed,
            "head": self.head.render(),
        }
        if self.event_is_params_size_of is not None:
            evidence["event_is_params_size_of"] = self.event_is_params_size_of
        if self.missing_logits is not None:
            evidence["missing_mixture_logits"] = self.missing_logits
        return evidence


def _params_count_as_event(head: HeadSpec, width: int) -> int | None:
    """The k with head.params_size(k) == event size == width, k smaller than the event."""
    if head.layer_class in MIXTURES or len(head.event_shape) != 1 or width != head.event_size:
        return None
    for k in range(1, head.event_size):
        if head.with_event_size(k).params_size == width:
            return k
    return None


def width_mismatch(head: HeadSpec, width: int) -> WidthMismatch | None:
    needed = head.params_size
    if needed is None or needed == width:
        return None
    k = head.num_components
    missing = k if head.layer_class in MIXTURES and k and width == needed - k else None
    return WidthMismatch(head, width, needed, _params_count_as_event(head, width), missing)


def _change(mismatch: WidthMismatch, layer: str, source: WidthSource | None) -> str:
    """What to change so that `layer` gets the values it needs, naming the layer."""
    needed = mismatch.needed
    if source is not None and source.argument == "units":
        return f"change {source.render()} to {source.render(needed)}"
    if source is not None and source.argument == "filters":
        return f"give '{source.name}' {needed} filters: {source.render(needed)}"
    if source is not None:
        return f"put Dense({needed}) between '{source.name}' ({source.class_name}) and '{layer}'"
    return f"make the layer before '{layer}' give {needed} values, e.g. Dense({needed})"


def describe_width_mismatch(
    mismatch: WidthMismatch, layer: str, source: WidthSource | None
) -> tuple[str, str]:
    """The message and the fix, for the static and the probe side alike."""
    head, width, needed = mismatch.head, mismatch.width, mismatch.needed
    cls = head.layer_class
    given = f" from {source.render()}" if source is not None and source.argument else ""
    if source is not None and not source.argument:
        given = f" from '{source.name}' ({source.class_name})"
    values = "value" if width == 1 else "values"
    message = (
        f"{head.render()} '{layer}' receives {width} {values} on its last axis{given} and "
        f"consumes {needed}: {head.params_size_call('')} = {needed}"
    )
    change = _change(mismatch, layer, source)
    sizing = f"{head.params_size_call()} = {needed}"
    k = mismatch.event_is_params_size_of
    logits = mismatch.missing_logits
    if k is not None:
        message += (
            f"; {head.event_size} is {cls}.params_size({k}), the parameter count of {k} "
            "values, given as the event shape"
        )
        fix = (
            f"If each example has {k} values, give the layer the event shape, not its "
            f"parameter count: {head.with_event_size(k).render()} consumes the {width} values "
            f"it receives ({cls}.params_size({k}) = {width}). If it has {head.event_size}, "
            f"{change} ({sizing})."
        )
    elif logits is not None:
        per_component = width // logits
        message += (
            f"; {width} = {logits} x {per_component}, the components' parameters alone: the "
            f"{logits} mixture logits are missing ({needed} = {logits} + {logits} x "
            f"{per_component})"
        )
        fix = f"{change[:1].upper()}{change[1:]} ({sizing}): the mixture logits come first."
    else:
        fix = f"{change[:1].upper()}{change[1:]} ({sizing})."
    return message, fix


def _builtin_finding(ctx: StaticContext, head: Head) -> Finding | None:
    spec = head_spec(head.layer)
    source = width_source(ctx.model, head.layer)
    if spec is None or source is None or source.width is None:
        return None
    mismatch = width_mismatch(spec, source.width)
    if mismatch is None:
        return None
    message, fix = describe_width_mismatch(mismatch, head.layer.name, source)
    evidence = {**mismatch.evidence(), "units_layer": source.name}
    return RULE.finding(message, fix, layer_where(head.layer), evidence)


def check(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        if head.is_builtin:
            finding = _builtin_finding(ctx, head)
            if finding is not None:
                yield finding
            continue
        source = units_source(ctx.model, head.layer)
        if source is None or source.units is None:
            continue
        units = source.units
        mismatch = _lambda_mismatch(head, units)
        if mismatch is None:
            continue
        expected = mismatch.expected_units
        described = ", ".join(f"{k} takes {w}" for k, w in mismatch.widths.items())
        yield RULE.finding(
            f"{keras_layer_call(source)} feeds {units} values to '{head.layer.name}', whose "
            f"distribution parameters are sliced unevenly ({described}): the parameters "
            "broadcast against each other and the distribution gets the wrong shape",
            f"Put Dense({expected}) directly before '{head.layer.name}' "
            f"(or change '{source.name}' to {expected} units) so each parameter gets "
            f"{expected // len(mismatch.widths)} value(s).",
            layer_where(head.layer, head.function, mismatch.line),
            mismatch.evidence(),
        )


# ---- the probe side: the width each head received, seen when it was called ---------------


def _base(layer: str | None) -> str | None:
    return layer.rsplit("/", 1)[-1] if layer else None


def _static_for(static: tuple[Finding, ...], layer: str) -> Finding | None:
    return next(
        (
            f
            for f in static
            if f.code == RULE.code and _base(f.where.layer) == layer and "params_size" in f.evidence
        ),
        None,
    )


def _mismatched(call: HeadCall) -> WidthMismatch | None:
    if call.depth or call.head is None or call.width is None:
        return None  # a mixture's component gets the width its mixture gives it
    return width_mismatch(call.head, call.width)


def confirm_widths(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """Each built-in head's input width at the probe against its params_size.

    Works whatever made the width (Conv and Flatten, a Concatenate, a Lambda). Where the
    forward pass fails in that head, the failure is this finding's evidence, not TFP108.
    """
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import probe_finding
    from tfpcheck.rules.tfp108_loss_or_forward_fails import error_evidence

    seen: set[str] = set()
    for size in sorted(obs.forwards, reverse=True):  # batch N first
        for call in obs.forwards[size].head_calls:
            mismatch = _mismatched(call)
            if mismatch is None or call.layer in seen:
                continue
            seen.add(call.layer)
            failing = {
                s: f.error
                for s, f in sorted(obs.forwards.items())
                if f.error is not None
                and any(c.layer == call.layer and c.failed for c in f.head_calls)
            }
            shape = fmt_shape(call.input_shape)
            evidence: dict[str, Any] = {**mismatch.evidence(), "input_shape": shape}
            if call.producer is not None:
                evidence["input_from"] = call.producer.name
            matched = _static_for(static, call.layer)
            if matched is not None:
                message, fix = matched.message, matched.fix
            else:
                message, fix = describe_width_mismatch(mismatch, call.layer, call.producer)
            if failing:
                error = list(failing.values())[-1]
                assert error is not None
                sizes = " and ".join(map(str, failing))
                message += (
                    f"; the probe confirms it: '{call.layer}' gets input {shape} and fails at "
                    f"batch size {sizes} ({error.describe()})"
                )
                evidence.update(
                    {"stage": "forward", "batch_sizes": list(failing), **error_evidence(error)}
                )
            else:
                message += (
                    f"; the probe confirms it: '{call.layer}' gets input {shape} and raises "
                    "no error, so the distribution is silently built from the wrong values"
                )
            info = obs.layer(call.layer)
            where = Where(layer=call.layer, layer_index=info.index if info else None)
            yield probe_finding(RULE, message, fix, where, evidence)


def _symbolic(shape: tuple[int, ...] | None) -> str:
    """A shape while the model is connected: its batch axis is None (-1 when recorded)."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d < 0 else str(d) for d in shape) + ")"


def confirm_construction(calls: list[HeadCall], failures: list[Finding]) -> list[Finding]:
    """A factory whose model cannot be built because a head's width is wrong: TFP105 in
    place of the failure. Some heads check their width as the model is connected (an odd
    width split in two, a scale that is no triangular matrix), before any probe batch."""
    from tfpcheck.evidence.where import probe_finding

    failed = [(c, m) for c in calls if c.failed and (m := _mismatched(c)) is not None]
    crash = next((f for f in failures if f.code == "TFP108"), None)
    if not failed or crash is None:
        return failures
    call, mismatch = failed[-1]
    message, fix = describe_width_mismatch(mismatch, call.layer, call.producer)
    error = crash.evidence.get("error")
    message += f"; the model cannot be built: connecting '{call.layer}' fails ({error})"
    evidence: dict[str, Any] = {
        **mismatch.evidence(),
        "input_shape": _symbolic(call.input_shape),
        "stage": "load",
        **{k: v for k, v in crash.evidence.items() if k in {"error", "frame", "code", "op"}},
    }
    if call.producer is not None:
        evidence["input_from"] = call.producer.name
    where = Where(
        layer=call.layer,
        function=crash.where.function,
        file=crash.where.file,
        line=crash.where.line,
    )
    finding = probe_finding(RULE, message, fix, where, evidence)
    return [finding if f is crash else f for f in failures]


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """Every head's width at the probe; and, where the static tier found a width mismatch,
    the parameter widths the probe saw reach the distribution."""
    from tfpcheck.evidence.values import distributions_once
    from tfpcheck.evidence.where import probe_finding, record_where
    from tfpcheck.rules.tfp104_distribution_parameter_broadcast import (
        broadcast_parameters,
        width_fix,
    )

    yield from confirm_widths(obs, static)
    if not any(f.code == RULE.code for f in static):
        return
    for record in distributions_once(obs):
        params = broadcast_parameters(record, obs.batch_size)
        if params is None:
            continue
        widths = {k: s[-1] for k, s in params.items()}
        yield probe_finding(
            RULE,
            f"the probe sees {record.distribution}'s parameters with widths {widths} from "
            f"{sum(widths.values())} inputs: the layer feeding it has the wrong number of "
            "units",
            width_fix(obs, record, params),
            record_where(obs, record),
            {"parameter_widths": widths, "distribution": record.distribution},
        )


def absorbs(own: Finding, other: Finding) -> bool:
    """A head that fails because of its input width is this finding's evidence: the failure
    at that layer, or the same error raised deeper (a mixture's component, the factory)."""
    if other.code != "TFP108":
        return False
    at_layer = "op" in own.evidence and other.where.layer == own.where.layer
    same_error = "error" in own.evidence and other.evidence.get("error") == own.evidence["error"]
    return at_layer or same_error


RULE = Rule(
    code="TFP105",
    name="params-size-mismatch",
    title="units feeding a distribution differ from the parameters it consumes",
    severity=Severity.ERROR,
    check_static=check,
    confirm_probe=confirm,
    confirm_unbuilt=confirm_construction,
    absorbs=absorbs,
    doc=RuleDoc(
        what=(
            "Compares the number of values feeding a distribution layer with the number of "
            "parameters it consumes. For the built-in tfp.layers heads (IndependentNormal, "
            "IndependentLogistic, IndependentBernoulli, IndependentPoisson, "
            "MultivariateNormalTriL, OneHotCategorical, CategoricalMixtureOfOneHotCategorical, "
            "MixtureSameFamily, MixtureNormal, MixtureLogistic) that is TFP's own `params_size` "
            "for the layer's arguments (`IndependentNormal(1)` needs 2, "
            "`MultivariateNormalTriL(2)` needs 5, `MixtureSameFamily(3, "
            "MultivariateNormalTriL(2))` needs 3 + 3 x 5), against the width the layer "
            "receives: the units of the Dense (or filters of the convolution) before it in the "
            "model's description, and at the probe the last axis of its input, whatever made "
            "it (Flatten, Concatenate, a Lambda). It names an event shape given the parameter "
            "count (`IndependentNormal(IndependentNormal.params_size(4))`) and mixture logits "
            "left out. For a `DistributionLambda` it compares the slices its parameters take "
            "(`t[..., :1]` and `t[..., 1:]` of 64 units)."
        ),
        why=(
            "A wrong width does not always fail: sliced parameters broadcast (a loc of width "
            "1 against a scale of width 63), so the model trains a distribution with 63 "
            "outputs, and OneHotCategorical(10) fed 9 logits silently models 9 classes. When "
            "it fails, it fails inside TFP with a reshape or a triangular-matrix error that "
            "names neither the layer nor the width it needs."
        ),
        example=(
            "tfk.layers.Dense(64, activation='relu'),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(\n"
            "    loc=t[..., :1], scale=tf.exp(t[..., 1:])))"
        ),
        use_instead=(
            "tfk.layers.Dense(64, activation='relu'),\n"
            "tfk.layers.Dense(2),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(\n"
            "    loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:])))"
        ),
    ),
)
