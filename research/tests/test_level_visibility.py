"""research/eval/level_visibility.py: photometric steps against the spread of pristine photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mspt_pyiqa.degrade.photometric import saturation
from research.release.pools import Pool


def _photo(rng: np.random.Generator, colour: float) -> np.ndarray:
    """A 16 x 16 textured photo whose chroma grows with ``colour``."""
    base = rng.random((16, 16, 1)) * 120 + 60
    tint = np.array([1.0 + colour, 1.0, 1.0 - colour]) * base
    return np.clip(tint, 0, 255).astype(np.uint8)


def _pale_vivid_pool(rng: np.random.Generator, with_brighter: bool = False) -> Pool:
    """Two photos, pale and vivid, each: pristine, then saturation up at 0.1 and 0.25 (and, with
    ``with_brighter``, a 'jpeg' ladder made by brightening: a kind without a typicality statistic)."""
    images, kinds, sev, sids = [], [], [], []
    for sid, colour in (("pale", 0.02), ("vivid", 0.45)):
        clean = _photo(rng, colour)
        images.append(clean), kinds.append("pristine"), sev.append(0.0), sids.append(sid)
        for s in (0.1, 0.25):
            images.append(saturation(clean, s, None, direction="oversat")), kinds.append("saturation")
            sev.append(s), sids.append(sid)
        for s in (0.1, 0.25) if with_brighter else ():
            images.append(np.clip(clean.astype(int) + int(40 * s), 0, 255).astype(np.uint8)), kinds.append("jpeg")
            sev.append(s), sids.append(sid)
    return Pool(np.stack(images), np.linspace(1, 0, len(images)).astype(np.float32), np.array(sids), np.array(kinds),
                np.array(sev, np.float32), 16)


def test_lab_stats_and_population(eval_script) -> None:
    mod = eval_script("level_visibility")
    grey = np.full((8, 8, 3), 118, np.uint8)
    st = mod.lab_stats(grey)
    assert st.shape == (6,) and st[0] == pytest.approx(0.0, abs=0.01) and st[2] == pytest.approx(0.0, abs=1e-6)
    assert 45 < st[1] < 55 and st[5] == pytest.approx(st[1])  # L* of mid grey, centre = whole
    framed = np.zeros((8, 8, 3), np.uint8)
    framed[2:6, 2:6] = 255  # white centre half, black border: face_lightness reads the centre only
    fs = mod.lab_stats(framed)
    assert fs[5] == pytest.approx(100.0, abs=0.01) and fs[1] == pytest.approx(25.0, abs=0.01)
    rng = np.random.default_rng(0)
    pop = mod.Population(np.stack([mod.lab_stats(_photo(rng, c)) for c in np.linspace(0.05, 0.4, 20)]))
    centre = pop.mean[None]
    assert pop.atypicality(centre, "saturation")[0] == pytest.approx(0.0, abs=1e-9)
    one_sd = centre.copy()
    one_sd[0, 0] += np.sqrt(pop.cov[0, 0])
    assert pop.atypicality(one_sd, "saturation")[0] == pytest.approx(1.0)
    assert pop.step(centre, one_sd, "saturation")[0] == pytest.approx(1.0)
    assert pop.atypicality(centre, "colour_cast")[0] == pytest.approx(0.0, abs=1e-9)
    assert pop.atypicality(centre, "overexposure")[0] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="need"):
        mod.Population(np.zeros((2, 6)))


def test_level_rows_split_by_direction_towards_typical(eval_script) -> None:
    """Pale photo saturated up: towards typical; vivid photo saturated up: away. A model that
    puts the pale photo's steps above its pristine fails only the towards-typical ladder."""
    mod = eval_script("level_visibility")
    rng = np.random.default_rng(1)
    ref = [_photo(rng, c) for c in np.linspace(0.1, 0.3, 12)]
    pop = mod.Population(np.stack([mod.lab_stats(r) for r in ref]))
    pool = _pale_vivid_pool(rng)
    stats = np.stack([mod.lab_stats(i) for i in pool.images])
    #                 pale: pristine below both steps; vivid: in order
    pred = np.array([0.5, 0.6, 0.55, 0.9, 0.8, 0.7])
    rows = mod.level_rows(pool, stats, pop, {"m": pred}, "p")
    by = {(r["kind"], r["severity"]): r for r in rows}
    assert set(k for k, _ in by) == {"saturation", "saturation:oversat"}
    r = by[("saturation", 0.1)]
    assert r["ladders"] == 2 and r["toward_typical"] == 0.5 and r["m:above"] == 0.5
    assert r["m:above|toward"] == 1.0 and r["m:above|away"] == 0.0 and r["step_z"] > 0
    toward = mod.mild_step_toward(pool, stats, pop)
    order = mod.order_rows(pool, stats, pop, mod.model_ladders(pool, {"m": pred}), toward, "p")
    assert order[0]["kind"] == "saturation"
    assert order[0]["m"] == pytest.approx(0.25)  # pale ladder -0.5 (SRCC +0.5), vivid ladder 1: mean 0.25
    assert -1.0 <= order[0]["typicality_scorer"] <= 1.0
    # Only the vivid ladder's first step moved away from typical: its order alone.
    assert order[0]["away_ladders"] == 0.5 and order[0]["m|away"] == pytest.approx(1.0)
    # Without a model (typicality scorer only) the report has no bars section and does not fail.
    bare = mod.order_rows(pool, stats, pop, {}, toward, "p")
    text = mod.markdown(mod.level_rows(pool, stats, pop, {}, "p"), bare, mod.bar_rows({}, toward, "p"), "cmd", {"p": "x"})
    assert "typicality_scorer" in text and "ladder bars" not in text
    assert "ladder bars" in mod.markdown(rows, order, mod.bar_rows(mod.model_ladders(pool, {"m": pred}), toward, "p"), "cmd", {"p": "x"})


def test_cli_errors_name_the_problem(eval_script, tmp_path: Path) -> None:
    mod = eval_script("level_visibility")
    with pytest.raises(SystemExit):
        mod.main(["--config", str(tmp_path / "missing.yml"), "--cache", str(tmp_path), "--levels", "levels"])
    cfg = tmp_path / "c.yml"
    cfg.write_text("seed: 0\n")
    with pytest.raises(SystemExit):
        mod.main(["--config", str(cfg), "--cache", str(tmp_path)])  # no --levels


def test_clean_per_set_errors_name_the_problem(eval_script, shared_dir: Path, tmp_path: Path, capsys) -> None:
    mod = eval_script("level_visibility")
    cfg = Path(__file__).resolve().parents[2] / "research/release/configs/mspt_face_v11.yml"
    with pytest.raises(SystemExit):
        mod.main(["--config", str(cfg), "--cache", str(tmp_path), "--levels", "levels_clean", "--clean-per-set", "-1"])
    assert "--clean-per-set -1: give N >= 0" in capsys.readouterr().err
    # A config without clean sets cannot be widened: said before any pool is built.
    import yaml

    bare = {k: v for k, v in yaml.safe_load(cfg.read_text()).items() if k != "levels_clean"}
    (tmp_path / "bare.yml").write_text(yaml.safe_dump({**bare, "faces": str(shared_dir / "data" / "faces")}))
    with pytest.raises(SystemExit):
        mod.main(["--config", str(tmp_path / "bare.yml"), "--cache", str(tmp_path), "--levels", "levels_clean",
                  "--clean-per-set", "5"])
    assert "has no levels_clean sets" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.npz"))


def test_bootstrap_bars_intervals(eval_script) -> None:
    """Resampling photos: a unanimous pool has a zero-width interval that meets the bars; a pool
    whose photos disagree gets an interval around its point figures; seeded and reproducible."""
    mod = eval_script("level_visibility")
    good = [{"photo": f"p{i}", "kind": k, "order": 1.0, "wins": 5, "pairs": 5} for i in range(6) for k in ("jpeg", "noise")]
    boot = mod.bootstrap_bars(good, 200)
    assert boot == {"order_min_ci": [1.0, 1.0], "pristine_above_ci": [1.0, 1.0], "meets": 1.0}
    mixed = good + [{"photo": "p6", "kind": "jpeg", "order": -1.0, "wins": 0, "pairs": 5}]
    boot = mod.bootstrap_bars(mixed, 500)
    point = mod.summarise_ladders(mixed)
    lo, hi = boot["order_min_ci"]
    assert lo < point["monotonicity_min"] <= hi == 1.0  # 6/7 of draws or so hold p6 at least once
    lo, hi = boot["pristine_above_ci"]
    assert lo < point["pristine_above_degraded"] < hi + 1e-9
    assert 0.0 < boot["meets"] < 0.5  # drawn without p6 ((6/7)^7 ~ 0.34 of draws) is the only way to meet
    assert mod.bootstrap_bars(mixed, 500) == boot
    nan = mod.bootstrap_bars(mixed, 0)
    assert np.isnan(nan["meets"]) and all(np.isnan(nan["order_min_ci"]))


def test_bar_rows_keep_other_kinds_and_drop_towards_typical_ladders(eval_script) -> None:
    """The degradation-only bars drop the pale photo's saturation ladder (its first step moved it
    towards typical) and keep every ladder of a kind without a typicality statistic (JPEG)."""
    mod = eval_script("level_visibility")
    rng = np.random.default_rng(2)
    pop = mod.Population(np.stack([mod.lab_stats(_photo(rng, c)) for c in np.linspace(0.1, 0.3, 12)]))
    pool = _pale_vivid_pool(rng, with_brighter=True)
    stats = np.stack([mod.lab_stats(i) for i in pool.images])
    #               pale: pristine, sat x2 above it, jpeg in order; vivid: sat in order, jpeg 0.1 above
    pred = np.array([0.5, 0.6, 0.55, 0.4, 0.3, 0.9, 0.8, 0.7, 0.95, 0.85])
    toward = mod.mild_step_toward(pool, stats, pop)
    assert toward == {("pale", "saturation"): True, ("vivid", "saturation"): False}
    recs = mod.model_ladders(pool, {"m": pred})
    (row,) = mod.bar_rows(recs, toward, "p")
    assert row["photos"] == 2
    assert row["all:ladders"] == 4 and row["degradation_only:ladders"] == 3
    assert row["all:worst_kind"] == "saturation" and row["all:order_min"] == pytest.approx(0.25)
    # vivid jpeg: pristine 0.9, then 0.95, 0.85 -> -SRCC = 0.5; pale jpeg in order -> 1
    assert row["degradation_only:worst_kind"] == "jpeg" and row["degradation_only:order_min"] == pytest.approx(0.75)
    assert row["degradation_only:kinds_below_0.95"] == 1
    assert row["all:pristine_above"] == pytest.approx(5 / 8) and row["degradation_only:pristine_above"] == pytest.approx(5 / 6, abs=1e-4)
    assert row["all:meets_both"] == 0.0 and row["degradation_only:order_min_ci"].count("..") == 1
    kinds = {r["kind"]: r for r in mod.kind_rows(recs, toward, "p")}
    assert sorted(kinds) == ["jpeg", "saturation"]
    assert kinds["jpeg"]["ladders"] == kinds["jpeg"]["degrading_ladders"] == 2
    assert kinds["jpeg"]["m"] == kinds["jpeg"]["m|degrading"] == pytest.approx(0.75)
    # pale saturation: pristine 0.5 below both steps -> -1; vivid in order -> 1; only vivid degrades
    assert kinds["saturation"]["ladders"] == 2 and kinds["saturation"]["degrading_ladders"] == 1
    assert kinds["saturation"]["m"] == pytest.approx(0.25) and kinds["saturation"]["m|degrading"] == pytest.approx(1.0)
    assert mod.kind_rows({}, toward, "p") == []
