"""weight_interpolation: the recipe's result interpolated with its start (WiSE-FT), written and published."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from mspt_pyiqa import weights as W
from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.train import run_recipe
from mspt_pyiqa.train.interpolation import INTERPOLATED_NAME, interpolate_state, write_interpolated
from mspt_pyiqa.train.publish import PublishError, publish_run
from mspt_pyiqa.train.schema import recipe_problems
from mspt_pyiqa.train.toy import write_toy_setup
from mspt_pyiqa.weights import read_checkpoint, save_checkpoint


def _net(seed: int) -> MSPTNet:
    torch.manual_seed(seed)
    return MSPTNet(pretrained=False, test_img_size=None, detail_size=None)


@pytest.fixture()
def two(tmp_path: Path):
    a, b = tmp_path / "fine.pth", tmp_path / "start.pth"
    save_checkpoint(_net(0), a, {"input_size": 320, "detail_size": 320})
    net = _net(1)
    for m in net.modules():  # different BN statistics, as two trained networks have
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.add_(0.5)
            m.num_batches_tracked.fill_(7)
    save_checkpoint(net, b)
    return a, b


def test_interpolation_is_a_lerp_of_float_tensors(two) -> None:
    fine, start = (read_checkpoint(p) for p in two)
    for w in (0.0, 0.3, 1.0):
        out = interpolate_state(fine, start, w)
        for k, v in fine.items():
            if v.is_floating_point():
                assert torch.allclose(out[k], (1 - w) * v + w * start[k], atol=1e-6), k
            else:  # integer buffers are the fine-tune's
                assert torch.equal(out[k], v), k
    assert all(torch.equal(interpolate_state(fine, start, 0.0)[k], v) for k, v in fine.items())


def test_bad_weight_and_mismatched_checkpoints_are_named(two) -> None:
    fine, start = (read_checkpoint(p) for p in two)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        interpolate_state(fine, start, 1.5)
    with pytest.raises(ValueError, match="different tensors"):
        interpolate_state(fine, {k: v for k, v in list(start.items())[1:]}, 0.5)
    k = next(k for k, v in start.items() if v.dim() == 4)
    with pytest.raises(ValueError, match=k.replace(".", r"\.")):
        interpolate_state(fine, {**start, k: start[k][:1]}, 0.5)
    assert any("weight" in p for p in recipe_problems({"stages": [{"option": "a.yml"}],
                                                       "weight_interpolation": {"start": "x.pth", "weight": 1.5}}, "r.yml"))
    assert any("start" in p for p in recipe_problems({"stages": [{"option": "a.yml"}],
                                                      "weight_interpolation": {"weight": 0.3}}, "r.yml"))


def test_written_file_keeps_the_meta_and_is_byte_stable(two, tmp_path: Path) -> None:
    fine, start = two
    r1 = write_interpolated(fine, start, 0.3, tmp_path / "i1.pth")
    r2 = write_interpolated(fine, start, 0.3, tmp_path / "i2.pth")
    assert r1["sha256"] == r2["sha256"] and r1["weight"] == 0.3
    meta = W.checkpoint_meta(tmp_path / "i1.pth")
    assert meta["input_size"] == 320 and meta["detail_size"] == 320
    assert meta["interpolation"]["start_sha256"] == W.sha256_file(start)
    net = MSPTNet(pretrained=False, pretrained_model_path=str(tmp_path / "i1.pth"), test_img_size=64).eval()
    assert net.detail_size == 320 and torch.isfinite(net(torch.rand(1, 3, 64, 64))).all()


def test_recipe_writes_and_publishes_the_interpolated_weights(tmp_path: Path, two) -> None:
    _, start = two
    recipe_path = write_toy_setup(tmp_path / "toy", per_stage=8, n_val=2, epochs=1)
    recipe = yaml.safe_load(recipe_path.read_text())
    recipe["stages"] = recipe["stages"][:1]
    recipe["weight_interpolation"] = {"start": str(start), "weight": 0.25}
    recipe["release"] = {"training_data": "toy", "license": "test", "description": "toy", "input_size": 64}
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    summary = run_recipe(recipe_path, out, forgetting=False)
    rec = summary["interpolation"]
    assert Path(rec["checkpoint"]) == out / INTERPOLATED_NAME and rec["weight"] == 0.25
    last = read_checkpoint(Path(summary["stages"][-1]["best_checkpoint"]))
    got, want = read_checkpoint(out / INTERPOLATED_NAME), interpolate_state(last, read_checkpoint(start), 0.25)
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert json.loads((out / "run.json").read_text())["interpolation"]["sha256"] == W.sha256_file(out / INTERPOLATED_NAME)

    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copyfile(W.package_weights_dir() / "catalog.yaml", folder / "catalog.yaml")
    run = json.loads((out / "run.json").read_text())
    run["git_commit"] = "0123456789abcdef0123456789abcdef01234567"
    for st in run["stages"]:
        st["git_commit"] = run["git_commit"]
    (out / "run.json").write_text(json.dumps(run))
    dest = publish_run(out, recipe, folder, "toy.yml", today="2026-12-07")
    assert all(torch.equal(read_checkpoint(dest)[k], want[k]) for k in want)
    run.pop("interpolation")
    (out / "run.json").write_text(json.dumps(run))
    with pytest.raises(PublishError, match="interpolated checkpoint"):
        publish_run(out, recipe, folder, "toy.yml")
