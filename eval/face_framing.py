"""What ``--faces auto`` decides on real crops and whole photos (crop-or-photo measurement).

For every image, YuNet (the bundled model, threshold 0.9) finds the main face and
:func:`mspt_pyiqa.face.framing.framing_of` measures how it sits in the image (face scale
relative to the alignment template, centre offset, rotation, aspect). ``auto`` scores an
image whole when :data:`mspt_pyiqa.face.framing.CROP_LIMITS` holds, and detects/aligns
otherwise. Groups:

* the three face-crop collections of ``../shared/data/faces`` (read at run time, nothing
  copied): CelebA-HQ (FFHQ-like framing), SCUT-FBP5500, All-Age-Faces; should be ``crop``;
* the same crops degraded (JPEG quality 10, Gaussian blur sigma 4 px); should stay ``crop``;
* whole photos made from them: the crop pasted into a larger scene (scikit-image's
  ``rocket()`` or ``coffee()`` at 2x, the face 15-35 % of the scene height, seeded
  position); should be ``photo``;
* the example folder of ``python -m mspt_pyiqa.demo --photos`` (scikit-image's
  ``astronaut()`` as a whole photo, the aligned astronaut crop, ``coffee()`` without a face).

Usage: ``python eval/face_framing.py [--per-set N] [--scenes-per-set K] --out eval/reports``
(writes ``face_framing.md`` and ``face_framing.csv``).
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mspt_pyiqa.demo import degrade_example, example_photos, place_in_scene  # noqa: E402
from mspt_pyiqa.face.detector import YuNetDetector  # noqa: E402
from mspt_pyiqa.face.framing import CROP_LIMITS, framing_of  # noqa: E402
from mspt_pyiqa.utils.io import atomic_write_text, markdown_table  # noqa: E402

logger = logging.getLogger("face_framing")
FACES = REPO.parent / "shared" / "data" / "faces"
SETS = {"celebahq": "CelebA-HQ", "scut": "SCUT-FBP5500", "aaf": "All-Age-Faces"}


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def measure(det: YuNetDetector, rgb: np.ndarray, group: str, name: str) -> Dict[str, object]:
    """One CSV row: framing of the main face and the decision (crop / photo / no_face)."""
    faces = det.detect(rgb)
    h, w = rgb.shape[:2]
    row: Dict[str, object] = {"group": group, "image": name, "width": w, "height": h, "faces": len(faces)}
    if not faces:
        row.update(decision="no_face")
        return row
    f = framing_of(faces[0], w, h)
    row.update(face_scale=f.face_scale, offset=f.offset, angle=f.angle, aspect=f.aspect,
               decision="crop" if CROP_LIMITS.contains(f) else "photo")
    return row


def scenes() -> List[np.ndarray]:
    from skimage import data

    return [cv2.resize(s, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for s in (data.rocket(), data.coffee())]


def summary(rows: List[Dict[str, object]]) -> List[Dict[str, object]]:
    out = []
    for group in dict.fromkeys(r["group"] for r in rows):
        rs = [r for r in rows if r["group"] == group]
        found = [r for r in rs if r["decision"] != "no_face"]
        fs = np.array([r["face_scale"] for r in found]) if found else np.array([np.nan])
        off = np.array([r["offset"] for r in found]) if found else np.array([np.nan])
        ang = np.abs(np.array([r["angle"] for r in found])) if found else np.array([np.nan])
        out.append({
            "group": group, "images": len(rs),
            "crop": sum(r["decision"] == "crop" for r in rs), "photo": sum(r["decision"] == "photo" for r in rs),
            "no_face": sum(r["decision"] == "no_face" for r in rs),
            "face_scale p0.5": float(np.percentile(fs, 0.5)), "face_scale p50": float(np.median(fs)),
            "face_scale p99.5": float(np.percentile(fs, 99.5)), "offset p99.5": float(np.percentile(off, 99.5)),
            "abs angle p99.5": float(np.percentile(ang, 99.5)),
        })
    return out


def reading(rows: List[Dict[str, object]]) -> str:
    """One paragraph: how often ``auto`` decided as the group's kind expects (computed)."""
    crops = [r for r in rows if " crops" in str(r["group"]) and r["decision"] != "no_face"]
    photos = [r for r in rows if "whole photo" in str(r["group"]) and r["decision"] != "no_face"]
    lost = [r for r in rows if r["decision"] == "no_face" and not str(r["group"]).startswith("example")]
    return (
        f"Reading: of the crops (clean and degraded) with a face found, {sum(r['decision'] == 'crop' for r in crops)} of "
        f"{len(crops)} are scored whole; of the whole photos with a face found, "
        f"{sum(r['decision'] == 'photo' for r in photos)} of {len(photos)} are detected and aligned. "
        f"{len(lost)} images had no face at YuNet's threshold 0.9 (small faces in the scenes, a few crops): "
        "`auto` and `detect` give them a `no_face` row; `--faces crop` scores such crops anyway."
    )


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-set", type=int, default=0, help="first N photos of each crop set (0: all)")
    ap.add_argument("--scenes-per-set", type=int, default=200, help="photos per set degraded and pasted into scenes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "eval" / "reports")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cv2.setNumThreads(1)
    det = YuNetDetector()
    rng = np.random.default_rng(args.seed)
    backgrounds = scenes()
    rows: List[Dict[str, object]] = []
    t0 = time.time()
    if not FACES.is_dir():
        logger.warning("%s not found: only the example photos are measured", FACES)
    for key, label in SETS.items():
        files = sorted((FACES / key).glob("*.jpg")) if FACES.is_dir() else []
        files = files[: args.per_set or None]
        for i, path in enumerate(tqdm(files, desc=label, unit="img")):
            rgb = _rgb(path)
            rows.append(measure(det, rgb, f"{label} crops", path.name))
            if i < args.scenes_per_set:
                for kind, setting, tag in (("jpeg", 10, "JPEG q10"), ("blur", 4, "blur 4 px")):
                    rows.append(measure(det, degrade_example(rgb, kind, setting), f"{label} crops, {tag}", path.name))
                scene = backgrounds[i % len(backgrounds)]
                fh = int(scene.shape[0] * rng.uniform(0.15, 0.35))
                fw = round(rgb.shape[1] * fh / rgb.shape[0])
                x, y = int(rng.integers(0, scene.shape[1] - fw)), int(rng.integers(0, scene.shape[0] - fh))
                rows.append(measure(det, place_in_scene(rgb, scene, fh, x, y), f"{label} in a scene (whole photo)", path.name))
    with tempfile.TemporaryDirectory() as tmp:
        for path in example_photos(Path(tmp)):
            rows.append(measure(det, _rgb(path), "example folder (demo --photos)", path.name))
    elapsed = time.time() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    cols = ["group", "image", "width", "height", "faces", "face_scale", "offset", "angle", "aspect", "decision"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows([[f"{r[c]:.4f}" if isinstance(r.get(c), float) else r.get(c, "") for c in cols] for r in rows])
    atomic_write_text(args.out / "face_framing.csv", buf.getvalue())
    examples = [r for r in rows if r["group"].startswith("example")]
    cmd = "python eval/face_framing.py" + (f" --per-set {args.per_set}" if args.per_set else "") + \
        f" --scenes-per-set {args.scenes_per_set} --out {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}"
    lim = CROP_LIMITS
    text = "\n".join([
        "# What `--faces auto` decides: aligned crop or whole photo",
        "",
        f"Command: `{cmd}` ({elapsed:.0f} s on this machine). Per-image values: `face_framing.csv`.",
        "",
        "An image is scored whole (`crop`) when its main YuNet face (threshold 0.9) has",
        f"face scale {lim.min_face_scale}..{lim.max_face_scale} (1 = framed like the 512 px alignment template),",
        f"centre offset <= {lim.max_offset} of the short side, rotation <= {lim.max_angle} degrees and aspect",
        f"<= {lim.max_aspect}; otherwise (`photo`) every face is detected, aligned and scored; `no_face`",
        "images get a row without a score.",
        "",
        markdown_table(summary(rows), floatfmt=".3f"),
        reading(rows),
        "",
        "Example folder, image by image:",
        "",
        markdown_table(examples, ["image", "width", "height", "faces", "face_scale", "offset", "angle", "decision"], floatfmt=".3f"),
    ])
    atomic_write_text(args.out / "face_framing.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
