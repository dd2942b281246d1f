"""The README's main job: score example faces with the shipped mspt_face weights.

``python -m mspt_pyiqa.demo [--out DIR]`` crops the face of ``skimage.data.astronaut()``
(an image that ships with scikit-image), writes it and degraded versions of it (blur, noise,
JPEG at two strengths, seeded) as PNG files, scores every file through
``pyiqa.create_metric('mspt_face')`` and prints the scores, higher = better.
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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the example images (default: a temp folder)")
    args = parser.parse_args(argv)

    import pyiqa

    import mspt_pyiqa  # noqa: F401  (registers mspt_face)

    out = args.out or Path(tempfile.mkdtemp(prefix="mspt_demo_"))
    paths = example_faces(out)
    metric = pyiqa.create_metric("mspt_face", device="cpu")
    print(f"mspt_face (higher is better), weights: {metric.net.test_img_size} px release; images in {out}")
    print(f"{'image':<40} {'score':>8}")
    for path in paths:
        print(f"{path.name:<40} {float(metric(str(path))):8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
