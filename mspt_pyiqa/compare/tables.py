"""Tables of a comparison: methods x metrics (markdown / LaTeX, best in bold) and pairwise rows.

Inputs are the records :mod:`mspt_pyiqa.compare.run` computes:

* ``summary``: one dict per (method, metric) with ``method``, ``metric``, ``lower_better``,
  ``n``, ``mean``, ``mean_lo``, ``mean_hi`` (95% bootstrap interval of the mean);
* ``pairs``: one dict per (metric, A, B) with the keys of
  :func:`mspt_pyiqa.compare.paired.paired_compare` plus ``metric``, ``a``, ``b``.

"Best" is the highest mean, or the lowest for a ``lower_better`` metric; ties are all bold.
Markdown goes through :func:`mspt_pyiqa.utils.io.markdown_table`.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence

from mspt_pyiqa.utils.io import markdown_table


def _fmt(x: Any, digits: int) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _digits(metric: str) -> int:
    return 2 if metric in ("psnr", "psnry", "cw_ssim_db") else 4


def metric_order(summary: Sequence[Mapping[str, Any]]) -> List[str]:
    return list(dict.fromkeys(r["metric"] for r in summary))


def method_order(summary: Sequence[Mapping[str, Any]]) -> List[str]:
    return list(dict.fromkeys(r["method"] for r in summary))


def best_methods(summary: Sequence[Mapping[str, Any]]) -> Dict[str, set]:
    """metric -> names of the methods with the best mean (direction-aware)."""
    best: Dict[str, set] = {}
    for metric in metric_order(summary):
        rows = [r for r in summary if r["metric"] == metric and r["mean"] is not None and math.isfinite(r["mean"])]
        if not rows:
            best[metric] = set()
            continue
        sign = -1.0 if rows[0]["lower_better"] else 1.0
        top = max(sign * r["mean"] for r in rows)
        best[metric] = {r["method"] for r in rows if sign * r["mean"] == top}
    return best


def _arrow(lower_better: bool) -> str:
    return "↓" if lower_better else "↑"


def summary_markdown(summary: Sequence[Mapping[str, Any]]) -> str:
    """Methods x metrics: ``mean [lo, hi]``, the best mean of each metric in bold."""
    metrics, best = metric_order(summary), best_methods(summary)
    cell = {(r["method"], r["metric"]): r for r in summary}
    heads = {m: f"{m} {_arrow(next(r['lower_better'] for r in summary if r['metric'] == m))}" for m in metrics}
    rows = []
    for method in method_order(summary):
        row: Dict[str, Any] = {"method": method}
        for m in metrics:
            r, d = cell[(method, m)], _digits(m)
            mean = _fmt(r["mean"], d)
            row[heads[m]] = (f"**{mean}**" if method in best[m] else mean) + f" [{_fmt(r['mean_lo'], d)}, {_fmt(r['mean_hi'], d)}]"
        row["images"] = cell[(method, metrics[0])]["n"] if metrics else 0
        rows.append(row)
    return markdown_table(rows, ["method"] + [heads[m] for m in metrics] + ["images"])


def pairs_markdown(pairs: Sequence[Mapping[str, Any]]) -> str:
    """One row per (metric, A, B): means, paired difference and win rate with intervals, p-values."""
    rows = []
    for p in pairs:
        d = _digits(p["metric"])
        rows.append({
            "metric": p["metric"], "A": p["a"], "B": p["b"], "images": p["n"],
            "mean A": _fmt(p["mean_a"], d), "mean B": _fmt(p["mean_b"], d),
            "A better by [95% CI]": f"{_fmt(p['diff'], d)} [{_fmt(p['diff_lo'], d)}, {_fmt(p['diff_hi'], d)}]",
            "A wins [95% CI]": f"{_fmt(100 * p['win_rate'], 1)}% [{_fmt(100 * p['win_lo'], 1)}, {_fmt(100 * p['win_hi'], 1)}]",
            "p (Wilcoxon)": _p(p["p_wilcoxon"]), "p (sign)": _p(p["p_sign"]),
        })
    return markdown_table(rows)


def _p(p: Any) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def summary_latex(summary: Sequence[Mapping[str, Any]], caption: str = "") -> str:
    """A ``table`` environment (booktabs) of methods x metrics: mean with its 95% interval, best bold."""
    metrics, best = metric_order(summary), best_methods(summary)
    cell = {(r["method"], r["metric"]): r for r in summary}
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * len(metrics) + "}", r"\toprule"]
    heads = []
    for m in metrics:
        lb = next(r["lower_better"] for r in summary if r["metric"] == m)
        heads.append(latex_escape(m) + (r" $\downarrow$" if lb else r" $\uparrow$"))
    lines.append("Method & " + " & ".join(heads) + r" \\")
    lines.append(r"\midrule")
    for method in method_order(summary):
        cells = []
        for m in metrics:
            r, d = cell[(method, m)], _digits(m)
            mean = _fmt(r["mean"], d)
            mean = rf"\textbf{{{mean}}}" if method in best[m] else mean
            cells.append(rf"{mean} {{\scriptsize [{_fmt(r['mean_lo'], d)}, {_fmt(r['mean_hi'], d)}]}}")
        lines.append(latex_escape(method) + " & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
