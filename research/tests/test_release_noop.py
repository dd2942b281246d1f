"""No-op degradations (labels and order figures) and the clean-sets levels pool."""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from mspt_pyiqa.corpus.config import load_stage
from mspt_pyiqa.corpus.sampler import DegradationSampler
from mspt_pyiqa.corpus.sources import Source
from research.release.evaluate import order_figures
from research.release.pools import Pool


def _grey_face() -> np.ndarray:
    rgb = skdata.astronaut()[:256, 128:384]
    grey = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


@pytest.mark.parametrize("enabled", [False, True])
def test_noop_is_pristine_labels_an_unchanged_image_as_pristine(enabled: bool) -> None:
    cfg = {**load_stage("stage3"), "noop_is_pristine": enabled}
    sampler = DegradationSampler(cfg)
    grey = _grey_face()
    out, label, info = sampler.degrade(grey, "saturation", 0.7, np.random.default_rng(0), source_set="scut")
    assert np.array_equal(out, grey)  # desaturating grey changes nothing
    assert info["noop"] is enabled
    if enabled:
        assert label == pytest.approx(sampler.pristine_label)
    else:
        assert label < sampler.pristine_label - 0.2
    # a degradation that does change the image keeps its severity label either way
    colour = skdata.astronaut()[:256, 128:384]
    out, label, info = sampler.degrade(colour, "saturation", 0.7, np.random.default_rng(0), source_set="scut")
    assert not np.array_equal(out, colour) and not info["noop"] and label < sampler.pristine_label - 0.2
    # the AAF prior still applies to a no-op
    _, label_aaf, _ = sampler.degrade(grey, "saturation", 0.7, np.random.default_rng(0), source_set="aaf")
    if enabled:
        assert label_aaf == pytest.approx(sampler.pristine_label * sampler.source_quality["aaf"])


def _ladder_pool(noop_kind_images: bool) -> Pool:
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    imgs, kinds, sev = [clean], ["pristine"], [0.0]
    for k, s in enumerate([0.2, 0.5, 1.0]):
        imgs.append(clean if noop_kind_images else np.clip(clean.astype(int) + 10 * (k + 1), 0, 255).astype(np.uint8))
        kinds.append("saturation"), sev.append(s)
        imgs.append(np.clip(clean.astype(int) - 10 * (k + 1), 0, 255).astype(np.uint8))
        kinds.append("jpeg"), sev.append(s)
    n = len(imgs)
    return Pool(np.stack(imgs), np.linspace(1, 0, n).astype(np.float32), np.array(["p0"] * n), np.array(kinds),
                np.array(sev, np.float32), 8)


def test_order_figures_leave_out_noop_ladders() -> None:
    pool = _ladder_pool(noop_kind_images=True)
    # scores: jpeg perfectly ordered; the no-op saturation rows all get the pristine score
    pred = np.array([0.9, 0.9, 0.8, 0.9, 0.7, 0.9, 0.6])
    fig = order_figures(pred, pool)
    assert fig["noop_ladders"] == 1
    assert fig["monotonicity_per_kind"] == {"jpeg": pytest.approx(1.0)}
    assert fig["pristine_above_degraded"] == 1.0 and fig["pairs"] == 3
    old = order_figures(pred, pool, skip_noop=False)  # the pre-fix protocol counts the no-op as failed order
    assert old["noop_ladders"] == 0 and old["monotonicity_per_kind"]["saturation"] == 0.0
    assert old["pristine_above_degraded"] == pytest.approx(3 / 6)
    # a saturation ladder that does change the image is scored as usual
    real = order_figures(pred, _ladder_pool(noop_kind_images=False))
    assert real["noop_ladders"] == 0 and "saturation" in real["monotonicity_per_kind"]


@pytest.fixture(scope="module")
def two_set_sources(tmp_path_factory: pytest.TempPathFactory) -> List[Source]:
    root = tmp_path_factory.mktemp("faces")
    out = []
    for i, (img, src_set) in enumerate([(skdata.astronaut()[:300, 100:400], "aaf"), (skdata.chelsea(), "scut"),
                                        (skdata.coffee(), "scut")]):
        path = root / f"p{i}.png"
        Image.fromarray(img).save(path)
        out.append(Source(f"{src_set}/p{i}.png", src_set, path))
    return out


def test_levels_clean_pool_takes_only_the_named_sets(two_set_sources: List[Source], tmp_path: Path) -> None:
    from research.release.pools import build_pool
    from research.release.run import build_levels_pools, levels_sources, levels_spec, stage_sampler

    cfg = {"seed": 4, "max_levels_sources": 1, "levels_kinds": ["jpeg"],
           "levels_clean": {"sets": ["scut"], "per_set": 1},
           "stages": [{"name": "s3", "sampler": "stage3", "resolution": 48}]}
    first, mixed, clean = levels_sources(cfg, two_set_sources)
    assert [s.source_id for s in first] == ["aaf/p0.png"] and mixed == []
    assert [s.source_id for s in clean] == ["scut/p1.png"]
    pools = build_levels_pools(cfg, two_set_sources, tmp_path)
    assert sorted(pools) == ["levels", "levels_clean"]
    assert set(pools["levels_clean"].source_ids.tolist()) == {"scut/p1.png"}
    sampler, last_cfg = stage_sampler(cfg["stages"][-1])
    ref = build_pool(clean, sampler, 48, 0, 4 + 4000, fixed=levels_spec(cfg, last_cfg))
    assert np.array_equal(pools["levels_clean"].images, ref.images)
    # without the config key there is no clean pool (published configs are unchanged)
    cfg.pop("levels_clean")
    assert sorted(build_levels_pools(cfg, two_set_sources, tmp_path / "b")) == ["levels"]


def test_level_steps_split_saturation_by_direction_and_count_unseen_steps() -> None:
    from research.release.evaluate import level_steps

    rng = np.random.default_rng(1)
    base = rng.integers(60, 200, (8, 8, 3), dtype=np.uint8)
    lum = (base.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    imgs, kinds, sev, sids = [], [], [], []
    for photo, factor in (("a", 0.0), ("b", 2.0)):  # a: desaturated ladder, b: oversaturated
        imgs.append(base), kinds.append("pristine"), sev.append(0.0), sids.append(photo)
        for s in (0.5, 1.0):
            f = 1 + (factor - 1) * s
            imgs.append(np.clip(lum + (base - lum) * f, 0, 255).astype(np.uint8))
            kinds.append("saturation"), sev.append(s), sids.append(photo)
    pool = Pool(np.stack(imgs), np.zeros(6, np.float32), np.array(sids), np.array(kinds), np.array(sev, np.float32), 8)
    pred = np.array([0.8, 0.85, 0.6, 0.8, 0.7, 0.5])  # photo a: mild step scored above pristine
    steps = level_steps(pred, pool)
    assert sorted(steps) == ["saturation:down", "saturation:up"]
    down, up = steps["saturation:down"], steps["saturation:up"]
    assert down["severity"] == [0.5, 1.0] and down["photos"] == 1
    np.testing.assert_allclose(down["delta"], [0.05, -0.2])
    assert down["above_pristine"] == [1.0, 0.0] and up["above_pristine"] == [0.0, 0.0]
    np.testing.assert_allclose(up["delta"], [-0.1, -0.3])
    merged = level_steps(pred, pool, split_by_chroma=())  # no split: one row per kind
    assert sorted(merged) == ["saturation"] and merged["saturation"]["photos"] == 2
    np.testing.assert_allclose(merged["saturation"]["delta"], [-0.025, -0.25])


def test_release_levels_report_tables_and_candidate_argument(eval_script, tmp_path: Path) -> None:
    mod = eval_script("release_levels")
    rows = [{"release": "r1", "protocol": proto, "pool": "levels_clean", "photos": 2, "kind": kind, "value": v}
            for proto in mod.PROTOCOLS for kind, v in (("ALL_min", 0.5), ("pristine_above", 0.9),
                                                       ("noop_ladders", 1), ("jpeg", 0.5))]
    md = mod.markdown(rows, Path("cfg.yml"), " --candidate r1=x.pth")
    assert "--config cfg.yml --candidate r1=x.pth" in md
    assert "## `levels_clean`: 2 test photos of the clean sets" in md
    assert "| no-op ladders left out | 1 | 1 |" in md and "| jpeg | 0.5000 | 0.5000 |" in md
    steps = [{"release": "r1", "kind": "saturation:down", "photos": 2, "severity": s, "delta": d, "above_pristine": a}
             for s, d, a in ((0.1, 0.004, 0.5), (1.0, -0.2, 0.0))]
    table = "\n".join(mod.steps_markdown(steps))
    assert "| kind | photos | s=0.1 | s=1 |" in table
    assert "| saturation:down | 2 | +0.004 (0.50) | -0.200 (0.00) |" in table
    with pytest.raises(SystemExit):
        mod.main(["--candidate", f"v9={tmp_path / 'missing.pth'}"])
