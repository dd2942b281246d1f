"""Stage 1 starting from the teacher's distilled intermediate features (``release/feature_init.py``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mspt_pyiqa.archs import MSPTNet
from research.release.feature_init import (DEFAULT_TAPS, STUDENT_CHANNELS, TEACHER_CHANNELS, Hints, feature_init,
                                             student_maps, teacher_maps)
from research.release.pools import Pool
from research.release.teacher import FEATURE_DIM, MobileNetV2Teacher
from mspt_pyiqa.weights import read_checkpoint, sha256_file

CFG = {"iterations": 12, "lr": 0.003, "batch_size": 4, "stats_batches": 2, "channels_last": True}


def _pool(n: int = 8, size: int = 64, seed: int = 0) -> Pool:
    rng = np.random.default_rng(seed)
    return Pool(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), (0.2 + 0.6 * rng.random(n)).astype(np.float32),
                np.array([f"p{i}" for i in range(n)]), np.array(["jpeg"] * n), np.full(n, 0.5, np.float32), size)


@pytest.fixture(scope="module")
def teacher() -> MobileNetV2Teacher:
    """Random weights (no download); BatchNorm statistics estimated on random batches, since
    the default statistics make deep random features vanish (~1e-9)."""
    torch.manual_seed(0)
    t = MobileNetV2Teacher(None, split_block=14)
    blocks = torch.nn.Sequential(t.lower_blocks, t.upper_blocks).train()
    with torch.no_grad():
        for _ in range(3):
            blocks(torch.rand(8, 3, 64, 64))
    return t.eval()


@pytest.mark.parametrize("size", [64, 96, 160])
def test_tapped_maps_match_in_size_and_the_declared_channels(teacher: MobileNetV2Teacher, size: int) -> None:
    x = torch.rand(2, 3, size, size)
    student_taps, teacher_taps = sorted(DEFAULT_TAPS), [DEFAULT_TAPS[i] for i in sorted(DEFAULT_TAPS)]
    with torch.no_grad():
        t_maps, t_pooled = teacher_maps(teacher, x, teacher_taps)
        s_maps, s_pooled = student_maps(MSPTNet(pretrained=False, test_img_size=None).eval(), x, student_taps)
    assert t_pooled.shape == (2, FEATURE_DIM) and s_pooled.shape == (2, 1024)
    for i, j, s, t in zip(student_taps, teacher_taps, s_maps, t_maps):
        assert s.shape[1] == STUDENT_CHANNELS[i] and t.shape[1] == TEACHER_CHANNELS[j]
        assert s.shape[2:] == t.shape[2:]  # equal strides: the 1x1 hint needs no resizing


def test_hint_targets_have_unit_rms_and_a_silent_student_loses_one_per_tap(teacher: MobileNetV2Teacher) -> None:
    """Targets are centred per channel and scaled to unit RMS per tap, so every tap (and the
    pooled features) weighs the same: hints that output zeros lose exactly 1 on each."""
    hints = Hints(DEFAULT_TAPS)
    with torch.no_grad():
        t_maps, t_pooled = teacher_maps(teacher, torch.rand(6, 3, 64, 64), hints.teacher_taps)
    hints.fit_stats([t_maps], [t_pooled])
    standard = [(t - mu) / sd for t, (mu, sd) in zip(t_maps + [t_pooled], hints.stats)]
    for z in standard:
        assert abs(float(z.pow(2).mean()) - 1.0) < 1e-3
    for conv in hints.convs:
        torch.nn.init.zeros_(conv.weight), torch.nn.init.zeros_(conv.bias)
    torch.nn.init.zeros_(hints.pooled.weight), torch.nn.init.zeros_(hints.pooled.bias)
    s_maps = [torch.zeros(t.shape[0], STUDENT_CHANNELS[i], *t.shape[2:]) for i, t in zip(hints.student_taps, t_maps)]
    losses = hints.losses(s_maps, torch.zeros(6, 1024), t_maps, t_pooled)
    assert len(losses) == len(DEFAULT_TAPS) + 1 and all(abs(v.item() - 1.0) < 1e-3 for v in losses)


def test_feature_init_learns_the_hints_is_deterministic_and_resumes(tmp_path: Path, teacher: MobileNetV2Teacher) -> None:
    pool, first = _pool(), _pool(6, 48, seed=1)
    a = feature_init(CFG, teacher, pool, first, tmp_path / "a", seed=0)
    b = feature_init(CFG, teacher, pool, first, tmp_path / "b", seed=0)
    wa, wb = read_checkpoint(a), read_checkpoint(b)  # (file hashes differ: torch.save names the archive after the temp file)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    record = json.loads((tmp_path / "a" / "feature_init_record.json").read_text())
    first_losses, last_losses = record["history"][0]["losses"], record["history"][-1]["losses"]
    assert len(first_losses) == len(DEFAULT_TAPS) + 1 and record["iterations"] == 12 and record["sha256"] == sha256_file(a)
    assert np.mean(last_losses) < np.mean(first_losses)  # the student moves towards the teacher's maps
    # the head starts at stage 1's mean label, small and untrained, like a fresh stage 1
    net = MSPTNet(pretrained=False, test_img_size=None)
    net.load_state_dict(read_checkpoint(a))
    with torch.no_grad():
        scores = net.eval()(torch.rand(3, 3, 48, 48)).flatten()
    assert torch.allclose(scores, torch.full((3,), float(first.labels.mean())), atol=0.05)
    mtime = a.stat().st_mtime_ns  # resume: an existing checkpoint and record are reused, not retrained
    assert feature_init({**CFG, "iterations": 1000}, teacher, pool, first, tmp_path / "a", seed=0) == a
    assert a.stat().st_mtime_ns == mtime


def test_runner_starts_stage_1_from_feature_init_only_when_configured(tmp_path: Path, monkeypatch,
                                                                      teacher: MobileNetV2Teacher) -> None:
    import research.release.run as run

    pools = {"train": [_pool(6, 48, seed=1), _pool()], "val": [_pool(4, 48, seed=2), _pool(4, seed=3)]}
    assert run.initial_checkpoint({"seed": 0}, tmp_path, pools) is None
    monkeypatch.setattr(run, "get_teacher", lambda cfg, out, p: teacher)
    path = run.initial_checkpoint({"seed": 0, "feature_init": CFG}, tmp_path, pools)
    assert path == tmp_path / "feature_init.pth" and path.is_file()
    record = json.loads((tmp_path / "feature_init_record.json").read_text())
    assert record["images"] == 8 and record["resolution"] == 64  # the last stage's pool
