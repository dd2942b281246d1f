"""Corpus builder: degraded face images + a pyiqa meta-info CSV per stage.

For every source photo of the stage's source sets, the builder writes the photo resized to
the stage resolution (``refs/``) and ``samples_per_source`` degraded versions drawn by the
stage's :class:`DegradationSampler` (``<stage>/``), all as lossless PNG (a lossy format
would add its own damage). Pristine samples point at the reference file.

Reproducibility: every row has a ``seed``; the degraded image equals
``regenerate(ref, degradation, severity, seed)`` for the written reference, so a corpus can
also be regenerated on the fly from its CSV. Resumable: rows of an existing CSV whose image
file exists are kept; everything else is (re)computed. The CSV is rewritten atomically
every ``flush_every`` photos and at the end. A source photo that cannot be read is logged
with its path and the reason, listed in ``<stage>_errors.csv`` and skipped.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from mspt_pyiqa.corpus.sampler import PRISTINE, DegradationSampler
from mspt_pyiqa.corpus.sources import (
    Source,
    SourceImageError,
    assign_splits,
    list_sources,
    load_rgb,
    resize_short,
    stable_hash,
)
from mspt_pyiqa.degrade import apply
from mspt_pyiqa.utils.io import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

#: Column order of the meta-info CSV (pyiqa reads dist_img, mos and the split columns).
COLUMNS = ("dist_img", "mos", "ref_img", "source_id", "source_set", "degradation", "severity",
           "level", "stage", "seed", "split", "tag", "parts")
SEED_MASK = (1 << 63) - 1
#: PNG bytes per raw RGB byte assumed when checking free space before a build: measured 0.39 (448 px)
#: to 0.44 (224 px) on the corpus's face photos, rounded up so the check errs towards refusing.
PNG_RATIO = 0.5


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


class CorpusSpaceError(ValueError):
    """A build would not fit in the free space of its output folder."""


def check_free_space(out_dir: Path, images: int, resolution: Optional[int], what: str) -> float:
    """Refuse a build of ``images`` PNGs at ``resolution`` px (short side) that would not fit.

    Returns the estimated bytes (0 when ``resolution`` is unknown, e.g. native size: no check).
    Raises :class:`CorpusSpaceError` naming ``what``, the estimate and the free space.
    """
    if not resolution or images <= 0:
        return 0.0
    need = float(images) * int(resolution) ** 2 * 3 * PNG_RATIO
    probe = Path(out_dir)
    while not probe.exists():  # the folder may not exist yet: ask its nearest existing parent
        probe = probe.parent
    free = float(shutil.disk_usage(probe).free)
    log.info("%s: %d images to write at %d px, about %s (%s free)", what, images, resolution, _size(need), _size(free))
    if need > free:
        raise CorpusSpaceError(
            f"{what}: {images} images at {resolution} px need about {_size(need)}, but only "
            f"{_size(free)} are free under {probe}; keep fewer photos per source set (--limit N) "
            f"or write to a larger disk (--out)")
    return need


@dataclass
class BuildResult:
    """Summary of one stage build."""

    csv_path: Path
    rows: int
    written: int  # degraded images written in this run
    resumed: int = 0  # rows kept from an earlier run of the same build
    errors: List[Tuple[str, str]] = field(default_factory=list)  # (source path, reason)


def regenerate(ref: np.ndarray, degradation: str, severity: float, seed: int) -> np.ndarray:
    """Recreate a corpus image from its reference and CSV row (``pristine`` -> a copy)."""
    if degradation == PRISTINE or severity <= 0:
        return ref.copy()
    return apply(ref, degradation, float(severity), np.random.default_rng(int(seed)))


def write_png_atomic(path: Path, rgb: np.ndarray) -> None:
    """Write RGB uint8 as PNG via a temp file + ``os.replace`` (no half-written images)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"could not encode PNG for {path}")
    atomic_write_bytes(path, buf.tobytes())


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV atomically (:func:`mspt_pyiqa.utils.io.atomic_write_text`)."""
    atomic_write_text(path, df.to_csv(index=False))


def _stem(source_id: str) -> str:
    return Path(source_id).with_suffix("").as_posix().replace("/", "__")


def _jobs_random(sampler: DegradationSampler, src: Source, n: int, stage: str, seed: int) -> List["Job"]:
    """``(kind, severity, tag, apply_seed, file_suffix)`` for n random draws of one photo."""
    jobs = []
    for i in range(n):
        draw_rng = np.random.default_rng(stable_hash(f"draw|{stage}|{src.source_id}|{i}", seed))
        kind, sev, tag = sampler.draw(draw_rng)
        sev = round(sev, 6)  # the CSV value must regenerate the exact image
        jobs.append((kind, sev, tag, stable_hash(f"apply|{stage}|{src.source_id}|{i}", seed) & SEED_MASK, f"{i:02d}"))
    return jobs


Job = Tuple[str, float, str, int, str]  # (kind, severity, tag, apply_seed, file_suffix)
TaskResult = Tuple[List[Dict[str, Any]], int, int, Optional[Tuple[str, str]]]


def _jobs_levels(sampler: DegradationSampler, src: Source, kinds: Sequence[str], stage: str, seed: int) -> List[Job]:
    """Every kind x level of one photo (plus the pristine row), for within-photo order checks.

    One seed per (photo, kind) across levels: the ladder keeps the same noise pattern, blur
    angle, cast hue and chain composition and only the strength changes.
    """
    jobs = [(PRISTINE, 0.0, PRISTINE, 0, "pristine")]
    for kind in kinds:
        s = stable_hash(f"levels|{stage}|{src.source_id}|{kind}", seed) & SEED_MASK
        for li, sev in enumerate(sampler.levels, start=1):
            jobs.append((kind, float(sev), kind, s, f"{kind}_L{li}"))
    return jobs


_CTX: Dict[str, Any] = {}


def _init_worker(ctx: Dict[str, Any]) -> None:
    """Per-process state: the context and a sampler built from the stage config."""
    cv2.setNumThreads(1)  # one process per core; OpenCV's own pool would oversubscribe
    _CTX.clear()
    _CTX.update(ctx)
    _CTX["sampler"] = DegradationSampler(ctx["config"])


def _process_task(task: Tuple[Source, str, Dict[Tuple[str, int], Dict[str, Any]]]) -> TaskResult:
    """Write one source photo's images; returns ``(rows, written, resumed, error or None)``.

    Any failure drops this photo's rows and is returned as ``(path, reason)``: one bad photo
    never stops the build.
    """
    src, split, done = task
    c = _CTX
    sampler: DegradationSampler = c["sampler"]
    out_dir: Path = c["out_dir"]
    if c["levels_mode"]:
        jobs = _jobs_levels(sampler, src, c["kinds"], c["stage"], c["seed"])
    else:
        jobs = _jobs_random(sampler, src, c["n"], c["stage"], c["seed"])
    ref_rel = f"refs/{c['res'] or 'orig'}/{_stem(src.source_id)}.png"
    ref_img: Optional[np.ndarray] = None
    rows: List[Dict[str, Any]] = []
    written = resumed = 0
    try:
        for kind, sev, tag, aseed, suffix in jobs:
            dist_rel = ref_rel if kind == PRISTINE else f"{c['img_dir']}/{src.source_set}/{_stem(src.source_id)}_{suffix}.png"
            if (dist_rel, aseed) in done and (out_dir / ref_rel).is_file():
                rows.append(done[(dist_rel, aseed)])
                resumed += 1
                continue
            if ref_img is None:
                ref_img = resize_short(load_rgb(src.path), c["res"])
                if not (out_dir / ref_rel).is_file():
                    write_png_atomic(out_dir / ref_rel, ref_img)
            dist, label, info = sampler.degrade(ref_img, kind, sev, np.random.default_rng(aseed),
                                                source_set=src.source_set, tag=tag)
            if kind != PRISTINE:
                write_png_atomic(out_dir / dist_rel, dist)
                written += 1
            rows.append({
                "dist_img": dist_rel, "mos": round(label, 6), "ref_img": ref_rel,
                "source_id": src.source_id, "source_set": src.source_set,
                "degradation": info["degradation"], "severity": info["severity"],
                "level": info["level"], "stage": c["stage_no"], "seed": aseed,
                "split": split, "tag": info["tag"], "parts": info["parts"],
            })
    except SourceImageError as e:
        return [], written, 0, (str(src.path), str(e))
    except Exception as e:  # noqa: BLE001 - one bad photo must not stop the build
        return [], written, 0, (str(src.path), f"{src.path}: {type(e).__name__}: {e}")
    return rows, written, resumed, None


def build_stage(
    faces: Path,
    out_dir: Path,
    config: Mapping[str, Any],
    seed: int = 0,
    levels_mode: bool = False,
    samples_per_source: Optional[int] = None,
    limit: Optional[int] = None,
    flush_every: int = 50,
    progress: bool = True,
    workers: int = 1,
    levels_split: str = "test",
) -> BuildResult:
    """Build one stage's images and CSV under ``out_dir``; returns a :class:`BuildResult`.

    ``levels_mode`` writes every test-split photo at every kind of the stage x every level
    to ``<stage>_levels.csv`` instead of random draws (``levels_split``: another split's photos,
    e.g. ``train`` for the ladder ranking term of ``mspt-face train``; the CSV is then
    ``<stage>_levels_<split>.csv``). ``limit`` keeps N photos per source set
    (a seeded choice; in levels mode N test photos), for quick or test builds. ``workers > 1`` degrades
    photos in that many processes (results are identical: every image has its own seed).
    """
    out_dir = Path(out_dir).resolve()
    stage = str(config.get("name", "stage"))
    stage_no = int(config.get("stage", 0))
    res = config.get("resolution")
    sampler = DegradationSampler(config)
    sources = list_sources(Path(faces), config.get("sources"))
    if not sources:
        raise ValueError(f"no source photos under {faces} for sets {config.get('sources')}")
    splits = assign_splits([s.source_id for s in sources], dict(config.get("split", {"val": 0.1, "test": 0.1})), seed)
    if levels_mode:  # before --limit, so that the limit counts test photos
        sources = [s for s in sources if splits[s.source_id] == levels_split]
    if limit:
        chosen: List[Source] = []
        for sset in sorted({s.source_set for s in sources}):
            group = [s for s in sources if s.source_set == sset]
            order = np.random.default_rng(stable_hash(f"limit|{sset}", seed) & SEED_MASK).permutation(len(group))
            chosen += [group[i] for i in sorted(order[:limit])]
        sources = chosen
    n = int(samples_per_source or config.get("samples_per_source", 4))
    kinds = list(dict.fromkeys(e["kind"] for e in sampler.entries))
    suffix = "_levels" + ("" if levels_split == "test" else f"_{levels_split}")
    csv_path = out_dir / (f"{stage}{suffix}.csv" if levels_mode else f"{stage}.csv")
    img_dir = f"{stage}{suffix}" if levels_mode else stage

    done: Dict[Tuple[str, int], Dict[str, Any]] = {}  # (dist_img, seed): pristine rows share a file
    if csv_path.is_file():
        for row in pd.read_csv(csv_path, keep_default_na=False).to_dict("records"):
            if (out_dir / row["dist_img"]).is_file():
                done[(row["dist_img"], int(row["seed"]))] = row
        log.info("%s: resuming, %d rows with images already present", csv_path.name, len(done))

    ctx = {"out_dir": out_dir, "config": dict(config), "stage": stage, "stage_no": stage_no, "res": res,
           "seed": seed, "n": n, "kinds": kinds, "levels_mode": levels_mode, "img_dir": img_dir}
    done_by_src: Dict[str, Dict[Tuple[str, int], Dict[str, Any]]] = {}
    for key, row in done.items():
        done_by_src.setdefault(row["source_id"], {})[key] = row
    tasks = [(src, splits[src.source_id], done_by_src.get(src.source_id, {})) for src in sources]
    per_photo = 1 + (len(kinds) * len(sampler.levels) if levels_mode else n)  # + the reference image
    # rows already written and, for a photo with any, its reference are not written again
    check_free_space(out_dir, len(sources) * per_photo - len(done) - len(done_by_src), res, str(csv_path))
    rows: List[Dict[str, Any]] = []
    errors: List[Tuple[str, str]] = []
    written = resumed = 0
    pool = None
    if workers > 1:
        import multiprocessing as mp

        # fork: workers inherit the imported modules (spawn re-imports torch via pyiqa: slow).
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        pool = mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(ctx,))
        results = pool.imap(_process_task, tasks, chunksize=4)
    else:
        _init_worker(ctx)
        results = map(_process_task, tasks)
    try:
        bar = tqdm(results, total=len(tasks), desc=f"{stage}{' levels' if levels_mode else ''}", unit="photo",
                   disable=not progress)
        for pi, (src_rows, n_written, n_resumed, error) in enumerate(bar):
            rows += src_rows
            written += n_written
            resumed += n_resumed
            if error:
                log.error("skipping source photo: %s", error[1])
                errors.append(error)
            if (pi + 1) % flush_every == 0:
                write_csv_atomic(pd.DataFrame(rows, columns=list(COLUMNS)), csv_path)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    write_csv_atomic(pd.DataFrame(rows, columns=list(COLUMNS)), csv_path)
    if errors:
        write_csv_atomic(pd.DataFrame(errors, columns=["path", "error"]), out_dir / f"{csv_path.stem}_errors.csv")
    log.info("%s: %d rows (%d images written now, %d rows resumed), %d bad source photos",
             csv_path, len(rows), written, resumed, len(errors))
    return BuildResult(csv_path, len(rows), written, resumed, errors)


def build_stages(faces: Path, out_dir: Path, configs: Iterable[Mapping[str, Any]], **kwargs: Any) -> List[BuildResult]:
    """:func:`build_stage` for each config in order (one CSV per stage)."""
    return [build_stage(faces, out_dir, cfg, **kwargs) for cfg in configs]
