"""ImageNet initialisation of the backbone: local file, and a fast, helpful failure offline."""
from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from mspt_pyiqa.archs import MSPTNet


def test_backbone_from_local_file(tmp_path: Path) -> None:
    torch.manual_seed(3)
    src = timm.create_model("mobilenetv3_small_100", pretrained=False)  # 1000-class ImageNet layout
    path = tmp_path / "imagenet.pth"
    torch.save(src.state_dict(), path)
    net = MSPTNet(pretrained=False, backbone_pretrained=True, backbone_pretrained_path=str(path))
    got = net.model.state_dict()
    for key, value in src.state_dict().items():
        if key.startswith("classifier"):
            continue  # the 1-output head stays freshly initialised
        assert torch.equal(got[key], value), key
    assert net.model.get_classifier().out_features == 1


def test_backbone_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        MSPTNet(pretrained=False, backbone_pretrained_path=str(tmp_path / "nope.pth"))


def test_offline_fails_fast_with_instructions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # empty cache
    with pytest.raises(RuntimeError, match="backbone_pretrained_path"):
        MSPTNet(pretrained=False, backbone_pretrained=True)
