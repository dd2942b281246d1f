"""Start-up times of ``mspt-face``: ``--help``, one image cold (torch / onnxruntime), workers.

Every measurement is a fresh process (``python -m mspt_pyiqa.cli.main ...``), repeated
``--repeats`` times; the report gives the median wall time in seconds and its ratio to the
median of a bare ``python -c pass`` measured in between (a noisy, shared machine slows both,
so the ratio is the steadier number). No threshold is asserted anywhere; the targets
(``--help`` < 0.5 s, one image < 4 s with torch and < 1.5 s with onnxruntime) are only
printed next to the numbers.

* ``--help`` of the command and of each subcommand;
* cold start to the first score of one image (the example whole photo of
  ``python -m mspt_pyiqa.demo --photos``, so face detection runs): ``--backend torch`` with the
  released weights, and ``--backend onnxruntime --onnx-model F`` (exported once beforehand);
  for both the heavy modules found in ``sys.modules`` at exit are listed (onnxruntime: none;
  torch: torch only, as the MSPT backbone is this package's plain-torch MobileNetV3-Small and
  neither timm, torchvision nor pyiqa is imported);
* steady state: ``--images N`` face crops (512 px, the example crop with seeded colour and
  brightness changes) scored once per ``--workers`` value, to choose the default worker count.

Usage: ``python eval/start_time.py [--repeats 5] [--images 256] [--workers 0 1] --out eval/reports``
(writes ``start_time.md`` and ``start_time.json``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mspt_pyiqa.utils.io import atomic_write_json, atomic_write_text, markdown_table  # noqa: E402

logger = logging.getLogger("start_time")
HEAVY = ("torch", "torchvision", "timm", "pyiqa")
SUBCOMMANDS = ("score", "export", "train", "bench", "corpus")


def _env() -> Dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def run_once(args: Sequence[str], check: bool = True) -> Tuple[float, float]:
    """``(wall, cpu)`` seconds of one fresh process running ``python *args`` (output discarded);
    cpu = user + system time of the process and its children (steadier than wall on a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and res.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed ({res.returncode}): {res.stderr[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def wall(args: Sequence[str], check: bool = True) -> float:
    return run_once(args, check)[0]


def timed(name: str, args: Sequence[str], repeats: int, target: float = None) -> Dict[str, object]:
    """Median of ``repeats`` runs of ``args`` and of ``python -c pass`` interleaved with them."""
    runs, cpus, bare = [], [], []
    for _ in range(repeats):
        bare.append(wall(["-c", "pass"]))
        w, c = run_once(args)
        runs.append(w)
        cpus.append(c)
    med, base = statistics.median(runs), statistics.median(bare)
    logger.info("%s: %.3f s (cpu %.3f s; bare python %.3f s)", name, med, statistics.median(cpus), base)
    return {"what": name, "median_s": med, "min_s": min(runs), "cpu_s": statistics.median(cpus), "python_pass_s": base,
            "ratio_to_python": med / base, "target_s": target,
            "meets_target": None if target is None else med < target}


def heavy_modules(args: Sequence[str]) -> List[str]:
    """Heavy modules imported by ``mspt_pyiqa.cli.main.main(args)`` in a fresh process."""
    code = (f"import sys\nfrom mspt_pyiqa.cli.main import main\nrc = main({list(args)!r})\n"
            f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\nsys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("heavy:")][-1]
    return [m for m in line[len("heavy:"):].split(",") if m]


def crops_folder(folder: Path, crop: Path, n: int, seed: int = 0) -> Path:
    """``n`` 512 px face crops: the example crop with seeded gain / colour changes (JPEG q95)."""
    rng = np.random.default_rng(seed)
    base = np.asarray(Image.open(crop).convert("RGB").resize((512, 512), Image.BICUBIC)).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.clip(base * rng.uniform(0.8, 1.2, size=3) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"crop_{i:04d}.jpg", quality=95)
    return folder


def main(argv: Sequence[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=256, help="face crops for the workers comparison (0: skip it)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="worker counts to compare")
    ap.add_argument("--out", type=Path, default=REPO / "eval" / "reports")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cli = ["-m", "mspt_pyiqa.cli.main"]
    rows: List[Dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        photos = tmp / "photos"
        subprocess.run([sys.executable, "-m", "mspt_pyiqa.demo", "--photos", str(photos)], check=True, env=_env(),
                       stdout=subprocess.DEVNULL)
        photo = photos / "photo_astronaut.png"
        onnx_file = tmp / "mspt_face.onnx"
        subprocess.run([sys.executable, *cli, "export", str(onnx_file)], check=True, env=_env(), capture_output=True)

        rows.append(timed("mspt-face --help", [*cli, "--help"], args.repeats, 0.5))
        for sub in SUBCOMMANDS:
            rows.append(timed(f"mspt-face {sub} --help", [*cli, sub, "--help"], args.repeats, 0.5))
        score = [*cli, "score", str(photo), "-o", str(tmp / "one.csv"), "--no-progress"]
        rows.append(timed("score 1 photo, torch (cold)", score, args.repeats, 4.0))
        ort = [*score, "--backend", "onnxruntime", "--onnx-model", str(onnx_file)]
        rows.append(timed("score 1 photo, onnxruntime --onnx-model (cold)", ort, args.repeats, 1.5))
        heavy = heavy_modules(ort[2:])
        heavy_torch = heavy_modules(score[2:])

        steady: List[Dict[str, object]] = []
        if args.images:
            folder = crops_folder(tmp / "crops", photos / "crop_astronaut.png", args.images)
            for w in args.workers:
                for backend in (["--backend", "torch"], ["--backend", "onnxruntime", "--onnx-model", str(onnx_file)]):
                    cmd = [*cli, "score", str(folder), "-o", str(tmp / f"w{w}.csv"), "--no-progress", "--faces", "crop",
                           "--workers", str(w), *backend]
                    t, c = run_once(cmd)
                    steady.append({"backend": backend[1], "workers": w, "images": args.images, "wall_s": t,
                                   "cpu_s": c, "images_per_s": args.images / t})
                    logger.info("%s, %d workers: %.2f s", backend[1], w, t)

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "load_average_at_end": load, "repeats": args.repeats,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    result = {"machine": info, "cold": rows, "heavy_modules_onnxruntime_path": heavy,
              "heavy_modules_torch_path": heavy_torch, "steady": steady}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "start_time.json", result)
    cmd = f"python eval/start_time.py --repeats {args.repeats} --images {args.images} --workers {' '.join(map(str, args.workers))}"
    text = "\n".join([
        "# mspt-face start-up times",
        "",
        f"Command: `{cmd} --out eval/reports`. Machine: {info['cpus']} CPUs ({info['machine']}), Python {info['python']}, "
        f"OMP_NUM_THREADS={info['omp_num_threads']}, load average at the end {load}; {info['date_utc']} UTC. "
        f"Each time is the median of {args.repeats} fresh processes; `ratio` divides it by the median of a bare "
        "`python -c pass` measured between them. Targets are printed, not asserted.",
        "",
        markdown_table(rows, ["what", "median_s", "min_s", "cpu_s", "python_pass_s", "ratio_to_python", "target_s",
                              "meets_target"], floatfmt=".3f"),
        "`cpu_s`: median CPU time (user + system) of the process and its children, the time it would take "
        "on an otherwise idle core when it runs single-threaded; on a loaded machine wall times grow with the load.",
        "",
        f"Heavy modules imported by the onnxruntime path (`--onnx-model`): {', '.join(heavy) or 'none'} "
        f"(of {', '.join(HEAVY)}); by the torch path: {', '.join(heavy_torch) or 'none'}.",
        "",
        f"Steady state, {args.images} face crops of 512 px (`--faces crop`, one process per row, start-up included):",
        "",
        markdown_table(steady, floatfmt=".2f") if steady else "(skipped)",
    ])
    atomic_write_text(args.out / "start_time.md", text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
