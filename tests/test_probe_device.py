"""The probe leaves GPUs alone unless --device gpu: the worker's real environment says so."""

from __future__ import annotations

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
