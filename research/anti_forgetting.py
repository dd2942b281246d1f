"""Measure the anti-forgetting options: the same three-stage recipe with replay / distillation /
L2 pull switched on and off, on real face photos with one degradation family per stage.

Data: clean photos from a faces folder (default ``../shared/data/faces``: stage 1 SCUT
studio portraits + Gaussian blur, stage 2 CelebA-HQ-like + Gaussian noise, stage 3 AAF
mixed-quality + JPEG), degraded with :func:`mspt_pyiqa.degrade.apply` at evenly spread
severities; label ``mos = 1 - severity`` (a monotone pseudo-MOS, enough to measure
forgetting). Resolutions 96 / 128 / 160 px and a few epochs keep it CPU-sized.

Output (``--out``): one run folder per variant, ``anti_forgetting.csv`` (long table) and
``anti_forgetting.md``: per variant, SRCC on each old stage's val set right after that
stage and after the last stage (forgetting = the drop), and the last stage's own SRCC.
Command: ``python research/anti_forgetting.py --out runs/ablation [--faces DIR]``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import cv2
import numpy as np
import pandas as pd

from mspt_pyiqa.data.meta import write_meta_csv
from mspt_pyiqa.train.recipe import run_recipe
from mspt_pyiqa.utils.io import atomic_write_text as write_text, atomic_write_yaml as write_yaml
from mspt_pyiqa.train.toy import toy_recipe

logger = logging.getLogger(__name__)

# stage -> (faces subfolder, degradation kind of mspt_pyiqa.degrade)
STAGE_DATA = {1: ("scut", "gaussian_blur"), 2: ("celebahq", "gaussian_noise"), 3: ("aaf", "jpeg")}

# CPU-sized stand-in for 224 / 336 / 448 px (BatchNorm needs a few pixels of final feature map).
RESOLUTIONS = (96, 128, 160)

# Learning rates of the shipped synthetic stage files (scaled by --lr-scale).
STAGE_LR = (3e-4, 1e-4, 5e-5)

# variant -> dotted recipe overrides (see mspt_pyiqa.train.recipe.apply_dotted)
VARIANTS: Dict[str, Dict[str, Any]] = {
    "finetune_only": {"replay.enabled": False, "anti_forgetting.distill": 0.0, "anti_forgetting.l2_pull": 0.0},
    "replay": {"replay.enabled": True, "anti_forgetting.distill": 0.0, "anti_forgetting.l2_pull": 0.0},
    "replay+distill": {"replay.enabled": True, "anti_forgetting.distill": 1.0, "anti_forgetting.l2_pull": 0.0},
    "replay+l2_pull": {"replay.enabled": True, "anti_forgetting.distill": 0.0, "anti_forgetting.l2_pull": 0.01},
}


def build_face_stages(faces: Path, out_dir: Path, per_stage: int, n_val: int, size: int, seed: int = 0) -> Dict[int, Path]:
    """Degraded real faces, one family per stage, as common meta-info CSVs; return the CSVs."""
    from mspt_pyiqa.degrade import apply

    csvs: Dict[int, Path] = {}
    for stage, (sub, kind) in STAGE_DATA.items():
        photos = sorted((Path(faces) / sub).glob("*.jpg")) + sorted((Path(faces) / sub).glob("*.png"))
        if len(photos) < per_stage:
            raise FileNotFoundError(f"{Path(faces) / sub}: needs {per_stage} photos, found {len(photos)}")
        rng = np.random.default_rng(seed * 1000 + stage)
        chosen = [photos[i] for i in sorted(rng.choice(len(photos), per_stage, replace=False))]
        severities = rng.permutation(np.linspace(0.0, 1.0, per_stage))
        root = Path(out_dir) / f"stage{stage}"
        (root / "images").mkdir(parents=True, exist_ok=True)
        rows: List[Dict[str, Any]] = []
        for i, (photo, sev) in enumerate(zip(chosen, severities)):
            img = cv2.cvtColor(cv2.imread(str(photo), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
            img_seed = seed * 100000 + stage * 1000 + i
            out = apply(img, kind, float(sev), np.random.default_rng(img_seed))
            name = f"images/{stage}_{i:04d}.png"
            cv2.imwrite(str(root / name), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
            rows.append({"dist_img": name, "mos": 1.0 - float(sev), "ref_img": "", "source_id": photo.stem, "source_set": sub,
                         "degradation": kind, "severity": float(sev), "level": -1, "stage": stage, "seed": img_seed,
                         "split": "val" if i < n_val else "train"})
        csvs[stage] = write_meta_csv(pd.DataFrame(rows), root / "meta_info.csv")
    return csvs


def summarize(tables: Dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per variant and old stage: SRCC right after it, after the last stage, and the drop."""
    rows = []
    for variant, t in tables.items():
        stages = list(dict.fromkeys(t["checkpoint_stage"]))
        last = stages[-1]
        cell = lambda ck, vs, m: float(t[(t.checkpoint_stage == ck) & (t.val_stage == vs)][m].iloc[0])  # noqa: E731
        for vs in stages[:-1]:
            rows.append({"variant": variant, "val_stage": vs, "srcc_after_own_stage": cell(vs, vs, "srcc"),
                         "srcc_after_last_stage": cell(last, vs, "srcc"), "forgetting_srcc": cell(vs, vs, "srcc") - cell(last, vs, "srcc"),
                         "plcc_after_last_stage": cell(last, vs, "plcc"), "last_stage_own_srcc": cell(last, last, "srcc")})
    return pd.DataFrame(rows)


def to_markdown(summary: pd.DataFrame, settings: str) -> str:
    lines = ["# Anti-forgetting measurement", "", settings, "",
             "| variant | old val set | SRCC after its stage | SRCC after last stage | forgetting (drop) | PLCC after last | last stage's own SRCC |",
             "|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.variant} | {r.val_stage} | {r.srcc_after_own_stage:.4f} | {r.srcc_after_last_stage:.4f} | {r.forgetting_srcc:+.4f} | {r.plcc_after_last_stage:.4f} | {r.last_stage_own_srcc:.4f} |")
    mean = summary.groupby("variant", sort=False)[["forgetting_srcc", "srcc_after_last_stage", "last_stage_own_srcc"]].mean()
    lines += ["", "Mean over old stages:", "", "| variant | mean forgetting (SRCC drop) | mean old-stage SRCC after last stage | last stage's own SRCC |", "|---|---|---|---|"]
    for v, r in mean.iterrows():
        lines.append(f"| {v} | {r.forgetting_srcc:+.4f} | {r.srcc_after_last_stage:.4f} | {r.last_stage_own_srcc:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python research/anti_forgetting.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--faces", type=Path, default=Path("..") / "shared" / "data" / "faces")
    parser.add_argument("--per-stage", type=int, default=64)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--resolutions", nargs=3, type=int, default=list(RESOLUTIONS))
    parser.add_argument("--lr-scale", type=float, default=1.0, help="multiplies the stage files' learning rates")
    parser.add_argument("--stages", type=int, default=None, help="run only the first N stages (probing)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--report", type=Path, default=None, help="also write the markdown here (e.g. docs/training_anti_forgetting.md)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    csvs = build_face_stages(args.faces, args.out / "data", args.per_stage, args.val, size=max(args.resolutions))
    base = toy_recipe(csvs, resolutions=args.resolutions, epochs=args.epochs, batch=args.batch, save_every=0)
    for st, lr in zip(base["stages"], STAGE_LR):
        st["overrides"]["train"]["optim"] = {"lr": lr * args.lr_scale}
    if args.stages:
        base["stages"] = base["stages"][: args.stages]
    recipe = write_yaml(args.out / "recipe.yml", base)
    tables: Dict[str, pd.DataFrame] = {}
    for v in args.variants:
        run_recipe(recipe, args.out / v.replace("+", "_"), overrides=VARIANTS[v])
        tables[v] = pd.read_csv(args.out / v.replace("+", "_") / "forgetting.csv")
    summary = summarize(tables)
    settings = (f"`python research/anti_forgetting.py --out {args.out} --per-stage {args.per_stage} --val {args.val} "
                f"--resolutions {' '.join(map(str, args.resolutions))} --batch {args.batch} --epochs {args.epochs} --lr-scale {args.lr_scale:g}`: {args.per_stage} faces per stage ({args.val} val), "
                f"stages {'/'.join(map(str, args.resolutions))} px, {args.epochs} epochs each, batch {args.batch}, the shipped synthetic stage files "
                f"(AdamW, lr ({' / '.join(f'{lr * args.lr_scale:g}' for lr in STAGE_LR)}), cosine, MSE + PLCC loss), from scratch (no ImageNet weights offline), seed {base['manual_seed']}; "
                "stage 1 SCUT + Gaussian blur, stage 2 CelebA-HQ-like + Gaussian noise, stage 3 AAF + JPEG; labels 1 - severity.")
    md = to_markdown(summary, settings)
    write_text(args.out / "anti_forgetting.csv", summary.to_csv(index=False, float_format="%.6f"))
    write_text(args.out / "anti_forgetting.md", md)
    if args.report:
        write_text(args.report, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
