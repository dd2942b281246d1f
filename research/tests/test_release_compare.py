"""research/eval/release_compare.py: paired bootstrap over test photos."""
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


def _levels_pool(n_photos: int = 30, seed: int = 0):
    """Pristine + 3 levels of 2 kinds per photo (tiny distinct images: no ladder is a no-op)."""
    from research.release.pools import Pool

    rng = np.random.default_rng(seed)
    imgs, ids, kinds, sev = [], [], [], []
    for p in range(n_photos):
        for kind, s in [("pristine", 0.0)] + [(k, v) for k in ("jpeg", "saturation") for v in (0.1, 0.5, 1.0)]:
            imgs.append(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
            ids.append(f"p{p}"), kinds.append(kind), sev.append(s)
    n = len(imgs)
    return Pool(np.stack(imgs), np.ones(n, np.float32), np.array(ids), np.array(kinds), np.array(sev, np.float32), 4)


def test_order_bootstrap_matches_the_release_figures_and_ranks_a_better_orderer(eval_script) -> None:
    from research.release.evaluate import order_figures

    mod = eval_script("release_compare")
    pool = _levels_pool()
    rng = np.random.default_rng(1)
    perfect = -pool.severities.astype(float)  # the score falls with severity in every ladder
    noisy = perfect + rng.normal(0, 0.4, len(pool))
    rows = mod.order_bootstrap({"noisy": noisy, "perfect": perfect}, pool, n_boot=200, seed=2)
    cell = {(r["model"], r["figure"]): r for r in rows}
    ref = order_figures(noisy, pool)  # full-pool values are the release report's
    assert cell[("noisy", "order_min")]["value"] == round(ref["monotonicity_min"], 4)
    assert cell[("noisy", "pristine_above")]["value"] == round(ref["pristine_above_degraded"], 4)
    assert cell[("noisy", "order:saturation")]["value"] == round(ref["monotonicity_per_kind"]["saturation"], 4)
    best = cell[("perfect", "order_min")]
    assert best["value"] == 1.0 and cell[("perfect", "pristine_above")]["value"] == 1.0
    lo, hi = (float(v) for v in best["diff_ci"].strip("[]").split(","))
    assert 0 < lo <= best["diff"] <= hi and best["p_better"] == 1.0 and best["photos"] == 30
    assert mod.order_bootstrap({"noisy": noisy, "perfect": perfect}, pool, n_boot=200, seed=2) == rows
    text = mod.order_markdown(rows, "levels_clean_common")
    assert "`levels_clean_common` (30 photos)" in text and "| order_min | " in text and "order:jpeg" in text


def test_main_with_levels_writes_the_order_section_and_csv(eval_script, tmp_path: Path, monkeypatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    """The pools and networks are stand-ins (no faces, no weights): what is tested is the wiring
    from ``--levels`` to the report, and the error for a pool the config does not build."""
    import csv

    mod = eval_script("release_compare")
    levels = _levels_pool()
    test = _levels_pool(n_photos=20, seed=3)
    test.labels[:] = np.random.default_rng(0).random(len(test))
    asked = []
    from research.release import run as release_run  # the harness's pools come through run.py's helpers

    monkeypatch.setattr(release_run, "split_sources", lambda cfg: ([], {}))
    monkeypatch.setattr(mod, "build_test_pool", lambda cfg, src, cache: test)

    def fake_levels(cfg, src, cache, common_random=False, only=None):
        asked.append((common_random, tuple(only)))
        return {"levels_clean_common": levels} if common_random else {}

    monkeypatch.setattr(release_run, "build_levels_pools", fake_levels)
    monkeypatch.setattr(mod, "load_net", lambda spec: (lambda x: x.mean(dim=(1, 2, 3)) * (2 if "b" in spec else 1)))
    ckpt = tmp_path / "b.pth"
    ckpt.write_bytes(b"stand-in")
    out = tmp_path / "cmp"
    args = ["--config", "research/release/configs/mspt_face_v11.yml", "--model", "mspt_face_v11",
            "--model", f"b={ckpt}", "--n-boot", "20", "--out", str(out)]
    assert mod.main(args + ["--levels", "levels_clean_common"]) == 0
    assert asked == [(False, ("levels_clean_common",)), (True, ("levels_clean_common",))]  # only the pool asked for
    rows = list(csv.DictReader(open(tmp_path / "cmp_order.csv")))
    assert {r["pool"] for r in rows} == {"levels_clean_common"} and {r["model"] for r in rows} == {"mspt_face_v11", "b"}
    md = (tmp_path / "cmp.md").read_text()
    assert "--levels levels_clean_common" in md and "### Within-photo order on `levels_clean_common`" in md
    with pytest.raises(SystemExit):
        mod.main(args + ["--levels", "levels_mixed_common"])
    assert "builds no such pool" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # not a levels pool of the runner at all
        mod.main(args + ["--levels", "test"])
    assert "invalid choice" in capsys.readouterr().err
