"""The result cache: hits, misses, --no-cache, corrupt entries, atomic writes, no TF on a hit."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, model_path

from tfpcheck import cache
from tfpcheck.engine import CheckOptions, check_path
from tfpcheck.findings import FileError, FileResult, Finding, Severity, Where
from tfpcheck.losses import parse_loss_spec
from tfpcheck.selection import Selector

STATIC = CheckOptions(static_only=True)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(directory))
    return directory


class CountingCheck:
    """The real check_path, counting how often the cache let it run."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, path: str, options: CheckOptions) -> FileResult:
        self.calls.append(path)
        return check_path(path, options)


def _check(path: str, options: CheckOptions, counter: CountingCheck) -> FileResult:
    return cache.cached_check(path, options, counter, is_factory=":" in path)


def _entries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _codes(result: FileResult) -> list[str]:
    return [f.code for f in result.findings]


def _without_seconds(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["summary"].pop("seconds", None)
    return doc


def test_cache_dir_follows_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(tmp_path / "x"))
    assert cache.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("TFPCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "tfpcheck"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "tfpcheck"


def test_unchanged_model_is_a_hit(cache_dir: Path) -> None:
    counter = CountingCheck()
    path = model_path("tfk_softmax_categorical.keras")
    first = _check(path, STATIC, counter)
    second = _check(path, STATIC, counter)
    assert counter.calls == [path]
    assert second == first
    assert "TFP202" in _codes(second)
    [entry] = _entries(cache_dir)
    assert entry.suffix == ".json"
    assert json.loads(entry.read_text())["result"]["findings"][0]["code"] in _codes(first)


def test_changed_content_is_a_miss(cache_dir: Path, tmp_path: Path) -> None:
    counter = CountingCheck()
    model = tmp_path / "model.keras"
    shutil.copy(model_path("tfk_softmax_categorical.keras"), model)
    assert "TFP202" in _codes(_check(str(model), STATIC, counter))
    shutil.copy(model_path("tfk_categorical_logits.keras"), model)  # the fix, same name
    fixed = _check(str(model), STATIC, counter)
    assert counter.calls == [str(model), str(model)]
    assert "TFP202" not in _codes(fixed)
    assert fixed == check_path(str(model), STATIC)
    assert len(_entries(cache_dir)) == 2


def test_savedmodel_directory_hashes_every_file(cache_dir: Path, tmp_path: Path) -> None:
    counter = CountingCheck()
    model = tmp_path / "saved"
    shutil.copytree(model_path("tfk_savedmodel"), model)
    _check(str(model), STATIC, counter)
    _check(str(model), STATIC, counter)
    assert len(counter.calls) == 1
    variables = next(model.glob("variables/*.data-*"))
    variables.write_bytes(variables.read_bytes() + b"\0")
    _check(str(model), STATIC, counter)
    assert len(counter.calls) == 2


@pytest.mark.parametrize(
    "changed",
    [
        CheckOptions(static_only=True, batch_size=8),
        CheckOptions(static_only=True, loss=parse_loss_spec("cce")),
        CheckOptions(static_only=True, loss=parse_loss_spec("cce", from_logits=True)),
        CheckOptions(static_only=True, unsafe=True),
        CheckOptions(static_only=True, target_shape=(1,)),
        CheckOptions(static_only=True, classes=3),
        CheckOptions(static_only=True, num_examples=100),
        CheckOptions(static_only=False),
    ],
    ids=["batch", "loss", "from_logits", "unsafe", "target", "classes", "examples", "probe"],
)
def test_an_option_that_changes_the_result_is_a_miss(
    cache_dir: Path, changed: CheckOptions
) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    key = cache.result_key(path, STATIC, False)
    assert key is not None  # else an uncacheable option would pass as a miss
    assert cache.result_key(path, changed, False) not in (key, None)


def _changed_options(tmp_path: Path) -> dict[str, object]:
    """A value other than STATIC's for every option that is in the key."""
    data = tmp_path / "probe.npz"
    np.savez(data, x=np.zeros((4, 8), "float32"), y=np.zeros((4,), "int64"))
    objects = tmp_path / "objects.py"
    objects.write_text("def scaled(x):\n    return 2 * x\n")
    return {
        "loss": parse_loss_spec("cce"),
        "static_only": False,
        "unsafe": True,
        "batch_size": 8,
        "target_shape": (1,),
        "classes": 3,
        "data": str(data),
        "num_examples": 100,
        "custom_objects": str(objects),
    }


def test_every_option_is_in_the_key_or_said_not_to_change_the_result(tmp_path: Path) -> None:
    """An option added to CheckOptions is keyed unless listed in cache.UNKEYED_OPTIONS."""
    changed = _changed_options(tmp_path)
    unchanged = {
        "selector": Selector.from_lists(["TFP2"], ["TFP202"]),
        "debug": True,
        "use_cache": False,
        "timeout": 5.0,
        "device": "gpu",
        "jobs": 2,
    }
    names = {f.name for f in fields(CheckOptions)}
    assert set(cache.UNKEYED_OPTIONS) == set(unchanged)
    assert set(changed) == names - set(unchanged), "add the new option to _changed_options"
    path = model_path("tfk_softmax_categorical.keras")
    key = cache.result_key(path, STATIC, False)
    assert key is not None
    assert set(cache.options_fingerprint(STATIC)) == set(changed)
    for name, value in changed.items():
        other = cache.result_key(path, replace(STATIC, **{name: value}), False)
        assert other not in (key, None), name
    for name, value in unchanged.items():
        assert cache.result_key(path, replace(STATIC, **{name: value}), False) == key, name


def test_selection_and_debug_share_one_entry(cache_dir: Path) -> None:
    counter = CountingCheck()
    path = model_path("tfk_normal_dense64_relu.keras")
    everything = _check(path, STATIC, counter)
    assert _codes(everything) == ["TFP105", "TFP303"]
    ignored = CheckOptions(
        static_only=True, selector=Selector.from_lists(None, ["TFP303"]), debug=True
    )
    fewer = _check(path, ignored, counter)
    assert counter.calls == [path]
    assert _codes(fewer) == ["TFP105"]
    assert fewer == check_path(path, ignored)


def test_factory_key_follows_its_source_and_the_modules_beside_it(
    cache_dir: Path, tmp_path: Path
) -> None:
    """What the factory imports is checked through the entry (tests/test_cache_user_files.py);
    the key holds the factory's own content and which modules lie beside it, since one that
    appears there may be imported instead of one found elsewhere."""
    factory = tmp_path / "models.py"
    helper = tmp_path / "helpers.py"
    factory.write_text("from helpers import head\n\ndef build():\n    return head()\n")
    helper.write_text("def head():\n    return 1\n")
    spec = f"{factory}:build"
    key = cache.result_key(spec, STATIC, True)
    assert key is not None
    assert cache.result_key(spec, STATIC, True) == key
    (tmp_path / "data.txt").write_text("not a module\n")
    assert cache.result_key(spec, STATIC, True) == key
    factory.write_text(factory.read_text() + "# edited\n")
    changed_factory = cache.result_key(spec, STATIC, True)
    (tmp_path / "fast_helpers.py").write_text("def head():\n    return 3\n")
    new_module = cache.result_key(spec, STATIC, True)
    assert len({key, changed_factory, new_module}) == 3
    assert cache.result_key(f"{tmp_path / 'missing.py'}:build", STATIC, True) is None


def test_loss_and_custom_objects_sources_are_in_the_key(cache_dir: Path, tmp_path: Path) -> None:
    losses = tmp_path / "my_losses.py"
    losses.write_text("def nll(y, d):\n    return -d.log_prob(y)\n")
    path = model_path("k3_regression_dense2.keras")
    for options in (
        CheckOptions(static_only=True, loss=parse_loss_spec(f"{losses}:nll")),
        CheckOptions(static_only=True, custom_objects=str(losses)),
    ):
        before = cache.result_key(path, options, False)
        losses.write_text(losses.read_text() + "# edited\n")
        assert before is not None
        assert cache.result_key(path, options, False) != before


def test_data_file_content_is_in_the_key(cache_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "probe.npz"
    np.savez(data, x=np.zeros((4, 8), "float32"), y=np.zeros((4,), "int64"))
    options = CheckOptions(static_only=True, data=str(data))
    path = model_path("k3_softmax_probs.keras")
    before = cache.result_key(path, options, False)
    np.savez(data, x=np.ones((4, 8), "float32"), y=np.zeros((4,), "int64"))
    assert before is not None
    assert cache.result_key(path, options, False) != before


def test_module_spec_is_located_without_importing_it(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "mypkg_cachetest"
    package.mkdir()
    marker = tmp_path / "imported"
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (package / "models.py").write_text("def build():\n    return None\n")
    monkeypatch.chdir(tmp_path)
    key = cache.result_key("mypkg_cachetest.models:build", STATIC, True)
    assert key is not None
    assert not marker.exists()
    assert "mypkg_cachetest" not in sys.modules
    (package / "__init__.py").write_text("# changed\n")
    assert cache.result_key("mypkg_cachetest.models:build", STATIC, True) != key
    # Not found by the path finder: not cached (the probe will say what importing it says).
    assert cache.result_key("mypkg_cachetest.nothing:build", STATIC, True) is None
    assert cache.result_key("no_such_module_anywhere:build", STATIC, True) is None


def test_corrupt_entry_is_ignored_and_overwritten(cache_dir: Path) -> None:
    counter = CountingCheck()
    path = model_path("tfk_softmax_categorical.keras")
    first = _check(path, STATIC, counter)
    [entry] = _entries(cache_dir)
    for garbage in (b"", b"{not json", b'{"key": "other"}', b'{"key": null, "result": 1}'):
        entry.write_bytes(garbage)
        again = _check(path, STATIC, counter)
        assert again == first
        assert json.loads(entry.read_text())["result"]["path"] == path
    key = entry.stem
    entry.write_text(json.dumps({"format": 1, "key": key, "result": {"findings": "x"}}))
    assert _check(path, STATIC, counter) == first
    assert len(counter.calls) == 6


def _fake_entry(directory: Path, path: str, options: CheckOptions) -> None:
    """A valid entry whose result differs from what checking the file finds."""
    key = cache.result_key(path, options, False)
    assert key is not None
    planted = FileResult(path, notes=("planted in the cache",))
    assert cache.ResultCache(directory).put(key, planted)


def test_no_cache_bypasses_the_cache(run_cli, cache_dir: Path) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    _fake_entry(cache_dir, path, replace_selector(STATIC))
    served = run_cli("--static", "--format", "json", path)
    assert served.json()["files"][0]["notes"] == ["planted in the cache"]
    fresh = run_cli("--static", "--no-cache", "--format", "json", path)
    assert "TFP202" in [f["code"] for f in fresh.json()["files"][0]["findings"]]
    assert fresh.json()["files"][0]["notes"] == []
    assert len(_entries(cache_dir)) == 1  # --no-cache wrote nothing either


def test_cache_false_in_the_configuration_bypasses_the_cache(
    run_cli, cache_dir: Path, tmp_path: Path
) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    _fake_entry(cache_dir, path, replace_selector(STATIC))
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.tfpcheck]\ncache = false\n")
    fresh = run_cli("--config", str(config), "--static", "--format", "json", path)
    assert "TFP202" in [f["code"] for f in fresh.json()["files"][0]["findings"]]
    assert fresh.json()["files"][0]["notes"] == []
    config.write_text("[tool.tfpcheck]\ncache = true\n")
    served = run_cli("--config", str(config), "--static", "--format", "json", path)
    assert served.json()["files"][0]["notes"] == ["planted in the cache"]


def replace_selector(options: CheckOptions) -> CheckOptions:
    from dataclasses import replace

    return replace(options, selector=Selector())


def _put_many(args: tuple[str, str, int]) -> bool:
    directory, path, _ = args
    result = check_path(path, STATIC)
    key = cache.result_key(path, replace_selector(STATIC), False)
    assert key is not None
    return all(cache.ResultCache(Path(directory)).put(key, result) for _ in range(20))


def test_concurrent_writers_leave_one_whole_entry(cache_dir: Path) -> None:
    path = model_path("tfk_softmax_categorical.h5")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_put_many, [(str(cache_dir), path, i) for i in range(4)]))
    [entry] = _entries(cache_dir)  # no temporary files left behind
    assert not entry.name.startswith(".tmp-")
    hit = cache.ResultCache(cache_dir).get(entry.stem, path)
    assert hit == check_path(path, STATIC)


def test_unwritable_cache_dir_just_does_not_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would be\n")
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(blocker))
    path = model_path("tfk_softmax_categorical.keras")
    result = run_cli("--static", "--format", "json", path)
    assert result.exit_code == 1
    assert "TFP202" in [f["code"] for f in result.json()["files"][0]["findings"]]
    assert blocker.read_text() == "a file where the cache directory would be\n"
    assert list(tmp_path.iterdir()) == [blocker]


def test_failures_of_tfpcheck_are_not_cached(cache_dir: Path) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    outcomes = [
        FileResult(path, notes=("probe failed inside tfpcheck (KeyError); rerun with --debug",)),
        FileResult(path, error=FileError("TFP001", "could not be read (X); rerun with --debug")),
        FileResult(
            path,
            (Finding("TFP008", "probe-timeout", Severity.WARNING, "the probe did not finish", ""),),
        ),
    ]
    for outcome in outcomes:
        calls: list[str] = []

        def check(p: str, o: CheckOptions, out: FileResult = outcome, seen=calls) -> FileResult:
            seen.append(p)
            return out

        cache.cached_check(path, STATIC, check, False)
        cache.cached_check(path, STATIC, check, False)
        assert len(calls) == 2
    assert _entries(cache_dir) == []


def test_evidence_that_json_would_show_differently_is_not_cached() -> None:
    def result(value: object) -> FileResult:
        finding = Finding("TFP101", "x", Severity.ERROR, "m", "f", Where(layer="out"), {"v": value})
        return FileResult("m.keras", (finding,))

    kept = cache.encode_result(result((32, 1)))
    assert kept is not None
    assert cache.decode_result(kept, "m.keras").findings[0].evidence == {"v": [32, 1]}
    assert cache.encode_result(result({"shape": (2,), "ok": None, "x": 1.5})) is not None
    # A bare numpy float32 is shown as a JSON string ("1.5") in the text report; JSON would
    # give back a str, shown bare (1.5): such a result is not cached.
    assert cache.encode_result(result(np.float32(1.5))) is None


CACHE_NOTE = re.compile(
    r"  note: result from the cache \(stored \d+ s ago\); --no-cache checks again\n"
)


def _provenance(fmt: str, body: Any) -> tuple[Any, list[Any]]:
    """The output without what says where each result came from, and what said it."""
    if fmt == "json":
        return body, [entry.pop("cached") for entry in body["files"]]
    return CACHE_NOTE.sub("", body), CACHE_NOTE.findall(body)


@pytest.mark.parametrize(
    "args",
    [
        ("--static", "tfk_softmax_categorical.keras"),
        ("--static", "--loss", "cce", "tfk_onehot_layer_cce.keras"),
        ("--static", "tfk_savedmodel"),
        ("--static", "not_a_model.keras"),
        ("k3_softmax_from_logits.keras",),
        ("k3_linear_cce.keras",),
    ],
    ids=lambda a: a[-1],
)
def test_cached_output_is_identical_to_uncached(run_cli, cache_dir: Path, args) -> None:
    """Identical but for saying so: `"cached": true`, and with -v a note."""
    *options, name = args
    path = model_path(name)
    outputs = {}
    said = {}
    for run in ("cold", "warm", "uncached"):
        extra = ["--no-cache"] if run == "uncached" else []
        for fmt in ("json", "text"):
            result = run_cli(*options, *extra, "--format", fmt, "-v", path)
            body = result.json() if fmt == "json" else result.stdout.rsplit("(", 1)[0]
            kept, said[run, fmt] = _provenance(fmt, body)
            kept = kept if fmt == "text" else _without_seconds(kept)
            outputs[run, fmt] = (result.exit_code, kept)
    assert _entries(cache_dir), "nothing was cached"
    for fmt in ("json", "text"):
        assert outputs["cold", fmt] == outputs["warm", fmt] == outputs["uncached", fmt]
    # The cold text run is served from the entry the cold JSON run stored.
    assert said["cold", "json"] == said["uncached", "json"] == [False]
    assert said["warm", "json"] == [True]
    assert len(said["cold", "text"]) == len(said["warm", "text"]) == 1
    assert said["uncached", "text"] == []


def test_the_cache_note_needs_verbose(run_cli, cache_dir: Path) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    run_cli("--static", path)
    plain = run_cli("--static", path)
    verbose = run_cli("--static", "-v", path)
    assert plain.exit_code == verbose.exit_code == 1
    assert "from the cache" not in plain.stdout
    [note] = CACHE_NOTE.findall(verbose.stdout)
    assert verbose.stdout.index(note) > verbose.stdout.index("TFP202")


HIT_SCRIPT = """
import json, sys
from tfpcheck.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in
               {"tensorflow", "tensorflow_probability", "keras", "tf_keras"})
# The probe may run in a worker process: whether the probe package was imported at all
# says whether this call probed (or started a worker that did).
probe = sorted(m for m in sys.modules if m.startswith("tfpcheck.probe"))
readers = sorted(m for m in sys.modules if m.startswith(("tfpcheck.model_file", "tfpcheck.rules")))
print(json.dumps({"exit": code, "heavy": heavy, "probe": probe, "readers": readers}),
      file=sys.stderr)
"""


def _subprocess_check(cache_dir: Path, *args: str) -> tuple[dict, dict]:
    env = dict(os.environ, TFPCHECK_CACHE_DIR=str(cache_dir))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", HIT_SCRIPT, "--format", "json", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    return status, _without_seconds(json.loads(proc.stdout))


def test_cache_hit_imports_no_tensorflow(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_probability")
    path = model_path("k3_softmax_from_logits.keras")
    cold_status, cold = _subprocess_check(tmp_path, path)
    assert "tfpcheck.probe" in cold_status["probe"]  # the first call really probed
    assert [f["tier"] for f in cold["files"][0]["findings"]] == ["probe"]
    warm_status, warm = _subprocess_check(tmp_path, path)
    assert warm_status["heavy"] == []
    assert warm_status["probe"] == []  # no probe, in this process or in a worker
    assert warm_status["readers"] == []
    assert warm_status["exit"] == cold_status["exit"] == 1
    assert cold["files"][0].pop("cached") is False
    assert warm["files"][0].pop("cached") is True
    assert warm == cold


HEAD_FACTORY = """\
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

from lib.heads import UNITS


def build_model():
    normal = lambda t: tfp.distributions.Normal(t[..., :1], tf.math.softplus(t[..., 1:]))
    return tfk.Sequential(
        [tfk.Input(shape=(8,)), tfk.layers.Dense(UNITS), tfp.layers.DistributionLambda(normal)]
    )
"""


def test_factory_cache_hit_imports_no_tensorflow(tmp_path: Path) -> None:
    """Checking the factory's imported files on a hit reads them; it imports nothing."""
    pytest.importorskip("tensorflow_probability")
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    (project / "factory.py").write_text(HEAD_FACTORY)
    (project / "lib" / "heads.py").write_text("UNITS = 64\n")
    spec = f"{project / 'factory.py'}:build_model"
    cold_status, cold = _subprocess_check(tmp_path / "cache", "--loss", "nll", spec)
    assert [f["code"] for f in cold["files"][0]["findings"]] == ["TFP104"]
    warm_status, warm = _subprocess_check(tmp_path / "cache", "--loss", "nll", spec)
    assert (warm_status["heavy"], warm_status["probe"], warm_status["readers"]) == ([], [], [])
    assert warm_status["exit"] == cold_status["exit"] == 1
    assert cold["files"][0].pop("cached") is False
    assert warm["files"][0].pop("cached") is True
    assert warm == cold
