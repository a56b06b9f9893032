"""read_model_file on models saved by the real tf_keras, Keras 3 and tfp.

The models are built once per session by a script run in a subprocess, so that this pytest
process never imports TensorFlow (the static tier must stay TensorFlow-free).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from pickled_names import pickled_file

from tfpcheck.model_file.load import read_model_file
from tfpcheck.model_file.types import Layer, ModelFile

TFP_FILE = "tensorflow_probability/python/layers/distribution_layer.py"

BUILD_SCRIPT = """
import json
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

tfd = tfp.distributions
out = sys.argv[1]
manifest = {}


def save(model, name, *formats):
    for fmt in formats:
        if fmt == "dir":
            keras.saving.save_model(model, os.path.join(out, name + "_dir"), zipped=False)
        else:
            model.save(os.path.join(out, name + fmt))
    manifest[name] = {
        layer.name: [inner.name for inner in layer.layers]
        for layer in [model, *model.layers]
        if hasattr(layer, "layers")
    }


def negloglik(y, dist):
    return -dist.log_prob(y)


# ---- tf_keras + tfp ----
normal = tfk.Sequential(
    [
        tfk.layers.InputLayer(input_shape=(8,), name="x"),
        tfk.layers.Dense(2, name="params"),
        tfp.layers.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:])),  # NORMAL_LAMBDA
            name="normal",
        ),
    ],
    name="tfk_normal",
)
normal.compile(optimizer="adam", loss=negloglik)
save(normal, "tfk_normal", ".keras", ".h5")

ohc = tfk.Sequential(
    [
        tfk.layers.InputLayer(input_shape=(8,)),
        tfk.layers.Dense(10, name="logits"),
        tfp.layers.OneHotCategorical(10, name="ohc"),
    ]
)
ohc.compile(optimizer="adam", loss="categorical_crossentropy")
save(ohc, "tfk_ohc", ".keras")

a = tfk.Input((4,), name="a")
b = tfk.Input((3,), name="b")
inner = tfk.Sequential(
    [tfk.layers.Dense(5, activation="relu", name="dense"), tfk.layers.Dense(2, name="inner_out")],
    name="inner",
)
h = inner(tfk.layers.Concatenate(name="cat")([a, b]))
d = tfk.layers.Dense(2, name="dense")(h)
dist = tfp.layers.DistributionLambda(
    lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:])), name="dist"  # FUNC_LAMBDA
)(d)
func = tfk.Model([a, b], dist, name="tfk_func")
func.compile(optimizer="adam", loss=lambda y, p: -p.log_prob(y))  # TFK_LOSS_LAMBDA
save(func, "tfk_func", ".keras", ".h5")

clf = tfk.Sequential(
    [
        tfk.layers.InputLayer(input_shape=(8,)),
        tfk.layers.Dense(10, activation="softmax", name="probs"),
    ]
)
clf.compile(optimizer="adam", loss=tfk.losses.CategoricalCrossentropy(from_logits=True))
save(clf, "tfk_cce_logits", ".keras", ".h5")

# ---- Keras 3 ----
k_seq = keras.Sequential(
    [keras.Input((8,), name="x"), keras.layers.Dense(10, activation="softmax", name="probs")],
    name="k3_seq",
)
k_seq.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
save(k_seq, "k3_seq", ".keras")

a = keras.Input((4,), name="a")
b = keras.Input((3,), name="b")
inner = keras.Sequential(
    [
        keras.layers.Dense(5, activation="relu", name="dense"),
        keras.layers.Dense(2, name="inner_out"),
    ],
    name="inner",
)
h = inner(keras.layers.Concatenate(name="cat")([a, b]))
d = keras.layers.Dense(2, name="dense")(h)
o = keras.layers.Lambda(lambda t: t * 2.0, name="double")(d)  # K3_LAMBDA
k_func = keras.Model([a, b], o, name="k3_func")
k_func.compile(optimizer="adam", loss=["mse"])
save(k_func, "k3_func", ".keras", "dir")

i1 = keras.Input((4,), name="i1")
i2 = keras.Input((4,), name="i2")
summed = keras.layers.Add(name="add")(
    [keras.layers.Dense(3, name="d1")(i1), keras.layers.Dense(3, name="d2")(i2)]
)
pair = keras.Model([i1, i2], summed, name="pair")
a = keras.Input((4,), name="a")
b = keras.Input((4,), name="b")
z = pair([a, b])
multi = keras.Model(
    [a, b], [keras.layers.Dense(1, name="out_a")(z), keras.layers.Dense(3, name="out_b")(z)]
)
multi.compile(
    optimizer="adam",
    loss={"out_a": "mse", "out_b": keras.losses.CategoricalCrossentropy(from_logits=True)},
)
save(multi, "k3_multi", ".keras")

k_loss = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, name="y")])
k_loss.compile(optimizer="adam", loss=lambda y, p: keras.ops.mean((y - p) ** 2))  # K3_LOSS_LAMBDA
save(k_loss, "k3_lambda_loss", ".keras")

with open(os.path.join(out, "manifest.json"), "w") as fh:
    json.dump(manifest, fh)
"""


@dataclass(frozen=True)
class Built:
    dir: Path
    script: Path
    manifest: dict[str, dict[str, list[str]]]

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str) -> ModelFile:
        return read_model_file(self.dir / name)

    def line(self, marker: str) -> int:
        lines = self.script.read_text().splitlines()
        return next(i for i, text in enumerate(lines, 1) if marker in text)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("real_models")
    script = out / "build_models.py"
    script.write_text(textwrap.dedent(BUILD_SCRIPT))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the models failed:\n{proc.stderr[-4000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    return Built(out, script, manifest)


def shape(model: ModelFile) -> list[tuple[str, int, list[str], str | None]]:
    return [(lay.name, lay.index, lay.inbound, lay.parent) for lay in model.layers]


def layer(model: ModelFile, name: str) -> Layer:
    found = model.layer(name)
    assert found is not None, f"no layer {name!r} in {[lay.name for lay in model.layers]}"
    return found


def assert_indices_match_keras(model: ModelFile, manifest: dict[str, list[str]], top: str) -> None:
    """Every Layer.index is the position Keras itself reports in model.layers."""
    for lay in model.layers:
        short = (lay.qualified_name or lay.name).rsplit("/", 1)[-1]
        container = manifest[lay.parent or top]
        assert container.index(short) == lay.index, lay.name


# ---- tf_keras ----


def test_tf_keras_sequential_with_distribution_lambda(built: Built) -> None:
    model = built.read("tfk_normal.keras")
    assert (model.format, model.flavor, model.model_class) == (
        "keras_zip",
        "tf_keras",
        "Sequential",
    )
    assert model.keras_version is not None and model.keras_version.startswith("2.")
    # the InputLayer of a Sequential is not in model.layers
    assert shape(model) == [("params", 0, [], None), ("normal", 1, ["params"], None)]
    assert model.outputs == ["normal"]
    assert_indices_match_keras(model, built.manifest["tfk_normal"], "tfk_normal")
    normal = layer(model, "normal")
    assert normal.class_name == "DistributionLambda"
    assert normal.module == "tensorflow_probability.python.layers.distribution_layer"
    assert normal.is_tfp
    assert layer(model, "params").units == 2


def test_distribution_lambda_function_is_read_once(built: Built) -> None:
    # stored twice (marshalled in tfp's wrapper closure and cloudpickled): one record
    normal = layer(built.read("tfk_normal.keras"), "normal")
    assert normal.function_errors == []
    assert len(normal.functions) == 1
    fn = normal.functions[0]
    assert fn.filename == str(built.script)
    assert fn.firstlineno == built.line("NORMAL_LAMBDA")
    assert fn.name == "<lambda>"
    assert fn.argnames == ("t",)
    # the pickled copy is the one tfp loads and runs, so it leads the merged record
    assert fn.source == "cloudpickle"
    # tfp's own `_fn` wrapper is kept apart from the user's function
    assert [f.name for f in normal.library_functions] == ["_fn"]
    assert normal.library_functions[0].filename.replace("\\", "/").endswith(TFP_FILE)


def test_tf_keras_named_function_loss(built: Built) -> None:
    model = built.read("tfk_normal.keras")
    assert len(model.losses) == 1
    loss = model.losses[0]
    assert (loss.name, loss.from_logits, loss.function, loss.output) == (None, False, None, None)
    assert loss.raw["config"] == "negloglik"
    assert model.compile_config is not None and model.compile_config["loss"] == loss.raw


def test_tf_keras_h5_matches_keras_archive(built: Built) -> None:
    model = built.read("tfk_normal.h5")
    assert (model.format, model.flavor) == ("h5", "tf_keras")
    assert model.keras_version is not None and model.keras_version.startswith("2.")
    assert shape(model) == [("params", 0, [], None), ("normal", 1, ["params"], None)]
    assert model.outputs == ["normal"]
    normal = layer(model, "normal")
    # .h5 records no module for layers; tfp layers are recognised anyway
    assert normal.is_tfp
    assert len(normal.functions) == 1
    # .h5 keeps only the pickle: the file is what the installed cloudpickle recorded
    assert normal.functions[0].filename == pickled_file(str(built.script))
    assert normal.functions[0].firstlineno == built.line("NORMAL_LAMBDA")
    assert [(loss.name, loss.raw) for loss in model.losses] == [(None, "negloglik")]


def test_tfp_one_hot_categorical_closure(built: Built) -> None:
    model = built.read("tfk_ohc.keras")
    assert shape(model) == [("logits", 0, [], None), ("ohc", 1, ["logits"], None)]
    ohc = layer(model, "ohc")
    assert ohc.class_name == "OneHotCategorical"
    assert ohc.function_errors == []
    assert len(ohc.functions) == 1
    fn = ohc.functions[0]
    # tfp's `lambda t: OneHotCategorical.new(t, event_size, sample_dtype, validate_args)`:
    # its pickle and tfp's marshalled wrapper are one record, named by the wrapper's file
    assert fn.filename is not None and fn.filename.replace("\\", "/").endswith(TFP_FILE)
    assert fn.is_tfp_code
    assert fn.closure()["event_size"] == 10
    assert [(loss.name, loss.from_logits) for loss in model.losses] == [
        ("categorical_crossentropy", False)
    ]


@pytest.mark.parametrize("name", ["tfk_func.keras", "tfk_func.h5"])
def test_tf_keras_functional_with_nested_sequential(built: Built, name: str) -> None:
    model = built.read(name)
    assert model.model_class == "Functional"
    assert shape(model) == [
        ("a", 0, [], None),
        ("b", 1, [], None),
        ("cat", 2, ["a", "b"], None),
        # "dense" is taken at top level: the nested one is qualified
        ("inner/dense", 0, ["cat"], "inner"),
        ("inner_out", 1, ["inner/dense"], "inner"),
        ("dense", 4, ["inner_out"], None),
        ("dist", 5, ["dense"], None),
    ]
    assert model.outputs == ["dist"]
    assert_indices_match_keras(model, built.manifest["tfk_func"], "tfk_func")
    assert layer(model, "inner/dense").units == 5
    assert layer(model, "inner/dense").activation == "relu"
    assert layer(model, "dense").units == 2
    # the qualified name finds a nested layer whose short name is unambiguous too
    assert layer(model, "inner/inner_out") is layer(model, "inner_out")
    assert [p.name for p in model.producers(layer(model, "dense"))] == ["inner_out"]
    dist = layer(model, "dist")
    # .keras also stores the lambda marshalled, with its file; .h5 only the pickle
    script = str(built.script) if name.endswith(".keras") else pickled_file(str(built.script))
    assert [(f.filename, f.firstlineno) for f in dist.functions] == [
        (script, built.line("FUNC_LAMBDA"))
    ]


def test_tf_keras_lambda_loss(built: Built) -> None:
    (loss,) = built.read("tfk_func.keras").losses
    assert loss.name is None
    assert loss.function is not None
    assert loss.function.filename == str(built.script)
    assert loss.function.firstlineno == built.line("TFK_LOSS_LAMBDA")
    assert loss.function.argnames == ("y", "p")
    # .h5 keeps only the lambda's name
    (h5_loss,) = built.read("tfk_func.h5").losses
    assert (h5_loss.name, h5_loss.raw, h5_loss.function) == (None, "<lambda>", None)


@pytest.mark.parametrize("name", ["tfk_cce_logits.keras", "tfk_cce_logits.h5"])
def test_tf_keras_loss_object_from_logits(built: Built, name: str) -> None:
    model = built.read(name)
    assert [(loss.name, loss.from_logits) for loss in model.losses] == [
        ("categorical_crossentropy", True)
    ]
    assert layer(model, "probs").activation == "softmax"
    assert not model.has_serialized_code


# ---- Keras 3 ----


def test_keras3_sequential_compiled_with_logits(built: Built) -> None:
    model = built.read("k3_seq.keras")
    assert (model.format, model.flavor, model.model_class) == ("keras_zip", "keras3", "Sequential")
    assert model.keras_version is not None and model.keras_version.startswith("3.")
    assert shape(model) == [("probs", 0, [], None)]
    assert model.outputs == ["probs"]
    assert layer(model, "probs").activation == "softmax"
    assert layer(model, "probs").module == "keras.layers"
    (loss,) = model.losses
    assert (loss.name, loss.from_logits, loss.function) == ("categorical_crossentropy", True, None)
    assert loss.raw["class_name"] == "CategoricalCrossentropy"
    assert not model.has_serialized_code


@pytest.mark.parametrize(
    ("name", "fmt"), [("k3_func.keras", "keras_zip"), ("k3_func_dir", "keras_dir")]
)
def test_keras3_functional_with_nested_sequential_and_lambda(
    built: Built, name: str, fmt: str
) -> None:
    model = built.read(name)
    assert (model.format, model.flavor, model.model_class) == (fmt, "keras3", "Functional")
    assert shape(model) == [
        ("a", 0, [], None),
        ("b", 1, [], None),
        ("cat", 2, ["a", "b"], None),
        ("inner/dense", 0, ["cat"], "inner"),
        ("inner_out", 1, ["inner/dense"], "inner"),
        ("dense", 4, ["inner_out"], None),
        ("double", 5, ["dense"], None),
    ]
    assert model.outputs == ["double"]
    assert_indices_match_keras(model, built.manifest["k3_func"], "k3_func")
    double = layer(model, "double")
    assert double.function_errors == []
    assert [(f.source, f.name, f.filename, f.firstlineno) for f in double.functions] == [
        ("marshal", "<lambda>", str(built.script), built.line("K3_LAMBDA"))
    ]
    assert [(loss.name, loss.output) for loss in model.losses] == [("mean_squared_error", "double")]
    assert model.has_serialized_code


def test_keras3_nested_functional_inputs_and_per_output_losses(built: Built) -> None:
    model = built.read("k3_multi.keras")
    top = model.model_class
    assert top == "Functional"
    assert shape(model) == [
        ("a", 0, [], None),
        ("b", 1, [], None),
        # the i-th argument of the nested model feeds its i-th InputLayer
        ("i1", 0, ["a"], "pair"),
        ("i2", 1, ["b"], "pair"),
        ("d1", 2, ["i1"], "pair"),
        ("d2", 3, ["i2"], "pair"),
        ("add", 4, ["d1", "d2"], "pair"),
        ("out_a", 3, ["add"], None),
        ("out_b", 4, ["add"], None),
    ]
    assert model.outputs == ["out_a", "out_b"]
    tops = [name for name in built.manifest["k3_multi"] if name != "pair"]
    assert_indices_match_keras(model, built.manifest["k3_multi"], tops[0])
    assert [(loss.output, loss.name, loss.from_logits) for loss in model.losses] == [
        ("out_a", "mean_squared_error", False),
        ("out_b", "categorical_crossentropy", True),
    ]


def test_keras3_lambda_loss(built: Built) -> None:
    model = built.read("k3_lambda_loss.keras")
    (loss,) = model.losses
    assert loss.name is None
    assert loss.function is not None
    assert (loss.function.filename, loss.function.firstlineno) == (
        str(built.script),
        built.line("K3_LOSS_LAMBDA"),
    )
    assert model.code_errors == []
    assert model.has_serialized_code


# ---- the static tier stays light ----


def test_reading_keras_archives_imports_no_tensorflow_nor_h5py(built: Built) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from tfpcheck.model_file.load import read_model_file
        for name in ("tfk_normal.keras", "k3_func.keras", "k3_lambda_loss.keras"):
            model = read_model_file({str(built.dir)!r} + "/" + name)
            assert model.layers, name
        heavy = {{"tensorflow", "keras", "tf_keras", "tensorflow_probability", "h5py", "numpy"}}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
