"""Any meta-info CSV as the metric sees it, so images made at one size train on the scoring path.

``mspt-face corpus metric-views`` reads a meta-info CSV (for example the corpus's 224 px
stage or its ``--levels`` ladders) and writes every image as a release of input size ``S``
(and, optionally, detail view ``D``) would feed it to the network:

* the image's centre square (corpus images are square crops; only the pristine references
  keep their aspect, so the square frames every image of a photo alike), as a [0, 1] float
  tensor ``(1, 3, h, h)``;
* resized to ``S`` by :func:`mspt_pyiqa.preprocess.resize_to_test_size` (a 224 px face is
  **enlarged** to a 320 px release's input, exactly as ``create_metric`` does);
* its detail view by :func:`mspt_pyiqa.preprocess.detail_view` (for an image smaller than
  ``D`` and ``D == S`` this is the same picture, so the file is shared).

Why: a user's 224 px face crop is degraded at 224 px and then enlarged by the metric. Native
ladders start at 256 px, so a release trained only on them never sees damage made on a small
face and then enlarged; on such crops it lost the JPEG and noise order the earlier releases
had (``research/experiment_log.md``).

Layout of ``--out``::

    <S>/<path of the input image>.png       the resized view (relative paths are kept)
    detail<D>/<path>.png                    the detail view, when it differs from the resized view
    <S>/<csv stem>.csv                      the input's columns, ``dist_img`` (and ``detail_img``)
                                            pointing at the new files, ``short_side`` = the
                                            image's own size (``ref_img`` dropped)

With ``ladders=True`` the corpus's levels layout (no ``ladder_id``; the level-0 row of a photo
heads all its kinds) becomes the explicit ladder layout of
:mod:`mspt_pyiqa.train.ladder_data`: one ``ladder_id`` per (photo, kind), the level-0 row
repeated in each, ``source_id`` suffixed with ``@<short side>`` (the same photo at another size
is another ladder photo), and the corpus's ``severity`` (its own 0-1 scale, not the
yardstick's) renamed ``corpus_severity``: the rows carry no ``severity``, so a
``train.ladder.cross_loss`` leaves them out.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pandas as pd
from tqdm import tqdm

from mspt_pyiqa.corpus.native_ladders import center_square, png_bytes, detail_folder
from mspt_pyiqa.corpus.sources import SourceImageError, load_rgb
from mspt_pyiqa.data.meta import DETAIL_COLUMN, MetaInfoError, read_meta_csv
from mspt_pyiqa.preprocess import detail_view, resize_to_test_size
from mspt_pyiqa.utils.io import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)


def view_paths(rel: str, size: int, detail_size: Optional[int], short: int) -> Tuple[str, Optional[str]]:
    """``(image, detail)`` paths of one input (relative to ``--out``); the detail path is the
    image's own when the detail view equals the resized view (short side <= ``D == S``)."""
    name = str(Path(rel).with_suffix(".png"))
    image = f"{size}/{name}"
    if not detail_size:
        return image, None
    if int(detail_size) == int(size) and short <= int(size):
        return image, image
    return image, f"{detail_folder(int(detail_size))}/{name}"


def _write_views(job: Tuple[str, str, Path, int, Optional[int]]) -> Tuple[str, int, int]:
    """Write one input's views (files already there are kept); returns ``(rel, short side, files written)``."""
    from mspt_pyiqa.bench.native import to_tensor

    rel, src, out, size, detail_size = job
    img = center_square(load_rgb(Path(src)))
    short = int(min(img.shape[:2]))
    image, detail = view_paths(rel, size, detail_size, short)
    makers = {image: lambda t: resize_to_test_size(t, size)}
    if detail is not None and detail != image:
        makers[detail] = lambda t: detail_view(t, int(detail_size))
    todo = [p for p in makers if not (out / p).is_file()]
    if todo:
        x = to_tensor(img).unsqueeze(0)
        for path in todo:
            atomic_write_bytes(out / path, png_bytes(makers[path](x)[0]))
    return rel, short, len(todo)


def explicit_ladders(frame: pd.DataFrame, meta: Path) -> pd.DataFrame:
    """The corpus's levels layout as explicit ladders (see module docstring); needs ``short_side``."""
    for col in ("source_id", "degradation", "level"):
        if col not in frame.columns:
            raise MetaInfoError(f"{meta}: --ladders needs the corpus's levels layout (columns source_id, degradation, level)")
    frame = frame.rename(columns={"severity": "corpus_severity"}) if "severity" in frame.columns else frame.copy()
    frame["source_id"] = [f"{s}@{int(n)}" for s, n in zip(frame["source_id"].astype(str), frame["short_side"])]
    clean = frame[frame["level"].astype(int) == 0].drop_duplicates("source_id").set_index("source_id")
    parts: List[pd.DataFrame] = []
    for (photo, kind), rows in frame[frame["level"].astype(int) > 0].groupby(["source_id", "degradation"], sort=False):
        if photo not in clean.index:
            raise MetaInfoError(f"{meta}: photo {photo!r} has {kind} rows but no level-0 row")
        head = clean.loc[[photo]].reset_index()
        ladder = pd.concat([head, rows], ignore_index=True)
        ladder["ladder_id"] = f"{photo}/{kind}"
        parts.append(ladder)
    if not parts:
        raise MetaInfoError(f"{meta}: no degraded rows (level > 0) to make ladders of")
    # dist_img and mos stay the first two columns (what the common CSV reader takes as path and MOS).
    return pd.concat(parts, ignore_index=True)[list(frame.columns) + ["ladder_id"]]


def build_metric_views(meta_info_file: Path, out: Path, size: int, detail_size: Optional[int] = None,
                       ladders: bool = False, dataroot: Optional[Path] = None, workers: int = 1,
                       progress: bool = True) -> Dict[str, object]:
    """Write ``meta_info_file``'s images as a release of input ``size`` (+ ``detail_size``) sees them.

    Returns ``{"rows", "images", "files_written", "csv"}``. Raises ``ValueError`` for a size
    below 16 px, :class:`MetaInfoError` for a CSV without ``dist_img`` (or, with ``ladders``,
    without the levels layout) and :class:`SourceImageError` naming an unreadable image.
    Rerunning resumes: files already written are kept.
    """
    if int(size) < 16 or (detail_size is not None and int(detail_size) < 16):
        raise ValueError(f"--size and --detail-size must be >= 16 px, got {size} and {detail_size}")
    meta = Path(meta_info_file)
    frame = read_meta_csv(meta)
    if "dist_img" not in frame.columns:
        raise MetaInfoError(f"{meta}: needs a 'dist_img' column, columns: {list(frame.columns)}")
    root = Path(dataroot) if dataroot else meta.parent
    rels = list(dict.fromkeys(frame["dist_img"].astype(str)))
    missing = [r for r in rels if not (root / r).is_file()]
    if missing:
        raise SourceImageError(f"{meta}: {len(missing)} image(s) not found under {root}, e.g. {root / missing[0]}")
    jobs = [(r, str(root / r), Path(out), int(size), detail_size) for r in rels]
    shorts: Dict[str, int] = {}
    written = 0
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap_unordered(_write_views, jobs, chunksize=16), total=len(jobs),
                                desc="metric views", unit="img", disable=not progress))
    else:
        results = [_write_views(j) for j in tqdm(jobs, desc="metric views", unit="img", disable=not progress)]
    for rel, short, n in results:
        shorts[rel], written = short, written + n
    # ref_img would point into the input's folder, not at a view: dropped.
    frame = frame.drop(columns=["ref_img"], errors="ignore")
    frame["short_side"] = [shorts[r] for r in frame["dist_img"].astype(str)]
    views = [view_paths(r, int(size), detail_size, shorts[r]) for r in frame["dist_img"].astype(str)]
    # Paths relative to the CSV, which lives in <out>/<size>/.
    frame["dist_img"] = [str(Path(image).relative_to(str(size))) for image, _ in views]
    if detail_size:
        frame[DETAIL_COLUMN] = [f"../{d}" for _, d in views]
    if ladders:
        frame = explicit_ladders(frame, meta)
    csv = Path(out) / str(size) / f"{meta.stem}.csv"
    atomic_write_text(csv, frame.to_csv(index=False))
    log.info("%s: %d rows, %d images, %d files written -> %s", meta, len(frame), len(rels), written, csv)
    return {"rows": int(len(frame)), "images": len(rels), "files_written": written, "csv": str(csv)}
