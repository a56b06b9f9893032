"""Walk a (cloud)pickle's opcodes with a symbolic stack; nothing is imported or called.

`pickletools.genops` decodes the opcodes; this module plays them on a stack of placeholder
values, like the unpickler would, but a REDUCE only records "this callable with these
arguments". A few cloudpickle helpers are understood so the function can be described:
`_builtin_type('CodeType')(...)` (the code object's fields), `_make_function`,
`_make_cell`/`_make_empty_cell`/`cell_set`, `subimport` and `_function_setstate` (its
qualname, globals, defaults and closure).
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field
from typing import Any

from tfpcheck.model_file.bytecode.code import CodeObject, Layout, TreeMeter, from_varnames
from tfpcheck.model_file.bytecode.errors import BytecodeError

# A Keras config caps code text at 16 MiB; these bound what a hostile pickle can allocate.
MAX_PICKLE_BYTES = 16 * 1024 * 1024
MAX_STACK = 1_000_000  # items on the stack and memo entries
MAX_MARKS = 10_000
DYNAMIC = "<dynamic>"  # module or name computed at unpickling time, unknown here


@dataclass(frozen=True)
class GlobalRef:
    """A GLOBAL/STACK_GLOBAL: the unpickler imports module and looks up name."""

    module: str
    name: str


@dataclass(frozen=True)
class ModuleRef:
    """cloudpickle's subimport('a.b'): the module object itself."""

    name: str


@dataclass(eq=False)
class Opaque:
    """Any other object the pickle builds; `what` says what it is, when known."""

    what: str = "<object>"

    def __repr__(self) -> str:
        return self.what


@dataclass(eq=False)
class Reduced:
    """callable(*args), recorded, not called."""

    func: Any
    args: Any


_EMPTY = Opaque("<empty cell>")


@dataclass(eq=False)
class Cell:
    value: Any = _EMPTY


@dataclass(eq=False)
class FuncRecord:
    """A function cloudpickle rebuilds: _make_function(code, globals, name, ...) + state."""

    code: Any
    base_globals: Any = None
    name: Any = None
    defaults: Any = None
    closure: Any = None
    state: dict[str, Any] = field(default_factory=dict)  # _function_setstate's slotstate


_CODETYPE = Opaque("<CodeType>")


@dataclass
class PickleScan:
    result: Any = None  # what the pickle builds (top of stack at STOP)
    globals: list[tuple[str, str]] = field(default_factory=list)  # in order, de-duplicated
    functions: list[FuncRecord] = field(default_factory=list)
    error: str | None = None  # where the pickle stopped making sense; what came before holds


class _Machine:
    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.meter = TreeMeter()  # shared, so memoized sizes serve every code object
        self.scan = PickleScan()
        self._seen: set[tuple[str, str]] = set()

    # ---- stack helpers (mirroring pickle._Unpickler) ----

    def push(self, value: Any) -> None:
        if len(self.stack) >= MAX_STACK:
            raise BytecodeError("pickle stack too deep")
        self.stack.append(value)

    def pop(self) -> Any:
        if not self.stack:
            raise BytecodeError("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise BytecodeError("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise BytecodeError("no MARK to pop to")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def record(self, module: str, name: str) -> GlobalRef:
        key = (module, name)
        if key not in self._seen:
            self._seen.add(key)
            self.scan.globals.append(key)
        return GlobalRef(module, name)

    # ---- the walk ----

    def run(self, data: bytes) -> PickleScan:
        try:
            for op, arg, pos in pickletools.genops(io.BytesIO(data)):
                try:
                    if self.step(op.name, arg):
                        break
                except BytecodeError as exc:
                    raise BytecodeError(f"malformed pickle at byte {pos}: {exc}") from None
                except (TypeError, KeyError) as exc:
                    raise BytecodeError(
                        f"malformed pickle at byte {pos}: {op.name} failed ({exc})"
                    ) from None
        except BytecodeError as exc:
            self.scan.error = str(exc)
        except ValueError as exc:  # genops: truncated data, unknown opcode, bad argument
            self.scan.error = f"malformed pickle: {exc}"
        return self.scan

    def step(self, name: str, arg: Any) -> bool:
        if name in _PUSH_ARG:
            self.push(arg)
        elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
            self.push({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
        elif name in ("PROTO", "FRAME"):
            pass
        elif name == "STOP":
            self.scan.result = self.pop()
            return True
        elif name == "MARK":
            if len(self.metastack) >= MAX_MARKS:
                raise BytecodeError("too many nested MARKs")
            self.metastack.append(self.stack)
            self.stack = []
        elif name == "POP":
            if self.stack:
                self.stack.pop()
            else:
                self.pop_mark()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            self.push(self.top())
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if len(self.memo) >= MAX_STACK:
                raise BytecodeError("memo too large")
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise BytecodeError(f"memo key {arg} not defined")
            self.push(self.memo[arg])
        else:
            self.build(name, arg)
        return False

    def build(self, name: str, arg: Any) -> None:
        if name == "EMPTY_TUPLE":
            self.push(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self.pop() for _ in range(n)]
            self.push(tuple(reversed(items)))
        elif name == "TUPLE":
            self.push(tuple(self.pop_mark()))
        elif name == "EMPTY_LIST":
            self.push([])
        elif name == "LIST":
            self.push(self.pop_mark())
        elif name == "APPEND":
            value = self.pop()
            if isinstance(self.top(), list):  # else: obj.append(value) on a built object
                self.top().append(value)
        elif name == "APPENDS":
            items = self.pop_mark()
            if isinstance(self.top(), list):
                self.top().extend(items)
        elif name == "EMPTY_DICT":
            self.push({})
        elif name == "DICT":
            items = self.pop_mark()
            self.push(dict(zip(items[0::2], items[1::2], strict=False)))
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            if isinstance(self.top(), dict):
                self.top()[key] = value
        elif name == "SETITEMS":
            items = self.pop_mark()
            if isinstance(self.top(), dict):
                self.top().update(zip(items[0::2], items[1::2], strict=False))
        elif name == "EMPTY_SET":
            self.push(set())
        elif name == "ADDITEMS":
            items = self.pop_mark()
            if isinstance(self.top(), set):
                self.top().update(items)
        elif name == "FROZENSET":
            self.push(frozenset(self.pop_mark()))
        elif name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            self.push(self.record(module, attr))
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            self.push(
                self.record(
                    module if isinstance(module, str) else DYNAMIC,
                    attr if isinstance(attr, str) else DYNAMIC,
                )
            )
        elif name == "INST":
            module, _, attr = str(arg).partition(" ")
            func = self.record(module, attr)
            self.push(Reduced(func, tuple(self.pop_mark())))
        elif name == "OBJ":
            items = self.pop_mark()
            if not items:
                raise BytecodeError("OBJ without a class")
            self.push(Reduced(items[0], tuple(items[1:])))
        elif name == "NEWOBJ":
            args, cls = self.pop(), self.pop()
            self.push(Reduced(cls, args))
        elif name == "NEWOBJ_EX":
            _kwargs, args, cls = self.pop(), self.pop(), self.pop()
            self.push(Reduced(cls, args))
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            self.push(self.reduce(func, args))
        elif name == "BUILD":
            state = self.pop()
            if isinstance(self.top(), FuncRecord):
                self.set_state(self.top(), state)
        elif name in ("EXT1", "EXT2", "EXT4"):
            # the copyreg extension registry maps the code to some global: unknown here
            self.push(self.record("<extension>", str(arg)))
        elif name == "PERSID":
            self.push(Opaque("<persistent id>"))
        elif name == "BINPERSID":
            self.pop()
            self.push(Opaque("<persistent id>"))
        elif name == "NEXT_BUFFER":
            self.push(Opaque("<buffer>"))
        elif name == "READONLY_BUFFER":
            self.top()
        else:
            raise BytecodeError(f"unsupported opcode {name}")

    # ---- what cloudpickle's helpers build ----

    def reduce(self, func: Any, args: Any) -> Any:
        if not isinstance(args, tuple):
            return Reduced(func, args)
        if func is _CODETYPE or func == GlobalRef("types", "CodeType"):
            return code_from_args(args, self.meter)
        if not (isinstance(func, GlobalRef) and "cloudpickle" in func.module.split(".")):
            return Reduced(func, args)
        helper = func.name
        if helper == "_builtin_type" and args == ("CodeType",):
            return _CODETYPE
        if helper in ("subimport", "dynamic_subimport") and args and isinstance(args[0], str):
            return ModuleRef(args[0])
        if helper == "_make_function" and args:
            record = FuncRecord(*args[:5])
            self.scan.functions.append(record)
            return record
        if helper == "_make_cell":
            return Cell(args[0] if args else _EMPTY)
        if helper == "_make_empty_cell":
            return Cell()
        if helper == "cell_set" and len(args) == 2 and isinstance(args[0], Cell):
            args[0].value = args[1]
            return None
        if helper == "_function_setstate" and len(args) == 2 and isinstance(args[0], FuncRecord):
            self.set_state(args[0], args[1])
            return None
        return Reduced(func, args)

    def set_state(self, record: FuncRecord, state: Any) -> None:
        # cloudpickle passes (state, slotstate): __dict__ entries and function attributes
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            record.state.update(state[1])
        elif isinstance(state, dict):
            record.state.update(state)


_PUSH_ARG = frozenset(
    {
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
        "BYTEARRAY8",
        "UNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "FLOAT",
        "BINFLOAT",
    }
)


def _ints(values: tuple[Any, ...]) -> bool:
    return all(type(v) is int for v in values)


def _strs(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, str) for v in value)


def _const(value: Any) -> Any:
    # pickle stores the Ellipsis singleton by reference, as the global builtins.Ellipsis
    if value == GlobalRef("builtins", "Ellipsis"):
        return ...
    if isinstance(value, tuple):
        return tuple(_const(v) for v in value)
    return value


def code_from_args(args: tuple[Any, ...], meter: TreeMeter | None = None) -> CodeObject:
    """A code object from the arguments cloudpickle gives types.CodeType."""
    n = len(args)
    if n == 18:  # 3.11+: ... name, qualname, firstlineno, linetable, exceptiontable, ...
        ints, rest = args[:6], args[6:]
        code, consts, names, varnames, filename, name, qualname, first, table, exc = rest[:10]
        freevars, cellvars = rest[10:]
        layout: Layout = "3.11+"
        argcount, posonly, kwonly, _nlocals, stacksize, flags = ints
    elif n in (16, 15):  # 3.8-3.10 (with posonlyargcount) and older
        ints = args[:6] if n == 16 else args[:5]
        code, consts, names, varnames, filename, name, first, table = args[len(ints) : -2]
        freevars, cellvars = args[-2:]
        qualname, exc = None, b""
        layout = "3.8-3.10" if n == 16 else "3.0-3.7"
        if n == 16:
            argcount, posonly, kwonly, _nlocals, stacksize, flags = ints
        else:
            argcount, kwonly, _nlocals, stacksize, flags = ints
            posonly = 0
    else:
        raise BytecodeError(f"CodeType called with {n} arguments, not 15, 16 or 18")
    ok = (
        _ints((*ints, first))
        and isinstance(code, bytes)
        and isinstance(consts, tuple)
        and all(_strs(v) for v in (names, varnames, freevars, cellvars))
        and isinstance(filename, str)
        and isinstance(name, str)
        and (qualname is None or isinstance(qualname, str))
        and isinstance(table, bytes)
        and isinstance(exc, bytes)
    )
    if not ok:
        raise BytecodeError("CodeType arguments of the wrong types")
    (meter or TreeMeter()).check(consts, "co_consts")
    return from_varnames(
        layout=layout,
        argcount=argcount,
        posonlyargcount=posonly,
        kwonlyargcount=kwonly,
        stacksize=stacksize,
        flags=flags,
        code=code,
        consts=_const(consts),
        names=names,
        varnames=varnames,
        freevars=freevars,
        cellvars=cellvars,
        filename=filename,
        name=name,
        qualname=qualname,
        firstlineno=first,
        linetable=table,
        exceptiontable=exc,
    )


def scan_pickle(data: bytes) -> PickleScan:
    """Play the pickle symbolically. Never raises on malformed data: see `PickleScan.error`."""
    if len(data) > MAX_PICKLE_BYTES:
        return PickleScan(error=f"pickle of {len(data)} bytes exceeds {MAX_PICKLE_BYTES}")
    return _Machine().run(bytes(data))
