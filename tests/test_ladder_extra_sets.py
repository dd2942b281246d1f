"""``train.ladder.extra_sets``: ladder sets of another image size, each batch from one set.

Why the option exists: a release that never enlarges scores a 224 px face at 224 px, so the
corpus's 224 px ladders train at that size beside the 320 px native ladders; a batch stacks
images of one size, so each batch comes from one set.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mspt_pyiqa.train.ladder_data import LadderBatches, ladder_batch
from mspt_pyiqa.train.schema import stage_problems

BIG, SMALL = 24, 16


def _ladder_csv(root: Path, size: int, kinds=("jpeg", "gaussian_noise"), photos: int = 3, levels: int = 3) -> Path:
    """An explicit-layout ladder CSV of random ``size`` px images (severity = 0.5 x level)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(size)
    rows = []
    for p in range(photos):
        for k in kinds:
            for lv in range(levels):
                name = f"p{p}_{k}_{lv}.png"
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name)
                rows.append({"dist_img": name, "mos": 1.0 - 0.3 * lv, "ladder_id": f"p{p}/{k}", "level": lv,
                             "source_id": f"p{p}", "degradation": k, "severity": 0.5 * lv})
    path = root / "ladders.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture()
def two_sets(tmp_path: Path):
    big = _ladder_csv(tmp_path / "big", BIG)
    small = _ladder_csv(tmp_path / "small", SMALL, kinds=("jpeg", "saturation"), photos=4)
    opt = {"meta_info_file": str(big), "ladders_per_batch": 2, "augment": {"resize": [BIG, BIG], "hflip": True},
           "cross_loss": {"type": "LadderRankLoss", "loss_weight": 1.0},
           "extra_sets": [{"meta_info_file": str(small), "share": 0.4, "ladders_per_batch": 3, "cross_loss": False}]}
    return big, small, opt


def test_each_batch_comes_from_one_set_at_its_own_size(two_sets) -> None:
    _, _, opt = two_sets
    batches = LadderBatches(opt)
    n_big = len(batches.sets[0].images)
    sizes = []
    for key in range(200):
        b = batches.batch([0, key])
        side = b["img"].shape[-1]
        sizes.append(side)
        assert side in (BIG, SMALL)
        if side == SMALL:  # the extra set: 3 ladders of 3, rows after the first set's, off the cross scale
            assert b["img"].shape[0] == 9 and int(b["index"].min()) >= n_big
            assert torch.isnan(b["ladder_severity"]).all()
        else:
            assert b["img"].shape[0] == 6 and int(b["index"].max()) < n_big
            assert torch.isfinite(b["ladder_severity"]).all()
        assert torch.equal(b["img"], batches.batch([0, key])["img"])  # the draw depends on the key only
    share = np.mean(np.asarray(sizes) == SMALL)
    assert 0.3 < share < 0.5  # binomial(200, 0.4): 0.4 +- 3.5 sd


def test_one_set_draws_as_before(two_sets) -> None:
    """Without extra sets the batch is the plain ``ladder_batch`` draw of the key (no extra random number)."""
    big, _, opt = two_sets
    one = {k: v for k, v in opt.items() if k != "extra_sets"}
    batches = LadderBatches(one)
    idx, group = ladder_batch(batches.ladders, 2, np.random.default_rng([0, 5]), batches.sets[0].kind_p)
    b = batches.batch([0, 5])
    assert b["index"].tolist() == idx.tolist() and b["ladder_group"].tolist() == group.tolist()


def test_teacher_rows_cover_every_set(two_sets) -> None:
    """``teacher_loss.kinds`` may name a kind only an extra set has; scores split by set in row order."""
    _, small, opt = two_sets
    batches = LadderBatches({**opt, "teacher_loss": {"loss_weight": 1.0, "kinds": ["saturation"]}})
    n = batches.n_rows
    assert n == len(batches.paths_mos) == len(batches.sets[0].images) + len(batches.sets[1].images)
    batches.set_teacher_scores(np.linspace(0.1, 0.9, n).astype(np.float32))
    assert not np.isfinite(batches.sets[0].ladders.teacher).any()  # no saturation ladder in the first set
    extra = batches.sets[1].ladders
    for rows, k in zip(extra.ladders, extra.kind_of):
        assert np.isfinite(extra.teacher[rows]).all() == (extra.kinds[int(k)] == "saturation")
    files = LadderBatches({**opt, "teacher_loss": {"loss_weight": 1.0, "files": [str(small)]}})
    files.set_teacher_scores(np.full(n, 0.5, np.float32))
    assert np.isfinite(files.sets[1].ladders.teacher).all() and not np.isfinite(files.sets[0].ladders.teacher).any()
    with pytest.raises(ValueError, match=r"kinds the ladders do not have: \['sharpen'\]"):
        LadderBatches({**opt, "teacher_loss": {"kinds": ["sharpen"]}})
    with pytest.raises(ValueError, match=r"expected \d+ ladder teacher scores"):
        batches.set_teacher_scores(np.zeros(3, np.float32))


@pytest.mark.parametrize("shares,message", [([0.0], r"share must be in \(0, 1\)"), ([0.6, 0.5], r"shares sum to 1\.1")])
def test_bad_shares_are_refused(two_sets, shares, message) -> None:
    _, small, opt = two_sets
    extra = [{"meta_info_file": str(small), "share": s} for s in shares]
    with pytest.raises(ValueError, match=message):
        LadderBatches({**opt, "extra_sets": extra})


def test_schema_names_a_missing_share(two_sets) -> None:
    _, small, opt = two_sets
    problems = stage_problems({"train": {"ladder": {**opt, "extra_sets": [{"meta_info_file": str(small)}]}}}, "stage.yml")
    assert any("extra_sets" in p and "share" in p for p in problems), problems


def test_stage_trains_small_images_at_their_size_when_never_enlarging(tmp_path: Path, monkeypatch) -> None:
    """A two-view network with ``enlarge: false``: the first set's 24 px batches carry no detail
    (cut by the network), the extra set's 16 px batches reach the network at 16 px, both views
    the same image; the stage trains and saves."""
    import yaml

    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.options import resolve_option_file
    from mspt_pyiqa.train import run_recipe

    big = _ladder_csv(tmp_path / "big", BIG)
    small = _ladder_csv(tmp_path / "small", SMALL, kinds=("jpeg", "saturation"))
    anchors = pd.read_csv(big)
    anchors = anchors[anchors["level"] == 0].drop_duplicates("source_id")
    anchors["dist_img"] = [str(tmp_path / "big" / p) for p in anchors["dist_img"]]
    anchors[["dist_img", "mos"]].to_csv(tmp_path / "anchors.csv", index=False)
    recipe = {
        "name": "tiny_sets", "manual_seed": 1, "num_gpu": 0, "replay": {"enabled": False},
        "anti_forgetting": {"distill": 0.0, "distill_features": 0.0, "l2_pull": 0.0},
        "stages": [{"option": str(resolve_option_file(Path("options/stages/native_ladders_finetune.yml"))), "overrides": {
            "name": "tiny_sets_stage", "network": {"test_img_size": BIG, "detail_size": BIG, "enlarge": False},
            "datasets": {"train": {"meta_info_file": str(tmp_path / "anchors.csv"), "augment": {"resize": [BIG, BIG]},
                                   "batch_size_per_gpu": 2}},
            "train": {"total_epoch": 2, "teacher": {"network": {"type": "MSPTNet", "test_img_size": BIG}},
                      "ladder": {"meta_info_file": str(big), "ladders_per_batch": 1, "fraction": 0.75,
                                 "augment": {"resize": [BIG, BIG]},
                                 "extra_sets": [{"meta_info_file": str(small), "share": 0.5, "ladders_per_batch": 1}]}},
            "logger": {"save_latest_freq": 100}}}],
    }
    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(recipe))
    seen = []
    original = MSPTNet._view_pair

    def spy(self, x, detail=None):
        g, d = original(self, x, detail)
        if self.training:
            seen.append((int(x.shape[-1]), bool(torch.equal(g, d))))
        return g, d

    monkeypatch.setattr(MSPTNet, "_view_pair", spy)
    run_recipe(path, tmp_path / "run", forgetting=False)
    assert {s for s, _ in seen} == {BIG, SMALL}
    assert all(same for s, same in seen if s == SMALL)  # never enlarged: the detail view is the image itself
    result = json.loads((tmp_path / "run" / "1_tiny_sets_stage" / "result.json").read_text())
    assert math.isfinite(result["history"][-1]["l_ladder_rank"])


def test_images_of_another_size_are_named(tmp_path: Path) -> None:
    """Kept as stored, a set whose images differ in size fails with both files named, not a stack error."""
    csv = _ladder_csv(tmp_path / "odd", SMALL, kinds=("jpeg",), photos=1)
    frame = pd.read_csv(csv)
    odd = tmp_path / "odd" / frame["dist_img"].iloc[0]
    Image.fromarray(np.zeros((SMALL + 5, SMALL, 3), np.uint8)).save(odd)
    with pytest.raises(Exception, match=r"differ in size: .*p0_jpeg_0\.png is \(21, 16\)"):
        LadderBatches({"meta_info_file": str(csv), "ladders_per_batch": 1, "augment": {"hflip": False}}).batch([0])
