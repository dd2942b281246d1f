"""Converters from the face IQA layouts users have into the common meta-info CSV.

Layouts:

* ``pyiqa``: a pyiqa meta-info CSV (GFIQA-20k, CGFIQA-40k with ``official_split``, or any
  CSV with path, MOS and ``*split*`` columns) plus the image folder;
* ``vquala``: the VQualA 2025 FIQA challenge layout: ``train.csv`` without header
  (``image_name,score``; ``.png`` appended when a name has no extension), images in
  ``train/`` (and ``val/``, with an optional ``val.csv`` of the same form);
* ``folder``: any image folder plus a CSV with named path and score columns, with MOS
  normalisation (raw range, lower-is-better) and a seeded train/val/test split.

Every converter writes ``dist_img`` (relative to the output CSV's folder), ``mos`` in
[0, 1] (higher is better), ``split`` and ``source_set``; the output loads with
``FaceIQADataset`` or pyiqa's ``GeneralNRDataset`` (``split_index: split``).
Command line: ``python -m mspt_pyiqa.data.convert {pyiqa,vquala,folder} ...``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from mspt_pyiqa.data.meta import MetaInfoError, hash_split, normalize_mos, read_meta_csv, write_meta_csv

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _relative(paths: Sequence[Path], out_csv: Path) -> list:
    base = out_csv.resolve().parent
    return [os.path.relpath(Path(p).resolve(), base) for p in paths]


def _drop_missing(frame: pd.DataFrame, abs_paths: list, what: str) -> tuple:
    exists = [Path(p).is_file() for p in abs_paths]
    missing = [p for p, ok in zip(abs_paths, exists) if not ok]
    if missing:
        logger.warning("%s: %d image(s) listed but not found, skipped (first: %s)", what, len(missing), missing[0])
    keep = pd.Series(exists, index=frame.index)
    return frame[keep].reset_index(drop=True), [p for p, ok in zip(abs_paths, exists) if ok]


def _finish(frame: pd.DataFrame, abs_paths: list, out_csv: Path, source_set: str) -> pd.DataFrame:
    if frame.empty:
        raise MetaInfoError(f"no usable images for {out_csv}")
    out = frame.copy()
    out["dist_img"] = _relative(abs_paths, out_csv)
    out["source_set"] = source_set
    write_meta_csv(out, out_csv)
    logger.info("wrote %s (%d images, splits %s)", out_csv, len(out), out["split"].value_counts().to_dict())
    return out


def convert_pyiqa_meta(
    meta_csv: Path,
    image_root: Path,
    out_csv: Path,
    split_column: Optional[str] = None,
    mos_range: Optional[Sequence[float]] = None,
    lower_better: bool = False,
    source_set: str = "",
    path_column: Optional[str] = None,
    mos_column: Optional[str] = None,
) -> pd.DataFrame:
    """pyiqa meta-info CSV (path, MOS, ``*split*`` columns) -> common meta-info CSV.

    ``split_column`` (e.g. CGFIQA-40k's ``official_split``) is copied to ``split``; without
    one, every row is ``train``. MOS are normalised with :func:`normalize_mos`.
    """
    meta_csv, image_root, out_csv = Path(meta_csv), Path(image_root), Path(out_csv)
    frame = read_meta_csv(meta_csv, path_column, mos_column)
    if split_column is not None:
        if split_column not in frame.columns:
            raise MetaInfoError(f"{meta_csv}: split column {split_column!r} not found (columns: {list(frame.columns)})")
        frame["split"] = frame[split_column].astype(str)
    elif "split" not in frame.columns:
        frame["split"] = "train"
    frame["mos"] = normalize_mos(frame["mos"], mos_range, lower_better)
    abs_paths = [image_root / p for p in frame["dist_img"]]
    frame, abs_paths = _drop_missing(frame, abs_paths, str(meta_csv))
    return _finish(frame, abs_paths, out_csv, source_set or meta_csv.stem)


def read_vquala_rows(csv_path: Path, image_dir: Path) -> pd.DataFrame:
    """A VQualA label file (no header, ``image_name,score``) as written: frame ``line`` (1-based),
    ``name``, ``score`` (the cell's text, unchecked) and ``path``.

    The one reader of the layout: ``.png`` is appended to names without an image extension (the
    challenge's convention). :func:`read_vquala_labels` and the leaderboard's audit build on it.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise MetaInfoError(f"VQualA label file not found: {csv_path}")
    frame = pd.read_csv(csv_path, header=None, names=["name", "score"], dtype=str, keep_default_na=False)
    frame.insert(0, "line", range(1, len(frame) + 1))
    frame["name"] = [n if Path(n).suffix.lower() in IMAGE_SUFFIXES else n + ".png" for n in frame["name"].astype(str)]
    frame["path"] = [str(Path(image_dir) / n) for n in frame["name"]]
    return frame


def read_vquala_labels(csv_path: Path, image_dir: Path) -> pd.DataFrame:
    """A VQualA label file -> frame ``name, mos, path`` (rows without a numeric score skipped, with a warning)."""
    frame = read_vquala_rows(csv_path, image_dir)
    frame["mos"] = pd.to_numeric(frame["score"], errors="coerce")
    bad = frame["mos"].isna()
    if bool(bad.any()):
        # A header line or a broken row: name it and keep going.
        logger.warning("%s: %d row(s) without a numeric score skipped (first: line %d, %r)", csv_path,
                       int(bad.sum()), int(frame["line"][bad].iloc[0]), frame["name"][bad].iloc[0])
        frame = frame[~bad].reset_index(drop=True)
    return frame[["name", "mos", "path"]]


def vquala_frame(
    root: Path,
    val_ratio: float = 0.1,
    seed: int = 0,
    label_file: str = "train.csv",
    image_folder: str = "train",
    val_label_file: str = "val.csv",
    val_folder: str = "val",
    mos_range: Optional[Sequence[float]] = None,
    lower_better: bool = False,
) -> pd.DataFrame:
    """All labelled VQualA images as ``dist_img`` (absolute), ``mos``, ``split``.

    ``train.csv`` rows are split train/val by a seeded permutation (``val_ratio``) because
    the challenge's val labels are not always available; when ``val.csv`` exists beside
    it, its rows (images in ``val/``) become the ``test`` split.
    """
    root = Path(root)
    train = read_vquala_labels(root / label_file, root / image_folder)
    train["split"] = hash_split(list(train["name"]), val_ratio, 0.0, seed)
    parts = [train]
    if (root / val_label_file).is_file():
        val = read_vquala_labels(root / val_label_file, root / val_folder)
        val["split"] = "test"
        parts.append(val)
    frame = pd.concat(parts, ignore_index=True)
    frame["mos"] = normalize_mos(frame["mos"], mos_range, lower_better)
    return pd.DataFrame({"dist_img": frame["path"], "mos": frame["mos"], "split": frame["split"]})


def convert_vquala(root: Path, out_csv: Path, source_set: str = "vquala2025", **kwargs) -> pd.DataFrame:
    """VQualA 2025 FIQA layout -> common meta-info CSV (see :func:`vquala_frame` for options)."""
    frame = vquala_frame(root, **kwargs)
    frame, abs_paths = _drop_missing(frame, list(frame["dist_img"]), str(root))
    return _finish(frame, abs_paths, Path(out_csv), source_set)


def convert_folder_csv(
    image_root: Path,
    label_csv: Path,
    out_csv: Path,
    path_column: str,
    mos_column: str,
    mos_range: Optional[Sequence[float]] = None,
    lower_better: bool = False,
    split_column: Optional[str] = None,
    val_ratio: float = 0.1,
    test_ratio: float = 0.1,
    seed: int = 0,
    source_set: str = "",
) -> pd.DataFrame:
    """Image folder + CSV with named columns -> common meta-info CSV.

    Without ``split_column`` the rows are split train/val/test by a seeded permutation.
    """
    label_csv = Path(label_csv)
    frame = read_meta_csv(label_csv, path_column, mos_column)
    abs_paths = [Path(image_root) / p for p in frame["dist_img"]]
    frame, abs_paths = _drop_missing(frame, abs_paths, str(label_csv))  # before splitting: exact ratios
    if split_column:
        if split_column not in frame.columns:
            raise MetaInfoError(f"{label_csv}: split column {split_column!r} not found")
        frame["split"] = frame[split_column].astype(str)
    else:
        frame["split"] = hash_split(list(frame["dist_img"]), val_ratio, test_ratio, seed)
    frame["mos"] = normalize_mos(frame["mos"], mos_range, lower_better)
    return _finish(frame, abs_paths, Path(out_csv), source_set or label_csv.stem)
