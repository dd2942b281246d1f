"""Severity ladders and the within-ladder ranking loss of the release trainer."""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from mspt_pyiqa.corpus.config import load_stage
from mspt_pyiqa.corpus.sampler import DegradationSampler
from mspt_pyiqa.corpus.sources import Source
from research.release.ladders import build_ladder_pool, ladder_batch, ranking_loss, teacher_difference_loss

KINDS = ["gaussian_blur", "jpeg", "saturation"]
BINS = [(0.03, 0.2), (0.2, 0.5), (0.5, 1.0)]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> List[Source]:
    root = tmp_path_factory.mktemp("faces")
    out = []
    for i, img in enumerate([skdata.astronaut()[:300, 100:400], skdata.chelsea()]):
        path = root / f"p{i}.png"
        Image.fromarray(img).save(path)
        out.append(Source(f"p{i}.png", "scut", path))
    return out


@pytest.fixture(scope="module")
def sampler() -> DegradationSampler:
    return DegradationSampler(load_stage("stage3"))


def test_ladder_pool_layout_labels_and_reproducibility(sources, sampler, tmp_path: Path) -> None:
    bad = Source("broken.png", "scut", tmp_path / "broken.png")
    bad.path.write_bytes(b"not an image")
    pool = build_ladder_pool(sources + [bad], sampler, 64, KINDS, BINS, seed=3)
    per_photo = 1 + len(KINDS) * len(BINS)
    assert len(pool) == 2 * per_photo and pool.images.shape == (2 * per_photo, 64, 64, 3)
    assert len(pool.failed) == 1 and "broken.png" in pool.failed[0]
    for p in range(2):
        rows = slice(p * per_photo, (p + 1) * per_photo)
        assert pool.kinds[rows][0] == "pristine" and pool.labels[rows][0] == pytest.approx(1.0)
        assert np.all(pool.labels[rows][1:] < 1.0)
        for j, kind in enumerate(KINDS):
            sev = pool.severities[rows][1 + j * 3: 4 + j * 3]
            assert list(pool.kinds[rows][1 + j * 3: 4 + j * 3]) == [kind] * 3
            assert all(lo <= s <= hi for s, (lo, hi) in zip(sev, BINS))
            assert np.all(np.diff(pool.labels[rows][1 + j * 3: 4 + j * 3]) < 0)  # labels fall with severity
    again = build_ladder_pool(sources, sampler, 64, KINDS, BINS, seed=3)
    assert np.array_equal(again.images, pool.images) and np.array_equal(again.labels, pool.labels)


def test_ladder_batch_takes_pristine_and_one_kind_per_ladder(sources, sampler) -> None:
    pool = build_ladder_pool(sources, sampler, 48, KINDS, BINS, seed=0)
    idx, group = ladder_batch(pool, len(KINDS), len(BINS), 5, np.random.default_rng(0))
    assert idx.shape == group.shape == (5 * 4,)
    for g in range(5):
        rows = idx[group == g]
        assert pool.kinds[rows[0]] == "pristine"
        assert len(set(pool.kinds[rows[1:]])) == 1 and len(set(pool.source_ids[rows])) == 1
        assert np.all(np.diff(pool.severities[rows]) > 0)


def test_ranking_loss_values_and_gradient() -> None:
    labels = torch.tensor([1.0, 0.9, 0.5, 1.0, 0.2])
    group = torch.tensor([0, 0, 0, 1, 1])
    ordered = torch.tensor([0.9, 0.8, 0.3, 0.7, 0.1], requires_grad=True)
    assert ranking_loss(ordered, labels, group, margin=0.05).item() == 0.0
    # one swapped pair (0.9 vs 0.5 labels scored 0.3 / 0.4): hinge 0.05 + 0.1 on 1 of 4 pairs
    swapped = torch.tensor([0.9, 0.3, 0.4, 0.7, 0.1], requires_grad=True)
    loss = ranking_loss(swapped, labels, group, margin=0.05)
    assert loss.item() == pytest.approx(0.15 / 4)
    loss.backward()
    # descent raises the under-scored better image and lowers the over-scored worse one
    assert swapped.grad[1] < 0 < swapped.grad[2] and swapped.grad[3] == 0 == swapped.grad[0]
    flat = torch.zeros(2, requires_grad=True)  # equal labels: no pair, zero loss with a graph
    out = ranking_loss(flat, torch.ones(2), torch.zeros(2))
    out.backward()
    assert out.item() == 0.0


def test_ranking_loss_weights_pairs_led_by_an_anchor() -> None:
    """``anchor_weight`` multiplies the hinge of pairs whose better image is an anchor (the
    pristine photo) and leaves the divisor, so the other pairs keep their gradient."""
    labels = torch.tensor([1.0, 0.9, 0.5, 0.8, 0.3])
    group = torch.tensor([0, 0, 0, 1, 1])
    anchor = torch.tensor([True, False, False, False, False])  # ladder 1 has no pristine row
    # ladder 0: pristine scored just below its mild version (hinge 0.05 + 0.05), the rest in
    # order; ladder 1: its pair swapped (hinge 0.05 + 0.2); 4 pairs
    pred = torch.tensor([0.55, 0.6, 0.2, 0.2, 0.4], requires_grad=True)
    plain = ranking_loss(pred, labels, group, margin=0.05)
    assert plain.item() == pytest.approx((0.1 + 0.25) / 4)
    assert ranking_loss(pred, labels, group, margin=0.05, anchor=anchor, anchor_weight=1.0).item() == plain.item()
    weighted = ranking_loss(pred, labels, group, margin=0.05, anchor=anchor, anchor_weight=4.0)
    assert weighted.item() == pytest.approx((4 * 0.1 + 0.25) / 4)
    weighted.backward()
    g_w = pred.grad.clone()
    pred.grad = None
    ranking_loss(pred, labels, group, margin=0.05).backward()
    assert g_w[0].item() == pytest.approx(4 * pred.grad[0].item()) and g_w[0] < 0  # pushed up 4x as hard
    assert g_w[3:].tolist() == pytest.approx(pred.grad[3:].tolist())  # pairs without an anchor: unchanged
    with pytest.raises(ValueError, match="must be >= 0"):
        ranking_loss(pred, labels, group, margin=0.05, anchor=anchor, anchor_weight=-1.0)


def test_trainer_ladder_pristine_weight_reaches_the_hinge(sources, sampler) -> None:
    from mspt_pyiqa.archs import MSPTNet
    from research.release.trainer import StageData, _batch, _ladder_loss

    pool = build_ladder_pool(sources, sampler, 48, KINDS, BINS, seed=1)
    data = StageData(pool, None, None, ladders=pool, ladder_kinds=KINDS, ladder_bins=len(BINS))
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).eval()
    lcfg = {"ladders_per_batch": 3, "rank_weight": 2.0, "margin": 0.5}
    loss_w = {"label": 1.0, "plcc": 0.5}
    base = _ladder_loss(net, data, lcfg, loss_w, np.random.default_rng(5))
    got = _ladder_loss(net, data, {**lcfg, "pristine_weight": 3.0}, loss_w, np.random.default_rng(5))
    rng = np.random.default_rng(5)  # the same draws, by hand
    idx, group = ladder_batch(pool, len(KINDS), len(BINS), 3, rng)
    x = _batch(pool, idx, rng.random(len(idx)) < 0.5)
    y, g = torch.from_numpy(pool.labels[idx]), torch.from_numpy(group)
    with torch.no_grad():
        pred = net(x).squeeze(1)
    anchor = torch.from_numpy(pool.kinds[idx] == "pristine")
    plain = ranking_loss(pred, y, g, margin=0.5)
    weighted = ranking_loss(pred, y, g, margin=0.5, anchor=anchor, anchor_weight=3.0)
    assert weighted.item() > plain.item() > 0
    assert got.item() - base.item() == pytest.approx(2.0 * (weighted.item() - plain.item()), rel=1e-4)


def test_trainer_ladder_step_is_label_loss_plus_weighted_hinge(sources, sampler) -> None:
    """The release trainer's ladder batch: label MSE + PLCC loss + rank_weight x ranking hinge."""
    import torch.nn.functional as F

    from mspt_pyiqa.archs import MSPTNet
    from research.release.trainer import StageData, _batch, _ladder_loss, plcc_loss

    pool = build_ladder_pool(sources, sampler, 48, KINDS, BINS, seed=1)
    data = StageData(pool, None, None, ladders=pool, ladder_kinds=KINDS, ladder_bins=len(BINS))
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).eval()  # eval: BatchNorm independent of the batch
    lcfg = {"ladders_per_batch": 3, "rank_weight": 2.5, "margin": 0.5, "kind_weights": {"jpeg": 0.0}}
    loss_w = {"label": 1.0, "plcc": 0.5}
    got = _ladder_loss(net, data, lcfg, loss_w, np.random.default_rng(4))
    rng = np.random.default_rng(4)  # the same draws, by hand
    idx, group = ladder_batch(pool, len(KINDS), len(BINS), 3, rng, np.array([0.5, 0.0, 0.5]))
    assert "jpeg" not in set(pool.kinds[idx])  # kind weight 0: never drawn
    x = _batch(pool, idx, rng.random(len(idx)) < 0.5)
    y = torch.from_numpy(pool.labels[idx])
    with torch.no_grad():
        pred = net(x).squeeze(1)
    rank = ranking_loss(pred, y, torch.from_numpy(group), margin=0.5)
    assert rank.item() > 0  # margin 0.5 is violated by a random network
    want = F.mse_loss(pred, y) + 0.5 * plcc_loss(pred, y) + 2.5 * rank
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_teacher_difference_loss_copies_only_pairs_the_teacher_orders_right() -> None:
    labels = torch.tensor([1.0, 0.9, 0.5, 1.0, 0.2])
    group = torch.tensor([0, 0, 0, 1, 1])
    teacher = torch.tensor([0.9, 0.8, 0.3, 0.4, 0.6])  # ladder 1: the teacher has the pair backwards
    same = teacher.clone().requires_grad_()
    assert teacher_difference_loss(same, teacher, labels, group).item() == 0.0
    shifted = (teacher + 0.25).requires_grad_()  # a constant offset changes no difference
    assert teacher_difference_loss(shifted, teacher, labels, group).item() == pytest.approx(0.0, abs=1e-12)
    # ladder 1's wrong teacher pair is not copied: any student score there costs nothing
    free = torch.tensor([0.9, 0.8, 0.3, 0.9, 0.1], requires_grad=True)
    assert teacher_difference_loss(free, teacher, labels, group).item() == pytest.approx(0.0, abs=1e-12)
    # the middle image scored 0.1 too high: pairs (0,1) and (1,2) err by -0.1 and +0.1 (of 3 pairs)
    off = torch.tensor([0.9, 0.9, 0.3, 0.4, 0.6], requires_grad=True)
    loss = teacher_difference_loss(off, teacher, labels, group)
    assert loss.item() == pytest.approx(2 * 0.01 / 3, rel=1e-5)
    loss.backward()
    assert off.grad[1] > 0 and off.grad[3] == 0 == off.grad[4]  # descent lowers the over-scored one
    none = torch.zeros(2, requires_grad=True)  # no qualifying pair: zero with a graph
    out = teacher_difference_loss(none, torch.zeros(2), torch.ones(2), torch.zeros(2))
    out.backward()
    assert out.item() == 0.0


def test_trainer_ladder_teacher_term_is_added_with_its_weight(sources, sampler) -> None:
    from mspt_pyiqa.archs import MSPTNet
    from research.release.trainer import StageData, _batch, _ladder_loss

    pool = build_ladder_pool(sources, sampler, 48, KINDS, BINS, seed=1)
    t_score = np.linspace(1.0, 0.0, len(pool)).astype(np.float32)
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).eval()
    lcfg = {"ladders_per_batch": 3, "rank_weight": 1.0, "margin": 0.02}
    loss_w = {"label": 1.0, "plcc": 0.5}
    with_t = StageData(pool, None, None, ladders=pool, ladder_kinds=KINDS, ladder_bins=len(BINS), ladder_t_score=t_score)
    base = _ladder_loss(net, with_t, lcfg, loss_w, np.random.default_rng(2))
    got = _ladder_loss(net, with_t, {**lcfg, "teacher_weight": 3.0}, loss_w, np.random.default_rng(2))
    rng = np.random.default_rng(2)  # the same draws, by hand
    idx, group = ladder_batch(pool, len(KINDS), len(BINS), 3, rng)
    x = _batch(pool, idx, rng.random(len(idx)) < 0.5)
    with torch.no_grad():
        pred = net(x).squeeze(1)
    term = teacher_difference_loss(pred, torch.from_numpy(t_score[idx]), torch.from_numpy(pool.labels[idx]),
                                   torch.from_numpy(group))
    assert term.item() > 0
    assert got.item() == pytest.approx(base.item() + 3.0 * term.item(), rel=1e-5)
    without = StageData(pool, None, None, ladders=pool, ladder_kinds=KINDS, ladder_bins=len(BINS))
    with pytest.raises(ValueError, match="no teacher scores"):
        _ladder_loss(net, without, {**lcfg, "teacher_weight": 3.0}, loss_w, np.random.default_rng(2))


def test_kind_weights_are_checked() -> None:
    from research.release.ladders import kind_probabilities

    assert kind_probabilities(KINDS, None) is None
    assert kind_probabilities(KINDS, {"jpeg": 2.0}) == pytest.approx([0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="webp"):
        kind_probabilities(KINDS, {"webp": 1.0})
    with pytest.raises(ValueError, match="positive sum"):
        kind_probabilities(KINDS, {k: 0.0 for k in KINDS})


def _chroma(img: np.ndarray) -> float:
    """Mean distance of a pixel from its grey (luma) value: up for oversaturation, down for desaturation."""
    x = img.astype(np.float32) / 255.0
    lum = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.abs(x - lum[..., None]).mean())


def _directions(images: np.ndarray, clean: np.ndarray) -> set:
    return {np.sign(_chroma(im) - _chroma(clean)) for im in images}


def test_common_random_ladders_are_one_degradation_made_stronger(sources, sampler) -> None:
    """With common draws every saturation version of a photo moves the same way (all to grey
    or all oversaturated), its severities still rise bin by bin, and the pool is reproducible."""
    pool = build_ladder_pool(sources, sampler, 64, KINDS, BINS, seed=3, common_random=True)
    again = build_ladder_pool(sources, sampler, 64, KINDS, BINS, seed=3, common_random=True)
    assert np.array_equal(pool.images, again.images)
    per_photo = 1 + len(KINDS) * len(BINS)
    j = KINDS.index("saturation")
    for p in range(len(sources)):
        base = p * per_photo
        rows = slice(base + 1 + j * 3, base + 4 + j * 3)
        assert np.all(np.diff(pool.severities[rows]) > 0)
        dirs = _directions(pool.images[rows], pool.images[base])
        assert len(dirs) == 1 and 0.0 not in dirs, dirs


def test_levels_pool_common_random_keeps_one_direction_per_ladder(sources, sampler) -> None:
    from research.release.pools import build_pool

    levels = [{"kind": "pristine", "severity": 0.0}] + [
        {"kind": k, "severity": s} for k in ("saturation", "colour_cast") for s in (0.1, 0.25, 0.45, 0.7, 1.0)]
    common = build_pool(sources, sampler, 64, 0, seed=11, fixed=levels, common_random=True)
    indep = build_pool(sources, sampler, 64, 0, seed=11, fixed=levels)
    n = len(levels)
    for p in range(len(sources)):
        sat = slice(p * n + 1, p * n + 6)
        dirs = _directions(common.images[sat], common.images[p * n])
        assert len(dirs) == 1 and 0.0 not in dirs, dirs
        # the pristine row and the labels do not depend on the protocol, only the draws do
        assert np.array_equal(common.images[p * n], indep.images[p * n])
        np.testing.assert_allclose(common.labels[p * n:(p + 1) * n], indep.labels[p * n:(p + 1) * n])
    # colour cast: one hue per ladder, so the cast's direction in (R-G, B-G) stays put as it grows
    for p in range(len(sources)):
        clean = common.images[p * n].astype(np.float32)
        shifts = [(common.images[p * n + 6 + i].astype(np.float32) - clean).mean(axis=(0, 1)) for i in range(5)]
        unit = [s / (np.linalg.norm(s) + 1e-8) for s in shifts]
        assert min(float(u @ unit[-1]) for u in unit) > 0.9


def test_release_levels_pools_keep_their_seeds_and_add_common_draw_twins(sources, tmp_path: Path) -> None:
    """The runner's levels pools are the published ones (seed offset 2000 / 3000, independent
    draws); the common-draw twins hold the same photos, kinds, levels and labels."""
    from research.release.pools import build_pool
    from research.release.run import build_levels_pools, levels_spec, stage_sampler

    cfg = {"seed": 4, "max_levels_sources": 1, "levels_per_set": 1, "levels_kinds": ["saturation", "jpeg"],
           "stages": [{"name": "s3", "sampler": "stage3", "resolution": 48}]}
    indep = build_levels_pools(cfg, sources, tmp_path)
    common = build_levels_pools(cfg, sources, tmp_path, common_random=True)
    assert sorted(indep) == ["levels", "levels_mixed"] and sorted(common) == ["levels_common", "levels_mixed_common"]
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [
        "levels.npz", "levels_common.npz", "levels_mixed.npz", "levels_mixed_common.npz"]
    sampler, last_cfg = stage_sampler(cfg["stages"][-1])
    spec = levels_spec(cfg, last_cfg)
    assert len(indep["levels"]) == 1 + 2 * 5 and len(indep["levels_mixed"]) == 1 + 2 * 5  # one photo, one set
    ref = build_pool(sources[:1], sampler, 48, 0, 4 + 2000, fixed=spec)
    assert np.array_equal(indep["levels"].images, ref.images)
    np.testing.assert_allclose(common["levels_common"].labels, indep["levels"].labels)
    assert not np.array_equal(common["levels_common"].images, indep["levels"].images)
    only_dir = tmp_path / "only"  # a harness asking for one pool builds that one alone
    one = build_levels_pools(cfg, sources, only_dir, common_random=True, only=["levels_mixed_common"])
    assert list(one) == ["levels_mixed_common"] and [p.name for p in only_dir.glob("*.npz")] == ["levels_mixed_common.npz"]
    assert np.array_equal(one["levels_mixed_common"].images, common["levels_mixed_common"].images)
    assert build_levels_pools(cfg, sources, only_dir, only=["levels_mixed_common"]) == {}
    # The same cache folder asked for a pool of more photos refuses the stale file, naming it.
    wider = {**cfg, "max_levels_sources": 2}
    with pytest.raises(ValueError, match=r"levels\.npz: cached pool holds 1 photos .* not the 2 asked for"):
        build_levels_pools(wider, sources, tmp_path, only=["levels"])
    assert len(build_levels_pools(wider, sources, tmp_path / "wider", only=["levels"])["levels"]) == 2 * (1 + 2 * 5)


def test_runner_caches_the_teachers_ladder_scores_only_when_the_term_is_on(sources, sampler, tmp_path: Path,
                                                                           monkeypatch) -> None:
    import research.release.run as run
    from research.release.trainer import teacher_targets
    from research.release.teacher import MobileNetV2Teacher

    torch.manual_seed(0)
    teacher = MobileNetV2Teacher(None, split_block=14).eval()  # random weights: no download
    monkeypatch.setattr(run, "get_teacher", lambda cfg, out, p: teacher)
    ladders = build_ladder_pool(sources, sampler, 48, KINDS, BINS, seed=1)
    stage = {"name": "s1", "teacher_targets": False, "ladder": {"bins": BINS}}
    cfg = {"levels_kinds": KINDS, "teacher": {}, "stages": [stage]}
    pools = {"train": [ladders], "ladders": [ladders]}
    assert run.stage_data(cfg, tmp_path, 0, pools).ladder_t_score is None  # term off: no teacher pass
    assert not (tmp_path / "s1_ladder_teacher.npy").exists()
    stage["ladder"]["teacher_weight"] = 5.0
    got = run.stage_data(cfg, tmp_path, 0, pools).ladder_t_score
    want, _ = teacher_targets(teacher, ladders)
    assert got.shape == (len(ladders),) and np.allclose(got, want, atol=1e-6)
    cache = tmp_path / "s1_ladder_teacher.npy"
    mtime = cache.stat().st_mtime_ns
    assert np.array_equal(run.stage_data(cfg, tmp_path, 0, pools).ladder_t_score, got)  # reused
    assert cache.stat().st_mtime_ns == mtime and not list(tmp_path.glob("*.tmp*"))
    np.save(cache, np.zeros(3, np.float32))  # a cache of another pool is recomputed, not used
    assert np.allclose(run.stage_data(cfg, tmp_path, 0, pools).ladder_t_score, want, atol=1e-6)
