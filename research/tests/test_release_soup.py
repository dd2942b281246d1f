"""Weight soups of release checkpoints (``research.release.soup``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch

from mspt_pyiqa.archs import MSPTNet
from research.release.pools import Pool
from research.release.soup import TRAIN_POOLS, VAL_POOLS, average_state_dicts, load_net, main
from mspt_pyiqa.weights import read_checkpoint, save_checkpoint


def _state(seed: int) -> Dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = MSPTNet(pretrained=False, test_img_size=None)
    with torch.no_grad():  # non-trivial BatchNorm statistics, different per seed
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(seed + 1)
    return net.state_dict()


def _pool(n: int, size: int, seed: int) -> Pool:
    rng = np.random.default_rng(seed)
    return Pool(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.random(n).astype(np.float32),
                np.array([f"p{i}" for i in range(n)]), np.array(["jpeg"] * n), np.full(n, 0.5, np.float32), size)


def test_average_is_elementwise_mean_and_keeps_integer_buffers() -> None:
    a, b = _state(0), _state(1)
    soup = average_state_dicts([a, b], ["a", "b"])
    assert set(soup) == set(a)
    for k, v in soup.items():
        assert v.dtype == a[k].dtype and v.shape == a[k].shape
        if v.is_floating_point():
            torch.testing.assert_close(v, (a[k] + b[k]) / 2, rtol=1e-6, atol=1e-7)
        else:  # num_batches_tracked: the first checkpoint's
            assert torch.equal(v, a[k])


def test_soup_of_one_network_with_itself_scores_like_it() -> None:
    a = _state(0)
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        ref = load_net(a)(x)
        got = load_net(average_state_dicts([a, a, a], ["a1", "a2", "a3"]))(x)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_mismatched_checkpoints_are_named() -> None:
    a, b = _state(0), _state(1)
    with pytest.raises(ValueError, match="at least two"):
        average_state_dicts([a], ["a"])
    extra = dict(b, **{"extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="other.pth: its keys differ"):
        average_state_dicts([a, extra], ["a.pth", "other.pth"])
    key = next(k for k, v in a.items() if v.ndim == 4)
    bad = dict(b, **{key: torch.zeros(1, 1, 1, 1)})
    with pytest.raises(ValueError, match=rf"bad.pth: {key} has shape \(1, 1, 1, 1\)"):
        average_state_dicts([a, bad], ["a.pth", "bad.pth"])


def _write_run(tmp_path: Path) -> Path:
    pools = tmp_path / "pools"
    for i, (val, train) in enumerate(zip(VAL_POOLS, TRAIN_POOLS)):
        _pool(6, 48 + 16 * i, i).save(pools / val)
        _pool(8, 48 + 16 * i, 10 + i).save(pools / train)
    return pools


def test_cli_writes_soup_checkpoint_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pools = _write_run(tmp_path)
    ckpts = []
    for seed in (0, 1):
        net = load_net(_state(seed))
        ckpts.append(tmp_path / f"s{seed}.pth")
        save_checkpoint(net, ckpts[-1])
    out, report = tmp_path / "soup.pth", tmp_path / "soup.json"
    assert main([str(c) for c in ckpts] + ["--pools", str(pools), "--out", str(out), "--report", str(report),
                                            "--bn-reestimate", "--bn-batches", "1"]) == 0
    rows = json.loads(report.read_text())["rows"]
    assert [r["model"] for r in rows[:2]] == [str(c) for c in ckpts]
    assert rows[2]["model"].startswith("score ensemble of 2") and rows[3]["model"] == "soup of 2 + BN re-estimated"
    for r in rows:
        assert -1.0 <= r["mean_val_srcc"] <= 1.0 and [v["resolution"] for v in r["val"]] == [48, 64, 80]
    assert rows[3]["checkpoint"] == str(out) and len(rows[3]["sha256"]) == 64
    soup = read_checkpoint(out)
    ref = average_state_dicts([_state(0), _state(1)], ["a", "b"])
    key = next(k for k, v in ref.items() if v.ndim == 4)
    torch.testing.assert_close(soup[key], ref[key])  # weights averaged ...
    bn_key = next(k for k in ref if k.endswith("running_var"))
    assert not torch.allclose(soup[bn_key], ref[bn_key])  # ... BatchNorm statistics recomputed
    assert "soup of 2" in capsys.readouterr().out


def test_cli_names_a_missing_pool_folder(tmp_path: Path, tiny_checkpoint: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(tiny_checkpoint), str(tiny_checkpoint), "--pools", str(tmp_path / "nowhere"),
              "--out", str(tmp_path / "s.pth")])
    err = capsys.readouterr().err
    assert "nowhere" in err and "stage1_val.npz" in err
    assert not (tmp_path / "s.pth").exists()
