"""A three-stage toy recipe on generated images: the smoke test of the whole pipeline.

``python -m mspt_pyiqa.train.toy OUT_DIR`` writes a toy dataset (``mspt_pyiqa.data.toy``)
and ``OUT_DIR/recipe.yml`` that runs the shipped synthetic stage files at 64 / 96 / 128 px
on it; then ``mspt-face train OUT_DIR/recipe.yml --out OUT_DIR/run`` trains it on a CPU in
well under a minute. The end-to-end test uses exactly this recipe.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from mspt_pyiqa.data.toy import make_toy_stages
from mspt_pyiqa.options import options_dir
from mspt_pyiqa.utils.io import atomic_write_yaml as write_yaml

# The packaged stage files (the toy recipe only shrinks them).
STAGE_FILES = ("synthetic_stage1_224.yml", "synthetic_stage2_336.yml", "synthetic_stage3_448.yml")


def toy_recipe(csvs: Dict[int, Path], resolutions: Sequence[int] = (64, 96, 128), epochs: int = 2, batch: int = 6, seed: int = 7, save_every: int = 1) -> Dict[str, Any]:
    """Recipe dict: shipped stage files with toy data, small resolutions, CPU, no workers."""
    stages: List[Dict[str, Any]] = []
    for k, (stage_file, res) in enumerate(zip(STAGE_FILES, resolutions), start=1):
        csv = str(Path(csvs[k]).resolve())
        stages.append({
            "option": str(options_dir() / "stages" / stage_file),
            "overrides": {
                "datasets": {
                    "train": {"meta_info_file": csv, "augment": {"resize": [res, res], "hflip": True}, "batch_size_per_gpu": batch, "num_worker_per_gpu": 0},
                    "val": {"meta_info_file": csv, "num_worker_per_gpu": 0},
                },
                "network": {"test_img_size": res, "backbone_pretrained": False},
                "train": {"total_epoch": epochs, "scheduler": {"T_max": epochs}},
                "logger": {"save_latest_freq": save_every},
            },
        })
    return {
        "name": "toy", "manual_seed": seed, "num_gpu": 0,
        "replay": {"enabled": True, "max_samples_per_source": None},
        "anti_forgetting": {"distill": 1.0, "distill_features": 0.0, "l2_pull": 0.0},
        "stages": stages,
    }


def write_toy_setup(out_dir: Path, per_stage: int = 10, n_val: int = 4, size: int = 128, **recipe_kwargs: Any) -> Path:
    """Generate the toy data under ``out_dir/data`` and write ``out_dir/recipe.yml``; return its path."""
    csvs = make_toy_stages(Path(out_dir) / "data", per_stage=per_stage, n_val=n_val, size=size)
    return write_yaml(Path(out_dir) / "recipe.yml", toy_recipe(csvs, **recipe_kwargs))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mspt_pyiqa.train.toy", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-stage", type=int, default=10, help="images per stage (train + val)")
    parser.add_argument("--val", type=int, default=4, help="validation images per stage")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    recipe = write_toy_setup(args.out, per_stage=args.per_stage, n_val=args.val, epochs=args.epochs)
    print(f"mspt-face train {recipe} --out {args.out / 'run'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
