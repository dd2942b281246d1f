"""Minimal readers for the three face-IQA layouts the leaderboard evaluates.

* ``pyiqa``: a pyiqa meta-info CSV (header row; first column image path relative to
  ``root``, second column MOS; optional reference column ``ref_column`` for FR metrics;
  optional ``*split*`` columns whose value selects rows).
* ``vquala``: the VQualA FIQA layout: ``<root>/<split>.csv`` without header
  (``image_name,score``), ``.png`` appended to names without extension, images in
  ``<root>/<split>/``.
* ``corpus``: the synthetic face corpus CSV (``dist_img, mos, ref_img, source_id,
  source_set, degradation, severity, level, stage, seed, split``), paths relative to the
  CSV's folder, MOS in [0, 1] (higher = better).

Kept independent of ``mspt_pyiqa.data`` (the training readers) on purpose: the benchmark
must read a dataset exactly as it is on disk, without training-time transforms.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from mspt_pyiqa.bench.audit import RawRow, check_spread, keep_rows, log_dropped
from mspt_pyiqa.data.converters import read_vquala_rows

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "pyiqa", "vquala", "corpus")
CORPUS_COLUMNS = ("dist_img", "mos", "ref_img", "source_id", "degradation", "level", "split")
# Columns kept per item for the within-photo order checks (corpus only).
ORDER_COLUMNS = ("source_id", "source_set", "degradation", "severity", "level")


@dataclasses.dataclass
class BenchItem:
    """One image: absolute path, MOS (higher = better), optional reference path, extra info."""

    path: Path
    mos: float
    ref: Optional[Path] = None
    info: Dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DatasetSpec:
    """Where a dataset is and how to read it (one ``--dataset`` argument)."""

    path: Path
    name: Optional[str] = None
    layout: str = "auto"
    root: Optional[Path] = None
    split: Optional[str] = None
    ref_column: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> "DatasetSpec":
        """Parse ``PATH`` or ``key=value,...`` (keys: path, name, layout, root, split, ref_column)."""
        if "=" not in text:
            return cls(path=Path(text))
        fields: Dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in {f.name for f in dataclasses.fields(cls)}:
                raise ValueError(f"bad dataset spec {text!r}: {part!r} is not key=value with a known key")
            fields[key.strip()] = value.strip()
        if "path" not in fields:
            raise ValueError(f"bad dataset spec {text!r}: 'path=' is required")
        layout = fields.get("layout", "auto")
        if layout not in LAYOUTS:
            raise ValueError(f"bad dataset spec {text!r}: layout must be one of {LAYOUTS}")
        return cls(
            path=Path(fields["path"]),
            name=fields.get("name"),
            layout=layout,
            root=Path(fields["root"]) if "root" in fields else None,
            split=fields.get("split"),
            ref_column=fields.get("ref_column"),
        )


@dataclasses.dataclass
class BenchDataset:
    """A read dataset: its items and what it supports."""

    name: str
    layout: str
    items: List[BenchItem]
    dropped: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # line, path, reason
    rows_read: int = 0

    def audit(self) -> Dict[str, Any]:
        """JSON-friendly account of the rows read, kept and left out (for the report)."""
        return {"rows_read": self.rows_read, "images": len(self.items), "dropped": list(self.dropped)}

    @property
    def has_ref(self) -> bool:
        """True when every item has a reference image (FR metrics apply)."""
        return bool(self.items) and all(it.ref is not None for it in self.items)

    @property
    def has_order(self) -> bool:
        """True when items carry source_id / degradation / level (within-photo order checks)."""
        return bool(self.items) and all(
            it.info.get("source_id") not in (None, "") and it.info.get("degradation") not in (None, "")
            for it in self.items
        )


def detect_layout(path: Path) -> str:
    """``vquala`` for a folder, ``corpus`` for a CSV with the corpus header, else ``pyiqa``."""
    if path.is_dir():
        return "vquala"
    if not path.is_file():
        raise FileNotFoundError(f"dataset {path}: no such file or folder")
    header = pd.read_csv(path, nrows=0).columns
    return "corpus" if all(c in header for c in CORPUS_COLUMNS) else "pyiqa"


def _read_corpus(spec: DatasetSpec) -> List[RawRow]:
    df = pd.read_csv(spec.path, dtype=str, keep_default_na=False)
    missing = [c for c in CORPUS_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"corpus CSV {spec.path}: missing columns {missing}")
    split = spec.split or "test"
    df = df[df["split"] == split]
    base = spec.root or spec.path.parent
    rows = []
    for line, row in zip(df.index, df.itertuples(index=False)):
        r = row._asdict()
        rows.append(RawRow(
            line=int(line) + 2,  # header is line 1
            path=base / r["dist_img"],
            mos=r["mos"],
            ref=(base / r["ref_img"]) if r["ref_img"] else None,
            info={c: str(r[c]) for c in ORDER_COLUMNS if c in r},
        ))
    return rows


def _read_pyiqa(spec: DatasetSpec) -> List[RawRow]:
    df = pd.read_csv(spec.path, keep_default_na=False, dtype=str)
    if df.shape[1] < 2:
        raise ValueError(f"meta-info CSV {spec.path}: needs at least 2 columns (image path, MOS)")
    split_cols = [c for c in df.columns if "split" in str(c).lower()]
    if spec.split is not None:
        if not split_cols:
            raise ValueError(f"meta-info CSV {spec.path}: split={spec.split!r} asked but no *split* column")
        df = df[df[split_cols[0]].astype(str) == spec.split]
    base = spec.root or spec.path.parent
    ref_col = spec.ref_column
    if ref_col is not None and ref_col not in df.columns:
        raise ValueError(f"meta-info CSV {spec.path}: ref_column {ref_col!r} not in {list(df.columns)}")
    path_col, mos_col = df.columns[0], df.columns[1]
    return [
        RawRow(
            line=int(line) + 2,
            path=base / str(row[path_col]),
            mos=row[mos_col],
            ref=(base / str(row[ref_col])) if ref_col else None,
        )
        for line, row in df.iterrows()
    ]


def _read_vquala(spec: DatasetSpec) -> List[RawRow]:
    split = spec.split or "train"
    csv = spec.path / f"{split}.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"VQualA dataset {spec.path}: {csv.name} not found")
    # The one VQualA reader (suffix rule) is the training data's; bad scores are audited here, by line.
    frame = read_vquala_rows(csv, spec.path / split)
    return [RawRow(line=int(line), path=Path(p), mos=score)
            for line, p, score in zip(frame["line"], frame["path"], frame["score"])]


def load_dataset(spec: DatasetSpec, max_images: Optional[int] = None, seed: int = 0) -> BenchDataset:
    """Read a dataset; with ``max_images``, a seeded subsample.

    Rows without a finite MOS and repeated images are left out, logged and kept in
    ``BenchDataset.dropped`` (:mod:`mspt_pyiqa.bench.audit`); a constant MOS is a
    ``ValueError``. For data with ``source_id`` (the corpus) the subsample keeps whole
    photos (all their degraded versions), so within-photo order checks still see complete groups.
    """
    layout = detect_layout(spec.path) if spec.layout == "auto" else spec.layout
    reader = {"corpus": _read_corpus, "pyiqa": _read_pyiqa, "vquala": _read_vquala}[layout]
    raw = reader(spec)
    name = spec.name or (spec.path.name if spec.path.is_dir() else spec.path.stem)
    if spec.split and not spec.name:
        name = f"{name}-{spec.split}"
    kept, dropped, values = keep_rows(raw)
    log_dropped(name, spec.path, dropped)
    check_spread(name, values)
    items = [BenchItem(path=r.path, mos=v, ref=r.ref, info=r.info) for r, v in zip(kept, values)]
    if max_images is not None and len(items) > max_images:
        items = _subsample(items, max_images, seed)
    logger.info("dataset %s (%s): %d images%s", name, layout, len(items), ", with references" if items and all(i.ref for i in items) else "")
    return BenchDataset(name=name, layout=layout, items=items, dropped=dropped, rows_read=len(raw))


def _subsample(items: List[BenchItem], max_images: int, seed: int) -> List[BenchItem]:
    rng = np.random.default_rng(seed)
    if all(it.info.get("source_id") for it in items):
        groups: Dict[str, List[int]] = {}
        for i, it in enumerate(items):
            groups.setdefault(it.info["source_id"], []).append(i)
        keep: List[int] = []
        for key in rng.permutation(sorted(groups)):
            if keep and len(keep) + len(groups[key]) > max_images:
                continue
            keep.extend(groups[key])
        return [items[i] for i in sorted(keep)]
    idx = np.sort(rng.choice(len(items), size=max_images, replace=False))
    return [items[i] for i in idx]
