"""Schema of recipes and stage option files: every problem found before any work starts.

:func:`recipe_problems` checks a recipe dict, :func:`stage_problems` one stage's resolved pyiqa
options. Each problem is one line ``<file>: <key path>: <what is wrong>``, with a
"did you mean" hint for a misspelt key (``train.total_epochs`` -> ``total_epoch``). Unknown
keys are errors (a typo must not be silently ignored), types and ranges are checked
(batch size >= 1, ``total_epoch`` >= 1, ``num_gpu`` no more than the visible CUDA devices).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

NUM = (int, float)


@dataclass
class F:
    """One key: accepted types, optional range / choices, children (mapping) or item spec (list).

    ``open_keys``: a mapping whose keys are free (e.g. ``metrics``); children then apply to
    every value when ``each`` is set.
    """

    types: Tuple[type, ...] = (object,)
    required: bool = False
    nullable: bool = False
    min: Optional[float] = None
    max: Optional[float] = None
    min_exclusive: bool = False
    choices: Optional[Sequence[Any]] = None
    children: Optional[Dict[str, "F"]] = None
    open_keys: bool = False
    each: Optional["F"] = None
    items: Optional["F"] = None
    check: Optional[Callable[[Any], Optional[str]]] = None


def _type_name(types: Tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "a mapping", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check(value: Any, spec: F, path: str, out: List[str]) -> None:
    if value is None:
        if not spec.nullable and spec.types != (object,):
            out.append(f"{path}: must be {_type_name(spec.types)}, got null")
        return
    ok_types = spec.types
    if isinstance(value, bool) and bool not in ok_types and ok_types != (object,):
        out.append(f"{path}: must be {_type_name(ok_types)}, got {value!r}")
        return
    if ok_types != (object,) and not isinstance(value, ok_types):
        out.append(f"{path}: must be {_type_name(ok_types)}, got {type(value).__name__} {value!r}"[:200])
        return
    if spec.choices is not None and value not in spec.choices:
        hint = difflib.get_close_matches(str(value), [str(c) for c in spec.choices], n=1)
        out.append(f"{path}: {value!r} is not one of {list(spec.choices)}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if isinstance(value, NUM) and not isinstance(value, bool):
        if spec.min is not None and (value < spec.min or (spec.min_exclusive and value == spec.min)):
            out.append(f"{path}: must be {'>' if spec.min_exclusive else '>='} {spec.min:g}, got {value!r}")
        if spec.max is not None and value > spec.max:
            out.append(f"{path}: must be <= {spec.max:g}, got {value!r}")
    if spec.check is not None:
        msg = spec.check(value)
        if msg:
            out.append(f"{path}: {msg}")
    if isinstance(value, Mapping) and (spec.children is not None or spec.each is not None):
        check_mapping(value, spec.children or {}, path, out, open_keys=spec.open_keys, each=spec.each)
    if isinstance(value, list) and spec.items is not None:
        for i, item in enumerate(value):
            _check(item, spec.items, f"{path}.{i}", out)


def check_mapping(obj: Mapping[str, Any], children: Dict[str, F], path: str, out: List[str],
                  open_keys: bool = False, each: Optional[F] = None) -> None:
    """Check ``obj`` against ``children`` (unknown keys are problems unless ``open_keys``)."""
    prefix = f"{path}." if path else ""
    for key, spec in children.items():
        if spec.required and key not in obj:
            out.append(f"{prefix}{key}: missing (required)")
    for key, value in obj.items():
        spec = children.get(key)
        if spec is None and each is not None:
            spec = each
        if spec is None:
            if not open_keys:
                hint = difflib.get_close_matches(str(key), list(children), n=1, cutoff=0.6)
                out.append(f"{prefix}{key}: unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(sorted(children))})"))
            continue
        _check(value, spec, f"{prefix}{key}", out)


def _num(min: Optional[float] = 0.0, **kw: Any) -> F:
    return F(NUM, min=min, **kw)


def _int(min: Optional[float] = 0, **kw: Any) -> F:
    return F((int,), min=min, **kw)


def _gpu_count(value: Any) -> Optional[str]:
    if value == "auto" or not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None if value == "auto" or isinstance(value, int) else "must be an integer >= 0 or 'auto'"
    import torch

    have = torch.cuda.device_count()
    return None if value <= have else f"{value} GPU(s) asked for, {have} CUDA device(s) visible (use num_gpu: 0 for CPU, or 'auto')"


NUM_GPU = F((int, str), check=_gpu_count, min=0)
ANTI_FORGETTING = {"distill": _num(), "distill_features": _num(), "l2_pull": _num()}

#: Keys of one data source (see :class:`mspt_pyiqa.data.datasets.FaceIQADataset`).
SOURCE = {
    "meta_info_file": F((str,)), "dataroot_target": F((str,), nullable=True), "split_index": F((str, int), nullable=True),
    "split_value": F((str, int, list), nullable=True), "mos_normalize": F((bool, str), nullable=True),
    "mos_range": F((list,), nullable=True), "lower_better": F((bool,)), "path_column": F((str,)),
    "mos_column": F((str,)), "max_samples": _int(1, nullable=True), "sample_seed": _int(),
    "layout": F((str,), choices=("meta_csv", "vquala")), "val_ratio": _num(0, max=1), "split_seed": _int(),
    "label_file": F((str,)), "image_folder": F((str,)), "split_ratio": F(object), "replay": F((bool,)),
}
DATASET = {
    **SOURCE, "name": F((str,)), "type": F((str,), required=True), "phase": F((str,)),
    "augment": F((dict,), nullable=True, open_keys=True), "img_range": _num(0, min_exclusive=True),
    "batch_size_per_gpu": _int(1), "num_worker_per_gpu": _int(0), "use_shuffle": F((bool,)),
    "dataset_enlarge_ratio": _int(1), "pin_memory": F((bool,)), "prefetch_mode": F((str,), nullable=True),
    "sources": F((list,), items=F((dict,), children=SOURCE)), "split_file": F((str,), nullable=True),
    "override_phase": F((str,), nullable=True), "num_prefetch_queue": _int(1),
}
LADDER = {
    # one CSV, or a list read as one set (read_ladders)
    "meta_info_file": F((str, list), required=True, items=F((str,))), "dataroot_target": F((str,), nullable=True),
    "split_value": F((str,), nullable=True),
    "fraction": _num(0, check=lambda v: None if isinstance(v, NUM) and v < 1 else "must be < 1 (the share of optimiser steps on ladder batches)"), "ladders_per_batch": _int(1),
    "kind_weights": F((dict,), nullable=True, open_keys=True, each=_num()),
    "augment": F((dict,), nullable=True, open_keys=True),
    "loss": F((dict,), children={"type": F((str,), choices=("LadderRankLoss",)), "loss_weight": _num(),
                                 "margin": _num(), "min_gap": _num(), "pristine_weight": _num(), "margin_per_gap": _num(0)}),
    "teacher_loss": F((dict,), nullable=True, children={"type": F((str,), choices=("TeacherDifferenceLoss",)),
                                                         "loss_weight": _num(), "min_gap": _num(),
                                                         "kinds": F((list,), nullable=True), "files": F((list,), nullable=True)}),
    "cross_loss": F((dict,), nullable=True, children={"type": F((str,), choices=("LadderRankLoss",)), "loss_weight": _num(),
                                                       "margin": _num(), "min_gap": _num(0, min_exclusive=True),
                                                       "margin_per_gap": _num(0)}),
    "view_weight": _num(0),
    # px, for every kind, or {kind: px} for the kinds named (read_ladders)
    "max_short_side": F((int, dict), min=16, open_keys=True, each=_int(16)),
}
# A further ladder set drawn for a share of the ladder batches, with its own image size (LadderBatches)
LADDER_SET = {
    **{k: LADDER[k] for k in ("meta_info_file", "dataroot_target", "split_value", "ladders_per_batch", "kind_weights",
                              "augment", "max_short_side")},
    "share": _num(0, required=True, min_exclusive=True,
                  check=lambda v: None if isinstance(v, NUM) and v < 1 else "must be < 1 (the share of ladder batches from this set)"),
    "cross_loss": F((bool,)),  # false: the set's severity is another scale, off the cross-ladder ranking
}
LADDER["extra_sets"] = F((list,), nullable=True, items=F((dict,), children=LADDER_SET))
TEACHER = {
    "type": F((str,), choices=("pyiqa", "checkpoint", "network")), "name": F((str,)), "path": F((str,)),
    "network": F((dict,), open_keys=True), "score_range": F((list,), nullable=True), "lower_better": F((bool,)),
    "mix": _num(0, max=1), "feature_weight": _num(), "cache_dir": F((str,), nullable=True),
    "feature_loss": F((str,), choices=("mse", "cosine")),
}
TRAIN = {
    "optim": F((dict,), required=True, open_keys=True, children={"type": F((str,)), "lr": _num(0, min_exclusive=True),
                                                                 "weight_decay": _num()}),
    "scheduler": F((dict,), nullable=True, open_keys=True),
    "total_epoch": _int(1), "total_iter": _int(1, nullable=True), "warmup_iter": _int(-1),
    "losses": F((dict,), nullable=True, children={"mse": _num(), "plcc": _num(), "rank": _num(), "rank_margin": _num()}),
    "per_sample_terms": F((list,), nullable=True, items=F((dict,), children={
        "name": F((str,)), "pred": F((str,), choices=("score", "features")), "target": F((str,), required=True),
        "mask": F((str,), nullable=True), "weight": _num()})),
    "anti_forgetting": F((dict,), nullable=True, children=ANTI_FORGETTING),
    "ema_decay": _num(0, max=1, nullable=True, min_exclusive=True), "amp": F((bool,)), "grad_clip_norm": _num(0, nullable=True),
    "teacher": F((dict,), nullable=True, children=TEACHER),
    "init_head": F((dict,), nullable=True, children={"weight_std": _num(), "bias": F(NUM)}),
    "ladder": F((dict,), nullable=True, children=LADDER),
    "feature_hints": F((dict,), nullable=True, children={"teacher": F((dict,), required=True, children=TEACHER),
                                                         "taps": F((dict,), nullable=True, open_keys=True), "stats_batches": _int(1)}),
    "final_head": F((dict,), nullable=True, children={"weight_std": _num(), "bias": F(NUM)}),
    # parameter-name prefixes not trained, BatchNorm statistics held (mspt_pyiqa.train.freeze)
    "freeze": F((list,), nullable=True, items=F((str,))),
}
STAGE = {
    "name": F((str,), required=True), "model_type": F((str,), required=True), "num_gpu": NUM_GPU,
    "manual_seed": _int(), "is_train": F((bool,)), "dist": F((bool,)), "rank": _int(), "world_size": _int(1),
    "auto_resume": F((bool,)), "find_unused_parameters": F((bool,)),
    "datasets": F((dict,), required=True, open_keys=True, each=F((dict,), children=DATASET),
                  check=lambda d: None if "train" in d else "needs a 'train' dataset"),
    "network": F((dict,), required=True, open_keys=True, children={"type": F((str,), required=True),
                                                                    "test_img_size": _int(16, nullable=True),
                                                                    # true or false (a string "false" is refused, not read as true)
                                                                    "enlarge": F((bool,))}),
    "path": F((dict,), open_keys=True, children={"pretrain_network": F((str,), nullable=True), "strict_load": F((bool,)),
                                                 "resume_state": F((str,), nullable=True)}),
    "train": F((dict,), required=True, children=TRAIN),
    "val": F((dict,), nullable=True, open_keys=True, children={"val_freq": _num(1), "val_epoch_freq": _int(1),
                                                               "save_img": F((bool,)), "key_metric": F((str,), nullable=True),
                                                               "metrics": F((dict,), open_keys=True)}),
    "logger": F((dict,), open_keys=True, children={"print_freq": _int(1), "save_checkpoint_freq": _num(1),
                                                   "save_latest_freq": _int(0), "save_latest_minutes": _num(0),
                                                   "use_tb_logger": F((bool,))}),
    "dist_params": F((dict,), open_keys=True),
}
RECIPE = {
    "name": F((str,)), "manual_seed": _int(), "num_gpu": NUM_GPU, "dist_backend": F((str,), choices=("gloo", "nccl")),
    "replay": F((dict,), nullable=True, children={"enabled": F((bool,)), "max_samples_per_source": _int(1, nullable=True)}),
    "anti_forgetting": F((dict,), nullable=True, children=ANTI_FORGETTING),
    "overrides": F((dict,), nullable=True, open_keys=True),
    "stages": F((list,), required=True, items=F((dict,), children={"option": F((str,), required=True),
                                                                   "overrides": F((dict,), nullable=True, open_keys=True),
                                                                   "auxiliary": F((bool,)), "replayed": F((bool,))}),
                check=lambda v: None if v else "needs at least one stage"),
    "release": F((dict,), nullable=True, open_keys=True),
    # (1 - weight) * last stage + weight * start, written after the last stage (train/interpolation.py)
    "weight_interpolation": F((dict,), nullable=True, children={"start": F((str,), required=True),
                                                                 "weight": _num(0, max=1, required=True)}),
}


def recipe_problems(recipe: Any, source: str) -> List[str]:
    """Problems of a recipe dict (before its stage files are read), each ``<source>: <key path>: ...``."""
    out: List[str] = []
    if not isinstance(recipe, Mapping):
        return [f"{source}: expected a YAML mapping at top level, got {type(recipe).__name__}"]
    check_mapping(recipe, RECIPE, "", out)
    return [f"{source}: {p}" for p in out]


def stage_problems(opt: Mapping[str, Any], source: str) -> List[str]:
    """Problems of one stage's resolved pyiqa options, each ``<source>: <key path>: ...``."""
    out: List[str] = []
    check_mapping(opt, STAGE, "", out)
    return [f"{source}: {p}" for p in out]
