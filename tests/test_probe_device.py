"""The probe leaves GPUs alone unless --device gpu: the worker's real environment says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import model_path

from tfpcheck.probe.supervisor import SUPERVISOR, worker_environment


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode() for key, value in pairs}


def test_worker_environment_hides_gpus_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    cpu = worker_environment("cpu")
    assert cpu["CUDA_VISIBLE_DEVICES"] == "-1"
    assert "TF_FORCE_GPU_ALLOW_GROWTH" not in cpu
    gpu = worker_environment("gpu")
    assert gpu["CUDA_VISIBLE_DEVICES"] == "0,1"  # the user's choice of GPUs stands
    assert gpu["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_the_running_worker_gets_the_device_asked_for(run_cli) -> None:
    path = model_path("k3_softmax_probs.keras")
    assert run_cli(path, "--no-cache").exit_code == 0
    pid = SUPERVISOR.worker_pid
    assert pid is not None
    assert environ_of(pid)["CUDA_VISIBLE_DEVICES"] == "-1"
    # another device needs another worker: TensorFlow fixes its devices when it starts
    assert run_cli(path, "--no-cache", "--device", "gpu").exit_code == 0
    gpu_pid = SUPERVISOR.worker_pid
    assert gpu_pid is not None and gpu_pid != pid
    env = environ_of(gpu_pid)
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env.get("CUDA_VISIBLE_DEVICES") != "-1"
    # back to the default: a CPU worker again
    assert run_cli(path, "--no-cache").exit_code == 0
    assert environ_of(SUPERVISOR.worker_pid or 0)["CUDA_VISIBLE_DEVICES"] == "-1"


def test_device_is_checked_like_any_option(run_cli) -> None:
    result = run_cli(model_path("k3_softmax_probs.keras"), "--device", "tpu")
    assert result.exit_code == 2


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 has no distutils of its own")
def test_the_worker_imports_tfp_without_setuptools(monkeypatch: pytest.MonkeyPatch) -> None:
    """TFP's version check imports distutils; in the worker that is Python's own, not
    setuptools' copy (a quarter of a second of each worker's start)."""
    monkeypatch.delenv("SETUPTOOLS_USE_DISTUTILS", raising=False)
    env = worker_environment("cpu")
    script = (
        "import json, sys\n"
        "import tensorflow_probability as tfp\n"
        "assert tfp.distributions.Normal(0.0, 1.0).log_prob(0.0).shape == ()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'setuptools')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    # a user's own choice stands
    monkeypatch.setenv("SETUPTOOLS_USE_DISTUTILS", "local")
    assert worker_environment("cpu")["SETUPTOOLS_USE_DISTUTILS"] == "local"
