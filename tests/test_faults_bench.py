"""``mspt-face bench`` on a dataset file with bad rows: every row left out is named (line and
reason) in the log, results.json and leaderboard.md; a constant MOS is refused."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mspt_pyiqa.bench.audit import parse_mos
from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset
from mspt_pyiqa.bench.toyset import make_toyset
from mspt_pyiqa.cli.main import main


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    photos = []
    for i in range(2):
        img = np.clip(rng.normal(128, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
        cv2.circle(img, (32, 32), 12 + 4 * i, (230, 190, 170), -1)
        p = tmp_path / "faces" / f"p{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), img)
        photos.append(p)
    return make_toyset(photos, tmp_path / "set", size=48)


def _damage(csv: Path) -> dict:
    """Bad MOS cells and a repeated image in a copy of the corpus CSV; returns line -> expected reason."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    test = df.index[df["split"] == "test"].tolist()
    bad = {test[1]: "", test[2]: "nan", test[3]: "inf", test[4]: "abc"}
    for i, v in bad.items():
        df.loc[i, "mos"] = v
    dup = df.loc[[test[5]]].copy()
    dup["mos"] = "0.123"
    df = pd.concat([df, dup], ignore_index=True)
    df.to_csv(csv, index=False)
    expected = {test[1] + 2: "empty", test[2] + 2: "NaN", test[3] + 2: "inf", test[4] + 2: "not a number",
                len(df) + 1: f"duplicate of line {test[5] + 2}"}
    return expected


def test_parse_mos() -> None:
    assert parse_mos("0.5") == (0.5, "") and parse_mos(3) == (3.0, "")
    for cell, word in [("", "empty"), ("  ", "empty"), ("nan", "NaN"), ("-inf", "inf"), ("x", "not a number"), (None, "empty")]:
        value, reason = parse_mos(cell)
        assert value is None and word in reason


def test_bad_rows_are_named_in_log_and_report(corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    expected = _damage(corpus)
    caplog.set_level(logging.WARNING)
    ds = load_dataset(DatasetSpec(path=corpus))
    got = {d["line"]: d["reason"] for d in ds.dropped}
    assert set(got) == set(expected)
    for line, word in expected.items():
        assert word in got[line]
        assert f"line {line} " in caplog.text
    assert "MOS 0.123 here" in got[max(got)]
    assert len(ds.items) == 34 - 4 and ds.rows_read == 35

    refs = {it.ref for it in ds.items}
    gone = next(it.path for it in reversed(ds.items) if it.path not in refs)
    gone.unlink()  # an image that cannot be read: the metric's failure is named too
    out = tmp_path / "out"
    code = main(["bench", "--dataset", str(corpus), "--metrics", "psnr", "--out", str(out), "--n-boot", "0",
                 "--no-plots", "--offline", "yes", "--no-random-timing", "--timing-runs", "1"])
    assert code == 0
    md = (out / "leaderboard.md").read_text()
    assert "35 read, 5 left out" in md
    for line in expected:
        assert f"| {line} |" in md
    assert "Images a metric could not score" in md and "- psnr: 1 (" in md
    meta = json.loads((out / "results.json").read_text())["meta"]
    assert len(next(iter(meta["datasets"].values()))["dropped"]) == 5


def test_constant_mos_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pd.DataFrame({"img": [f"{i}.png" for i in range(5)], "mos": [3.0] * 5}).to_csv(tmp_path / "meta.csv", index=False)
    with pytest.raises(ValueError, match="every one of its 5 MOS values is 3"):
        load_dataset(DatasetSpec(path=tmp_path / "meta.csv"))
    code = main(["bench", "--dataset", str(tmp_path / "meta.csv"), "--metrics", "psnr", "--out", str(tmp_path / "o"),
                 "--no-plots", "--offline", "yes"])
    assert code == 2 and "constant MOS" in caplog.text


def test_one_empty_cell_does_not_reject_the_dataset(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train.csv").write_text("a,0.5\nb,\nc,0.7\nd,0.9\n")
    ds = load_dataset(DatasetSpec(path=tmp_path))
    assert [i.path.name for i in ds.items] == ["a.png", "c.png", "d.png"]
    assert ds.dropped == [{"line": 2, "path": str(tmp_path / "train" / "b.png"), "reason": "MOS cell is empty"}]
