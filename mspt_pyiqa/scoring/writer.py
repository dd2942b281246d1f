"""Result rows, atomic CSV/JSON files, summary and a readable table.

Columns (:data:`COLUMNS`): ``path`` (as given / expanded, in the escaped form of
:mod:`mspt_pyiqa.scoring.cells` when it holds bytes that are not UTF-8), ``face`` (0-based index, largest
face first; 0 for whole-image scoring; empty without a face), ``box`` (``"x,y,w,h"`` in
pixels of the upright image; the whole image without ``--detect``), ``score`` (MSPT
quality, higher is better; empty unless ``status == ok``), ``status`` (``ok``, ``no_face``
or an error kind: ``not_found``, ``not_image``, ``corrupt``, ``too_small``, ``too_large``,
``unsupported``, ``error``) and ``message`` (what went wrong or what was converted).

Optional column (:data:`OPTIONAL_COLUMNS`, written right after ``score`` when the rows carry
it): ``percentile``, the score's percentile (0-100, one decimal) among the clean photos of the
release's reference file (``mspt-face score --percentile``; :func:`set_percentiles`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import pandas as pd

from mspt_pyiqa.scoring.cells import escape_path, escape_text, neutralise, unescape_path, unneutralise
from mspt_pyiqa.utils.io import atomic_write_text
from mspt_pyiqa.utils.text import plural

COLUMNS = ["path", "face", "box", "score", "status", "message"]
PERCENTILE = "percentile"
OPTIONAL_COLUMNS = [PERCENTILE]  # written after "score" when any row has the key
DONE_STATUSES = ("ok", "no_face")  # final outcomes; anything else is retried by --resume

Row = Dict[str, Any]


def output_format(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"output {path}: use a .csv or .json file name")
    return suffix[1:]


def columns_of(rows: Sequence[Row]) -> List[str]:
    """:data:`COLUMNS`, plus ``percentile`` after ``score`` when any row carries it."""
    if not any(PERCENTILE in r for r in rows):
        return list(COLUMNS)
    i = COLUMNS.index("score") + 1
    return COLUMNS[:i] + [PERCENTILE] + COLUMNS[i:]


def set_percentiles(rows: Sequence[Row], percentile_of: Optional[Callable[[float], float]]) -> List[Row]:
    """Copies of ``rows`` with ``percentile`` = ``percentile_of(score)`` rounded to 0.1 for ``ok`` rows
    (``None`` for the others); ``percentile_of=None`` removes the column instead."""
    out = []
    for r in rows:
        r = {k: v for k, v in r.items() if k != PERCENTILE}
        if percentile_of is not None:
            score = r.get("score")
            ok = r.get("status") == "ok" and score is not None and math.isfinite(score)
            r[PERCENTILE] = round(float(percentile_of(score)), 1) if ok else None
        out.append(r)
    return out


def _frame(rows: Sequence[Row]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=columns_of(rows))
    df["face"] = df["face"].astype("Int64")
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    if PERCENTILE in df.columns:
        df[PERCENTILE] = pd.to_numeric(df[PERCENTILE], errors="coerce")
    return df


def _text_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """Rows with paths in their escaped form and messages made UTF-8-safe (see :mod:`.cells`)."""
    safe = [
        {**r, "path": escape_path(r.get("path", "")),
         "message": "" if r.get("message") is None else escape_text(r["message"])}
        for r in rows
    ]
    return _frame(safe)


def results_text(rows: Sequence[Row], fmt: str) -> str:
    """The text of a results file (``fmt`` ``csv`` or ``json``): always valid UTF-8.

    Paths are in :func:`~mspt_pyiqa.scoring.cells.escape_path`'s escaped form; in CSV every
    text cell a spreadsheet would read as a formula is neutralised with a leading ``'``.
    """
    df = _text_frame(rows)
    if fmt == "csv":
        for col in ("path", "box", "status", "message"):
            df[col] = [v if v is None or v is pd.NA else neutralise(str(v)) for v in df[col]]
        if PERCENTILE in df.columns:  # one decimal, not the scores' six
            df[PERCENTILE] = ["" if pd.isna(v) else f"{v:.1f}" for v in df[PERCENTILE]]
        return df.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    records = [
        {k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v) for k, v in r.items()}
        for r in df.astype(object).to_dict(orient="records")
    ]
    return json.dumps(records, indent=1, default=lambda o: int(o) if hasattr(o, "__int__") else str(o)) + "\n"


def write_results(rows: Sequence[Row], path: Path) -> None:
    """Write ``rows`` to ``path`` (.csv or .json) atomically (:func:`~mspt_pyiqa.utils.io.atomic_write_text`).

    The file gets the permissions a plain ``open`` gives (umask respected); a failed write
    leaves the previous file as it was and no temporary file behind.
    """
    path = Path(path)
    atomic_write_text(path, results_text(rows, output_format(path)))


def _read_frame(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        for col in ("path", "box", "status", "message"):
            if col in df.columns:
                df[col] = [unneutralise(v) for v in df[col]]
        return df
    with open(path, "r", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("a JSON results file holds a list of row objects")
    return pd.DataFrame(data, columns=COLUMNS if not data else None)


def read_results(path: Path) -> List[Row]:
    """Rows of a results file written by :func:`write_results` (paths unescaped, CSV cells un-neutralised).

    Raises ``ValueError`` naming the file when it is not an mspt-face results file.
    """
    path = Path(path)
    fmt = output_format(path)
    try:
        df = _read_frame(path, fmt)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not an mspt-face results file ({first})") from err
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path} is not an mspt-face results file (missing columns {sorted(missing)})")
    columns = COLUMNS + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    rows = []
    for i, r in enumerate(df[columns].to_dict(orient="records")):
        try:
            face = r["face"]
            r["face"] = None if face in ("", None) or (isinstance(face, float) and math.isnan(face)) else int(face)
            for key in ("score", PERCENTILE):
                if key in r:
                    v = r[key]
                    r[key] = None if v in ("", None) or (isinstance(v, float) and math.isnan(v)) else float(v)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path} is not an mspt-face results file (row {i + 1}: {err})") from err
        r["path"] = unescape_path("" if r["path"] is None else str(r["path"]))
        r["box"] = "" if r["box"] is None else str(r["box"])
        r["status"] = "" if r["status"] is None else str(r["status"])
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
    df = _text_frame(rows[:limit]).astype(object).fillna("")
    df["message"] = df["message"].astype(str).str.slice(0, 60)
    text = df.to_string(index=False)
    if len(rows) > limit:
        text += f"\n... {len(rows) - limit} more rows in the results file"
    return text


def error_row(path: str, status: str, message: str, face: Optional[int] = None) -> Row:
    return {"path": path, "face": face, "box": "", "score": None, "status": status, "message": message}
