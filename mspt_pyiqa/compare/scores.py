"""Score caches of a comparison: ``<out>/scores/<method>.csv`` (MSPT) and ``<method>.<metric>.csv`` (FR).

MSPT scores of a folder method go through the ``mspt-face score`` machinery
(:func:`mspt_pyiqa.scoring.runner.run_job` with ``resume``), so the same per-file statuses
apply and an interrupted comparison resumes where each cache stops. The caches are only
reused for the same model and preprocessing (recorded in ``<out>/scores/settings.json``);
other settings start them afresh.

FR metrics (``--ref``): pyiqa metrics loaded through the benchmark harness
(:func:`mspt_pyiqa.bench.loading.load_metric`; PSNR and SSIM run offline, LPIPS only when
its weights are already on disk), each restored image against ``<ref>/<key>``; rows use the
score file's columns, statuses ``ok``, ``no_reference`` or ``error`` (with the message).
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

import numpy as np
from tqdm import tqdm

from mspt_pyiqa.compare.matching import MethodInput
from mspt_pyiqa.scoring.writer import Row, error_row, read_results, write_results
from mspt_pyiqa.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

MSPT = "mspt_face"


def settings_match(path: Path, settings: Dict[str, Any]) -> bool:
    """True when ``path`` holds exactly ``settings`` (as JSON): cached scores made with them can be reused."""
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(settings, default=str))
    except (OSError, ValueError):
        return False


def first_face_rows(rows: Sequence[Row]) -> Dict[str, Row]:
    """Per path, its first-face row (face 0 is the largest; whole-image rows have face 0)."""
    out: Dict[str, Row] = {}
    for r in rows:
        cur = out.get(r["path"])
        if cur is None or (r.get("face") or 0) < (cur.get("face") or 0):
            out[r["path"]] = r
    return out


def score_mspt(
    methods: Sequence[MethodInput],
    scores_dir: Path,
    settings: Dict[str, Any],
    make_job: Callable[[List[str], Path, bool], Any],
    run_job: Callable[[Any], List[Row]],
) -> Dict[str, Dict[str, Row]]:
    """MSPT rows (first face) by method name and key; folder methods are scored into their caches.

    ``make_job(files, output, resume)`` builds a :class:`~mspt_pyiqa.scoring.runner.ScoreJob`
    (the caller owns the model); ``settings`` identifies model + preprocessing for the caches.
    """
    scores_dir.mkdir(parents=True, exist_ok=True)
    settings_path = scores_dir / "settings.json"
    resume = settings_match(settings_path, settings)
    if not resume and any(scores_dir.glob("*.csv")):
        logger.warning("%s: cached scores were made with other model settings; scoring afresh", scores_dir)
    atomic_write_json(settings_path, settings)
    out: Dict[str, Dict[str, Row]] = {}
    for m in methods:
        if m.kind == "scores":
            out[m.name] = dict(m.rows or {})
            continue
        cache = scores_dir / f"{m.name}.csv"
        files = list(m.files.values())
        logger.info("%s: scoring %d image(s) -> %s%s", m.name, len(files), cache, " (resuming)" if resume and cache.is_file() else "")
        rows = run_job(make_job(files, cache, resume))
        by_path = first_face_rows(rows)
        out[m.name] = {k: by_path.get(p) or error_row(p, "error", "not scored") for k, p in m.files.items()}
    return out


def _fr_row(metric: Any, path: str, ref: str) -> Row:
    import torch

    if not os.path.isfile(ref):
        return error_row(path, "no_reference", f"{ref}: no reference image with this relative path")
    try:
        with torch.no_grad():
            v = float(torch.as_tensor(metric(path, ref)).float().mean())
    except Exception as err:  # noqa: BLE001 - one bad pair is a row, not a crash
        return error_row(path, "error", f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}")
    if not np.isfinite(v):
        return error_row(path, "error", "non-finite score")
    return {"path": path, "face": 0, "box": "", "score": v, "status": "ok", "message": ""}


def score_fr(
    methods: Sequence[MethodInput],
    ref_dir: str,
    metric_names: Sequence[str],
    scores_dir: Path,
    device: str = "cpu",
    progress: bool = True,
    save_every: float = 30.0,
) -> Dict[str, Dict[str, Any]]:
    """FR scores by metric: ``{metric: {"lower_better": bool, "rows": {method: {key: Row}}}}``.

    A metric that cannot be loaded here is logged with its reason and left out.
    """
    from mspt_pyiqa.bench.loading import hub_reachable, load_metric, set_offline

    set_offline(not hub_reachable())
    out: Dict[str, Dict[str, Any]] = {}
    for name in metric_names:
        lm = load_metric(name, has_ref=True, device=device, explicit=True)
        if lm.status != "ok":
            logger.warning("FR metric %s left out: %s", name, lm.reason or lm.status)
            continue
        if lm.mode != "FR":
            logger.warning("%s is not a full-reference metric; left out of --fr-metrics", name)
            continue
        per_method: Dict[str, Dict[str, Row]] = {}
        for m in methods:
            cache = scores_dir / f"{m.name}.{name}.csv"
            done = {r["path"]: r for r in read_results(cache) if r["status"] == "ok"} if cache.is_file() else {}
            rows: Dict[str, Row] = {}
            last = time.monotonic()
            todo = [(k, p) for k, p in m.files.items() if p not in done]
            for k, p in m.files.items():
                if p in done:
                    rows[k] = done[p]
            for k, p in tqdm(todo, desc=f"{m.name}:{name}", unit="img", disable=not progress or not todo):
                rows[k] = _fr_row(lm.metric, p, os.path.join(ref_dir, k))
                if time.monotonic() - last > save_every:
                    write_results(list(rows.values()), cache)
                    last = time.monotonic()
            write_results([rows[k] for k in m.files], cache)
            per_method[m.name] = rows
        out[name] = {"lower_better": lm.lower_better, "rows": per_method}
    return out
