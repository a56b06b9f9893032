"""Which layer of a saved file Keras cannot rebuild from its config (TFP009, or TFP005 for a
class it cannot find): the loader's error says how it failed, the file's own description
(read as data by the static reader) says which layer that is."""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfpcheck.model_file.types import Layer
from tfpcheck.probe.frames import user_frame_of_traceback
from tfpcheck.rules.tfp009_saved_layer_cannot_be_reloaded import Cause, SavedLayer

# How a loader says that it has no class for a name the file records.
UNREGISTERED = (
    # tf_keras, a Sequential in a .keras archive: the deserializer hands back the class name
    # itself, a string, and Sequential.add refuses it.
    re.compile(r"Received: layer=(\w+) of type <class 'str'>"),
    # .h5 files, both Kerases ("package>Name" for a class registered in a package).
    re.compile(r"Unknown layer:\s*'?(?:[\w.]+>)?(\w+)"),
    # tf_keras, a class saved without a module (defined in __main__).
    re.compile(r"Cannot deserialize object of type `(\w+)`"),
    # Keras 3; tf_keras when the recorded module imports but lacks the class.
    re.compile(r"Could not locate class '(?:[\w.]+>)?(\w+)'"),
)
# tf_keras, a Functional in a .keras archive: the class name that came back is called as if it
# were the layer. The message names no class; the file's description does.
STRING_CALLED = "'str' object is not callable"
# The class was found, but calling it with the saved config fails: from_config(config) is
# cls(**config), so a missing argument is one the saved config does not hold.
CONSTRUCTOR = re.compile(
    r"(?P<cls>\w+)\.__init__\(\) (?:missing \d+ required (?:positional |keyword-only )?"
    r"arguments?: (?P<missing>[^\n]+)|got an unexpected keyword argument '(?P<unexpected>\w+)')"
)
# The methods in which Keras turns a saved config back into a layer.
REBUILD_METHODS = frozenset({"from_config", "build_from_config", "build"})
BUILT_IN_MODULES = ("keras", "tf_keras")
TFP_MODULE = "tensorflow_probability"
STAND_IN = "tfp.layers.DistributionLambda"
MAX_CHAIN = 8


@dataclass(frozen=True)
class Unrebuildable:
    layer: SavedLayer
    error: str  # the loader's words that say it, "TypeError: ..."


def unrebuildable_layer(
    exc: BaseException, path: str, keras: Any, objects: Mapping[str, Any]
) -> Unrebuildable | None:
    """The layer whose rebuilding made loading `path` fail, or None when the error is not one
    of those (or names a class that no layer of the file has)."""
    layers = _saved_layers(path)
    if not layers:
        return None
    chain = _chain(exc)
    text = "\n".join(str(error) for error in chain)
    constructor = CONSTRUCTOR.search(text)
    if constructor is not None:
        layer = _first_of_class(layers, constructor.group("cls"))
        if layer is None:
            return None  # an initializer, a regularizer, ... inside a layer's config
        missing = tuple(re.findall(r"'(\w+)'", constructor.group("missing") or ""))
        unexpected = (constructor.group("unexpected"),) if constructor.group("unexpected") else ()
        saved = _saved(layer, "arguments", missing, unexpected)
        return Unrebuildable(saved, _quote(exc, text, constructor.group(0)))
    for pattern in UNREGISTERED:
        match = pattern.search(text)
        if match is not None:
            layer = _first_of_class(layers, match.group(1))
            if layer is None:
                return None
            return Unrebuildable(_saved(layer, "unregistered"), _quote(exc, text, match.group(0)))
    if STRING_CALLED in text:
        for layer in layers:
            if not _built_in(layer) and not _registered(layer.class_name, keras, objects):
                return Unrebuildable(_saved(layer, "unregistered"), _quote(exc, text, ""))
    layer = _layer_being_rebuilt(chain, layers, keras)
    if layer is not None:
        return Unrebuildable(_saved(layer, "rebuild"), _quote(exc, text, ""))
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and those it was raised from: Keras wraps the constructor's TypeError."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _quote(exc: BaseException, text: str, phrase: str) -> str:
    """The line of the error that says what failed, with the error's type."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = next((line for line in lines if phrase and phrase in line), lines[0] if lines else "")
    line = line.removeprefix("Exception encountered: ")
    if len(line) > 300:
        line = line[:297] + "..."
    return f"{type(exc).__name__}: {line}"


def _saved_layers(path: str) -> list[Layer]:
    from tfpcheck.model_file.load import read_model_file

    try:
        return read_model_file(path).layers
    except Exception:  # the static tier reports a file it cannot read; nothing to name here
        return []


def _short(class_name: str) -> str:
    """'MyLayer' for the 'package>MyLayer' that Keras 3 records for a registered class."""
    return class_name.rpartition(">")[2]


def _first_of_class(layers: list[Layer], class_name: str) -> Layer | None:
    # Keras rebuilds layers in the order the config lists them: the first one is what failed.
    return next((layer for layer in layers if _short(layer.class_name) == class_name), None)


def _layer_being_rebuilt(
    chain: list[BaseException], layers: list[Layer], keras: Any
) -> Layer | None:
    """The layer (not model) whose from_config or build the error left, innermost first: a
    failure there means its saved config does not give back a working layer. Not when the
    error comes from the user's own code (a saved lambda): TFP108 shows that frame."""
    if any(user_frame_of_traceback(error.__traceback__) is not None for error in chain):
        return None
    for error in chain:
        frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
        for frame in reversed(frames):
            if frame.f_code.co_name not in REBUILD_METHODS:
                continue
            owner = frame.f_locals.get("self", frame.f_locals.get("cls"))
            cls = owner if isinstance(owner, type) else type(owner)
            if not issubclass(cls, keras.layers.Layer) or issubclass(cls, keras.Model):
                continue
            name = getattr(owner, "name", None) if owner is not cls else None
            named = [layer for layer in layers if isinstance(name, str) and layer.name == name]
            found = named[0] if named else _first_of_class(layers, cls.__name__)
            if found is not None:
                return found
    return None


def _built_in(layer: Layer) -> bool:
    module = layer.module or ""
    return module.partition(".")[0] in BUILT_IN_MODULES


def _registered(class_name: str, keras: Any, objects: Mapping[str, Any]) -> bool:
    if class_name in objects or keras.saving.get_registered_object(class_name) is not None:
        return True
    # Registered under "package>Name": the config's class_name is still "Name".
    registered = keras.saving.get_custom_objects().values()
    return any(getattr(value, "__name__", None) == _short(class_name) for value in registered)


def _tfp_class(class_name: str) -> Any:
    """The tfp.layers class of that name, when TFP is loaded (it is, for a tf_keras file)."""
    tfp = sys.modules.get(TFP_MODULE)
    layers = getattr(tfp, "layers", None) if tfp is not None else None
    found = getattr(layers, class_name, None) if layers is not None else None
    return found if isinstance(found, type) else None


def _stand_in(layer: Layer, cls: Any) -> str | None:
    """DistributionLambda rebuilds a tfp.layers layer that stores only DistributionLambda's
    config (no get_config of its own): the distribution function is pickled in it."""
    base = _tfp_class("DistributionLambda")
    if cls is None or base is None or cls is base or not issubclass(cls, base):
        return None
    if "get_config" in vars(cls) or "make_distribution_fn" not in layer.config:
        return None
    return STAND_IN


def _saved(
    layer: Layer, cause: Cause, missing: tuple[str, ...] = (), unexpected: tuple[str, ...] = ()
) -> SavedLayer:
    class_name = _short(layer.class_name)
    cls = _tfp_class(class_name)
    # A recorded module decides (a user's own class may share a tfp.layers name); an .h5
    # config records none for the layers the static reader does not know as tfp's.
    is_tfp = layer.is_tfp or (layer.module is None and cls is not None)
    return SavedLayer(
        name=f"{layer.parent}/{layer.name}" if layer.parent else layer.name,
        index=layer.index,
        class_name=class_name,
        module=layer.module,
        is_tfp=is_tfp,
        cause=cause,
        missing=missing,
        unexpected=unexpected,
        stand_in=_stand_in(layer, cls) if is_tfp else None,
    )
