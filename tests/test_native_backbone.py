"""The plain-torch MobileNetV3-Small twin against timm, its reference.

What users rely on: released checkpoints load unchanged (same state-dict keys, strict), scores
and gradients equal timm's, a seeded ``pretrained=False`` network starts from timm's weights
(training does not depend on the implementation), and the torch scoring path imports no timm.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import timm
import torch

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.archs.backbones import NATIVE_BACKBONES, build_backbone, resolve_backbone_impl
from mspt_pyiqa.archs.mobilenetv3_small import MobileNetV3Small, make_divisible, mobilenetv3_small_100
from mspt_pyiqa.weights import load_catalog

REPO = Path(__file__).resolve().parent.parent
NAME = "mobilenetv3_small_100"
PARAMS = 1_518_881  # the paper's 1.5189M
TOL = 1e-5


def _pair(**kw: object) -> Dict[str, MSPTNet]:
    """MSPTNet with the released default weights, built by each implementation."""
    return {impl: MSPTNet(backbone_impl=impl, **kw) for impl in ("native", "timm")}


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


def test_names_keys_shapes_and_parameter_count_match_timm() -> None:
    ref = timm.create_model(NAME, pretrained=False, num_classes=1)
    twin = mobilenetv3_small_100(num_classes=1)
    assert [n for n, _ in twin.named_modules()] == [n for n, _ in ref.named_modules()]
    assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    assert list(twin.state_dict()) == list(ref.state_dict())
    assert sum(p.numel() for p in twin.parameters()) == sum(p.numel() for p in ref.parameters()) == PARAMS
    for m_ref, m_twin in zip(ref.modules(), twin.modules()):  # eps, momentum, bias flags, strides, padding
        if isinstance(m_ref, (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)):
            assert m_ref.extra_repr() == m_twin.extra_repr()
    assert (twin.num_features, twin.head_hidden_size, twin.drop_rate) == (ref.num_features, ref.head_hidden_size, 0.0)
    assert make_divisible(16 * 0.25) == 8 and make_divisible(240 * 0.25) == 64 and make_divisible(144 * 0.25) == 40


def test_seeded_initialisation_is_timms() -> None:
    torch.manual_seed(7)
    ref = timm.create_model(NAME, pretrained=False, num_classes=1)
    after_ref = torch.rand(3)
    torch.manual_seed(7)
    twin = mobilenetv3_small_100(num_classes=1)
    after_twin = torch.rand(3)
    for key, value in ref.state_dict().items():
        assert torch.equal(twin.state_dict()[key], value), key
    assert torch.equal(after_ref, after_twin)  # the generator is left where timm leaves it


def test_msptnet_uses_the_twin_by_default_and_timm_on_request() -> None:
    assert NAME in NATIVE_BACKBONES
    assert isinstance(MSPTNet(pretrained=False).model, MobileNetV3Small)
    assert MSPTNet(pretrained=False).backbone_impl == "native"
    assert type(MSPTNet(pretrained=False, backbone_impl="timm").model).__module__.startswith("timm.")
    assert resolve_backbone_impl("efficientnet_b0") == "timm"
    with pytest.raises(ValueError, match="no native implementation"):
        MSPTNet(pretrained=False, backbone="efficientnet_b0", backbone_impl="native")
    with pytest.raises(ValueError, match="backbone_impl must be"):
        build_backbone(NAME, impl="fast")


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_every_release_loads_strictly_into_the_twin(name: str) -> None:
    net = MSPTNet(weights_name=name, test_img_size=load_catalog()[name].input_size)  # strict=True inside
    assert net.backbone_impl == "native"


@pytest.mark.parametrize("size", [224, 336])
def test_eval_parity_with_released_weights(size: int) -> None:
    nets = _pair(test_img_size=size)
    torch.manual_seed(size)
    x = torch.rand(3, 3, size, size + 32)
    with torch.no_grad():
        scores = {k: n.eval()(x) for k, n in nets.items()}
        feats = {k: n.model.forward_features(n.preprocess(x)) for k, n in nets.items()}
        pre = {k: n.forward_features(x) for k, n in nets.items()}
    assert scores["native"].shape == (3, 1) and feats["native"].shape == (3, 576, -(-size // 32), -(-(size + 32) // 32))  # ceil(side / 32)
    assert pre["native"].shape == (3, 1024)
    assert _max_diff(scores["native"], scores["timm"]) < TOL
    assert _max_diff(feats["native"], feats["timm"]) < TOL
    assert _max_diff(pre["native"], pre["timm"]) < TOL


def test_train_mode_parity_batch_statistics_and_gradients() -> None:
    nets = _pair(test_img_size=224, drop_rate=0.2)
    nets["native"].load_state_dict(nets["timm"].state_dict())
    torch.manual_seed(0)
    x = torch.rand(4, 3, 224, 224)
    out: Dict[str, torch.Tensor] = {}
    grads: Dict[str, Dict[str, torch.Tensor]] = {}
    for impl, net in nets.items():
        net.train()
        torch.manual_seed(1)  # the same dropout mask in forward_head
        out[impl] = net.model.forward_head(net.model.forward_features(net.preprocess(x)))
        out[impl].square().mean().backward()
        grads[impl] = {k: p.grad.clone() for k, p in net.named_parameters()}
    assert _max_diff(out["native"], out["timm"]) < TOL
    for key, value in nets["timm"].state_dict().items():  # BN running statistics after one batch
        assert _max_diff(nets["native"].state_dict()[key].float(), value.float()) < TOL, key
    assert list(grads["native"]) == list(grads["timm"])
    for key, g in grads["timm"].items():
        assert torch.isfinite(grads["native"][key]).all(), key
        assert _max_diff(grads["native"][key], g) < TOL * max(1.0, float(g.abs().max())), key
    assert float(grads["native"]["model.conv_stem.weight"].abs().sum()) > 0  # gradients reach the stem


def test_onnx_export_of_the_twin_scores_like_timm(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from mspt_pyiqa.onnx_export import export_onnx

    nets = _pair(test_img_size=224)
    torch.manual_seed(3)
    x = torch.rand(2, 3, 224, 256)
    with torch.no_grad():
        ref = nets["timm"].eval()(x).numpy()
    for impl, net in nets.items():
        path = export_onnx(net.eval(), tmp_path / f"{impl}.onnx")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        assert got.shape == (2, 1) and float(abs(got - ref).max()) < 1e-4, impl


def test_torch_scoring_path_imports_neither_timm_nor_pyiqa() -> None:
    """The model builder of ``mspt-face score --backend torch``, built and run in a fresh process."""
    code = (
        "import sys, torch\n"
        "from mspt_pyiqa.scoring.model import build_backend\n"
        "backend = build_backend('torch')\n"
        "print(backend(torch.rand(1, 3, 224, 224).numpy()).shape)\n"
        "print('heavy:' + ','.join(m for m in ('timm', 'pyiqa', 'torchvision') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[-2] == "(1,)" and lines[-1] == "heavy:", res.stdout
