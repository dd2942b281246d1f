"""Speed of the whole ``mspt-face score`` command vs. pyiqa's topiq_nr-face architecture.

What is timed: the full command as a user runs it (process start, imports, model build,
DataLoader workers decoding JPEGs, resize, network, CSV writing), on a folder of 512 px
JPEG faces generated at run time from ``../shared/data/faces/celebahq`` (copied outside the
repository). Each configuration also runs on a 1-image folder: ``startup`` is that wall
time, and ``steady img/s = (N - 1) / (wall_N - wall_1)`` removes it.

MSPT: random weights written here with ``save_checkpoint`` (no release yet; speed does not
depend on the values), input 448 px; backends torch and onnxruntime (model exported once
beforehand with ``mspt-face export``), batch 1 and 16.

topiq_nr-face: pyiqa's ``CFANet`` with its topiq_nr-face options (``semantic_model_name=
resnet50``, ``test_img_size=512``, ``use_ref=False``) but ``pretrained=False,
backbone_pretrain=False`` (random weights, nothing downloaded) and ``align_crop_face=False``
(its RetinaFace detection would need a download; leaving it out makes topiq *faster* than
the real metric, so the ratio is conservative); ``model_name`` is a neutral string because a
name containing ``gfiqa`` makes CFANet build that RetinaFace helper. Same images, same decoding (our loader),
batch 1 and 16, run as a subprocess the same way.

Peak memory: the largest sum of RSS over the process tree (main process, workers,
forkserver), sampled every 50 ms with psutil. Pages shared between these processes (the torch
libraries) are counted once per process, so it is an upper bound on real memory use.

Usage: ``OMP_NUM_THREADS=1 python eval/bench_score.py --n 128 --report eval/reports/score_speed.md``
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import psutil

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / ".." / "shared"
PY = sys.executable


def run_measured(cmd: List[str]) -> Tuple[float, float, float]:
    """Run ``cmd``; return (wall s, peak RSS of its process tree in MiB, CPU s of the tree). Raises on failure.

    CPU seconds (user + system) are summed over every process of the tree (command,
    forkserver, DataLoader workers), each at its last sample (50 ms apart), or from
    ``getrusage(RUSAGE_CHILDREN)`` if that is larger; unlike wall time they hardly depend on
    how busy the machine is.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    cpu_seen: Dict[int, float] = {}
    while proc.poll() is None:
        try:
            procs = [ps] + ps.children(recursive=True)
        except psutil.Error:
            procs = []
        rss = 0
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu_seen[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        peak = max(peak, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(reaped, sum(cpu_seen.values()))
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, peak / 2**20, cpu


def topiq_worker(folder: str, batch: int) -> None:
    """The topiq_nr-face equivalent of the score command (run in a subprocess)."""
    import csv

    import torch
    from pyiqa.archs.topiq_arch import CFANet

    from mspt_pyiqa.imageio import load_image

    torch.manual_seed(0)
    # model_name only selects a checkpoint (none loaded here) and, when it contains "gfiqa",
    # builds facexlib's RetinaFace helper, which downloads weights: a neutral name avoids that.
    net = CFANet(semantic_model_name="resnet50", model_name="topiq_nr_face_timing_res50", use_ref=False, test_img_size=512,
                 pretrained=False, backbone_pretrain=False, align_crop_face=False).eval()
    files = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    rows = []
    with torch.inference_mode():
        for i in range(0, len(files), batch):
            chunk = files[i : i + batch]
            x = torch.stack([torch.from_numpy(load_image(f).rgb.copy()).permute(2, 0, 1).float() / 255 for f in chunk])
            scores = net(x).view(-1).tolist()
            rows.extend(zip(chunk, scores))
    with open(Path(folder) / "topiq_scores.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def make_folder(dst: Path, n: int) -> Path:
    src = sorted((SHARED / "data" / "faces" / "celebahq").glob("*.jpg"))
    if len(src) < n:
        raise SystemExit(f"need {n} CelebA-HQ photos in {SHARED}, found {len(src)}")
    dst.mkdir(parents=True, exist_ok=True)
    for p in src[:n]:
        shutil.copy(p, dst / p.name)  # already 512x512 JPEG
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=128, help="images for the MSPT runs")
    ap.add_argument("--n-topiq", type=int, default=16, help="images for the topiq runs (it is slow)")
    ap.add_argument("--workers", type=int, default=None, help="score --workers (default: the command's default)")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir, removed)")
    ap.add_argument("--report", help="write the markdown report here")
    ap.add_argument("--topiq-worker", nargs=2, metavar=("FOLDER", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.topiq_worker:
        topiq_worker(args.topiq_worker[0], int(args.topiq_worker[1]))
        return

    work = Path(args.work or tempfile.mkdtemp(prefix="mspt_bench_"))
    folders = {n: make_folder(work / f"faces_{n}", n) for n in sorted({1, args.n, args.n_topiq})}
    sys.path.insert(0, str(REPO))
    import torch

    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.weights import save_checkpoint

    torch.manual_seed(0)
    ckpt = work / "random_448.pth"
    save_checkpoint(MSPTNet(pretrained=False, test_img_size=448), ckpt, meta={"input_size": 448})
    onnx_path = work / "mspt_face.onnx"
    cli = [PY, "-m", "mspt_pyiqa.cli.main"]
    subprocess.run(cli + ["export", str(onnx_path), "--weights", str(ckpt)], check=True, capture_output=True)
    workers = [] if args.workers is None else ["--workers", str(args.workers)]

    def score_cmd(backend: str, batch: int, folder: Path) -> List[str]:
        model = ["--onnx-model", str(onnx_path)] if backend == "onnxruntime" else ["--weights", str(ckpt)]
        return cli + ["score", str(folder), "-o", str(work / "out.csv"), "--backend", backend, "--batch-size", str(batch),
                      "--no-progress", "--table-rows", "0"] + model + workers

    def topiq_cmd(batch: int, folder: Path) -> List[str]:
        return [PY, str(Path(__file__).resolve()), "--topiq-worker", str(folder), str(batch)]

    results: Dict[Tuple[str, int], Dict[str, float]] = {}
    plan = [("mspt torch", b, args.n, lambda b, f: score_cmd("torch", b, f)) for b in (1, 16)]
    plan += [("mspt onnxruntime", b, args.n, lambda b, f: score_cmd("onnxruntime", b, f)) for b in (1, 16)]
    plan += [("topiq_nr-face (CFANet-R50, 512)", b, args.n_topiq, topiq_cmd) for b in (1, 16)]
    startup: Dict[str, Tuple[float, float]] = {}
    load_before = os.getloadavg()
    for name, batch, n, make in plan:
        if name not in startup:
            w1, _, c1 = run_measured(make(1, folders[1]))
            startup[name] = (w1, c1)
        wall, peak, cpu = run_measured(make(batch, folders[n]))
        steady = (n - 1) / max(wall - startup[name][0], 1e-9)
        cpu_rate = (n - 1) / max(cpu - startup[name][1], 1e-9)
        results[(name, batch)] = {"n": n, "wall": wall, "e2e": n / wall, "steady": steady, "peak": peak,
                                  "cpu": cpu, "cpu_rate": cpu_rate}
        print(f"{name:34s} batch {batch:2d}: {n} img in {wall:6.1f} s -> {n / wall:7.2f} img/s end to end, "
              f"{steady:7.2f} img/s steady (startup {startup[name][0]:.1f} s), {cpu:.1f} CPU s, "
              f"{cpu_rate:.2f} img per CPU s, peak {peak:.0f} MiB", flush=True)
    load_after = os.getloadavg()

    ref = {b: results[("topiq_nr-face (CFANet-R50, 512)", b)]["steady"] for b in (1, 16)}
    ref_cpu = {b: results[("topiq_nr-face (CFANet-R50, 512)", b)]["cpu_rate"] for b in (1, 16)}
    lines = [
        "# `mspt-face score` speed (CPU)",
        "",
        f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} python eval/bench_score.py --n {args.n} "
        f"--n-topiq {args.n_topiq} --report eval/reports/score_speed.md`",
        "",
        f"Machine: {os.cpu_count()} CPU core(s) visible, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s); "
        f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} "
        "(other engineers' jobs shared the cores: absolute numbers are pessimistic and noisy, ratios less so).",
        f"Data: {args.n} CelebA-HQ 512x512 JPEGs (topiq: first {args.n_topiq}); MSPT input 448 px, whole-image mode; "
        f"score --workers {args.workers if args.workers is not None else 'default'}.",
        "",
        "| model | backend | batch | images | wall (s) | img/s end to end | startup (s) | img/s steady | x topiq (steady, same batch) "
        "| CPU s | img per CPU s (steady) | x topiq (CPU, same batch) | peak RSS sum (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, batch), r in results.items():
        model, _, backend = name.partition(" ")
        lines.append(
            f"| {model} | {backend} | {batch} | {r['n']} | {r['wall']:.1f} | {r['e2e']:.2f} | {startup[name][0]:.1f} | "
            f"{r['steady']:.2f} | {r['steady'] / ref[batch]:.1f} | {r['cpu']:.1f} | {r['cpu_rate']:.2f} | "
            f"{r['cpu_rate'] / ref_cpu[batch]:.1f} | {r['peak']:.0f} |"
        )
    lines += [
        "",
        "Steady img/s = (images - 1) / (wall - startup): the rate once the process is up (startup = the same",
        "command on 1 image). img per CPU s = (images - 1) / (CPU s - CPU s of the 1-image run): CPU time of the",
        "whole process tree, which other users' load changes much less than wall time; on an idle machine with",
        "the same thread settings, wall img/s approaches it (times the cores the command keeps busy).",
        "Peak RSS sum counts shared library pages once per process (main, forkserver, workers): an upper bound.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        Path(args.report).write_text(text, encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
