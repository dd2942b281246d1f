"""A new user's first minutes: light imports, fast --help, the bundled detector, ``--faces auto``
on whole photos and crops, and the torch-free onnxruntime path. Nothing here needs ../shared."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring.writer import read_results

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "timm", "pyiqa")


def run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    """``python -c code`` with this checkout first on the path; output captured."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300)


def heavy_modules_after(statements: str) -> List[str]:
    code = statements + f"\nimport sys\nprint('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = run_py(code)
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("heavy:"), res.stdout
    return [m for m in last[len("heavy:"):].split(",") if m]


def test_import_mspt_pyiqa_loads_no_torch_timm_or_pyiqa() -> None:
    assert heavy_modules_after("import mspt_pyiqa") == []


@pytest.mark.parametrize("command", ["", "score", "export", "train", "bench", "corpus"])
def test_help_imports_no_torch(command: str) -> None:
    argv = [command, "--help"] if command else ["--help"]
    stmts = f"from mspt_pyiqa.cli.main import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert heavy_modules_after(stmts) == []


@pytest.mark.slow
@pytest.mark.parametrize("order", ["import pyiqa, mspt_pyiqa", "import mspt_pyiqa, pyiqa"])
def test_import_registers_the_metric_in_either_order(order: str) -> None:
    res = run_py(order + "\nprint('mspt_face' in pyiqa.list_models(), 'MSPTNet' in pyiqa.utils.registry.ARCH_REGISTRY._obj_map)")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "True True"


def test_bundled_detector_file_licence_and_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspt_pyiqa.face import detector as d

    monkeypatch.delenv(d.DETECTOR_ENV, raising=False)
    assert d.resolve_detector_model() == d.BUNDLED_YUNET
    assert hashlib.md5(d.BUNDLED_YUNET.read_bytes()).hexdigest() == "53540960d16daae5cebe093002818300"
    notice = (d.BUNDLED_YUNET.parent / "LICENSE_YUNET.txt").read_text()
    assert "MIT License" in notice and "Shiqi Yu" in notice and "opencv_zoo" in notice
    other = tmp_path / "mine.onnx"
    other.write_bytes(d.BUNDLED_YUNET.read_bytes())
    monkeypatch.setenv(d.DETECTOR_ENV, str(other))
    assert d.resolve_detector_model() == other  # $MSPT_FACE_DETECTOR beats the bundled file
    assert d.resolve_detector_model(str(d.BUNDLED_YUNET)) == d.BUNDLED_YUNET  # --detector-model beats both
    with pytest.raises(d.DetectorError, match=r"missing\.onnx \(from --detector-model\) does not exist"):
        d.resolve_detector_model(str(tmp_path / "missing.onnx"))
    monkeypatch.delenv(d.DETECTOR_ENV)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(d, "BUNDLED_YUNET", broken)
    with pytest.raises(d.DetectorError, match="broken.onnx has sha256 .* reinstall"):
        d.resolve_detector_model()


def test_detector_prints_no_opencv_warning() -> None:
    res = run_py("from mspt_pyiqa.face.detector import YuNetDetector\nYuNetDetector()\nprint('made')")
    assert res.returncode == 0 and res.stdout.strip() == "made", res.stderr
    assert "setPreferableTarget" not in res.stderr and "WARN" not in res.stderr, res.stderr


def test_faces_modes_on_a_crop_a_photo_and_no_face(example_folder: Path) -> None:
    from PIL import Image

    from mspt_pyiqa.face.detector import YuNetDetector
    from mspt_pyiqa.scoring.faces import select_faces

    det = YuNetDetector()
    crop = np.asarray(Image.open(example_folder / "crop_astronaut.png").convert("RGB"))
    photo = np.asarray(Image.open(example_folder / "photo_astronaut.png").convert("RGB"))
    coffee = np.asarray(Image.open(example_folder / "photo_coffee.png").convert("RGB"))
    auto_crop = select_faces(crop, "auto", lambda: det)
    assert auto_crop.images[0] is crop and auto_crop.boxes == [(0.0, 0.0, 256.0, 256.0)]
    auto_photo = select_faces(photo, "auto", lambda: det, face_size=128)
    assert len(auto_photo.images) == 1 and auto_photo.images[0].shape == (128, 128, 3)
    assert auto_photo.images[0].dtype == np.float32 and 0.0 <= auto_photo.images[0].min() <= auto_photo.images[0].max() <= 1.0
    x, y, w, h = auto_photo.boxes[0]
    assert 150 < x < 210 and 40 < y < 90 and 60 < w < 120 and 80 < h < 140  # the astronaut's face
    assert select_faces(coffee, "auto", lambda: det).images == []
    assert select_faces(coffee, "detect", lambda: det).images == []
    assert select_faces(coffee, "crop", lambda: None).images[0] is coffee  # crop never builds a detector
    assert select_faces(crop, "detect", lambda: det, face_size=64).images[0].shape == (64, 64, 3)
    with pytest.raises(ValueError, match="faces mode must be one of auto, crop, detect, got 'faces'"):
        select_faces(crop, "faces", lambda: det)


def test_framing_of_a_face_shrunk_and_moved() -> None:
    """A face with the template's own landmarks is an aligned crop; shrunk 3x or moved it is not."""
    from mspt_pyiqa.face.detector import DetectedFace
    from mspt_pyiqa.face.framing import framing_of, is_aligned_crop
    from mspt_pyiqa.face.template import face_template

    lm = face_template(300).astype(np.float32)
    exact = DetectedFace(box=(0, 0, 1, 1), landmarks=lm, score=1.0)
    f = framing_of(exact, 300, 300)
    assert f.face_scale == pytest.approx(1.0, abs=1e-6) and f.offset == pytest.approx(0.0, abs=1e-6)
    assert f.angle == pytest.approx(0.0, abs=1e-6) and f.aspect == 1.0 and is_aligned_crop(exact, 300, 300)
    small = DetectedFace(box=(0, 0, 1, 1), landmarks=lm / 3 + 20, score=1.0)
    assert framing_of(small, 300, 300).face_scale == pytest.approx(1 / 3, abs=1e-6)
    assert not is_aligned_crop(small, 300, 300)
    assert not is_aligned_crop(exact, 900, 300)  # same face in a wide photo: aspect 3, off-centre
    assert not is_aligned_crop(None, 300, 300)


def _by_name(rows: List[dict]) -> Dict[str, dict]:
    return {Path(r["path"]).name: r for r in rows}


def test_default_score_of_whole_photos_and_crops(tmp_path: Path, example_folder: Path) -> None:
    """The README's own-photos line, no extra flags, released weights: every face found, the
    face-less photo gets no_face, and clean > JPEG q10 > blurred for every subject."""
    out = tmp_path / "scores.csv"
    code = main(["score", str(example_folder), "-o", str(out), "--no-progress", "--table-rows", "0"])
    rows = [r for r in read_results(out) if "samples" not in r["path"]]
    assert code == 0
    by = _by_name(rows)
    assert by["photo_coffee.png"]["status"] == "no_face" and by["photo_coffee.png"]["score"] is None
    faces = [r for r in rows if r["status"] == "ok"]
    assert len(faces) == 9 and len({r["path"] for r in faces}) == 9  # one face per image with a face
    for subject in ("photo_astronaut", "photo_rocket_scene", "crop_astronaut"):
        clean, q10, blur = (by[f"{subject}{s}"]["score"] for s in (".png", "_jpeg_q10.jpg", "_blur.png"))
        assert clean > q10 > blur, (subject, clean, q10, blur)
    assert "aligned face crop" in by["crop_astronaut.png"]["message"] and by["crop_astronaut.png"]["box"] == "0,0,256,256"
    assert "a photo" in by["photo_astronaut.png"]["message"]
    # --faces crop: the old behaviour, every image scored whole (the coffee photo too).
    code = main(["score", str(example_folder / "photo_coffee.png"), "-o", str(tmp_path / "c.csv"), "--faces", "crop",
                 "--no-progress", "--table-rows", "0"])
    assert code == 0 and read_results(tmp_path / "c.csv")[0]["status"] == "ok"


def test_onnxruntime_path_imports_no_torch(tmp_path: Path, example_folder: Path, tiny_checkpoint: Path) -> None:
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", str(onnx_file), "--weights", str(tiny_checkpoint)]) == 0
    out = tmp_path / "o.csv"
    args = ["score", str(example_folder / "photo_astronaut.png"), str(example_folder / "crop_astronaut.png"),
            "--backend", "onnxruntime", "--onnx-model", str(onnx_file), "-o", str(out), "--no-progress"]
    heavy = heavy_modules_after(f"from mspt_pyiqa.cli.main import main\nassert main({args!r}) == 0")
    assert heavy == []
    onnx_rows = read_results(out)
    # Same files through torch: equal within the resize tolerance's effect on the score.
    assert main(["score", str(example_folder / "photo_astronaut.png"), str(example_folder / "crop_astronaut.png"),
                 "--weights", str(tiny_checkpoint), "-o", str(tmp_path / "t.csv"), "--no-progress", "--table-rows", "0"]) == 0
    torch_rows = read_results(tmp_path / "t.csv")
    assert [r["box"] for r in onnx_rows] == [r["box"] for r in torch_rows]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(onnx_rows, torch_rows)) < 1e-4


def test_onnx_model_errors_name_the_file(tmp_path: Path, example_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    for model, expected in ((bad, "bad.onnx: not a usable ONNX model"), (tmp_path / "none.onnx", "none.onnx: no such file")):
        caplog.clear()
        code = main(["score", str(example_folder / "crop_astronaut.png"), "--backend", "onnxruntime", "--onnx-model",
                     str(model), "-o", str(tmp_path / "x.csv"), "--no-progress"])
        assert code == 2 and expected in caplog.text


def test_summary_uses_singular_for_one_face() -> None:
    from mspt_pyiqa.scoring.writer import format_summary
    from mspt_pyiqa.utils.text import plural

    assert plural(1, "face") == "1 face" and plural(0, "face") == "0 faces" and plural(2, "file") == "2 files"
    s = {"images": 1, "images_scored": 1, "faces_scored": 1, "no_face": 0, "failed": 0, "mean_score": 0.5}
    assert "(1 face)" in format_summary(s)
    assert "(3 faces)" in format_summary({**s, "faces_scored": 3})


def test_default_workers_follow_the_core_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from mspt_pyiqa.cli import score

    for cores, workers in ((1, 0), (2, 0), (3, 2), (4, 3), (16, 4), (None, 0)):
        monkeypatch.setattr(os, "cpu_count", lambda c=cores: c)
        assert score.default_workers() == workers


def test_make_test_shows_skip_reasons_and_installs_quietly() -> None:
    text = (REPO / "Makefile").read_text()
    test_rule = text.split("\ntest:")[1].split("\n\n")[0]
    assert "-rs" in test_rule
    pip_lines = [ln for ln in text.splitlines() if "$(PIP) install" in ln]
    assert pip_lines and all("-q" in ln for ln in pip_lines)


def test_metric_default_auto_aligns_photos_and_keeps_crops(example_folder: Path) -> None:
    """create_metric('mspt_face') defaults to align_crop_face='auto': a crop (or an image without a
    face) scores as with False, a whole photo as with True; a mixed batch scores item by item."""
    import pyiqa
    import torch
    from PIL import Image

    import mspt_pyiqa  # noqa: F401

    auto = pyiqa.create_metric("mspt_face", device="cpu")
    assert auto.net.align_crop_face == "auto"
    plain = pyiqa.create_metric("mspt_face", device="cpu", align_crop_face=False)
    aligned = pyiqa.create_metric("mspt_face", device="cpu", align_crop_face=True)

    def tensor(name: str) -> "torch.Tensor":
        img = Image.open(example_folder / name).convert("RGB").resize((256, 256), Image.BICUBIC)
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 255

    crop, photo = tensor("crop_astronaut.png"), tensor("photo_astronaut.png")
    noise = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    batch = torch.cat([crop, photo, noise])
    got = auto(batch).view(-1)
    assert torch.allclose(got[0], plain(crop).view(-1)[0], atol=1e-5)
    assert torch.allclose(got[1], aligned(photo).view(-1)[0], atol=1e-5)
    assert torch.allclose(got[2], plain(noise).view(-1)[0], atol=1e-5)
    assert abs(float(got[1]) - float(plain(photo))) > 1e-3 and torch.isfinite(got).all()  # the photo was aligned
    with pytest.raises(ValueError, match="align_crop_face must be True, False or 'auto'"):
        pyiqa.create_metric("mspt_face", device="cpu", align_crop_face="always")
