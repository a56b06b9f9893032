"""The README's rule table, generated from the registry (`python -m tfpcheck.docs`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tfpcheck.rules import REGISTRY

START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def rules_markdown() -> str:
    rows = ["| code | name | severity | tier | what it finds |", "|---|---|---|---|---|"]
    for rule in REGISTRY:
        tiers = "/".join(rule.tiers)
        rows.append(
            f"| {rule.code} | {rule.name} | {rule.severity.value} | {tiers} | {rule.title} |"
        )
    return "\n".join(rows)


def update_readme(path: Path) -> bool:
    """Rewrite the table between the markers; True when the file changed."""
    text = path.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    new = pattern.sub(f"{START}\n{rules_markdown()}\n{END}", text)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    readme = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    print("updated" if update_readme(readme) else "up to date")
