"""End to end: three stages on ~30 generated images at 64/96/128 px, hash chain, forgetting
table, and resume after interruptions = uninterrupted run (same seed, bit for bit)."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from mspt_pyiqa.train import run_recipe
from mspt_pyiqa.train.stage import StageInterrupted
from mspt_pyiqa.train.toy import write_toy_setup
from mspt_pyiqa.weights import read_checkpoint, sha256_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    # 3 stages x 10 images (6 train, 4 val); states saved every 2 iterations.
    return write_toy_setup(tmp_path_factory.mktemp("toy"), per_stage=10, n_val=4, save_every=2)


@pytest.fixture(scope="module")
def full_run(recipe, tmp_path_factory):
    out = tmp_path_factory.mktemp("run_full")
    # One thread, as the killed-and-resumed subprocess below (OMP_NUM_THREADS=1): bit-identical
    # comparisons need the same reduction order whatever an earlier test set.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return out, run_recipe(recipe, out)
    finally:
        torch.set_num_threads(threads)


def test_each_stage_starts_from_previous_best_by_hash(full_run):
    out, summary = full_run
    stages = summary["stages"]
    assert [s["name"] for s in stages] == ["synthetic_stage1_224", "synthetic_stage2_336", "synthetic_stage3_448"]
    assert stages[0]["pretrain_sha256"] is None
    for prev, cur in zip(stages, stages[1:]):
        assert cur["pretrain_network"] == prev["best_checkpoint"]
        # The hash the stage computed on the file it loaded = hash of the previous best file now.
        assert cur["pretrain_sha256"] == prev["best_sha256"] == sha256_file(Path(prev["best_checkpoint"]))
    # Training moved the weights away from the start.
    first = read_checkpoint(Path(stages[1]["pretrain_network"]))
    second = read_checkpoint(Path(stages[1]["best_checkpoint"]))
    assert any(not torch.equal(first[k], second[k]) for k in first if first[k].is_floating_point())


def test_replay_and_run_folder(full_run):
    out, summary = full_run
    import yaml

    stage3 = yaml.safe_load((out / "3_synthetic_stage3_448" / "options.yml").read_text())
    sources = stage3["datasets"]["train"]["sources"]
    assert [bool(s["replay"]) for s in sources] == [True, True, False]
    assert stage3["train"]["anti_forgetting"]["distill"] == 1.0
    assert stage3["network"]["test_img_size"] == 128
    for name in ("run.json", "recipe.yml", "train.log", "forgetting.csv", "forgetting.md"):
        assert (out / name).is_file(), name
    assert summary["git_commit"] and summary["manual_seed"] == 7
    assert "epoch 2/2 loss" in (out / "train.log").read_text()


def test_forgetting_table_finite(full_run):
    out, _ = full_run
    table = pd.read_csv(out / "forgetting.csv")
    assert len(table) == 9
    assert sorted(set(table["resolution"])) == [64, 96, 128]
    assert all(math.isfinite(v) for v in table[["srcc", "plcc"]].to_numpy().ravel())
    assert "| synthetic_stage3_448 |" in (out / "forgetting.md").read_text()


def test_resume_after_interruptions_matches_uninterrupted(recipe, full_run, tmp_path):
    out_full, _ = full_run
    out = tmp_path / "run_resumed"
    # Killed in stage 2 at iteration 3 (last state: iteration 2), then in stage 3 mid-epoch
    # at iteration 5 (last state: iteration 4, batch 1 of epoch 2); the third call finishes.
    with pytest.raises(StageInterrupted):
        run_recipe(recipe, out, stop_after={"stage": 1, "iter": 3})
    assert not (out / "2_synthetic_stage2_336" / "result.json").exists()
    with pytest.raises(StageInterrupted):
        run_recipe(recipe, out, stop_after={"stage": 2, "iter": 5})
    run_recipe(recipe, out)
    for stage in ("1_synthetic_stage1_224", "2_synthetic_stage2_336", "3_synthetic_stage3_448"):
        for ckpt in ("net_best.pth", "net_latest.pth"):
            a = read_checkpoint(out_full / stage / "models" / ckpt)
            b = read_checkpoint(out / stage / "models" / ckpt)
            assert a.keys() == b.keys()
            assert all(torch.equal(a[k], b[k]) for k in a), f"{stage}/{ckpt} differs after resume"
    pd.testing.assert_frame_equal(pd.read_csv(out_full / "forgetting.csv"), pd.read_csv(out / "forgetting.csv"))


def test_wall_clock_checkpoints_and_changed_logger_resume_identically(recipe, full_run, tmp_path):
    """Stage 2 saving by wall clock only (no iteration count), interrupted, then resumed with the
    recipe's own logger settings: the checkpoint frequency may change between runs, the weights
    may not."""
    out_full, _ = full_run
    out = tmp_path / "run_clock"
    clock = {"stages.1.overrides.logger.save_latest_freq": 0, "stages.1.overrides.logger.save_latest_minutes": 1e-9}
    with pytest.raises(StageInterrupted):
        run_recipe(recipe, out, overrides=clock, stop_after={"stage": 1, "iter": 3})
    states = sorted(p.name for p in (out / "2_synthetic_stage2_336" / "training_states").glob("*.state"))
    assert states == ["3.state"]  # saved by the clock at the iteration the run stopped
    run_recipe(recipe, out)
    for stage in ("2_synthetic_stage2_336", "3_synthetic_stage3_448"):
        a = read_checkpoint(out_full / stage / "models" / "net_best.pth")
        b = read_checkpoint(out / stage / "models" / "net_best.pth")
        assert all(torch.equal(a[k], b[k]) for k in a), f"{stage} differs after a clock-saved resume"


def test_sigkill_mid_stage_then_same_command_resumes(recipe, full_run, tmp_path):
    """A real kill -9 of `mspt-face train` in stage 2; the same command then finishes identically."""
    out_full, _ = full_run
    out = tmp_path / "run_killed"
    cmd = [sys.executable, "-m", "mspt_pyiqa.cli.main", "train", str(recipe), "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    states = out / "2_synthetic_stage2_336" / "training_states"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline and not any(states.glob("*.state")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed, not finished
    assert not (out / "3_synthetic_stage3_448" / "result.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for stage in ("2_synthetic_stage2_336", "3_synthetic_stage3_448"):
        a = read_checkpoint(out_full / stage / "models" / "net_best.pth")
        b = read_checkpoint(out / stage / "models" / "net_best.pth")
        assert all(torch.equal(a[k], b[k]) for k in a), f"{stage} differs after kill + resume"
