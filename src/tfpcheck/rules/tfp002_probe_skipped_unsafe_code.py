"""TFP002 probe-skipped-unsafe-code: the file holds Python code; the probe needs --unsafe."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext


def code_holders(ctx: StaticContext) -> list[str]:
    holders = [layer.name for layer in ctx.model.layers if layer.functions or layer.function_errors]
    if any(loss.function is not None for loss in ctx.model.losses):
        holders.append("compiled loss")
    return holders


def check(ctx: StaticContext) -> Iterator[Finding]:
    if not ctx.probe_requested or ctx.unsafe:
        return
    holders = code_holders(ctx)
    if not holders:
        return
    yield RULE.finding(
        f"the file holds serialized Python code ({', '.join(holders)}); loading it would run "
        "that code, so the probe was skipped and only the static checks ran",
        "If you trust this file, run again with --unsafe (or unsafe = true in "
        "[tool.tfpcheck]) to load it the way Keras does with safe_mode=False; or rebuild the "
        "model from code with a factory: tfpcheck models.py:build_model.",
        None,
        {"code_in": holders},
    )


RULE = Rule(
    code="TFP002",
    name="probe-skipped-unsafe-code",
    title="probe skipped: the file holds serialized Python code",
    severity=Severity.WARNING,
    check_static=check,
    doc=RuleDoc(
        what=(
            "Reports that the probe tier did not load a model because the file stores "
            "Python code (a `Lambda` layer's bytecode, a pickled `make_distribution_fn` of a "
            "`DistributionLambda` or tfp.layers layer, a lambda loss)."
        ),
        why=(
            "Loading such a file executes its code, exactly why Keras refuses it in "
            "`safe_mode`. Without `--unsafe` only the static checks ran, so the "
            "shape and gradient mistakes that only running shows were not looked for."
        ),
        example="tfpcheck model_with_lambda.keras",
        use_instead=(
            "tfpcheck --unsafe model_with_lambda.keras   # only for files you trust\n"
            "tfpcheck models.py:build_model              # or check the code that builds it"
        ),
    ),
)
