"""Probe: do the weights that lose mild noise on enlarged photos also reward added local contrast?

The reading under test (experiment log, "More steps, a noise specialist in the mix"): every extra
step on the corpus's contrast and exposure ladders costs the real-world arm's mild noise, because
those ladders teach "more local contrast is better", and on a smooth, enlarged face sigma-5 noise
*is* added local contrast. If so, a checkpoint that prefers the noisy photo to the clean one should
also prefer the clean photo with its local contrast raised by other means, and the two preferences
should go together photo by photo.

For every photo of one arm of the yardstick's cache (``eval/native_scale.py``) this scores, at the
photo's own resolution and through the same views as ``view_size_grid.py`` (resized view S px plus
detail view D px, never enlarging), the clean image, its sigma-5 noise level from the cache, and
three edits made here with OpenCV at native resolution, none of them a degradation a viewer would
call worse:

- ``unsharp``: unsharp mask, ``img + 0.6 (img - GaussianBlur(img, sigma 1.5 px))``: fine-scale
  local contrast up;
- ``clahe``: CLAHE on the L channel of Lab (clip limit 2, 8 x 8 tiles): mid-scale local contrast up;
- ``contrast_down``: global contrast x 0.85 around the mean: the mild end of the corpus's
  contrast-loss ladder, as a check that the edit's direction is read at all.

Figures per checkpoint: the share of photos where each image scores above the clean photo, the
mean score change, and the Spearman correlation over photos between the noise change and each edit's
change. Writes ``<out>.md`` and ``<out>.json``; per-image scores are cached in ``<out>_scores.csv``
under ``runs/``.

    python research/probes/local_contrast_probe.py --model v11=weights/mspt_face_v11-f7ca512a.pth \\
        --model e9=runs/mspt_face_v12_probe_card224_at224_photo_long.pth \\
        --out research/reports/local_contrast_probe
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mspt_pyiqa.archs.mspt_arch import MSPTNet  # noqa: E402
from mspt_pyiqa.bench.native import decode, to_tensor  # noqa: E402
from mspt_pyiqa.utils.io import atomic_write, atomic_write_json, atomic_write_text  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detail_view_by_size import arm_rows  # noqa: E402  (the sibling probe)

EDITS = ("unsharp", "clahe", "contrast_down")


def edit(img: np.ndarray, name: str) -> np.ndarray:
    """``img`` (RGB uint8 ``(H, W, 3)``) with one of :data:`EDITS` applied at its own resolution."""
    f = img.astype(np.float32)
    if name == "unsharp":
        out = f + 0.6 * (f - cv2.GaussianBlur(f, (0, 0), 1.5))
    elif name == "clahe":
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
        lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    elif name == "contrast_down":
        out = f.mean() + 0.85 * (f - f.mean())
    else:
        raise ValueError(f"unknown edit {name!r}; expected one of {EDITS}")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def photo_images(rows: List[Dict[str, str]], cache: Path) -> Dict[str, Dict[str, Path]]:
    """``{photo: {"clean": file, "noise": file}}`` from the cache (noise = Gaussian noise level 1)."""
    out: Dict[str, Dict[str, Path]] = {}
    for r in rows:
        if r["kind"] == "clean":
            out.setdefault(r["photo"], {})["clean"] = cache / r["file"]
        elif r["kind"] == "gaussian_noise" and str(r["level"]) == "1":
            out.setdefault(r["photo"], {})["noise"] = cache / r["file"]
    return {p: v for p, v in sorted(out.items()) if len(v) == 2}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="NAME=PATH", help="checkpoint to score (repeatable)")
    p.add_argument("--cache", type=Path, default=REPO / "runs" / "native_scale" / "levels-d233da39ed",
                   help="the yardstick's cache folder (scores.csv + images/)")
    p.add_argument("--arm", default="realworld", choices=["native", "realworld"])
    p.add_argument("--size", type=int, default=320, help="resized view (px, short side)")
    p.add_argument("--detail", type=int, default=320, help="detail view (px); 0 = none")
    p.add_argument("--out", type=Path, required=True, help="report path without extension")
    args = p.parse_args(argv)
    models = dict(m.split("=", 1) for m in args.model)
    photos = photo_images(arm_rows(args.cache, args.arm), args.cache)
    cols = ["clean", "noise", *EDITS]
    scores_csv = REPO / "runs" / "local_contrast_probe" / f"{args.out.name}_scores.csv"
    scores_csv.parent.mkdir(parents=True, exist_ok=True)
    stored: Dict[str, Dict[str, str]] = {}
    if scores_csv.exists():
        with open(scores_csv, newline="", encoding="utf-8") as f:
            stored = {r["key"]: r for r in csv.DictReader(f)}
    for name, path in models.items():
        if all(f"{name}|{ph}" in stored for ph in photos):
            continue
        net = MSPTNet(pretrained_model_path=path, test_img_size=args.size, detail_size=args.detail or None, enlarge=False).eval()
        for ph, files in tqdm(photos.items(), desc=f"scoring {name}", unit="photo"):
            clean = decode(files["clean"].read_bytes())
            imgs = {"clean": clean, "noise": decode(files["noise"].read_bytes()), **{e: edit(clean, e) for e in EDITS}}
            with torch.no_grad():
                row = {c: repr(float(net(to_tensor(imgs[c]).unsqueeze(0)))) for c in cols}
            stored[f"{name}|{ph}"] = {"key": f"{name}|{ph}", **row}
        with atomic_write(scores_csv, newline="") as f:  # after each checkpoint: a rerun resumes
            w = csv.DictWriter(f, fieldnames=["key", *cols])
            w.writeheader()
            w.writerows(stored.values())

    figures: Dict[str, Dict[str, float]] = {}
    for name in models:
        s = {c: np.array([float(stored[f"{name}|{ph}"][c]) for ph in photos]) for c in cols}
        d = {c: s[c] - s["clean"] for c in cols[1:]}
        fig = {f"above_clean:{c}": float(np.mean(d[c] > 0)) for c in d}
        fig.update({f"mean_change:{c}": float(np.mean(d[c])) for c in d})
        fig.update({f"spearman_with_noise:{e}": float(spearmanr(d["noise"], d[e])[0]) for e in EDITS})
        figures[name] = fig
    cmd = "python research/probes/local_contrast_probe.py " + " ".join(argv if argv is not None else sys.argv[1:])
    views = f"{args.size} + {args.detail}" if args.detail else f"{args.size}"
    lines = [f"# Mild noise and added local contrast on the yardstick's {args.arm} arm", "", f"Made by: `{cmd}`", "",
             f"{len(photos)} photos, each scored at views {views} px, never enlarging. An edit 'above clean' raises the"
             " score of the clean photo; noise is Gaussian noise sigma 5/255 (the yardstick's level 1). Spearman: over photos,"
             " between the score change from noise and the change from the edit. No intervals.", "",
             "| checkpoint | noise above clean | unsharp above clean | CLAHE above clean | contrast x0.85 above clean"
             " | mean change: noise / unsharp / CLAHE / contrast x0.85 | Spearman with noise: unsharp / CLAHE / contrast x0.85 |",
             "|---|---|---|---|---|---|---|"]
    for name, f in figures.items():
        lines.append(f"| {name} | " + " | ".join(f"{f['above_clean:' + c]:.2f}" for c in cols[1:]) + " | "
                     + " / ".join(f"{f['mean_change:' + c]:+.4f}" for c in cols[1:]) + " | "
                     + " / ".join(f"{f['spearman_with_noise:' + e]:.2f}" for e in EDITS) + " |")
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    atomic_write_json(args.out.with_suffix(".json"), {"command": cmd, "models": models, "photos": len(photos), "figures": figures})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
