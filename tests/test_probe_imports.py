"""The probe worker's record of the user's modules a probe imported, and their forgetting."""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import tfpcheck
from tfpcheck.probe.imports import UserImports, is_user_file
from tfpcheck.user_files import UserFile, file_sha256, unchanged


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A factory's directory: a sibling module, a package and a namespace package."""
    (tmp_path / "sibling_cfg.py").write_text("UNITS = 2\n")
    (tmp_path / "pkg_heads").mkdir()
    (tmp_path / "pkg_heads" / "__init__.py").write_text("")
    (tmp_path / "pkg_heads" / "normal.py").write_text("from sibling_cfg import UNITS\n")
    (tmp_path / "ns_heads").mkdir()
    (tmp_path / "ns_heads" / "wide.py").write_text("UNITS = 64\n")
    return tmp_path


def _import_all(directory: Path) -> None:
    sys.path.insert(0, str(directory))
    importlib.import_module("pkg_heads.normal")
    importlib.import_module("ns_heads.wide")


def test_the_users_files_are_named_by_content_and_forgotten(project: Path) -> None:
    path_before = list(sys.path)
    imports = UserImports()
    _import_all(project)
    importlib.import_module("tfpcheck.user_files")  # tfpcheck's own: not the user's
    files = imports.finish()
    expected = [
        project / "ns_heads" / "wide.py",
        project / "pkg_heads" / "__init__.py",
        project / "pkg_heads" / "normal.py",
        project / "sibling_cfg.py",
    ]
    assert files == tuple(UserFile(str(p), file_sha256(str(p))) for p in expected)
    for name in ("sibling_cfg", "pkg_heads", "pkg_heads.normal", "ns_heads", "ns_heads.wide"):
        assert name not in sys.modules
    assert sys.path == path_before
    assert "tfpcheck.user_files" in sys.modules


def test_a_second_probe_imports_the_edited_module(project: Path) -> None:
    first = UserImports()
    _import_all(project)
    assert sys.modules["pkg_heads.normal"].UNITS == 2
    [*_, sibling] = first.finish() or ()
    (project / "sibling_cfg.py").write_text("UNITS = 64\n")
    second = UserImports()
    _import_all(project)
    assert sys.modules["pkg_heads.normal"].UNITS == 64
    [*_, edited] = second.finish() or ()
    assert edited.path == sibling.path == str(project / "sibling_cfg.py")
    assert edited.sha256 != sibling.sha256
    assert unchanged([edited]) and not unchanged([sibling])


def test_a_file_written_during_the_probe_pins_nothing(project: Path) -> None:
    imports = UserImports()
    _import_all(project)
    time.sleep(0.05)  # past a tick of the clock the file system stamps files with
    (project / "sibling_cfg.py").write_text("UNITS = 3\n")  # an editor saving meanwhile
    assert imports.finish() is None
    assert "pkg_heads.normal" not in sys.modules


def test_a_module_imported_before_the_probe_is_not_its_own(project: Path) -> None:
    _import_all(project)
    try:
        imports = UserImports()
        importlib.import_module("pkg_heads.normal")
        assert imports.finish() == ()
        assert "pkg_heads.normal" in sys.modules
    finally:
        for name in ("sibling_cfg", "pkg_heads", "pkg_heads.normal", "ns_heads", "ns_heads.wide"):
            sys.modules.pop(name, None)
        sys.path.remove(str(project))


def test_python_libraries_and_tfpcheck_are_not_the_users(tmp_path: Path) -> None:
    assert is_user_file(str(tmp_path / "factory.py"))
    assert not is_user_file(os.__file__)
    assert not is_user_file(pytest.__file__)
    assert not is_user_file(os.path.join(sysconfig.get_paths()["purelib"], "x.py"))
    assert not is_user_file(str(Path(tfpcheck.__file__).parent / "engine.py"))
    assert not is_user_file("/home/u/env/lib/python3.11/site-packages/mylib/x.py")
    assert not is_user_file("<frozen importlib._bootstrap>")
    # TensorFlow's autograph writes converted functions to temporary modules.
    assert not is_user_file(str(tmp_path / "__autograph_generated_filek2j8d.py"))


def test_unchanged_reads_every_file(tmp_path: Path) -> None:
    file = tmp_path / "heads.py"
    file.write_text("UNITS = 2\n")
    pinned = UserFile(str(file), file_sha256(str(file)))
    assert unchanged([pinned])
    file.write_text("UNITS = 4\n")  # same size, same second: the content decides
    assert not unchanged([pinned])
    file.unlink()
    assert not unchanged([pinned])
    assert unchanged([])
