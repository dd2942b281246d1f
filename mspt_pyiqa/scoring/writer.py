"""Result rows, atomic CSV/JSON files, summary and a readable table.

Columns (:data:`COLUMNS`): ``path`` (as given / expanded), ``face`` (0-based index, largest
face first; 0 for whole-image scoring; empty without a face), ``box`` (``"x,y,w,h"`` in
pixels of the upright image; the whole image without ``--detect``), ``score`` (MSPT
quality, higher is better; empty unless ``status == ok``), ``status`` (``ok``, ``no_face``
or an error kind: ``not_found``, ``not_image``, ``corrupt``, ``too_small``, ``too_large``,
``unsupported``, ``error``) and ``message`` (what went wrong or what was converted).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pandas as pd

from mspt_pyiqa.utils.text import plural

COLUMNS = ["path", "face", "box", "score", "status", "message"]
DONE_STATUSES = ("ok", "no_face")  # final outcomes; anything else is retried by --resume

Row = Dict[str, Any]


def output_format(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"output {path}: use a .csv or .json file name")
    return suffix[1:]


def _frame(rows: Sequence[Row]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    df["face"] = df["face"].astype("Int64")
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    return df


def write_results(rows: Sequence[Row], path: Path) -> None:
    """Write ``rows`` to ``path`` (.csv or .json) through a temporary file + ``os.replace``."""
    path = Path(path)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        df = _frame(rows)
        if fmt == "csv":
            df.to_csv(tmp, index=False, float_format="%.6f")
        else:
            records = [
                {k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v) for k, v in r.items()}
                for r in df.astype(object).to_dict(orient="records")
            ]
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(records, fh, indent=1, default=lambda o: int(o) if hasattr(o, "__int__") else str(o))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_results(path: Path) -> List[Row]:
    """Rows of a results file written by :func:`write_results`."""
    path = Path(path)
    if output_format(path) == "csv":
        df = pd.read_csv(path, dtype={"path": str, "box": str, "status": str, "message": str}, keep_default_na=False)
    else:
        with open(path, "r", encoding="utf-8") as fh:
            df = pd.DataFrame(json.load(fh))
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path} is not an mspt-face results file (missing columns {sorted(missing)})")
    rows = []
    for r in df[COLUMNS].to_dict(orient="records"):
        face = r["face"]
        r["face"] = None if face in ("", None) or (isinstance(face, float) and math.isnan(face)) else int(face)
        score = r["score"]
        r["score"] = None if score in ("", None) or (isinstance(score, float) and math.isnan(score)) else float(score)
        r["box"] = "" if r["box"] is None else str(r["box"])
        r["message"] = "" if r["message"] is None else str(r["message"])
        rows.append(r)
    return rows


def summarize(rows: Sequence[Row]) -> Dict[str, Any]:
    """Counts per file and face: images, faces scored, no-face images, failed images, mean score."""
    paths = {r["path"] for r in rows}
    ok = [r for r in rows if r["status"] == "ok"]
    failed = {r["path"] for r in rows if r["status"] not in DONE_STATUSES}
    scores = [r["score"] for r in ok if r["score"] is not None]
    return {
        "images": len(paths),
        "images_scored": len({r["path"] for r in ok}),
        "faces_scored": len(ok),
        "no_face": len({r["path"] for r in rows if r["status"] == "no_face"}),
        "failed": len(failed),
        "mean_score": (sum(scores) / len(scores)) if scores else None,
    }


def format_summary(s: Dict[str, Any]) -> str:
    mean = "n/a" if s["mean_score"] is None else f"{s['mean_score']:.4f}"
    return (
        f"images: {s['images']}  scored: {s['images_scored']} ({plural(s['faces_scored'], 'face')})  "
        f"no face: {s['no_face']}  failed: {s['failed']}  mean score: {mean}"
    )


def format_table(rows: Sequence[Row], limit: int = 20) -> str:
    """Fixed-width table of the first ``limit`` rows (the file holds them all)."""
    df = _frame(rows[:limit]).astype(object).fillna("")
    df["message"] = df["message"].astype(str).str.slice(0, 60)
    text = df.to_string(index=False)
    if len(rows) > limit:
        text += f"\n... {len(rows) - limit} more rows in the results file"
    return text


def error_row(path: str, status: str, message: str, face: Optional[int] = None) -> Row:
    return {"path": path, "face": face, "box": "", "score": None, "status": status, "message": message}
