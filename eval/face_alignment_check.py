"""Check (and derive) the face alignment template on CelebA-HQ's FFHQ-like framing.

Runs YuNet on the 512x512 CelebA-HQ photos of ``../shared/data/faces/celebahq`` (read at run
time, nothing copied) and measures how far their landmarks are from
:data:`mspt_pyiqa.face.template.TEMPLATE_512`, i.e. how much our alignment moves a face that
is already framed like the training photos:

* mean landmark offset: mean over photos and the 5 points of ``|landmark - template|`` (px);
* the similarity transform that alignment applies: scale, rotation, translation;
* residual after alignment (what a similarity cannot fix: face shape, pose);
* a held-out check of the derivation: template from even-indexed photos, offsets on odd ones.

``--derive`` prints the mean landmarks, the numbers that ``template.py`` documents.

Usage: ``python eval/face_alignment_check.py [--limit N] [--report eval/reports/face_alignment.md]``
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import List

import cv2
import numpy as np

from mspt_pyiqa.face.align import estimate_similarity
from mspt_pyiqa.face.detector import YuNetDetector
from mspt_pyiqa.face.template import TEMPLATE_512

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / ".." / "shared"


def offsets(lms: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Per-photo mean point distance ``(P,)`` between ``lms`` ``(P, 5, 2)`` and ``template``."""
    return np.linalg.norm(lms - template[None], axis=2).mean(axis=1)


def transform_stats(lms: np.ndarray, template: np.ndarray) -> dict:
    scales, rots, shifts, resid = [], [], [], []
    for lm in lms:
        m = estimate_similarity(lm, template)
        scales.append(math.hypot(m[0, 0], m[1, 0]))
        rots.append(math.degrees(math.atan2(m[1, 0], m[0, 0])))
        c = np.array([255.5, 255.5])
        shifts.append(np.linalg.norm(m[:, :2] @ c + m[:, 2] - c))
        mapped = lm @ m[:, :2].T + m[:, 2]
        resid.append(np.linalg.norm(mapped - template, axis=1).mean())
    return {
        "scale_mean": float(np.mean(scales)),
        "abs_scale_dev": float(np.mean(np.abs(np.array(scales) - 1))),
        "abs_rot_deg": float(np.mean(np.abs(rots))),
        "centre_shift_px": float(np.mean(shifts)),
        "residual_px": float(np.mean(resid)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED / "data" / "faces" / "celebahq"))
    ap.add_argument("--detector-model", default=str(SHARED / "models" / "face_detection_yunet.onnx"))
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--derive", action="store_true", help="print the mean landmarks")
    ap.add_argument("--report", help="write a markdown report here")
    args = ap.parse_args()

    files = sorted(Path(args.data).glob("*.jpg"))[: args.limit or None]
    det = YuNetDetector(args.detector_model)
    t0 = time.time()
    lms: List[np.ndarray] = []
    for f in files:
        bgr = cv2.imread(str(f))
        if bgr is None or bgr.shape[:2] != (512, 512):
            continue
        faces = det.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if faces:
            lms.append(faces[0].landmarks.astype(np.float64))
    arr = np.stack(lms)
    mean = arr.mean(axis=0)
    off = offsets(arr, TEMPLATE_512)
    stats = transform_stats(arr, TEMPLATE_512)
    even, odd = arr[0::2], arr[1::2]
    heldout = offsets(odd, even.mean(axis=0))
    per_point = np.linalg.norm(mean - TEMPLATE_512, axis=1)
    names = ["left eye", "right eye", "nose", "left mouth", "right mouth"]
    lines = [
        "# Face alignment template vs. CelebA-HQ framing",
        "",
        f"Command: `python eval/face_alignment_check.py{' --limit %d' % args.limit if args.limit else ''} --report ...`",
        f"Photos: {len(files)} CelebA-HQ 512x512 from ../shared/data/faces/celebahq; YuNet found a face in {len(arr)} "
        f"(threshold 0.9); {time.time() - t0:.0f} s.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| mean landmark offset, photo vs. template (px at 512) | {off.mean():.2f} (median {np.median(off):.2f}, 95th pct {np.percentile(off, 95):.2f}) |",
        f"| alignment scale (mean; mean abs deviation from 1) | {stats['scale_mean']:.4f}; {stats['abs_scale_dev']:.4f} |",
        f"| alignment rotation, mean abs (deg) | {stats['abs_rot_deg']:.2f} |",
        f"| alignment shift of the crop centre, mean (px) | {stats['centre_shift_px']:.2f} |",
        f"| residual after alignment, mean (px) | {stats['residual_px']:.2f} |",
        f"| held-out: template from even photos, offset on odd photos (px) | {heldout.mean():.2f} |",
        "",
        "Mean detected landmark vs. template (px):",
        "",
        "| point | mean x | mean y | template x | template y | distance |",
        "|---|---|---|---|---|---|",
    ]
    for i, n in enumerate(names):
        lines.append(
            f"| {n} | {mean[i, 0]:.2f} | {mean[i, 1]:.2f} | {TEMPLATE_512[i, 0]:.2f} | {TEMPLATE_512[i, 1]:.2f} | {per_point[i]:.2f} |"
        )
    lines += [
        "",
        "Reading: a photo already framed like CelebA-HQ/FFHQ is moved by the alignment by about the mean",
        "landmark offset; the scale stays near 1, so aligned crops have the training photos' framing.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.derive:
        print("mean landmarks:\n", np.round(mean, 2))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
