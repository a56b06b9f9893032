"""tfpcheck: find Keras + TensorFlow Probability configuration mistakes before training."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tfpcheck.api import CheckFailed, Report, check

# The Python API is imported when first used: `import tfpcheck` (and the command line's
# static path) stays as light as it was.
API = ("CheckFailed", "Report", "check")


def __getattr__(name: str) -> Any:
    if name in API:
        from tfpcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'tfpcheck' has no attribute {name!r}")


__all__ = ["CheckFailed", "Report", "__version__", "check"]
