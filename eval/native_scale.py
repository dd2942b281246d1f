"""The native-scale yardstick: held-out face photos degraded at their own resolution, scored by file.

Usage (the committed report: see its "Made by" line; resumable)::

    OMP_NUM_THREADS=1 python eval/native_scale.py --photos 100 --realworld-photos 100 \
        --reference-out weights/mspt_face_v11_reference.json

    python eval/native_scale.py --photos 10 --out runs/native_scale_quick/native_scale   # smoke run

Photos: the corpus's held-out test photos (split by source photo, seed 0, as every release)
of the clean sets (SCUT-FBP5500, CelebA-HQ), balanced across sets. Two arms: ``native`` (each
photo at its own resolution) and ``realworld`` (each photo first resized, area / Lanczos, to a
short side drawn per photo from 256-1024 px). Six types x four levels
(:data:`mspt_pyiqa.bench.native.YARDSTICK_LEVELS`) are saved as the files a user would have
(JPEG levels as .jpg files at that quality, the others as lossless PNG) and scored through the
public path: ``pyiqa.create_metric('mspt_face', test_img_size=S)`` on the file for each
``--sizes`` S, with pyiqa's NIQE and BRISQUE in the same run. Figures and bars:
:mod:`mspt_pyiqa.bench.native_figures`. Writes ``<out>.md``, ``<out>.csv`` and ``<out>.json``.

Next to the per-image ``scores.csv`` it also writes ``leaderboard.csv``, the same images as a
leaderboard dataset (:func:`mspt_pyiqa.bench.native_run.write_leaderboard_csv`; label
``1 - level/5``, references = each photo's clean file), for ``eval/leaderboard.py``;
``--leaderboard-csv-only`` writes the files and that CSV, prints its path and stops.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mspt_pyiqa.bench import native, native_figures, native_run  # noqa: E402
from mspt_pyiqa.bench.native_report import render_markdown  # noqa: E402
from mspt_pyiqa.utils.io import atomic_write, atomic_write_json, atomic_write_text  # noqa: E402

log = logging.getLogger("native_scale")
CLASSIC = ("niqe", "brisque")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces", help="face photo folder (manifest.csv)")
    p.add_argument("--photos", type=int, default=100, help="held-out test photos (default 100)")
    p.add_argument("--realworld-photos", type=int, default=None,
                   help="photos in the real-world arm: the first N of the same choice (default: --photos)")
    p.add_argument("--sets", nargs="+", default=list(native_run.DEFAULT_SETS), help="source sets (default: the clean sets)")
    p.add_argument("--arms", nargs="+", default=list(native_run.ARMS), choices=native_run.ARMS)
    p.add_argument("--sizes", nargs="+", type=parse_size, default=[(224, None), (336, None), (448, None)],
                   metavar="S[+D]",
                   help="mspt_face test sizes to report: S (the weights' own detail view, or --detail-size) "
                        "or S+D (a detail view of D px; S+0: none), e.g. 320+320 224+224 448+0")
    p.add_argument("--weights", type=Path, default=None, help="score this mspt_face checkpoint instead of the default release")
    p.add_argument("--detail-size", type=int, default=None,
                   help="side (px) of the detail view, the centre square at the photo's own resolution scored beside the "
                        "resized photo, for sizes given without +D (default: what the weights carry; 0: none)")
    p.add_argument("--no-classic", action="store_true", help="skip NIQE and BRISQUE (bars against NIQE are then not judged)")
    p.add_argument("--seed", type=int, default=0, help="photo choice, short sides, noise fields, bootstrap")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap draws over photos (0: no intervals)")
    p.add_argument("--cache", type=Path, default=REPO / "runs" / "native_scale", help="degraded files and per-image scores")
    p.add_argument("--out", type=Path, default=REPO / "eval" / "reports" / "native_scale", help="report path without extension")
    p.add_argument("--reference-out", type=Path, default=None,
                   help="also write the release's reference file (e.g. weights/mspt_face_v11_reference.json)")
    p.add_argument("--leaderboard-csv-only", action="store_true",
                   help="write the degraded files and the leaderboard dataset CSV (<cache>/levels-<hash>/leaderboard.csv), "
                        "print its path and stop: no scoring, no report")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: OMP_NUM_THREADS or 1)")
    return p.parse_args(argv)


def level_key(levels: Dict[str, tuple], seed: int) -> str:
    """Short hash of the level table and seed: the cache folder changes when either does."""
    blob = json.dumps({"levels": levels, "seed": seed, "ref": native.REF_SHORT, "range": native.USER_SHORT_RANGE}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def parse_size(text: str) -> Tuple[int, Optional[int]]:
    """``"320"`` -> ``(320, None)``; ``"320+320"`` -> ``(320, 320)``; ``"448+0"`` -> ``(448, 0)``."""
    try:
        parts = [int(p) for p in str(text).split("+")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a size is S or S+D in pixels, e.g. 336 or 320+320") from None
    if len(parts) > 2 or parts[0] < 16 or (len(parts) == 2 and parts[1] != 0 and parts[1] < 16):
        raise argparse.ArgumentTypeError(f"{text!r}: a size is S or S+D with S, D >= 16 px (D = 0: no detail view)")
    return parts[0], (parts[1] if len(parts) == 2 else None)


def build_metrics(sizes: Sequence[Union[int, Tuple[int, Optional[int]]]], weights: Optional[Path], classic: bool,
                  detail_size: Optional[int] = None) -> Dict[str, dict]:
    """``{column: {fn, lower_better, label, source}}``: mspt_face at each size, then NIQE and BRISQUE.

    ``sizes``: test sizes ``S`` or ``(S, D)`` pairs (``D``: detail view side, 0 = none, ``None`` =
    ``detail_size``). ``detail_size``: ``None`` = what the weights carry, 0 = no detail view.
    A metric with a detail view is named ``<release>@<size>+<detail>``.
    """
    import mspt_pyiqa  # noqa: F401  (registers mspt_face)
    import pyiqa
    from mspt_pyiqa.bench.loading import load_metric
    from mspt_pyiqa.weights import default_entry_name

    release = weights.stem if weights else (default_entry_name() or "mspt_face")
    out: Dict[str, dict] = {}
    for item in sizes:
        s, d_asked = item if isinstance(item, tuple) else (int(item), None)
        d_asked = detail_size if d_asked is None else d_asked
        kw: Dict[str, object] = {"pretrained_model_path": str(weights)} if weights else {}
        if d_asked is not None:
            kw["detail_size"] = int(d_asked) or None
        m = pyiqa.create_metric("mspt_face", device="cpu", test_img_size=int(s), **kw)
        d = m.net.detail_size
        key, label = (f"{release}@{s}", f"{release} @{s}") if d is None else (f"{release}@{s}+{d}", f"{release} @{s} + {d} detail")
        call = f"test_img_size={s}" + ("" if d_asked is None else f", detail_size={kw['detail_size']}")
        out[key] = {"fn": native_run.scorer(m), "lower_better": False, "label": label,
                    "source": f"create_metric('mspt_face', {call})" + (f" weights {weights}" if weights else "")}
    if classic:
        for name in CLASSIC:
            lm = load_metric(name, has_ref=False)
            if lm.status != "ok":
                raise SystemExit(f"error: {name} cannot be loaded: {lm.reason}")
            out[name] = {"fn": native_run.scorer(lm.metric), "lower_better": lm.lower_better,
                         "label": name.upper(), "source": f"pyiqa {name}, {lm.params_source}"}
    return out


class Timing:
    """Seconds spent building one cache, summed over every (resumed) run: ``<cache>/timing.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        old = json.loads(path.read_text()) if path.is_file() else {}
        self.files_s = float(old.get("files_s", 0.0))
        self.metric_s: Dict[str, float] = dict(old.get("metric_s", {}))
        self.metric_n: Dict[str, int] = dict(old.get("metric_n", {}))
        self.runs = int(old.get("runs", 0)) + 1

    def timed(self, fn: Callable[[str], float], key: str) -> Callable[[str], float]:
        """``fn`` that adds its own duration and call count to ``key``."""
        def inner(path: str) -> float:
            t = time.perf_counter()
            try:
                return fn(path)
            finally:
                self.metric_s[key] = self.metric_s.get(key, 0.0) + time.perf_counter() - t
                self.metric_n[key] = self.metric_n.get(key, 0) + 1
        return inner

    def save(self) -> None:
        atomic_write_json(self.path, self.as_dict())

    def as_dict(self) -> Dict[str, object]:
        return {"runs": self.runs, "files_s": round(self.files_s, 1),
                "metric_s": {k: round(v, 1) for k, v in self.metric_s.items()}, "metric_n": self.metric_n}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    try:
        return _run(args, argv)
    finally:  # called in-process (tests): leave the caller's thread count as it was
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace, argv: Optional[List[str]]) -> int:
    import torch

    if args.photos < 1:
        raise SystemExit("error: --photos must be >= 1")
    levels = {k: tuple(v) for k, v in native.YARDSTICK_LEVELS.items()}
    kinds = list(levels)
    cache = args.cache / f"levels-{level_key(levels, args.seed)}"
    timing = Timing(cache / "timing.json")
    load_start = os.getloadavg()[1]
    t0 = time.perf_counter()
    photos = native_run.test_photos(args.faces, args.sets, args.photos, seed=args.seed)
    if len(photos) < args.photos:
        log.warning("only %d test photos in %s (asked for %d)", len(photos), args.sets, args.photos)
    arm_photos = {"realworld": args.realworld_photos} if args.realworld_photos is not None else None
    rows = native_run.plan(photos, native_run.photo_sizes(photos), levels, seed=args.seed, arms=args.arms,
                           arm_photos=arm_photos)
    written = native_run.materialise(rows, args.faces, cache)
    timing.files_s += time.perf_counter() - t0
    if written or not args.leaderboard_csv_only:  # a CSV-only pass over a filled cache is not a run of it
        timing.save()
    dataset_csv = native_run.write_leaderboard_csv(rows, cache)
    if args.leaderboard_csv_only:
        print(dataset_csv)  # stdout carries only the path: CSV=$(python eval/native_scale.py ... --leaderboard-csv-only)
        return 0
    metrics = build_metrics(args.sizes, args.weights, not args.no_classic, args.detail_size)
    scored = native_run.score_all(rows, cache, {c: timing.timed(m["fn"], c) for c, m in metrics.items()},
                                  on_flush=timing.save)

    results: Dict[str, Dict[str, list]] = {}
    bars: Dict[str, Dict[str, list]] = {}
    for arm in list(args.arms) + (["both"] if len(args.arms) > 1 else []):
        sub = native_run.restrict(scored, None if arm == "both" else arm)
        results[arm] = {c: native_figures.figures(sub, c, m["lower_better"], kinds, n_boot=args.boot, seed=args.seed)
                        for c, m in metrics.items()}
    for arm in args.arms:  # the bars are judged on each arm; a bar is met when it holds on every arm
        base = results[arm].get("niqe")
        bars[arm] = {c: native_figures.bars(results[arm][c], base, kinds) for c in metrics if c not in CLASSIC}
    shorts = {arm: sorted({int(r["short"]) for r in scored if r["arm"] == arm}) for arm in args.arms}
    made_by = "python eval/native_scale.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    meta = {
        "command": made_by, "photos": len(photos), "sets": args.sets, "images": len(scored),
        "arm_photos": {a: len({r["photo"] for r in scored if r["arm"] == a}) for a in args.arms},
        "per_set": {s: sum(1 for p in photos if p.source_set == s) for s in args.sets},
        "arms": args.arms, "short_sides": {a: {"min": min(v), "median": float(np.median(v)), "max": max(v)} for a, v in shorts.items()},
        "levels": {k: [{"level": i, "value": v, "setting": native.setting(k, v)} for i, v in enumerate(vals, 1)]
                   for k, vals in levels.items()},
        "metrics": {c: {k: v for k, v in m.items() if k != "fn"} for c, m in metrics.items()},
        "timing": {**timing.as_dict(), "threads": torch.get_num_threads(),
                   "load_average_5min": {"start": round(load_start, 2), "end": round(os.getloadavg()[1], 2)}},
        "boot": args.boot, "seed": args.seed, "cache": str(cache), "leaderboard_csv": str(dataset_csv),
    }
    flat = [{"arm": arm, "metric": c, **f} for arm, per in results.items() for c, figs in per.items() for f in figs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out.with_suffix(".json"), {"meta": meta, "figures": flat, "bars": bars})

    with atomic_write(args.out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["arm", "metric", "kind", "figure", "value", "lo", "hi", "photos"])
        w.writeheader()
        w.writerows(flat)
    atomic_write_text(args.out.with_suffix(".md"), render_markdown(meta, results, bars, kinds))
    log.info("wrote %s.{md,csv,json}", args.out)
    if args.reference_out:
        from mspt_pyiqa.weights import default_entry_name, get_entry

        if args.weights:
            raise SystemExit("error: --reference-out describes the default release; leave out --weights")
        entry = get_entry(default_entry_name())
        col = f"{entry.name}@{entry.input_size}" + (f"+{entry.detail_size}" if entry.detail_size else "")
        if col not in metrics:
            raise SystemExit(f"error: --reference-out needs the release's own input size {entry.input_size} in --sizes")
        ref = native_figures.reference(scored, col, entry.name, made_by, kinds, levels, native.setting)
        atomic_write_json(args.reference_out, ref)
        log.info("wrote %s", args.reference_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
