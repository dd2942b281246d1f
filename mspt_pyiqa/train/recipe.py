"""Multi-stage progressive training: run a recipe's stages in order, with replay and a forgetting table.

Recipe YAML (paths relative to the recipe file)::

    name: synthetic_faces
    manual_seed: 123          # stage k trains with manual_seed + k
    num_gpu: 0                # optional, written into every stage (0 = CPU, auto = all GPUs)
    replay: {enabled: true, max_samples_per_source: null}
    anti_forgetting: {distill: 1.0, distill_features: 0.0, l2_pull: 0.0}   # wins over the stage files' values
    overrides: {}             # deep-merged into every stage's options
    stages:
      - option: ../stages/synthetic_stage1.yml
        overrides: {}         # deep-merged into this stage only
    weight_interpolation: {start: "@release:mspt_face_v11", weight: 0.3}   # optional (train/interpolation.py)

Each stage is a pyiqa option file (``model_type: MSPTModel``). The runner sets its
``path.pretrain_network`` to the previous stage's best checkpoint (sha256 recorded),
prepends the previous stages' training sources to its training set (``replay: true``
per sample); the recipe's ``anti_forgetting`` replaces the stage files' values (a stage's
own ``overrides`` still win). Run folder::

    run.json             seed, git commit, recipe, per-stage checkpoint hashes
    recipe.yml           the resolved recipe
    train.log            all log lines
    <k>_<stage name>/    options.yml (resolved pyiqa options), models/, training_states/, result.json
    forgetting.csv/.md   every stage checkpoint x every stage's val set (SRCC, PLCC)
    interpolated.pth     with ``weight_interpolation``: the last stage's weights interpolated with the start's

Running the same command again resumes: finished stages are skipped (their options and
start checkpoint must match), an unfinished stage continues from its latest state.
"""
from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.distributed as dist
import yaml
from pyiqa.utils.misc import set_random_seed

from mspt_pyiqa.options import packaged_recipes, resolve_option_file
from mspt_pyiqa.train.release_refs import ReleaseRefError, resolve_release_refs
from mspt_pyiqa.train.runfiles import git_commit
from mspt_pyiqa.utils.io import atomic_write_json as write_json, atomic_write_yaml as write_yaml, json_safe
from mspt_pyiqa.train.schema import recipe_problems, stage_problems
from mspt_pyiqa.train.stage import StageResult, run_stage

logger = logging.getLogger(__name__)

# Dataset option keys that describe one source (see mspt_pyiqa.data.datasets.FaceIQADataset).
SOURCE_KEYS = (
    "meta_info_file", "dataroot_target", "split_index", "split_value", "mos_normalize", "mos_range",
    "lower_better", "path_column", "mos_column", "max_samples", "sample_seed", "layout", "val_ratio",
    "split_seed", "label_file", "image_folder", "split_ratio",
)
_LAYOUT_OF_TYPE = {"FaceIQADataset": "meta_csv", "VQualAFIQADataset": "vquala"}


class RecipeError(ValueError):
    """The recipe or a stage option file is unusable (message names the file)."""


def deep_merge(base: Dict[str, Any], extra: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Recursive dict merge; ``extra`` wins; ``None`` in ``extra`` replaces too."""
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def apply_dotted(obj: Dict[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """Set ``a.b.0.c = value`` style keys (integers index lists); values are already parsed."""
    obj = copy.deepcopy(obj)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        cur: Any = obj
        for p in parts[:-1]:
            if isinstance(cur, list):
                cur = cur[int(p)]
            else:
                cur = cur.setdefault(p, {})
        if isinstance(cur, list):
            cur[int(parts[-1])] = value
        else:
            cur[parts[-1]] = value
    return obj


def _resolve_path(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not os.path.isabs(value):
        return str((base / value).resolve())
    return value


def load_yaml(path: Path) -> Dict[str, Any]:
    """A YAML mapping from ``path`` (or the packaged option file it names, see
    :func:`mspt_pyiqa.options.resolve_option_file`); one-line :class:`RecipeError` otherwise."""
    path = resolve_option_file(path)
    if not path.is_file():
        raise RecipeError(f"file not found: {path} (packaged recipes: {', '.join(packaged_recipes())})")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RecipeError(f"{path}: YAML syntax error{where}: {err.problem or err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RecipeError(f"{path}: not readable YAML ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: expected a YAML mapping at top level, got {type(data).__name__}")
    return data


def train_sources(dataset_opt: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The source list of a training dataset option (one source when it has no ``sources``)."""
    if dataset_opt.get("sources"):
        return [dict(s) for s in dataset_opt["sources"]]
    layout = _LAYOUT_OF_TYPE.get(dataset_opt.get("type"))
    if layout is None:
        raise RecipeError(f"replay needs FaceIQADataset or VQualAFIQADataset training sets, got {dataset_opt.get('type')!r}")
    src = {k: dataset_opt[k] for k in SOURCE_KEYS if k in dataset_opt}
    src.setdefault("layout", layout)
    return [src]


def _resolve_dataset_paths(dopt: Dict[str, Any], base: Path) -> None:
    for key in ("meta_info_file", "dataroot_target"):
        if key in dopt:
            dopt[key] = _resolve_path(dopt[key], base)
    for src in dopt.get("sources") or []:
        _resolve_dataset_paths(src, base)


def is_auxiliary(recipe: Mapping[str, Any], index: int) -> bool:
    """An ``auxiliary: true`` stage (e.g. fitting a teacher) is outside the chain: it starts from
    its own options, its data is not replayed, the next stage does not start from it, and it is
    not in the forgetting table. Later stages refer to its best checkpoint as ``@<its name>``."""
    return bool((recipe["stages"][index] or {}).get("auxiliary", False))


def resolve_stage_refs(opt: Dict[str, Any], best: Mapping[str, str]) -> None:
    """Replace ``train.teacher.path: "@<stage name>"`` by that earlier stage's best checkpoint."""
    train = opt.get("train") or {}
    hints = train.get("feature_hints")
    for key, teacher in (("train.teacher", train.get("teacher")), ("train.feature_hints.teacher", hints.get("teacher") if isinstance(hints, dict) else None)):
        path = teacher.get("path") if isinstance(teacher, dict) else None
        if isinstance(path, str) and path.startswith("@"):
            if path[1:] not in best:
                raise RecipeError(f"stage {opt.get('name')}: {key}.path {path!r} names no earlier stage (earlier: {sorted(best) or 'none'})")
            teacher["path"] = best[path[1:]]


def is_replayed(recipe: Mapping[str, Any], index: int) -> bool:
    """Whether later stages replay this stage's training data (``replayed: false``: no, e.g. a
    feature-initialisation stage; auxiliary stages never are)."""
    spec = recipe["stages"][index] or {}
    return not is_auxiliary(recipe, index) and bool(spec.get("replayed", True))


def stage_file(option: str, recipe_dir: Path) -> Path:
    """A stage's option file: relative to the recipe's folder, else the packaged file it names."""
    local = Path(_resolve_path(option, recipe_dir))
    return local if local.is_file() else resolve_option_file(option)


def stage_options(recipe: Dict[str, Any], recipe_dir: Path, index: int) -> Dict[str, Any]:
    """Stage ``index``'s pyiqa options: its file + recipe overrides, paths made absolute."""
    spec = recipe["stages"][index]
    opt_file = stage_file(spec["option"], recipe_dir)
    opt = load_yaml(opt_file)
    opt = deep_merge(opt, recipe.get("overrides"))
    # Precedence: stage file < recipe-wide overrides < recipe anti_forgetting < this stage's overrides.
    if recipe.get("anti_forgetting") is not None and not is_auxiliary(recipe, index):
        opt.setdefault("train", {})["anti_forgetting"] = deep_merge(opt.get("train", {}).get("anti_forgetting") or {}, recipe["anti_forgetting"])
    opt = deep_merge(opt, spec.get("overrides"))
    for dopt in opt.get("datasets", {}).values():
        # Relative data paths follow pyiqa's convention (the working directory); the
        # resolved options record them absolute.
        _resolve_dataset_paths(dopt, Path.cwd())
    if isinstance(opt.get("train"), dict) and isinstance(opt["train"].get("ladder"), dict):
        _resolve_dataset_paths(opt["train"]["ladder"], Path.cwd())
    try:
        resolve_release_refs(opt)
    except ReleaseRefError as err:
        raise RecipeError(f"{opt_file}: {err}") from None
    for key in ("num_gpu",):
        if key in recipe:
            opt[key] = recipe[key]
    if opt.get("num_gpu", 0) == "auto":  # pyiqa's convention: every visible GPU (0 on a CPU machine)
        opt["num_gpu"] = torch.cuda.device_count()
    opt["manual_seed"] = int(recipe.get("manual_seed", opt.get("manual_seed", 0))) + index
    opt.setdefault("path", {})
    opt.setdefault("logger", {})
    missing = [k for k in ("name", "model_type", "datasets", "network", "train") if k not in opt]
    if missing or "train" not in opt.get("datasets", {}):
        raise RecipeError(f"{opt_file}: stage options lack {missing or ['datasets.train']}")
    return opt


def with_replay(opt: Dict[str, Any], previous: Sequence[Dict[str, Any]], recipe: Mapping[str, Any]) -> Dict[str, Any]:
    """Training set = previous stages' training sources (``replay: true``) + this stage's."""
    replay = recipe.get("replay") or {}
    if not previous or not replay.get("enabled", True):
        return opt
    opt = copy.deepcopy(opt)
    cap = replay.get("max_samples_per_source")
    sources: List[Dict[str, Any]] = []
    for prev in previous:
        for src in train_sources(prev["datasets"]["train"]):
            if src.get("replay"):
                continue  # already replayed there: its own stage adds it once
            src = dict(src, replay=True)
            if cap is not None:
                src["max_samples"] = int(cap)
            sources.append(src)
    train = opt["datasets"]["train"]
    own = [dict(s, replay=False) for s in train_sources(train)]
    keep = {k: v for k, v in train.items() if k not in SOURCE_KEYS and k != "sources"}
    opt["datasets"]["train"] = dict(keep, type="FaceIQADataset", sources=sources + own)
    return opt


def check_recipe(recipe_path: Path, overrides: Optional[Mapping[str, Any]] = None) -> "tuple[Dict[str, Any], List[Dict[str, Any]], List[str]]":
    """Read and validate a recipe and every stage's resolved options, doing no work.

    Returns ``(recipe, stage options, problems)``: every problem found (schema: unknown keys
    with a hint, types, ranges; unreadable files), each one line naming the file and key path.
    Stage options are resolved as the run would (merges, replay, seeds), without a checkpoint.
    """
    recipe_path = resolve_option_file(recipe_path)
    try:
        recipe = load_yaml(recipe_path)
        recipe = apply_dotted(recipe, overrides or {})
    except RecipeError as err:
        return {}, [], [str(err)]
    except (IndexError, ValueError, TypeError, AttributeError) as err:
        return {}, [], [f"{recipe_path}: --set override does not fit the recipe ({type(err).__name__}: {err})"]
    problems = recipe_problems(recipe, str(recipe_path))
    stages = recipe.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) and isinstance(s.get("option"), str) for s in stages):
        return recipe, [], problems
    resolved: List[Dict[str, Any]] = []
    for k, spec in enumerate(recipe["stages"]):
        source = f"{recipe_path} stage {k + 1}"
        try:
            source = str(stage_file(spec["option"], Path(recipe_path).resolve().parent))
            opt = stage_options(recipe, Path(recipe_path).resolve().parent, k)
        except RecipeError as err:
            problems.append(str(err))
            continue
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"{source}: cannot be merged with the recipe ({type(err).__name__}: {err})")
            continue
        stage_errs = stage_problems(opt, source)
        problems.extend(stage_errs)
        if not stage_errs:
            try:
                if not is_auxiliary(recipe, k):
                    opt = with_replay(opt, [o for j, o in enumerate(resolved) if is_replayed(recipe, j)], recipe)
                resolve_stage_refs(opt, {o["name"]: f"<best checkpoint of stage {o['name']}>" for o in resolved})
            except RecipeError as err:
                problems.append(str(err))
        resolved.append(opt)
    return recipe, resolved, problems


def describe_stages(stages: Sequence[Mapping[str, Any]], auxiliary: Optional[Sequence[bool]] = None) -> List[str]:
    """One line per resolved stage: name, resolution, epochs, batch, lr, data sources, extras
    (``auxiliary``: which stages are outside the chain, see :func:`is_auxiliary`)."""
    lines = []
    for k, opt in enumerate(stages, start=1):
        train = opt.get("datasets", {}).get("train", {})
        sources = [Path(str(s.get("meta_info_file") or s.get("dataroot_target") or "?")).name + (" (replay)" if s.get("replay") else "") for s in train.get("sources") or [train]]
        t = opt.get("train", {})
        extras = [k2 for k2 in ("teacher", "feature_hints", "ladder", "ema_decay", "amp") if t.get(k2)]
        af = {k2: v for k2, v in (t.get("anti_forgetting") or {}).items() if v}
        lines.append(
            f"stage {k} {opt.get('name')}{' (auxiliary)' if auxiliary and auxiliary[k - 1] else ''}: {opt.get('network', {}).get('test_img_size')} px, {t.get('total_epoch')} epoch(s), "
            f"batch {train.get('batch_size_per_gpu')}, lr {t.get('optim', {}).get('lr')}, seed {opt.get('manual_seed')}, "
            f"{opt.get('network', {}).get('type')}, num_gpu {opt.get('num_gpu', 0)}, data {', '.join(sources)}"
            + (f", anti-forgetting {af}" if af else "") + (f", with {', '.join(extras)}" if extras else ""))
    return lines


def init_distributed(recipe: Mapping[str, Any], num_gpu: Any) -> Dict[str, Any]:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1); gloo on CPU, nccl on GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return {"dist": False, "rank": 0, "world_size": 1}
    if not dist.is_initialized():
        use_gpu = num_gpu != 0 and torch.cuda.is_available()
        backend = recipe.get("dist_backend") or ("nccl" if use_gpu else "gloo")
        if use_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return {"dist": True, "rank": dist.get_rank(), "world_size": dist.get_world_size()}


def _add_log_file(out_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(Path(out_dir) / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("mspt_pyiqa", "pyiqa"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    return handler


def _comparable(opt: Mapping[str, Any]) -> Dict[str, Any]:
    """Options as written to and read back from options.yml: without the rank (it differs between
    processes of one run), and with mapping keys as strings, as the writer stores them (integer keys
    such as ``feature_hints.taps`` would otherwise never match their saved copy on resume)."""
    return yaml.safe_load(yaml.safe_dump(json_safe({k: v for k, v in opt.items() if k != "rank"})))


def training_differences(saved: Mapping[str, Any], opt: Mapping[str, Any]) -> List[str]:
    """Where a stage's saved options and ``opt`` would train different weights, as
    ``"dotted.key: saved X, now Y"`` lines; the ``logger`` section (print and checkpoint
    frequencies) is left out, a resumed run may change it. Empty: the same training."""
    def walk(a: Any, b: Any, key: str) -> List[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in sorted(set(a) | set(b), key=str) for d in walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))]
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            return [d for i, (x, y) in enumerate(zip(a, b)) for d in walk(x, y, f"{key}.{i}")]
        return [] if a == b else [f"{key}: saved {a!r}, now {b!r}"]
    def strip(o: Mapping[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in _comparable(o).items() if k != "logger"}
    return walk(strip(saved), strip(opt), "")


def same_training(saved: Mapping[str, Any], opt: Mapping[str, Any]) -> bool:
    """Whether a stage's saved options train the same weights as ``opt`` (:func:`training_differences`)."""
    return not training_differences(saved, opt)


def run_recipe(
    recipe_path: Path,
    out_dir: Path,
    overrides: Optional[Mapping[str, Any]] = None,
    stop_after: Optional[Mapping[str, Any]] = None,
    forgetting: bool = True,
) -> Dict[str, Any]:
    """Run (or resume) every stage of a recipe; return the run summary (also ``run.json``).

    Args:
        recipe_path: recipe YAML.
        out_dir: run folder (created; an existing one is resumed).
        overrides: dotted keys applied to the recipe, e.g. ``{"overrides.train.total_epoch": 1,
            "stages.0.overrides.network.test_img_size": 64, "anti_forgetting.distill": 0}``.
        stop_after: test hook ``{"stage": k, "iter": n}``: interrupt stage k (0-based) after
            global iteration n, as a kill would.
        forgetting: compute the forgetting table at the end.
    """
    recipe_path, out_dir = resolve_option_file(recipe_path).resolve(), Path(out_dir)
    recipe, _, problems = check_recipe(recipe_path, overrides)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s); --dry-run lists them all)" if len(problems) > 1 else ""
        raise RecipeError(problems[0] + more)
    dist_info = init_distributed(recipe, stage_options(recipe, recipe_path.parent, 0).get("num_gpu", 0))
    main = dist_info["rank"] == 0
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _add_log_file(out_dir) if main else None
    try:
        return _run(recipe, recipe_path, out_dir, dist_info, stop_after, forgetting)
    finally:
        if handler is not None:
            for name in ("mspt_pyiqa", "pyiqa"):
                logging.getLogger(name).removeHandler(handler)
            handler.close()


def _interpolate(spec: Mapping[str, Any], last: StageResult, out_dir: Path) -> Dict[str, Any]:
    """Write ``<run>/interpolated.pth`` from the chain's last checkpoint (rewritten on every run:
    same inputs, same bytes) and return its ``run.json`` record."""
    from mspt_pyiqa.train.interpolation import INTERPOLATED_NAME, write_interpolated
    from mspt_pyiqa.train.release_refs import PREFIX, resolve_release

    start = str(spec["start"])
    try:
        path = resolve_release(start) if start.startswith(PREFIX) else start
    except ReleaseRefError as err:
        raise RecipeError(f"weight_interpolation.start: {err}") from None
    if not Path(path).is_file():
        raise RecipeError(f"weight_interpolation.start: checkpoint not found: {path}")
    record = write_interpolated(Path(last.best_checkpoint), Path(path), float(spec["weight"]), out_dir / INTERPOLATED_NAME)
    logger.info("weight interpolation: %.2f x %s + %.2f x %s -> %s", 1 - float(spec["weight"]), last.best_checkpoint,
                float(spec["weight"]), start, record["checkpoint"])
    return {**record, "start": start}


def _run(recipe, recipe_path, out_dir, dist_info, stop_after, forgetting) -> Dict[str, Any]:
    main = dist_info["rank"] == 0
    summary: Dict[str, Any] = {
        "recipe": str(recipe_path), "name": recipe.get("name", recipe_path.stem), "manual_seed": recipe.get("manual_seed", 0),
        "git_commit": git_commit(Path(__file__)), "torch": torch.__version__, "world_size": dist_info["world_size"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "stages": [],
    }
    previous = load_yaml(out_dir / "run.json") if (out_dir / "run.json").is_file() else {}
    recipe_saved = False  # recipe.yml is written once every stage before the first one to train matched its saved options
    resolved: List[Dict[str, Any]] = []
    results: List[StageResult] = []
    main_opts: List[Dict[str, Any]] = []  # stages whose data later stages replay
    prev: Optional[StageResult] = None     # the chain's last result
    for k in range(len(recipe["stages"])):
        aux = is_auxiliary(recipe, k)
        opt = stage_options(recipe, recipe_path.parent, k)
        if not aux:
            opt = with_replay(opt, main_opts, recipe)
            if prev is not None:
                opt["path"]["pretrain_network"] = prev.best_checkpoint
        resolve_stage_refs(opt, {r.name: r.best_checkpoint for r in results})
        opt.update(dist_info, is_train=True, auto_resume=False)
        stage_dir = out_dir / f"{k + 1}_{opt['name']}"
        done = stage_dir / "result.json"
        saved = stage_dir / "options.yml"
        diffs = training_differences(load_yaml(saved), opt) if saved.is_file() else []
        if diffs:
            more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
            raise RecipeError(f"{stage_dir}: holds a run with different options ({saved}): {'; '.join(diffs[:3])}{more}. "
                              "Resume with the options it was started with (data paths are compared as resolved, so a "
                              "moved data folder counts as a change), or use a new output folder")
        if main:
            write_yaml(saved, _comparable(opt))
        resolved.append(opt)
        if is_replayed(recipe, k):
            main_opts.append(opt)
        if done.is_file() and prev is not None and not aux and load_yaml(done).get("pretrain_sha256") != prev.best_sha256:
            raise RecipeError(f"{done}: stage started from another checkpoint than {prev.best_checkpoint}")
        if done.is_file():
            data = load_yaml(done)
            if not data.get("git_commit"):  # a stage finished before stages recorded it: the run's first start
                data["git_commit"] = next((s.get("git_commit") for s in previous.get("stages", []) if s.get("name") == opt["name"]
                                           and s.get("git_commit")), previous.get("git_commit"))
            result = StageResult(**data)
            logger.info("stage %s already finished (%s), skipped", opt["name"], done)
        else:
            if main and not recipe_saved:
                write_yaml(out_dir / "recipe.yml", recipe)
                recipe_saved = True
            set_random_seed(opt["manual_seed"] + dist_info["rank"])
            hook = None
            if opt["train"].get("teacher"):
                from mspt_pyiqa.train.teacher import attach_teacher

                def hook(train_set, o, _dir=out_dir / "teacher_cache"):
                    attach_teacher(train_set, o["train"]["teacher"], _dir)
            stop = stop_after["iter"] if stop_after and int(stop_after["stage"]) == k else None
            logger.info("stage %d/%d %s: start weights %s", k + 1, len(recipe["stages"]), opt["name"], opt["path"].get("pretrain_network") or "(fresh)")
            result = run_stage(opt, stage_dir, stop_after_iter=stop, teacher_hook=hook)
        if prev is not None and not aux and result.pretrain_sha256 != prev.best_sha256:
            raise RecipeError(f"stage {opt['name']} loaded sha256 {result.pretrain_sha256}, expected {prev.best_sha256}")
        results.append(result)
        if not aux:
            prev = result
        summary["stages"].append({k2: v for k2, v in asdict(result).items() if k2 != "history"})
        if main:
            write_json(out_dir / "run.json", summary)
    if main and not recipe_saved:
        write_yaml(out_dir / "recipe.yml", recipe)
    if recipe.get("weight_interpolation") and main and prev is not None:
        summary["interpolation"] = _interpolate(recipe["weight_interpolation"], prev, out_dir)
        write_json(out_dir / "run.json", summary)
    if forgetting and main:
        from mspt_pyiqa.train.forgetting import forgetting_table, write_forgetting

        entries = []
        for k, (opt, res) in enumerate(zip(resolved, results)):
            if is_auxiliary(recipe, k):
                continue
            val_key = next((p for p in opt["datasets"] if p.split("_")[0] == "val"), None)
            if val_key is None:
                logger.warning("stage %s has no validation set: not in the forgetting table", opt["name"])
                continue
            entries.append({"name": opt["name"], "checkpoint": res.best_checkpoint, "network": opt["network"], "val": opt["datasets"][val_key]})
        if entries:
            use_gpu = resolved[0].get("num_gpu", 0) != 0 and torch.cuda.is_available()
            table = forgetting_table(entries, torch.device("cuda" if use_gpu else "cpu"))
            md = write_forgetting(table, out_dir)
            summary["forgetting"] = table.to_dict(orient="records")
            write_json(out_dir / "run.json", summary)
            print(f"\nForgetting table ({out_dir / 'forgetting.csv'}):\n\n{md}")
        else:
            logger.warning("no stage has a validation set: no forgetting table")
    if dist_info["dist"]:
        dist.barrier()
    return summary
