"""DDP: the recipe under torchrun with 2 CPU processes on the gloo backend."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mspt_pyiqa.train.toy import write_toy_setup
from mspt_pyiqa.weights import sha256_file

pytestmark = pytest.mark.slow


def test_torchrun_two_cpu_processes_gloo(tmp_path):
    recipe = write_toy_setup(tmp_path / "toy", per_stage=10, n_val=4, epochs=1)
    out = tmp_path / "run"
    # 6-18 training images per stage: 3 per process and batch.
    sets = [f"stages.{k}.overrides.datasets.train.batch_size_per_gpu=3" for k in range(3)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29617",
           "-m", "mspt_pyiqa.cli.main", "train", str(recipe), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "run.json").read_text())
    assert summary["world_size"] == 2
    stages = summary["stages"]
    for prev, cur in zip(stages, stages[1:]):
        assert cur["pretrain_sha256"] == prev["best_sha256"] == sha256_file(Path(prev["best_checkpoint"]))
    # Stage 3 trains on 18 images: 3 iterations per epoch with 2 processes x batch 3.
    assert stages[2]["iters"] == 3
    table = pd.read_csv(out / "forgetting.csv")
    assert len(table) == 9 and all(math.isfinite(v) for v in table[["srcc", "plcc"]].to_numpy().ravel())
    assert "Forgetting table" in proc.stdout
