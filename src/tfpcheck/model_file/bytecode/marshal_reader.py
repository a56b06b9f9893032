"""A reader of the marshal format that returns plain data and never builds code.

`marshal.loads` would build a real code object from untrusted bytes; that is exactly what
must not happen here. This module parses the format itself (Python/marshal.c, versions 0-5)
into ints, strs, bytes, tuples, lists, dicts, sets and `CodeObject` records.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from tfpcheck.model_file.bytecode.code import (
    CodeObject,
    Layout,
    TreeMeter,
    from_localsplus,
    from_varnames,
)
from tfpcheck.model_file.bytecode.errors import BytecodeError

# Limits against hostile input: marshal's own stack limit is 2000, but real lambdas nest a
# handful of levels; a Keras config caps code text at 16 MiB.
MAX_DATA_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 200
# 15-bit digits: 800 of them is a 12000-bit integer, still printable under the default
# int-to-str limit (4300 digits), far beyond any real constant.
MAX_LONG_DIGITS = 800

FLAG_REF = 0x80
_LAYOUTS: tuple[Layout, ...] = ("3.11+", "3.8-3.10", "3.0-3.7")


@dataclass(frozen=True)
class MarshalSentinel:
    """A singleton marshal can store that has no plain-data equivalent (StopIteration)."""

    name: str


@dataclass(frozen=True)
class SliceConst:
    """A slice constant (marshal type ':', Python 3.14+)."""

    start: Any
    stop: Any
    step: Any


_UNSET = object()  # a reference slot reserved for a container still being read


class _Reader:
    def __init__(self, data: bytes, layout: Layout) -> None:
        self.data = data
        self.pos = 0
        self.layout = layout
        self.refs: list[Any] = []
        self.depth = 0

    # ---- primitives ----

    def fail(self, message: str) -> BytecodeError:
        return BytecodeError(f"bad marshal data at byte {self.pos}: {message}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated (needs {n} more bytes, {self.remaining} left)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def byte(self) -> int:
        return self.take(1)[0]

    def long(self) -> int:
        return int.from_bytes(self.take(4), "little", signed=True)

    def size(self, n: int, unit: int = 1) -> int:
        # A length can never exceed what is left: each item takes at least `unit` bytes.
        if n < 0 or n * unit > self.remaining:
            raise self.fail(f"length {n} does not fit in the {self.remaining} bytes left")
        return n

    # ---- objects ----

    def read(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        try:
            code = self.byte()
            kind, flag = chr(code & ~FLAG_REF), code & FLAG_REF
            if kind == "r":
                return self.ref()
            slot = -1
            if flag:
                # marshal.c reserves the index before reading a container's items
                slot = len(self.refs)
                self.refs.append(_UNSET)
            value = self.value(kind)
            if flag:
                self.refs[slot] = value
            return value
        finally:
            self.depth -= 1

    def ref(self) -> Any:
        index = self.long()
        if not 0 <= index < len(self.refs):
            raise self.fail(f"reference {index} to an object not read yet")
        value = self.refs[index]
        if value is _UNSET:
            raise self.fail(f"reference {index} to an object still being read")
        return value

    def value(self, kind: str) -> Any:
        if kind == "N":
            return None
        if kind == "F":
            return False
        if kind == "T":
            return True
        if kind == ".":
            return ...
        if kind == "S":
            return MarshalSentinel("StopIteration")
        if kind == "i":
            return self.long()
        if kind == "I":
            return int.from_bytes(self.take(8), "little", signed=True)
        if kind == "l":
            return self.pylong()
        if kind == "g":
            return struct.unpack("<d", self.take(8))[0]
        if kind == "f":
            return self.text_float()
        if kind == "y":
            real, imag = struct.unpack("<dd", self.take(16))
            return complex(real, imag)
        if kind == "x":
            real = self.text_float()
            return complex(real, self.text_float())
        if kind == "s":
            return self.take(self.size(self.long()))
        if kind in "tu":
            raw = self.take(self.size(self.long()))
            try:
                return raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise self.fail(f"invalid UTF-8 in a string: {exc.reason}") from None
        if kind in "aA":
            return self.take(self.size(self.long())).decode("latin-1")
        if kind in "zZ":
            return self.take(self.byte()).decode("latin-1")
        if kind == "(":
            return tuple(self.items(self.long()))
        if kind == ")":
            return tuple(self.items(self.byte()))
        if kind == "[":
            return self.items(self.long())
        if kind == "{":
            return self.dict()
        if kind in "<>":
            items = self.items(self.long())
            try:
                return set(items) if kind == "<" else frozenset(items)
            except TypeError:
                raise self.fail("unhashable item in a set") from None
        if kind == "c":
            return self.code()
        if kind == ":":
            start = self.read()
            stop = self.read()
            return SliceConst(start, stop, self.read())
        if kind == "0":
            raise self.fail("NULL object outside a dict")
        raise self.fail(f"unknown type code {kind!r}")

    def pylong(self) -> int:
        n = self.long()
        count = self.size(abs(n), 2)
        if count > MAX_LONG_DIGITS:
            raise self.fail(f"integer of {count} digits is too large")
        value = 0
        raw = self.take(2 * count)
        for i in reversed(range(count)):
            digit = int.from_bytes(raw[2 * i : 2 * i + 2], "little")
            if digit >= 1 << 15:
                raise self.fail("integer digit out of range")
            value = (value << 15) | digit
        return -value if n < 0 else value

    def text_float(self) -> float:
        raw = self.take(self.byte())
        try:
            return float(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise self.fail(f"bad float text {raw!r}") from None

    def items(self, n: int) -> list[Any]:
        return [self.read() for _ in range(self.size(n))]

    def dict(self) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        while True:
            if self.remaining and self.data[self.pos] == ord("0"):
                self.pos += 1
                return result
            key = self.read()
            try:
                result[key] = self.read()
            except TypeError:
                raise self.fail("unhashable dict key") from None

    # ---- code objects ----

    def code(self) -> CodeObject:
        if self.layout == "3.11+":
            argcount, posonly, kwonly, stacksize, flags = (self.long() for _ in range(5))
            code = self.typed(bytes, "co_code")
            consts = self.typed(tuple, "co_consts")
            names = self.strs("co_names")
            lp_names = self.strs("co_localsplusnames")
            lp_kinds = self.typed(bytes, "co_localspluskinds")
            if len(lp_kinds) != len(lp_names):
                raise self.fail("co_localspluskinds does not match co_localsplusnames")
            filename = self.typed(str, "co_filename")
            name = self.typed(str, "co_name")
            qualname = self.typed(str, "co_qualname")
            firstlineno = self.long()
            return from_localsplus(
                argcount=argcount,
                posonlyargcount=posonly,
                kwonlyargcount=kwonly,
                stacksize=stacksize,
                flags=flags,
                code=self.check_code(code),
                consts=consts,
                names=names,
                localsplusnames=lp_names,
                localspluskinds=lp_kinds,
                filename=filename,
                name=name,
                qualname=qualname,
                firstlineno=firstlineno,
                linetable=self.typed(bytes, "co_linetable"),
                exceptiontable=self.typed(bytes, "co_exceptiontable"),
            )
        argcount = self.long()
        posonly = self.long() if self.layout == "3.8-3.10" else 0
        kwonly, _nlocals, stacksize, flags = (self.long() for _ in range(4))
        code = self.typed(bytes, "co_code")
        consts = self.typed(tuple, "co_consts")
        names = self.strs("co_names")
        varnames = self.strs("co_varnames")
        freevars = self.strs("co_freevars")
        cellvars = self.strs("co_cellvars")
        filename = self.typed(str, "co_filename")
        name = self.typed(str, "co_name")
        firstlineno = self.long()
        return from_varnames(
            layout=self.layout,
            argcount=argcount,
            posonlyargcount=posonly,
            kwonlyargcount=kwonly,
            stacksize=stacksize,
            flags=flags,
            code=self.check_code(code),
            consts=consts,
            names=names,
            varnames=varnames,
            freevars=freevars,
            cellvars=cellvars,
            filename=filename,
            name=name,
            qualname=None,
            firstlineno=firstlineno,
            linetable=self.typed(bytes, "co_lnotab"),
        )

    def typed(self, kind: type, field: str) -> Any:
        value = self.read()
        if not isinstance(value, kind):
            raise self.fail(f"{field} is {type(value).__name__}, not {kind.__name__}")
        return value

    def strs(self, field: str) -> tuple[str, ...]:
        value = self.typed(tuple, field)
        if not all(isinstance(item, str) for item in value):
            raise self.fail(f"{field} holds something other than strings")
        return tuple(str(item) for item in value)

    def check_code(self, code: bytes) -> bytes:
        if len(code) % 2:
            raise self.fail("co_code has an odd length: not Python 3.6+ wordcode")
        return code


def read_marshal(data: bytes, layout: Layout = "3.11+") -> Any:
    """Parse one marshalled object; code objects are read with the given field layout."""
    _check_size(data)
    reader = _Reader(bytes(data), layout)
    value = reader.read()
    if reader.remaining:
        raise reader.fail(f"{reader.remaining} bytes left after the object")
    return value


def read_code(data: bytes) -> CodeObject:
    """Parse marshalled code (`marshal.dumps(f.__code__)`), whatever Python 3 wrote it.

    The data does not say which Python wrote it and the code-object field layout changed
    in 3.8 and 3.11, so each layout is tried; the one that reads every byte with fields of
    the right types wins.
    """
    _check_size(data)
    data = bytes(data)
    if not data or data[0] & ~FLAG_REF != ord("c"):
        kind = chr(data[0] & ~FLAG_REF) if data else "nothing"
        raise BytecodeError(f"marshal data holds type {kind!r}, not a code object")
    errors: list[str] = []
    for layout in _probe_order(data):
        try:
            code = read_marshal(data, layout)
        except BytecodeError as exc:
            errors.append(f"as Python {layout}: {exc}")
            continue
        TreeMeter().check(code, "the code object")
        if not isinstance(code, CodeObject):
            raise BytecodeError(f"marshal data holds {type(code).__name__}, not a code object")
        return code
    if len(data) > 17 and data[17] & ~FLAG_REF == ord("s"):
        # Python 2 stores 4 ints before co_code
        raise BytecodeError("marshal data holds a Python 2 code object, which is not supported")
    raise BytecodeError("not a readable code object (" + "; ".join(errors) + ")")


def _probe_order(data: bytes) -> list[Layout]:
    # 3.11+ and <=3.7 store 5 ints before co_code, 3.8-3.10 store 6: try the likely one first.
    five = len(data) > 21 and data[21] & ~FLAG_REF == ord("s")
    return list(_LAYOUTS) if five else ["3.8-3.10", "3.11+", "3.0-3.7"]


def _check_size(data: bytes) -> None:
    if len(data) > MAX_DATA_BYTES:
        raise BytecodeError(f"marshal data of {len(data)} bytes exceeds {MAX_DATA_BYTES}")
