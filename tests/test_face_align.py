"""YuNet detection, 5-point similarity alignment, BatchFaceAligner and the pyiqa option."""
from __future__ import annotations

import math
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest
import torch

from mspt_pyiqa.face.align import BatchFaceAligner, align_face, estimate_similarity
from mspt_pyiqa.face.detector import YuNetDetector
from mspt_pyiqa.face.template import TEMPLATE_512, face_template



@pytest.fixture(scope="module")
def celeb(sample_faces: List[Path]) -> List[Path]:
    """Face crops made from scikit-image's astronaut (conftest), so no ../shared is needed:
    the 256 px crops are enlarged to 512 px, the CelebA-HQ size these tests were written for."""
    out = []
    for p in sample_faces:
        big = p.with_name(p.stem + "_512.png")
        cv2.imwrite(str(big), cv2.resize(cv2.imread(str(p)), (512, 512), interpolation=cv2.INTER_CUBIC))
        out.append(big)
    return out


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_estimate_similarity_recovers_known_transform() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    s, a, t = 1.7, math.radians(23), np.array([12.0, -4.0])
    rot = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    m = estimate_similarity(src, src @ rot.T + t)
    assert np.allclose(m[:, :2], rot, atol=1e-9) and np.allclose(m[:, 2], t, atol=1e-9)


def test_template_scales_with_pixel_centres() -> None:
    assert np.allclose(face_template(512), TEMPLATE_512)
    t256 = face_template(256)
    assert np.allclose((t256 + 0.5) * 2 - 0.5, TEMPLATE_512)


def test_align_face_puts_landmarks_on_template(yunet: str, celeb: List[Path]) -> None:
    """Warp a rotated, shrunk face photo back: re-detected landmarks land near the template."""
    det = YuNetDetector(yunet)
    img = _rgb(celeb[0])
    m = cv2.getRotationMatrix2D((256, 256), 25, 0.6)
    moved = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT_101)
    faces = det.detect(moved)
    assert faces, "YuNet should find the rotated face"
    crop = align_face(moved, faces[0].landmarks, 512)
    assert crop.shape == (512, 512, 3) and crop.dtype == np.float32 and 0 <= crop.min() and crop.max() <= 1
    again = det.detect((crop * 255 + 0.5).astype(np.uint8))
    assert again
    offset = np.linalg.norm(again[0].landmarks - TEMPLATE_512, axis=1).mean()
    # This face's own shape is ~5 px from the mean template (aligned unmoved); YuNet's landmarks
    # on the 25-degree, 0.6x copy add ~10 px. A rotation or scale left undone would move the
    # eyes and mouth by 25+ px (25 degrees at 60 px from the centre; 40 % of the eye distance).
    assert offset < 20.0, offset


def test_align_face_downscales_large_face_without_aliasing(yunet: str, celeb: List[Path]) -> None:
    """A 4x upscaled photo aligned to 128 px matches the same photo aligned directly (area-averaged)."""
    det = YuNetDetector(yunet)
    img = _rgb(celeb[1])
    big = cv2.resize(img, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    lm = det.detect(img)[0].landmarks
    a = align_face(img, lm, 128)
    b = align_face(big, (lm + 0.5) * 4 - 0.5, 128)
    assert np.abs(a - b).mean() < 0.02


def test_two_faces_detected_separately(yunet: str, celeb: List[Path]) -> None:
    det = YuNetDetector(yunet)
    pair = np.concatenate([_rgb(celeb[0]), _rgb(celeb[2])], axis=1)  # 512 x 1024
    faces = det.detect(pair)
    assert len(faces) == 2
    xs = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert xs[0] < 512 < xs[1]


def test_batch_aligner_flags_images_without_face(yunet: str, celeb: List[Path]) -> None:
    imgs = [cv2.resize(_rgb(p), (384, 384), interpolation=cv2.INTER_AREA) for p in celeb[:2]]
    blank = np.full((384, 384, 3), 127, np.uint8)
    x = torch.from_numpy(np.stack(imgs + [blank])).permute(0, 3, 1, 2).float() / 255
    faces, found = BatchFaceAligner(face_size=256, detector_model_path=yunet)(x)
    assert faces.shape == (3, 3, 256, 256) and faces.dtype == x.dtype
    assert found.tolist() == [True, True, False]
    assert float(faces[2].abs().max()) == 0.0 and float(faces[0].std()) > 0.05


def test_mspt_metric_align_crop_face_on_a_batch(yunet: str, celeb: List[Path]) -> None:
    """pyiqa convention: create_metric('mspt_face', align_crop_face=True) scores a batch; no face -> NaN."""
    import pyiqa

    import mspt_pyiqa  # noqa: F401  (registers mspt_face)

    metric = pyiqa.create_metric(
        "mspt_face", device="cpu", pretrained=False, align_crop_face=True, detector_model_path=yunet,
        face_size=256, test_img_size=128,
    )
    imgs = [cv2.resize(_rgb(p), (320, 320), interpolation=cv2.INTER_AREA) for p in celeb[:2]]
    x = torch.from_numpy(np.stack(imgs + [np.full((320, 320, 3), 90, np.uint8)])).permute(0, 3, 1, 2).float() / 255
    scores = metric(x).view(-1)
    assert torch.isfinite(scores[:2]).all() and torch.isnan(scores[2])
    # The batch result equals scoring each aligned face alone.
    single = metric(x[:1]).view(-1)
    assert torch.allclose(single, scores[:1], atol=1e-5)
