"""The one atomic-write / JSON / markdown-table helper module."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from mspt_pyiqa.utils import io


def test_atomic_write_text_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "out.txt"
    io.atomic_write_text(p, "one")
    io.atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert sorted(x.name for x in p.parent.iterdir()) == ["out.txt"]


def test_atomic_write_keeps_old_file_on_error(tmp_path: Path) -> None:
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_write(p) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = io.atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644


def test_json_is_strict(tmp_path: Path) -> None:
    p = io.atomic_write_json(tmp_path / "a.json", {"a": math.nan, "b": [1.5, math.inf], 3: tmp_path})
    data = json.loads(p.read_text())
    assert data == {"a": None, "b": [1.5, None], "3": str(tmp_path)}


def test_clean_stale_temps_only_removes_own_pattern(tmp_path: Path) -> None:
    (tmp_path / ".scores.csv.abc123.tmp").write_text("x")
    (tmp_path / "scores.csv").write_text("keep")
    (tmp_path / "other.tmp").write_text("keep")
    removed = io.clean_stale_temps(tmp_path, "scores.csv")
    assert [r.name for r in removed] == [".scores.csv.abc123.tmp"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["other.tmp", "scores.csv"]


def test_markdown_table() -> None:
    md = io.markdown_table([{"m": "a|b", "v": 0.5}, {"m": "c", "v": float("nan")}])
    lines = md.splitlines()
    assert lines[0] == "| m | v |"
    assert lines[1] == "|---|---:|"
    assert lines[2] == "| a\\|b | 0.5000 |"
    assert lines[3] == "| c | nan |"
    assert io.markdown_table([]) == ""
