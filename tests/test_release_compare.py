"""eval/release_compare.py: paired bootstrap over test photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _data(n_photos: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"p{i}" for i in range(n_photos)], 2)
    labels = rng.random(len(groups))
    return labels, groups, rng


def test_a_better_model_is_ahead_in_every_resample(eval_script) -> None:
    mod = eval_script("release_compare")
    labels, groups, rng = _data()
    preds = {"base": labels + rng.normal(0, 0.4, len(labels)), "good": labels + rng.normal(0, 0.05, len(labels))}
    rows = mod.paired_bootstrap(preds, labels, groups, n_boot=200, seed=1)
    base, good = rows
    assert base["model"] == "base" and base["srcc_diff"] == 0 and base["srcc_p_better"] == ""
    assert good["srcc"] > base["srcc"] and good["srcc_diff"] > 0.2
    assert good["srcc_p_better"] == 1.0 and good["plcc_p_better"] == 1.0
    lo, hi = (float(v) for v in good["srcc_diff_ci"].strip("[]").split(","))
    assert 0 < lo <= good["srcc_diff"] <= hi
    assert good["photos"] == 60 and good["images"] == 120


def test_identical_models_differ_by_nothing_and_runs_repeat(eval_script) -> None:
    mod = eval_script("release_compare")
    labels, groups, rng = _data(seed=2)
    p = labels + rng.normal(0, 0.2, len(labels))
    rows = mod.paired_bootstrap({"a": p, "b": p.copy()}, labels, groups, n_boot=100, seed=3)
    assert rows[1]["srcc_diff"] == 0 and rows[1]["srcc_diff_ci"] == "[+0.0000, +0.0000]"
    assert rows[1]["srcc_p_better"] == 0.0  # never strictly ahead
    again = mod.paired_bootstrap({"a": p, "b": p.copy()}, labels, groups, n_boot=100, seed=3)
    assert again == rows


def test_photos_are_resampled_whole(eval_script) -> None:
    """Two images of a photo always travel together: with one photo per group of identical
    images the CI equals the CI of the photo-level data."""
    mod = eval_script("release_compare")
    labels, groups, rng = _data(n_photos=40, seed=4)
    labels = np.repeat(labels[::2], 2)
    p = labels + np.repeat(rng.normal(0, 0.3, 40), 2)
    rows2 = mod.paired_bootstrap({"a": p}, labels, groups, n_boot=100, seed=5)
    rows1 = mod.paired_bootstrap({"a": p[::2]}, labels[::2], groups[::2], n_boot=100, seed=5)
    assert rows2[0]["srcc_ci"] == rows1[0]["srcc_ci"]


def test_bad_models_are_named(eval_script, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    mod = eval_script("release_compare")
    with pytest.raises(SystemExit):
        mod.main(["--model", "mspt_face_v5", "--out", str(tmp_path / "x")])
    assert "at least two --model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--model", "no_such_release", "--model", f"c={tmp_path / 'missing.pth'}", "--out", str(tmp_path / "x")])
    assert "no_such_release" in capsys.readouterr().err
