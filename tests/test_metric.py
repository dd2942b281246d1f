"""mspt_face as a pyiqa metric: registration, inputs, invariances, gradients, errors."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pyiqa
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

import mspt_pyiqa
from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.preprocess import resize_to_test_size, target_size

# Batch invariance tolerance: CPU convolutions may pick other kernels for other batch
# sizes, which changes float32 rounding (seen: ~1e-7); 1e-5 leaves margin.
BATCH_ATOL = 1e-5


def _metric(ckpt: Path, **kw):
    return pyiqa.create_metric("mspt_face", device="cpu", pretrained_model_path=str(ckpt), test_img_size=128, **kw)


def test_registration_is_idempotent() -> None:
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    from pyiqa.utils.registry import ARCH_REGISTRY

    mspt_pyiqa.register()
    mspt_pyiqa.register()
    import importlib

    importlib.reload(mspt_pyiqa)  # importing again registers again: still no error
    assert ARCH_REGISTRY.get("MSPTNet") is MSPTNet
    cfg = DEFAULT_CONFIGS["mspt_face"]
    assert cfg["metric_mode"] == "NR"
    assert cfg["lower_better"] is False
    assert cfg["score_range"] == "~0, ~1"
    assert cfg["metric_opts"]["type"] == "MSPTNet"
    assert "mspt_face" in pyiqa.list_models("NR")
    assert "mspt_face" not in pyiqa.list_models("FR")


def test_entry_points_declared() -> None:
    from importlib.metadata import entry_points

    for group in ("pyiqa.archs", "pyiqa.models", "pyiqa.datasets"):
        eps = [ep for ep in entry_points(group=group) if ep.name == "mspt_pyiqa"]
        assert eps, f"no {group} entry point installed"
        assert eps[0].value == "mspt_pyiqa.registration:register"


def test_parameter_count_matches_paper() -> None:
    net = MSPTNet(pretrained=False)
    assert sum(p.numel() for p in net.parameters()) == 1_518_881


def test_output_shape_and_direction(tiny_checkpoint: Path) -> None:
    metric = _metric(tiny_checkpoint)
    assert metric.lower_better is False
    out = metric(torch.rand(3, 3, 150, 200))
    assert out.shape == (3, 1)
    assert torch.isfinite(out).all()


def test_path_pil_tensor_agree(tiny_checkpoint: Path, face_paths: List[Path]) -> None:
    metric = _metric(tiny_checkpoint)
    path = face_paths[2]
    pil = Image.open(path).convert("RGB")
    tensor = TF.to_tensor(pil).unsqueeze(0)
    s_path, s_pil, s_tensor = metric(str(path)), metric(pil), metric(tensor)
    assert torch.equal(s_path, s_tensor)
    assert torch.equal(s_pil, s_tensor)


def test_batch_invariance(tiny_checkpoint: Path, face_paths: List[Path]) -> None:
    metric = _metric(tiny_checkpoint)
    imgs = [TF.to_tensor(Image.open(p).convert("RGB").resize((256, 256))) for p in face_paths]
    batch = torch.stack(imgs)
    together = metric(batch)
    alone = torch.cat([metric(img.unsqueeze(0)) for img in imgs])
    torch.testing.assert_close(together, alone, atol=BATCH_ATOL, rtol=0)
    # scores differ between photos: the network is not constant
    assert together.std() > 0


def test_deterministic_in_eval(tiny_checkpoint: Path) -> None:
    metric = _metric(tiny_checkpoint)
    x = torch.rand(2, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    assert torch.equal(metric(x), metric(x))
    again = _metric(tiny_checkpoint)
    assert torch.equal(metric(x), again(x))


def test_as_loss_gives_finite_gradients(tiny_checkpoint: Path) -> None:
    metric = _metric(tiny_checkpoint, as_loss=True)
    x = torch.rand(2, 3, 128, 128, requires_grad=True)
    loss = metric(x)
    assert loss.dim() == 0
    (-loss).backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_resize_policy_short_side() -> None:
    assert target_size(512, 512, 448) == (448, 448)
    assert target_size(300, 600, 224) == (224, 448)
    assert target_size(600, 300, 224) == (448, 224)
    x = torch.rand(1, 3, 224, 224)
    assert resize_to_test_size(x, 224) is x  # no-op at the test size
    assert resize_to_test_size(torch.rand(1, 3, 100, 50), 64).shape[-2:] == (128, 64)


def test_any_size_and_aspect(tiny_checkpoint: Path) -> None:
    metric = _metric(tiny_checkpoint)
    for shape in [(40, 40), (600, 90), (90, 600)]:
        assert metric(torch.rand(1, 3, *shape)).shape == (1, 1)


def test_gray_input_is_repeated_to_rgb(tiny_checkpoint: Path) -> None:
    metric = _metric(tiny_checkpoint)
    g = torch.rand(1, 1, 128, 128)
    assert torch.equal(metric(g), metric(g.repeat(1, 3, 1, 1)))


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(3, 64, 64), "4D"),
        (torch.rand(1, 4, 64, 64), "RGB or gray"),
        (torch.rand(1, 3, 64, 64) * 2.0, r"normalized to \[0, 1\]"),
        (torch.rand(1, 3, 64, 64) - 0.5, r"normalized to \[0, 1\]"),
    ],
)
def test_bad_tensor_inputs_through_pyiqa(tiny_checkpoint: Path, bad: torch.Tensor, match: str) -> None:
    metric = _metric(tiny_checkpoint)
    with pytest.raises(AssertionError, match=match):
        metric(bad)


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (torch.rand(3, 64, 64), ValueError, "4-D tensor"),
        (torch.rand(1, 4, 64, 64), ValueError, "4 channels"),
        (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), TypeError, "float tensor"),
    ],
)
def test_bad_inputs_to_network(bad: torch.Tensor, exc: type, match: str) -> None:
    net = MSPTNet(pretrained=False, test_img_size=64).eval()
    with pytest.raises(exc, match=match):
        net(bad)


def test_config_fields_change_the_network() -> None:
    net = MSPTNet(pretrained=False, backbone="mobilenetv3_small_050", test_img_size=96, num_outputs=2)
    assert net(torch.rand(1, 3, 96, 96)).shape == (1, 2)
    assert sum(p.numel() for p in net.parameters()) < 1_518_881
