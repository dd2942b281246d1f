"""The report page: one self-contained HTML file (no server, no network, no CDN).

Content: tables given by the caller (for ``compare``: methods x metrics and the pairwise
statistics), per-method score histograms (inline SVG), the worst and best faces, a grid
of faces sorted by score with status and score-range filters, and, with two or more
methods, side-by-side rows of the same face across methods, largest difference first.
The data (keys, scores, statuses, thumbnail sources) sit in one JSON block read by the
page's own script (:mod:`mspt_pyiqa.compare._assets`), which keeps only the visible page
of cards in the DOM. A Content-Security-Policy forbids every network fetch: images come
from ``data:`` URIs or from files beside the page.
"""
from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from mspt_pyiqa.compare._assets import CSS, JS
from mspt_pyiqa.utils.io import atomic_write_text, json_safe

CSP = ("default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


@dataclasses.dataclass
class ReportData:
    """What the page shows, method-major: ``scores[m][i]`` is method ``m`` on item ``i``.

    ``keys`` (n,) item names (relative paths, ``#face`` suffixed for extra faces);
    ``scores`` (M, n) floats or ``None`` (no score: failed, no face, missing);
    ``status`` (M, n) status strings; ``messages`` (M, n); ``thumbs`` (M, n) ``<img>`` src or None.
    ``metric`` is the score's name, ``lower_better`` its direction (MSPT: higher is better).
    """

    title: str
    methods: List[str]
    keys: List[str]
    scores: List[List[Optional[float]]]
    status: List[List[str]]
    messages: List[List[str]]
    thumbs: List[List[Optional[str]]]
    metric: str = "mspt_face"
    lower_better: bool = False


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def html_table(rows: Sequence[Mapping[str, Any]], columns: Optional[Sequence[str]] = None, bold: Optional[set] = None) -> str:
    """An HTML table of dict rows; cell text escaped; ``**x**`` cells (markdown bold) become ``<b>``."""
    if not rows:
        return "<p class='note'>(no rows)</p>"
    columns = list(columns or rows[0].keys())
    out = ["<table><thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in columns) + "</tr></thead><tbody>"]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            text = _esc(f"{v:.4f}" if isinstance(v, float) else v)
            if text.startswith("**") and "**" in text[2:]:
                end = text.index("**", 2)
                text = f"<b>{text[2:end]}</b>{text[end + 2:]}"
            cells.append(f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def histogram_svg(values: Sequence[float], lo: float, hi: float, title: str, bins: int = 30,
                  width: int = 320, height: int = 130) -> str:
    """A bar histogram of ``values`` over ``[lo, hi]`` as inline SVG (counts per bin, axis labels)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    top = max(int(counts.max()) if len(counts) else 0, 1)
    pad_l, pad_b, pad_t = 28, 18, 16
    w, h = width - pad_l - 4, height - pad_b - pad_t
    bw = w / bins
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"class='hist' data-n='{len(v)}'><title>{_esc(title)}</title>",
             f"<text x='{pad_l}' y='11' font-size='11'>{_esc(title)} (n={len(v)})</text>"]
    for k, c in enumerate(counts):
        bh = h * c / top
        parts.append(f"<rect x='{pad_l + k * bw:.1f}' y='{pad_t + h - bh:.1f}' width='{max(bw - 1, 0.5):.1f}' "
                     f"height='{bh:.1f}' fill='#4a78c2'><title>{edges[k]:.3f}-{edges[k + 1]:.3f}: {c}</title></rect>")
    parts.append(f"<line x1='{pad_l}' y1='{pad_t + h}' x2='{pad_l + w}' y2='{pad_t + h}' stroke='#333'/>")
    parts.append(f"<text x='{pad_l}' y='{height - 4}' font-size='10'>{lo:.3f}</text>")
    parts.append(f"<text x='{pad_l + w}' y='{height - 4}' font-size='10' text-anchor='end'>{hi:.3f}</text>")
    parts.append(f"<text x='{pad_l - 3}' y='{pad_t + 8}' font-size='10' text-anchor='end'>{top}</text>")
    parts.append("</svg>")
    return "".join(parts)


def status_counts(data: ReportData) -> List[Dict[str, Any]]:
    """One row per method: number of items per status."""
    statuses = sorted({s for col in data.status for s in col}, key=lambda s: (s != "ok", s))
    return [{"method": m, **{s: col.count(s) for s in statuses}} for m, col in zip(data.methods, data.status)]


def _json_block(obj: Any) -> str:
    text = json.dumps(json_safe(obj), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_data(data: ReportData, n_extreme: int, page_size: int, pair_page_size: int) -> Dict[str, Any]:
    """The JSON the page's script reads (statuses as indices into ``statuses``; messages only where set)."""
    statuses = sorted({s for col in data.status for s in col}, key=lambda s: (s != "ok", s))
    index = {s: k for k, s in enumerate(statuses)}
    return {
        "methods": data.methods, "keys": data.keys, "metric": data.metric, "lower_better": data.lower_better,
        "statuses": statuses,
        "status": [[index[s] for s in col] for col in data.status],
        "scores": [[None if s is None or not math.isfinite(s) else round(float(s), 6) for s in col] for col in data.scores],
        "messages": [[m or "" for m in col] for col in data.messages],
        "thumbs": data.thumbs,
        "n_extreme": n_extreme, "page_size": page_size, "pair_page_size": pair_page_size,
    }


def render_page(data: ReportData, sections: Sequence[tuple] = (), n_extreme: int = 10,
                page_size: int = 120, pair_page_size: int = 40) -> str:
    """The page's HTML text. ``sections``: ``(heading, html)`` pairs placed after the title (tables)."""
    n_methods = len(data.methods)
    finite = [s for col in data.scores for s in col if s is not None and math.isfinite(s)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    hists = "".join(histogram_svg(col, lo, hi, f"{m}: {data.metric}") for m, col in zip(data.methods, data.scores))
    direction = "lower is better" if data.lower_better else "higher is better"
    body = [f"<h1>{_esc(data.title)}</h1>",
            f"<p class='note'>{len(data.keys)} images, {n_methods} method(s); score: {_esc(data.metric)} ({direction}). "
            "Everything on this page is in this file or the folder beside it; nothing is fetched from a network.</p>"]
    for heading, content in sections:
        body.append(f"<h2>{_esc(heading)}</h2>{content}")
    body.append("<h2>Statuses</h2>" + html_table(status_counts(data)))
    body.append(f"<h2>Score distribution</h2><div class='hists'>{hists}</div>")
    body.append("<div class='controls'><label>method <select id='method'></select></label></div>")
    body.append("<h2>The <span id='n-worst'></span> worst</h2><div id='worst' class='strip'></div>")
    body.append("<h2>The <span id='n-best'></span> best</h2><div id='best' class='strip'></div>")
    body.append("<h2>All faces by score (<span id='grid-count'></span>)</h2>"
                "<div class='controls'><label>order <select id='order'><option value='desc'>best first</option>"
                "<option value='asc'>worst first</option></select></label>"
                "<span>status: <span id='statuses'></span></span>"
                "<label>score from <input id='lo' type='number' step='any' size='6'></label>"
                "<label>to <input id='hi' type='number' step='any' size='6'></label></div>"
                "<div id='grid-pager'></div><div id='grid' class='grid'></div>")
    if n_methods >= 2:
        body.append("<h2>Side by side: largest differences first (<span id='pair-count'></span> faces)</h2>"
                    "<div class='controls'><label>A <select id='pair-a'></select></label>"
                    "<label>B <select id='pair-b'></select></label><span class='note'>ordered by |A - B|</span></div>"
                    "<div id='pair-pager'></div><div id='pairs'></div>")
    data_json = _json_block(page_data(data, n_extreme, page_size, pair_page_size))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        f"<meta name='viewport' content='width=device-width'><title>{_esc(data.title)}</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) +
        f"\n<script type='application/json' id='data'>{data_json}</script>\n<script>{JS}</script>\n</body></html>\n"
    )


def write_page(path: Path, data: ReportData, sections: Sequence[tuple] = (), **kwargs: Any) -> Path:
    """Render and write the page atomically; returns ``path``."""
    return atomic_write_text(path, render_page(data, sections, **kwargs))
