"""Paired comparison of release checkpoints on the release runner's held-out test pool.

Usage::

    python -m research.eval.release_compare --config research/release/configs/mspt_face_v5.yml \
        --cache runs/release_compare --model mspt_face_v5 \
        --model mspt_face_v7=runs/mspt_face_v7/stage3_best.pth --out research/reports/release_compare

Candidate recipes are judged on one run each, and a test SRCC of 0.887 vs 0.892 says nothing
by itself: the 880 test images come from 440 photos. Every model is scored on the same pool,
and the *differences* to the first ``--model`` (the baseline) get a paired bootstrap CI that
resamples test **photos** (both images of a photo together, so the CI reflects the photos
actually held out). A ``--model`` is a catalog release name or ``NAME=CHECKPOINT`` (an
unreleased run's ``stage3_best.pth``). This measures the test-pool sampling error only, not
training noise (a second seed of the same recipe). Writes ``<out>.md`` and ``<out>.csv``.

``--levels POOL`` (repeatable; ``levels``, ``levels_mixed``, ``levels_clean`` or their
``_common`` twins, as in the release report) adds the within-photo order figures of issue 6 on
that levels pool, with the same paired photo bootstrap: the worst kind's order, pristine above
degraded and every kind's order, each with its difference to the baseline (``<out>_order.csv``
and a section of ``<out>.md``). ``--cache`` may point at a release run's ``pools`` folder: the
pools are rebuilt from the config's seeds only where missing.
"""
from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from research.release.evaluate import correlations, ladder_rows, load_net, model_spec_error, predict
from research.release.pools import Pool
from research.release.run import LEVELS_POOLS, build_test_pool, harness_setup, levels_pools_named

FIGURES = ("srcc", "plcc")
#: Levels pools of the release runner (``release/run.py``) and their common-draw twins.
LEVELS = tuple(name + suffix for suffix in ("", "_common") for name in LEVELS_POOLS)


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


def _order_arrays(rows: List[Dict[str, object]], photos: List[str], kinds: List[str]
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ladder records -> order ``(P, K)`` (nan where a photo lacks a kind), wins and pairs ``(P,)``."""
    p_of, k_of = {p: i for i, p in enumerate(photos)}, {k: j for j, k in enumerate(kinds)}
    order = np.full((len(photos), len(kinds)), np.nan)
    wins, pairs = np.zeros(len(photos)), np.zeros(len(photos))
    for r in rows:
        i = p_of[str(r["photo"])]
        order[i, k_of[str(r["kind"])]] = float(r["order"])
        wins[i] += int(r["wins"])
        pairs[i] += int(r["pairs"])
    return order, wins, pairs


def _order_figures(order: np.ndarray, wins: np.ndarray, pairs: np.ndarray, kinds: List[str]) -> Dict[str, float]:
    with warnings.catch_warnings():  # a resample may miss every photo of a rare kind: nan, not an error
        warnings.simplefilter("ignore", category=RuntimeWarning)
        per_kind = np.nanmean(order, axis=0)
        out = {"order_min": float(np.nanmin(per_kind)),
               "pristine_above": float(wins.sum() / pairs.sum()) if pairs.sum() else float("nan")}
    out.update({f"order:{k}": float(v) for k, v in zip(kinds, per_kind)})
    return out


def order_bootstrap(preds: Dict[str, np.ndarray], pool: Pool, n_boot: int = 2000, seed: int = 0
                    ) -> List[Dict[str, object]]:
    """Within-photo order figures per model on a levels pool, with photo-bootstrap CIs.

    One row per (model, figure): ``order_min`` (the worst kind's mean order), ``pristine_above``
    and ``order:<kind>``, each with its 95% CI, the paired difference to the first model with
    its CI, and ``p_better`` (fraction of resamples in which the model is ahead). The full-pool
    values equal ``evaluate.order_figures`` (no-op ladders left out). Deterministic per ``seed``.
    """
    names = list(preds)
    tables = {n: ladder_rows(preds[n], pool)[0] for n in names}
    photos = sorted({str(r["photo"]) for r in tables[names[0]]})
    kinds = sorted({str(r["kind"]) for r in tables[names[0]]})
    arrays = {n: _order_arrays(tables[n], photos, kinds) for n in names}
    full = {n: _order_figures(*arrays[n], kinds) for n in names}
    rng = np.random.default_rng(seed)
    figs = list(full[names[0]])
    boot = {n: {f: np.empty(n_boot) for f in figs} for n in names}
    for b in range(n_boot):
        idx = rng.integers(0, len(photos), len(photos))
        for n in names:
            o, w, p = arrays[n]
            for f, v in _order_figures(o[idx], w[idx], p[idx], kinds).items():
                boot[n][f][b] = v
    rows: List[Dict[str, object]] = []
    for n in names:
        for f in figs:
            lo, hi = np.nanpercentile(boot[n][f], [2.5, 97.5])
            diff = boot[n][f] - boot[names[0]][f]
            dlo, dhi = np.nanpercentile(diff, [2.5, 97.5])
            rows.append({"model": n, "figure": f, "value": round(full[n][f], 4), "ci": f"[{lo:.4f}, {hi:.4f}]",
                         "diff": round(full[n][f] - full[names[0]][f], 4), "diff_ci": f"[{dlo:+.4f}, {dhi:+.4f}]",
                         "p_better": round(float((diff > 0).mean()), 3) if n != names[0] else "",
                         "photos": len(photos)})
    return rows


def order_markdown(rows: List[Dict[str, object]], pool_name: str) -> str:
    """A figures x models table: the baseline's value, then each model's value (diff [95% CI])."""
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    cell = {(r["model"], r["figure"]): r for r in rows}
    base = models[0]
    kinds = sorted((str(r["figure"]) for r in rows if r["model"] == base and str(r["figure"]).startswith("order:")),
                   key=lambda f: cell[(base, f)]["value"])  # the baseline's weakest kinds first
    lines = [f"### Within-photo order on `{pool_name}` ({rows[0]['photos']} photos)", "",
             "| figure | " + " | ".join(models) + " |", "|" + "---|" * (len(models) + 1)]
    for f in ["order_min", "pristine_above"] + kinds:
        vals = [f"{cell[(base, f)]['value']:.3f}"] + [
            f"{cell[(m, f)]['value']:.3f} ({cell[(m, f)]['diff']:+.3f} {cell[(m, f)]['diff_ci']})" for m in models[1:]]
        lines.append(f"| {f} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--config", type=Path, default=Path("research/release/configs/mspt_face_v5.yml"))
    parser.add_argument("--cache", type=Path, default=Path("runs/release_compare"))
    parser.add_argument("--model", action="append", default=[], metavar="NAME[=CHECKPOINT]",
                        help="a catalog release or NAME=CHECKPOINT; the first is the baseline (repeatable)")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("research/reports/release_compare"))
    parser.add_argument("--levels", action="append", default=[], choices=LEVELS,
                        help="also compare within-photo order on this levels pool (repeatable)")
    args = parser.parse_args(argv)
    if len(args.model) < 2:
        parser.error("give at least two --model (the first is the baseline)")
    for spec in args.model:
        error = model_spec_error(spec)
        if error:
            parser.error(error)
    cfg, _, test_src = harness_setup(args.config)
    pool = build_test_pool(cfg, test_src, args.cache)
    nets = {spec.partition("=")[0]: load_net(spec) for spec in args.model}
    preds = {n: predict(net, pool) for n, net in nets.items()}
    rows = paired_bootstrap(preds, pool.labels, pool.source_ids, args.n_boot)
    order_text, order_rows = [], []
    if args.levels:
        levels = levels_pools_named(cfg, test_src, args.cache, args.levels)
        for name in args.levels:
            if name not in levels:
                parser.error(f"--levels {name}: the config {args.config} builds no such pool (no test photos "
                             "of its source sets; see levels_per_set / levels_clean)")
            got = order_bootstrap({n: predict(net, levels[name]) for n, net in nets.items()}, levels[name], args.n_boot)
            order_rows += [{"pool": name, **r} for r in got]
            order_text.append(order_markdown(got, name))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(args.out.with_suffix(".csv"))
    if order_rows:
        tmp = args.out.with_name(args.out.name + "_order.csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(order_rows[0]))
            w.writeheader()
            w.writerows(order_rows)
        tmp.replace(args.out.with_name(args.out.name + "_order.csv"))
    command = "python -m research.eval.release_compare --config " + str(args.config) + "".join(
        f" --model {m}" for m in args.model) + "".join(f" --levels {p}" for p in args.levels) + f" --out {args.out}"
    text = markdown(rows, command, args.n_boot)
    if order_text:
        text += ("\n## Within-photo order (issue 6 bars: >= 0.95 for every kind, pristine above >= 0.95)\n\n"
                 "Per (photo, kind) ladder the order is -SRCC(score, severity) over the pristine photo and its "
                 "levels; a kind's figure is its mean over photos. Cells: value (difference to the baseline "
                 f"[95% CI from {args.n_boot} resamples of the photos]).\n\n" + "\n".join(order_text))
    tmp = args.out.with_suffix(".md.tmp")  # like the CSV: a reader never sees half a report
    tmp.write_text(text)
    tmp.replace(args.out.with_suffix(".md"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
