"""The marshal reader: plain values, code objects of every layout, hostile input."""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path

import pytest

from tfpcheck.model_file.bytecode.code import MAX_TREE_DEPTH, CodeObject, TreeMeter, TreeSize
from tfpcheck.model_file.bytecode.errors import BytecodeError
from tfpcheck.model_file.bytecode.marshal_reader import (
    MAX_DATA_BYTES,
    MarshalSentinel,
    read_code,
    read_marshal,
)

DATA = Path(__file__).parent / "data" / "bytecode"
VERSIONS = ("36", "37", "38", "39", "310", "311", "312", "313")
LAYOUTS = dict.fromkeys(("36", "37"), "3.0-3.7")
LAYOUTS |= dict.fromkeys(("38", "39", "310"), "3.8-3.10")
LAYOUTS |= dict.fromkeys(("311", "312", "313"), "3.11+")


def cases(version: str) -> dict[str, dict]:
    return json.loads((DATA / f"py{version}.json").read_text())["cases"]


SHARED = "shared string"
VALUES = [
    0,
    -1,
    2**31 - 1,
    2**31,
    -(2**100),
    10**300,
    1.5,
    float("-inf"),
    2 - 3j,
    "",
    "abc",
    "ünïcødé \U0001f600",
    b"\x00\xff",
    (),
    (1, "a", (None, True, False)),
    [1, [2, [3]]],
    {"a": 1, 2: (3,)},
    {1, 2, 3},
    frozenset({"x"}),
    frozenset(),
    ...,
    None,
    (SHARED, SHARED, [SHARED]),  # written with references from version 3 on
]


@pytest.mark.parametrize("version", range(5))
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_read_like_marshal_writes_them(value, version):
    assert read_marshal(marshal.dumps(value, version)) == value


def test_stopiteration_and_float_text():
    assert read_marshal(marshal.dumps(StopIteration)) == MarshalSentinel("StopIteration")
    assert read_marshal(marshal.dumps(2.5, 1)) == 2.5  # version 1 writes floats as text


@pytest.mark.parametrize("version", VERSIONS)
def test_code_objects_of_every_python(version):
    for name, case in cases(version).items():
        if name.startswith("cp_"):
            continue
        code = read_code(base64.b64decode(case["b64"]))
        assert isinstance(code, CodeObject)
        assert code.filename == case["filename"]
        assert code.firstlineno == case["firstlineno"]
        assert code.layout == LAYOUTS[version]
        if name == "corpus":
            assert code.name == "corpus"
            assert code.argnames == ("a", "b", "c", "args", "kwargs")
            assert code.consts[0] == (
                "Many constructs, so that every version's opcode signature gets exercised."
            )
            inner = [c for c in code.nested if c.name == "inner"]
            assert len(inner) == 1
            assert inner[0].freevars == ("total",)
            assert inner[0].argnames == ("z",)
        if name == "lam_normal":
            assert code.name == "<lambda>"
            assert code.names == ("tfd", "Normal", "tf", "exp")
            assert code.argnames == ("t",)
            assert code.qualname == ("<lambda>" if version in ("311", "312", "313") else None)


def test_cell_arguments_share_their_slot():
    def make(event_size):
        return lambda t: event_size + t

    outer = read_code(marshal.dumps(make.__code__))
    assert outer.varnames == ("event_size",)
    assert outer.cellvars == ("event_size",)
    assert outer.localsplusnames == ("event_size",)
    (inner,) = outer.nested
    assert inner.freevars == ("event_size",)
    assert inner.localsplusnames == ("t", "event_size")


def test_every_truncation_is_an_error():
    data = marshal.dumps((lambda t: t[..., :1]).__code__)
    for end in range(len(data)):
        with pytest.raises(BytecodeError):
            read_code(data[:end])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"(\x01\x00\x00\x00" * 1000 + b"N", "nested more than"),
        (b"s\xff\xff\xff\x7f", "does not fit"),
        (b"(\xff\xff\xff\x7f", "does not fit"),
        (b"l\xff\xff\xff\x0f", "does not fit"),
        (b"r\x05\x00\x00\x00", "reference 5"),
        (b"\xa9\x01r\x00\x00\x00\x00", "still being read"),  # a tuple containing itself
        (b"?", "unknown type code"),
        (b"0", "NULL object"),
        (b"{[\x00\x00\x00\x00N0", "unhashable"),
        (b"<\x01\x00\x00\x00[\x00\x00\x00\x00", "unhashable"),
        (b"u\x01\x00\x00\x00\xff", "invalid UTF-8"),
        (b"NN", "bytes left"),
    ],
)
def test_hostile_marshal_data(data, message):
    with pytest.raises(BytecodeError, match=message):
        read_marshal(data)


def test_huge_integers_and_inputs_are_refused():
    with pytest.raises(BytecodeError, match="too large"):
        read_marshal(marshal.dumps(1 << 20000))
    with pytest.raises(BytecodeError, match="exceeds"):
        read_marshal(b"N" * (MAX_DATA_BYTES + 1))


def test_read_code_wants_a_code_object():
    with pytest.raises(BytecodeError, match="not a code object"):
        read_code(marshal.dumps((1, 2)))
    with pytest.raises(BytecodeError, match="not a code object"):
        read_code(b"")
    # a code object whose fields have the wrong types fits no layout
    broken = bytearray(marshal.dumps((lambda: 0).__code__))
    broken[21] = ord("N")  # co_code replaced by None
    with pytest.raises(BytecodeError, match="not a readable code object"):
        read_code(bytes(broken))


PLACEHOLDER = b"@@PLACEHOLDER@@"


def _dag_marshal(levels: int) -> bytes:
    """Marshal of t_n = (t_n-1, t_n-1), t_0 = (None,): 2**levels leaves in a few bytes.

    The inner tuple is written inline once (flagged, so it gets a reference number) and
    referred back to once; numbers count from 0, as in data written without any reference.
    """
    data = b"\xa9\x01N"  # FLAG_REF | ')' small tuple of 1: (None,), reference `levels`
    for level in range(1, levels + 1):
        data = b"\xa9\x02" + data + b"r" + (levels - level + 1).to_bytes(4, "little")
    return data


def _with_consts(extra: bytes, *nested: object) -> bytes:
    """Marshal of a real lambda whose last constant is replaced by raw marshal `extra`."""
    code = (lambda: 0).__code__.replace(co_consts=(None, *nested, PLACEHOLDER))
    data = marshal.dumps(code, 2)  # version 2 writes no references of its own
    encoded = b"s" + len(PLACEHOLDER).to_bytes(4, "little") + PLACEHOLDER
    assert data.count(encoded) == 1
    return data.replace(encoded, extra)


def test_shared_constants_cannot_blow_up():
    # 60 levels are a few hundred bytes, but walking them as a tree would never finish
    assert read_marshal(_dag_marshal(3)) == ((((None,),) * 2,) * 2,) * 2
    data = _with_consts(_dag_marshal(60))
    assert len(data) < 2000
    with pytest.raises(BytecodeError, match="holds more than 100000 constants"):
        read_code(data)
    assert read_code(_with_consts(_dag_marshal(3))).consts[1] == read_marshal(_dag_marshal(3))


def test_deeply_nested_and_numerous_code_objects_are_refused():
    inner = (lambda: 0).__code__
    many = (lambda: 0).__code__.replace(co_consts=(None,) + (inner,) * 600)
    with pytest.raises(BytecodeError, match="more than 500 code objects"):
        read_code(marshal.dumps(many))
    deep = inner
    for _ in range(120):
        deep = inner.replace(co_consts=(None, deep))
    with pytest.raises(BytecodeError, match="nested more than 200 levels deep"):
        read_code(marshal.dumps(deep))  # the reader's own limit: 2 levels per code object
    nested: tuple = ()
    for _ in range(150):
        nested = (nested,)
    assert TreeMeter().measure(nested).depth == MAX_TREE_DEPTH + 1
    with pytest.raises(BytecodeError, match="nested more than 100 levels deep"):
        TreeMeter().check(nested, "a tuple")


def test_tree_meter_sees_cycles():
    looped: list = []
    looped.append(looped)
    with pytest.raises(BytecodeError, match="more than"):
        TreeMeter().check(looped, "a list")
    assert TreeMeter().measure(((1, 2), [3])) == TreeSize(nodes=6, depth=3, codes=0)
