"""TFP003 serialized-code-python-mismatch: bytecode written by another Python version."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from tfpcheck.findings import Confidence, Finding, Severity, Where
from tfpcheck.model_file.types import FunctionInfo
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import function_where, layer_where


def _version_text(fn: FunctionInfo) -> str:
    if fn.python_version is None:
        return "another Python version"
    return "Python {}.{}".format(*fn.python_version)


def _finding(fn: FunctionInfo, holder: str, where: Where) -> Finding:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    writer = _version_text(fn)
    return RULE.finding(
        f"{holder} holds bytecode written by {writer}, but this is Python {running}: "
        "Keras cannot load it here (bad marshal data, or a crash when the code runs)",
        f"Run tfpcheck (and training) under {writer}, or rebuild the model under Python "
        f"{running} and save it again; better, replace the lambda with a named function "
        "registered with @keras.saving.register_keras_serializable().",
        where,
        {
            "written_by": list(fn.python_version) if fn.python_version else None,
            "running": [sys.version_info.major, sys.version_info.minor],
            "function": fn.location,
        },
        confidence=Confidence.HIGH if fn.python_version else Confidence.MEDIUM,
    )


def check(ctx: StaticContext) -> Iterator[Finding]:
    for layer in ctx.model.layers:
        mismatched = [fn for fn in layer.functions if fn.version_mismatch]
        if mismatched:
            fn = mismatched[0]
            yield _finding(fn, f"layer '{layer.name}'", layer_where(layer, fn))
    for loss in ctx.model.losses:
        if loss.function is not None and loss.function.version_mismatch:
            yield _finding(loss.function, "the compiled loss", function_where(loss.function))


RULE = Rule(
    code="TFP003",
    name="serialized-code-python-mismatch",
    title="serialized code from another Python version",
    severity=Severity.ERROR,
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds serialized functions (Lambda bytecode, pickled distribution functions, "
            "lambda losses) whose bytecode was written by a different Python version than "
            "the one running, and names that version."
        ),
        why=(
            "Python bytecode is not portable between minor versions. Keras loads it with "
            "`marshal`, which fails with 'bad marshal data' or, worse, builds code that "
            "crashes or misbehaves when it runs."
        ),
        example=(
            "# saved under Python 3.12\n"
            "keras.layers.Lambda(lambda x: x * 2.0)\n"
            "# loaded under Python 3.11 -> ValueError: bad marshal data"
        ),
        use_instead=(
            "@keras.saving.register_keras_serializable()\n"
            "def double(x):\n"
            "    return x * 2.0\n"
            "keras.layers.Lambda(double)"
        ),
    ),
)
