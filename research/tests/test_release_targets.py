"""Release trainer options: NHWC (channels_last) steps, teacher targets on a whole pool (mspt_face_v5), stage seeds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mspt_pyiqa.archs import MSPTNet
from research.release.pools import Pool
from research.release.run import get_teacher
from research.release.trainer import _batch, memory_format_of, teacher_targets
from research.release.teacher import FEATURE_DIM, MobileNetV2Teacher


def _pool(n: int = 6, size: int = 64, seed: int = 0) -> Pool:
    rng = np.random.default_rng(seed)
    return Pool(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.random(n).astype(np.float32),
                np.array([f"p{i}" for i in range(n)]), np.array(["jpeg"] * n), np.full(n, 0.5, np.float32), size)


def test_memory_format_is_a_config_field() -> None:
    assert memory_format_of({}) is torch.contiguous_format
    assert memory_format_of({"channels_last": False}) is torch.contiguous_format
    assert memory_format_of({"channels_last": True}) is torch.channels_last


def test_channels_last_batch_has_the_same_values_and_nhwc_strides() -> None:
    pool, idx, flip = _pool(), np.array([0, 3, 5]), np.array([True, False, True])
    a = _batch(pool, idx, flip)
    b = _batch(pool, idx, flip, torch.channels_last)
    assert b.shape == a.shape == (3, 3, 64, 64)
    assert b.is_contiguous(memory_format=torch.channels_last) and not a.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b)


def test_channels_last_student_gives_the_same_scores_and_gradients() -> None:
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None, drop_rate=0.0)  # no dropout: same maths, no mask draws
    twin = MSPTNet(pretrained=False, test_img_size=None, drop_rate=0.0)
    twin.load_state_dict(net.state_dict())
    twin.to(memory_format=torch.channels_last)
    x = _batch(_pool(4, 96), np.arange(4), np.zeros(4, bool))
    net.train(), twin.train()
    ya = net(x)
    yb = twin(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ya, yb, atol=1e-5)
    ya.sum().backward(), yb.sum().backward()
    ga = net.model.get_classifier().weight.grad
    gb = twin.model.get_classifier().weight.grad
    assert torch.allclose(ga, gb, rtol=1e-4, atol=1e-6)


def test_teacher_targets_cover_the_pool_in_either_layout() -> None:
    torch.manual_seed(0)
    teacher = MobileNetV2Teacher(None, split_block=14)  # random weights: the layout, not the values, is tested
    torch.nn.init.normal_(teacher.head.weight, std=0.05)  # the zero-initialised head would score a constant
    # random weights with default BatchNorm statistics make the features vanish (~1e-9), and three
    # batches at the default momentum leave them mostly at their initial values (every image then
    # scores alike): estimate the statistics as a plain average over a few random batches
    blocks = torch.nn.Sequential(teacher.lower_blocks, teacher.upper_blocks).train()
    for m in blocks.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
            m.reset_running_stats()
    with torch.no_grad():
        for _ in range(3):
            blocks(torch.randn(8, 3, 64, 64))
    teacher.eval()
    pool = _pool(5, 64)
    s1, f1 = teacher_targets(teacher, pool, bs=2)
    s2, f2 = teacher_targets(teacher, pool, bs=3, memory_format=torch.channels_last)
    assert s1.shape == (5,) and f1.shape == (5, FEATURE_DIM) and f1.dtype == np.float16
    assert s1.std() > 0 and np.allclose(s1, s2, atol=1e-4) and np.allclose(f1.astype(np.float32), f2.astype(np.float32), atol=2e-2)


def test_unknown_teacher_targets_value_fails_before_training(tmp_path: Path) -> None:
    cfg = {"seed": 0, "teacher": {"targets": "some"}}
    with pytest.raises(ValueError, match="teacher.targets must be 'trained' or 'all', got 'some'"):
        get_teacher(cfg, tmp_path, {"train": [_pool()], "val": [_pool()]})
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize("targets, expected", [("trained", 3), ("all", 8)])
def test_teacher_targets_cover_the_fitted_subset_or_the_whole_pool(tmp_path: Path, monkeypatch, targets: str,
                                                                   expected: int) -> None:
    """``teacher.targets``: stage 3 gets teacher targets on the fitted subset only, or on every image."""
    import research.release.run as run

    monkeypatch.setattr(run, "fetch_mobilenet_v2_imagenet", lambda: None)  # random weights: no download
    pool = _pool(8, 64)
    cfg = {"seed": 0, "levels_kinds": [], "stages": [{"name": "stage3", "teacher_targets": True}],
           "teacher": {"epochs": 1, "batch_size": 4, "max_images": 3, "targets": targets, "channels_last": True}}
    pools = {"train": [pool], "val": [_pool(4, 64, seed=1)], "ladders": [None]}
    data = run.stage_data(cfg, tmp_path, 0, pools)
    has = np.isfinite(data.t_score)
    assert data.t_score.shape == (8,) and int(has.sum()) == expected
    assert np.all(np.abs(data.t_feat[has].astype(np.float32)).sum(1) > 0) and not data.t_feat[~has].any()
    record = json.loads((tmp_path / "teacher_record.json").read_text())
    assert record["train_images"] == 3 and record["target_images"] == expected and record["targets"] == targets


def test_teacher_fits_the_whole_pool_when_max_images_is_omitted(tmp_path: Path, monkeypatch) -> None:
    """``teacher.max_images`` left out (as in the ``mspt_face_v9`` recipe): every image of the pool trains the teacher."""
    import research.release.run as run

    monkeypatch.setattr(run, "fetch_mobilenet_v2_imagenet", lambda: None)  # random weights: no download
    cfg = {"seed": 0, "levels_kinds": [], "stages": [{"name": "stage3", "teacher_targets": True}],
           "teacher": {"epochs": 1, "batch_size": 4, "targets": "trained"}}
    pools = {"train": [_pool(8, 64)], "val": [_pool(4, 64, seed=1)], "ladders": [None]}
    data = run.stage_data(cfg, tmp_path, 0, pools)
    record = json.loads((tmp_path / "teacher_record.json").read_text())
    assert record["train_images"] == 8 and record["target_images"] == 8
    assert np.isfinite(data.t_score).all()


def test_a_stage_seed_overrides_the_run_seed_for_that_stage_only() -> None:
    from research.release.run import stage_seed

    cfg = {"seed": 0, "stages": [{"name": "stage1"}, {"name": "stage3", "seed": 1}]}
    assert [stage_seed(cfg, s) for s in cfg["stages"]] == [0, 1]
