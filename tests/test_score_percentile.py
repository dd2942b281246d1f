"""``mspt-face score --percentile``: a score's percentile among the release's clean photos, as a column."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.reference import reference_for_release
from mspt_pyiqa.scoring.writer import format_table, read_results, set_percentiles, write_results
from mspt_pyiqa.weights import default_entry_name

ROWS: List[Dict[str, object]] = [
    {"path": "a.jpg", "face": 0, "box": "1,2,30,40", "score": 0.5, "status": "ok", "message": ""},
    {"path": "b.png", "face": None, "box": "", "score": None, "status": "no_face", "message": "no face found"},
]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_percentile_column_round_trip(tmp_path: Path, suffix: str) -> None:
    rows = set_percentiles(ROWS, lambda s: 100 * s ** 2 + 0.0123)
    assert rows[0]["percentile"] == 25.0 and rows[1]["percentile"] is None and "percentile" not in ROWS[0]
    out = tmp_path / f"r{suffix}"
    write_results(rows, out)
    assert read_results(out) == rows
    if suffix == ".csv":
        header, first = out.read_text().splitlines()[:2]
        assert header == "path,face,box,score,percentile,status,message"
        assert first == 'a.jpg,0,"1,2,30,40",0.500000,25.0,ok,'  # one decimal
    else:
        assert list(json.loads(out.read_text())[0]) == ["path", "face", "box", "score", "percentile", "status", "message"]
    assert "percentile" in format_table(rows)
    assert set_percentiles(rows, None) == ROWS  # a run without --percentile drops the column


def test_score_percentile_column_and_resume(example_folder: Path, tmp_path: Path) -> None:
    """Percentiles of the release's reference, added to resumed rows too, without rescoring them."""
    ref = reference_for_release(default_entry_name())
    if ref is None:
        pytest.skip("the default release has no reference file")
    crop = example_folder / "crop_astronaut.png"
    out = tmp_path / "s.csv"
    assert main(["score", str(crop), "-o", str(out), "--faces", "crop", "--no-progress"]) == 0
    assert "percentile" not in read_results(out)[0]
    assert main(["score", str(crop), "-o", str(out), "--faces", "crop", "--no-progress", "--resume", "--percentile"]) == 0
    row = read_results(out)[0]
    assert 0.0 <= row["percentile"] <= 100.0
    assert row["percentile"] == round(ref.percentile(row["score"]), 1)


def test_percentile_without_a_reference_is_a_usage_error(example_folder: Path, tiny_checkpoint: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    code = main(["score", str(example_folder / "crop_astronaut.png"), "-o", str(tmp_path / "s.csv"), "--faces", "crop",
                 "--weights", str(tiny_checkpoint), "--percentile", "--no-progress"])
    assert code == 2
    assert "--percentile needs the release's score reference" in caplog.text
    assert not (tmp_path / "s.csv").exists()
