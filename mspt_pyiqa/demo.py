"""The README's main job: score example faces with the shipped mspt_face weights.

``python -m mspt_pyiqa.demo [--out DIR]`` crops the face of ``skimage.data.astronaut()``
(an image that ships with scikit-image), writes it and degraded versions of it (blur, noise,
JPEG at two strengths, seeded) as PNG files, scores every file through
``pyiqa.create_metric('mspt_face')`` and prints the scores, higher = better.

``python -m mspt_pyiqa.demo --photos DIR`` instead writes a folder like a user's own: whole
photos and aligned face crops (:func:`example_photos`), clean, JPEG quality 10 and blurred, plus
a photo without a face, to try ``mspt-face score DIR`` on. Tests and ``eval/face_framing.py``
use the same files, so they need nothing beside the repository.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

# (kind, severity) of the example images; 'pristine' is the clean crop.
EXAMPLES: Tuple[Tuple[str, float], ...] = (
    ("pristine", 0.0),
    ("gaussian_blur", 0.3), ("gaussian_blur", 0.7),
    ("gaussian_noise", 0.3), ("gaussian_noise", 0.7),
    ("jpeg", 0.5), ("jpeg", 0.9),
)
# Face box in the 512x512 astronaut image (rows, cols), framed like a face-IQA crop.
FACE_BOX = (slice(10, 250), slice(115, 355))


def example_faces(out_dir: Path, size: int = 224, seed: int = 0) -> List[Path]:
    """Write the example faces as PNG files; return their paths."""
    from skimage import data

    from mspt_pyiqa.degrade import apply

    face = np.asarray(Image.fromarray(data.astronaut()[FACE_BOX]).resize((size, size), Image.BICUBIC))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, severity in EXAMPLES:
        img = face if kind == "pristine" else apply(face, kind, severity, np.random.default_rng(seed))
        path = out_dir / (f"astronaut_{kind}.png" if kind == "pristine" else f"astronaut_{kind}_{severity:.1f}.png")
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


# Degradations of the own-photos examples: (file suffix, kind, setting).
PHOTO_VARIANTS: Tuple[Tuple[str, str, int], ...] = (("", "clean", 0), ("_jpeg_q10", "jpeg", 10), ("_blur", "blur", 4))


def degrade_example(rgb: np.ndarray, kind: str, setting: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> same shape: ``jpeg`` at quality ``setting``, ``blur`` with Gaussian sigma ``setting`` px."""
    import io

    import cv2

    if kind == "clean":
        return rgb
    if kind == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=int(setting))
        return np.asarray(Image.open(buf).convert("RGB"))
    if kind == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), float(setting))
    raise ValueError(f"unknown example degradation {kind!r}")


def aligned_astronaut(size: int = 256) -> np.ndarray:
    """The astronaut's face aligned to the template (bundled YuNet): ``(size, size, 3)`` uint8."""
    from skimage import data

    from mspt_pyiqa.face.align import align_face
    from mspt_pyiqa.face.detector import YuNetDetector

    photo = data.astronaut()
    face = YuNetDetector().detect(photo)[0]
    return (align_face(photo, face.landmarks, size) * 255.0 + 0.5).astype(np.uint8)


def place_in_scene(face: np.ndarray, scene: np.ndarray, face_height: int, x: int, y: int) -> np.ndarray:
    """A whole photo: ``face`` (H, W, 3) uint8 resized to ``face_height`` rows, pasted into a
    copy of ``scene`` (uint8) with its top-left corner at column ``x``, row ``y``."""
    h, w = face.shape[:2]
    small = np.asarray(Image.fromarray(face).resize((max(1, round(w * face_height / h)), face_height), Image.LANCZOS))
    out = scene.copy()
    sh, sw = small.shape[:2]
    if y + sh > out.shape[0] or x + sw > out.shape[1]:
        raise ValueError(f"a {sw}x{sh} face at ({x}, {y}) does not fit a {out.shape[1]}x{out.shape[0]} scene")
    out[y:y + sh, x:x + sw] = small
    return out


def example_photos(out_dir: Path) -> List[Path]:
    """Write a folder like a user's own photos; return the paths.

    Whole photos: scikit-image's ``astronaut()`` (512x512, a face of ~90 px) and the
    aligned astronaut face placed in ``rocket()`` (a 640x427 scene); an aligned face crop
    (256 px); each clean, at JPEG quality 10 and blurred (sigma 4 px); ``coffee()``, a photo
    without a face. Names: ``<kind>_<subject>[_jpeg_q10|_blur].<png|jpg>``.
    """
    from skimage import data

    out_dir.mkdir(parents=True, exist_ok=True)
    crop = aligned_astronaut(256)
    subjects = {
        "photo_astronaut": data.astronaut(),
        "photo_rocket_scene": place_in_scene(crop, data.rocket(), 150, 380, 200),
        "crop_astronaut": crop,
    }
    paths = []
    for name, rgb in subjects.items():
        for suffix, kind, setting in PHOTO_VARIANTS:
            path = out_dir / f"{name}{suffix}.{'jpg' if kind == 'jpeg' else 'png'}"
            if kind == "jpeg":  # the file itself is the JPEG at that quality
                Image.fromarray(rgb).save(path, quality=setting)
            else:
                Image.fromarray(degrade_example(rgb, kind, setting)).save(path)
            paths.append(path)
    coffee = out_dir / "photo_coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    return paths + [coffee]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the example images (default: a temp folder)")
    parser.add_argument("--photos", type=Path, metavar="DIR",
                        help="only write example whole photos and face crops to DIR (to try `mspt-face score DIR`) and exit")
    args = parser.parse_args(argv)
    command = Path(sys.executable).parent / "mspt-face"
    if args.photos:
        paths = example_photos(args.photos)
        print(f"wrote {len(paths)} example images to {args.photos}; score them with:\n  {command} score {args.photos}")
        return 0

    import pyiqa

    import mspt_pyiqa  # noqa: F401  (registers mspt_face)

    out = args.out or Path(tempfile.mkdtemp(prefix="mspt_demo_"))
    paths = example_faces(out)
    metric = pyiqa.create_metric("mspt_face", device="cpu")
    print(f"mspt_face (higher is better), weights: {metric.net.test_img_size} px release; images in {out}")
    print(f"{'image':<40} {'score':>8}")
    for path in paths:
        print(f"{path.name:<40} {float(metric(str(path))):8.4f}")
    print(f"\nYour own photos (whole photos or face crops, a folder or files):\n  {command} score DIR -o scores.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
