"""Where within-photo order fails: the pristine end of a ladder or its degraded levels.

Usage::

    python -m research.eval.ladder_failures --pool runs/mspt_face_v13/pools/levels_clean_common.npz \
        --model mspt_face_v11 --model v13=runs/mspt_face_v13/stage3_best.pth \
        [--scores teacher=runs/mspt_face_v13/stage3_ladder_teacher.npy] \
        [--kinds saturation colour_cast] [--max-photos 300] --out research/reports/ladder_failures

The issue-6 order figure of a kind is a mean of per-ladder SRCCs, which does not say *how* a
ladder fails. For every (photo, kind) ladder of a pool (a release runner's levels pool, or a
training ladder pool ``<stage>_ladders.npz``: pristine + the kind's versions of one photo; no-op
ladders left out) this counts, per model and kind:

* ``first_step_fail``: the mildest version scored at or above the pristine photo;
* ``pristine_not_top``: any version scored at or above the pristine photo, and
  ``levels_above_mean``: how many on average;
* ``inner_swap``: the degraded versions out of severity order among themselves;
* ``excess_median``: over the ladders whose pristine photo is not on top, the median of
  (best degraded score - pristine score): how far the model is from getting them right.

Saturation ladders are also split by direction (``saturation:desat`` / ``saturation:oversat``:
the strongest version's chroma below or above the pristine photo's), because a mild boost of
saturation may look *better* to a no-reference model. ``--scores NAME=FILE.npy`` adds
precomputed scores aligned with the pool's rows (e.g. the teacher's cached ladder scores).
Writes ``<out>.md`` and ``<out>.csv`` atomically.
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mspt_pyiqa.bench.cache import atomic_write_text
from mspt_pyiqa.corpus.typical import chroma
from research.release.evaluate import ladders, load_net, model_spec_error, predict
from research.release.pools import Pool

COLUMNS = ["model", "kind", "ladders", "first_step_fail", "pristine_not_top", "levels_above_mean",
           "inner_swap", "excess_median"]


def ladder_key(pool: Pool, kind: str, pristine: int, rows: np.ndarray) -> str:
    """Table key of a ladder: its kind, and for saturation its direction; ``rows`` sorted by severity."""
    if kind != "saturation":
        return kind
    return "saturation:" + ("oversat" if chroma(pool.images[rows[-1]]) > chroma(pool.images[pristine]) else "desat")


def failure_rows(pred: np.ndarray, pool: Pool, model: str, kinds: Optional[Sequence[str]] = None) -> List[Dict[str, object]]:
    """One row per kind (and saturation direction) of ``pool`` with the counts of the module doc.

    ``pred``: ``(N,)`` scores of every row of ``pool``, higher = better (rows of kinds not in
    ``kinds`` may hold anything). Fractions are over the kind's ladders with a pristine row.
    """
    acc: Dict[str, Dict[str, list]] = {}
    for p, kind, rows, noop in ladders(pool):
        if noop or p < 0 or (kinds is not None and kind not in kinds):
            continue
        rows = rows[np.argsort(pool.severities[rows], kind="stable")]
        s, sp = pred[rows], pred[p]
        above = s >= sp
        for key in {kind, ladder_key(pool, kind, p, rows)}:
            a = acc.setdefault(key, {"first": [], "any": [], "n_above": [], "swap": [], "excess": []})
            a["first"].append(bool(above[0]))
            a["any"].append(bool(above.any()))
            a["n_above"].append(int(above.sum()))
            a["swap"].append(bool((np.diff(s) >= 0).any()))
            if above.any():
                a["excess"].append(float(s.max() - sp))
    out = []
    for key in sorted(acc):
        a = acc[key]
        out.append({"model": model, "kind": key, "ladders": len(a["first"]),
                    "first_step_fail": round(float(np.mean(a["first"])), 4),
                    "pristine_not_top": round(float(np.mean(a["any"])), 4),
                    "levels_above_mean": round(float(np.mean(a["n_above"])), 3),
                    "inner_swap": round(float(np.mean(a["swap"])), 4),
                    "excess_median": round(float(np.median(a["excess"])), 4) if a["excess"] else 0.0})
    return out


def subset_index(pool: Pool, kinds: Optional[Sequence[str]], max_photos: Optional[int]) -> np.ndarray:
    """Rows of the first ``max_photos`` photos (by id) that are pristine or of ``kinds`` (None = all)."""
    keep = np.ones(len(pool), bool)
    if max_photos is not None:
        keep &= np.isin(pool.source_ids, np.unique(pool.source_ids)[:max_photos])
    if kinds is not None:
        keep &= np.isin(pool.kinds, ["pristine", *kinds])
    return np.flatnonzero(keep)


def markdown(rows: List[Dict[str, object]], command: str, pool_path: Path, n_rows: int) -> str:
    lines = ["# Within-photo order failures by position", "", f"Command: `{command}`", "",
             f"Pool `{pool_path}` ({n_rows} images scored). Fractions are over each kind's ladders "
             "(no-op ladders left out); see the script's docstring for the columns.", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, required=True, help="a levels or ladder pool (.npz) of the release runner")
    parser.add_argument("--model", action="append", default=[], metavar="NAME[=CHECKPOINT]")
    parser.add_argument("--scores", action="append", default=[], metavar="NAME=FILE.npy",
                        help="precomputed scores of every row of --pool (repeatable)")
    parser.add_argument("--kinds", nargs="+", default=None, help="only these kinds (default: all)")
    parser.add_argument("--max-photos", type=int, default=None, help="only the first N photos by id")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("research/reports/ladder_failures"))
    args = parser.parse_args(argv)
    if not args.model and not args.scores:
        parser.error("give at least one --model or --scores")
    if not args.pool.is_file():
        parser.error(f"--pool {args.pool}: no such file")
    for spec in args.model:
        error = model_spec_error(spec)
        if error:
            parser.error(error)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    full = Pool.load(args.pool)
    if args.kinds is not None:
        unknown = set(args.kinds) - set(full.kinds.tolist())
        if unknown:
            parser.error(f"--kinds {sorted(unknown)} not in {args.pool} (has {sorted(set(full.kinds.tolist()))})")
    index = subset_index(full, args.kinds, args.max_photos)
    pool = full.subset(index)
    preds: Dict[str, np.ndarray] = {}
    for spec in args.scores:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"--scores {spec!r}: give NAME=existing .npy file")
        try:
            scores = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:  # truncated or not an .npy file
            parser.error(f"--scores {path}: cannot be read as a .npy array ({type(err).__name__}: {err})")
        if scores.shape != (len(full),):
            parser.error(f"--scores {path}: {scores.shape[0] if scores.ndim else 0} scores for a pool of {len(full)} rows")
        preds[name] = scores[index]
    for spec in args.model:
        preds[spec.partition("=")[0]] = predict(load_net(spec), pool)
    rows = [r for name, pred in preds.items() for r in failure_rows(pred, pool, name, args.kinds)]
    command = (f"python -m research.eval.ladder_failures --pool {args.pool}" + "".join(f" --model {m}" for m in args.model)
               + "".join(f" --scores {s}" for s in args.scores)
               + (" --kinds " + " ".join(args.kinds) if args.kinds else "")
               + (f" --max-photos {args.max_photos}" if args.max_photos is not None else "") + f" --out {args.out}")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(args.out.with_suffix(".csv"), buf.getvalue())
    text = markdown(rows, command, args.pool, len(pool))
    atomic_write_text(args.out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
