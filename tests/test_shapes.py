"""The shapes table: `tfpcheck shapes PATH`, its JSON, the cache, and the plain data behind it.

The probe runs in the worker (this process never imports TensorFlow); each model is probed
once per module and its table read in both formats.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import FIXTURES, CliResult, model_path, source_line

from tfpcheck.findings import Where
from tfpcheck.shapes import DistRow, DistShape, LossShapes, Shapes, ShapeTable

LOSSES = FIXTURES / "losses.py"
DENSE64 = "tfk_normal_dense64_relu.keras"


def _cli(*args: str) -> CliResult:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from tfpcheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def dense64() -> dict[str, CliResult]:
    path = model_path(DENSE64)
    return {
        "text": _cli("shapes", path, "--unsafe", "--no-cache"),
        "json": _cli("shapes", path, "--unsafe", "--no-cache", "--format", "json"),
    }


def _only_table(result: CliResult) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    (entry,) = result.json()["files"]
    (table,) = entry["shapes"]
    return table  # type: ignore[no-any-return]


def test_dense64_into_a_normal_shows_63_normals_per_example(dense64: dict[str, CliResult]) -> None:
    text = dense64["text"]
    assert text.exit_code == 0, text.stderr
    line = source_line("lambda t: tfd.Normal(loc=t[..., :1]", after="def build_tfk_normal(")
    row = next(r for r in text.stdout.splitlines() if "Normal" in r and "layer" in r)
    # the file the lambda was saved from, as it was recorded (absolute where it is not here)
    where = re.escape("layer 'normal' (#1), function <lambda>, ")
    assert re.search(where + rf"(\S*/)?fixtures/build_fixtures\.py:{line}\b", row), row
    assert "(1, 63) | ()" in row and "(32, 63) | ()" in row
    assert "N = 32, targets (N, 63) (synthesized)" in text.stdout
    # the findings are named, and where to see them
    assert "2 errors, 1 warning (TFP104, TFP105, TFP303)" in text.stdout


def test_dense64_table_in_json(dense64: dict[str, CliResult]) -> None:
    table = _only_table(dense64["json"])
    (row,) = table["distributions"]
    assert row["distribution"] == "Normal"
    assert row["built_by"] == "model"
    assert row["where"]["layer"] == "normal" and row["where"]["layer_index"] == 1
    assert row["at_1"] == {
        "batch_shape": [1, 63],
        "event_shape": [],
        "value_shape": [1, 63],
        "log_prob_shape": [1, 63],
    }
    assert row["at_n"]["batch_shape"] == [32, 63]
    assert table["loss"]["loss"] == "nll"
    assert table["loss"]["per_example"] == {"at_1": [1, 63], "at_n": [32, 63]}
    entry = dense64["json"].json()["files"][0]
    assert entry["probed"] is True and entry["findings"] == ["TFP104", "TFP105", "TFP303"]


def test_a_loss_that_broadcasts_shows_the_n_by_n_log_prob() -> None:
    path = model_path("k3_regression_dense2.keras")
    loss = f"{LOSSES}:normal_nll_rank_dropping"
    result = _cli("shapes", path, "--loss", loss, "--format", "json", "--no-cache")
    table = _only_table(result)
    (row,) = table["distributions"]
    assert row["built_by"] == "loss"
    assert row["where"]["function"] == "normal_nll_rank_dropping"
    assert row["where"]["line"] == source_line("loc=y_pred[:, 0], scale", path=LOSSES)
    assert row["at_1"]["batch_shape"] == [1]
    assert row["at_n"] == {
        "batch_shape": [32],
        "event_shape": [],
        "value_shape": [32, 1],
        "log_prob_shape": [32, 32],
    }
    assert table["loss"]["y_true"] == {"at_1": [1, 1], "at_n": [32, 1]}
    assert table["loss"]["y_pred"] == {"at_1": [1, 2], "at_n": [32, 2]}
    assert table["loss"]["per_example"] == {"at_1": [1, 1], "at_n": [32, 32]}
    assert result.json()["files"][0]["findings"] == ["TFP101"]


def test_rows_follow_call_order_inner_distribution_first() -> None:
    result = _cli(
        "shapes", model_path("tfk_independent_normal.keras"), "--unsafe", "--format", "json"
    )
    rows = _only_table(result)["distributions"]
    # IndependentNormal builds Normal (32, 1), then Independent over its last axis
    assert [r["distribution"] for r in rows] == ["Normal", "Independent"]
    normal, independent = rows
    assert normal["at_n"]["batch_shape"] == [32, 1] and normal["at_n"]["value_shape"] is None
    assert independent["at_n"]["batch_shape"] == [32]
    assert independent["at_n"]["event_shape"] == [1]
    assert independent["at_n"]["value_shape"] == [32, 1]
    assert independent["at_n"]["log_prob_shape"] == [32]


def test_every_output_of_a_model_with_several_gets_a_table() -> None:
    result = _cli("shapes", model_path("k3_two_heads.keras"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    tables = result.json()["files"][0]["shapes"]
    assert [t["output"] for t in tables] == ["value", "probs"]
    assert [t["loss"]["loss"] for t in tables] == ["mean_squared_error", "categorical_crossentropy"]
    assert tables[1]["loss"]["y_true"]["at_n"] == [32, 3]


def test_the_table_comes_back_from_the_cache() -> None:
    path = model_path("tfk_independent_normal.keras")
    first = _cli("shapes", path, "--unsafe", "--format", "json")
    check = _cli(path, "--unsafe", "--format", "json")
    again = _cli("shapes", path, "--unsafe", "--format", "json")
    assert check.json()["files"][0]["cached"] is True
    assert again.json() == first.json()


def test_static_has_no_table_and_exits_2() -> None:
    result = _cli("shapes", model_path("tfk_independent_normal.keras"), "--static")
    assert result.exit_code == 2
    assert "no shapes: not probed (--static: only the static tier ran)" in result.stdout


def test_a_file_that_cannot_be_read_exits_2_and_the_others_still_show(tmp_path: Any) -> None:
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    result = _cli("shapes", str(broken), model_path("tfk_independent_normal.keras"), "--unsafe")
    assert result.exit_code == 2
    assert "TFP001 error" in result.stdout
    assert "Independent" in result.stdout


def test_only_text_and_json() -> None:
    result = _cli("shapes", model_path(DENSE64), "--format", "sarif")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "tfpcheck: error: tfpcheck shapes writes text or json, not --format sarif"
    )


# ---- the plain data -----------------------------------------------------------------------


def _table() -> ShapeTable:
    row = DistRow(
        Where(layer="head<1>", layer_index=2),
        "Normal",
        False,
        DistShape((1, 63), ()),
        DistShape((32, 63), (), (32, 1), (32, 63)),
    )
    in_loss = DistRow(
        Where(function="nll", file="losses.py", line=7),
        "Normal",
        True,
        DistShape((1,), (), (1, 1), (1, 1)),
        DistShape((32,), (), (32, 1), (32, 32)),
    )
    loss = LossShapes("losses.py:nll", (1, 1), (32, 1), (1, 2), (32, 2), (1, 1), (32, 32))
    return ShapeTable(32, "(N, 1)", "data", (row, in_loss), loss, output="out")


def test_a_table_survives_json() -> None:
    import json

    table = _table()
    assert ShapeTable.from_dict(json.loads(json.dumps(table.as_dict()))) == table


def test_table_lines_are_aligned() -> None:
    lines = _table().lines()
    assert lines[0] == "output 'out': N = 32, targets (N, 1) (data)"
    header, first, second = lines[1:4]
    assert header.index("distribution") == first.index("Normal") == second.index("Normal")
    assert "loss: function nll, losses.py:7" in second
    assert second.rstrip().endswith("(32, 32)")
    assert lines[4] == (
        "loss losses.py:nll: y_true (32, 1), y_pred (32, 2), per example (32, 32) "
        "(at batch 1: (1, 1))"
    )


def test_shapes_is_a_sequence_of_rows_and_renders() -> None:
    shapes = Shapes((_table(),))
    assert len(shapes) == 2
    assert shapes[1].at_n is not None and shapes[1].at_n.log_prob == (32, 32)
    assert [r.in_loss for r in shapes] == [False, True]
    page = shapes._repr_html_()
    assert "layer &#x27;head&lt;1&gt;&#x27; (#2)" in page and "<1>" not in page
    assert "<td>(32, 63) | ()</td>" in page
    assert str(shapes).splitlines()[0] == "output 'out': N = 32, targets (N, 1) (data)"
    assert str(Shapes()) == "no shapes: the model was not probed"
    assert shapes.to_dict()[0]["distributions"][1]["built_by"] == "loss"
