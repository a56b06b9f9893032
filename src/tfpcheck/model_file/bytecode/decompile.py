"""Recover calls and the returned expression from straight-line bytecode, symbolically.

This is not a decompiler for arbitrary code: it runs a stack machine over the instructions
of the *running* interpreter's bytecode (3.11, 3.12 and 3.13 opcodes are handled) where
every value is an `Expr`, which is all a `make_distribution_fn` lambda needs. At the first
jump or unsupported instruction it stops and keeps what it found; it never raises.
Callers must only pass code whose version is the running interpreter's (see versions.py):
opcode numbers and their meaning are taken from this interpreter's `dis`/`opcode` modules.
"""

from __future__ import annotations

import dis
import opcode as _opcode
from dataclasses import dataclass, field
from typing import Any

from tfpcheck.model_file.bytecode.code import CodeObject
from tfpcheck.model_file.bytecode.expr_render import callee_text, render
from tfpcheck.model_file.bytecode.marshal_reader import MarshalSentinel, SliceConst
from tfpcheck.model_file.bytecode.versions import RUNNING
from tfpcheck.model_file.types import CallSite, Expr

# Bounds against hostile bytecode: expressions are trees built from a DAG (COPY, locals),
# so without a cap a few hundred bytes could describe an exponentially large expression.
MAX_EXPR_NODES = 400
MAX_STACK = 1000
MAX_CALLS = 1000

_UNKNOWN = Expr("unknown", value="<...>")  # an expression too large to keep


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NULL = _Marker("NULL")  # PUSH_NULL / the null half of LOAD_GLOBAL
SELF = _Marker("SELF")  # the "self" half of LOAD_METHOD / method-style LOAD_ATTR
_Item = Expr | _Marker


class _Stop(Exception):
    """Decompiling cannot go on; the message says why."""


@dataclass
class Decompiled:
    calls: list[CallSite] = field(default_factory=list)
    returns: Expr | None = None
    stopped: str | None = None  # why decompiling stopped early, None when it finished


def _inline_caches() -> dict[int, int]:
    entries = getattr(_opcode, "_inline_cache_entries", None)
    if isinstance(entries, dict):  # 3.13+: by name
        return {_opcode.opmap[name]: n for name, n in entries.items() if n}
    if entries is None:
        return {}
    return {num: n for num, n in enumerate(entries) if n}


_CACHES = _inline_caches()
_NB_OPS: list[tuple[str, str]] = list(getattr(dis, "_nb_ops", []))
# COMPARE_OP packs extra bits below the comparison index from 3.12 (4 bits) and 3.13 (5)
_CMP_SHIFT = 5 if RUNNING >= (3, 13) else 4 if RUNNING >= (3, 12) else 0
_UNARY = {"UNARY_NEGATIVE": "-", "UNARY_NOT": "not ", "UNARY_INVERT": "~", "UNARY_POSITIVE": "+"}
_NOOPS = frozenset(
    {"RESUME", "NOP", "PRECALL", "COPY_FREE_VARS", "MAKE_CELL", "TO_BOOL", "NOT_TAKEN"}
)
INTRINSIC_UNARY_POSITIVE = 5
INTRINSIC_LIST_TO_TUPLE = 6


def line_table(code: CodeObject) -> list[tuple[int, int, int | None]]:
    """(start byte, end byte, line) ranges from a 3.11+ location table (Objects/locations.md)."""
    table, out = code.linetable, []
    line, pos, i = code.firstlineno, 0, 0

    def varint() -> int:
        nonlocal i
        byte = table[i]
        i += 1
        value, shift = byte & 63, 6
        while byte & 64:
            byte = table[i]
            i += 1
            value |= (byte & 63) << shift
            shift += 6
        return value

    def svarint() -> int:
        value = varint()
        return -(value >> 1) if value & 1 else value >> 1

    try:
        while i < len(table):
            first = table[i]
            i += 1
            if not first & 0x80:
                break  # not the start of an entry: the table is not what we think
            kind, length = (first >> 3) & 15, (first & 7) + 1
            here: int | None = line
            if kind == 15:  # no location
                here = None
            elif kind == 14:  # long form: line delta, end line, columns
                line += svarint()
                for _ in range(3):  # end line delta, start column, end column
                    varint()
                here = line
            elif kind == 13:  # no columns
                line += svarint()
                here = line
            elif kind >= 10:  # one-line form: the line delta is in the code, two column bytes
                line += kind - 10
                i += 2
                here = line
            else:  # short form: same line, one column byte
                i += 1
            out.append((2 * pos, 2 * (pos + length), here))
            pos += length
    except IndexError:
        pass  # truncated table: keep the ranges decoded so far
    return out


def const_expr(value: Any) -> Expr:
    if value is ...:
        return Expr("ellipsis")
    if isinstance(value, tuple):
        return Expr("tuple", args=tuple(const_expr(v) for v in value))
    if isinstance(value, SliceConst):
        parts = (value.start, value.stop, value.step)
        return Expr("slice", args=tuple(None if v is None else const_expr(v) for v in parts))
    if isinstance(value, CodeObject):
        return Expr("unknown", value=f"<code {value.qualname or value.name}>")
    if isinstance(value, MarshalSentinel):
        return Expr("unknown", value=value.name)
    if value is None or isinstance(value, bool | int | float | complex | str | bytes | frozenset):
        return Expr("const", value=value)
    return Expr("unknown", value="<object>")  # not a constant Python can hold in code


class _Machine:
    def __init__(self, code: CodeObject) -> None:
        self.code = code
        self.stack: list[_Item] = []
        self.locals: dict[str, Expr] = {}
        self.kw_names: tuple[str, ...] = ()
        self.result = Decompiled()
        self.sizes: dict[int, int] = {}
        self.keep: list[Expr] = []  # keeps sized exprs alive so their ids stay unique
        self.dicts: dict[int, list[tuple[Expr | None, Expr]]] = {}  # dict displays built
        self.lines = line_table(code)

    # ---- expressions with a size cap ----

    def size(self, expr: Expr | None) -> int:
        if expr is None:
            return 0
        known = self.sizes.get(id(expr))
        if known is not None:
            return known
        total = 1 + sum(self.size(a) for a in expr.args) + sum(self.size(v) for _, v in expr.kwargs)
        self.sizes[id(expr)] = total
        self.keep.append(expr)
        return total

    def make(
        self,
        kind: str,
        value: Any = None,
        args: tuple[Expr | None, ...] = (),
        kwargs: tuple[tuple[str, Expr], ...] = (),
    ) -> Expr:
        expr = Expr(kind, value, args, kwargs)
        if self.size(expr) > MAX_EXPR_NODES:
            return _UNKNOWN
        return expr

    # ---- the stack ----

    def push(self, item: _Item) -> None:
        if len(self.stack) >= MAX_STACK:
            raise _Stop("stack too deep")
        self.stack.append(item)

    def pop(self) -> _Item:
        if not self.stack:
            raise _Stop("stack underflow")
        return self.stack.pop()

    def pop_expr(self) -> Expr:
        item = self.pop()
        if not isinstance(item, Expr):
            raise _Stop(f"{item!r} used as a value")
        return item

    def pop_many(self, n: int) -> list[Expr]:
        items = [self.pop_expr() for _ in range(n)]
        items.reverse()
        return items

    # ---- names ----

    def local_name(self, index: int) -> str:
        try:
            return self.code.localsplusnames[index]
        except IndexError:
            raise _Stop(f"local variable index {index} out of range") from None

    def name(self, index: int) -> str:
        try:
            return self.code.names[index]
        except IndexError:
            raise _Stop(f"name index {index} out of range") from None

    def const(self, index: int) -> Any:
        try:
            return self.code.consts[index]
        except IndexError:
            raise _Stop(f"constant index {index} out of range") from None

    def load_local(self, index: int) -> None:
        name = self.local_name(index)
        # a variable assigned earlier stands for the expression assigned to it
        self.push(self.locals.get(name) or self.make("name", name))

    def line_at(self, offset: int) -> int | None:
        for start, end, line in self.lines:
            if start <= offset < end:
                return line
        return None

    # ---- the run ----

    def run(self) -> Decompiled:
        code, i, ext = self.code.code, 0, 0
        try:
            while i + 1 < len(code):
                op, arg, offset = code[i], code[i + 1] | ext, i
                i += 2 + 2 * _CACHES.get(op, 0)
                name = dis.opname[op]
                if name == "EXTENDED_ARG":
                    ext = arg << 8
                    continue
                ext = 0
                if self.step(name, arg, offset):
                    return self.result
            raise _Stop("ran off the end of the bytecode")
        except _Stop as stop:
            self.result.stopped = str(stop)
        except RecursionError:  # pragma: no cover - sizes are capped well below this
            self.result.stopped = "expression too deep"
        return self.result

    def step(self, name: str, arg: int, offset: int) -> bool:
        """Run one instruction; True when the function returned."""
        if name in _NOOPS:
            return False
        handler = _HANDLERS.get(name)
        if handler is not None:
            return bool(handler(self, arg, offset))
        if name in _UNARY:
            self.push(self.make("unary", _UNARY[name], (self.pop_expr(),)))
            return False
        raise _Stop(f"unsupported instruction {name} at byte {offset}")

    # loads and stores

    def op_PUSH_NULL(self, arg: int, offset: int) -> None:
        self.push(NULL)

    def op_LOAD_CONST(self, arg: int, offset: int) -> None:
        self.push(self.const_expr(self.const(arg)))

    def op_LOAD_SMALL_INT(self, arg: int, offset: int) -> None:
        self.push(self.make("const", arg))

    def const_expr(self, value: Any) -> Expr:
        expr = const_expr(value)
        return expr if self.size(expr) <= MAX_EXPR_NODES else _UNKNOWN

    def op_LOAD_FAST(self, arg: int, offset: int) -> None:
        self.load_local(arg)

    op_LOAD_FAST_CHECK = op_LOAD_FAST
    op_LOAD_DEREF = op_LOAD_FAST
    op_LOAD_CLOSURE = op_LOAD_FAST

    def op_LOAD_FAST_LOAD_FAST(self, arg: int, offset: int) -> None:
        self.load_local(arg >> 4)
        self.load_local(arg & 15)

    def op_STORE_FAST(self, arg: int, offset: int) -> None:
        self.locals[self.local_name(arg)] = self.pop_expr()

    op_STORE_DEREF = op_STORE_FAST

    def op_STORE_FAST_LOAD_FAST(self, arg: int, offset: int) -> None:
        self.op_STORE_FAST(arg >> 4, offset)
        self.load_local(arg & 15)

    def op_STORE_FAST_STORE_FAST(self, arg: int, offset: int) -> None:
        self.op_STORE_FAST(arg >> 4, offset)
        self.op_STORE_FAST(arg & 15, offset)

    def op_LOAD_GLOBAL(self, arg: int, offset: int) -> None:
        # the low bit asks for a NULL: below the global until 3.12, above it from 3.13
        value = self.make("name", self.name(arg >> 1))
        if arg & 1 and RUNNING < (3, 13):
            self.push(NULL)
        self.push(value)
        if arg & 1 and RUNNING >= (3, 13):
            self.push(NULL)

    def op_LOAD_NAME(self, arg: int, offset: int) -> None:
        self.push(self.make("name", self.name(arg)))

    def op_LOAD_ATTR(self, arg: int, offset: int) -> None:
        if RUNNING < (3, 12):
            self.push(self.make("attr", self.name(arg), (self.pop_expr(),)))
            return
        # 3.12+: the low bit makes it LOAD_METHOD
        attr = self.make("attr", self.name(arg >> 1), (self.pop_expr(),))
        self.push(attr)
        if arg & 1:
            self.push(SELF)

    def op_LOAD_METHOD(self, arg: int, offset: int) -> None:
        self.push(self.make("attr", self.name(arg), (self.pop_expr(),)))
        self.push(SELF)

    def op_POP_TOP(self, arg: int, offset: int) -> None:
        self.pop()

    def op_COPY(self, arg: int, offset: int) -> None:
        if not 1 <= arg <= len(self.stack):
            raise _Stop("COPY beyond the stack")
        self.push(self.stack[-arg])

    def op_SWAP(self, arg: int, offset: int) -> None:
        if not 2 <= arg <= len(self.stack):
            raise _Stop("SWAP beyond the stack")
        self.stack[-1], self.stack[-arg] = self.stack[-arg], self.stack[-1]

    # building values

    def op_BUILD_TUPLE(self, arg: int, offset: int) -> None:
        self.push(self.make("tuple", None, tuple(self.pop_many(arg))))

    def op_BUILD_LIST(self, arg: int, offset: int) -> None:
        self.push(self.make("tuple", "list", tuple(self.pop_many(arg))))

    def op_LIST_EXTEND(self, arg: int, offset: int) -> None:
        items = self.pop_expr()
        target = self.stack[-arg] if 1 <= arg <= len(self.stack) else None
        if not (isinstance(target, Expr) and target.kind == "tuple"):
            raise _Stop(f"list extended at byte {offset} is not a list")
        # [a, *b]: a tuple literal spreads into items, anything else stays starred
        added = items.args if items.kind == "tuple" else (self.make("unary", "*", (items,)),)
        self.stack[-arg] = self.make("tuple", "list", (*target.args, *added))

    def op_LIST_TO_TUPLE(self, arg: int, offset: int) -> None:
        items = self.pop_expr()
        if items.kind != "tuple":
            raise _Stop("LIST_TO_TUPLE of something other than a list")
        self.push(self.make("tuple", None, items.args))

    def op_BUILD_SLICE(self, arg: int, offset: int) -> None:
        parts: list[Expr | None] = list(self.pop_many(arg))
        parts += [None] * (3 - len(parts))
        # a None constant is how the compiler spells an empty slice bound
        bounds = tuple(None if p is None or _is_none(p) else p for p in parts)
        self.push(self.make("slice", None, bounds))

    def op_BUILD_MAP(self, arg: int, offset: int) -> None:
        items = self.pop_many(2 * arg)
        self.push(self.dict_expr([(items[i], items[i + 1]) for i in range(0, len(items), 2)]))

    def op_BUILD_CONST_KEY_MAP(self, arg: int, offset: int) -> None:
        keys = self.pop_expr()
        values = self.pop_many(arg)
        if keys.kind != "tuple" or len(keys.args) != arg:
            raise _Stop("BUILD_CONST_KEY_MAP without a key tuple")
        self.push(self.dict_expr(list(zip(keys.args, values, strict=True))))

    def op_DICT_MERGE(self, arg: int, offset: int) -> None:
        other = self.pop_expr()
        target = self.stack[-arg] if 1 <= arg <= len(self.stack) else None
        pairs = self.dicts.get(id(target))
        if pairs is None:
            raise _Stop(f"dict merged at byte {offset} is not a dict literal")
        self.stack[-arg] = self.dict_expr([*pairs, (None, other)])  # {..., **other}

    op_DICT_UPDATE = op_DICT_MERGE

    def dict_expr(self, pairs: list[tuple[Expr | None, Expr]]) -> Expr:
        """A dict display, kept as "unknown" with its text; its pairs are remembered."""
        parts = [f"{render(k)}: {render(v)}" if k else f"**{render(v)}" for k, v in pairs]
        args = tuple(a for pair in pairs for a in pair if a is not None)
        expr = self.make("unknown", "{" + ", ".join(parts) + "}", args)
        if expr is not _UNKNOWN:  # the shared placeholder must never pass for a dict
            self.dicts[id(expr)] = pairs
            self.keep.append(expr)
        return expr

    # operators

    def op_BINARY_SUBSCR(self, arg: int, offset: int) -> None:
        index = self.pop_expr()
        self.push(self.make("subscript", None, (self.pop_expr(), index)))

    def op_BINARY_SLICE(self, arg: int, offset: int) -> None:
        stop, start = self.pop_expr(), self.pop_expr()
        bounds = tuple(None if _is_none(p) else p for p in (start, stop))
        index = self.make("slice", None, (*bounds, None))
        self.push(self.make("subscript", None, (self.pop_expr(), index)))

    def op_BINARY_OP(self, arg: int, offset: int) -> None:
        if not 0 <= arg < len(_NB_OPS):
            raise _Stop(f"unknown binary operator {arg}")
        text = _NB_OPS[arg][1]
        right, left = self.pop_expr(), self.pop_expr()
        if text == "[]":  # 3.14 spells subscripts as a binary operator
            self.push(self.make("subscript", None, (left, right)))
            return
        if text.endswith("=") and text not in ("==", "!=", "<=", ">="):
            text = text[:-1]  # "x += 1" computes x + 1 (then stores it)
        self.push(self.make("binop", text, (left, right)))

    def op_COMPARE_OP(self, arg: int, offset: int) -> None:
        index = arg >> _CMP_SHIFT
        if not 0 <= index < len(dis.cmp_op):
            raise _Stop(f"unknown comparison {arg}")
        right, left = self.pop_expr(), self.pop_expr()
        self.push(self.make("binop", dis.cmp_op[index], (left, right)))

    def op_IS_OP(self, arg: int, offset: int) -> None:
        right, left = self.pop_expr(), self.pop_expr()
        self.push(self.make("binop", "is not" if arg else "is", (left, right)))

    def op_CONTAINS_OP(self, arg: int, offset: int) -> None:
        right, left = self.pop_expr(), self.pop_expr()
        self.push(self.make("binop", "not in" if arg else "in", (left, right)))

    def op_CALL_INTRINSIC_1(self, arg: int, offset: int) -> None:
        # 3.12 turned UNARY_POSITIVE and LIST_TO_TUPLE into intrinsics
        if arg == INTRINSIC_UNARY_POSITIVE:
            self.push(self.make("unary", "+", (self.pop_expr(),)))
        elif arg == INTRINSIC_LIST_TO_TUPLE:
            self.op_LIST_TO_TUPLE(arg, offset)
        else:
            raise _Stop(f"unsupported intrinsic {arg} at byte {offset}")

    # calls

    def op_KW_NAMES(self, arg: int, offset: int) -> None:
        names = self.const(arg)
        if not (isinstance(names, tuple) and all(isinstance(n, str) for n in names)):
            raise _Stop("KW_NAMES without a tuple of names")
        self.kw_names = names

    def op_CALL(self, arg: int, offset: int) -> None:
        args = self.pop_many(arg)
        self.call(args, self.kw_names, offset)
        self.kw_names = ()

    def op_CALL_KW(self, arg: int, offset: int) -> None:
        names = self.pop_expr()  # 3.13: the names tuple is pushed last
        if not (names.kind == "tuple" and all(n and n.kind == "const" for n in names.args)):
            raise _Stop("CALL_KW without a tuple of names")
        args = self.pop_many(arg)
        self.call(args, tuple(str(n.value) for n in names.args if n), offset)

    def call(self, args: list[Expr], kw_names: tuple[str, ...], offset: int) -> None:
        top, below = self.pop(), self.pop()
        # [NULL, callable] (3.11/3.12), [callable, NULL] (3.13) or [method, SELF]
        if top is SELF or top is NULL:
            func = below
        elif below is NULL:
            func = top
        else:  # [callable, self] of a bound method: self is the first argument
            func, args = below, [top, *args]  # type: ignore[list-item]
        if not isinstance(func, Expr) or len(kw_names) > len(args):
            raise _Stop(f"call at byte {offset} does not match the stack")
        split = len(args) - len(kw_names)
        self.emit(
            func, tuple(args[:split]), tuple(zip(kw_names, args[split:], strict=True)), offset
        )

    def op_CALL_FUNCTION_EX(self, arg: int, offset: int) -> None:
        kwargs = self.pop_expr() if arg & 1 else None
        star = self.pop_expr()
        func = self.pop()
        if func is NULL:  # 3.11/3.12 keep the NULL below the callable, 3.13 above it
            func = self.pop()
        elif self.stack and self.stack[-1] is NULL:
            self.pop()
        if not isinstance(func, Expr):
            raise _Stop(f"call at byte {offset} does not match the stack")
        args = star.args if star.kind == "tuple" else (self.make("unary", "*", (star,)),)
        keywords: list[tuple[str, Expr]] = []
        if kwargs is not None:
            pairs = self.dicts.get(id(kwargs), [(None, kwargs)])
            for key, value in pairs:
                if key is None:
                    args = (*args, self.make("unary", "**", (value,)))
                elif key.kind == "const" and isinstance(key.value, str):
                    keywords.append((key.value, value))
                else:
                    raise _Stop(f"call at byte {offset} with a computed keyword")
        self.emit(func, tuple(a for a in args if a is not None), tuple(keywords), offset)

    def emit(
        self,
        func: Expr,
        args: tuple[Expr, ...],
        kwargs: tuple[tuple[str, Expr], ...],
        offset: int,
    ) -> None:
        callee = callee_text(func)
        if len(self.result.calls) < MAX_CALLS:
            self.result.calls.append(CallSite(callee, args, kwargs, self.line_at(offset)))
        self.push(self.make("call", callee, args, kwargs))

    # functions defined inside

    def op_MAKE_FUNCTION(self, arg: int, offset: int) -> None:
        code = self.pop_expr()
        # until 3.12 the flags say which of closure, annotations, kwdefaults, defaults follow
        for bit in (0x08, 0x04, 0x02, 0x01):
            if arg & bit:
                self.pop_expr()
        self.push(self.make("unknown", _function_text(code)))

    def op_SET_FUNCTION_ATTRIBUTE(self, arg: int, offset: int) -> None:
        func = self.pop_expr()
        self.pop_expr()
        self.push(func)

    # returning

    def op_RETURN_VALUE(self, arg: int, offset: int) -> bool:
        self.result.returns = self.pop_expr()
        return True

    def op_RETURN_CONST(self, arg: int, offset: int) -> bool:
        self.result.returns = self.const_expr(self.const(arg))
        return True


# instruction name -> handler, fixed when the module loads (no lookup by computed name)
_HANDLERS: dict[str, Any] = {
    name[3:]: func for name, func in vars(_Machine).items() if name.startswith("op_")
}


def _is_none(expr: Expr) -> bool:
    return expr.kind == "const" and expr.value is None


def _function_text(code: Expr) -> str:
    text = code.value if code.kind == "unknown" and isinstance(code.value, str) else ""
    if text.startswith("<code ") and text.endswith(">"):
        return f"<function {text[6:-1]}>"
    return "<function>"


def decompile(code: CodeObject) -> Decompiled:
    """Calls made and the value returned by `code`, read by a symbolic stack machine."""
    return _Machine(code).run()
