"""Speed of ``mspt-face compare`` at scale, and size / build time of its HTML page.

Generates ``--n`` small face images per method (crops of scikit-image's astronaut, shifted,
scaled and re-lit, then mildly JPEG-compressed for method A and blurred for method B),
runs ``mspt-face compare A B`` (MSPT scoring of both folders, paired statistics, tables,
page with thumbnails in a folder beside it), then the same command again (everything
resumed from the score caches and thumbnail folder), then times the page build alone (the report also gets ``<stem>_table.md``, the
comparison's own table) and,
when headless Chromium is available, how long the page takes to open and render.

    OMP_NUM_THREADS=1 python eval/compare_speed.py --n 10000 --report eval/reports/compare_speed.md
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_faces(root: Path, n: int, size: int, seed: int = 0) -> None:
    """``root/A`` and ``root/B``: ``n`` face crops each (JPEG q95), same names, 100 per sub-folder."""
    from skimage import data

    from mspt_pyiqa.degrade import apply

    img = data.astronaut()
    rng = np.random.default_rng(seed)
    for i in tqdm(range(n), desc="faces", unit="img"):
        side = int(rng.integers(190, 270))
        top, left = int(rng.integers(0, 40)), int(rng.integers(90, 140))
        crop = img[top:top + side, left:left + side].astype(np.float32) * float(rng.uniform(0.8, 1.15))
        face = np.asarray(Image.fromarray(crop.clip(0, 255).astype(np.uint8)).resize((size, size), Image.BICUBIC))
        r = np.random.default_rng(i)
        for method, kind, sev in (("A", "jpeg", float(rng.uniform(0.2, 0.5))), ("B", "gaussian_blur", float(rng.uniform(0.2, 0.5)))):
            d = root / method / f"part{i // 100:03d}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(apply(face, kind, sev, r)).save(d / f"face_{i:05d}.jpg", quality=95)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def browser_open_s(page: Path) -> Optional[float]:
    from mspt_pyiqa.compare.browser import open_page, unavailable_reason

    if unavailable_reason():
        return None
    t = time.perf_counter()
    with open_page(page) as (p, requests, errors):
        took = time.perf_counter() - t
        assert not errors, errors
        assert all(u.startswith(("file:", "data:")) for u in requests)
        assert p.locator("#grid .card").count() == 120
    return took


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="images per method (default: %(default)s)")
    ap.add_argument("--size", type=int, default=112, help="face side in px (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=1, help="compare --workers (default: %(default)s)")
    ap.add_argument("--work-dir", type=Path, help="where images and outputs go (default: a temp folder, removed)")
    ap.add_argument("--report", type=Path, help="markdown report to write")
    args = ap.parse_args(argv)

    import torch

    from mspt_pyiqa.cli.main import main as cli
    from mspt_pyiqa.compare.run import statistics
    from mspt_pyiqa.utils.io import atomic_write_text, markdown_table

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="mspt_compare_speed_"))
    load_before = os.getloadavg()
    t = time.perf_counter()
    make_faces(work, args.n, args.size)
    gen_s = time.perf_counter() - t
    out = work / "out"
    cmd = ["compare", str(work / "A"), str(work / "B"), "-o", str(out), "--workers", str(args.workers),
           "--thumbs", "folder", "--no-progress", "--faces", "crop"]  # generated face crops
    times: Dict[str, Any] = {}
    for label in ("first run", "rerun (resumed)"):
        t = time.perf_counter()
        assert cli(cmd) == 0
        times[label] = time.perf_counter() - t

    import pandas as pd

    from mspt_pyiqa.cli.report import _compare_page  # the page rebuilt from the folder, thumbnails cached

    t = time.perf_counter()
    per_image = pd.read_csv(out / "per_image.csv")
    statistics(per_image, ["A", "B"], {"mspt_face": False}, 1000, 0)
    stats_s = time.perf_counter() - t
    args_page = dict(input=str(out), thumbs="folder", thumb_size=96, workers=2)
    t = time.perf_counter()  # a page with a new name: its thumbnail folder is made from scratch
    _compare_page(argparse.Namespace(output=str(out / "fresh.html"), **args_page))
    fresh_s = time.perf_counter() - t
    shutil.rmtree(out / "fresh_files", ignore_errors=True)
    t = time.perf_counter()  # the compare page rebuilt in place: thumbnails found in report_files/
    _compare_page(argparse.Namespace(output=str(out / "report.html"), **args_page))
    page_s = time.perf_counter() - t
    html_bytes = (out / "report.html").stat().st_size
    thumbs_bytes = folder_size(out / "report_files")
    open_s = browser_open_s(out / "report.html")
    load_after = os.getloadavg()

    rows = [
        {"step": f"generate 2 x {args.n} faces ({args.size} px JPEG; not part of compare)", "seconds": f"{gen_s:.1f}"},
        {"step": f"compare, first run: score 2 x {args.n} images, statistics, tables, page + {2 * args.n} thumbnails", "seconds": f"{times['first run']:.1f}"},
        {"step": "compare again: scores and thumbnails resumed from the caches", "seconds": f"{times['rerun (resumed)']:.1f}"},
        {"step": f"paired statistics alone ({args.n} images, 1000 bootstrap draws, from per_image.csv)", "seconds": f"{stats_s:.2f}"},
        {"step": f"page build with {2 * args.n} new thumbnails (2 threads)", "seconds": f"{fresh_s:.1f}"},
        {"step": f"page build alone ({args.n} rows x 2 methods, thumbnails already made)", "seconds": f"{page_s:.2f}"},
        {"step": "headless Chromium: open the page until the first 120 cards are rendered",
         "seconds": "n/a (no browser)" if open_s is None else f"{open_s:.2f}"},
    ]
    text = (
        "# `mspt-face compare` at scale (CPU)\n\n"
        f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} python eval/compare_speed.py --n {args.n} "
        f"--size {args.size} --workers {args.workers} --report {args.report}`\n\n"
        f"Machine: {os.cpu_count()} CPU core(s) visible, {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s), compare --workers {args.workers} (decoding); load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.1f}' for x in load_before)}, after {'/'.join(f'{x:.1f}' for x in load_after)} "
        "(the cores were shared with other jobs: wall times are pessimistic).\n"
        f"Data: {args.n} generated faces per method, MSPT default release, whole-image mode.\n\n"
        + markdown_table(rows, ["step", "seconds"]) +
        f"\nPage: report.html {html_bytes / 1e6:.2f} MB (scores, statuses and thumbnail names of {args.n} rows x 2 methods) "
        f"+ {thumbs_bytes / 1e6:.1f} MB of thumbnails in report_files/ ({2 * args.n} JPEGs, 96 px, loaded lazily); "
        "the page keeps one page of 120 cards (and 40 side-by-side rows) in the DOM at a time.\n"
    )
    print(text)
    if args.report:
        atomic_write_text(args.report, text)
        table = (out / "table.md").read_text(encoding="utf-8")
        atomic_write_text(args.report.with_name(args.report.stem + "_table.md"),
                          f"# The table `mspt-face compare` wrote for the run of [{args.report.name}]({args.report.name})\n\n"
                          f"Method A: the generated faces JPEG-compressed; B: the same faces blurred (mild, random strengths).\n\n{table}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
