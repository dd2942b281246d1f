"""``train.freeze``: frozen layers (weights and BatchNorm statistics) come out of a stage unchanged."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mspt_pyiqa.archs.mspt_arch import MSPTNet
from mspt_pyiqa.corpus import native_ladders as NL
from mspt_pyiqa.train.freeze import freeze_layers, hold_batchnorm
from mspt_pyiqa.weights import get_entry, read_checkpoint, resolve_weights

FROZEN = ["model.conv_stem", "model.bn1", "model.blocks.0"]
SIZE = 32


def test_freeze_stops_gradients_and_names_unknown_prefixes() -> None:
    net = MSPTNet(pretrained=False, test_img_size=SIZE, detail_size=None)
    bns = freeze_layers(net, FROZEN)
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen and all(n.split(".")[1] in ("conv_stem", "bn1", "blocks") for n in frozen)
    assert not any(n.startswith("model.blocks.1.") for n in frozen)  # "blocks.0" does not catch "blocks.1x"
    assert bns and all(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in bns)
    net.train()
    hold_batchnorm(bns)
    assert all(not m.training for m in bns) and net.model.blocks[1].training
    net(torch.rand(2, 3, SIZE, SIZE)).sum().backward()
    assert all(p.grad is None for n, p in net.named_parameters() if n in frozen)
    with pytest.raises(ValueError, match=r"train\.freeze: \['model\.nope'\] match no parameter"):
        freeze_layers(MSPTNet(pretrained=False, test_img_size=SIZE, detail_size=None), ["model.nope"])


def test_stage_keeps_frozen_layers_exactly(tmp_path: Path, textured_faces) -> None:
    import yaml

    from mspt_pyiqa.options import resolve_option_file
    from mspt_pyiqa.train import run_recipe

    faces = textured_faces(tmp_path / "faces", seed=2)
    NL.build_native_ladders(faces, tmp_path / "lad", [SIZE], photos=2, kinds=("gaussian_noise",), realworld_photos=0, progress=False)
    root = tmp_path / "lad" / str(SIZE)
    recipe = {
        "name": "tiny_freeze", "manual_seed": 1, "num_gpu": 0, "replay": {"enabled": False},
        "anti_forgetting": {"distill": 0.0, "distill_features": 0.0, "l2_pull": 0.0},
        "stages": [{"option": str(resolve_option_file(Path("options/stages/native_ladders_finetune.yml"))), "overrides": {
            "name": "tiny_freeze_stage", "network": {"test_img_size": SIZE},
            "datasets": {"train": {"meta_info_file": str(root / "anchors.csv"), "augment": {"resize": [SIZE, SIZE]},
                                   "batch_size_per_gpu": 2}},
            "train": {"total_epoch": 2, "freeze": FROZEN, "optim": {"type": "AdamW", "lr": 0.01, "weight_decay": 0.1},
                      "teacher": {"network": {"type": "MSPTNet", "test_img_size": SIZE}},
                      "ladder": {"meta_info_file": str(root / "ladders.csv"), "ladders_per_batch": 1,
                                 "augment": {"resize": [SIZE, SIZE]}}},
            "logger": {"save_latest_freq": 100}}}],
    }
    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(recipe))
    run_recipe(path, tmp_path / "run", forgetting=False)
    start = read_checkpoint(resolve_weights(get_entry("mspt_face_v11")))
    out = read_checkpoint(tmp_path / "run" / "1_tiny_freeze_stage" / "models" / "net_best.pth")
    frozen = [k for k in start if any(k.startswith(p + ".") for p in FROZEN) and start[k].is_floating_point()]
    assert any(k.endswith("running_var") for k in frozen)  # BatchNorm statistics are among them
    for k in frozen:
        torch.testing.assert_close(out[k], start[k], rtol=1e-6, atol=1e-7)
    moved = [k for k in start if k.startswith("model.blocks.3.") and start[k].is_floating_point()
             and not torch.allclose(out[k], start[k])]
    assert moved  # the rest trained


def test_schema_wants_a_list_of_prefixes() -> None:
    from mspt_pyiqa.train.schema import stage_problems

    problems = stage_problems({"train": {"freeze": "model.bn1"}}, "stage.yml")
    assert "stage.yml: train.freeze: must be a list, got str 'model.bn1'" in problems
