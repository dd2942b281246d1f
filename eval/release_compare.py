"""Paired comparison of release checkpoints on the release runner's held-out test pool.

Usage::

    python eval/release_compare.py --config mspt_pyiqa/release/configs/mspt_face_v5.yml \
        --cache runs/release_compare --model mspt_face_v5 \
        --model mspt_face_v7=runs/mspt_face_v7/stage3_best.pth --out eval/reports/release_compare

Candidate recipes are judged on one run each, and a test SRCC of 0.887 vs 0.892 says nothing
by itself: the 880 test images come from 440 photos. Every model is scored on the same pool,
and the *differences* to the first ``--model`` (the baseline) get a paired bootstrap CI that
resamples test **photos** (both images of a photo together, so the CI reflects the photos
actually held out). A ``--model`` is a catalog release name or ``NAME=CHECKPOINT`` (an
unreleased run's ``stage3_best.pth``). This measures the test-pool sampling error only, not
training noise (a second seed of the same recipe). Writes ``<out>.md`` and ``<out>.csv``.
"""
from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import yaml

from mspt_pyiqa.archs import MSPTNet
from mspt_pyiqa.release.evaluate import correlations, predict
from mspt_pyiqa.release.run import build_test_pool, split_sources
from mspt_pyiqa.weights import load_catalog, load_mspt_weights, read_checkpoint

FIGURES = ("srcc", "plcc")


def paired_bootstrap(preds: Dict[str, np.ndarray], labels: np.ndarray, groups: Sequence[str],
                     n_boot: int = 2000, seed: int = 0) -> List[Dict[str, object]]:
    """One row per model: SRCC/PLCC with 95% CIs and, against the first model, the paired
    difference with its 95% CI and the fraction of resamples in which it is positive.

    ``preds``: model name -> ``(N,)`` scores of the same images (first = baseline);
    ``labels``: ``(N,)`` pseudo-MOS; ``groups``: ``(N,)`` source photo of each image, the unit
    resampled (with replacement). Deterministic for a given ``seed``.
    """
    names = list(preds)
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    boot = {n: {f: np.empty(n_boot) for f in FIGURES} for n in names}
    for b in range(n_boot):
        idx = np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])
        for n in names:
            fig = correlations(preds[n][idx], labels[idx])
            for f in FIGURES:
                boot[n][f][b] = fig[f]
    full = {n: correlations(preds[n], labels) for n in names}
    base = names[0]
    rows: List[Dict[str, object]] = []
    for n in names:
        row: Dict[str, object] = {"model": n, "images": len(labels), "photos": len(uniq)}
        for f in FIGURES:
            lo, hi = np.percentile(boot[n][f], [2.5, 97.5])
            row[f] = round(full[n][f], 4)
            row[f"{f}_ci"] = f"[{lo:.4f}, {hi:.4f}]"
            diff = boot[n][f] - boot[base][f]
            dlo, dhi = np.percentile(diff, [2.5, 97.5])
            row[f"{f}_diff"] = round(full[n][f] - full[base][f], 4)
            row[f"{f}_diff_ci"] = f"[{dlo:+.4f}, {dhi:+.4f}]"
            row[f"{f}_p_better"] = round(float((diff > 0).mean()), 3) if n != base else ""
        rows.append(row)
    return rows


def load_net(spec: str) -> MSPTNet:
    """A catalog release by name, or ``NAME=CHECKPOINT``."""
    name, sep, path = spec.partition("=")
    net = MSPTNet(pretrained=False, test_img_size=None)
    if sep:
        net.load_state_dict(read_checkpoint(Path(path)))
    else:
        load_mspt_weights(net, weights_name=name)
    return net.eval()


def markdown(rows: List[Dict[str, object]], command: str, n_boot: int) -> str:
    cols = ["model", "srcc", "srcc_ci", "srcc_diff", "srcc_diff_ci", "srcc_p_better",
            "plcc", "plcc_ci", "plcc_diff", "plcc_diff_ci", "plcc_p_better"]
    lines = ["# Paired comparison on the release test pool", "", f"Command: `{command}`", "",
             f"{rows[0]['images']} test images of {rows[0]['photos']} held-out photos; 95% CIs from {n_boot} "
             f"resamples of the photos; `diff` = model - `{rows[0]['model']}` on the same resample; "
             "`p_better` = fraction of resamples in which the model is ahead. Test-pool sampling error "
             "only: a second training seed of the same recipe can move the figures further.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("mspt_pyiqa/release/configs/mspt_face_v5.yml"))
    parser.add_argument("--cache", type=Path, default=Path("runs/release_compare"))
    parser.add_argument("--model", action="append", default=[], metavar="NAME[=CHECKPOINT]",
                        help="a catalog release or NAME=CHECKPOINT; the first is the baseline (repeatable)")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("eval/reports/release_compare"))
    args = parser.parse_args(argv)
    if len(args.model) < 2:
        parser.error("give at least two --model (the first is the baseline)")
    releases = load_catalog()
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if (sep and not Path(path).is_file()) or (not sep and name not in releases):
            parser.error(f"--model {spec!r}: neither a catalog release ({', '.join(releases)}) nor NAME=existing file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(args.config.read_text())
    torch.set_num_threads(int(cfg.get("threads", 2)))
    sources, splits = split_sources(cfg)
    pool = build_test_pool(cfg, [s for s in sources if splits[s.source_id] == "test"], args.cache)
    preds = {spec.partition("=")[0]: predict(load_net(spec), pool) for spec in args.model}
    rows = paired_bootstrap(preds, pool.labels, pool.source_ids, args.n_boot)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(args.out.with_suffix(".csv"))
    command = "python eval/release_compare.py --config " + str(args.config) + "".join(
        f" --model {m}" for m in args.model) + f" --out {args.out}"
    text = markdown(rows, command, args.n_boot)
    tmp = args.out.with_suffix(".md.tmp")  # like the CSV: a reader never sees half a report
    tmp.write_text(text)
    tmp.replace(args.out.with_suffix(".md"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
