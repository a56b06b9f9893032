"""Find the user's code in stacks and tracebacks, and summarize TensorFlow errors."""

from __future__ import annotations

import functools
import itertools
import linecache
import os
import re
import sys
import sysconfig
import traceback
from types import FrameType, TracebackType

from tfpcheck.evidence.sites import ErrorSummary, Site
from tfpcheck.recorded_files import is_placeholder

# Packages whose frames are never the user's code (their directories, found when first needed).
LIBRARY_PACKAGES = (
    "tensorflow",
    "tensorflow_probability",
    "tf_keras",
    "keras",
    "absl",
    "numpy",
    "optree",
    "h5py",
    "decorator",
    "wrapt",
    "tree",
    "cloudpickle",
    "ml_dtypes",
    "tfpcheck",
)
# Reaching our own driver means the call came from tfpcheck, not from user code.
ORCHESTRATION_FILES = ("runner.py", "evaluate.py", "probe_run.py")
_PROBE_DIR = os.path.dirname(os.path.abspath(__file__))
_STDLIB = os.path.abspath(sysconfig.get_paths()["stdlib"]).rstrip(os.sep) + os.sep


def _library_dirs() -> tuple[str, ...]:
    # Keyed by the packages imported so far: an answer from before TensorFlow was imported
    # must not stand once it is.
    return _dirs_of(tuple(sys.modules.get(name) is not None for name in LIBRARY_PACKAGES))


@functools.cache
def _dirs_of(loaded: tuple[bool, ...]) -> tuple[str, ...]:
    dirs: list[str] = []
    for name, is_loaded in zip(LIBRARY_PACKAGES, loaded, strict=True):
        module = sys.modules.get(name) if is_loaded else None
        path = getattr(module, "__file__", None) if module else None
        if path:
            dirs.append(os.path.dirname(os.path.abspath(path)))
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs)


# Placeholders that still stand for the user's code: a function rebuilt by cloudpickle 3.1.3
# or later (a saved lambda) and an old IPython cell. Whose code it is, the module says.
USER_PLACEHOLDERS = ("<dynamic-code>", "<ipython-input-")


def is_library(path: str, module: str | None = None) -> bool:
    """Whether a frame's code is a library's; `module` is the frame's `__name__`, if known."""
    if is_placeholder(path):  # <frozen ...>, <string>: not a file the user can open
        top = (module or "").partition(".")[0]
        return not path.startswith(USER_PLACEHOLDERS) or top in LIBRARY_PACKAGES
    if "__autograph_generated_file" in path:  # autograph's rewrite of some function
        return True
    if _installed_library(path):
        return True
    path = os.path.abspath(path)
    if path.startswith(_library_dirs()):
        return True
    # The standard library, but not packages installed under it (a user's `pkg.module`).
    in_packages = "site-packages" in path or "dist-packages" in path
    return path.startswith(_STDLIB) and not in_packages


def _installed_library(path: str) -> bool:
    """A library's file in any environment: code rebuilt from a saved model (a marshalled tfp
    wrapper) keeps the path of the machine that saved it, which need not exist here."""
    parts = path.replace("\\", "/").split("/")
    return any(
        part in ("site-packages", "dist-packages") and following in LIBRARY_PACKAGES
        for part, following in itertools.pairwise(parts)
    )


def is_orchestration(path: str) -> bool:
    path = os.path.abspath(path)
    return os.path.dirname(path) == _PROBE_DIR and os.path.basename(path) in ORCHESTRATION_FILES


def _site(filename: str, lineno: int, function: str) -> Site:
    return Site(filename, lineno, function, linecache.getline(filename, lineno).strip())


def user_frame_of_stack(skip: int = 1) -> Site | None:
    """The innermost frame of the current stack that is user code, before tfpcheck's own."""
    frame: FrameType | None = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        if is_orchestration(filename):
            return None
        if not is_library(filename, _module_of(frame)):
            return _site(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def user_frame_of_traceback(tb: TracebackType | None) -> Site | None:
    """The innermost user frame in an exception's traceback."""
    found: Site | None = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if not is_library(filename, _module_of(frame)) and not is_orchestration(filename):
            found = _site(filename, lineno or 0, frame.f_code.co_name)
    return found


def _module_of(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else None


# TensorFlow's decorations of an op error, wherever they stand (Keras puts its own
# "Exception encountered when calling layer ..." lines before them): the executing function
# node and the op name, which is kept apart as `op`.
_TF_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_OP_SUFFIX = re.compile(r"[ \t]*\[Op:(\w+)\](?:[ \t]*name:[^\n]*)?")
_OP_IN_NODE = re.compile(r"__wrapped__(\w+?)_device_")
_LAYER = re.compile(r"calling layer '([^']+)'|Exception encountered when calling (\w+)\.call")


def _first_meaningful_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Exception encountered", "Call arguments")):
            return line
    return text.strip()


# Keras 3 sets parts of its messages in bold for a terminal (ESC[1m ... ESC[0m): a report
# written to a file, a CI log or JSON must not carry the escapes.
_TERMINAL_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def summarize_error(exc: BaseException) -> ErrorSummary:
    raw = _TERMINAL_STYLE.sub("", str(exc))
    op: str | None = None
    node = _OP_IN_NODE.search(raw)
    if node:
        op = node.group(1)
    text = _TF_NODE.sub("", raw.strip())
    suffix = _OP_SUFFIX.search(text)
    if suffix:
        op = suffix.group(1)
        text = _OP_SUFFIX.sub("", text)
    layer_match = _LAYER.search(raw)
    layer = layer_match.group(1) or layer_match.group(2) if layer_match else None
    # Keras wraps layer errors: the inner exception carries the useful line.
    inner = exc.__cause__ or exc.__context__
    message = _first_meaningful_line(text)
    if layer and inner is not None and not message.strip():
        message = _first_meaningful_line(str(inner))
    if len(message) > 300:
        message = message[:297] + "..."
    site = user_frame_of_traceback(exc.__traceback__)
    if site is None and inner is not None:
        site = user_frame_of_traceback(inner.__traceback__)
    return ErrorSummary(type(exc).__name__, message, op, site, layer)
