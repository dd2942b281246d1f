"""Measure the corpus builder's runtime per stage and extrapolate to the full photo pool.

Builds each default stage on ``--limit`` photos per source set into a temporary folder,
with 1 and 2 worker processes, and writes ``eval/reports/corpus_runtime.{csv,md}``.
Note: the machine's 2 cores are shared, so these are upper bounds for an idle machine.

    OMP_NUM_THREADS=1 python eval/corpus_runtime.py --faces ../shared/data/faces --limit 10
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mspt_pyiqa.corpus.builder import build_stage
from mspt_pyiqa.corpus.config import load_default_stages
from mspt_pyiqa.corpus.sources import list_sources

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=REPO / ".." / "shared" / "data" / "faces")
    ap.add_argument("--limit", type=int, default=10, help="photos per source set")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=REPO / "eval" / "reports")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for cfg in load_default_stages():
        n_pool = len(list_sources(args.faces, cfg["sources"]))
        for w in args.workers:
            tmp = Path(tempfile.mkdtemp(prefix="mspt_corpus_rt_"))
            try:
                t0 = time.perf_counter()
                res = build_stage(args.faces, tmp, cfg, seed=0, limit=args.limit, progress=False, workers=w)
                dt = time.perf_counter() - t0
                photos = res.rows // int(cfg["samples_per_source"])
                mb = sum(p.stat().st_size for p in tmp.rglob("*.png")) / 1e6
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            rows.append({
                "stage": cfg["name"], "resolution": cfg["resolution"], "workers": w, "photos": photos,
                "images": res.rows, "seconds": round(dt, 1), "s_per_photo": round(dt / photos, 3),
                "pool_photos": n_pool, "full_stage_min": round(dt / photos * n_pool / 60, 1),
                "full_stage_gb": round(mb / photos * n_pool / 1e3, 2),
            })
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "corpus_runtime.csv", index=False)
    (args.out / "corpus_runtime.md").write_text(
        "# Corpus builder runtime (measured)\n\n"
        f"`eval/corpus_runtime.py --limit {args.limit}`: each default stage built on {args.limit} photos per "
        "source set (samples_per_source per config, PNG output), timed with 1 and 2 worker processes on the "
        "2-core machine while other jobs were running; `full_stage_min` / `full_stage_gb` extrapolate to "
        "all photos of the stage's source sets.\n\n" + df.to_markdown(index=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
