"""The order --jobs starts its checks in: the costliest model first (results keep theirs)."""

from __future__ import annotations

from pathlib import Path

from tfpcheck.job_order import UNKNOWN, costliest_first, estimated_cost


def _file(path: Path, size: int) -> str:
    path.write_bytes(b"\0" * size)
    return str(path)


def test_a_file_costs_its_size_and_a_directory_all_it_holds(tmp_path: Path) -> None:
    saved = tmp_path / "saved_model"
    (saved / "variables").mkdir(parents=True)
    _file(saved / "saved_model.pb", 300)
    _file(saved / "variables" / "variables.data-00000-of-00001", 5000)
    assert estimated_cost(_file(tmp_path / "m.keras", 1234)) == 1234
    assert estimated_cost(str(saved)) == 5300


def test_a_factory_goes_first_and_an_unreadable_path_last(tmp_path: Path) -> None:
    assert estimated_cost("models.py:build_model") == UNKNOWN
    assert estimated_cost("pkg.models:build_model") == UNKNOWN
    assert estimated_cost(str(tmp_path / "missing.keras")) == 0


def test_costliest_first_keeps_the_given_order_among_equals(tmp_path: Path) -> None:
    small = _file(tmp_path / "small.keras", 10)
    big = _file(tmp_path / "big.h5", 9000)
    small_too = _file(tmp_path / "small_too.keras", 10)
    missing = str(tmp_path / "missing.keras")
    order = costliest_first([small, missing, big, "models.py:build", small_too])
    assert order == ["models.py:build", big, small, small_too, missing]
