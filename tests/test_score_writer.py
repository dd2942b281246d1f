"""Results files: columns, CSV/JSON round trip, atomic replacement, summary and exit-relevant counts."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mspt_pyiqa.scoring.writer import COLUMNS, format_summary, format_table, read_results, summarize, write_results

ROWS = [
    {"path": "a.jpg", "face": 0, "box": "1,2,30,40", "score": 0.5, "status": "ok", "message": ""},
    {"path": "a.jpg", "face": 1, "box": "50,2,30,40", "score": 0.25, "status": "ok", "message": ""},
    {"path": "b.png", "face": None, "box": "", "score": None, "status": "no_face", "message": "no face found"},
    {"path": "c.jpg", "face": None, "box": "", "score": None, "status": "corrupt", "message": "c.jpg: truncated, \"quoted\""},
]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"r{suffix}"
    write_results(ROWS, out)
    assert read_results(out) == ROWS
    if suffix == ".csv":
        assert list(pd.read_csv(out).columns) == COLUMNS
    else:
        assert list(json.loads(out.read_text())[0]) == COLUMNS


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r.csv"
    write_results(ROWS[:1], out)
    before = out.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError):
        write_results(ROWS, out)
    assert out.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temp file left


def test_summary_counts_images_faces_and_failures() -> None:
    s = summarize(ROWS)
    assert s == {"images": 3, "images_scored": 1, "faces_scored": 2, "no_face": 1, "failed": 1, "mean_score": 0.375}
    assert "failed: 1" in format_summary(s) and "0.3750" in format_summary(s)
    table = format_table(ROWS, limit=2)
    assert "a.jpg" in table and "2 more rows" in table


def test_unknown_output_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=".csv or .json"):
        write_results(ROWS, tmp_path / "r.xlsx")
