"""Probes run in a supervised worker: a crash, a hang or a memory blow-up is TFP008 for that
model, and the other models of the same call are still checked.

Every test here runs the real worker (real TensorFlow); each crash or stop costs one worker
restart, so the cases share calls where they can.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
from conftest import model_path

from tfpcheck.probe import supervisor
from tfpcheck.probe.supervisor import SUPERVISOR, resident_memory

GOOD = "k3_softmax_from_logits.keras"  # TFP202 at the probe
FACTORIES = """\
import ctypes
import os
import time


def segfault():
    print("building the model")
    return ctypes.string_at(0)


def abort():
    os.abort()


def hang():
    while True:
        time.sleep(0.1)


def hog():
    chunks = []
    # Grows ~0.8 GB/s until stopped; the cap keeps a broken supervisor from taking the machine.
    while len(chunks) < 512:
        chunks.append(b"x" * (16 * 1024 * 1024))
        time.sleep(0.02)
    while True:
        time.sleep(0.1)
"""


@pytest.fixture
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "misbehaving.py"
    path.write_text(FACTORIES)
    return path


@pytest.fixture
def hostile_model(tmp_path: Path) -> tuple[Path, Path]:
    """A DistributionLambda whose pickled function runs a shell command when unpickled."""
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    blob = base64.b64encode(pickle.dumps(Payload())).decode()
    path = tmp_path / "hostile.keras"
    with (
        zipfile.ZipFile(model_path("tfk_softmax_categorical.keras")) as zin,
        zipfile.ZipFile(path, "w") as zout,
    ):
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    if layer["config"]["name"] == "label_dist":
                        layer["config"]["make_distribution_fn"] = blob
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return path, marker


def _by_path(result) -> dict[str, dict]:
    return {f["path"]: f for f in result.json()["files"]}


def _codes(file_result: dict) -> list[str]:
    return [f["code"] for f in file_result["findings"]]


def _only(file_result: dict, code: str) -> dict:
    matching = [f for f in file_result["findings"] if f["code"] == code]
    assert len(matching) == 1, _codes(file_result)
    return matching[0]


def test_hostile_crashing_hanging_and_good_models_in_one_call(
    run_cli, factories: Path, hostile_model: tuple[Path, Path]
) -> None:
    hostile, marker = hostile_model
    crash, hang, good = f"{factories}:segfault", f"{factories}:hang", model_path(GOOD)
    result = run_cli("--format", "json", "--timeout", "3", str(hostile), crash, hang, good)

    files = _by_path(result)
    assert list(files) == [str(hostile), crash, hang, good]
    assert all(f["error"] is None for f in files.values())

    assert "TFP007" in _codes(files[str(hostile)])
    assert not marker.exists()

    crashed = _only(files[crash], "TFP008")
    assert crashed["severity"] == "error" and crashed["tier"] == "probe"
    assert crashed["evidence"]["reason"] == "crashed"
    assert (crashed["evidence"]["signal"], crashed["evidence"]["exit_code"]) == ("SIGSEGV", -11)
    assert "killed by SIGSEGV (a segmentation fault)" in crashed["message"]
    # the user's print and the Python line of the crash, from the worker's stderr
    assert "building the model" in crashed["evidence"]["output"]
    assert crashed["where"] == {
        "layer": None,
        "layer_index": None,
        "function": "segfault",
        "file": str(factories),
        "line": 8,
    }

    hung = _only(files[hang], "TFP008")
    assert hung["evidence"]["reason"] == "timeout"
    assert hung["evidence"]["timeout_seconds"] == 3.0
    assert "did not finish within 3 s (--timeout)" in hung["message"]
    assert "--timeout 600" in hung["fix"]
    # the stack dumped before the kill says where it was stuck
    assert hung["where"]["function"] == "hang" and hung["where"]["line"] in (16, 17)

    assert _codes(files[good]) == ["TFP202"]
    assert files[good]["findings"][0]["tier"] == "probe"

    assert result.exit_code == 1  # findings, every file checked (SPEC §5)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""


def test_worker_is_reused_across_calls_and_replaced_after_a_crash(run_cli, factories: Path) -> None:
    good = model_path(GOOD)
    assert run_cli("--no-cache", "--format", "json", good).exit_code == 1
    first = SUPERVISOR.worker_pid
    assert first is not None
    assert run_cli("--no-cache", "--format", "json", good).exit_code == 1
    assert SUPERVISOR.worker_pid == first  # TensorFlow was not imported again

    aborted = _only(
        _by_path(run_cli("--no-cache", "--format", "json", f"{factories}:abort"))[
            f"{factories}:abort"
        ],
        "TFP008",
    )
    assert (aborted["evidence"]["signal"], aborted["where"]["line"]) == ("SIGABRT", 12)
    assert SUPERVISOR.worker_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # gone and reaped, not a zombie

    result = run_cli("--no-cache", "--format", "json", good)
    assert _codes(result.json()["files"][0]) == ["TFP202"]
    assert SUPERVISOR.worker_pid not in (None, first)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
def test_memory_blow_up_is_stopped_at_the_limit(
    run_cli, factories: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = model_path(GOOD)
    run_cli("--no-cache", "--format", "json", good)  # a worker with TensorFlow and a model loaded
    pid = SUPERVISOR.worker_pid
    assert pid is not None
    baseline = resident_memory(pid)
    assert baseline is not None
    limit_mib = baseline // supervisor.MiB + 300
    monkeypatch.setenv(supervisor.MEMORY_ENV, str(limit_mib))

    hog = f"{factories}:hog"
    # one job: the hog runs in the warm worker, the next model in the one started after it
    # (with two, the next model may be given the warm worker of the first call)
    result = run_cli("--no-cache", "--format", "json", "--timeout", "120", "-j", "1", hog, good)
    files = _by_path(result)
    finding = _only(files[hog], "TFP008")
    assert finding["evidence"]["reason"] == "memory"
    assert finding["evidence"]["limit_mib"] == limit_mib
    assert finding["evidence"]["peak_rss_mib"] > limit_mib
    assert f"more than the {limit_mib} MiB allowed" in finding["message"]
    assert finding["where"]["function"] == "hog"
    assert _codes(files[good]) == ["TFP202"]  # the next model ran in a fresh worker
    assert SUPERVISOR.worker_pid != pid


def test_bad_memory_setting_is_a_note_not_a_failure(
    run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(supervisor.MEMORY_ENV, "lots")
    result = run_cli("--no-cache", "--format", "json", model_path(GOOD))
    (file_result,) = result.json()["files"]
    assert _codes(file_result) == ["TFP202"]
    assert (
        f"ignoring {supervisor.MEMORY_ENV}='lots': expected a positive number of MiB"
        in file_result["notes"]
    )


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_timeout_must_be_positive_seconds(run_cli, value: str) -> None:
    result = run_cli("--timeout", value, model_path(GOOD))
    assert result.exit_code == 2
    assert "--timeout" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_output_never_reaches_our_stdout(run_cli, tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.py"
    noisy.write_text(
        "import sys\n"
        "import tf_keras as tfk\n\n\n"
        "def build():\n"
        "    print('hello from the factory')\n"
        "    print('and from its stderr', file=sys.stderr)\n"
        "    model = tfk.Sequential([tfk.Input((3,)), tfk.layers.Dense(2)])\n"
        "    model.compile(loss='mse')\n"
        "    return model\n"
    )
    result = run_cli("--format", "json", "--loss", "mse", f"{noisy}:build")
    doc = result.json()  # stdout is exactly the JSON document
    assert doc["files"][0]["error"] is None
    assert "hello" not in result.stdout + result.stderr
    assert "stderr" not in result.stderr


def test_debug_shows_the_worker_output(run_cli, tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.py"
    noisy.write_text(
        "import tf_keras as tfk\n\n\n"
        "def build():\n"
        "    print('hello from the factory')\n"
        "    model = tfk.Sequential([tfk.Input((3,)), tfk.layers.Dense(2)])\n"
        "    model.compile(loss='mse')\n"
        "    return model\n"
    )
    result = run_cli("--format", "json", "--debug", "--loss", "mse", f"{noisy}:build")
    assert result.json()["files"][0]["error"] is None
    assert "[probe worker] hello from the factory" in result.stderr


def _children_named(parent: int, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat_fields[1]) == parent and marker in cmdline:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # exited; reaping is the new parent's business


def _wait_for(condition, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_does_not_outlive_a_killed_parent(factories: Path) -> None:
    """SIGKILL to the command while its worker runs: no atexit runs, yet the worker goes too."""
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    parent = subprocess.Popen(
        [sys.executable, "-m", "tfpcheck", "--timeout", "600", f"{factories}:hang"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        workers: list[int] = []

        def started() -> bool:
            workers[:] = _children_named(parent.pid, "tfpcheck.probe.worker")
            return bool(workers)

        assert _wait_for(started, 120), "no probe worker started"
        (worker,) = workers
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: _gone(worker), 30), f"worker {worker} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
