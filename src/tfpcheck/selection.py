"""Select and ignore findings by code prefix; the longest matching prefix wins."""

from __future__ import annotations

from dataclasses import dataclass


def _longest(code: str, prefixes: tuple[str, ...]) -> int:
    return max((len(p) for p in prefixes if code.startswith(p)), default=-1)


@dataclass(frozen=True)
class Selector:
    select: tuple[str, ...] = ("TFP",)
    ignore: tuple[str, ...] = ()

    @classmethod
    def from_lists(cls, select: list[str] | None, ignore: list[str] | None) -> Selector:
        def norm(items: list[str]) -> tuple[str, ...]:
            return tuple(p.strip().upper() for p in items if p.strip())

        return cls(norm(select) if select else ("TFP",), norm(ignore or []))

    def is_selected(self, code: str) -> bool:
        """flake8's decision: the more specific of select/ignore decides; a tie ignores."""
        chosen = _longest(code, self.select)
        ignored = _longest(code, self.ignore)
        if chosen < 0:
            return False
        return chosen > ignored
