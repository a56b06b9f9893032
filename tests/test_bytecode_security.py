"""Stored code is read as data only: nothing is unpickled, unmarshalled, built or run."""

from __future__ import annotations

import ast
import base64
import builtins
import json
import marshal
import math as tfd_like
import os
import pickle
import types
from pathlib import Path

import cloudpickle
import pytest

import tfpcheck.model_file.bytecode as bytecode_package
from tfpcheck.model_file.bytecode.expr_query import (
    calls_in,
    contains_call,
    drops_rank,
    last_axis_slice,
    subscript_of,
    walk,
)
from tfpcheck.model_file.bytecode.functions import (
    dangerous_refs,
    read_cloudpickle_function,
    read_marshal_function,
    scan_pickle_globals,
)

DATA = Path(__file__).parent / "data" / "bytecode"
PACKAGE = Path(bytecode_package.__file__).parent
tf = None  # only compiled, never called


class _System:
    def __reduce__(self):
        return (os.system, ("touch MARKER",))


def _payloads() -> tuple[list[str | bytes], list[str | bytes]]:
    """(marshalled code, pickles): real payloads, made before anything is patched."""
    marshalled: list[str | bytes] = [
        marshal.dumps((lambda t: tfd_like.Normal(loc=t[..., :1], scale=tf.exp(t))).__code__),
        marshal.dumps((lambda x: x * 2).__code__),
    ]
    pickles: list[str | bytes] = [
        cloudpickle.dumps(lambda t: tfd_like.Normal(loc=t[..., :1], scale=tfd_like.exp(t))),
        pickle.dumps(_System()),
    ]
    for version in ("38", "310", "311", "312", "313"):
        for name, case in json.loads((DATA / f"py{version}.json").read_text())["cases"].items():
            (pickles if name.startswith("cp_") else marshalled).append(case["b64"])
    keras = json.loads((DATA / "keras_payloads.json").read_text())
    for model in keras.values():
        if "make_distribution_fn" in model:
            pickles.append(model["make_distribution_fn"])
        function = model["function"]
        marshalled.append(function[0] if isinstance(function, list) else function["config"]["code"])
    return marshalled, pickles


def _forbidden(name: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} called while reading stored code")

    return refuse


def test_entry_points_never_load_build_or_run_code(monkeypatch, tmp_path):
    marshalled, pickles = _payloads()
    monkeypatch.chdir(tmp_path)
    for module, name in [
        (pickle, "loads"),
        (pickle, "load"),
        (pickle, "Unpickler"),
        (marshal, "loads"),
        (marshal, "load"),
        (types, "CodeType"),
        (types, "FunctionType"),
        (builtins, "exec"),
        (builtins, "eval"),
        (builtins, "compile"),
    ]:
        monkeypatch.setattr(module, name, _forbidden(f"{module.__name__}.{name}"))

    described = []
    for data in marshalled:
        info = read_marshal_function(data, defaults=[1.0], closure=[{"x": 1}, 3])
        described.append(info)
    for data in pickles:
        info = read_cloudpickle_function(data)
        described.append(info)
        dangerous_refs(scan_pickle_globals(data))
    for info in described:
        for call in info.calls:
            call.short_name  # noqa: B018 - exercises the property
            for expr in (*call.args, *(v for _, v in call.kwargs)):
                expr.render()
                list(walk(expr))
                calls_in(expr)
                contains_call(expr, {"exp"})
                subscript_of(expr)
                last_axis_slice(expr)
                drops_rank(expr)
        if info.returns is not None:
            info.returns.render()
    monkeypatch.undo()

    assert len(described) == len(marshalled) + len(pickles)
    malicious = described[len(marshalled) + 1]
    assert malicious.dangerous == (f"{os.system.__module__}.system",)
    assert not (tmp_path / "MARKER").exists()


def test_malicious_pickle_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_System())
    for data in (payload, base64.b64encode(payload).decode("ascii")):
        info = read_cloudpickle_function(data)
        assert info.dangerous == (f"{os.system.__module__}.system",)
        assert scan_pickle_globals(data) == [(os.system.__module__, "system")]
    assert not (tmp_path / "MARKER").exists()


FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__", "setattr", "delattr"}
FORBIDDEN_MODULES = {"pickle", "_pickle", "marshal", "importlib", "types", "subprocess"}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_package_source_has_no_way_to_run_stored_code(path: Path):
    """No import of a deserializer and no call that turns data into code, anywhere."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & FORBIDDEN_MODULES, path
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in FORBIDDEN_MODULES, path
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, (path, node.lineno)
            if node.func.id == "getattr":  # only fixed attribute names, never computed ones
                assert isinstance(node.args[1], ast.Constant), (path, node.lineno)
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"loads", "load", "CodeType", "FunctionType"}, (
                path,
                node.lineno,
            )
