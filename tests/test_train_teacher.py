"""A stage trained on unlabelled images from a pyiqa metric teacher, with the score cache."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import yaml

from mspt_pyiqa.data.toy import make_toy_stages
from mspt_pyiqa.train import run_recipe
from mspt_pyiqa.train.toy import toy_recipe


def test_pyiqa_teacher_labels_unlabelled_images_once(tmp_path, caplog):
    csv = make_toy_stages(tmp_path / "data", per_stage=10, n_val=4, size=64, stages=(1,))[1]
    meta = pd.read_csv(csv)
    meta.loc[meta["split"] == "train", "mos"] = np.nan  # training images without MOS
    meta.to_csv(csv, index=False)
    recipe = toy_recipe({1: csv}, resolutions=(64,), epochs=1, batch=3)
    recipe["stages"] = recipe["stages"][:1]
    cache = tmp_path / "cache"
    # pyiqa's Entropy metric (no weights to download): higher entropy = more detail.
    recipe["stages"][0]["overrides"]["train"]["teacher"] = {"type": "pyiqa", "name": "entropy", "score_range": [0, 8], "cache_dir": str(cache)}
    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(recipe))

    summary = run_recipe(path, tmp_path / "run1")
    scores = json.loads((cache / "pyiqa-entropy.json").read_text())
    assert len(scores) == 6 and all(0 < v < 8 for v in scores.values())
    history = json.loads((tmp_path / "run1" / "1_synthetic_stage1_224" / "result.json").read_text())["history"]
    assert math.isfinite(history[0]["l_mse"]) and history[0]["l_mse"] > 0  # the teacher gave targets
    assert summary["stages"][0]["iters"] == 2

    with caplog.at_level(logging.INFO, logger="mspt_pyiqa"):
        run_recipe(path, tmp_path / "run2")
    assert "6 cached, 0 scored" in caplog.text
