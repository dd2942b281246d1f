"""The detail view end to end: ``detail_view`` and its NumPy twin, ``MSPTNet(detail_size=D)``,
and the scoring path (torch and onnxruntime backends, ``mspt-face score`` / ``export``) that cuts
each image's detail view from the full-resolution file, as ``MSPTNet`` cuts it from its input.

Everything is made here: a seeded random MSPTNet at 64 px with a 64 px detail view, and PNG
files of several sizes (larger than 64 px, non-square, and one below 64 px that is enlarged).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch

from mspt_pyiqa.archs.mspt_arch import MSPTNet
from mspt_pyiqa.cli.main import main
from mspt_pyiqa.preprocess import NUMPY_RESIZE_TOLERANCE, detail_view, detail_view_array
from view_helpers import csv_scores, random_bn, smooth_image, twin, worst_difference

D = 64  # detail size and test size: small, so the tests are fast
TOL = 1e-4
CSV_TOL = TOL + 2e-6  # the CSV keeps 6 decimals
COMMON = ["--workers", "0", "--no-progress", "--table-rows", "0", "--faces", "crop"]


@pytest.fixture(scope="module")
def dv_net() -> MSPTNet:
    torch.manual_seed(1)
    net = MSPTNet(pretrained=False, test_img_size=D, detail_size=D)
    random_bn(net)
    return net.eval()


@pytest.fixture(scope="module")
def dv_ckpt(tmp_path_factory: pytest.TempPathFactory, dv_net: MSPTNet) -> Path:
    from mspt_pyiqa.weights import save_checkpoint

    path = tmp_path_factory.mktemp("dv") / "dv64.pth"
    save_checkpoint(dv_net, path, meta={"input_size": D, "detail_size": D})
    return path


@pytest.fixture(scope="module")
def plain_ckpt(dv_ckpt: Path, dv_net: MSPTNet) -> Path:
    """The same weights with only ``input_size`` in the meta (a checkpoint that says nothing of a detail view)."""
    from mspt_pyiqa.weights import save_checkpoint

    path = dv_ckpt.with_name("plain64.pth")
    save_checkpoint(dv_net, path, meta={"input_size": D})
    return path


@pytest.fixture(scope="module")
def dv_files(dv_ckpt: Path) -> List[Path]:
    """PNG files (lossless): landscape, portrait, square at D, and one with a short side below D."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for name, (h, w) in {"landscape.png": (150, 220), "portrait.png": (201, 120), "square.png": (D, D),
                         "small.png": (48, 57)}.items():
        path = dv_ckpt.parent / name
        Image.fromarray(smooth_image(rng, h, w)).save(path)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def dv_onnx(dv_ckpt: Path) -> Path:
    out = dv_ckpt.with_name("dv64.onnx")
    assert main(["export", str(out), "--weights", str(dv_ckpt)]) == 0
    return out


def _file_tensor(path: Path) -> torch.Tensor:
    """The decoded file as ``MSPTNet`` takes it: ``(1, 3, H, W)`` float32 in [0, 1]."""
    from mspt_pyiqa.imageio import load_image

    rgb = load_image(str(path)).rgb
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).unsqueeze(0).float() / 255.0


def _reference_scores(net: MSPTNet, files: List[Path]) -> Dict[str, float]:
    """``MSPTNet`` called on each whole file (it resizes and cuts the detail view itself)."""
    with torch.inference_mode():
        return {p.name: float(net(_file_tensor(p)).item()) for p in files}


# ---------------------------------------------------------------------------- detail_view twins
@pytest.mark.parametrize("hw", [(300, 200), (90, 161), (D, D), (40, 50), (50, 200)],
                         ids=["large_portrait", "large_landscape", "exact", "small", "small_wide"])
def test_detail_view_and_numpy_twin_agree(hw) -> None:
    rng = np.random.default_rng(hw[0] * 1000 + hw[1])
    img = rng.random((*hw, 3), dtype=np.float32)
    t = detail_view(torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0), D)
    a = detail_view_array(img, D)
    assert tuple(t.shape) == (1, 3, D, D) and a.shape == (D, D, 3) and a.dtype == np.float32
    diff = float(np.abs(t[0].numpy().transpose(1, 2, 0) - a).max())
    if min(hw) >= D:  # a plain crop: the very same pixels, the centre square snapped to the 16 px grid
        assert diff == 0.0
        top, left = (hw[0] - D) // 2 // 16 * 16, (hw[1] - D) // 2 // 16 * 16
        assert np.array_equal(a, img[top:top + D, left:left + D])
    else:  # enlarged first: the two resizes agree within their documented tolerance
        assert diff < NUMPY_RESIZE_TOLERANCE


@pytest.mark.parametrize("hw,size", [((300, 200), 64), ((384, 384), 320), ((1021, 768), 320), ((333, 333), 320), ((64, 64), 64)])
def test_detail_box_is_the_centre_snapped_to_the_block_grid(hw, size) -> None:
    from mspt_pyiqa.preprocess import DETAIL_GRID, detail_box

    top, left, h, w = detail_box(*hw, size)
    assert (h, w) == (size, size) and top % DETAIL_GRID == 0 and left % DETAIL_GRID == 0
    centre_top, centre_left = (hw[0] - size) // 2, (hw[1] - size) // 2
    assert 0 <= centre_top - top < DETAIL_GRID and 0 <= centre_left - left < DETAIL_GRID
    # A JPEG-like 8 px block pattern from the image's origin keeps its phase in the crop.
    img = np.zeros((*hw, 3), np.float32)
    img[::8, :, :] = 1.0
    crop = detail_view_array(img, size)
    assert np.array_equal(np.flatnonzero(crop[:, 0, 0]), np.arange(0, size, 8))


def test_detail_view_refuses_a_bad_size() -> None:
    with pytest.raises(ValueError, match="detail_size"):
        detail_view(torch.rand(1, 3, 80, 80), 0)
    with pytest.raises(ValueError, match="detail_size"):
        detail_view_array(np.zeros((80, 80, 3), np.float32), -3)
    with pytest.raises(ValueError, match="detail_size"):
        MSPTNet(pretrained=False, test_img_size=D, detail_size=0)


# ---------------------------------------------------------------------------- MSPTNet(detail_size)
def test_forward_cuts_the_detail_view_itself(dv_net: MSPTNet) -> None:
    torch.manual_seed(2)
    for shape in ((2, 3, 150, 220), (1, 3, 48, 57)):
        x = torch.rand(shape)
        with torch.inference_mode():
            assert torch.equal(dv_net(x), dv_net(x, detail=detail_view(x, D)))


def test_score_is_the_mean_of_the_two_views_scores(dv_net: MSPTNet) -> None:
    """The head is linear: scoring the mean feature = the mean of the two single-view scores."""
    whole = twin(dv_net, test_img_size=D, detail_size=None)
    as_is = twin(dv_net, test_img_size=None, detail_size=None)  # scores its input without resizing
    torch.manual_seed(3)
    x = torch.rand(3, 3, 130, 175)
    with torch.inference_mode():
        both = dv_net(x)
        mean = 0.5 * (whole(x) + as_is(detail_view(x, D)))
    assert torch.allclose(both, mean, atol=1e-5), (both - mean).abs().max()


def test_batch_invariance(dv_net: MSPTNet) -> None:
    torch.manual_seed(4)
    x = torch.rand(4, 3, 120, 90)
    d = detail_view(x, D)
    with torch.inference_mode():
        batch = dv_net(x, detail=d)
        one_by_one = torch.cat([dv_net(x[i:i + 1], detail=d[i:i + 1]) for i in range(4)])
    assert torch.allclose(batch, one_by_one, atol=1e-5)


def test_gradients_reach_the_backbone_through_both_views(dv_net: MSPTNet) -> None:
    net = twin(dv_net, test_img_size=D, detail_size=D)
    whole = twin(dv_net, test_img_size=D, detail_size=None)
    as_is = twin(dv_net, test_img_size=None, detail_size=None)
    torch.manual_seed(5)
    x = torch.rand(2, 3, 100, 140)
    d = detail_view(x, D).clone().requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    net(xr, detail=d).sum().backward()
    whole(x).sum().backward()
    as_is(detail_view(x, D)).sum().backward()
    assert float(d.grad.abs().sum()) > 0 and float(xr.grad.abs().sum()) > 0  # both inputs are used
    grads = {n: p.grad for n, p in net.named_parameters()}
    g_whole = {n: p.grad for n, p in whole.named_parameters()}
    g_as_is = {n: p.grad for n, p in as_is.named_parameters()}
    first = next(n for n, _ in net.named_parameters() if n.startswith("model.") and "conv" in n)
    assert float(g_whole[first].abs().sum()) > 0 and float(g_as_is[first].abs().sum()) > 0
    for n in grads:  # d(mean of the two scores) = mean of the two views' gradients
        assert torch.allclose(grads[n], 0.5 * (g_whole[n] + g_as_is[n]), atol=1e-5, rtol=1e-4), n


def test_without_detail_size_the_forward_is_the_old_one(dv_net: MSPTNet) -> None:
    net = twin(dv_net, test_img_size=D)  # detail_size="release" without catalog weights: None
    assert net.detail_size is None
    torch.manual_seed(6)
    x = torch.rand(2, 3, 100, 150)
    with torch.inference_mode():
        old = net.model.get_classifier()(net.model.forward_head(net.model.forward_features(net.preprocess(x)), pre_logits=True))
        assert torch.equal(net(x), old)


# ---------------------------------------------------------------------------- scoring path
def test_preprocessor_cuts_the_detail_view_from_the_full_resolution_file(dv_files: List[Path]) -> None:
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig, Preprocessor

    torch_prep = Preprocessor(PreprocessConfig(input_size=D, faces="crop", detail_size=D))
    numpy_prep = Preprocessor(PreprocessConfig(input_size=D, faces="crop", detail_size=D, resize_impl="numpy"))
    none_prep = Preprocessor(PreprocessConfig(input_size=D, faces="crop"))
    for p in dv_files:
        a, b, c = torch_prep(str(p)), numpy_prep(str(p)), none_prep(str(p))
        assert a.status == b.status == c.status == "ok"
        assert c.details == [] and np.array_equal(a.inputs[0], c.inputs[0])  # the resized view is unchanged
        want = detail_view(_file_tensor(p), D)[0].numpy()
        assert a.details[0].shape == b.details[0].shape == (3, D, D)
        assert np.array_equal(a.details[0], want)
        assert float(np.abs(b.details[0] - want).max()) < NUMPY_RESIZE_TOLERANCE


def test_torch_backend_scores_like_msptnet_on_the_file(tmp_path: Path, dv_files: List[Path], dv_ckpt: Path,
                                                        dv_net: MSPTNet) -> None:
    from mspt_pyiqa.scoring.model import build_backend

    backend = build_backend("torch", weights=str(dv_ckpt))
    assert backend.detail_size == D and backend.input_size == D
    out = tmp_path / "t.csv"
    assert main(["score", *map(str, dv_files), "-o", str(out), "--weights", str(dv_ckpt), "--batch-size", "3", *COMMON]) == 0
    ref = _reference_scores(dv_net, dv_files)
    assert worst_difference(csv_scores(out), ref) < CSV_TOL
    # Two files of one size share a batch: their detail views are stacked.
    out2 = tmp_path / "t2.csv"
    twice = [dv_files[0], tmp_path / "copy.png"]
    twice[1].write_bytes(twice[0].read_bytes())
    assert main(["score", *map(str, twice), "-o", str(out2), "--weights", str(dv_ckpt), *COMMON]) == 0
    s = csv_scores(out2)
    # Same image twice in one batch: the same score up to the CSV's last (6th) decimal, which one
    # float32 ulp of difference between batch positions can flip.
    assert abs(s["copy.png"] - ref["landscape.png"]) < CSV_TOL and abs(s["copy.png"] - s["landscape.png"]) <= 1.01e-6


def test_onnx_export_has_the_detail_input_and_metadata(dv_onnx: Path) -> None:
    import onnx

    from mspt_pyiqa.onnx_export import read_metadata

    meta = read_metadata(dv_onnx)
    assert meta["mspt_detail_size"] == str(D) and meta["mspt_input_size"] == str(D)
    inputs = onnx.load(str(dv_onnx)).graph.input
    assert [i.name for i in inputs] == ["input", "detail"]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in inputs]
    assert dims == [["batch", 3, "height", "width"], ["batch", 3, D, D]]


def test_onnxruntime_backend_scores_like_msptnet_on_the_file(tmp_path: Path, dv_files: List[Path], dv_ckpt: Path,
                                                              dv_onnx: Path, dv_net: MSPTNet) -> None:
    from mspt_pyiqa.scoring.model import build_backend

    ort_b = build_backend("onnxruntime", onnx_model=str(dv_onnx))
    assert ort_b.detail_size == D and ort_b.input_size == D
    with pytest.raises(ValueError, match="detail view"):
        ort_b(np.zeros((1, 3, D, D), np.float32))  # the detail views are not optional
    ref = _reference_scores(dv_net, dv_files)
    out = tmp_path / "o.csv"
    assert main(["score", *map(str, dv_files), "-o", str(out), "--backend", "onnxruntime", "--onnx-model", str(dv_onnx),
                 "--batch-size", "4", *COMMON]) == 0
    assert worst_difference(csv_scores(out), ref) < CSV_TOL
    # Without --onnx-model the checkpoint is exported on the fly, detail input included.
    out2 = tmp_path / "f.csv"
    assert main(["score", *map(str, dv_files), "-o", str(out2), "--backend", "onnxruntime", "--weights", str(dv_ckpt),
                 *COMMON]) == 0
    assert worst_difference(csv_scores(out2), ref) < CSV_TOL


def test_backends_agree_on_aligned_faces(example_folder: Path, dv_ckpt: Path, dv_onnx: Path) -> None:
    """``--faces detect``: each aligned face gives its own detail view; both backends agree, batched or not."""
    from mspt_pyiqa.scoring.model import build_backend
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig, Preprocessor

    torch_b = build_backend("torch", weights=str(dv_ckpt))
    ort_b = build_backend("onnxruntime", onnx_model=str(dv_onnx))
    photos = sorted(example_folder.glob("photo_*astronaut*"))
    assert photos
    for impl in ("torch", "numpy"):
        prep = Preprocessor(PreprocessConfig(input_size=D, faces="detect", detail_size=D, resize_impl=impl))
        items = [prep(str(p)) for p in photos]
        inputs = [t for it in items for t in it.inputs]
        details = [d for it in items for d in it.details]
        assert inputs and len(details) == len(inputs) and all(d.shape == (3, D, D) for d in details)
        x, d = np.stack(inputs), np.stack(details)  # aligned faces: one shape
        a, b = torch_b(x, d), ort_b(x, d)
        one = np.concatenate([torch_b(x[i:i + 1], d[i:i + 1]) for i in range(len(x))])
        assert float(np.abs(a - b).max()) < TOL and float(np.abs(a - one).max()) < 1e-5


def test_detail_size_comes_from_the_checkpoint_or_the_option(tmp_path: Path, dv_files: List[Path], dv_ckpt: Path,
                                                            plain_ckpt: Path, dv_net: MSPTNet) -> None:
    from mspt_pyiqa.scoring.model import build_net
    from mspt_pyiqa.weights import save_checkpoint

    assert build_net(str(dv_ckpt)).detail_size == D
    assert build_net(str(plain_ckpt)).detail_size is None
    assert build_net(str(plain_ckpt), detail_size=96).detail_size == 96  # an explicit size wins
    trained = tmp_path / "net_g_latest.pth"  # a training checkpoint: the network options in meta
    save_checkpoint(dv_net, trained, meta={"input_size": D, "network": {"type": "MSPTNet", "detail_size": D}})
    assert build_net(str(trained)).detail_size == D
    ref = _reference_scores(dv_net, dv_files)
    out = tmp_path / "o.csv"
    assert main(["score", *map(str, dv_files), "-o", str(out), "--weights", str(plain_ckpt), "--detail-size", str(D),
                 *COMMON]) == 0
    assert worst_difference(csv_scores(out), ref) < CSV_TOL
    # The same weights without the detail view: other scores (the one-view model).
    out1 = tmp_path / "one_view.csv"
    assert main(["score", *map(str, dv_files), "-o", str(out1), "--weights", str(plain_ckpt), *COMMON]) == 0
    one_view = _reference_scores(twin(dv_net, test_img_size=D, detail_size=None), dv_files)
    assert worst_difference(csv_scores(out1), one_view) < CSV_TOL and worst_difference(csv_scores(out1), ref) > 1e-3


def test_bad_detail_sizes_are_refused_clearly(tmp_path: Path, dv_files: List[Path], plain_ckpt: Path, dv_onnx: Path,
                                              dv_net: MSPTNet, caplog: pytest.LogCaptureFixture) -> None:
    import onnx

    from mspt_pyiqa.onnx_export import export_onnx
    from mspt_pyiqa.scoring.backends import OnnxBackend
    from mspt_pyiqa.weights import save_checkpoint

    with caplog.at_level(logging.ERROR):
        assert main(["score", str(dv_files[0]), "-o", str(tmp_path / "s.csv"), "--weights", str(plain_ckpt),
                     "--detail-size", "0", *COMMON]) == 2
    assert "--detail-size 0: must be at least 16 px" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["export", str(tmp_path / "x.onnx"), "--weights", str(plain_ckpt), "--detail-size", "8"]) == 2
    assert "--detail-size 8" in caplog.text and not (tmp_path / "x.onnx").exists()
    broken = tmp_path / "broken.pth"
    save_checkpoint(dv_net, broken, meta={"input_size": D, "detail_size": "big"})
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["score", str(dv_files[0]), "-o", str(tmp_path / "b.csv"), "--weights", str(broken), *COMMON]) == 2
    assert "detail_size 'big'" in caplog.text
    net = twin(dv_net, test_img_size=D, detail_size=D)
    net.detail_size = 0
    with pytest.raises(ValueError, match="detail_size must be a positive integer"):
        export_onnx(net, tmp_path / "y.onnx")
    assert not (tmp_path / "y.onnx").exists()
    model = onnx.load(str(dv_onnx))  # metadata that does not fit the graph
    for p in model.metadata_props:
        if p.key == "mspt_detail_size":
            p.value = "sixty-four"
    onnx.save(model, str(tmp_path / "bad_meta.onnx"))
    with pytest.raises(ValueError, match="mspt_detail_size='sixty-four'"):
        OnnxBackend(tmp_path / "bad_meta.onnx")


def test_without_detail_size_the_export_has_one_input(tmp_path: Path, dv_net: MSPTNet) -> None:
    import onnx

    from mspt_pyiqa.onnx_export import export_onnx, read_metadata
    from mspt_pyiqa.scoring.backends import OnnxBackend

    net = twin(dv_net, test_img_size=D, detail_size=None)
    path = export_onnx(net, tmp_path / "plain.onnx")
    assert "mspt_detail_size" not in read_metadata(path)
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["input"]
    backend = OnnxBackend(path)
    assert backend.detail_size is None
    x = np.random.default_rng(7).random((2, 3, D, D + 20), dtype=np.float32)
    with torch.inference_mode():
        ref = net(torch.from_numpy(x)).view(-1).numpy()
    assert float(np.abs(backend(x) - ref).max()) < TOL
    with pytest.raises(ValueError, match="no detail view"):
        backend(x, np.zeros((2, 3, D, D), np.float32))
