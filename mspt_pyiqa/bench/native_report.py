"""Markdown report of the native-scale yardstick (``eval/native_scale.py``).

``results[arm][column]`` is a :func:`mspt_pyiqa.bench.native_figures.figures` list for the
arm (``both``, ``native``, ``realworld``) and metric column; ``bars[column]`` the
:func:`~mspt_pyiqa.bench.native_figures.bars` rows of a model column.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Sequence

from mspt_pyiqa.bench import native
from mspt_pyiqa.bench.native_figures import ALL, lookup
from mspt_pyiqa.utils.io import markdown_table

_FIG_NAMES = {"order": "order", "clean_beats_1": "clean > level 1", "srcc": "SRCC vs level"}
_ARM_TEXT = {
    "both": "both arms pooled (each photo's native and real-world ladders)",
    "native": "native arm: each photo at its own resolution",
    "realworld": "real-world arm: each photo resized to a short side drawn from 256-1024 px",
}


def cell(f: Mapping[str, object]) -> str:
    """``'0.965 [0.951, 0.977]'`` (value and 95% interval; no interval when not computed)."""
    v, lo, hi = float(f["value"]), float(f["lo"]), float(f["hi"])
    if math.isnan(lo):
        return f"{v:.3f}"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def headline_rows(per_metric: Mapping[str, Sequence[Mapping[str, object]]], labels: Mapping[str, str],
                  kinds: Sequence[str]) -> List[Dict[str, str]]:
    """One row per (figure, type), one column per metric."""
    rows: List[Dict[str, str]] = []
    for fig in ("order", "clean_beats_1"):
        for kind in list(kinds) + [ALL]:
            name = f"{_FIG_NAMES[fig]}, {native.label(kind) if kind != ALL else 'all six types'}"
            rows.append({"figure": name, **{labels[c]: cell(lookup(f, fig, kind)) for c, f in per_metric.items()}})
    rows.append({"figure": "SRCC vs level, all faces and types",
                 **{labels[c]: cell(lookup(f, "srcc", ALL)) for c, f in per_metric.items()}})
    return rows


def timing_text(tm: Mapping[str, object], labels: Mapping[str, str]) -> str:
    """One sentence: total minutes, each metric's share and seconds per image, threads and load."""
    msec: Mapping[str, float] = tm["metric_s"]  # type: ignore[assignment]
    mn: Mapping[str, int] = tm["metric_n"]  # type: ignore[assignment]
    total = float(tm["files_s"]) + sum(msec.values())
    per = ", ".join(f"{labels.get(k, k)} {v / 60:.1f} min ({v / max(mn.get(k, 1), 1):.2f} s/image)" for k, v in msec.items())
    load = tm["load_average_5min"]  # type: ignore[index]
    return (f"{total / 60:.1f} min in all ({float(tm['files_s']) / 60:.1f} min writing the degraded files; "
            f"scoring: {per}), summed over {tm['runs']} run(s) of this cache, {tm['threads']} torch thread(s) on "
            f"2 shared CPU cores (5-min load average {load['start']} at the start of the last run, {load['end']} at its end).")  # type: ignore[index]


def render_markdown(meta: Mapping[str, object], results: Mapping[str, Mapping[str, list]],
                    bars: Mapping[str, list], kinds: Sequence[str]) -> str:
    """The full report text."""
    metrics: Mapping[str, Mapping[str, object]] = meta["metrics"]  # type: ignore[assignment]
    labels = {c: str(m["label"]) for c, m in metrics.items()}
    tm: Mapping[str, object] = meta["timing"]  # type: ignore[assignment]
    per_set = ", ".join(f"{n} {s}" for s, n in meta["per_set"].items())  # type: ignore[union-attr]
    shorts = meta["short_sides"]  # type: ignore[assignment]
    lines = [
        "# Native-scale yardstick",
        "",
        "Held-out face photos degraded **at their own resolution** and saved as the files a user would",
        "have (JPEG levels as real .jpg files at that quality, every other level as lossless PNG), then",
        "scored on the file through the public path `pyiqa.create_metric('mspt_face', test_img_size=S)`,",
        "with pyiqa's NIQE and BRISQUE in the same run. Higher is better for every figure.",
        "",
        f"Made by: `{meta['command']}`",
        "",
        f"- Photos: {meta['photos']} held-out test photos ({per_set}); the corpus's split by source photo",
        "  (10% val, 10% test, seed 0), so no photo was used in training. Only the clean sets: the",
        "  All-Age-Faces photos are of unknown quality, so \"clean beats level 1\" is not well posed on them.",
        f"- Images: {meta['images']} (per photo and arm: the clean photo + 6 types x 4 levels).",
    ]
    for arm, s in shorts.items():  # type: ignore[union-attr]
        lines.append(f"- {_ARM_TEXT[arm].capitalize()}; short sides {s['min']}-{s['max']} px (median {s['median']:g}).")
    lines += [
        "- Time: " + timing_text(tm, labels)
        + f" That is {(float(tm['files_s']) + sum(tm['metric_s'].values())) / max(int(meta['photos']), 1):.0f} s per photo;"  # type: ignore[union-attr]
        " NIQE and BRISQUE on the large real-world images are the slow part, which sets the number of photos.",
        f"- Intervals: 95% percentile bootstrap over photos ({meta['boot']} draws, seed {meta['seed']});"
        " a photo's ladders move together.",
        "",
        "## Levels (mildest first)",
        "",
        "Spatial settings are stated for a 384 px short side and scaled with each photo's short side.",
        "",
    ]
    lv = meta["levels"]  # type: ignore[assignment]
    lines.append(markdown_table([{"type": native.label(k), **{f"level {e['level']}": e["setting"] for e in lv[k]}}
                                 for k in kinds]))
    lines += [
        "",
        "## Definitions",
        "",
        "- **order**: within-face order as `mspt_pyiqa.bench.order.order_accuracy` defines it: in every",
        "  ladder, each adjacent pair of levels (clean as level 0 vs level 1, 1 vs 2, 2 vs 3, 3 vs 4) counts",
        "  as correct when the less degraded image scores higher, ties count one half; pooled over photos.",
        "- **clean > level 1**: the same pairs at level 1 only: the share of ladders whose clean photo",
        "  scores above its mildest level.",
        "- **SRCC vs level**: Spearman correlation between score and minus level (0 = clean, 1-4; so a",
        "  metric that falls with the damage is positive) over every image of every photo and type.",
        "",
    ]
    arms = [a for a in ("native", "realworld") if a in results]
    head = arms[0]
    lines += [f"## Headline: {_ARM_TEXT[head]} ({meta['arm_photos'][head]} photos)", "",
              markdown_table(headline_rows(results[head], labels, kinds))]
    for arm in arms[1:] + (["both"] if "both" in results else []):
        n = meta["arm_photos"][arm] if arm in meta["arm_photos"] else meta["photos"]  # type: ignore[index,operator]
        lines += [f"## {_ARM_TEXT[arm][0].upper() + _ARM_TEXT[arm][1:]} ({n} photos)", "",
                  markdown_table(headline_rows(results[arm], labels, kinds))]
    lines += [
        "## Bars",
        "",
        "The bars on this yardstick for a release: order >= 0.97 and >= NIQE's for every type, the clean",
        "photo above level 1 for >= 95% of faces for every type, SRCC >= NIQE's + 0.03. Each is judged on",
        "every arm separately and is met only when it holds on all of them. The bars on the model card's",
        "older ladders and on speed are judged elsewhere.",
        "",
    ]
    bar_rows: List[Dict[str, str]] = []
    for c in bars[arms[0]]:
        for i, b in enumerate(bars[arms[0]][c]):
            row = {"model": labels[c], "bar": str(b["bar"])}
            met = True
            for arm in arms:
                ba = bars[arm][c][i]
                row[arm] = f"{ba['value']} ({'met' if ba['met'] else 'missed'})"
                met = met and bool(ba["met"])
            row["verdict"] = "met" if met else "missed"
            bar_rows.append(row)
    lines.append(markdown_table(bar_rows))
    lines += ["", "Per-figure values with intervals for every arm and metric: the `.csv` and `.json` next to this file.", ""]
    return "\n".join(lines)
