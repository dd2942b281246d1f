"""The common meta-info CSV: reading, validating, normalising MOS, writing atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from mspt_pyiqa.utils.io import atomic_write_text

# Shared with the synthetic corpus (mspt_pyiqa/corpus): the first two columns are what
# pyiqa's GeneralNRDataset reads (path, MOS); ``split`` is what its ``split_index: split``
# option filters on (any position).
META_COLUMNS = ("dist_img", "mos", "split")
_LEADING = ("dist_img", "mos")
#: Optional column naming each image's detail view (:func:`mspt_pyiqa.preprocess.detail_view`),
#: the second input of a network with a detail view (``mspt-face corpus native-ladders --detail-size``).
DETAIL_COLUMN = "detail_img"


class MetaInfoError(ValueError):
    """A meta-info CSV or a dataset layout is unusable (message names the file)."""


def normalize_mos(values: Sequence[float], mos_range: Optional[Sequence[float]] = None, lower_better: bool = False) -> np.ndarray:
    """Map raw MOS to [0, 1], higher is better.

    Args:
        values: raw scores (NaN kept as NaN: "no label").
        mos_range: ``(low, high)`` of the raw scale; ``None`` keeps the values (then they
            must already be in [0, 1] for the recipes' losses to be on the usual scale).
        lower_better: the raw scale is lower-is-better (e.g. a distortion score): flip it.
    """
    arr = np.asarray(values, dtype=np.float64)
    if mos_range is not None:
        low, high = float(mos_range[0]), float(mos_range[1])
        if not high > low:
            raise MetaInfoError(f"mos_range must be (low, high) with high > low, got {mos_range}")
        arr = (arr - low) / (high - low)
    if lower_better:
        arr = 1.0 - arr
    return arr


def read_meta_csv(path: Path, path_column: Optional[str] = None, mos_column: Optional[str] = None) -> pd.DataFrame:
    """Read a meta-info CSV into a frame with ``dist_img`` and ``mos`` columns (others kept).

    ``path_column`` / ``mos_column`` default to the first and second columns (pyiqa's
    convention for its meta-info files).
    """
    path = Path(path)
    if not path.is_file():
        raise MetaInfoError(f"meta-info CSV not found: {path}")
    try:
        frame = pd.read_csv(path)
    except Exception as err:  # empty file, bad quoting...
        raise MetaInfoError(f"cannot read meta-info CSV {path}: {err}") from err
    if frame.shape[1] < 2 and mos_column is None:
        raise MetaInfoError(f"{path}: needs at least an image path column and a MOS column, has {list(frame.columns)}")
    path_column = path_column or frame.columns[0]
    mos_column = mos_column or frame.columns[1]
    for col in (path_column, mos_column):
        if col not in frame.columns:
            raise MetaInfoError(f"{path}: column {col!r} not found (columns: {list(frame.columns)})")
    frame = frame.rename(columns={path_column: "dist_img", mos_column: "mos"})
    frame["dist_img"] = frame["dist_img"].astype(str)
    frame["mos"] = pd.to_numeric(frame["mos"], errors="coerce")
    return frame


def write_meta_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` (``dist_img``, ``mos`` first) to ``path`` atomically (temp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    missing = [c for c in ("dist_img", "mos") if c not in frame.columns]
    if missing:
        raise MetaInfoError(f"cannot write {path}: columns {missing} missing")
    ordered = list(_LEADING) + [c for c in frame.columns if c not in _LEADING]
    return atomic_write_text(path, frame[ordered].to_csv(index=False, float_format="%.6f"))


def hash_split(names: Sequence[str], val_ratio: float, test_ratio: float = 0.0, seed: int = 0) -> list:
    """Deterministic train/val/test assignment of each name (a seeded permutation, stable across runs)."""
    n = len(names)
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(round(n * val_ratio)), int(round(n * test_ratio))
    split = ["train"] * n
    for rank, idx in enumerate(order):
        if rank < n_val:
            split[idx] = "val"
        elif rank < n_val + n_test:
            split[idx] = "test"
    return split
