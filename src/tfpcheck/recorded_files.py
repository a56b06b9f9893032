"""File names Python records for code that has no source file, which are never a location.

Code compiled from a string, typed at a prompt, run in an old IPython cell or rebuilt from
a pickle records a placeholder such as `<string>` in `co_filename`; cloudpickle 3.1.3 and
later write `<dynamic-code>` for every function it pickles by value.
"""

from __future__ import annotations

# What each placeholder means, as one phrase that can follow "source file unknown: "
_REASONS = {
    "<dynamic-code>": "cloudpickle 3.1.3 and later do not record it",
    "<string>": "the code was compiled from a string",
    "<stdin>": "the code was typed at an interactive prompt",
    "<console>": "the code was typed at an interactive prompt",
}


def is_placeholder(name: str | None) -> bool:
    """True for a recorded name that is not a file: `<dynamic-code>`, `<string>`, ``."""
    if name is None:
        return False
    stripped = name.strip()
    return not stripped or (stripped.startswith("<") and stripped.endswith(">"))


def source_file(name: str | None) -> str | None:
    """The recorded name when it is a file path, else None."""
    return None if name is None or is_placeholder(name) else name


def why_unknown(name: str) -> str:
    """One short phrase saying why the placeholder names no source file."""
    stripped = name.strip()
    if stripped in _REASONS:
        return _REASONS[stripped]
    if stripped.startswith("<ipython-input-"):
        return "the code was defined in a notebook cell"
    if stripped.startswith("<frozen "):
        return "the code comes from a frozen module"
    if not stripped:
        return "no file name was recorded"
    return f"Python recorded {stripped} instead of a file"
