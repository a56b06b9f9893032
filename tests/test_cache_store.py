"""The cache directory: a size cap, least recently used out first, `tfpcheck cache clear`,
and several tfpcheck processes sharing it at once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, model_path

from tfpcheck import cache
from tfpcheck.cache_store import DEFAULT_MAX_MB, MAX_ENV, TEMP_PREFIX, MiB, max_bytes
from tfpcheck.findings import FileResult


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(directory))
    monkeypatch.delenv(MAX_ENV, raising=False)
    return directory


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _result(name: str) -> FileResult:
    return FileResult(f"{name}.keras", notes=(name * 200,))  # entries of about the same size


def _stored(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _age(cache_: cache.ResultCache, name: str, seconds_ago: float) -> None:
    stamp = time.time() - seconds_ago
    os.utime(cache_.store.path(_key(name)), (stamp, stamp))


def test_the_least_recently_used_entry_goes_first(cache_dir: Path) -> None:
    results = cache.ResultCache(cache_dir, limit=10 * MiB)
    for name, seconds_ago in (("a", 300), ("b", 200), ("c", 100)):
        assert results.put(_key(name), _result(name))
        _age(results, name, seconds_ago)
    sizes = [p.stat().st_size for p in _stored(cache_dir)]
    results.store.limit = sum(sizes) + min(sizes) // 2  # three fit, four do not
    assert results.get(_key("a"), "a.keras") == _result("a")  # a hit: a is the newest now
    assert results.put(_key("d"), _result("d"))
    assert [p.stem for p in _stored(cache_dir)] == sorted(_key(n) for n in "acd")
    assert results.get(_key("b"), "b.keras") is None


def test_the_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_ENV, raising=False)
    assert max_bytes() == (DEFAULT_MAX_MB * MiB, None)
    monkeypatch.setenv(MAX_ENV, "0.5")
    assert max_bytes() == (MiB // 2, None)
    monkeypatch.setenv(MAX_ENV, "0")
    assert max_bytes() == (0, None)
    for bad in ("lots", "-1", "inf", "nan"):
        monkeypatch.setenv(MAX_ENV, bad)
        assert max_bytes() == (
            DEFAULT_MAX_MB * MiB,
            f"ignoring {MAX_ENV}={bad!r}: expected a number of MiB (0 stores nothing); "
            "the cache keeps up to 64 MiB",
        )


def test_a_cap_of_zero_stores_nothing(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_ENV, "0")
    assert not cache.ResultCache(cache_dir).put(_key("a"), _result("a"))
    assert not cache_dir.exists()


def test_a_bad_cap_is_said_on_every_result_and_never_stored(
    run_cli, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_ENV, "lots")
    path = model_path("tfk_softmax_categorical.keras")
    for cached in (False, True):
        [entry] = run_cli("--static", "--format", "json", path).json()["files"]
        assert entry["cached"] is cached
        assert entry["notes"] == [max_bytes()[1]]
    [stored] = _stored(cache_dir)
    assert json.loads(stored.read_text())["result"]["notes"] == []


def test_eviction_by_many_threads_at_once(cache_dir: Path) -> None:
    """Files removed by another evictor meanwhile are no error, and the cap holds."""
    results = cache.ResultCache(cache_dir, limit=10 * MiB)
    for i in range(120):
        assert results.put(_key(str(i)), _result(str(i)))
    size = _stored(cache_dir)[0].stat().st_size
    results.store.limit = 10 * size
    failures: list[BaseException] = []

    def evict() -> None:
        try:
            results.store.evict()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=evict) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert 0 < results.store.size() <= results.store.limit


def test_a_temporary_file_is_removed_once_stale(cache_dir: Path) -> None:
    results = cache.ResultCache(cache_dir, limit=10 * MiB)
    assert results.put(_key("a"), _result("a"))
    bucket = results.store.path(_key("a")).parent
    stale, fresh = bucket / f"{TEMP_PREFIX}dead1234.json", bucket / f"{TEMP_PREFIX}live5678.json"
    stale.write_text('{"partial')
    fresh.write_text('{"partial')
    long_ago = time.time() - 3600
    os.utime(stale, (long_ago, long_ago))
    results.store.evict()
    assert not stale.exists()
    assert fresh.exists()  # another process is still writing it


def test_cache_clear_removes_every_entry_and_nothing_else(run_cli, cache_dir: Path) -> None:
    for name in ("tfk_softmax_categorical.keras", "k3_linear_cce.keras"):
        assert run_cli("--static", model_path(name)).exit_code == 1
    old_format = cache_dir / "v1" / "ab" / f"{_key('old')}.json"
    old_format.parent.mkdir(parents=True)
    old_format.write_text("{}")
    current = cache_dir / f"v{cache.ENTRY_FORMAT}"  # where the two entries were stored
    foreign = [cache_dir / "notes.txt", current / "readme.json"]
    for file in foreign:
        file.write_text("not the cache's\n")
    cleared = run_cli("cache", "clear")
    assert (cleared.exit_code, cleared.stderr) == (0, "")
    assert cleared.stdout == f"removed 3 cached results from {cache_dir}\n"
    assert _stored(cache_dir) == sorted(foreign)
    assert not (cache_dir / "v1").exists()
    again = run_cli("cache", "clear")
    assert again.stdout == f"removed 0 cached results from {cache_dir}\n"
    missing = cache_dir / "never-made"
    assert cache.clear(missing) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cache",), "'tfpcheck cache' needs an action: tfpcheck cache clear"),
        (
            ("cache", "clean"),
            "unknown cache action 'clean': the one action is tfpcheck cache clear",
        ),
    ],
)
def test_cache_without_its_action_is_a_usage_error(run_cli, args, message: str) -> None:
    result = run_cli(*args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"tfpcheck: error: {message}\n"


STATIC_MODELS = [
    "tfk_softmax_categorical.keras",
    "tfk_normal_dense64_relu.keras",
    "k3_linear_cce.keras",
    "tfk_softmax_categorical.h5",
    "tfk_savedmodel",
    "not_a_model.keras",
    "k3_softmax_probs.keras",
    "tfk_mvn_fullcov.keras",
]
PROBE_MODEL = "k3_softmax_from_logits.keras"
CAP_MIB = "0.004"  # about four of these entries


def _commands(config: Path) -> dict[bool, list[str]]:
    """Without and with a probe; with one, the config's tables keep the others static."""
    static = [model_path(m) for m in STATIC_MODELS]
    return {
        False: ["--format", "json", "--static", *static],
        True: ["--format", "json", "--config", str(config), *static, model_path(PROBE_MODEL)],
    }


def _config(directory: Path) -> Path:
    tables = [
        f'[[tool.tfpcheck.models]]\npath = "{model_path(m)}"\nstatic = true\n'
        for m in STATIC_MODELS
    ]
    config = directory / "pyproject.toml"
    config.write_text("[tool.tfpcheck]\n" + "\n".join(tables))
    return config


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tfpcheck", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def _verdicts(proc: subprocess.Popen[str]) -> tuple[int, list[dict]]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1, 2), err
    files = json.loads(out)["files"]
    for entry in files:
        entry.pop("cached")
    return proc.returncode, files


def test_six_processes_share_one_small_cache(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_probability")
    work = tmp_path / "work"
    work.mkdir()
    commands = _commands(_config(work))
    env = dict(os.environ, TFPCHECK_CACHE_DIR=str(tmp_path / "cache"), **{MAX_ENV: CAP_MIB})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    alone = {
        probe: _verdicts(_start(["--no-cache", *args], env, work))
        for probe, args in commands.items()
    }
    assert alone[True][0] == alone[False][0] == 2  # not_a_model.keras: TFP001
    assert [f["tier"] for f in alone[True][1][-1]["findings"]] == ["probe"]
    assert all(f["tier"] == "static" for e in alone[True][1][:-1] for f in e["findings"])
    kinds = [False, False, False, False, True, True]  # two of them probe the same model
    for _round in ("cold", "warm"):
        procs = [(probe, _start(commands[probe], env, work)) for probe in kinds]
        for probe, proc in procs:
            assert _verdicts(proc) == alone[probe]
    stored = _stored(tmp_path / "cache")
    assert stored, "nothing was cached"
    for file in stored:
        assert not file.name.startswith(TEMP_PREFIX)
        entry = json.loads(file.read_text())
        assert (entry["format"], entry["key"]) == (cache.ENTRY_FORMAT, file.stem)
    assert sum(f.stat().st_size for f in stored) <= float(CAP_MIB) * MiB
