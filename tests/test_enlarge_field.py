"""The release field ``enlarge`` (input size as a maximum): the resize policy and its NumPy twin,
``MSPTNet(enlarge=False)``, checkpoint meta / catalog / publish, and the scoring path (both backends,
ONNX metadata, batching of images whose shapes no longer agree).

Everything is made here: seeded random networks and PNG files of a few sizes. ``enlarge=True`` (the
default) must give exactly the scores of the code before the field.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mspt_pyiqa import weights as W
from mspt_pyiqa.archs.mspt_arch import MSPTNet
from mspt_pyiqa.cli.main import main
from mspt_pyiqa.preprocess import (NUMPY_RESIZE_TOLERANCE, detail_view, detail_view_array, resize_array_to_test_size,
                                   resize_to_test_size, target_short_side)
from view_helpers import csv_scores, random_bn, smooth_image, twin, weights_folder, worst_difference

S = 128  # input size: small, so the tests are fast
TOL = 1e-4
CSV_TOL = TOL + 2e-6  # the CSV keeps 6 decimals
COMMON = ["--workers", "0", "--no-progress", "--table-rows", "0", "--faces", "crop"]


def _net(seed: int = 1, **kwargs) -> MSPTNet:
    torch.manual_seed(seed)
    net = MSPTNet(pretrained=False, **kwargs)
    random_bn(net)
    return net.eval()


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).unsqueeze(0).float() / 255.0


# ---------------------------------------------------------------------------- the policy
@pytest.mark.parametrize("hw,short", [((90, 117), 90), ((S, 170), S), ((300, 211), S)], ids=["small", "equal", "large"])
def test_short_side_is_at_most_the_input_size(hw, short) -> None:
    assert target_short_side(*hw, S, enlarge=False) == short
    assert target_short_side(*hw, S) == S  # the default enlarges, as before
    img = np.random.default_rng(hw[0]).random((*hw, 3), dtype=np.float32)
    t = resize_to_test_size(torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0), S, enlarge=False)
    a = resize_array_to_test_size(img, S, enlarge=False)
    assert min(t.shape[-2:]) == min(a.shape[:2]) == short and tuple(t.shape[-2:]) == a.shape[:2]
    if short < S or hw[0] == S:  # at or below the input size: the very pixels, no resize
        assert np.array_equal(a, img) and np.array_equal(t[0].numpy().transpose(1, 2, 0), img)
    else:  # larger: reduced exactly as with enlarge=True
        assert torch.equal(t, resize_to_test_size(torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0), S))
        assert np.array_equal(a, resize_array_to_test_size(img, S))
        assert float(np.abs(t[0].numpy().transpose(1, 2, 0) - a).max()) < NUMPY_RESIZE_TOLERANCE


@pytest.mark.parametrize("hw,d", [((90, 117), 160), ((150, 190), 160), ((100, 120), 96), ((300, 211), 160)],
                         ids=["below_both", "between", "above_detail", "large"])
def test_detail_view_of_a_small_image_is_its_resized_view(hw, d) -> None:
    img = np.random.default_rng(hw[1]).random((*hw, 3), dtype=np.float32)
    x = torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0)
    t = detail_view(x, d, enlarge=False, test_img_size=S)
    a = detail_view_array(img, d, enlarge=False, test_img_size=S)
    if min(hw) < d:  # not enlarged to d: the resized view itself (the image at its own size when <= S)
        assert torch.equal(t, resize_to_test_size(x, S, enlarge=False))
        assert np.array_equal(a, resize_array_to_test_size(img, S, enlarge=False))
        assert min(t.shape[-2:]) == min(S, min(hw))
    else:  # short side >= d: the snapped centre crop at native resolution, as with enlarge=True
        assert torch.equal(t, detail_view(x, d)) and np.array_equal(a, detail_view_array(img, d))
    assert float(np.abs(t[0].numpy().transpose(1, 2, 0) - a).max()) < NUMPY_RESIZE_TOLERANCE


# ---------------------------------------------------------------------------- MSPTNet(enlarge)
@pytest.fixture(scope="module")
def big_net() -> MSPTNet:
    """A 320 px release with a 320 px detail view that never enlarges (random, seeded)."""
    return _net(seed=3, test_img_size=320, detail_size=320, enlarge=False)


def test_a_small_image_gets_the_one_view_score_at_its_own_size(big_net: MSPTNet) -> None:
    plain = twin(big_net, test_img_size=224, detail_size=None)  # one view, 224 px: no resize of a 224 px crop
    x = _tensor(smooth_image(np.random.default_rng(4), 224, 224))
    with torch.inference_mode():
        got, want = big_net(x), plain(x)
    assert torch.allclose(got, want, atol=1e-6, rtol=0), (got, want)


def test_a_large_image_scores_as_with_enlarge(big_net: MSPTNet) -> None:
    enlarging = twin(big_net, test_img_size=320, detail_size=320, enlarge=True)
    x = _tensor(smooth_image(np.random.default_rng(5), 512, 512))
    with torch.inference_mode():
        assert torch.equal(big_net(x), enlarging(x))


def test_the_default_enlarges_exactly_as_before(big_net: MSPTNet) -> None:
    """``enlarge`` left out: a small image is enlarged to the input size and to the detail size, the
    arithmetic written out here as it was before the field."""
    net = twin(big_net, test_img_size=320, detail_size=320)
    assert net.enlarge is True and twin(big_net, test_img_size=320).enlarge is True
    x = _tensor(smooth_image(np.random.default_rng(6), 224, 224))
    m = net.model

    def pooled(v: torch.Tensor) -> torch.Tensor:
        return m.forward_head(m.forward_features((v - net.mean) / net.std), pre_logits=True)

    with torch.inference_mode():
        big = F.interpolate(x, size=(320, 320), mode="bilinear", align_corners=False, antialias=True)
        before = m.get_classifier()(0.5 * (pooled(big) + pooled(big)))  # 320 px detail of a 320 px enlargement
        assert torch.equal(net(x), before)
        assert float((net(x) - big_net(x)).abs().max()) > 1e-4  # never enlarging does change this score


def test_enlarge_option_is_checked() -> None:
    with pytest.raises(ValueError, match="enlarge must be True, False or 'release'"):
        MSPTNet(pretrained=False, test_img_size=S, enlarge="no")


# ---------------------------------------------------------------------------- metadata routes
@pytest.fixture(scope="module")
def small_net() -> MSPTNet:
    return _net(seed=7, test_img_size=S, detail_size=S, enlarge=False)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory, small_net: MSPTNet) -> Path:
    path = tmp_path_factory.mktemp("enl") / "enl.pth"
    W.save_checkpoint(small_net, path, meta={"input_size": S, "detail_size": S, "enlarge": False})
    return path


def test_checkpoint_meta_round_trip(tmp_path: Path, ckpt: Path, small_net: MSPTNet) -> None:
    from mspt_pyiqa.scoring.model import build_net

    assert W.meta_enlarge(W.checkpoint_meta(ckpt)) is False
    assert MSPTNet(pretrained_model_path=str(ckpt), test_img_size=S).enlarge is False
    net = build_net(str(ckpt))
    assert net.enlarge is False and net.detail_size == S
    assert build_net(str(ckpt), enlarge=True).enlarge is True  # an explicit choice wins
    trained = tmp_path / "net_g_latest.pth"  # a training checkpoint: the network options in meta
    W.save_checkpoint(small_net, trained, meta={"input_size": S, "network": {"type": "MSPTNet", "enlarge": False}})
    assert build_net(str(trained)).enlarge is False
    plain = tmp_path / "plain.pth"
    W.save_checkpoint(small_net, plain, meta={"input_size": S})
    assert build_net(str(plain)).enlarge is True  # nothing said: enlarge, as every checkpoint before the field
    assert W.meta_enlarge({}) is True
    with pytest.raises(ValueError, match="enlarge 'false'"):
        W.meta_enlarge({"enlarge": "false"})
    with pytest.raises(ValueError, match="enlarge must be true or false"):
        W.WeightsEntry.from_dict("x", {"file": "x.pth", "sha256": "0", "input_size": S, "backbone": "b",
                                       "training_data": "t", "license": "l", "date": "d", "enlarge": "no"})


RECIPE = {
    "name": "mspt_face_enl",
    "stages": [{"option": "a.yml"}, {"option": "b.yml", "overrides": {"network": {"enlarge": False}}}],
    "release": {"training_data": "ladders", "license": "research only", "description": "test", "input_size": 320,
                "detail_size": 320, "enlarge": False},
}


def _run(tmp_path: Path, net: MSPTNet) -> Path:
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    ck = run / "models" / "net_best.pth"
    torch.save({"params": net.state_dict()}, ck)
    entries = [{"name": f"s{k}", "best_checkpoint": str(ck)} for k in range(2)]
    (run / "run.json").write_text(json.dumps({"git_commit": "0123456789abcdef0123456789abcdef01234567", "stages": entries}))
    return run


@pytest.mark.parametrize("release,last,match", [
    ({"enlarge": "false"}, None, "enlarge must be true or false"),
    ({"enlarge": 0}, None, "enlarge must be true or false"),
    ({"enlarge": True}, False, "not the last stage's network enlarge"),
    ({}, False, "not the last stage's network enlarge"),  # left out means true
])
def test_publish_refuses_a_bad_enlarge(tmp_path: Path, small_net: MSPTNet, release, last, match) -> None:
    from mspt_pyiqa.train.publish import PublishError, publish_run

    folder = weights_folder(tmp_path)
    block = {k: v for k, v in RECIPE["release"].items() if k != "enlarge"}
    stages = [{"option": "a.yml"}, {"option": "b.yml", **({"overrides": {"network": {"enlarge": last}}} if last is not None else {})}]
    with pytest.raises(PublishError, match=match):
        publish_run(_run(tmp_path, small_net), {**RECIPE, "stages": stages, "release": {**block, **release}}, folder, "r.yml")
    assert not list(folder.glob("*.pth"))


def test_publish_carries_enlarge_to_meta_catalog_and_metric(tmp_path: Path, small_net: MSPTNet,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import pyiqa

    from mspt_pyiqa.train.publish import publish_run

    folder = weights_folder(tmp_path)
    dest = publish_run(_run(tmp_path, small_net), RECIPE, folder, "r.yml")
    entry = W.load_catalog(folder / "catalog.yaml")["mspt_face_enl"]
    assert entry.enlarge is False and W.checkpoint_meta(dest)["enlarge"] is False
    assert MSPTNet(pretrained_model_path=str(dest)).enlarge is False
    # The catalog route: a release named by weights_name, as pyiqa.create_metric('mspt_face') builds it.
    monkeypatch.delenv(W.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setattr(W, "package_weights_dir", lambda: folder)
    assert W.release_enlarge("mspt_face_enl") is False
    metric = pyiqa.create_metric("mspt_face", device="cpu", weights_name="mspt_face_enl", test_img_size=320)
    assert metric.net.enlarge is False and metric.net.detail_size == 320
    # Without the field: nothing written, the release enlarges.
    plain = {**RECIPE, "stages": RECIPE["stages"][:1] + [{"option": "b.yml"}],
             "release": {k: v for k, v in RECIPE["release"].items() if k != "enlarge"}}
    dest2 = publish_run(_run(tmp_path / "b", small_net), plain, folder, "r.yml")
    assert "enlarge" not in W.checkpoint_meta(dest2)
    assert W.load_catalog(folder / "catalog.yaml")["mspt_face_enl"].enlarge is True
    assert "enlarge" not in (folder / "catalog.yaml").read_text().split("mspt_face_enl:")[1]


def test_stage_schema_wants_a_bool() -> None:
    from mspt_pyiqa.train.schema import STAGE, check_mapping

    out: List[str] = []
    check_mapping({"network": {"type": "MSPTNet", "enlarge": "false"}}, {"network": STAGE["network"]}, "", out)
    assert any("network.enlarge" in p for p in out), out


# ---------------------------------------------------------------------------- scoring path
@pytest.fixture(scope="module")
def files(ckpt: Path) -> List[Path]:
    """PNG files: at the input size, below it, and above it (reduced)."""
    from PIL import Image

    rng = np.random.default_rng(8)
    out = []
    for name, (h, w) in {"small.png": (100, 100), "small2.png": (90, 117), "exact.png": (S, 150),
                         "large.png": (200, 260)}.items():
        path = ckpt.parent / name
        Image.fromarray(smooth_image(rng, h, w)).save(path)
        out.append(path)
    return out


def _reference(net: MSPTNet, paths: List[Path]) -> Dict[str, float]:
    from mspt_pyiqa.imageio import load_image

    with torch.inference_mode():
        return {p.name: float(net(_tensor(load_image(str(p)).rgb)).item()) for p in paths}


def test_torch_scoring_keeps_small_images_at_their_size(tmp_path: Path, files: List[Path], ckpt: Path,
                                                        small_net: MSPTNet) -> None:
    from mspt_pyiqa.scoring.model import build_backend

    backend = build_backend("torch", weights=str(ckpt))
    assert backend.enlarge is False
    out = tmp_path / "t.csv"
    assert main(["score", *map(str, files), "-o", str(out), "--weights", str(ckpt), "--batch-size", "4", *COMMON]) == 0
    ref = _reference(small_net, files)
    assert worst_difference(csv_scores(out), ref) < CSV_TOL
    # --no-enlarge on a checkpoint that says nothing: the same scores
    plain = tmp_path / "plain.pth"
    W.save_checkpoint(small_net, plain, meta={"input_size": S, "detail_size": S})
    out2 = tmp_path / "t2.csv"
    assert main(["score", *map(str, files), "-o", str(out2), "--weights", str(plain), "--no-enlarge", *COMMON]) == 0
    assert worst_difference(csv_scores(out2), ref) < CSV_TOL


def test_batches_group_by_both_views_shapes(files: List[Path], small_net: MSPTNet) -> None:
    """A detail size D above the input size S: a 150 px and a 200 px square share the resized view's
    shape (both reduced to S) but not the detail view's (150 px < D: the resized view; 200 px: D x D);
    a 100 px square keeps its own size for both. One batch scores them all correctly."""
    from PIL import Image

    from mspt_pyiqa.scoring.backends import TorchBackend
    from mspt_pyiqa.scoring.preprocess import PreprocessConfig, Preprocessor
    from mspt_pyiqa.scoring.runner import score_prepared

    d = 176
    net = twin(small_net, test_img_size=S, detail_size=d, enlarge=False)
    rng = np.random.default_rng(9)
    paths = []
    for side in (150, 200, 100):
        p = files[0].parent / f"sq{side}.png"
        Image.fromarray(smooth_image(rng, side, side)).save(p)
        paths.append(p)
    prep = Preprocessor(PreprocessConfig(input_size=S, faces="crop", detail_size=d, enlarge=False))
    batch = [prep(str(p)) for p in paths]
    assert [b.inputs[0].shape for b in batch] == [(3, S, S), (3, S, S), (3, 100, 100)]
    assert [b.details[0].shape for b in batch] == [(3, S, S), (3, d, d), (3, 100, 100)]
    rows = score_prepared(batch, TorchBackend(net))
    got = {Path(r["path"]).name: r["score"] for r in rows}
    assert all(r["status"] == "ok" for r in rows), rows
    assert worst_difference(got, _reference(net, paths)) < TOL


def test_onnx_export_scores_like_torch(tmp_path: Path, ckpt: Path, small_net: MSPTNet) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the ONNX path cannot be checked")
    import onnx
    from PIL import Image

    from mspt_pyiqa.onnx_export import export_onnx, read_metadata
    from mspt_pyiqa.scoring.backends import OnnxBackend

    net = twin(small_net, test_img_size=256, detail_size=256, enlarge=False)
    path = export_onnx(net, tmp_path / "enl.onnx")
    meta = read_metadata(path)
    assert meta["mspt_enlarge"] == "0" and meta["mspt_input_size"] == "256"
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in onnx.load(str(path)).graph.input]
    assert dims == [["batch", 3, "height", "width"], ["batch", 3, "detail_height", "detail_width"]]
    backend = OnnxBackend(path)
    assert backend.enlarge is False and backend.detail_size == 256
    rng = np.random.default_rng(10)
    paths = []
    for side in (200, 400):
        p = tmp_path / f"img{side}.png"
        Image.fromarray(smooth_image(rng, side, side + 30)).save(p)
        paths.append(p)
    ref = _reference(net, paths)
    ckpt256 = tmp_path / "enl256.pth"
    W.save_checkpoint(net, ckpt256, meta={"input_size": 256, "detail_size": 256, "enlarge": False})
    for extra in (["--onnx-model", str(path)], ["--weights", str(ckpt256)]):  # a file, and exported on the fly
        out = tmp_path / f"o{len(extra[1])}.csv"
        assert main(["score", *map(str, paths), "-o", str(out), "--backend", "onnxruntime", *extra, *COMMON]) == 0
        assert worst_difference(csv_scores(out), ref) < CSV_TOL
    # An export that enlarges has no key, and a file without it enlarges.
    path2 = export_onnx(twin(small_net, test_img_size=S, detail_size=S), tmp_path / "plain.onnx")
    assert "mspt_enlarge" not in read_metadata(path2) and OnnxBackend(path2).enlarge is True
    assert main(["export", str(tmp_path / "cli.onnx"), "--weights", str(ckpt)]) == 0  # its self-check includes a small image
    assert read_metadata(tmp_path / "cli.onnx")["mspt_enlarge"] == "0"
