"""Tell a model file's format from its content (never from its extension)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tfpcheck.model_file.types import FileFormat, ModelReadError

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"  # an archive with no members is still a zip
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# HDF5 allows a user block before the superblock; the signature then sits at 512, 1024, ...
HDF5_OFFSETS = (0, 512, 1024, 2048)
SAVED_MODEL_PB = "saved_model.pb"

EXPECTED = "expected a .keras archive (zip), an .h5 file or a SavedModel directory"


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """Return the format of `path` or raise ModelReadError saying what it is instead."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelReadError("no such file") from None
    except PermissionError:
        raise ModelReadError("permission denied") from None
    except OSError as exc:
        raise ModelReadError(f"cannot access the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        return _detect_directory(p)
    if not stat.S_ISREG(st.st_mode):
        # reading a FIFO or a device could block forever
        raise ModelReadError(f"not a regular file: {EXPECTED}")
    if st.st_size == 0:
        raise ModelReadError("file is empty")
    head = _read_head(p, max(HDF5_OFFSETS) + len(HDF5_MAGIC))
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "keras_zip"
    if any(head[o : o + len(HDF5_MAGIC)] == HDF5_MAGIC for o in HDF5_OFFSETS):
        return "h5"
    if p.name == SAVED_MODEL_PB:
        raise ModelReadError(
            "is the saved_model.pb of a SavedModel: pass the directory that contains it"
        )
    raise ModelReadError(f"not a Keras model: {EXPECTED}; this file {describe_content(head)}")


def _detect_directory(p: Path) -> FileFormat:
    try:
        if (p / SAVED_MODEL_PB).is_file():
            _check_saved_model_variables(p)
            return "savedmodel"
        # Keras 3 `model.save(path, zipped=False)` writes the archive's members to a directory,
        # and keras.saving.load_model reads such a directory when it holds config.json.
        if (p / "config.json").is_file():
            return "keras_dir"
    except PermissionError:
        raise ModelReadError("permission denied") from None
    except OSError as exc:
        raise ModelReadError(f"cannot look into the directory ({exc.strerror or exc})") from None
    raise ModelReadError("is a directory but not a SavedModel (no saved_model.pb)")


def _check_saved_model_variables(p: Path) -> None:
    # TensorFlow writes variables/ for every SavedModel, even one without weights; without it
    # loading fails deep inside TensorFlow with a checkpoint error.
    variables = p / "variables"
    if not variables.is_dir():
        missing = "variables/"
    elif not (variables / "variables.index").is_file():
        missing = "variables/variables.index"
    elif not any(variables.glob("variables.data-*")):
        missing = "variables/variables.data-*"
    else:
        return
    raise ModelReadError(
        f"is an incomplete SavedModel: {missing} is missing; copy the whole directory that "
        "model.save() wrote"
    )


def _read_head(p: Path, size: int) -> bytes:
    try:
        with p.open("rb") as fh:
            return fh.read(size)
    except PermissionError:
        raise ModelReadError("permission denied") from None
    except OSError as exc:
        raise ModelReadError(f"cannot read the file ({exc.strerror or exc})") from None


# Other formats people pass by mistake, recognised by their first bytes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"version https://git-lfs", "is a Git LFS pointer, not the model: run `git lfs pull`"),
    (b"\x1f\x8b", "is gzip-compressed (a .tar.gz or .gz?): unpack it first"),
    (b"\x93NUMPY", "is a NumPy .npy array"),
    (b"7z\xbc\xaf\x27\x1c", "is a 7-Zip archive"),
    (b"Rar!", "is a RAR archive"),
    (b"%PDF", "is a PDF document"),
)


def describe_content(head: bytes) -> str:
    """A few words on what `head` (the first bytes of a file) looks like."""
    for magic, text in _SIGNATURES:
        if head.startswith(magic):
            return text
    if head[4:8] == b"TFL3":
        return "is a TensorFlow Lite model"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "is a Python pickle (never load it: unpickling runs code)"
    if _looks_like_text(head):
        stripped = head.lstrip()
        if stripped.startswith((b"{", b"[")):
            return "starts with JSON text"
        return "starts with text"
    return "starts with binary data of an unknown format"


def _looks_like_text(head: bytes) -> bool:
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # a multi-byte character cut at the end is fine
            return False
        text = sample[: exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
