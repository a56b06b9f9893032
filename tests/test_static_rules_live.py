"""Every static rule case, read from the live model instead of the file's config.json.

Each case's fixture is loaded with the Keras that wrote it, in a subprocess per flavor (this
pytest process never imports TensorFlow), and described the way a factory's model is: the
structural rules must give the case's expected codes at the same layer, and none of its
absent codes. File rules (TFP0xx: unreadable files, serialized code, bytecode versions)
are about the file and are left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import model_path

pytest.importorskip("tensorflow_probability")

CASES = tomllib.loads((Path(__file__).parent / "cases" / "static_rules.toml").read_text())["case"]
FILE_RULES = "TFP0"
# Fixtures their own Keras cannot load back (see fixtures/README.md, "load note"): no live
# model to describe. Kept exact: a fixture that starts loading must be checked here.
CANNOT_LOAD = {
    "tfk_onehot_layer_cce.keras",
    "tfk_mvn_tril.keras",
}

SCRIPT = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from tfpcheck.losses import parse_loss_spec
from tfpcheck.probe.quiet import import_tensorflow
import_tensorflow()  # as the probe worker does: TFP registers its layers with tf_keras
from tfpcheck.probe.describe import describe_live
from tfpcheck.probe.load import Loaded, load_model_file
from tfpcheck.engine import run_static_rules
from tfpcheck.rules.context import StaticContext

out = {}
for case in json.loads(sys.stdin.read()):
    loaded = load_model_file(case["path"], case["flavor"], True, True)
    if not isinstance(loaded, Loaded):
        # a compiled loss that cannot be restored (a named function) leaves the structure
        loaded = load_model_file(case["path"], case["flavor"], True, False)
    if not isinstance(loaded, Loaded):
        out[case["id"]] = None
        continue
    model = describe_live(loaded)
    args = case["args"]
    loss = args[args.index("--loss") + 1] if "--loss" in args else None
    spec = parse_loss_spec(loss, "--from-logits" in args) if loss else None
    ctx = StaticContext(model=model, loss=spec, probe_requested=case["probe"], unsafe=True)
    out[case["id"]] = [
        [f.code, f.where.layer, f.where.layer_index, f.severity.value]
        for f in run_static_rules(ctx)
    ]
print(json.dumps(out))
"""


def _flavor(case: dict[str, Any]) -> str:
    return "keras3" if case["fixture"].startswith("k3_") else "tf_keras"


@pytest.fixture(scope="module")
def live() -> dict[str, list[list[Any]] | None]:
    found: dict[str, list[list[Any]] | None] = {}
    for flavor in ("tf_keras", "keras3"):  # the two Keras never share a process
        cases = [
            {
                "id": c["id"],
                "path": model_path(c["fixture"]),
                "flavor": flavor,
                "args": c.get("args", []),
                "probe": bool(c.get("probe", False)),
            }
            for c in CASES
            if _flavor(c) == flavor and not c["fixture"].startswith("not_a_model")
        ]
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        found.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return found


def _structural(case: dict[str, Any]) -> bool:
    codes = [e["code"] for e in case.get("expect", [])] + list(case.get("absent", []))
    return any(not code.startswith(FILE_RULES) for code in codes)


LIVE_CASES = [c for c in CASES if _structural(c) and c["fixture"] not in CANNOT_LOAD]


@pytest.mark.parametrize("case", LIVE_CASES, ids=[c["id"] for c in LIVE_CASES])
def test_live_model_gives_the_files_findings(live: dict[str, Any], case: dict[str, Any]) -> None:
    findings = live.get(case["id"])
    assert findings is not None, f"{case['fixture']} did not load"
    for expect in case.get("expect", []):
        if expect["code"].startswith(FILE_RULES):
            continue
        same = [f for f in findings if f[0] == expect["code"]]
        assert same, f"{expect['code']} not found in the live model: {findings}"
        wanted = [expect.get("layer"), expect.get("layer_index"), expect.get("severity")]
        assert any(
            all(w is None or w == got for w, got in zip(wanted, f[1:], strict=True)) for f in same
        ), f"{expect['code']}: expected {wanted}, got {same}"
    reported = {f[0] for f in findings}
    for code in case.get("absent", []):
        assert code not in reported, findings


def test_the_fixtures_that_cannot_load_are_exactly_those(live: dict[str, Any]) -> None:
    failed = {c["fixture"] for c in CASES if c["id"] in live and live[c["id"]] is None}
    assert failed == CANNOT_LOAD & {c["fixture"] for c in CASES}
