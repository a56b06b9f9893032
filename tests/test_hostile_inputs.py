"""Broken and hostile inputs through the command line: one line naming the file and what is
wrong, exit 2, no traceback, and the next file still checked.

The reader's messages are tested one by one in test_model_file_errors.py; here each case runs
the whole command, beside a good model.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, model_path

from tfpcheck.model_file import keras_archive
from tfpcheck.model_file.limits import MAX_CONFIG_BYTES, MiB

GOOD = "k3_softmax_from_logits.keras"  # TFP202, statically


def _assert_one_clear_line(result, path: Path | str, message: str) -> None:
    """The text report: the path on its own line, then `TFP001 error <message>`, once."""
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(str(path))
    assert lines[at + 1] == f"  TFP001 error {message}"
    assert sum("TFP001" in line for line in lines) == 1
    assert "TFP202" in result.stdout  # the good model after it was still checked


def _check(run_cli, path: Path | str, *options: str):
    return run_cli("--static", *options, str(path), model_path(GOOD))


def test_symlink_loop(run_cli, tmp_path: Path) -> None:
    a, b = tmp_path / "a.keras", tmp_path / "b.keras"
    a.symlink_to(b)
    b.symlink_to(a)
    result = _check(run_cli, a)
    _assert_one_clear_line(result, a, "cannot access the file (Too many levels of symbolic links)")


def test_dangling_symlink(run_cli, tmp_path: Path) -> None:
    link = tmp_path / "model.keras"
    link.symlink_to(tmp_path / "gone.keras")
    _assert_one_clear_line(_check(run_cli, link), link, "no such file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_fifo_is_refused_without_blocking(run_cli, tmp_path: Path) -> None:
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    _assert_one_clear_line(
        _check(run_cli, fifo),
        fifo,
        "not a regular file: expected a .keras archive (zip), an .h5 file or a SavedModel "
        "directory",
    )


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs a UNIX socket")
def test_socket_is_refused(run_cli) -> None:
    # A short directory: UNIX socket paths are limited to about 100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="tfp"))
    path = folder / "m.keras"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        result = _check(run_cli, path)
    finally:
        server.close()
        shutil.rmtree(folder)
    _assert_one_clear_line(
        result,
        path,
        "not a regular file: expected a .keras archive (zip), an .h5 file or a SavedModel "
        "directory",
    )


def _unprivileged() -> dict:
    """How to run a command as a user that a chmod 000 file stops (root reads anything)."""
    if not hasattr(os, "geteuid"):
        pytest.skip("needs POSIX permissions")
    return {"user": 65534, "group": 65534} if os.geteuid() == 0 else {}


def test_unreadable_file(tmp_path: Path) -> None:
    """A real permission error: as root, the command runs as nobody (uid 65534)."""
    drop = _unprivileged()
    # A world-traversable directory: pytest's tmp_path parents are private to their owner.
    folder = Path(tempfile.mkdtemp(prefix="tfpcheck-perm-"))
    path = folder / "model.keras"
    try:
        folder.chmod(0o755)
        shutil.copy(model_path(GOOD), path)
        path.chmod(0)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HOME": str(folder)}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tfpcheck", "--static", str(path), model_path(GOOD)],
                capture_output=True,
                text=True,
                env=env,
                cwd=folder,
                timeout=120,
                **drop,
            )
        except PermissionError as exc:  # e.g. the interpreter lives under /root
            pytest.skip(f"uid 65534 cannot run {sys.executable} here ({exc})")
        if "No module named" in done.stderr:
            pytest.skip(f"uid 65534 cannot import tfpcheck here: {done.stderr[-200:]}")
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[lines.index(str(path)) + 1] == "  TFP001 error permission denied"
        assert "Traceback" not in done.stdout + done.stderr
        assert "TFP202" in done.stdout
    finally:
        path.chmod(0o644)
        shutil.rmtree(folder)


def test_unreadable_file_error_path(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """What the OS says to a user who may not read the file, wherever the test runs (the test
    above needs another user, which root-only containers may not be able to run)."""
    path = tmp_path / "model.keras"
    shutil.copy(model_path(GOOD), path)
    real_open = Path.open

    def deny(self: Path, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    _assert_one_clear_line(_check(run_cli, path), path, "permission denied")


def test_config_over_the_size_limit_is_not_read(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config.json that says it is past the limit is refused from the zip header alone."""
    path = tmp_path / "huge.keras"
    size = MAX_CONFIG_BYTES + MiB
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("config.json", "w") as fh,
    ):
        fh.write(b'{"class_name": "Sequential", "pad": "')
        block = b" " * MiB
        for _ in range(size // MiB):
            fh.write(block)
        fh.write(b'"}')
    assert path.stat().st_size < 2 * MiB  # compressed: cheap to write, huge to read
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    result = _check(run_cli, path, "--no-cache")  # the good model is really read again
    _assert_one_clear_line(
        result,
        path,
        f"config.json is {size // MiB} MiB, more than the {MAX_CONFIG_BYTES // MiB} MiB a "
        "model config can reasonably be: refusing to read it",
    )
    assert opened.count("config.json") == 1  # the good model's: the huge one was never opened


def test_config_whose_header_lies_about_its_size(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zip header says 10 bytes for 3 MiB: reading stops at the header's size, and the
    checksum of those 10 bytes then fails; never a read of the real size."""
    monkeypatch.setattr(keras_archive, "MAX_CONFIG_BYTES", 1 * MiB)
    path = tmp_path / "liar.keras"
    body = b'{"class_name": "Sequential", "pad": "' + b" " * (3 * MiB) + b'"}'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", body)
    data = bytearray(path.read_bytes())
    # uncompressed size: offset 22 in the local header, 24 in the central directory entry
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at : at + 4] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    _assert_one_clear_line(
        _check(run_cli, path),
        path,
        "truncated or corrupt zip archive (config.json: Bad CRC-32 for file 'config.json')",
    )


def _saved_model_copy(tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(model_path("tfk_savedmodel"), copy)
    return copy


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("saved_model.pb", "is a directory but not a SavedModel (no saved_model.pb)"),
        (
            "variables",
            "is an incomplete SavedModel: variables/ is missing; copy the whole directory "
            "that model.save() wrote",
        ),
        (
            "variables/variables.index",
            "is an incomplete SavedModel: variables/variables.index is missing; copy the "
            "whole directory that model.save() wrote",
        ),
        (
            "variables/variables.data-00000-of-00001",
            "is an incomplete SavedModel: variables/variables.data-* is missing; copy the "
            "whole directory that model.save() wrote",
        ),
    ],
)
def test_saved_model_missing_files(run_cli, tmp_path: Path, remove: str, message: str) -> None:
    folder = _saved_model_copy(tmp_path, "model_savedmodel")
    target = folder / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    _assert_one_clear_line(_check(run_cli, folder), folder, message)


def test_complete_saved_model_copy_is_accepted(run_cli, tmp_path: Path) -> None:
    folder = _saved_model_copy(tmp_path, "model_savedmodel")
    result = run_cli("--static", "--format", "json", str(folder))
    assert result.exit_code == 0
    assert result.json()["files"][0]["error"] is None


def test_truncated_h5(run_cli, tmp_path: Path) -> None:
    data = Path(model_path("tfk_softmax_categorical.h5")).read_bytes()
    path = tmp_path / "model.h5"
    path.write_bytes(data[: len(data) // 2])
    _assert_one_clear_line(
        _check(run_cli, path), path, "not a readable HDF5 file (truncated or corrupt)"
    )


def test_truncated_keras(run_cli, tmp_path: Path) -> None:
    data = Path(model_path(GOOD)).read_bytes()
    path = tmp_path / "model.keras"
    path.write_bytes(data[: len(data) // 3])
    _assert_one_clear_line(_check(run_cli, path), path, "truncated or corrupt zip archive")


def test_broken_inputs_in_json(run_cli, tmp_path: Path) -> None:
    """The same cases in one call: each file has its own error, the good one its finding."""
    loop = tmp_path / "loop.keras"
    loop.symlink_to(loop)
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    not_json = tmp_path / "bad.keras"
    with zipfile.ZipFile(not_json, "w") as zf:
        zf.writestr("config.json", "{oops")
    no_vars = _saved_model_copy(tmp_path, "no_vars")
    shutil.rmtree(no_vars / "variables")
    paths = [str(p) for p in (loop, empty, not_json, no_vars)] + [model_path(GOOD)]
    result = run_cli("--static", "--format", "json", *paths)
    assert result.exit_code == 2
    files = result.json()["files"]
    assert [f["path"] for f in files] == paths
    errors = [f["error"] for f in files]
    assert [e["code"] if e else None for e in errors] == ["TFP001"] * 4 + [None]
    assert [e["message"] for e in errors[:4]] == [
        "cannot access the file (Too many levels of symbolic links)",
        "file is empty",
        "config.json is not valid JSON (line 1 column 2)",
        "is an incomplete SavedModel: variables/ is missing; copy the whole directory that "
        "model.save() wrote",
    ]
    assert [f["code"] for f in files[4]["findings"]] == ["TFP202"]
    assert stat.S_ISLNK(os.lstat(loop).st_mode)  # nothing was "fixed" on disk
