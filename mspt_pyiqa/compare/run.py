"""The ``mspt-face compare`` pipeline: match, score (cached), paired statistics, tables, page.

Outputs in the output folder (all written atomically):

* ``scores/``: per-method score caches (see :mod:`mspt_pyiqa.compare.scores`);
* ``per_image.csv``: one row per (relative path, method): ``key``, ``method``, ``path``,
  ``status`` (the ``score`` statuses, plus ``missing`` for an unmatched file), ``message``,
  ``box`` (the scored region, as in ``score``),
  ``mspt_face`` and one column per FR metric (with ``<metric>_status``);
* ``summary.csv``: method x metric: ``n``, ``mean`` and its 95% bootstrap interval, over
  the images every method scored (so all means are over the same images);
* ``pairs.csv``: every pair of methods and metric: :func:`~mspt_pyiqa.compare.paired.paired_compare`;
* ``unmatched.csv`` (when some files are not in every method), ``table.md`` (both tables),
  ``table.tex`` (with ``latex``), ``compare.json`` (all of it), ``report.html``.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from mspt_pyiqa.compare import matching, paired, tables
from mspt_pyiqa.compare.scores import MSPT, score_fr, score_mspt
from mspt_pyiqa.scoring.writer import Row
from mspt_pyiqa.utils.io import atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CompareConfig:
    """Options of one comparison (see ``mspt-face compare --help``)."""

    specs: Sequence[str]
    out_dir: Path
    names: Optional[Sequence[str]] = None
    ref: Optional[str] = None
    fr_metrics: Sequence[str] = ("psnr", "ssim")
    n_boot: int = 1000
    seed: int = 0
    latex: bool = False
    report: bool = True
    thumbs: str = "auto"
    thumb_size: int = 96
    workers: int = 2
    device: str = "cpu"
    progress: bool = True


@dataclasses.dataclass
class CompareResult:
    methods: List[str]
    metrics: Dict[str, bool]  # metric -> lower_better
    per_image: pd.DataFrame
    summary: List[Dict[str, Any]]
    pairs: List[Dict[str, Any]]
    unmatched: List[Dict[str, str]]


def _per_image(methods: Sequence[matching.MethodInput], keys: Sequence[str], mspt: Dict[str, Dict[str, Row]],
               fr: Dict[str, Dict[str, Any]]) -> pd.DataFrame:
    records = []
    for m in methods:
        for k in keys:
            rec: Dict[str, Any] = {"key": k, "method": m.name, "path": m.files.get(k, "")}
            row = mspt[m.name].get(k) if k in m.files else None
            if row is None:
                rec.update(status="missing" if k not in m.files else "error",
                           message=f"{k}: not in {m.spec}" if k not in m.files else "not scored", box="")
                rec[MSPT] = np.nan
            else:
                rec.update(status=row["status"], message=row.get("message") or "", box=row.get("box") or "")
                rec[MSPT] = row["score"] if row["status"] == "ok" and row["score"] is not None else np.nan
            for metric, info in fr.items():
                frow = info["rows"][m.name].get(k)
                rec[metric] = frow["score"] if frow and frow["status"] == "ok" else np.nan
                rec[f"{metric}_status"] = frow["status"] if frow else "missing"
            records.append(rec)
    return pd.DataFrame.from_records(records)


def statistics(per_image: pd.DataFrame, methods: Sequence[str], metrics: Dict[str, bool], n_boot: int,
               seed: int) -> tuple:
    """``(summary, pairs)`` records for ``per_image`` (long format) over ``methods`` and ``metrics``."""
    summary: List[Dict[str, Any]] = []
    pairs: List[Dict[str, Any]] = []
    for metric, lower_better in metrics.items():
        wide = per_image.pivot(index="key", columns="method", values=metric)[list(methods)].astype(float)
        common = wide.notna().all(axis=1)
        for m in methods:
            s = paired.mean_ci(wide.loc[common, m].to_numpy(), n_boot=n_boot, seed=seed)
            summary.append({"method": m, "metric": metric, "lower_better": lower_better, **s})
        for a, b in itertools.combinations(methods, 2):
            r = paired.paired_compare(wide[a].to_numpy(), wide[b].to_numpy(), lower_better, n_boot, seed)
            pairs.append({"metric": metric, "a": a, "b": b, "lower_better": lower_better, **r})
    return summary, pairs


def run_compare(cfg: CompareConfig, make_job: Callable[[List[str], Path, bool], Any],
                run_job: Callable[[Any], List[Row]], settings: Dict[str, Any]) -> CompareResult:
    """Run a comparison and write its outputs to ``cfg.out_dir`` (see the module docstring).

    ``make_job`` / ``run_job`` / ``settings``: the scoring machinery (see
    :func:`mspt_pyiqa.compare.scores.score_mspt`); ``make_job`` is called only for folder methods.
    Raises :class:`~mspt_pyiqa.compare.matching.CompareInputError` for unusable inputs.
    """
    out = Path(cfg.out_dir)
    methods = matching.load_methods(cfg.specs, cfg.names)
    if cfg.ref is not None and not Path(cfg.ref).is_dir():
        raise matching.CompareInputError(f"--ref {cfg.ref}: no such folder")
    keys = matching.all_keys(methods)
    unmatched = matching.unmatched(methods)
    if unmatched:
        logger.warning("%d of %d file(s) are not in every method (listed in %s)", len(unmatched), len(keys), out / "unmatched.csv")
    mspt = score_mspt(methods, out / "scores", settings, make_job, run_job)
    fr = score_fr(methods, cfg.ref, cfg.fr_metrics, out / "scores", cfg.device, cfg.progress) if cfg.ref else {}
    metrics = {MSPT: False, **{k: bool(v["lower_better"]) for k, v in fr.items()}}
    names = [m.name for m in methods]
    per_image = _per_image(methods, keys, mspt, fr)
    summary, pairs = statistics(per_image, names, metrics, cfg.n_boot, cfg.seed)

    atomic_write_text(out / "per_image.csv", per_image.to_csv(index=False, float_format="%.6f"))
    atomic_write_text(out / "summary.csv", pd.DataFrame(summary).to_csv(index=False, float_format="%.6f"))
    atomic_write_text(out / "pairs.csv", pd.DataFrame(pairs).to_csv(index=False, float_format="%.6g"))
    if unmatched:
        atomic_write_text(out / "unmatched.csv", pd.DataFrame(unmatched).to_csv(index=False))
    elif (out / "unmatched.csv").exists():
        (out / "unmatched.csv").unlink()
    md = (f"Methods x metrics: mean [95% bootstrap interval] over the {summary[0]['n']} images every method scored; "
          "best in bold.\n\n" + tables.summary_markdown(summary) +
          f"\nPairs: paired difference and share of images where A is better, 95% bootstrap intervals "
          f"({cfg.n_boot} draws, seed {cfg.seed}).\n\n" + tables.pairs_markdown(pairs))
    atomic_write_text(out / "table.md", md)
    if cfg.latex:
        atomic_write_text(out / "table.tex", tables.summary_latex(summary, "Mean score [95% bootstrap interval]; best in bold."))
    counts = per_image.groupby(["method", "status"]).size().unstack(fill_value=0).to_dict(orient="index")
    atomic_write_json(out / "compare.json", {
        "methods": [{"name": m.name, "input": m.spec, "kind": m.kind, "files": len(m.files)} for m in methods],
        "reference": cfg.ref, "metrics": metrics, "n_boot": cfg.n_boot, "seed": cfg.seed,
        "images": len(keys), "statuses": counts, "summary": summary, "pairs": pairs, "unmatched": unmatched,
    })
    result = CompareResult(names, metrics, per_image, summary, pairs, unmatched)
    if cfg.report:
        write_compare_report(result, out / "report.html", cfg)
    return result


def write_compare_report(result: CompareResult, page: Path, cfg: CompareConfig) -> Path:
    """The HTML page of a comparison (MSPT scores; tables of every metric)."""
    from mspt_pyiqa.compare.html import ReportData, html_table, write_page
    from mspt_pyiqa.compare.report import attach_thumbnails

    df = result.per_image
    keys = list(dict.fromkeys(df["key"]))
    cols = {m: df[df["method"] == m].set_index("key").reindex(keys) for m in result.methods}
    scores = [[None if pd.isna(v) else float(v) for v in cols[m][MSPT]] for m in result.methods]
    data = ReportData(
        title=f"mspt-face compare: {', '.join(result.methods)}", methods=list(result.methods), keys=keys,
        scores=scores, status=[list(cols[m]["status"]) for m in result.methods],
        messages=[list(cols[m]["message"]) for m in result.methods], thumbs=[],
    )
    paths = [[p or None for p in cols[m]["path"]] for m in result.methods]
    boxes = [list(cols[m]["box"]) for m in result.methods]
    attach_thumbnails(data, paths, boxes, page, cfg.thumbs, cfg.thumb_size, cfg.workers)
    md_rows = _table_rows(tables.summary_markdown(result.summary))
    sections = [("Methods x metrics (mean [95% interval], best in bold)", html_table(md_rows)),
                ("Pairs (A better by, A wins: 95% bootstrap intervals)", html_table(_table_rows(tables.pairs_markdown(result.pairs))))]
    if result.unmatched:
        sections.append((f"Unmatched files ({len(result.unmatched)})", html_table(result.unmatched[:200])))
    return write_page(page, data, sections)


def _table_rows(md: str) -> List[Dict[str, str]]:
    """Rows of a markdown table made by :func:`mspt_pyiqa.utils.io.markdown_table` (for the HTML copy)."""
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    split = lambda ln: [c.strip().replace("\\|", "|") for c in ln.strip().strip("|").split(" | ")]  # noqa: E731
    head = split(lines[0])
    return [dict(zip(head, split(ln))) for ln in lines[2:]]
