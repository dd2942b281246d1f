"""Atomic file writes and the per-(dataset, metric) cache of scores and results.

Layout under ``<out>/cache/<dataset>/``: ``<metric>.scores.csv`` (columns ``path, score,
error``; one row per image scored so far, rewritten atomically every few images) and
``<metric>.json`` (the finished result, with the fingerprint of the inputs it was computed
from). A rerun reuses finished results whose fingerprint matches and continues scoring
from the rows already in the scores file.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

import pandas as pd


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder + ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: Path, data: Any) -> None:
    """JSON with NaN/inf written as ``null`` (strict JSON)."""
    atomic_write_text(path, json.dumps(_json_safe(data), indent=1, sort_keys=False) + "\n")


def fingerprint(parts: Iterable[str]) -> str:
    """sha1 over the given strings (inputs a cached result depends on)."""
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def safe_name(name: str) -> str:
    """File-system-safe version of a metric/dataset name."""
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)


class MetricCache:
    """Scores and result of one metric (``key``, e.g. ``mspt_face@1a2b3c4d``) on one dataset."""

    def __init__(self, root: Path, dataset: str, key: str) -> None:
        self.dir = root / "cache" / safe_name(dataset)
        self.scores_path = self.dir / f"{safe_name(key)}.scores.csv"
        self.result_path = self.dir / f"{safe_name(key)}.json"

    def load_scores(self) -> Dict[str, Tuple[float, str]]:
        """``{image path: (score, error)}`` scored so far (empty when nothing is cached)."""
        if not self.scores_path.is_file():
            return {}
        df = pd.read_csv(self.scores_path, dtype={"path": str, "error": str}, keep_default_na=False)
        return {p: (float(s) if s != "" else float("nan"), e) for p, s, e in zip(df["path"], df["score"], df["error"])}

    def save_scores(self, scores: Dict[str, Tuple[float, str]]) -> None:
        df = pd.DataFrame(
            [(p, s, e) for p, (s, e) in scores.items()], columns=["path", "score", "error"]
        )
        atomic_write_text(self.scores_path, df.to_csv(index=False))

    def load_result(self, fp: str) -> Optional[Dict[str, Any]]:
        """The finished result when its fingerprint is ``fp``, else None."""
        if not self.result_path.is_file():
            return None
        try:
            data = json.loads(self.result_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if data.get("fingerprint") == fp else None

    def save_result(self, data: Dict[str, Any]) -> None:
        atomic_write_json(self.result_path, data)
