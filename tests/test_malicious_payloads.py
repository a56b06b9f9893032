"""Files carrying code that would run a shell command: reported, never executed."""

from __future__ import annotations

import base64
import json
import marshal
import os
import pickle
import zipfile
from pathlib import Path

import pytest
from conftest import model_path


def _rewrite_config(src: str, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)


def _find_layer(config: dict, name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


@pytest.fixture
def pickled_payload_model(tmp_path: Path, marker: Path) -> Path:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    blob = base64.b64encode(pickle.dumps(Payload())).decode()
    path = tmp_path / "evil_pickle.keras"

    def edit(config: dict) -> None:
        _find_layer(config, "label_dist")["config"]["make_distribution_fn"] = blob

    _rewrite_config(model_path("tfk_softmax_categorical.keras"), path, edit)
    return path


@pytest.fixture
def marshalled_payload_model(tmp_path: Path, marker: Path) -> Path:
    payload = eval(f"lambda x: __import__('os').system('touch {marker}')")
    code = base64.b64encode(marshal.dumps(payload.__code__)).decode()
    path = tmp_path / "evil_lambda.keras"

    def edit(config: dict) -> None:
        _find_layer(config, "double")["config"]["function"]["config"]["code"] = code

    _rewrite_config(model_path("k3_lambda.keras"), path, edit)
    return path


@pytest.mark.parametrize("static", [True, False], ids=["static", "probe-requested"])
def test_pickled_payload_is_reported_not_run(
    pickled_payload_model: Path, marker: Path, static: bool, run_cli
) -> None:
    args = ["--format", "json", str(pickled_payload_model)]
    result = run_cli(*(["--static"] if static else []), *args)
    findings = result.json()["files"][0]["findings"]
    dangerous = [f for f in findings if f["code"] == "TFP007"]
    assert dangerous, findings
    assert dangerous[0]["where"]["layer"] == "label_dist"
    # pickle records os.system under its real module name
    assert dangerous[0]["evidence"]["calls"] == ["posix.system"]
    assert result.exit_code == 1
    assert not marker.exists()


def test_marshalled_payload_is_reported_not_run(
    marshalled_payload_model: Path, marker: Path, run_cli
) -> None:
    result = run_cli("--format", "json", str(marshalled_payload_model))
    findings = result.json()["files"][0]["findings"]
    dangerous = [f for f in findings if f["code"] == "TFP007"]
    assert dangerous, findings
    assert dangerous[0]["where"]["layer"] == "double"
    assert dangerous[0]["evidence"]["source"] == "marshal"
    assert any("system" in call for call in dangerous[0]["evidence"]["calls"])
    assert "TFP002" in {f["code"] for f in findings}  # and the probe did not load it
    assert not marker.exists()


def test_model_files_are_not_modified(run_cli) -> None:
    import hashlib

    paths = [model_path("tfk_softmax_categorical.keras"), model_path("k3_lambda.keras")]
    before = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    run_cli("--static", *paths)
    assert [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths] == before
