"""A rule is one room: its hooks say where it runs, and what is decided about it lives in its
module. These tests read the registry and the source tree; they import no TensorFlow."""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from tfpcheck.rules import BY_CODE, REGISTRY
from tfpcheck.rules.base import Rule

SRC = Path(__file__).resolve().parents[1] / "src" / "tfpcheck"
RULES_DIR = SRC / "rules"

# The tier column of SPEC §4 (TFP008 and TFP009 came later: the probe's own).
SPEC_TIERS = {
    "TFP001": {"static"},
    "TFP002": {"static"},
    "TFP003": {"static"},
    "TFP004": {"static", "probe"},
    "TFP005": {"probe"},
    "TFP006": {"probe"},
    "TFP007": {"static"},
    "TFP008": {"probe"},
    "TFP009": {"probe"},
    "TFP101": {"probe"},
    "TFP102": {"probe"},
    "TFP103": {"probe"},
    "TFP104": {"probe"},
    "TFP105": {"static", "probe"},
    "TFP106": {"probe"},
    "TFP107": {"probe"},
    "TFP108": {"probe"},
    "TFP201": {"static", "probe"},
    "TFP202": {"static", "probe"},
    "TFP203": {"static", "probe"},
    "TFP204": {"static", "probe"},
    "TFP205": {"probe"},
    "TFP301": {"static", "probe"},
    "TFP302": {"probe"},
    "TFP303": {"static"},
    "TFP304": {"static", "probe"},
    "TFP401": {"probe"},
    "TFP402": {"probe"},
}

# Rule codes written as literals outside rules/: only where reading, loading or caching a
# model is decided, before or around any rule's own check.
ALLOWED_CODE_LITERALS = {
    ("engine.py", "TFP001"),  # the file cannot be read: no model description at all
    ("engine.py", "TFP003"),  # bytecode from another Python: loading cannot succeed
    ("engine.py", "TFP007"),  # code that calls the shell: never load
    ("probe/runner.py", "TFP002"),  # serialized code without --unsafe: do not load
    ("probe/runner.py", "TFP007"),
    ("cache.py", "TFP008"),  # an unfinished probe is not stored as a verdict
    ("options.py", "TFP006"),  # shown with -v only (the option's default)
}

# Modules outside rules/ that import one rule's module: the places that raise that rule
# (its `raised_by`) or share its wording (the Python API rephrases TFP101's option names).
ALLOWED_RULE_IMPORTS = {
    ("api_wording.py", "tfp101_loss_broadcasts_across_batch"),
    # a file or factory that fails to load, or a loss module that fails to import
    ("probe/load.py", "tfp108_loss_or_forward_fails"),
    ("probe/probe_run.py", "tfp108_loss_or_forward_fails"),
    ("probe/rebuild.py", "tfp009_saved_layer_cannot_be_reloaded"),  # its records
}

PROBE_HOOKS = ("check_probe", "confirm_probe", "confirm_unbuilt", "check_outputs")


def _probe_hooks(rule: Rule) -> list[str]:
    return [hook for hook in PROBE_HOOKS if getattr(rule, hook) is not None]


def _raised_in_probe(rule: Rule) -> bool:
    return rule.raised_by is not None and rule.raised_by.startswith("tfpcheck.probe.")


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_a_probe_tier_rule_has_a_probe_hook_or_is_raised_by_the_probe(rule: Rule) -> None:
    assert rule.tiers, f"{rule.code} has no hook and is raised nowhere"
    if "probe" in rule.tiers:
        assert _probe_hooks(rule) or _raised_in_probe(rule), rule.code
    if "static" in rule.tiers:
        assert rule.check_static or rule.check_source or rule.raised_by, rule.code
    # a refutation disproves the rule's own static guesses: it needs something to refute
    if rule.refute_probe is not None:
        assert rule.check_static or rule.check_source, rule.code


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_tiers_follow_from_the_hooks_as_the_spec_gives_them(rule: Rule) -> None:
    derived = set(rule.tiers)
    assert SPEC_TIERS[rule.code] <= derived, rule.code
    # A static tier beyond the spec's comes from reading the user's source (SPEC §3: the
    # rank-dropping slice fed to log_prob is read from FILE.py as text).
    for extra in derived - SPEC_TIERS[rule.code]:
        assert extra == "static" and rule.check_source is not None, rule.code


@pytest.mark.parametrize(
    "rule", [r for r in REGISTRY if r.raised_by is not None], ids=lambda r: r.code
)
def test_a_raised_rule_is_raised_by_the_module_it_names(rule: Rule) -> None:
    assert rule.raised_by is not None
    module = importlib.import_module(rule.raised_by)
    assert module.__file__ is not None
    text = Path(module.__file__).read_text()
    own = _rule_module_name(rule)
    assert own in text or f'"{rule.code}"' in text, (
        f"{rule.raised_by} neither imports {own} nor names {rule.code}"
    )


def _rule_module_name(rule: Rule) -> str:
    matches = [p.stem for p in RULES_DIR.glob(f"{rule.code.lower()}_*.py")]
    assert len(matches) == 1, matches
    return matches[0]


def test_every_rule_module_is_named_after_its_code_and_name() -> None:
    for rule in REGISTRY:
        assert _rule_module_name(rule) == f"{rule.code.lower()}_{rule.name.replace('-', '_')}"


def test_what_a_rule_explains_or_is_fixed_by_is_another_registered_rule() -> None:
    for rule in REGISTRY:
        assert rule.code not in rule.explains, rule.code
        assert rule.explains <= BY_CODE.keys(), rule.code
        if rule.fixed_by is not None:
            assert rule.fixed_by.cause in BY_CODE and rule.fixed_by.cause != rule.code
            assert "{layer}" in rule.fixed_by.fix
    # no two rules explain each other away: one of them must stand
    for rule in REGISTRY:
        for other in rule.explains:
            assert rule.code not in BY_CODE[other].explains, (rule.code, other)


def _source_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if RULES_DIR not in p.parents)


def _string_literals(path: Path) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [tok.string for tok in tokens if tok.type == tokenize.STRING]


def test_rule_codes_are_literals_outside_rules_only_where_loading_is_decided() -> None:
    found = set()
    for path in _source_files():
        for literal in _string_literals(path):
            match = re.fullmatch(r"""[rbuf]*(['"])(TFP\d{3})\1""", literal)
            if match:
                found.add((path.relative_to(SRC).as_posix(), match.group(2)))
    assert found == ALLOWED_CODE_LITERALS


def test_only_a_rules_raisers_import_its_module() -> None:
    raisers = {
        (
            rule.raised_by.removeprefix("tfpcheck.").replace(".", "/") + ".py",
            _rule_module_name(rule),
        )
        for rule in REGISTRY
        if rule.raised_by is not None
    }
    imports = set()
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                match = re.fullmatch(r"tfpcheck\.rules\.(tfp\d{3}_\w+)(\..*)?", name)
                if match:
                    imports.add((path.relative_to(SRC).as_posix(), match.group(1)))
    assert imports <= raisers | ALLOWED_RULE_IMPORTS, imports - raisers - ALLOWED_RULE_IMPORTS
    # and every raiser does import the rule it raises
    assert raisers <= imports | {("engine.py", "tfp001_unreadable_model")}
