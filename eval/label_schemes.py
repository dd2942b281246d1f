"""Compare label schemes for the synthetic face corpus, by measurement.

Schemes (all: label in [0, 1], higher = better, pristine = 1):
  (a) ``severity``   - severity-derived, per-kind curves q_k(s) = 1 - A_k s^g_k (product for chains)
  (b) ``fr_rank``    - mean of pyiqa FR damages (MS-SSIM, GMSD, NLPD) + colour Delta-E, each
                       rank-normalised over the measured degraded set
      ``fr_logistic``- the same, each logistic-normalised in log-damage (median -> 0.5)
  (c) ``blend``      - 0.5 * (a) + 0.5 * fr_logistic
Criteria:
  * within-type order: per photo and kind, Spearman SRCC between label and -severity over the
    levels, averaged (1 = labels always fall with severity);
  * cross-type calibration: mean label per kind at mild / medium / strong levels; the spread
    (standard deviation across kinds) should be small;
  * agreement with the FR ensemble across the structural kinds (blur, noise, resample),
    where FR metrics are trusted: SRCC over all those images.

This script also fits the shape exponents g_k of the severity curves (scheme a) to the FR
damages' within-kind growth with severity (median over the four damages) and writes them, with the anchors A_k, to
``mspt_pyiqa/corpus/label_curves.yml`` (``--write-curves``).

Run (about 30 min on 1 busy shared core for 12 photos, MS-SSIM dominating; raw measurements
are cached per photo and resumable):
    OMP_NUM_THREADS=1 python eval/label_schemes.py --faces ../shared/data/faces \
        --n-photos 12 --work runs/label_schemes --write-curves
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit
from scipy.stats import spearmanr
from tqdm import tqdm

from mspt_pyiqa.corpus.labels import CURVES_FILE, SeverityLabeler, load_curves, write_curves
from mspt_pyiqa.corpus.sources import SourceImageError, list_sources, load_rgb, resize_short, stable_hash
from mspt_pyiqa.degrade import KINDS, apply_with_parts

log = logging.getLogger("label_schemes")
REPO = Path(__file__).resolve().parents[1]
DAMAGES = ("ms_ssim", "gmsd", "nlpd", "delta_e")
STRUCTURAL = ("gaussian_blur", "motion_blur", "defocus_blur", "gaussian_noise", "poisson_noise", "resample")
# Severity at 1 (A_k) of each kind: the parameter ranges were chosen so that severity 1 is
# "very strong" for every kind (facial detail or tone destroyed); A_k = 0.9 leaves room for
# chains to go lower. Kinds that keep the face's detail intact at severity 1 get less:
# contrast at 15% (0.75), saturation to grey or 4x (0.55), a strong colour cast (0.70),
# exposure +3 / -5 EV (0.85). Decided on the contact sheet docs/degradations.png; the FR
# ensemble is not used for A_k because it is miscalibrated across kinds (issue 6).
ANCHORS_A = {
    "gaussian_blur": 0.9, "motion_blur": 0.9, "defocus_blur": 0.9, "gaussian_noise": 0.9,
    "poisson_noise": 0.9, "jpeg": 0.9, "webp": 0.9, "resample": 0.9, "overexposure": 0.85,
    "underexposure": 0.85, "contrast_loss": 0.75, "saturation": 0.55, "colour_cast": 0.70,
}
G_BOUNDS = (0.3, 3.0)  # exponents outside this are fitting artefacts of flat curves
BANDS = {"mild": (0.0, 0.3), "medium": (0.3, 0.6), "strong": (0.6, 1.01)}


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def measure(args: argparse.Namespace) -> pd.DataFrame:
    """Degrade N clean photos at every kind x level and measure FR damages (cached, resumable)."""
    from mspt_pyiqa.corpus.fr_metrics import FRDamage

    raw_path = Path(args.work) / "raw.csv"
    done = pd.read_csv(raw_path) if raw_path.is_file() else pd.DataFrame()
    keys = set(zip(done.get("source_id", []), done.get("kind", []), done.get("level", [])))
    per_set = args.n_photos // 2
    photos = []
    for s in ("scut", "celebahq"):  # the two clean sets; aaf has unknown own quality
        srcs = list_sources(Path(args.faces), [s])
        rng = np.random.default_rng(args.seed)
        photos += [srcs[i] for i in sorted(rng.choice(len(srcs), per_set, replace=False))]
    import torch

    torch.set_num_threads(1)  # 2 shared cores: one process, one thread
    fr = FRDamage()
    rows: List[Dict] = done.to_dict("records") if len(done) else []
    t0 = time.perf_counter()
    for src in tqdm(photos, desc="photos"):
        todo = [(k, li) for k in KINDS for li in range(len(args.levels)) if (src.source_id, k, li + 1) not in keys]
        if not todo:
            continue
        try:
            ref = resize_short(load_rgb(src.path), args.size)
        except SourceImageError as e:
            log.error("skipping: %s", e)
            continue
        for kind, li in todo:
            sev = float(args.levels[li])
            rng = np.random.default_rng(stable_hash(f"{src.source_id}|{kind}|{li}", args.seed))
            dist, parts = apply_with_parts(ref, kind, sev, rng)
            rows.append({"source_id": src.source_id, "source_set": src.source_set, "kind": kind,
                         "level": li + 1, "severity": sev, "parts": json.dumps(parts), **fr(ref, dist)})
        write_csv_atomic(pd.DataFrame(rows), raw_path)  # after every photo: resumable
    if fr.count:
        cost = {k: 1000 * v / fr.count for k, v in fr.timing.items()}
        log.info("ms per image (%d images, %.0f s): %s", fr.count, time.perf_counter() - t0,
                 {k: round(v, 1) for k, v in cost.items()})
        pd.DataFrame([{"measure": k, "ms_per_image": round(v, 2), "images": fr.count} for k, v in cost.items()]
                     ).to_csv(Path(args.out) / "label_schemes_cost.csv", index=False)
    wanted = {p.source_id for p in photos}
    return pd.DataFrame([r for r in rows if r["source_id"] in wanted]).reset_index(drop=True)


def fr_qualities(df: pd.DataFrame) -> pd.DataFrame:
    """Per-metric normalised qualities (rank and logistic) and their means."""
    out = pd.DataFrame(index=df.index)
    for m in DAMAGES:
        d = df[m].astype(float).clip(lower=1e-9)
        out[f"rank_{m}"] = 1.0 - d.rank(pct=True)
        # Logistic in log-damage: median -> 0.5, quartiles -> 0.75 / 0.25; damage 0 -> 1.
        q25, q50, q75 = np.log(d.quantile([0.25, 0.5, 0.75]))
        beta = 2.0 * np.log(3.0) / max(q75 - q25, 1e-6)
        out[f"log_{m}"] = 1.0 / (1.0 + np.exp(beta * (np.log(d) - q50)))
    out["fr_rank"] = out[[f"rank_{m}" for m in DAMAGES]].mean(axis=1)
    out["fr_logistic"] = out[[f"log_{m}" for m in DAMAGES]].mean(axis=1)
    return out


def fit_curves(df: pd.DataFrame) -> Dict[str, List[float]]:
    """Fit g_k per single kind: each FR damage's mean curve D_m(s) ~ D_m(1) * s^g, median over m.

    Raw damages (not the cross-kind normalised ones) are used so that the shape does not
    depend on where the other kinds put the normalisation's median.
    """
    curves: Dict[str, List[float]] = {}
    for kind, g in df[df.kind != "chain"].groupby("kind"):
        gammas = []
        for m in DAMAGES:
            mean = g.groupby("severity")[m].mean()
            s = np.array([0.0] + list(mean.index))
            rel = np.array([0.0] + list(mean.values)) / max(float(mean.values[-1]), 1e-12)
            (gamma,), _ = curve_fit(lambda x, gg: x**gg, s, rel, p0=[1.0], bounds=G_BOUNDS)
            gammas.append(float(gamma))
        curves[kind] = [ANCHORS_A[kind], round(float(np.median(gammas)), 3)]
    return curves


def evaluate(df: pd.DataFrame, schemes: List[str]) -> pd.DataFrame:
    """Per scheme and kind: within-photo SRCC vs severity and mean label per band."""
    rows = []
    for scheme in schemes:
        for kind, g in df.groupby("kind"):
            srcc = [spearmanr(p[scheme], -p["severity"])[0] for _, p in g.groupby("source_id")]
            row = {"scheme": scheme, "kind": kind, "srcc": float(np.nanmean(srcc))}
            for band, (lo, hi) in BANDS.items():
                row[band] = float(g[(g.severity > lo) & (g.severity <= hi)][scheme].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def summarise(per_kind: pd.DataFrame, df: pd.DataFrame, schemes: List[str]) -> pd.DataFrame:
    struct = df[df.kind.isin(STRUCTURAL)]
    rows = []
    for s in schemes:
        pk = per_kind[per_kind.scheme == s]
        rows.append({
            "scheme": s,
            "within_type_srcc": pk.srcc.mean(),
            "min_type_srcc": pk.srcc.min(),
            **{f"spread_{b}": pk[b].std() for b in BANDS},
            **{f"range_{b}": pk[b].max() - pk[b].min() for b in BANDS},
            "srcc_vs_fr_structural": spearmanr(struct[s], struct["fr_logistic"])[0],
        })
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", default=str(REPO / ".." / "shared" / "data" / "faces"))
    ap.add_argument("--n-photos", type=int, default=12, help="half scut, half celebahq")
    ap.add_argument("--size", type=int, default=224, help="short side of the measured images")
    ap.add_argument("--levels", type=float, nargs="+", default=[0.1, 0.25, 0.45, 0.7, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(REPO / "runs" / "label_schemes"), help="raw measurement cache (not committed)")
    ap.add_argument("--out", default=str(REPO / "eval" / "reports"))
    ap.add_argument("--write-curves", action="store_true", help=f"write fitted curves to {CURVES_FILE}")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Path(args.out).mkdir(parents=True, exist_ok=True)

    df = measure(args)
    df = pd.concat([df, fr_qualities(df)], axis=1)
    curves = fit_curves(df)
    if args.write_curves:
        write_curves(curves, source=f"eval/label_schemes.py --n-photos {args.n_photos} --size {args.size} --seed {args.seed}")
    labeler = SeverityLabeler(curves if args.write_curves else load_curves())
    df["severity_label"] = [labeler([tuple(p) for p in json.loads(s)]) for s in df["parts"]]
    df["blend"] = 0.5 * df["severity_label"] + 0.5 * df["fr_logistic"]
    schemes = ["severity_label", "fr_rank", "fr_logistic", "blend"]
    per_kind = evaluate(df, schemes)
    summary = summarise(per_kind, df, schemes)
    per_kind.round(4).to_csv(Path(args.out) / "label_schemes_per_kind.csv", index=False)
    summary.round(4).to_csv(Path(args.out) / "label_schemes.csv", index=False)
    curves_df = pd.DataFrame([{"kind": k, "A": a, "g": g} for k, (a, g) in curves.items()])
    write_report(summary, per_kind, curves_df, df, args)
    print(summary.round(3).to_string(index=False))
    return 0


def write_report(summary: pd.DataFrame, per_kind: pd.DataFrame, curves: pd.DataFrame, df: pd.DataFrame,
                 args: argparse.Namespace) -> None:
    cost_path = Path(args.out) / "label_schemes_cost.csv"
    cost = pd.read_csv(cost_path).to_markdown(index=False) if cost_path.is_file() else "(not measured)"
    wide = per_kind.pivot(index="kind", columns="scheme", values=["srcc", "mild", "medium", "strong"]).round(3)
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    text = f"""# Label schemes for the synthetic face corpus (measured)

Produced by `eval/label_schemes.py --n-photos {args.n_photos} --size {args.size} --seed {args.seed}`:
{df.source_id.nunique()} clean photos (half SCUT, half CelebA-HQ) x {df.kind.nunique()} kinds x
{df.level.nunique()} severity levels {args.levels} = {len(df)} degraded images at {args.size} px.

Schemes: `severity_label` (a), `fr_rank` / `fr_logistic` (b: MS-SSIM, GMSD, NLPD and colour
Delta-E damages, rank- or logistic-normalised, averaged), `blend` (c: 0.5 a + 0.5 fr_logistic).

Columns: `within_type_srcc` mean over kinds of the mean per-photo SRCC between label and
-severity (1 = perfect order); `spread_*` standard deviation across kinds of the mean label in
the mild (s <= 0.3), medium (0.3 < s <= 0.6) and strong (s > 0.6) band (lower = better
calibrated across kinds), `range_*` max - min of those means; `srcc_vs_fr_structural` SRCC with
the FR ensemble over the structural kinds (blur, noise, resample), where FR metrics are trusted.

## Summary

{summary.round(3).to_markdown(index=False)}

## Per kind

{wide.to_markdown()}

## Severity curves q_k(s) = 1 - A_k s^g_k (g_k: median over the 4 FR damages of the fitted growth exponent within each kind)

{curves.to_markdown(index=False)}

## Cost of the FR measurements (ms per image, 1 thread, shared machine)

{cost}
"""
    (Path(args.out) / "label_schemes.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
