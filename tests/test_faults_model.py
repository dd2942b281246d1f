"""Clear errors for batches MSPTNet cannot take, and a warning for checkpoints with NaN/inf weights."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.weights import non_finite_tensors, save_checkpoint


@pytest.fixture(scope="module")
def net() -> MSPTNet:
    torch.manual_seed(0)
    return MSPTNet(pretrained=False, test_img_size=64).eval()


@pytest.mark.parametrize("x, err, words", [
    (torch.rand(0, 3, 64, 64), ValueError, "empty batch"),
    (torch.rand(2, 3, 0, 64), ValueError, "zero size"),
    (torch.rand(1, 3, 64, 64, dtype=torch.float64), TypeError, "float64"),
    (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), TypeError, "float tensor"),
])
def test_bad_batches_get_one_clear_error(net: MSPTNet, x: torch.Tensor, err: type, words: str) -> None:
    with pytest.raises(err, match=words):
        net(x)
    with pytest.raises(err, match=words):
        net.forward_features(x)


def test_float32_batch_still_scores(net: MSPTNet) -> None:
    with torch.inference_mode():
        assert net(torch.rand(2, 3, 64, 64)).shape == (2, 1)


def test_non_finite_weights_warn_at_load(net: MSPTNet, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = MSPTNet(pretrained=False, test_img_size=64)
    bad.load_state_dict(net.state_dict())
    name, param = next(iter(bad.named_parameters()))
    with torch.no_grad():
        param.view(-1)[:3] = float("nan")
    path = tmp_path / "nan.pth"
    save_checkpoint(bad, path)
    assert non_finite_tensors(bad.state_dict()) == {name: 3}
    caplog.set_level(logging.WARNING)
    loaded = MSPTNet(pretrained=True, pretrained_model_path=str(path), test_img_size=64).eval()
    assert "non-finite values" in caplog.text and name in caplog.text and str(path) in caplog.text
    with torch.inference_mode():
        assert torch.isnan(loaded(torch.rand(1, 3, 64, 64))).all()
    caplog.clear()
    save_checkpoint(net, tmp_path / "ok.pth")
    MSPTNet(pretrained=True, pretrained_model_path=str(tmp_path / "ok.pth"), test_img_size=64)
    assert "non-finite" not in caplog.text
