"""cloudpickled functions read by walking pickle opcodes, and the dangerous-reference rule."""

from __future__ import annotations

import base64
import marshal
import math
import math as tfd_like
import os
import os as _os_alias
import pickle
import subprocess

import cloudpickle
import pytest
from pickled_names import RECORDS_FILES, pickled_file, recorded_file

from tfpcheck.model_file.bytecode.errors import BytecodeError
from tfpcheck.model_file.bytecode.functions import (
    dangerous_refs,
    read_cloudpickle_function,
    read_marshal_function,
    scan_pickle_globals,
)
from tfpcheck.model_file.bytecode.pickle_scan import code_from_args
from tfpcheck.model_file.bytecode.versions import RUNNING
from tfpcheck.model_file.types import CallSite, Expr

OneHotCategorical = tf = None  # only compiled, never called
SYSTEM = f"{os.system.__module__}.system"  # posix.system, or nt.system on Windows
CLOUDPICKLE = "cloudpickle.cloudpickle"


def module_level_function(t):
    return t


def line_of(func) -> int:
    return func.__code__.co_firstlineno


def test_lambda_with_a_module_global():
    f = (  # noqa: E731
        lambda t: tfd_like.Normal(loc=t[..., :1], scale=1e-3 + tfd_like.softplus(0.05 * t[..., 1:]))
    )
    info = read_cloudpickle_function(cloudpickle.dumps(f))
    assert info.source == "cloudpickle"
    assert info.name == "<lambda>"
    assert info.qualname == "test_lambda_with_a_module_global.<locals>.<lambda>"
    assert info.module == __name__
    assert info.filename == recorded_file(f) == pickled_file(__file__)
    assert info.source_file == (__file__ if RECORDS_FILES else None)
    assert info.firstlineno == line_of(f)
    assert info.argnames == ("t",)
    assert info.names == ("tfd_like", "Normal", "softplus")
    assert info.global_modules == ("math",)
    assert info.global_refs == (("tfd_like", "math"),)
    assert info.pickle_globals == (
        (CLOUDPICKLE, "_make_function"),
        (CLOUDPICKLE, "_builtin_type"),
        ("builtins", "Ellipsis"),
        (CLOUDPICKLE, "_function_setstate"),
        (CLOUDPICKLE, "subimport"),
    )
    assert info.dangerous == ()
    assert info.python_version == RUNNING
    assert info.version_mismatch is False
    assert info.returns is not None
    assert info.returns.render() == (
        "tfd_like.Normal(loc=t[..., :1], scale=0.001 + tfd_like.softplus(0.05 * t[..., 1:]))"
    )
    assert [(c.callee, c.line) for c in info.calls] == [
        ("tfd_like.softplus", line_of(f)),
        ("tfd_like.Normal", line_of(f)),
    ]


def test_closure_values_and_defaults():
    def make(event_size):
        return lambda t, dtype="int32": OneHotCategorical.new(t, event_size, dtype=dtype)

    inner = make(10)
    info = read_cloudpickle_function(base64.b64encode(cloudpickle.dumps(inner)).decode())
    assert info.freevars == ("event_size",)
    assert info.closure_values == (10,)
    assert info.closure() == {"event_size": 10}
    assert info.defaults == ("int32",)
    assert info.global_modules == ()
    assert info.global_refs == (("OneHotCategorical", "None"),)  # this module's global
    assert info.calls == (
        CallSite(
            "OneHotCategorical.new",
            args=(Expr("name", "t"), Expr("name", "event_size")),
            kwargs=(("dtype", Expr("name", "dtype")),),
            line=line_of(inner),
        ),
    )


def test_closure_over_functions_and_empty_cells():
    def make():
        def helper(t):
            return tfd_like.exp(t)

        if False:
            later = None  # a cell that is never filled
        return lambda t: helper(t) + later

    info = read_cloudpickle_function(cloudpickle.dumps(make()))
    assert info.freevars == ("helper", "later")
    qualname = "test_closure_over_functions_and_empty_cells.<locals>.make.<locals>.helper"
    assert info.closure_values == (f"<function {qualname}>", "<empty cell>")
    (helper,) = info.referenced_functions
    assert helper.qualname == qualname
    assert helper.global_modules == ("math",)
    assert [c.callee for c in helper.calls] == ["tfd_like.exp"]
    assert info.returns is not None
    assert info.returns.render() == "helper(t) + later"


def test_functions_pickled_by_reference_store_no_code():
    info = read_cloudpickle_function(cloudpickle.dumps(module_level_function))
    assert info.name == "module_level_function"
    assert info.module == __name__
    assert info.filename is None
    assert info.calls == ()
    assert info.notes == (
        f"pickled by reference to {__name__}.module_level_function: no code stored",
    )
    builtin = read_cloudpickle_function(cloudpickle.dumps(math.sqrt))
    assert (builtin.module, builtin.name, builtin.pickle_globals) == (
        "math",
        "sqrt",
        (("math", "sqrt"),),
    )


def test_a_pickle_that_is_no_function():
    info = read_cloudpickle_function(cloudpickle.dumps([1, 2]))
    assert info.name == "<unknown>"
    assert info.notes == ("the pickle builds a list, not a function",)
    assert info.dangerous == ()


class _System:
    def __reduce__(self):
        return (os.system, ("touch MARKER",))


def test_malicious_pickle_is_described_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_System())
    info = read_cloudpickle_function(payload)
    assert info.dangerous == (SYSTEM,)
    assert info.pickle_globals == ((os.system.__module__, "system"),)
    assert info.notes == (f"the pickle builds the result of calling {SYSTEM}(...), not a function",)
    assert scan_pickle_globals(payload) == [(os.system.__module__, "system")]
    assert scan_pickle_globals(base64.b64encode(payload).decode()) == [
        (os.system.__module__, "system")
    ]
    # broken after the call: still reported, since unpickling would have run it
    with pytest.raises(BytecodeError, match="malformed pickle") as caught:
        read_cloudpickle_function(payload[:-1])
    assert caught.value.dangerous == (SYSTEM,)
    assert caught.value.pickle_globals == ((os.system.__module__, "system"),)
    assert scan_pickle_globals(payload[:-1]) == [(os.system.__module__, "system")]
    with pytest.raises(BytecodeError):
        scan_pickle_globals(payload[:-1], strict=True)
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_names_its_globals(protocol):
    # fix_imports=False: protocols 0-2 would otherwise rename modules for Python 2
    payload = pickle.dumps([os.system, subprocess.Popen, len], protocol, fix_imports=False)
    assert scan_pickle_globals(payload) == [
        (os.system.__module__, "system"),
        ("subprocess", "Popen"),
        ("builtins", "len"),
    ]


def test_computed_global_names_are_dangerous():
    payload = b"\x80\x04K\x01K\x02\x93."  # STACK_GLOBAL of module 1, name 2
    assert scan_pickle_globals(payload) == [("<dynamic>", "<dynamic>")]
    assert dangerous_refs(scan_pickle_globals(payload)) == ("<dynamic>.<dynamic>",)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "pickle exhausted"),
        (b"\x80\x05\xff", "at position 2"),
        (b"\x80\x05h\x07.", "memo key 7"),
        (b"\x80\x050.", "no MARK"),
        (b"\x80\x05R.", "stack underflow"),
        (b"\x80\x05(" * 10_001, "too many nested MARKs"),
        (b"\x80\x05}]K\x01s.", "unhashable"),
    ],
)
def test_malformed_pickles(payload, message):
    with pytest.raises(BytecodeError, match=message):
        read_cloudpickle_function(payload)


def test_bad_inputs_raise_bytecode_error_only():
    with pytest.raises(BytecodeError, match="not valid base64"):
        read_cloudpickle_function("gA=")
    with pytest.raises(BytecodeError, match="bytes or base64 text"):
        read_cloudpickle_function(12)  # type: ignore[arg-type]
    with pytest.raises(BytecodeError, match="bytes or base64 text"):
        read_marshal_function(None)  # type: ignore[arg-type]
    with pytest.raises(BytecodeError, match="not a code object"):
        read_marshal_function(cloudpickle.dumps(module_level_function))


def test_dangerous_code_in_marshalled_lambdas():
    def danger(func) -> tuple[str, ...]:
        return read_marshal_function(marshal.dumps(func.__code__)).dangerous

    assert danger(lambda: os.system("true")) == ("os.system",)
    assert danger(lambda: __import__("os").system("true")) == ("builtins.__import__", "os.system")
    assert danger(lambda p: subprocess.run(p)) == ("subprocess.run",)
    assert danger(lambda t: eval(t)) == ("builtins.eval",)
    assert danger(lambda model: model.compile(model.open)) == ()  # attributes, not builtins
    assert danger(lambda t: tf.io.gfile.exists(t)) == ()


def test_dangerous_code_behind_a_module_alias():
    f = lambda: _os_alias.system("true")  # noqa: E731
    info = read_cloudpickle_function(cloudpickle.dumps(f))
    assert info.global_modules == ("os",)
    assert info.global_refs == (("_os_alias", "os"),)
    assert info.dangerous == ("os.system",)


def test_dangerous_refs_rule():
    globals_ = [
        ("os", "system"),
        ("builtins", "eval"),
        ("__builtin__", "open"),
        ("builtins", "len"),
        ("sys", "modules"),
        ("sys", "path"),
        ("subprocess", "Popen"),
        ("cloudpickle.cloudpickle", "subimport"),
        ("<extension>", "42"),
    ]
    assert dangerous_refs(globals_) == (
        "os.system",
        "builtins.eval",
        "__builtin__.open",
        "sys.modules",
        "subprocess.Popen",
        "<extension>.42",
    )
    assert dangerous_refs(code_names=["os", "system"], code_globals=["os"]) == ("os.system",)
    assert dangerous_refs(code_names=["model", "compile"], code_globals=["model"]) == ()
    # unknown bytecode: every name may be a global
    assert dangerous_refs(code_names=["model", "compile"]) == ("builtins.compile",)
    assert dangerous_refs(code_names=["o", "system"], code_globals=["o"], aliases={"o": "os"}) == (
        "os.system",
    )
    assert dangerous_refs(code_names=["os", "path", "join"], code_globals=["os"]) == ()


def _codetype_args(code, consts) -> tuple:
    """The 18 arguments cloudpickle gives CodeType under 3.11+, from a live code object."""
    return (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_nlocals,
        code.co_stacksize,
        code.co_flags,
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_filename,
        code.co_name,
        code.co_qualname,
        code.co_firstlineno,
        code.co_linetable,
        code.co_exceptiontable,
        code.co_freevars,
        code.co_cellvars,
    )


@pytest.mark.skipif(RUNNING < (3, 11), reason="co_qualname and co_exceptiontable are 3.11+")
def test_codetype_arguments_are_checked():
    code = (lambda: 1).__code__
    built = code_from_args(_codetype_args(code, code.co_consts))
    assert (built.layout, built.name, built.consts, built.firstlineno) == (
        "3.11+",
        "<lambda>",
        code.co_consts,
        code.co_firstlineno,
    )
    deep: tuple = ()
    for _ in range(5000):
        deep = (deep,)
    with pytest.raises(BytecodeError, match="co_consts is nested more than 100 levels deep"):
        code_from_args(_codetype_args(code, deep))
    with pytest.raises(BytecodeError, match="wrong types"):
        code_from_args(_codetype_args(code, [1]))
    with pytest.raises(BytecodeError, match="2 arguments"):
        code_from_args((1, 2))


def test_shared_constants_in_a_pickle_cannot_blow_up():
    placeholder = b"@@PLACEHOLDER@@"
    f = lambda: 0  # noqa: E731
    f.__code__ = f.__code__.replace(co_consts=(None, placeholder))
    data = cloudpickle.dumps(f)
    encoded = b"C" + bytes([len(placeholder)]) + placeholder  # SHORT_BINBYTES
    assert data.count(encoded) == 1
    # t_0 = (None,) by NONE TUPLE1, then 60 times t = (t, t) by DUP TUPLE2
    hostile = data.replace(encoded, b"N\x85" + b"2\x86" * 60)
    with pytest.raises(BytecodeError, match="co_consts holds more than 100000 constants"):
        read_cloudpickle_function(hostile)
    small = read_cloudpickle_function(data.replace(encoded, b"N\x85" + b"2\x86" * 2))
    assert small.consts == (None, (((None,), (None,)), ((None,), (None,))))
