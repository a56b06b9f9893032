"""TFP007 dangerous-serialized-code: stored code reaches for the shell, files or the network."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Confidence, Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import function_where, layer_where

FIX = (
    "Do not load this file (not with --unsafe, not with safe_mode=False). Rebuild the model "
    "from source you trust and load only its weights."
)


def check(ctx: StaticContext) -> Iterator[Finding]:
    for layer in ctx.model.layers:
        for fn in layer.functions:
            if fn.dangerous:
                yield RULE.finding(
                    f"layer '{layer.name}' stores code that calls {', '.join(fn.dangerous)}: "
                    "loading this model would execute it",
                    FIX,
                    layer_where(layer, fn),
                    {"calls": list(fn.dangerous), "source": fn.source},
                    confidence=Confidence.HIGH,
                )
    for loss in ctx.model.losses:
        loss_fn = loss.function
        if loss_fn is not None and loss_fn.dangerous:
            yield RULE.finding(
                f"the compiled loss stores code that calls {', '.join(loss_fn.dangerous)}: "
                "loading this model would execute it",
                FIX,
                function_where(loss_fn),
                {"calls": list(loss_fn.dangerous), "source": loss_fn.source},
                confidence=Confidence.HIGH,
            )


RULE = Rule(
    code="TFP007",
    name="dangerous-serialized-code",
    title="serialized code calls os, subprocess, exec, sockets, ...",
    severity=Severity.ERROR,
    check_static=check,
    doc=RuleDoc(
        what=(
            "Scans pickled and marshalled functions in the model file, as data, for "
            "references to `os`, `subprocess`, `builtins.exec`/`eval`, `socket` and similar "
            "(the list picklescan and modelscan use)."
        ),
        why=(
            "Loading a Keras file with `safe_mode=False` (or unpickling its functions) runs "
            "that code with your permissions: a model file from a pull request or a hub can "
            "carry a payload."
        ),
        example="tfp.layers.DistributionLambda(lambda t: os.system('curl ... | sh'))",
        use_instead=(
            "model = build_model()   # from source you trust\n"
            "model.load_weights('model.weights.h5')"
        ),
    ),
)
