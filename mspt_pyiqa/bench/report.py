"""Leaderboard outputs: CSV + JSON of everything, markdown tables, machine description."""
from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path
from typing import Any, Dict, List, Optional

import pandas as pd

from mspt_pyiqa.bench.cache import atomic_write_json, atomic_write_text
from mspt_pyiqa.utils.io import markdown_table as md_table

CSV_COLUMNS = [
    "dataset", "metric", "status", "mode", "lower_better", "n", "n_invalid",
    "score", "score_lo", "score_hi", "srcc", "srcc_lo", "srcc_hi", "plcc", "plcc_lo", "plcc_hi",
    "plcc_fit", "plcc_fit_lo", "plcc_fit_hi", "krcc", "krcc_lo", "krcc_hi",
    "rmse_fit", "rmse_fit_lo", "rmse_fit_hi", "score_raw", "score_raw_lo", "score_raw_hi",
    "params", "gflops", "ms_per_image", "input_hw", "threads", "timing_only_random_weights",
    "params_source", "reason", "efficiency_note", "n_errors", "first_error",
]


def machine_info() -> Dict[str, Any]:
    """CPU model, core count, torch / pyiqa versions: the 'on this machine' of the timings."""
    import pyiqa
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyiqa": getattr(pyiqa, "__version__", "?"),
        # the machine may be shared: timings taken under load are slower than on an idle one
        "load_avg_1_5_15": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


def _f(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _ci(r: Dict[str, Any], k: str) -> str:
    v, lo, hi = r.get(k), r.get(f"{k}_lo"), r.get(f"{k}_hi")
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3f} [{_f(lo)}, {_f(hi)}]"


def _params(n: Any) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} M" if n >= 1e5 else str(int(n))


def _sort_key(r: Dict[str, Any]) -> float:
    s = r.get("score")
    return -s if isinstance(s, float) and math.isfinite(s) else math.inf


def markdown_table(results: List[Dict[str, Any]]) -> str:
    """One dataset's leaderboard: scored metrics by score, then the rest with their reason."""
    ok = sorted([r for r in results if r.get("status") == "ok"], key=_sort_key)
    rest = [r for r in results if r.get("status") != "ok"]
    lines = [
        "| # | metric | mode | score (SRCC+PLCC)/2 | SRCC | PLCC (fit) | PLCC (raw) | KRCC | RMSE (fit) | n | params | GFLOPs | ms/img | parameters from |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(ok, start=1):
        flip = " (lower better, flipped)" if r.get("lower_better") else ""
        lines.append(
            f"| {i} | {r['metric']}{flip} | {r.get('mode', '')} | {_ci(r, 'score')} | {_ci(r, 'srcc')} | {_ci(r, 'plcc_fit')} | "
            f"{_ci(r, 'plcc')} | {_ci(r, 'krcc')} | {_ci(r, 'rmse_fit')} | {r.get('n', '-')} | {_params(r.get('params'))} | "
            f"{_f(r.get('gflops'), 2)} | {_f(r.get('ms_per_image'), 1)} | {r.get('params_source', '')} |"
        )
    if rest:
        lines += ["", "Not scored (every requested metric is listed):", "",
                  "| metric | mode | status | reason | params | GFLOPs | ms/img (random weights, timing only) |",
                  "|---|---|---|---|---|---|---|"]
        for r in sorted(rest, key=lambda r: (r.get("status", ""), r["metric"])):
            timed = r.get("timing_only_random_weights")
            eff = (_params(r.get("params")), _f(r.get("gflops"), 2), _f(r.get("ms_per_image"), 1) if r.get("ms_per_image") else r.get("efficiency_note", "-")) if timed else ("-", "-", r.get("efficiency_note", "-") if r.get("status") == "cannot load" else "-")
            reason = str(r.get("reason", "")).replace("|", "/")[:220]
            lines.append(f"| {r['metric']} | {r.get('mode', '')} | {r.get('status')} | {reason} | {eff[0]} | {eff[1]} | {str(eff[2]).replace('|', '/')} |")
    return "\n".join(lines)


def order_table(results: List[Dict[str, Any]]) -> str:
    """Fraction of within-photo pairs ordered correctly: metric x (degradation, level)."""
    rows = [(r["metric"], o) for r in results if r.get("status") == "ok" for o in r.get("order") or []]
    if not rows:
        return ""
    df = pd.DataFrame([{"metric": m, "col": f"{o['degradation']} L{o['level']}" if o["level"] != "all" else f"{o['degradation']} all", "v": o["correct_frac"]} for m, o in rows])
    wide = df.pivot_table(index="metric", columns="col", values="v", aggfunc="first")
    alls = [c for c in wide.columns if c.endswith(" all")]
    wide = wide[alls + [c for c in wide.columns if c not in alls]]
    wide = wide.sort_values(by=alls, ascending=False) if alls else wide
    header = "| metric | " + " | ".join(wide.columns) + " |"
    lines = [header, "|" + "---|" * (len(wide.columns) + 1)]
    for m, row in wide.iterrows():
        lines.append(f"| {m} | " + " | ".join(_f(v, 2) for v in row.values) + " |")
    return "\n".join(lines)


def left_out_section(ds: str, audit: Optional[Dict[str, Any]], results: List[Dict[str, Any]], limit: int = 100) -> List[str]:
    """Markdown lines naming what was not scored on ``ds``: rows of the dataset file left out
    (``audit`` from :meth:`~mspt_pyiqa.bench.datasets.BenchDataset.audit`) and images a metric failed on."""
    lines: List[str] = []
    dropped = (audit or {}).get("dropped") or []
    if audit is not None:
        lines += [f"Dataset rows: {audit.get('rows_read', '?')} read, {len(dropped)} left out"
                  f"{' (below)' if dropped else ''}, {audit.get('images', '?')} images evaluated.", ""]
    if dropped:
        shown = [{"line": d["line"], "image": d["path"], "reason": d["reason"]} for d in dropped[:limit]]
        lines += [md_table(shown, ["line", "image", "reason"]).rstrip()]
        if len(dropped) > limit:
            lines += ["", f"... and {len(dropped) - limit} more rows in results.json (meta.datasets)."]
        lines += [""]
    failed = [r for r in results if r.get("status") == "ok" and r.get("n_errors")]
    if failed:
        lines += ["Images a metric could not score (left out of its statistics; column n counts the rest):", ""]
        lines += [f"- {r['metric']}: {r['n_errors']} ({str(r.get('first_error', ''))[:160]})" for r in failed] + [""]
    return lines


def write_outputs(out_dir: Path, results: List[Dict[str, Any]], meta: Dict[str, Any]) -> Dict[str, Path]:
    """``results.csv``, ``results.json``, ``order.csv`` and ``leaderboard.md`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame([{c: r.get(c) for c in CSV_COLUMNS} for r in results], columns=CSV_COLUMNS)
    atomic_write_text(out_dir / "results.csv", df.to_csv(index=False, float_format="%.6g"))
    slim = [{k: v for k, v in r.items() if k != "fingerprint"} for r in results]
    atomic_write_json(out_dir / "results.json", {"meta": meta, "results": slim})
    order_rows = [
        {"dataset": r["dataset"], "metric": r["metric"], **o}
        for r in results if r.get("status") == "ok" for o in r.get("order") or []
    ]
    atomic_write_text(out_dir / "order.csv", pd.DataFrame(order_rows).to_csv(index=False, float_format="%.4f"))
    md = [f"# Leaderboard ({meta.get('title', 'mspt-face bench')})", ""]
    m = meta.get("machine", {})
    md += [f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count', '?')} CPUs, torch {m.get('torch')} with {m.get('torch_threads')} thread(s), pyiqa {m.get('pyiqa')}; {m.get('date_utc')} UTC; load average (1/5/15 min) at report time {m.get('load_avg_1_5_15')}.", ""]
    md += [f"Command: `{meta.get('command', '')}`", ""]
    md += [f"Costs: {meta.get('timing', '')}; GFLOPs: {meta.get('flops_convention', '')}. "
           f"Statistics: 95% percentile-bootstrap CIs ({meta.get('n_boot')} resamples, seed {meta.get('seed')}); "
           "PLCC (fit) and RMSE after the VQEG 4-parameter logistic; score = (SRCC + PLCC (fit)) / 2; lower-better metrics negated first.", ""]
    for ds in dict.fromkeys(r["dataset"] for r in results):
        sub = [r for r in results if r["dataset"] == ds]
        md += [f"## {ds}", "", markdown_table(sub), ""]
        md += left_out_section(ds, (meta.get("datasets") or {}).get(ds), sub)
        ot = order_table(sub)
        if ot:
            md += [f"### Within-photo order checks on {ds}", "",
                   "Fraction of pairs (same photo, same degradation, levels L-1 vs L; `all`: every level pair) ranked correctly by the oriented score (0.5 = chance).", "", ot, ""]
    md += [meta.get("notes", "")]
    atomic_write_text(out_dir / "leaderboard.md", "\n".join(md).rstrip() + "\n")
    return {"csv": out_dir / "results.csv", "json": out_dir / "results.json", "md": out_dir / "leaderboard.md", "order": out_dir / "order.csv"}
