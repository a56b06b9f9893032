"""The one exception the bytecode readers raise on bad input."""

from __future__ import annotations


class BytecodeError(ValueError):
    """Serialized code that cannot be read as data: truncated, malformed, too big or too deep.

    `pickle_globals` and `dangerous` keep what a pickle scan found before it failed: a pickle
    that breaks after `os.system` still runs `os.system` when Keras unpickles it, so callers
    must be able to report it even though reading the function failed.
    """

    def __init__(
        self,
        message: str,
        *,
        pickle_globals: tuple[tuple[str, str], ...] = (),
        dangerous: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.pickle_globals = pickle_globals
        self.dangerous = dangerous
