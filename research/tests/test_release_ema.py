"""Weight averaging in the release trainer: the ``ema_decay`` stage field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import pytest
import torch

from research.release.pools import Pool
from research.release.trainer import StageData, train_stage
from mspt_pyiqa.weights import read_checkpoint


def _pool(n: int, seed: int, size: int = 48) -> Pool:
    rng = np.random.default_rng(seed)
    return Pool(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.random(n).astype(np.float32),
                np.array([f"p{i}" for i in range(n)]), np.array(["jpeg"] * n), np.full(n, 0.5, np.float32), size)


def _train(out: Path, ema_decay: Optional[float]) -> Dict[str, Any]:
    torch.set_num_threads(1)  # the same float sums in every run
    stage = {"name": "s", "iterations": 4, "lr": 1e-3, "batch_size": 4, "eval_every": 2}
    if ema_decay is not None:
        stage["ema_decay"] = ema_decay
    return train_stage(stage, 0, [StageData(_pool(8, 0), None, None)], [_pool(6, 1)], {"label": 1.0, "plcc": 0.5},
                       out, None, seed=3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    out = {}
    for name, decay in (("raw", None), ("ema0", 0.0), ("ema", 0.5)):
        out[name] = tmp_path_factory.mktemp(name)
        _train(out[name], decay)
    return out


def _record(run: Path) -> Dict[str, Any]:
    return json.loads((run / "s_record.json").read_text())


def test_decay_zero_is_the_raw_weights(runs: Dict[str, Path]) -> None:
    raw, ema0 = read_checkpoint(runs["raw"] / "s_last.pth"), read_checkpoint(runs["ema0"] / "s_last.pth")
    assert raw.keys() == ema0.keys()
    for key in raw:
        torch.testing.assert_close(ema0[key], raw[key], msg=key)


def test_averaging_leaves_training_alone_and_changes_the_output(runs: Dict[str, Path]) -> None:
    raw_hist, ema_hist = _record(runs["raw"])["history"], _record(runs["ema"])["history"]
    assert [h["iter"] for h in ema_hist] == [2, 4]
    # the raw weights follow the same trajectory with or without an average beside them
    for r, e in zip(raw_hist, ema_hist):
        assert e["raw_mean_val_srcc"] == pytest.approx(r["mean_val_srcc"], abs=1e-6)
        assert "raw_mean_val_srcc" not in r
    raw, ema = read_checkpoint(runs["raw"] / "s_last.pth"), read_checkpoint(runs["ema"] / "s_last.pth")
    moved = [k for k in raw if raw[k].is_floating_point() and not torch.allclose(raw[k], ema[k])]
    assert moved, "decay 0.5 must give other weights than the raw ones"


def test_checkpoint_records_the_decay(runs: Dict[str, Path]) -> None:
    meta = torch.load(runs["ema"] / "s_last.pth", map_location="cpu", weights_only=True)["meta"]
    assert meta["ema_decay"] == 0.5 and meta["iter"] == 4
    assert Path(_record(runs["ema"])["best_checkpoint"]).is_file()
