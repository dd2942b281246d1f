"""The per-(dataset, metric) cache of scores and results.

Layout under ``<out>/cache/<dataset>/``: ``<metric>.scores.csv`` (columns ``path, score,
error``; one row per image scored so far, rewritten atomically every few images) and
``<metric>.json`` (the finished result, with the fingerprint of the inputs it was computed
from). A rerun reuses finished results whose fingerprint matches and continues scoring
from the rows already in the scores file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

import pandas as pd

# The one home of atomic writes; re-exported here for the modules that import them from the cache.
from mspt_pyiqa.utils.io import atomic_write_json, atomic_write_text  # noqa: F401


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
