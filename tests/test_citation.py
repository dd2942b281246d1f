"""CITATION.cff is valid CFF 1.2 and cites the MSPT paper."""
from __future__ import annotations

from pathlib import Path

import yaml

CFF = Path(__file__).resolve().parent.parent / "CITATION.cff"


def test_citation_is_valid_cff() -> None:
    from cffconvert import Citation

    Citation(CFF.read_text(encoding="utf-8")).validate()  # raises on schema violations


def test_citation_cites_mspt_paper() -> None:
    data = yaml.safe_load(CFF.read_text(encoding="utf-8"))
    assert data["cff-version"] == "1.2.0"
    paper = data["preferred-citation"]
    assert "MSPT" in paper["title"]
    assert [a["family-names"] for a in paper["authors"]] == ["Xiao", "Chen", "Zeng", "Yang"]
    assert paper["year"] == 2025
    assert any("2508.07590" in i["value"] for i in paper["identifiers"])
