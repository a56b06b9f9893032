"""Which Python wrote a code object: reference data from CPython 3.6 to 3.13."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import dis
import inspect
import json
import marshal
import sys
import textwrap
import types
from pathlib import Path

import pytest

from tfpcheck.model_file.bytecode import opcode_tables
from tfpcheck.model_file.bytecode.functions import read_cloudpickle_function, read_marshal_function
from tfpcheck.model_file.bytecode.marshal_reader import read_code
from tfpcheck.model_file.bytecode.versions import (
    RUNNING,
    guess_version,
    live_table,
    loaded_names,
)

DATA = Path(__file__).parent / "data" / "bytecode"
PY36_37 = ((3, 6), (3, 7))
PY38_39 = ((3, 8), (3, 9))
PY311_312 = ((3, 11), (3, 12))
MARSHAL_CASES = (
    "coroutine",
    "corpus",
    "def_locals",
    "lam_categorical",
    "lam_double",
    "lam_normal",
    "lam_onehot",
)

# (data file, case) -> every version the bytecode fits. Tiny code that the versions compile
# to identical bytes stays ambiguous (lam_double is byte-identical in 3.11 and 3.12).
EXPECTED: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {
    **{("36", case): PY36_37 for case in MARSHAL_CASES},
    **{("37", case): PY36_37 for case in MARSHAL_CASES},
    ("37", "corpus"): ((3, 7),),
    ("37", "def_locals"): ((3, 7),),  # LOAD_METHOD is new in 3.7
    ("37", "lam_normal"): ((3, 7),),
    **{("38", case): PY38_39 for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
    ("38", "corpus"): ((3, 8),),
    **{("39", case): PY38_39 for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
    ("39", "corpus"): ((3, 9),),  # IS_OP, CONTAINS_OP, RERAISE are new in 3.9
    **{("310", case): ((3, 10),) for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
    **{("311", case): ((3, 11),) for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
    ("311", "lam_double"): PY311_312,
    **{("312", case): ((3, 12),) for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
    ("312", "lam_double"): PY311_312,
    **{("313", case): ((3, 13),) for case in (*MARSHAL_CASES, "cp_closure", "cp_softplus")},
}


def load(version: str) -> dict[str, dict]:
    return json.loads((DATA / f"py{version}.json").read_text())["cases"]


@pytest.mark.parametrize(("version", "case"), sorted(EXPECTED))
def test_versions_of_reference_bytecode(version: str, case: str):
    payload = load(version)[case]
    if case.startswith("cp_"):
        info = read_cloudpickle_function(payload["b64"])
    else:
        info = read_marshal_function(payload["b64"])
    expected = EXPECTED[version, case]
    assert info.python_versions == expected
    assert info.python_version == (expected[0] if len(expected) == 1 else None)
    assert info.version_mismatch is (RUNNING not in expected)
    assert info.firstlineno == payload["firstlineno"]
    assert info.filename == payload["filename"]
    if info.version_mismatch:
        # other Pythons' bytecode is described, never decoded
        assert info.calls == ()
        assert info.returns is None
        written = " or ".join("{}.{}".format(*v) for v in expected)
        running = "{}.{}".format(*RUNNING)
        assert info.notes == (
            f"bytecode of Python {written}: calls are not decoded under Python {running}",
        )


@pytest.mark.skipif(RUNNING != (3, 11), reason="reference data decodes under 3.11 only")
def test_reference_lambdas_decode_under_311():
    assert [c.callee for c in read_marshal_function(load("311")["lam_normal"]["b64"]).calls] == [
        "tf.exp",
        "tfd.Normal",
    ]
    info = read_cloudpickle_function(load("311")["cp_softplus"]["b64"])
    assert info.returns is not None
    assert info.returns.render() == (
        "tfd_like.Normal(loc=t[..., :1], scale=0.001 + tfd_like.softplus(0.05 * t[..., 1:]))"
    )


def test_embedded_table_of_the_running_python_is_exact():
    if RUNNING not in opcode_tables.TABLES:
        pytest.skip(f"no embedded table for {RUNNING}")
    embedded, live = opcode_tables.TABLES[RUNNING], live_table()
    assert embedded.opcodes() == live.opcodes()
    assert embedded.caches == live.caches
    assert embedded.named == live.named


def _stdlib_code() -> list[types.CodeType]:
    """Code of functions and methods of a few big modules (comprehensions, try, with, ...)."""
    codes = []
    for module in (dis, inspect, json, textwrap, collections, argparse, dataclasses, pytest):
        for _, obj in inspect.getmembers(module):
            members = vars(obj).values() if isinstance(obj, type) else [obj]
            for member in members:
                func = getattr(member, "__func__", member)
                if isinstance(func, types.FunctionType):
                    codes.append(func.__code__)
    return codes


def test_running_pythons_own_code_is_recognized():
    codes = _stdlib_code()
    assert len(codes) > 200
    for code in codes:
        guess = guess_version(read_code(marshal.dumps(code)))
        assert RUNNING in guess.candidates, code


def test_loaded_names_tell_globals_from_attributes():
    def uses(model, x):
        import os.path

        return model.compile(open(os.path.join(x)))

    code = read_code(marshal.dumps(uses.__code__))
    assert loaded_names(code, RUNNING) == ["os.path", "open"]
    assert loaded_names(code, (2, 7)) is None


def test_unknown_bytecode_is_a_mismatch_without_a_version():
    code = marshal.dumps((lambda t: t).__code__)
    # same layout, but opcode 0 (CACHE) can start no instruction in any known version
    patched = code.replace((lambda t: t).__code__.co_code, b"\x00\x00" * 3)
    info = read_marshal_function(patched)
    assert info.python_versions == ()
    assert info.python_version is None
    assert info.version_mismatch is True
    assert info.notes == (
        "bytecode of an unrecognized Python version: calls are not decoded under Python "
        f"{RUNNING[0]}.{RUNNING[1]}",
    )


def test_running_version_is_the_interpreter():
    assert sys.version_info[:2] == RUNNING
