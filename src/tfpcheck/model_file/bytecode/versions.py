"""Which Python wrote a code object, from its layout and its opcodes.

Bytecode changes with every minor version, and marshal data carries no version number.
Three clues are combined:

* the code-object field layout (the marshal reader or the CodeType argument count tells
  3.0-3.7, 3.8-3.10 and 3.11+ apart);
* for 3.8-3.10, the line table: 3.10's co_linetable covers every byte of the bytecode,
  3.8/3.9's co_lnotab stops at the start of the last line;
* the opcode signature: every instruction must be an opcode that version has, followed by
  exactly its number of (zeroed) inline cache entries. 3.11 (PRECALL, LOAD_METHOD, 4-entry
  LOAD_ATTR caches), 3.12 (RETURN_CONST, 9-entry LOAD_ATTR caches) and 3.13 (renumbered
  opcodes, RESUME = 149) rarely fit each other's tables.

Tiny code can fit several versions (`lambda x: x * 2` is byte-identical in 3.11 and 3.12);
then every candidate is kept and no single version is claimed. The tables of other
versions are embedded (opcode_tables.py); the running interpreter's own table is read from
its `opcode` module, so "not the running interpreter" is always decided exactly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache

from tfpcheck.model_file.bytecode.code import CodeObject, Layout
from tfpcheck.model_file.bytecode.opcode_tables import TABLES, OpcodeTable

Version = tuple[int, int]
RUNNING: Version = (sys.version_info.major, sys.version_info.minor)

LAYOUT_VERSIONS: dict[Layout, tuple[Version, ...]] = {
    "3.0-3.7": ((3, 6), (3, 7)),  # 3.0-3.5 bytecode is not wordcode and is not recognized
    "3.8-3.10": ((3, 8), (3, 9), (3, 10)),
    "3.11+": ((3, 11), (3, 12), (3, 13)),
}


@dataclass(frozen=True)
class Signature:
    ops: frozenset[int]
    caches: dict[int, int]
    named: dict[str, int]


@dataclass(frozen=True)
class VersionGuess:
    candidates: tuple[Version, ...]  # every version whose bytecode this could be, oldest first

    @property
    def exact(self) -> Version | None:
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def matches_running(self) -> bool:
        return RUNNING in self.candidates


def live_table() -> OpcodeTable:
    """The running interpreter's signature, built the way generate.py builds the others."""
    import opcode

    skip = set(getattr(opcode, "_specialized_opmap", {}))
    skip.update(getattr(opcode, "_specialized_instructions", ()))
    ops: list[int] = []
    for name, num in opcode.opmap.items():
        # Marshal writes de-optimized code: no specialized, instrumented or pseudo opcodes,
        # and CACHE only inside cache slots.
        if num >= 256 or name in skip or name in ("CACHE", "RESERVED", "ENTER_EXECUTOR"):
            continue
        if not name.startswith("INSTRUMENTED_"):
            ops.append(num)
    entries = getattr(opcode, "_inline_cache_entries", None)
    caches: dict[int, int] = {}
    if isinstance(entries, dict):  # 3.13+: keyed by name
        caches = {opcode.opmap[name]: n for name, n in entries.items() if n}
    elif entries is not None:  # 3.11, 3.12: a list indexed by opcode
        caches = {num: n for num, n in enumerate(entries) if n and num in ops}
    named: dict[str, int] = {
        name: opcode.opmap[name]
        for name in ("EXTENDED_ARG", "LOAD_GLOBAL", "LOAD_NAME", "IMPORT_NAME", "RESUME")
        if name in opcode.opmap
    }
    ops_text = ",".join(str(num) for num in sorted(ops))
    return OpcodeTable(ops=ops_text, caches=dict(sorted(caches.items())), named=named)


@cache
def signatures() -> dict[Version, Signature]:
    tables = dict(TABLES)
    tables[RUNNING] = live_table()  # exact for this interpreter, even one newer than 3.13
    return {v: Signature(t.opcodes(), dict(t.caches), dict(t.named)) for v, t in tables.items()}


def layout_versions(layout: Layout) -> tuple[Version, ...]:
    versions = LAYOUT_VERSIONS[layout]
    if layout == "3.11+" and versions[-1] < RUNNING:
        versions = (*versions, RUNNING)
    return versions


def fits(code: bytes, signature: Signature) -> bool:
    """Could `code` be bytecode of the version with this signature?"""
    i, n = 0, len(code)
    if n % 2:
        return False
    while i < n:
        op = code[i]
        if op not in signature.ops:
            return False
        end = i + 2 + 2 * signature.caches.get(op, 0)
        # marshal zeroes the cache entries; an opcode there means a different cache layout
        if end > n or any(code[i + 2 : end]):
            return False
        i = end
    return True


def _covers_all_bytes(code: CodeObject) -> bool:
    # 3.10 co_linetable: (bytecode delta, line delta) pairs summing to len(co_code).
    # 3.8/3.9 co_lnotab: pairs whose bytecode deltas reach the last line's first offset only.
    table = code.linetable
    return len(table) % 2 == 0 and sum(table[0::2]) == len(code.code)


def guess_version(code: CodeObject) -> VersionGuess:
    """Every Python version that could have written `code` (and the code nested in it)."""
    versions = layout_versions(code.layout)
    tree = list(code.walk())
    if code.layout == "3.8-3.10":
        is_310 = all(_covers_all_bytes(c) for c in tree)
        versions = tuple(v for v in versions if (v == (3, 10)) == is_310)
    sigs = signatures()
    found = tuple(v for v in versions if v in sigs and all(fits(c.code, sigs[v]) for c in tree))
    return VersionGuess(found)


def loaded_names(code: CodeObject, version: Version) -> list[str] | None:
    """Names `code` loads as globals or imports (LOAD_GLOBAL, LOAD_NAME, IMPORT_NAME).

    Read with the opcode table of `version`; None when that version's table is unknown.
    """
    sig = signatures().get(version)
    if sig is None:
        return None
    named = sig.named
    load_global, extended = named.get("LOAD_GLOBAL"), named.get("EXTENDED_ARG")
    direct = {named.get("LOAD_NAME"), named.get("IMPORT_NAME")} - {None}
    raw, out, i, ext = code.code, [], 0, 0
    while i + 1 < len(raw):
        op, arg = raw[i], raw[i + 1] | ext
        i += 2 + 2 * sig.caches.get(op, 0)
        if op == extended:
            ext = arg << 8
            continue
        ext = 0
        if op == load_global:
            index = arg >> 1 if version >= (3, 11) else arg  # 3.11+: low bit = push NULL
        elif op in direct:
            index = arg
        else:
            continue
        if 0 <= index < len(code.names):
            out.append(code.names[index])
    return out
