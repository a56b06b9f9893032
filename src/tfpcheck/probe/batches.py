"""Probe inputs and targets: from --data, from a pinned --target-shape, or synthesized.

Synthesized targets are right by construction (labels for sparse losses, one-hot for
categorical ones, samples of the output distribution for nll). Unless the target shape is
pinned, a scalar event is tried both as (N,) and as (N, 1): a loss that is right for one
and silently broadcasts for the other is the most common bug of all.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfpcheck.catalog.keras_losses import BINARY_CONSUMERS, ONE_HOT_CONSUMERS, SPARSE_CONSUMERS
from tfpcheck.evidence.observations import LossInfo, OutputInfo, Shape, TargetVariant

SEED = 20240611
# The targets each Keras loss expects: integer labels, one-hot rows, 0/1 values.
SPARSE_LOSSES = SPARSE_CONSUMERS
ONE_HOT_LOSSES = ONE_HOT_CONSUMERS
BINARY_LOSSES = BINARY_CONSUMERS
WRITE_DATA = "write it with numpy.savez(path, x=..., y=...)"


class InputError(Exception):
    """The probe cannot make inputs for this model (a usage error)."""


@dataclass
class Probe:
    x: Any  # array or list of arrays, N examples
    n: int
    notes: list[str]


def _input_specs(model: Any) -> list[tuple[Shape, str]]:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise InputError(
            "the model is not built (no input shape): build it with an Input layer, or pass "
            "--data FILE.npz with example inputs"
        )
    specs = []
    for tensor in inputs:
        shape = tuple(-1 if d is None else int(d) for d in tensor.shape[1:])
        dtype = getattr(tensor.dtype, "name", None) or str(tensor.dtype)
        specs.append((shape, dtype))
    return specs


def _embedding_vocab(model: Any) -> int | None:
    sizes = [
        int(layer.input_dim)
        for layer in _all_layers(model)
        if type(layer).__name__ == "Embedding" and getattr(layer, "input_dim", None)
    ]
    return min(sizes) if sizes else None


def _all_layers(model: Any) -> list[Any]:
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def _first_layer_is_embedding(model: Any) -> bool:
    layers = [
        layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"
    ]
    return bool(layers) and type(layers[0]).__name__ == "Embedding"


def _embedded_inputs(model: Any) -> dict[int, int]:
    """id() of each input tensor an Embedding reads directly -> that Embedding's input_dim."""
    found: dict[int, int] = {}
    for layer in _all_layers(model):
        if type(layer).__name__ != "Embedding":
            continue
        try:
            tensor = layer.input
            size = int(layer.input_dim)
        except Exception:  # a layer called several times, or not yet called
            continue
        found[id(tensor)] = min(size, found.get(id(tensor), size))
    return found


def make_inputs(model: Any, n: int) -> Any:
    """Inputs inside each input's domain, in the structure the model was built with."""
    rng = np.random.default_rng(SEED)
    specs = _input_specs(model)
    vocab = _embedding_vocab(model)
    ids_for_float = len(specs) == 1 and _first_layer_is_embedding(model)
    embedded = _embedded_inputs(model)
    arrays = []
    for tensor, (shape, dtype) in zip(model.inputs, specs, strict=True):
        concrete = tuple(8 if d < 0 else d for d in shape)
        # ids for an Embedding must lie in [0, input_dim), whatever dtype the Input declares
        high = embedded.get(id(tensor)) or (vocab if ids_for_float else None)
        if high or dtype.startswith(("int", "uint")):
            ids = rng.integers(0, high or vocab or 2, size=(n, *concrete))
            arrays.append(ids.astype(dtype))
        elif dtype == "bool":
            arrays.append(rng.random(size=(n, *concrete)) < 0.5)
        else:
            arrays.append(rng.normal(size=(n, *concrete)).astype(dtype))
    return _structured(model, arrays)


def _structured(model: Any, arrays: list[np.ndarray]) -> Any:
    """A dict for a model built on a dict of named inputs (it accepts nothing else)."""
    # Keras 3 keeps the structure in _inputs_struct, tf_keras in _nested_inputs; either may
    # hold a single tensor, which has no truth value
    struct = getattr(model, "_inputs_struct", None)
    if not isinstance(struct, dict):
        struct = getattr(model, "_nested_inputs", None)
    if isinstance(struct, dict):
        by_id = {id(t): a for t, a in zip(model.inputs, arrays, strict=True)}
        if all(id(t) in by_id for t in struct.values()):
            return {name: by_id[id(t)] for name, t in struct.items()}
    return arrays[0] if len(arrays) == 1 else arrays


def take(x: Any, start: int, stop: int) -> Any:
    if isinstance(x, list | tuple):
        return [a[start:stop] for a in x]
    if isinstance(x, dict):
        return {k: v[start:stop] for k, v in x.items()}
    return x[start:stop]


def input_names(model: Any) -> list[str]:
    """The names of the model's Input layers, in the order of model.inputs."""
    names = getattr(model, "input_names", None)  # tf_keras
    if isinstance(names, list) and len(names) == len(model.inputs):
        return [str(name) for name in names]
    found = []
    for tensor in model.inputs:  # Keras 3: the Input layer that made each tensor
        history = getattr(tensor, "_keras_history", None)
        operation = getattr(history, "operation", None) or getattr(history, "layer", None)
        found.append(str(getattr(operation, "name", None) or getattr(tensor, "name", "")))
    return found


def _several_inputs(data: Any, model: Any) -> list[np.ndarray] | None:
    """x_<input name> for each input, or x0, x1, ... in the order of model.inputs."""
    if model is None or len(getattr(model, "inputs", None) or []) < 2:
        return None
    names = input_names(model)
    for keys in ([f"x_{name}" for name in names], [f"x{i}" for i in range(len(names))]):
        if all(key in data.files for key in keys):
            return [data[key] for key in keys]
    return None


def load_data(
    path: str, n: int, output: str | None = None, model: Any = None
) -> tuple[Any, np.ndarray, int, list[str]]:
    """x and y from an .npz; for one output of a multi-output model, y_<output> (or y); for a
    model with several inputs, x_<input name> (or x0, x1, ...) instead of x."""
    y_key = "y"
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy: one array, no names
            raise InputError(
                f"{path} holds a single array, not an .npz of arrays 'x' and 'y'; {WRITE_DATA}"
            )
        with data:
            if output is not None and f"y_{output}" in data.files:
                y_key = f"y_{output}"
            several = None if "x" in data.files else _several_inputs(data, model)
            if (several is None and "x" not in data.files) or y_key not in data.files:
                wanted = "'x' and 'y'" if output is None else f"'x' and 'y_{output}' (or 'y')"
                if model is not None and len(getattr(model, "inputs", None) or []) > 1:
                    wanted += " (or x_<input name> / x0, x1, ... for each input)"
                raise InputError(f"{path} must hold arrays {wanted} (found {sorted(data.files)})")
            y = data[y_key]
            if several is not None:
                if any(a.ndim == 0 for a in several) or y.ndim == 0:
                    raise InputError(
                        f"{path}: every x_ array and '{y_key}' need one row per example"
                    )
                count = min(len(a) for a in several)
                return _first_examples(_structured(model, several), y, count, n, "--data", path)
            x = data["x"]
    except InputError:
        raise
    # Not an .npz, truncated (as a zip or inside a member), or holding pickled objects.
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ValueError) and "pickled" in str(exc):
            # numpy's advice here (load it unsafely) is not ours to give: the file is
            # neither a zip (.npz) nor a numpy array file.
            reason = "neither a zip archive nor a numpy array file"
        raise InputError(
            f"{path} is not a readable .npz of arrays 'x' and 'y' ({reason}); {WRITE_DATA}"
        ) from None
    if x.ndim == 0 or y.ndim == 0:
        raise InputError(
            f"{path}: 'x' and '{y_key}' must hold one row per example (found shapes "
            f"{x.shape} and {y.shape})"
        )
    return _first_examples(x, y, len(x), n, "--data", path)


def given_data(
    x: Any, y: Any, n: int, output: str | None = None
) -> tuple[Any, np.ndarray, int, list[str]]:
    """x and y given as arrays (`tfpcheck.check(x=..., y=...)`): what --data holds, in memory.

    x is an array, or a list or dict of arrays for a model with several inputs; y is an
    array, or a dict of arrays by output name for a model with several outputs.
    """
    if isinstance(y, dict):
        if output is None or output not in y:
            wanted = "an array" if output is None else f"the key '{output}'"
            raise InputError(f"y must hold {wanted} (found keys {sorted(y)})")
        y = y[output]
    y = np.asarray(y)
    leaves: list[np.ndarray]
    if isinstance(x, dict):
        x = {name: np.asarray(value) for name, value in x.items()}
        leaves = list(x.values())
    elif isinstance(x, list | tuple):
        x = [np.asarray(value) for value in x]
        leaves = list(x)
    else:
        x = np.asarray(x)
        leaves = [x]
    if y.ndim == 0 or not leaves or any(leaf.ndim == 0 for leaf in leaves):
        shapes = ", ".join(str(leaf.shape) for leaf in leaves)
        raise InputError(
            f"x and y must hold one row per example (found shapes {shapes} and {y.shape})"
        )
    count = min(len(leaf) for leaf in leaves)
    return _first_examples(x, y, count, n, "x and y", "x and y")


def _first_examples(
    x: Any, y: np.ndarray, count: int, n: int, given: str, where: str
) -> tuple[Any, np.ndarray, int, list[str]]:
    available = min(count, len(y))
    notes = []
    if available < n:
        notes.append(f"{given} has {available} examples: probing with batch size {available}")
        n = available
    if n < 1:
        raise InputError(f"{where} holds no examples")
    return take(x, 0, n), y[:n], n, notes


def _variant(per_example: Shape, canonical: bool, source: str = "synthesized") -> TargetVariant:
    label = "(N, " + ", ".join(str(d) for d in per_example) + ")" if per_example else "(N,)"
    return TargetVariant(label, per_example, canonical, source)  # type: ignore[arg-type]


def _toggle_trailing_one(per_example: Shape) -> Shape | None:
    if per_example == ():
        return (1,)
    if per_example == (1,):
        return ()
    return None


def _reshaped(y: np.ndarray, per_example: Shape) -> np.ndarray:
    return y.reshape((y.shape[0], *per_example))


def _classes(output: OutputInfo, classes: int | None) -> int:
    if classes:
        return classes
    if output.classes:
        return output.classes
    last = output.shape[-1] if output.shape else 1
    return max(int(last), 2)


def synthesize(
    output: OutputInfo, loss: LossInfo, n: int, sample: np.ndarray | None
) -> list[tuple[TargetVariant, np.ndarray]]:
    """Targets right by construction, plus the other scalar-event shape users feed."""
    rng = np.random.default_rng(SEED + 1)
    uses_samples = output.is_distribution and loss.kind != "keras"
    if uses_samples and sample is not None:
        y = sample
        per = tuple(y.shape[1:])
        variants = [(_variant(per, True), y)]
    elif loss.kind == "keras" and loss.name in SPARSE_LOSSES:
        k = _classes(output, None)
        y = rng.integers(0, k, size=(n,)).astype("int64")
        variants = [(_variant((), True), y)]
    elif loss.kind == "keras" and loss.name in ONE_HOT_LOSSES:
        k = _classes(output, None)
        y = np.eye(k, dtype="float32")[rng.integers(0, k, size=(n,))]
        per = tuple(output.shape[1:]) if output.shape[1:] else (k,)
        if math.prod(per) == k:
            y = y.reshape((n, *per))
        variants = [(_variant(tuple(y.shape[1:]), True), y)]
    elif loss.kind == "keras" and loss.name in BINARY_LOSSES:
        per = tuple(output.shape[1:])
        y = (rng.random(size=(n, *per)) < 0.5).astype("float32")
        variants = [(_variant(per, True), y)]
    elif loss.kind == "keras":
        per = tuple(output.shape[1:])
        y = rng.random(size=(n, *per)).astype(
            output.dtype if "float" in output.dtype else "float32"
        )
        variants = [(_variant(per, True), y)]
    else:
        # A custom loss on a tensor output: a scalar regression target, fed as (N, 1).
        dtype = output.dtype if "float" in output.dtype else "float32"
        y = rng.normal(size=(n, 1)).astype(dtype)
        variants = [(_variant((1,), True), y)]
    base_variant, base = variants[0]
    other = _toggle_trailing_one(base_variant.per_example)
    if other is not None:
        variants.append((_variant(other, False), _reshaped(base, other)))
    return variants


def pinned(
    output: OutputInfo,
    loss: LossInfo,
    n: int,
    per_example: Shape,
    classes: int | None,
    sample: np.ndarray | None,
) -> list[tuple[TargetVariant, np.ndarray]]:
    """Targets of the shape the user pinned with --target-shape (and --classes)."""
    rng = np.random.default_rng(SEED + 2)
    k = _classes(output, classes)
    size = math.prod(per_example)
    variant = _variant(per_example, True, "target-shape")
    labels = rng.integers(0, k, size=(n,))
    onehot_wanted = size > 1 and per_example[-1] == k
    if output.is_distribution and loss.kind != "keras" and sample is not None:
        dist = output.distribution or ""
        if sample[0].size == size:
            return [(variant, sample.reshape((n, *per_example)))]
        if dist in {"Categorical"} and onehot_wanted:
            return [(variant, np.eye(k, dtype="float32")[labels].reshape((n, *per_example)))]
        if dist == "OneHotCategorical" and size == 1:
            return [(variant, labels.reshape((n, *per_example)).astype("int32"))]
        return [(variant, rng.random(size=(n, *per_example)).astype("float32"))]
    name = loss.name or ""
    if name in SPARSE_LOSSES | ONE_HOT_LOSSES:
        if onehot_wanted:
            y = np.eye(k, dtype="float32")[labels].reshape((n, *per_example))
        else:
            y = labels.reshape((n, *per_example)).astype("int64")
        return [(variant, y)]
    if name in BINARY_LOSSES:
        return [(variant, (rng.random(size=(n, *per_example)) < 0.5).astype("float32"))]
    return [(variant, rng.random(size=(n, *per_example)).astype("float32"))]


def from_data(y: np.ndarray) -> list[tuple[TargetVariant, np.ndarray]]:
    return [(_variant(tuple(y.shape[1:]), True, "data"), y)]
