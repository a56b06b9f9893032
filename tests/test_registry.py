"""The rule registry: unique stable codes, complete docs, and `explain` for every rule."""

from __future__ import annotations

import re

import pytest

from tfpcheck.rules import BY_CODE, REGISTRY
from tfpcheck.rules.base import Rule

# Codes and names as SPEC §4 fixes them: a code is never reused or renamed.
SPEC_NAMES = {
    "TFP001": "unreadable-model",
    "TFP002": "probe-skipped-unsafe-code",
    "TFP003": "serialized-code-python-mismatch",
    "TFP004": "keras-flavor-mismatch",
    "TFP005": "unknown-custom-object",
    "TFP006": "save-roundtrip-fails",
    "TFP007": "dangerous-serialized-code",
    "TFP008": "probe-did-not-finish",
    "TFP009": "saved-layer-cannot-be-reloaded",
    "TFP101": "loss-broadcasts-across-batch",
    "TFP102": "batch-dependent-failure",
    "TFP103": "extra-loss-axes",
    "TFP104": "distribution-parameter-broadcast",
    "TFP105": "params-size-mismatch",
    "TFP106": "batch-coupled-outputs",
    "TFP107": "batch-inconsistent-loss",
    "TFP108": "loss-or-forward-fails",
    "TFP201": "onehot-categorical-classifier",
    "TFP202": "double-softmax",
    "TFP203": "double-sigmoid",
    "TFP204": "logits-as-probabilities",
    "TFP205": "label-encoding-mismatch",
    "TFP301": "unconstrained-scale",
    "TFP302": "non-finite-loss",
    "TFP303": "activation-on-distribution-parameters",
    "TFP304": "full-covariance-parameterization",
    "TFP401": "no-gradient",
    "TFP402": "kl-dominates-loss",
}


def test_codes_are_unique_and_well_formed() -> None:
    codes = [rule.code for rule in REGISTRY]
    assert len(codes) == len(set(codes))
    assert len(BY_CODE) == len(REGISTRY)
    for rule in REGISTRY:
        assert re.fullmatch(r"TFP\d{3}", rule.code), rule.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
    # `tfpcheck rules`, README's table and SARIF's rule list follow the registry's order.
    assert codes == sorted(codes)


def test_codes_and_names_match_the_spec() -> None:
    for rule in REGISTRY:
        assert SPEC_NAMES.get(rule.code) == rule.name, rule.code


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_every_rule_is_documented(rule: Rule) -> None:
    doc = rule.doc
    for section in (doc.what, doc.why, doc.example, doc.use_instead):
        assert section.strip(), f"{rule.code} has an empty doc section"
    assert doc.example.strip() != doc.use_instead.strip()
    assert rule.title and rule.tiers


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_explain_shows_all_four_sections(rule: Rule, run_cli) -> None:
    result = run_cli("explain", rule.code.lower())
    assert result.exit_code == 0, result.stderr
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert heading in result.stdout
    assert result.stdout.startswith(f"{rule.code} {rule.name}")
    assert rule.doc.use_instead.splitlines()[0] in result.stdout


def test_explain_unknown_code_is_a_usage_error(run_cli) -> None:
    result = run_cli("explain", "TFP999")
    assert result.exit_code == 2
    assert "unknown rule 'TFP999'" in result.stderr
    assert "Traceback" not in result.stderr


def test_rules_lists_every_rule(run_cli) -> None:
    result = run_cli("rules")
    assert result.exit_code == 0
    for rule in REGISTRY:
        assert rule.code in result.stdout and rule.name in result.stdout
