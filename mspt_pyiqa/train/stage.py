"""Run one training stage (a pyiqa option dict) with resume, progress and atomic checkpoints.

Used by the recipe runner; works on CPU (``num_gpu: 0``), one GPU, or under ``torchrun``
(DDP, gloo on CPU / nccl on GPU). A stage folder holds ``models/net_best.pth`` (best
validation checkpoint, EMA weights when enabled), ``models/net_latest.pth``,
``training_states/<iter>.state`` (latest complete state) and ``result.json``.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
import torch.distributed as dist
from pyiqa.data import build_dataloader, build_dataset
from torch.utils.data import DataLoader
from tqdm import tqdm

from mspt_pyiqa.train.runfiles import git_commit
from mspt_pyiqa.train.ladder_data import LadderBatches, ladder_steps
from mspt_pyiqa.train.pyiqa_model import MSPTModel, load_training_state
from mspt_pyiqa.utils.io import atomic_write_json as write_json, clean_stale_temps
from mspt_pyiqa.train.sampler import ResumableSampler
from mspt_pyiqa.weights import sha256_file

logger = logging.getLogger(__name__)


class StageInterrupted(RuntimeError):
    """Raised by the ``stop_after_iter`` test hook to simulate a kill mid-stage."""


@dataclass
class StageResult:
    """What a finished stage hands to the next one (also written as ``result.json``)."""

    name: str
    best_checkpoint: str
    best_sha256: str
    pretrain_network: Optional[str]
    pretrain_sha256: Optional[str]
    best_metrics: Dict[str, Any]
    epochs: int
    iters: int
    seconds: float
    history: List[Dict[str, Any]] = field(default_factory=list)
    git_commit: Optional[str] = None  # the commit the stage was trained from (``-dirty``: with changes)


def stage_paths(opt: Dict[str, Any], stage_dir: Path) -> None:
    """Point pyiqa's ``path`` keys into the stage folder."""
    stage_dir = Path(stage_dir)
    opt["path"].update(
        experiments_root=str(stage_dir),
        models=str(stage_dir / "models"),
        training_states=str(stage_dir / "training_states"),
        log=str(stage_dir),
        visualization=str(stage_dir / "visualization"),
    )
    for key in ("models", "training_states"):
        Path(opt["path"][key]).mkdir(parents=True, exist_ok=True)
        removed = remove_stale_temps(Path(opt["path"][key]))
        if removed:
            logger.warning("removed %d temporary file(s) of an interrupted save in %s", len(removed), opt["path"][key])


def remove_stale_temps(folder: Path) -> List[Path]:
    """Delete the temp files a kill during a checkpoint / state save left in ``folder``.

    Matches :func:`mspt_pyiqa.utils.io.atomic_write`'s ``.<name>.*.tmp`` pattern and the
    ``<name>.*.tmp`` files of earlier versions; called when a stage (re)starts, before any write.
    """
    removed = clean_stale_temps(folder, "*")
    for pattern in ("*.pth.*.tmp", "*.state.*.tmp"):
        for p in Path(folder).glob(pattern):
            if p.is_file():
                p.unlink()
                removed.append(p)
    return removed


def latest_state(states_dir: Path) -> Optional[Path]:
    """The training state with the highest iteration (ignores temp files of an interrupted write)."""
    states = [p for p in Path(states_dir).glob("*.state") if p.stem.isdigit()]
    return max(states, key=lambda p: int(p.stem)) if states else None


def _is_main(opt: Dict[str, Any]) -> bool:
    return int(opt.get("rank", 0)) == 0


def _barrier(opt: Dict[str, Any]) -> None:
    if opt.get("dist") and dist.is_initialized():
        dist.barrier()


def build_loaders(opt: Dict[str, Any]):
    """Train set + resumable sampler + loader, and the validation loaders (pyiqa builders)."""
    train_opt = dict(opt["datasets"]["train"], phase="train")
    train_set = build_dataset(train_opt)
    sampler = ResumableSampler(
        len(train_set), int(train_opt["batch_size_per_gpu"]), int(opt.get("world_size", 1)), int(opt.get("rank", 0)),
        seed=int(opt["manual_seed"]), shuffle=bool(train_opt.get("use_shuffle", True)),
    )
    if sampler.batches_per_epoch() == 0:
        raise ValueError(f"stage {opt['name']}: {len(train_set)} training images give no full batch of {train_opt['batch_size_per_gpu']}")
    loader = DataLoader(
        train_set, batch_size=int(train_opt["batch_size_per_gpu"]), sampler=sampler, drop_last=True,
        num_workers=int(train_opt.get("num_worker_per_gpu", 0)), pin_memory=bool(train_opt.get("pin_memory", False)),
        # Own generator: creating an iterator then draws no number from the global RNG,
        # so a resumed epoch consumes the same random stream as an uninterrupted one.
        generator=torch.Generator().manual_seed(int(opt["manual_seed"])),
    )
    val_loaders = []
    for phase, dopt in opt["datasets"].items():
        if phase.split("_")[0] == "val":
            dopt = dict(dopt, phase="val")
            val_loaders.append(build_dataloader(build_dataset(dopt), dopt, num_gpu=opt["num_gpu"], dist=False, sampler=None))
    return train_set, sampler, loader, val_loaders


def run_stage(opt: Dict[str, Any], stage_dir: Path, stop_after_iter: Optional[int] = None, teacher_hook=None) -> StageResult:
    """Train one stage; resume from its latest training state when there is one.

    Args:
        opt: resolved pyiqa option dict (``is_train``, ``dist``, ``rank``, ``world_size`` set).
        stage_dir: the stage's folder (created).
        stop_after_iter: test hook: raise :class:`StageInterrupted` after this global
            iteration, as a kill would (work since the last saved state is lost).
        teacher_hook: ``fn(train_set, opt)`` that attaches teacher scores before training.
    """
    start = time.time()
    stage_paths(opt, stage_dir)
    train_set, sampler, loader, val_loaders = build_loaders(opt)
    if teacher_hook is not None:
        teacher_hook(train_set, opt)
    ladders, ladder_fraction = None, 0.0
    if opt["train"].get("ladder"):
        ladders = LadderBatches(opt["train"]["ladder"])
        ladder_fraction = float(opt["train"]["ladder"].get("fraction", 0.5))
        if teacher_hook is not None and opt["train"]["ladder"].get("teacher_loss"):
            teacher_hook(ladders, opt)
    model = MSPTModel(opt)
    epochs = int(opt["train"]["total_epoch"])
    per_epoch = sampler.batches_per_epoch()
    save_every = int(opt.get("logger", {}).get("save_latest_freq", 0) or 0)
    # Wall-clock checkpoints as well: a CPU step of a large stage takes seconds, so an iteration
    # count alone can leave an hour of work unsaved.
    save_seconds = 60.0 * float(opt.get("logger", {}).get("save_latest_minutes", 0) or 0)
    val_every = int(opt.get("val", {}).get("val_epoch_freq", 1))

    epoch, it, skip, history = 0, 0, 0, []
    state_file = latest_state(Path(opt["path"]["training_states"]))
    if state_file is not None:
        state = load_training_state(state_file)
        model.resume_training(state)
        epoch, it, skip = int(state["epoch"]), int(state["iter"]), int(state.get("batch_in_epoch", 0))
        history = list(state.get("history", []))
        logger.info("%s: resumed from %s (epoch %d, iter %d)", opt["name"], state_file, epoch, it)

    last_save = time.time()

    def save_state(ep: int, batch_in_epoch: int) -> None:
        nonlocal last_save
        last_save = time.time()
        if _is_main(opt):
            model.save_training_state(ep, it, batch_in_epoch=batch_in_epoch, history=history)
            for old in Path(opt["path"]["training_states"]).glob("*.state"):
                if old.stem.isdigit() and int(old.stem) != it:
                    old.unlink()

    if model.hints is not None and not bool(model.hints.fitted):
        sampler.set_epoch(0, 0)
        model.fit_hint_stats(loader, int(opt["train"]["feature_hints"].get("stats_batches", 4)))
    while epoch < epochs:
        t0 = time.time()
        sampler.set_epoch(epoch, skip)
        totals: Dict[str, float] = {}
        ladder_totals: Dict[str, float] = {}
        n = n_ladder = 0
        bar = tqdm(loader, total=per_epoch - skip, desc=f"{opt['name']} epoch {epoch + 1}/{epochs}", leave=False, disable=not _is_main(opt))
        for b, data in enumerate(bar, start=skip):
            it += 1
            model.feed_data(data)
            model.optimize_parameters(it)
            for k, v in model.get_current_log().items():
                totals[k] = totals.get(k, 0.0) + float(v)
            n += 1
            if ladders is not None:
                # Ladder batches between pool batches; each drawn from (seed, iteration, j) only,
                # so a resumed run draws the same ones.
                for j in range(ladder_steps(ladder_fraction, it)):
                    for k, v in model.optimize_ladder(ladders.batch([int(opt["manual_seed"]), it, j])).items():
                        ladder_totals[k] = ladder_totals.get(k, 0.0) + v
                    n_ladder += 1
            bar.set_postfix(loss=f"{model.get_current_log().get('l_total', float('nan')):.4f}")
            due = (save_every and it % save_every == 0) or (save_seconds and time.time() - last_save >= save_seconds)
            if due and b + 1 < per_epoch:
                save_state(epoch, b + 1)
            if stop_after_iter is not None and it >= stop_after_iter:
                raise StageInterrupted(f"{opt['name']}: stopped after iteration {it} (test hook)")
        skip = 0
        lr = model.get_current_learning_rate()[0]
        model.update_learning_rate(epoch + 2, warmup_iter=opt["train"].get("warmup_iter", -1))  # per-epoch schedule, as pyiqa's pipeline
        epoch += 1
        row: Dict[str, Any] = {"epoch": epoch, "iter": it, "lr": lr, **{k: v / max(n, 1) for k, v in totals.items()},
                               **{k: v / max(n_ladder, 1) for k, v in ladder_totals.items()}}
        if opt.get("val") and (epoch % val_every == 0 or epoch == epochs):
            if _is_main(opt):
                for vl in val_loaders:
                    model.validation(vl, it, None, False)
                for name, metrics in model.last_val.items():
                    row.update({f"{name}/{m}": v for m, v in metrics.items()})
            _barrier(opt)
        row["seconds"] = time.time() - t0
        history.append(row)
        if _is_main(opt):
            vals = " ".join(f"{k} {v:.4f}" for k, v in row.items() if "/" in k)
            logger.info("%s epoch %d/%d loss %.5f lr %.3g %s time %.1fs", opt["name"], epoch, epochs, row.get("l_total", math.nan), lr, vals, row["seconds"])
        save_state(epoch, 0)

    best = Path(opt["path"]["models"]) / "net_best.pth"
    if opt["train"].get("final_head"):
        model.reset_head(opt["train"]["final_head"])
    if _is_main(opt):
        model.save_network(model.eval_network(), "net", -1)
        if not best.is_file():  # no validation set: the last weights are the stage's result
            model.save_network(model.eval_network(), "net_best")
    _barrier(opt)
    result = StageResult(
        name=opt["name"], best_checkpoint=str(best), best_sha256=sha256_file(best),
        pretrain_network=opt["path"].get("pretrain_network"), pretrain_sha256=model.pretrain_sha256,
        best_metrics=getattr(model, "best_metric_results", {}) or {}, epochs=epochs, iters=it,
        seconds=time.time() - start, history=history, git_commit=git_commit(Path(__file__)),
    )
    if _is_main(opt):
        write_json(Path(stage_dir) / "result.json", asdict(result))
    return result
