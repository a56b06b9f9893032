"""Public entry points: describe a marshalled or cloudpickled function without running it.

    read_marshal_function(data, *, defaults=None, closure=None) -> FunctionInfo
    read_cloudpickle_function(data) -> FunctionInfo
    scan_pickle_globals(data, *, strict=False) -> list[tuple[str, str]]
    dangerous_refs(pickle_globals=(), *, code_names=(), code_globals=None, aliases=None)

All of them raise only BytecodeError on bad input.
"""

from __future__ import annotations

import binascii
from typing import Any

from tfpcheck.model_file.bytecode.code import CodeObject
from tfpcheck.model_file.bytecode.dangerous import DANGEROUS_MODULES, dangerous_refs
from tfpcheck.model_file.bytecode.decompile import decompile
from tfpcheck.model_file.bytecode.errors import BytecodeError
from tfpcheck.model_file.bytecode.marshal_reader import read_code
from tfpcheck.model_file.bytecode.pickle_scan import (
    Cell,
    FuncRecord,
    GlobalRef,
    ModuleRef,
    Opaque,
    Reduced,
    scan_pickle,
)
from tfpcheck.model_file.bytecode.versions import RUNNING, VersionGuess, guess_version, loaded_names
from tfpcheck.model_file.types import CallSite, CodeSource, FunctionInfo

__all__ = [
    "BytecodeError",
    "dangerous_refs",
    "read_cloudpickle_function",
    "read_marshal_function",
    "scan_pickle_globals",
]

MAX_VALUE_DEPTH = 8  # nesting kept when simplifying closure values and defaults
MAX_VALUE_ITEMS = 256
MAX_VALUE_NODES = 10_000
MAX_GLOBAL_REFS = 1000
MAX_REFERENCED_FUNCTIONS = 32
MAX_DECOMPILE_BYTES = 1024 * 1024
MAX_REFERENCED_DEPTH = 4  # functions in closures of functions in closures of ...
LAMBDA = "__lambda__"


# ---- input ----


def _decode(data: Any, what: str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        try:
            # Keras stores base64 with a newline every 76 characters: a2b_base64 skips them
            return binascii.a2b_base64(data)
        except (binascii.Error, ValueError) as exc:
            raise BytecodeError(f"{what} is not valid base64 text: {exc}") from None
    raise BytecodeError(f"{what} must be bytes or base64 text, not {type(data).__name__}")


# ---- values stored beside the code ----


def simple_value(value: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """A closure value or default as plain data; anything else becomes a "<...>" placeholder."""
    # pickle memo entries can be shared: a budget bounds the walk, not just its depth
    budget = [MAX_VALUE_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return "<object>"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, FunctionInfo):
        return value  # already read (tf_keras closure lambdas, read by the caller)
    if isinstance(value, Cell):
        return simple_value(value.value, depth, budget)
    if isinstance(value, tuple | list):
        if depth >= MAX_VALUE_DEPTH:
            return "<object>"
        return tuple(simple_value(v, depth + 1, budget) for v in value[:MAX_VALUE_ITEMS])
    if isinstance(value, ModuleRef):
        return f"<module {value.name}>"
    if isinstance(value, GlobalRef):
        return f"<{value.module}.{value.name}>"
    if isinstance(value, FuncRecord):
        return f"<function {_record_qualname(value)}>"
    if isinstance(value, Opaque):
        return value.what
    if isinstance(value, dict):
        if value.get("class_name") == LAMBDA:
            return "<lambda>"  # a Keras-serialized lambda the caller did not read
        if value.get("class_name") == "function" and isinstance(value.get("config"), str):
            return f"<function {value['config']}>"  # Keras' reference to a named function
    if isinstance(value, bytes):
        return "<bytes>"
    return "<object>"


def _simple_tuple(values: Any) -> tuple[Any, ...]:
    if values is None:
        return ()
    budget = [MAX_VALUE_NODES]
    if isinstance(values, tuple | list):
        return tuple(simple_value(v, 1, budget) for v in values[:MAX_VALUE_ITEMS])
    return (simple_value(values, 1, budget),)


def _simple_consts(consts: tuple[Any, ...]) -> tuple[Any, ...]:
    def simple(value: Any) -> bool:
        if isinstance(value, tuple):
            return all(simple(v) for v in value)
        return value is None or isinstance(value, bool | int | float | str)

    return tuple(c for c in consts if simple(c))


# ---- code objects ----


def _code_dangerous(
    code: CodeObject, guess: VersionGuess, aliases: dict[str, str]
) -> tuple[str, ...]:
    names: list[str] = []
    loaded: list[str] | None = []
    for part in code.walk():
        names += part.names
        versions = guess.candidates
        found = [loaded_names(part, v) for v in versions]
        if not versions or any(f is None for f in found):
            loaded = None  # unknown bytecode: any name may be a global
        elif loaded is not None:
            loaded += [name for f in found if f for name in f]
        if "__import__" in part.names or "import_module" in part.names:
            # __import__("os") names its module in a string constant
            modules = [c for c in part.consts if isinstance(c, str) and c in DANGEROUS_MODULES]
            names = modules + names
            if loaded is not None:
                loaded += modules
    return dangerous_refs(code_names=names, code_globals=loaded, aliases=aliases)


class _Describer:
    """Builds FunctionInfo fields for a code object tree, each shared code object once."""

    def __init__(self, source: CodeSource, guess: VersionGuess, aliases: dict[str, str]) -> None:
        self.source = source
        self.guess = guess
        self.aliases = aliases
        self.done: dict[int, FunctionInfo] = {}
        self.budget = MAX_DECOMPILE_BYTES  # hostile data can hold megabytes of bytecode

    def fields(self, code: CodeObject) -> dict[str, Any]:
        guess = self.guess
        notes: list[str] = []
        calls: tuple[CallSite, ...] = ()
        returns = None
        if not guess.matches_running:
            writer = (
                "Python " + " or ".join("{}.{}".format(*v) for v in guess.candidates)
                if guess.candidates
                else "an unrecognized Python version"
            )
            running = f"{RUNNING[0]}.{RUNNING[1]}"
            notes.append(f"bytecode of {writer}: calls are not decoded under Python {running}")
        elif len(code.code) > self.budget:
            notes.append("calls not decoded: too much bytecode")
        else:
            self.budget -= len(code.code)
            result = decompile(code)
            calls, returns = tuple(result.calls), result.returns
            if result.stopped:
                notes.append(f"calls decoded only up to where decoding stopped: {result.stopped}")
        return {
            "name": code.name,
            "qualname": code.qualname,
            "filename": code.filename,
            "firstlineno": code.firstlineno,
            "argnames": code.argnames,
            "names": code.names,
            "consts": _simple_consts(code.consts),
            "freevars": code.freevars,
            "calls": calls,
            "returns": returns,
            "python_version": guess.exact,
            "python_versions": guess.candidates,
            "version_mismatch": not guess.matches_running,
            "dangerous": _code_dangerous(code, guess, self.aliases),
            "nested": tuple(self.nested(inner) for inner in code.nested),
            "notes": tuple(notes),
        }

    def nested(self, code: CodeObject) -> FunctionInfo:
        if id(code) not in self.done:
            self.done[id(code)] = FunctionInfo(source=self.source, **self.fields(code))
        return self.done[id(code)]


def _code_info(
    code: CodeObject, source: CodeSource, guess: VersionGuess, aliases: dict[str, str]
) -> dict[str, Any]:
    """FunctionInfo fields that come from the code object itself (and its nested code)."""
    return _Describer(source, guess, aliases).fields(code)


# ---- marshal ----


def read_marshal_function(
    data: bytes | str, *, defaults: object = None, closure: object = None
) -> FunctionInfo:
    """Describe `marshal.dumps(f.__code__)` (base64 text as Keras stores it, or bytes).

    defaults/closure: what Keras stores beside the code. Closure values that are plain data
    are kept; FunctionInfo values (lambdas in closures, already read) are kept and listed in
    `referenced_functions`; anything else becomes a "<...>" placeholder.
    """
    code = read_code(_decode(data, "marshalled code"))
    guess = guess_version(code)
    closure_values = _simple_tuple(closure)
    referenced = tuple(v for v in closure_values if isinstance(v, FunctionInfo))
    return FunctionInfo(
        source="marshal",
        closure_values=closure_values,
        defaults=_simple_tuple(defaults),
        referenced_functions=referenced,
        **_code_info(code, "marshal", guess, {}),
    )


# ---- cloudpickle ----


def _record_qualname(record: FuncRecord) -> str:
    qualname = record.state.get("__qualname__")
    if isinstance(qualname, str):
        return qualname
    code = record.code
    if isinstance(code, CodeObject):
        return code.qualname or code.name
    return record.name if isinstance(record.name, str) else "<function>"


def _ref_text(value: Any) -> str:
    if isinstance(value, ModuleRef):
        return value.name
    if isinstance(value, GlobalRef):
        return f"{value.module}.{value.name}"
    if isinstance(value, FuncRecord):
        return f"<function {_record_qualname(value)}>"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return "<object>"


def _describe_record(
    record: FuncRecord, pickle_globals: tuple[tuple[str, str], ...], seen: set[int], depth: int
) -> FunctionInfo:
    seen.add(id(record))
    state = record.state
    code = record.code
    if not isinstance(code, CodeObject):
        raise BytecodeError("the pickled function has no readable code object")
    globals_ = state.get("__globals__")
    globals_ = globals_ if isinstance(globals_, dict) else {}
    items = list(globals_.items())[:MAX_GLOBAL_REFS]
    global_refs = tuple((k if isinstance(k, str) else "<object>", _ref_text(v)) for k, v in items)
    modules = [v.name for v in globals_.values() if isinstance(v, ModuleRef)]
    submodules = state.get("_cloudpickle_submodules")
    if isinstance(submodules, list):
        modules += [v.name for v in submodules if isinstance(v, ModuleRef)]
    aliases = {  # every one, however many: a danger must not hide behind filler entries
        k: v.name for k, v in globals_.items() if isinstance(k, str) and isinstance(v, ModuleRef)
    }
    closure = state.get("__closure__")
    if not isinstance(closure, tuple):
        closure = record.closure if isinstance(record.closure, tuple) else ()
    defaults = state.get("__defaults__", record.defaults)
    # functions this one refers to, pickled by value along with it
    related = [c.value if isinstance(c, Cell) else c for c in closure]
    related += list(globals_.values())
    referenced = tuple(
        _describe_record(r, pickle_globals, seen, depth + 1)
        for r in related
        if isinstance(r, FuncRecord)
        and id(r) not in seen
        and depth < MAX_REFERENCED_DEPTH
        and len(seen) < MAX_REFERENCED_FUNCTIONS
    )
    info = _code_info(code, "cloudpickle", guess_version(code), aliases)
    qualname = state.get("__qualname__")
    module = state.get("__module__")
    if not isinstance(module, str) and isinstance(record.base_globals, dict):
        module = record.base_globals.get("__name__")
    info.update(
        qualname=qualname if isinstance(qualname, str) else info["qualname"],
        dangerous=tuple(dict.fromkeys(dangerous_refs(pickle_globals) + info["dangerous"])),
    )
    return FunctionInfo(
        source="cloudpickle",
        closure_values=_simple_tuple(closure),
        defaults=_simple_tuple(defaults),
        global_modules=tuple(dict.fromkeys(modules)),
        module=module if isinstance(module, str) else None,
        global_refs=global_refs,
        pickle_globals=pickle_globals,
        referenced_functions=referenced,
        **info,
    )


def read_cloudpickle_function(data: bytes | str) -> FunctionInfo:
    """Describe a cloudpickled function (base64 text as Keras stores it, or bytes).

    A pickle that builds something other than a function (a malicious one, say) still gives
    a FunctionInfo, named "<unknown>", whose `dangerous` and `notes` say what it does. A
    malformed pickle raises BytecodeError carrying the globals found before the damage.
    """
    raw = _decode(data, "pickled function")
    scan = scan_pickle(raw)
    pickle_globals = tuple(scan.globals)
    danger = dangerous_refs(pickle_globals)
    if scan.error is not None:
        raise BytecodeError(scan.error, pickle_globals=pickle_globals, dangerous=danger)
    result = scan.result
    if isinstance(result, FuncRecord):
        try:
            info = _describe_record(result, pickle_globals, set(), 0)
        except BytecodeError as exc:
            raise BytecodeError(str(exc), pickle_globals=pickle_globals, dangerous=danger) from None
        return info
    if isinstance(result, GlobalRef):
        # cloudpickle pickles importable functions by reference: no code is stored
        return FunctionInfo(
            source="cloudpickle",
            name=result.name.rsplit(".", 1)[-1],
            qualname=result.name,
            module=result.module,
            pickle_globals=pickle_globals,
            dangerous=danger,
            notes=(f"pickled by reference to {result.module}.{result.name}: no code stored",),
        )
    what = _built_text(result)
    return FunctionInfo(
        source="cloudpickle",
        pickle_globals=pickle_globals,
        dangerous=danger,
        notes=(f"the pickle builds {what}, not a function",),
    )


def _built_text(value: Any) -> str:
    if isinstance(value, Reduced) and isinstance(value.func, GlobalRef):
        return f"the result of calling {value.func.module}.{value.func.name}(...)"
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return f"a {type(value).__name__}"
    if isinstance(value, tuple | list | dict | set | frozenset):
        return f"a {type(value).__name__}"
    return "an object"


def scan_pickle_globals(data: bytes | str, *, strict: bool = False) -> list[tuple[str, str]]:
    """Every (module, name) the pickle makes the unpickler import, in order.

    Like picklescan, a pickle that turns malformed part-way still yields the globals loaded
    before that point (the unpickler would have imported them too). BytecodeError is raised
    when the data is malformed and yields no global at all, or with strict=True whenever it
    is malformed.
    """
    scan = scan_pickle(_decode(data, "pickle"))
    if scan.error is not None and (strict or not scan.globals):
        globals_ = tuple(scan.globals)
        raise BytecodeError(scan.error, pickle_globals=globals_, dangerous=dangerous_refs(globals_))
    return list(scan.globals)
