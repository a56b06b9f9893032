"""Files that are not readable models: each gives ModelReadError with a one-line reason."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tfpcheck.model_file import keras_archive
from tfpcheck.model_file.load import read_model_file
from tfpcheck.model_file.types import ModelReadError

EXPECTED = "expected a .keras archive (zip), an .h5 file or a SavedModel directory"
K3_META = {"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}


def k3_sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": list(layers)},
    }


def dense(name: str, /, units: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": "linear"},
        **extra,
    }


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def write_keras(path: Path, config: Any, metadata: Any = K3_META) -> Path:
    members: dict[str, str | bytes] = {"config.json": json.dumps(config)}
    if metadata is not None:
        members["metadata.json"] = json.dumps(metadata)
    return write_zip(path, members)


def read_error(path: Path | str) -> str:
    with pytest.raises(ModelReadError) as info:
        read_model_file(path)
    return str(info.value)


# ---- what the path is ----


def test_missing_path(tmp_path: Path) -> None:
    assert read_error(tmp_path / "nope.keras") == "no such file"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"")
    assert read_error(path) == "file is empty"


def test_text_file_named_keras(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_text("this is not a model\n")
    assert read_error(path) == f"not a Keras model: {EXPECTED}; this file starts with text"


def test_json_text(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(k3_sequential(dense("d"))))
    assert read_error(path) == f"not a Keras model: {EXPECTED}; this file starts with JSON text"


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(bytes(range(7, 256)) * 4)
    assert read_error(path) == (
        f"not a Keras model: {EXPECTED}; this file starts with binary data of an unknown format"
    )


def test_git_lfs_pointer(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    assert read_error(path) == (
        f"not a Keras model: {EXPECTED}; this file is a Git LFS pointer, not the model: "
        "run `git lfs pull`"
    )


def test_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    assert read_error(path) == (
        f"not a Keras model: {EXPECTED}; this file is a Python pickle "
        "(never load it: unpickling runs code)"
    )


def test_directory_without_saved_model(tmp_path: Path) -> None:
    (tmp_path / "variables").mkdir()
    assert read_error(tmp_path) == "is a directory but not a SavedModel (no saved_model.pb)"


def test_saved_model_pb_given_instead_of_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "saved_model.pb"
    path.write_bytes(b"\x08\x01\x12\x00binary")
    assert read_error(path) == (
        "is the saved_model.pb of a SavedModel: pass the directory that contains it"
    )


def test_saved_model_directory_is_not_parsed(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")
    (tmp_path / "variables").mkdir()
    (tmp_path / "variables" / "variables.index").write_bytes(b"")
    (tmp_path / "variables" / "variables.data-00000-of-00001").write_bytes(b"")
    model = read_model_file(tmp_path)
    assert (model.format, model.flavor, model.keras_version) == ("savedmodel", "tf_keras", None)
    assert (model.layers, model.outputs, model.losses) == ([], [], [])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    os.mkfifo(path)
    assert read_error(path) == f"not a regular file: {EXPECTED}"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = write_keras(tmp_path / "model.keras", k3_sequential(dense("d")))
    path.chmod(0)
    try:
        assert read_error(path) == "permission denied"
    finally:
        path.chmod(0o644)


def test_permission_denied_on_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the test above is skipped as root; this one fakes what the OS says to other users
    path = write_keras(tmp_path / "model.keras", k3_sequential(dense("d")))

    def deny(self: Path, *args: Any, **kwargs: Any) -> os.stat_result:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "stat", deny)
    assert read_error(path) == "permission denied"


# ---- .keras archives ----


def test_truncated_zip(tmp_path: Path) -> None:
    whole = write_keras(tmp_path / "whole.keras", k3_sequential(dense("d")))
    data = whole.read_bytes()
    path = tmp_path / "model.keras"
    path.write_bytes(data[: len(data) // 2])
    assert read_error(path) == "truncated or corrupt zip archive"


def test_corrupt_member(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("config.json", json.dumps(k3_sequential(dense("d"))))
    data = bytearray(path.read_bytes())
    at = data.index(b'"Sequential"')
    data[at + 1 : at + 3] = b"XX"  # the stored CRC no longer matches
    path.write_bytes(bytes(data))
    assert read_error(path) == (
        "truncated or corrupt zip archive (config.json: Bad CRC-32 for file 'config.json')"
    )


def test_zip_without_config(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"metadata.json": json.dumps(K3_META)})
    assert read_error(path) == "zip archive has no config.json: not a Keras model archive"


def test_npz_given_as_model(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "data.npz", {"x.npy": b"\x93NUMPY", "y.npy": b"\x93NUMPY"})
    assert read_error(path) == "is a NumPy .npz archive, not a Keras model"


def test_empty_zip(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {})
    assert read_error(path) == "zip archive has no config.json: not a Keras model archive"


def test_zip_with_config_in_a_folder(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"model/config.json": "{}"})
    assert read_error(path) == (
        "zip archive has no config.json at its top level (found model/config.json): "
        "not a Keras model archive, or zipped with an extra folder"
    )


def test_invalid_json(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"config.json": '{\n  "a": 1,\n    oops\n}'})
    assert read_error(path) == "config.json is not valid JSON (line 3 column 5)"


def test_config_not_utf8(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"config.json": b'{"a": "\xff"}'})
    assert read_error(path) == "config.json is not UTF-8 text (byte 7)"


def test_config_is_not_an_object(tmp_path: Path) -> None:
    path = write_keras(tmp_path / "model.keras", [1, 2])
    assert read_error(path) == "config.json holds a list, not a model config object"


def test_json_nested_absurdly_deep(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"config.json": "[" * 100_000 + "]" * 100_000})
    assert read_error(path) == "config.json nests JSON too deeply to be a model config"


def test_config_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras_archive, "MAX_CONFIG_BYTES", 2 * keras_archive.MiB)
    big = k3_sequential(dense("d", padding="x" * (3 * keras_archive.MiB)))
    path = write_keras(tmp_path / "model.keras", big)
    assert read_error(path) == (
        "config.json is 3 MiB, more than the 2 MiB a model config can reasonably be: "
        "refusing to read it"
    )


def test_encrypted_member(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.keras", {"config.json": "{}"})
    data = bytearray(path.read_bytes())
    # set the "encrypted" flag bit in the local header and in the central directory entry
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    path.write_bytes(bytes(data))
    assert read_error(path) == "config.json is encrypted in the zip archive"


# ---- malformed configs: the JSON path of the problem ----


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"module": "keras", "class_name": "Sequential", "config": {"layers": "dense"}},
            "config.layers is a string, not a list",
        ),
        (
            {"class_name": "Sequential", "config": {"name": "s"}},
            "config.layers is null, not a list",
        ),
        ({"class_name": "Functional", "config": []}, "config is a list, not an object"),
        ({"config": {"layers": []}}, "the model config has no class_name"),
        (
            k3_sequential(dense("a"), {"config": {"name": "b"}}),
            "config.layers[1] has no class_name",
        ),
        (k3_sequential("dense"), "config.layers[0] is a string, not a layer object"),
        (
            k3_sequential({"class_name": "Dense", "config": "dense"}),
            "config.layers[0].config is a string, not an object",
        ),
        (
            k3_sequential({"class_name": 3, "config": {"name": "d"}}),
            "config.layers[0].class_name is a number, not a name",
        ),
        (k3_sequential({"class_name": "Dense", "config": {}}), "config.layers[0] has no name"),
        (k3_sequential(dense("d"), dense("d")), "config.layers[1] repeats the layer name 'd'"),
        (
            {
                "class_name": "Functional",
                "config": {
                    "layers": [
                        {"class_name": "InputLayer", "name": "in", "config": {"name": "in"}},
                        dense("d", name="d", inbound_nodes=[[["nope", 0, 0, {}]]]),
                    ],
                    "output_layers": [["d", 0, 0]],
                },
            },
            "config.layers[1].inbound_nodes[0][0] refers to unknown layer 'nope'",
        ),
        (
            {
                "class_name": "Functional",
                "config": {"layers": [dense("d", name="d")], "output_layers": ["x", 0, 0]},
            },
            "config.output_layers refers to unknown layer 'x'",
        ),
        (
            {
                "class_name": "Functional",
                "config": {"layers": [dense("d", name="d", inbound_nodes={"args": []})]},
            },
            "config.layers[0].inbound_nodes is an object, not a list",
        ),
        (
            {
                "class_name": "Functional",
                "config": {
                    "layers": [
                        dense(
                            "d",
                            name="d",
                            inbound_nodes=[
                                {"args": [{"class_name": "__keras_tensor__", "config": {}}]}
                            ],
                        )
                    ]
                },
            },
            "config.layers[0].inbound_nodes[0].args[0].config.keras_history "
            "is not [layer, node, tensor]",
        ),
    ],
)
def test_malformed_config(tmp_path: Path, config: Any, message: str) -> None:
    path = write_keras(tmp_path / "model.keras", config)
    assert read_error(path) == message


def test_models_nested_absurdly_deep(tmp_path: Path) -> None:
    config: dict[str, Any] = k3_sequential(dense("leaf"))
    for level in range(150):
        config = k3_sequential({**config, "config": {**config["config"], "name": f"m{level}"}})
    path = write_keras(tmp_path / "model.keras", config)
    message = read_error(path)
    assert message.startswith("models nest more than 100 levels deep (at config.layers[0]")


# ---- metadata ----


def test_broken_metadata_is_not_fatal(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "model.keras",
        {
            "config.json": json.dumps(k3_sequential(dense("d"))),
            "metadata.json": "{not json",
        },
    )
    model = read_model_file(path)
    assert model.keras_version is None
    assert [layer.name for layer in model.layers] == ["d"]


@pytest.mark.parametrize(
    ("input_config", "flavor"),
    [
        ({"batch_shape": [None, 8], "name": "x"}, "keras3"),
        ({"batch_input_shape": [None, 8], "name": "x"}, "tf_keras"),
    ],
)
def test_flavor_guessed_without_metadata(
    tmp_path: Path, input_config: dict[str, Any], flavor: str
) -> None:
    config = k3_sequential({"class_name": "InputLayer", "config": input_config}, dense("d"))
    model = read_model_file(write_keras(tmp_path / "model.keras", config, metadata=None))
    assert (model.keras_version, model.flavor) == (None, flavor)


def test_keras_version_decides_flavor(tmp_path: Path) -> None:
    config = k3_sequential(dense("d"))
    path = write_keras(tmp_path / "model.keras", config, {"keras_version": "2.15.0"})
    model = read_model_file(path)
    assert (model.keras_version, model.flavor) == ("2.15.0", "tf_keras")


def test_uncompiled_keras3_model_has_no_compile_config(tmp_path: Path) -> None:
    config = {**k3_sequential(dense("d")), "compile_config": {}}
    model = read_model_file(write_keras(tmp_path / "model.keras", config))
    assert (model.compile_config, model.losses) == (None, [])


def test_subclassed_model_has_no_static_graph(tmp_path: Path) -> None:
    config = {"module": "__main__", "class_name": "MyModel", "config": {"units": 3}}
    model = read_model_file(write_keras(tmp_path / "model.keras", config))
    assert (model.model_class, model.layers, model.outputs) == ("MyModel", [], [])


# ---- .h5 ----

h5py = pytest.importorskip("h5py")


def test_h5_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as fh:
        fh.attrs["layer_names"] = [b"dense"]
        fh.attrs["keras_version"] = "2.21.0"
        fh.create_group("dense")
    assert read_error(path) == (
        "holds weights only (no model_config): save the whole model with model.save(...)"
    )


def test_keras3_weights_h5(tmp_path: Path) -> None:
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as fh:
        fh.create_group("layers")
        fh.create_group("vars")
    assert read_error(path) == (
        "holds weights only (no model_config): save the whole model with model.save(...)"
    )


def test_h5_that_is_not_keras(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as fh:
        fh.create_group("measurements")
    assert read_error(path) == "is an HDF5 file without model_config: not a Keras model"


def test_truncated_h5(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    assert read_error(path) == "not a readable HDF5 file (truncated or corrupt)"


def test_h5_model_config_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as fh:
        fh.attrs["model_config"] = '{"class_name": }'
    assert read_error(path) == "model_config is not valid JSON (line 1 column 16)"


def test_h5_with_bytes_attributes(tmp_path: Path) -> None:
    # older Keras wrote the attributes as bytes
    path = tmp_path / "model.h5"
    config = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d"}}]},
    }
    with h5py.File(path, "w") as fh:
        fh.attrs["model_config"] = json.dumps(config).encode()
        fh.attrs["training_config"] = json.dumps({"loss": "mse"}).encode()
        fh.attrs["keras_version"] = b"2.2.4"
    model = read_model_file(path)
    assert (model.format, model.flavor, model.keras_version) == ("h5", "tf_keras", "2.2.4")
    assert [layer.name for layer in model.layers] == ["d"]
    assert [(loss.name, loss.raw) for loss in model.losses] == [("mean_squared_error", "mse")]
