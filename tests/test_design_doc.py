"""docs/design.md is the design the code cites: every citation names a section it has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_citation_of_the_design_names_one_of_its_sections():
    sections = set(re.findall(r"^#+ (.+)$", (ROOT / "docs" / "design.md").read_text(),
                              flags=re.MULTILINE))
    cited = {}
    for path in (ROOT / "moonshot").rglob("*.py"):
        text = " ".join(path.read_text().split())  # a citation may wrap across lines
        for section in re.findall(r'docs/design\.md, "([^"]+)"', text):
            cited.setdefault(section, []).append(path.name)
        assert "DESIGN.md" not in text, f"{path} cites a DESIGN.md the repository lacks"
    assert cited, "no module cites docs/design.md"
    missing = {s: files for s, files in cited.items() if s not in sections}
    assert not missing, f"sections cited but not in docs/design.md: {missing}"
