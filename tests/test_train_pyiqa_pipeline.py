"""A shipped stage option file runs under pyiqa's own training pipeline (pyiqa.train.train_pipeline)."""
from __future__ import annotations

import sys

import torch
import yaml

import mspt_pyiqa  # noqa: F401  (registers MSPTNet, MSPTModel, FaceIQADataset in pyiqa)
from mspt_pyiqa.data.toy import make_toy_stages
from mspt_pyiqa.train.recipe import deep_merge
from mspt_pyiqa.options import options_dir
from mspt_pyiqa.weights import read_checkpoint


def test_stage_file_runs_in_pyiqa_train_pipeline(tmp_path, monkeypatch):
    from pyiqa.train import train_pipeline
    from pyiqa.utils.options import parse_options

    csv = make_toy_stages(tmp_path / "data", per_stage=8, n_val=4, size=64, stages=(1,))[1]
    opt = yaml.safe_load((options_dir() / "stages" / "synthetic_stage1_224.yml").read_text())
    opt = deep_merge(opt, {
        "name": "pyiqa_pipeline_stage1",
        "datasets": {
            "train": {"meta_info_file": str(csv), "augment": {"resize": [64, 64]}, "batch_size_per_gpu": 4, "num_worker_per_gpu": 0},
            "val": {"meta_info_file": str(csv), "num_worker_per_gpu": 0},
        },
        "network": {"test_img_size": 64, "backbone_pretrained": False},
        "train": {"total_epoch": 1, "scheduler": {"T_max": 1}},
        "logger": {"print_freq": 1, "save_latest_freq": 1, "save_checkpoint_freq": 1},
    })
    opt_file = tmp_path / "stage1.yml"
    opt_file.write_text(yaml.safe_dump(opt))
    monkeypatch.setattr(sys, "argv", ["train.py", "-opt", str(opt_file)])
    parsed, args = parse_options(str(tmp_path), is_train=True)
    best = train_pipeline(str(tmp_path), parsed, args)

    models = tmp_path / "experiments" / "pyiqa_pipeline_stage1" / "models"
    assert (models / "net_best.pth").is_file() and (models / "net_latest.pth").is_file()
    state = read_checkpoint(models / "net_best.pth")
    assert "model.classifier.weight" in state and torch.isfinite(state["model.classifier.weight"]).all()
    assert set(best["synthetic_stage1_224_val"]) == {"srcc", "plcc"}
    # Training states are loadable on CPU (pyiqa's own loader maps them to CUDA).
    states = list((tmp_path / "experiments" / "pyiqa_pipeline_stage1" / "training_states").glob("*.state"))
    assert states and "net" in torch.load(states[0], map_location="cpu", weights_only=False)
