"""Find the serialized Python functions in a layer or loss config and read them as data.

Where they live: Keras 3 `{"class_name": "__lambda__", "config": {"code", "defaults",
"closure"}}`; Keras 3 / tf_keras legacy `{"class_name": "__lambda__", "config": {"value":
[code, defaults, closure]}}`; tf_keras Lambda `function` / `output_shape` / `mask` as
[code, defaults, closure] when `<key>_type == "lambda"`; tfp `make_distribution_fn` and any
other base64 pickle as cloudpickle. Nothing found here is ever executed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tfpcheck.model_file.bytecode.errors import BytecodeError
from tfpcheck.model_file.bytecode.functions import (
    read_cloudpickle_function,
    read_marshal_function,
)
from tfpcheck.model_file.limits import (
    MAX_CLOSURE_DEPTH,
    MAX_CODE_SCAN_NODES,
    MAX_CODE_TEXT_CHARS,
    MAX_WALK_DEPTH,
)
from tfpcheck.model_file.types import CodeSource, FunctionInfo
from tfpcheck.recorded_files import source_file

LAMBDA = "__lambda__"
# tf_keras Lambda keys that hold [code, defaults, closure] when "<key>_type" is "lambda"
TRIPLE_KEYS = ("function", "output_shape", "mask")
# tfp's DistributionLambda stores its own wrapper `_fn` around make_distribution_fn as the
# Lambda `function`; it is the same for every model and says nothing about the user's.
TFP_WRAPPER_FILE = "tensorflow_probability/python/layers/distribution_layer.py"
TFP_WRAPPER_NAME = "_fn"


@dataclass
class FoundCode:
    functions: list[FunctionInfo] = field(default_factory=list)
    library: list[FunctionInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def layer_code(config: Any) -> FoundCode:
    """Every function serialized anywhere in one layer's config, de-duplicated."""
    collector = _Collector()
    collector.walk(config, "config", 0)
    return collector.found


def lambda_function(node: Any, where: str) -> tuple[FunctionInfo | None, list[str]]:
    """The function of one `__lambda__` dict (a loss, for instance) and what went wrong."""
    collector = _Collector()
    info = collector.read_lambda_dict(node, where, 0)
    return info, collector.found.errors


def dedup_key(info: FunctionInfo) -> tuple[Any, ...] | None:
    # The user's make_distribution_fn is stored twice by tfp: marshalled in the closure of the
    # wrapper and cloudpickled. The file name is left out: cloudpickle 3.1.3 and later record
    # `<dynamic-code>` where marshal keeps the path, and within one layer's config the line,
    # the name and what the code refers to identify the code object.
    if info.filename is None:
        return None
    return (info.firstlineno, info.name, info.argnames, info.names)


class _Collector:
    def __init__(self) -> None:
        self.found = FoundCode()
        self._index: dict[tuple[Any, ...], int] = {}
        self._visited = 0

    # ---- the walk over JSON ----

    def walk(self, node: Any, path: str, depth: int) -> None:
        self._visited += 1
        if self._visited == MAX_CODE_SCAN_NODES:
            self.found.errors.append(
                f"{path}: config too large to scan for serialized code "
                f"(stopped after {MAX_CODE_SCAN_NODES} values)"
            )
        if self._visited >= MAX_CODE_SCAN_NODES:
            return
        if depth > MAX_WALK_DEPTH:
            self.found.errors.append(f"{path}: nested too deeply to scan for serialized code")
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                self.walk(item, f"{path}[{i}]", depth + 1)
        elif isinstance(node, dict):
            self._walk_dict(node, path, depth)

    def _walk_dict(self, node: dict[str, Any], path: str, depth: int) -> None:
        if node.get("class_name") == LAMBDA:
            self.read_lambda_dict(node, path, 0)
            return
        triples = {key for key in TRIPLE_KEYS if node.get(f"{key}_type") == "lambda"}
        for key, value in node.items():
            where = f"{path}.{key}"
            if key in triples:
                info = self.read_triple(value, where, 0)
                if info is not None and key == "function" and _is_tfp_wrapper(info):
                    self._move_to_library(info)
            elif isinstance(value, str):
                if key == "make_distribution_fn" or _looks_like_pickle(value):
                    self.read_pickle(value, where)
            else:
                self.walk(value, where, depth + 1)

    # ---- the three stored forms ----

    def read_lambda_dict(self, node: Any, where: str, depth: int) -> FunctionInfo | None:
        cfg = node.get("config") if isinstance(node, dict) else None
        if isinstance(cfg, dict) and "code" in cfg:  # Keras 3 Lambda layer
            return self._marshal(
                cfg["code"], cfg.get("defaults"), cfg.get("closure"), f"{where}.config", depth
            )
        if isinstance(cfg, dict) and "value" in cfg:  # legacy serialize_keras_object
            return self.read_triple(cfg["value"], f"{where}.config.value", depth)
        self.found.errors.append(f"{where}: a {LAMBDA} entry without code")
        return None

    def read_triple(self, value: Any, where: str, depth: int) -> FunctionInfo | None:
        if not isinstance(value, list) or not value:
            self.found.errors.append(f"{where}: expected [code, defaults, closure]")
            return None
        defaults = value[1] if len(value) > 1 else None
        closure = value[2] if len(value) > 2 else None
        return self._marshal(value[0], defaults, closure, where, depth)

    def read_pickle(self, text: str, where: str) -> FunctionInfo | None:
        if len(text) > MAX_CODE_TEXT_CHARS:
            self.found.errors.append(f"{where}: pickled function too large to read")
            return None
        try:
            info = read_cloudpickle_function(text)
        except BytecodeError as exc:
            return self._failed(exc, "cloudpickle", where)
        return self._add(info)

    def _marshal(
        self, code: Any, defaults: Any, closure: Any, where: str, depth: int
    ) -> FunctionInfo | None:
        if depth > MAX_CLOSURE_DEPTH:
            self.found.errors.append(f"{where}: lambdas nested in closures too deeply")
            return None
        if not isinstance(code, str):
            self.found.errors.append(f"{where}: code is not base64 text")
            return None
        if len(code) > MAX_CODE_TEXT_CHARS:
            self.found.errors.append(f"{where}: marshalled function too large to read")
            return None
        closure_values = self._closure(closure, where, depth)
        try:
            info = read_marshal_function(code, defaults=_freeze(defaults), closure=closure_values)
        except BytecodeError as exc:
            return self._failed(exc, "marshal", where)
        return self._add(info)

    def _closure(self, closure: Any, where: str, depth: int) -> tuple[Any, ...] | None:
        if not isinstance(closure, list):
            frozen: tuple[Any, ...] | None = _freeze(closure)  # None, or as stored
            return frozen
        values: list[Any] = []
        for i, item in enumerate(closure):
            item_where = f"{where}.closure[{i}]"
            if isinstance(item, dict) and item.get("class_name") == LAMBDA:
                # tfp's wrapper closes over the user's make_distribution_fn, tfp's own layers
                # over `lambda t: OneHotCategorical.new(t, event_size, ...)`: read those too.
                nested = self.read_lambda_dict(item, item_where, depth + 1)
                values.append(nested if nested is not None else item)
            else:
                self.walk(item, item_where, depth + 1)
                values.append(_freeze(item))
        return tuple(values)

    # ---- bookkeeping ----

    def _failed(self, exc: BytecodeError, source: CodeSource, where: str) -> FunctionInfo | None:
        self.found.errors.append(f"{where}: {exc}")
        dangerous = tuple(getattr(exc, "dangerous", ()))
        if not dangerous:
            return None
        # A pickle that breaks after `os.system` still runs it when Keras unpickles it: keep
        # what the scan saw as a function record, so that the danger is reported.
        modules = (module for module, _ in getattr(exc, "pickle_globals", ()))
        return self._add(
            FunctionInfo(
                source=source,
                name="<unreadable>",
                global_modules=tuple(dict.fromkeys(modules)),
                dangerous=dangerous,
            )
        )

    def _add(self, info: FunctionInfo) -> FunctionInfo:
        key = dedup_key(info)
        if key is None or key not in self._index:
            if key is not None:
                self._index[key] = len(self.found.functions)
            self.found.functions.append(info)
            return info
        i = self._index[key]
        kept = self.found.functions[i]
        # tfp unpickles make_distribution_fn (the marshalled copy in its wrapper's closure is
        # never called): the pickled reading leads, the other fills its gaps
        if info.source == "cloudpickle" and kept.source != "cloudpickle":
            kept, info = info, kept
        merged = _merge(kept, info)
        self.found.functions[i] = merged
        return merged

    def _move_to_library(self, info: FunctionInfo) -> None:
        key = dedup_key(info)
        for i, kept in enumerate(self.found.functions):
            if dedup_key(kept) == key:
                self.found.library.append(self.found.functions.pop(i))
                self._index = {
                    k: (j if j < i else j - 1) for k, j in self._index.items() if k != key
                }
                return


def _is_tfp_wrapper(info: FunctionInfo) -> bool:
    filename = (info.filename or "").replace("\\", "/")
    # dangerous code never hides among library plumbing, whatever it calls itself
    return (
        info.name == TFP_WRAPPER_NAME
        and filename.endswith(TFP_WRAPPER_FILE)
        and not (info.dangerous)
    )


def _looks_like_pickle(text: str) -> bool:
    # base64 of a pickle of protocol 2 to 5 starts with b"\x80\x02" .. b"\x80\x05"
    if len(text) < 16 or not text.startswith("gA"):
        return False
    try:
        head = base64.b64decode(text[:4], validate=True)
    except (binascii.Error, ValueError):
        return False
    return head[0] == 0x80 and 2 <= head[1] <= 5


def _freeze(value: Any) -> Any:
    """JSON lists become tuples so that FunctionInfo stays hashable where it can."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _is_empty(value: Any) -> bool:
    return value is None or value is False or value == () or value == "<unknown>"


def _merge(kept: FunctionInfo, other: FunctionInfo) -> FunctionInfo:
    """One record from two readings of the same code: fill gaps, never drop a danger."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(FunctionInfo):
        mine, theirs = getattr(kept, f.name), getattr(other, f.name)
        if f.name in ("dangerous", "global_modules"):
            union = tuple(dict.fromkeys((*mine, *theirs)))
            if union != mine:
                changes[f.name] = union
        elif f.name == "version_mismatch":
            if theirs and not mine:
                changes[f.name] = True
        elif f.name == "filename":
            # the reading that names a real file wins over a recorded `<dynamic-code>`
            if source_file(mine) is None and source_file(theirs) is not None:
                changes[f.name] = theirs
        elif _is_empty(mine) and not _is_empty(theirs):
            changes[f.name] = theirs
    return dataclasses.replace(kept, **changes) if changes else kept
