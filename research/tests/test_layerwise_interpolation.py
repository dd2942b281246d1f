"""research/probes/layerwise_interpolation.py: each tensor takes its part's weight."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from mspt_pyiqa.archs.mspt_arch import MSPTNet
from mspt_pyiqa.weights import read_checkpoint

SCRIPT = Path(__file__).resolve().parents[1] / "probes" / "layerwise_interpolation.py"


def _script():
    spec = importlib.util.spec_from_file_location("layerwise_interpolation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    net = MSPTNet(pretrained=False, test_img_size=32, detail_size=None)
    torch.save({"params": net.state_dict(), "meta": {"name": f"n{seed}"}}, path)
    return path


def test_early_and_late_tensors_take_their_weights(tmp_path: Path) -> None:
    fine, start = _save(tmp_path / "fine.pth", 0), _save(tmp_path / "start.pth", 1)
    out = tmp_path / "mixed.pth"
    assert _script().main(["--fine-tuned", str(fine), "--start", str(start), "--split", "model.blocks.3",
                           "--early-alpha", "0.25", "--late-alpha", "1.0", "--out", str(out)]) == 0
    f, s, m = read_checkpoint(fine), read_checkpoint(start), read_checkpoint(out)
    late = False
    for key in f:
        late = late or key.startswith("model.blocks.3.")
        if not f[key].is_floating_point():
            assert torch.equal(m[key], f[key])  # integer buffers stay the fine-tune's
            continue
        want = s[key] if late else torch.lerp(f[key], s[key], 0.25)
        torch.testing.assert_close(m[key], want)
    assert late  # the split key exists, so both parts were exercised
    meta = torch.load(str(out), map_location="cpu", weights_only=True)["meta"]
    assert meta["name"] == "n0" and meta["interpolation"]["early_weight"] == 0.25


def test_an_unknown_split_is_named(tmp_path: Path) -> None:
    fine = _save(tmp_path / "fine.pth", 0)
    with pytest.raises(SystemExit):
        _script().main(["--fine-tuned", str(fine), "--start", str(fine), "--split", "model.nope",
                        "--early-alpha", "0", "--late-alpha", "1", "--out", str(tmp_path / "x.pth")])


def test_stats_alpha_sets_batchnorm_statistics_apart(tmp_path: Path) -> None:
    fine, start = _save(tmp_path / "fine.pth", 0), _save(tmp_path / "start.pth", 1)
    with torch.no_grad():  # make the statistics differ (a fresh network's are all 0 / 1)
        s = torch.load(str(start), weights_only=True)
        for k in s["params"]:
            if k.endswith(("running_mean", "running_var")):
                s["params"][k] += 0.5
        torch.save(s, start)
    out = tmp_path / "stats.pth"
    _script().main(["--fine-tuned", str(fine), "--start", str(start), "--split", "model.blocks.3", "--early-alpha", "0",
                    "--late-alpha", "0", "--stats-alpha", "1", "--out", str(out)])
    f, st, m = read_checkpoint(fine), read_checkpoint(start), read_checkpoint(out)
    for key in f:
        want = st[key] if key.endswith(("running_mean", "running_var")) else f[key]
        torch.testing.assert_close(m[key], want)
