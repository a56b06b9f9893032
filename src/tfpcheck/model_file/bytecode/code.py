"""A code object as plain data: what marshal and cloudpickle store, never a real CodeType."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tfpcheck.model_file.bytecode.errors import BytecodeError

# Field order of a code object differs between Python versions:
#   "3.11+"    argcount posonly kwonly stacksize flags code consts names localsplusnames
#              localspluskinds filename name qualname firstlineno linetable exceptiontable
#   "3.8-3.10" argcount posonly kwonly nlocals stacksize flags code consts names varnames
#              freevars cellvars filename name firstlineno lnotab|linetable
#   "3.0-3.7"  argcount kwonly nlocals stacksize flags code consts names varnames freevars
#              cellvars filename name firstlineno lnotab
Layout = Literal["3.11+", "3.8-3.10", "3.0-3.7"]

# co_flags bits (stable since Python 3.0)
CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08
# localspluskinds bits (Python 3.11+)
CO_FAST_LOCAL = 0x20
CO_FAST_CELL = 0x40
CO_FAST_FREE = 0x80


@dataclass(frozen=True)
class CodeObject:
    layout: Layout
    argcount: int
    posonlyargcount: int
    kwonlyargcount: int
    stacksize: int
    flags: int
    code: bytes
    consts: tuple[Any, ...]  # may hold nested CodeObject
    names: tuple[str, ...]
    varnames: tuple[str, ...]
    cellvars: tuple[str, ...]
    freevars: tuple[str, ...]
    # Python 3.11+ index LOAD_FAST/LOAD_DEREF into one array: locals, then cells, then frees.
    localsplusnames: tuple[str, ...]
    localspluskinds: bytes
    filename: str
    name: str
    qualname: str | None
    firstlineno: int
    linetable: bytes  # co_linetable (3.10+) or co_lnotab (before)
    exceptiontable: bytes = b""

    @property
    def argnames(self) -> tuple[str, ...]:
        count = self.argcount + self.kwonlyargcount
        count += bool(self.flags & CO_VARARGS) + bool(self.flags & CO_VARKEYWORDS)
        return self.varnames[:count]

    def walk(self) -> Iterator[CodeObject]:
        """This code object and every code object nested in its constants, each once."""
        stack: list[CodeObject] = [self]
        seen: set[int] = set()
        while stack:
            code = stack.pop()
            if id(code) in seen:
                continue  # shared by reference: once is enough
            seen.add(id(code))
            yield code
            stack.extend(c for c in reversed(code.consts) if isinstance(c, CodeObject))

    @property
    def nested(self) -> tuple[CodeObject, ...]:
        return tuple(c for c in self.consts if isinstance(c, CodeObject))


def from_localsplus(
    *,
    argcount: int,
    posonlyargcount: int,
    kwonlyargcount: int,
    stacksize: int,
    flags: int,
    code: bytes,
    consts: tuple[Any, ...],
    names: tuple[str, ...],
    localsplusnames: tuple[str, ...],
    localspluskinds: bytes,
    filename: str,
    name: str,
    qualname: str | None,
    firstlineno: int,
    linetable: bytes,
    exceptiontable: bytes,
) -> CodeObject:
    """A code object as Python 3.11+ marshals it (one localsplus array with kinds)."""
    pairs = list(zip(localsplusnames, localspluskinds, strict=True))
    return CodeObject(
        layout="3.11+",
        argcount=argcount,
        posonlyargcount=posonlyargcount,
        kwonlyargcount=kwonlyargcount,
        stacksize=stacksize,
        flags=flags,
        code=code,
        consts=consts,
        names=names,
        varnames=tuple(n for n, k in pairs if k & CO_FAST_LOCAL),
        cellvars=tuple(n for n, k in pairs if k & CO_FAST_CELL),
        freevars=tuple(n for n, k in pairs if k & CO_FAST_FREE),
        localsplusnames=localsplusnames,
        localspluskinds=localspluskinds,
        filename=filename,
        name=name,
        qualname=qualname,
        firstlineno=firstlineno,
        linetable=linetable,
        exceptiontable=exceptiontable,
    )


def from_varnames(
    *,
    layout: Layout,
    argcount: int,
    posonlyargcount: int,
    kwonlyargcount: int,
    stacksize: int,
    flags: int,
    code: bytes,
    consts: tuple[Any, ...],
    names: tuple[str, ...],
    varnames: tuple[str, ...],
    freevars: tuple[str, ...],
    cellvars: tuple[str, ...],
    filename: str,
    name: str,
    qualname: str | None,
    firstlineno: int,
    linetable: bytes,
    exceptiontable: bytes = b"",
) -> CodeObject:
    """A code object given as varnames/cellvars/freevars (old marshal, CodeType(...) args)."""
    # The same localsplus array CPython 3.11+ builds in code_new(): a cell that is also an
    # argument shares the argument's slot.
    lp_names = list(varnames)
    lp_kinds = [CO_FAST_LOCAL] * len(varnames)
    for cell in cellvars:
        if cell in varnames:
            lp_kinds[varnames.index(cell)] |= CO_FAST_CELL
        else:
            lp_names.append(cell)
            lp_kinds.append(CO_FAST_CELL)
    lp_names += freevars
    lp_kinds += [CO_FAST_FREE] * len(freevars)
    return CodeObject(
        layout=layout,
        argcount=argcount,
        posonlyargcount=posonlyargcount,
        kwonlyargcount=kwonlyargcount,
        stacksize=stacksize,
        flags=flags,
        code=code,
        consts=consts,
        names=names,
        varnames=varnames,
        cellvars=cellvars,
        freevars=freevars,
        localsplusnames=tuple(lp_names),
        localspluskinds=bytes(lp_kinds),
        filename=filename,
        name=name,
        qualname=qualname,
        firstlineno=firstlineno,
        linetable=linetable,
        exceptiontable=exceptiontable,
    )


# Shared parts (marshal references, pickle memo entries) let a few bytes describe a huge
# tree of constants or nested code; every later walk is bounded by these, checked once.
MAX_TREE_NODES = 100_000  # constants, counted once per place they appear
MAX_TREE_DEPTH = 100
MAX_CODE_OBJECTS = 500  # nested code objects, counted the same way


@dataclass(frozen=True)
class TreeSize:
    nodes: int
    depth: int
    codes: int


def _children(value: Any) -> tuple[Any, ...]:
    if isinstance(value, tuple | list | set | frozenset):
        return tuple(value)
    if isinstance(value, dict):
        return (*value.keys(), *value.values())
    if isinstance(value, CodeObject):
        return value.consts
    return ()


class TreeMeter:
    """Measures values as trees without walking shared parts twice (memoized by identity)."""

    def __init__(self) -> None:
        # id -> (object, size); the object is kept so that its id is not reused
        self._memo: dict[int, tuple[Any, TreeSize]] = {}

    def measure(self, root: Any) -> TreeSize:
        memo, open_ids = self._memo, set()
        cyclic = TreeSize(MAX_TREE_NODES + 1, MAX_TREE_DEPTH + 1, MAX_CODE_OBJECTS + 1)
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            key = id(node)
            if key in memo:
                continue
            children = _children(node)
            if not expanded and children:
                open_ids.add(key)
                stack.append((node, True))
                stack.extend(
                    (c, False) for c in children if id(c) not in memo and id(c) not in open_ids
                )
                continue
            open_ids.discard(key)
            # a child still open is an ancestor: a cycle, which no constant can be
            sizes = [memo[id(c)][1] if id(c) in memo else cyclic for c in children]
            size = TreeSize(
                min(1 + sum(s.nodes for s in sizes), MAX_TREE_NODES + 1),
                min(1 + max((s.depth for s in sizes), default=0), MAX_TREE_DEPTH + 1),
                min(
                    isinstance(node, CodeObject) + sum(s.codes for s in sizes),
                    MAX_CODE_OBJECTS + 1,
                ),
            )
            memo[key] = (node, size)
        return memo[id(root)][1]

    def check(self, root: Any, what: str) -> None:
        size = self.measure(root)
        if size.nodes > MAX_TREE_NODES:
            raise BytecodeError(f"{what} holds more than {MAX_TREE_NODES} constants")
        if size.depth > MAX_TREE_DEPTH:
            raise BytecodeError(f"{what} is nested more than {MAX_TREE_DEPTH} levels deep")
        if size.codes > MAX_CODE_OBJECTS:
            raise BytecodeError(f"{what} holds more than {MAX_CODE_OBJECTS} code objects")
