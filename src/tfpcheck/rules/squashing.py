"""Shared by double-softmax and double-sigmoid: a squashing activation fed in as logits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfpcheck.catalog.activations import squash_of
from tfpcheck.findings import Finding, Where
from tfpcheck.rules.base import Rule
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    activation_source,
    distribution_heads,
    keras_layer_call,
    layer_where,
    output_activation,
    output_layers,
    render_call,
)

if TYPE_CHECKING:
    from tfpcheck.source_scan import SourceScan


@dataclass(frozen=True)
class Squash:
    activation: str  # "softmax" or "sigmoid" (hard_sigmoid is a sigmoid here)
    distributions: frozenset[str]  # distributions whose logits= it must not feed
    builtin_layers: frozenset[str]  # tfp.layers that read their input as these logits
    losses: frozenset[str]  # Keras losses whose from_logits=True it must not feed
    probs_class: str  # the distribution to suggest with probs=


def _activation_fix(layer_call: str, source_name: str, source_class: str, units: int | None) -> str:
    if source_class == "Activation" or source_class in {"Softmax"}:
        return f"remove the layer {layer_call}"
    bare = f"Dense({units}, name={source_name!r})" if units is not None else "activation=None"
    return f"use {bare} (no activation) instead of {layer_call}"


def squash_findings(ctx: StaticContext, rule: Rule, squash: Squash) -> Iterator[Finding]:
    model = ctx.model
    for head in distribution_heads(model):
        if head.is_builtin:
            if head.layer.class_name not in squash.builtin_layers:
                continue
            consumer = f"{head.layer.class_name}(...) layer '{head.layer.name}'"
            call = None
        else:
            call = next(
                (
                    c
                    for c in head.calls
                    if c.short_name in squash.distributions and c.kwarg("logits") is not None
                ),
                None,
            )
            if call is None:
                continue
            consumer = f"{call.callee}(logits=...) in '{head.layer.name}'"
        found = activation_source(model, head.layer)
        if found is None or squash_of(found[1]) != squash.activation:
            continue
        source, _ = found
        source_call = keras_layer_call(source)
        fix = _activation_fix(source_call, source.name, source.class_name, source.units)
        if call is not None:
            fix_text = (
                f"Feed raw logits: {fix}, and keep {call.callee}(logits=t). "
                f"Or keep the {squash.activation} and pass probabilities: "
                f"tfd.{call.short_name}(probs=t)."
            )
        else:
            fix_text = f"Feed raw logits to {head.layer.class_name}: {fix}."
        evidence: dict[str, str | None] = {
            "activation_layer": source.name,
            "activation": squash.activation,
            "consumer": head.layer.name,
            "distribution": call.callee if call else head.layer.class_name,
        }
        if head.function is not None:
            evidence["lambda"] = head.function.location
            if call is not None:
                evidence["expression"] = render_call(call)
        where = layer_where(source, head.function, call.line if call else None)
        yield rule.finding(
            f"{squash.activation} output of {source_call} is passed as logits to {consumer}: "
            f"the distribution applies a second {squash.activation}, so probabilities are "
            "flattened and training is slow and wrong",
            fix_text,
            where,
            evidence,
        )
    for loss in ctx.effective_losses():
        if loss.name not in squash.losses or not loss.from_logits:
            continue
        for out in output_layers(model, loss.output):
            found = output_activation(model, out)
            if found is None or squash_of(found[1]) != squash.activation:
                continue
            source, _ = found
            source_call = keras_layer_call(source)
            fix = _activation_fix(source_call, source.name, source.class_name, source.units)
            yield rule.finding(
                f"output {source_call} applies {squash.activation}, and the loss "
                f"{loss.name} is computed with from_logits=True: probabilities are "
                f"treated as logits and squashed twice",
                f"Either {fix} and keep from_logits=True (numerically best), or keep the "
                f"{squash.activation} and use from_logits=False.",
                layer_where(source),
                {
                    "activation_layer": source.name,
                    "activation": squash.activation,
                    "loss": loss.name,
                    "from_logits": True,
                },
            )


def source_squash_findings(
    scan: SourceScan,
    rule: Rule,
    activation: str,
    distributions: frozenset[str],
    builtin_layers: frozenset[str] = frozenset(),
) -> Iterator[Finding]:
    """The same mistake in a loss or factory given as FILE.py:NAME, read with ast."""
    for layer in scan.logits_layers:
        feed = layer.feed
        if layer.short_name not in builtin_layers or feed.squash != activation:
            continue
        owner = f"'{layer.function}'" if layer.function else "the module"
        yield rule.finding(
            f"{owner} feeds {activation} output to {layer.callee}(...): {feed.squash_by} "
            f"(line {feed.squash_line}) squashes the values, and the layer reads its input as "
            f"logits and applies a second {activation}",
            f"Feed raw logits to {layer.short_name}: drop the {activation} "
            f"({feed.squash_by}, line {feed.squash_line}) so the layer before it is linear.",
            Where(function=layer.function, file=layer.file, line=layer.line),
            {
                "distribution": layer.callee,
                "activation": activation,
                "squashed_by": feed.squash_by,
                "squash_line": feed.squash_line,
                "code": layer.code,
            },
        )
    for dist in scan.distributions:
        logits = dist.arguments.get("logits")
        if dist.short_name not in distributions or logits is None:
            continue
        if logits.squash != activation:
            continue
        owner = f"'{dist.function}'" if dist.function else "the module"
        yield rule.finding(
            f"{owner} passes {activation} output as logits: {logits.squash_by} (line "
            f"{logits.squash_line}) feeds {dist.callee}(logits={logits.text}), which applies "
            f"a second {activation}",
            f"Pass the raw values as logits (drop {logits.squash_by}), or keep the "
            f"{activation} and build {dist.callee}(probs=...).",
            Where(function=dist.function, file=dist.file, line=dist.line),
            {
                "distribution": dist.callee,
                "activation": activation,
                "squashed_by": logits.squash_by,
                "squash_line": logits.squash_line,
                "code": dist.code,
            },
        )
