"""TFP105 params-size-mismatch: the units feeding a distribution are not what it consumes."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Finding, Severity
from tfpcheck.model_file.bytecode.expr_query import last_axis_slice, subscript_of, walk
from tfpcheck.model_file.types import Expr
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    Head,
    distribution_heads,
    keras_layer_call,
    layer_where,
    params_size,
    render_call,
    units_source,
)

# Families whose parameters are elementwise: every parameter slice must be equally wide.
ELEMENTWISE_FAMILIES = frozenset(
    {
        "Normal",
        "LogNormal",
        "Logistic",
        "Laplace",
        "Cauchy",
        "Gumbel",
        "StudentT",
        "Gamma",
        "InverseGamma",
        "Beta",
        "Weibull",
        "TruncatedNormal",
        "HalfNormal",
        "MultivariateNormalDiag",
    }
)


def _slice_of_arg(expr: Expr, argname: str) -> tuple[int | None, int | None] | None:
    for node in walk(expr):
        sub = subscript_of(node)
        if sub is not None and sub[0] == argname:
            return last_axis_slice(node)
    return None


def _lambda_mismatch(head: Head, units: int) -> dict[str, object] | None:
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
        narrow = min(widths.values())
        return {
            "units": units,
            "parameters": slices,
            "widths": widths,
            "expected_units": narrow * len(widths),
            "expression": render_call(call),
            "line": call.line,
        }
    return None


def check(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        source = units_source(ctx.model, head.layer)
        if source is None or source.units is None:
            continue
        units = source.units
        if head.is_builtin:
            needed = params_size(head.layer)
            if needed is None or needed == units:
                continue
            cls = head.layer.class_name
            yield RULE.finding(
                f"{keras_layer_call(source)} gives {units} values to {cls} layer "
                f"'{head.layer.name}', which consumes {needed} "
                f"({cls}.params_size(...) = {needed})",
                f"Make the layer before '{head.layer.name}' "
                f"Dense(tfp.layers.{cls}.params_size(...)), i.e. Dense({needed}).",
                layer_where(head.layer),
                {"units": units, "params_size": needed, "units_layer": source.name},
            )
            continue
        mismatch = _lambda_mismatch(head, units)
        if mismatch is None:
            continue
        expected = mismatch["expected_units"]
        widths = mismatch["widths"]
        assert isinstance(widths, dict) and isinstance(expected, int)
        described = ", ".join(f"{k} takes {w}" for k, w in widths.items())
        yield RULE.finding(
            f"{keras_layer_call(source)} feeds {units} values to '{head.layer.name}', whose "
            f"distribution parameters are sliced unevenly ({described}): the parameters "
            "broadcast against each other and the distribution gets the wrong shape",
            f"Put Dense({expected}) directly before '{head.layer.name}' "
            f"(or change '{source.name}' to {expected} units) so each parameter gets "
            f"{expected // len(widths)} value(s).",
            layer_where(head.layer, head.function, mismatch.get("line")),  # type: ignore[arg-type]
            {k: v for k, v in mismatch.items() if k != "line"},
        )


RULE = Rule(
    code="TFP105",
    name="params-size-mismatch",
    title="units feeding a distribution differ from the parameters it consumes",
    severity=Severity.ERROR,
    tiers=("static", "probe"),
    check_static=check,
    doc=RuleDoc(
        what=(
            "Compares the number of units feeding a distribution layer with the number of "
            "parameters the distribution consumes: `params_size` of tfp.layers such as "
            "`IndependentNormal(1)` (2) or `MultivariateNormalTriL(2)` (5), or the slices a "
            "`DistributionLambda` takes (`t[..., :1]` and `t[..., 1:]` of 64 units)."
        ),
        why=(
            "A wrong width does not always fail: sliced parameters broadcast (a loc of width "
            "1 against a scale of width 63), so the model trains a distribution with 63 "
            "outputs, or fails only at some batch sizes."
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
