"""The ladder ranking term in the one trainer: ported losses, ladder CSVs, batches, steps.

Reference values (``tests/data/release_reference.json``) were recorded from the release
trainer's own functions before they left the package (``research/record_release_reference.py``);
these tests check the ported components give the same values and gradients.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from pyiqa.losses.iqa_losses import plcc_loss

from mspt_pyiqa.data.meta import MetaInfoError
from mspt_pyiqa.train.ladder_data import LadderBatches, kind_probabilities, ladder_batch, ladder_steps, read_ladders
from mspt_pyiqa.train.losses import LadderRankLoss, Objective, TeacherDifferenceLoss, build_ladder_losses, ladder_rank_loss

REF = json.loads((Path(__file__).parent / "data" / "release_reference.json").read_text())
KINDS = ["gaussian_blur", "jpeg", "saturation"]


def _inputs():
    i = REF["inputs"]
    return (torch.tensor(i["labels"]), torch.tensor(i["group"]), torch.tensor(i["pred"]),
            torch.tensor(i["teacher"]), torch.tensor(i["anchor"]))


def _value_grad(fn, pred):
    p = pred.clone().requires_grad_(True)
    loss = fn(p)
    loss.backward()
    return float(loss.detach()), p.grad


@pytest.mark.parametrize("key,weight", [("ranking_plain", 1.0), ("ranking_anchor", 2.5)])
def test_ladder_rank_loss_reproduces_release_hinge(key, weight) -> None:
    labels, group, pred, _, anchor = _inputs()
    module = LadderRankLoss(loss_weight=1.0, margin=0.03, pristine_weight=weight)
    value, grad = _value_grad(lambda p: module(p, labels, group, anchor), pred)
    assert value == pytest.approx(REF[key][0], rel=1e-6, abs=1e-9)
    torch.testing.assert_close(grad, torch.tensor(REF[key][1]), rtol=1e-5, atol=1e-9)
    assert float(LadderRankLoss(loss_weight=4.0, margin=0.03, pristine_weight=weight)(pred, labels, group, anchor)) == pytest.approx(4 * REF[key][0], rel=1e-6)


def test_teacher_difference_reproduces_release() -> None:
    labels, group, pred, teacher, _ = _inputs()
    value, grad = _value_grad(lambda p: TeacherDifferenceLoss()(p, teacher, labels, group), pred)
    assert value == pytest.approx(REF["teacher_difference"][0], rel=1e-6)
    torch.testing.assert_close(grad, torch.tensor(REF["teacher_difference"][1]), rtol=1e-5, atol=1e-9)


def test_one_plcc_and_label_loss_match_release() -> None:
    """pyiqa's plcc_loss (the one kept) equals the release's own (1 - r) / 2 up to its epsilon."""
    labels, _, pred, _, _ = _inputs()
    value, grad = _value_grad(lambda p: plcc_loss(p.view(-1, 1), labels.view(-1, 1)), pred)
    assert value == pytest.approx(REF["plcc"][0], rel=1e-5)
    torch.testing.assert_close(grad, torch.tensor(REF["plcc"][1]), rtol=1e-4, atol=1e-7)
    obj = Objective({"losses": {"mse": 1.0, "plcc": 0.5}})
    value, grad = _value_grad(lambda p: sum(obj.label_losses(p, labels).values()), pred)
    assert value == pytest.approx(REF["label"][0], rel=1e-5)
    torch.testing.assert_close(grad, torch.tensor(REF["label"][1]), rtol=1e-4, atol=1e-7)


def test_batch_rank_term_is_torchs_margin_ranking_loss() -> None:
    """The batch-wide ranking of ``losses.rank`` (one hinge for both uses) = torch's definition."""
    g = torch.Generator().manual_seed(1)
    pred, target = torch.rand(9, generator=g), torch.rand(9, generator=g)
    target[3] = target[4]
    i, j = torch.triu_indices(9, 9, offset=1)
    sign = torch.sign(target[i] - target[j])
    keep = sign != 0
    want = F.margin_ranking_loss(pred[i][keep], pred[j][keep], sign[keep], margin=0.1)
    assert float(ladder_rank_loss(pred, target, None, 0.1, min_gap=0.0)) == pytest.approx(float(want), rel=1e-6)
    assert float(ladder_rank_loss(pred, torch.zeros(9), None, 0.1)) == 0.0  # no order: zero with a graph


def test_losses_are_registered_in_pyiqa_and_built_from_options() -> None:
    from pyiqa.utils.registry import LOSS_REGISTRY

    rank, teach, cross = build_ladder_losses({"loss": {"type": "LadderRankLoss", "loss_weight": 4.0, "margin": 0.03}, "teacher_loss": {"loss_weight": 0.5}})
    assert isinstance(rank, LadderRankLoss) and rank.loss_weight == 4.0 and rank.margin == 0.03
    assert isinstance(teach, TeacherDifferenceLoss) and teach.loss_weight == 0.5
    assert cross is None
    _, _, cross = build_ladder_losses({"cross_loss": {"type": "LadderRankLoss", "loss_weight": 2.0, "min_gap": 0.5}})
    assert isinstance(cross, LadderRankLoss) and cross.loss_weight == 2.0 and cross.min_gap == 0.5
    assert LOSS_REGISTRY.get("LadderRankLoss") is LadderRankLoss
    with pytest.raises(ValueError, match="pristine_weight"):
        LadderRankLoss(pristine_weight=-1)


def _reference_pool_csv(root: Path) -> "tuple[Path, list]":
    """The recorder's tiny ladder pool as PNG files + an explicit ladder CSV (ladder_id, level).

    Returns the CSV and, per CSV row, the pool row it copies (the clean photo is repeated in
    each of its ladders)."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(35, 64, 64, 3), dtype=np.uint8)
    (root / "img").mkdir(parents=True)
    for i, im in enumerate(images):
        Image.fromarray(im).save(root / "img" / f"{i}.png")
    rows, pool_row = [], []
    for p in range(5):
        for k, kind in enumerate(KINDS):
            members = [(p * 7, 0, 0.9)] + [(p * 7 + 1 + k * 2 + b, b + 1, 0.8 - 0.3 * b - 0.05 * k) for b in range(2)]
            for r, level, mos in members:
                rows.append({"dist_img": f"img/{r}.png", "mos": mos, "ladder_id": f"p{p}/{kind}", "level": level,
                             "source_id": f"p{p}", "degradation": "pristine" if level == 0 else kind})
                pool_row.append(r)
    csv = root / "ladders.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv, pool_row


def test_ladder_csv_batches_and_step_reproduce_release(tmp_path: Path) -> None:
    csv, pool_row = _reference_pool_csv(tmp_path)
    lcfg = REF["ladder_step"]["lcfg"]
    batches = LadderBatches({"meta_info_file": str(csv), "ladders_per_batch": 4, "kind_weights": lcfg["kind_weights"]})
    assert batches.ladders.kinds == KINDS and len(batches.ladders.ladders) == 15
    np.testing.assert_allclose(batches.kind_p, REF["kind_p"])
    idx, group = ladder_batch(batches.ladders, 4, np.random.default_rng(REF["ladder_batch"]["seed"]), batches.kind_p)
    assert [pool_row[i] for i in idx] == REF["ladder_batch"]["index"] and group.tolist() == REF["ladder_batch"]["group"]
    batch = batches.batch(REF["ladder_batch"]["seed"])
    assert batch["img"].shape == (12, 3, 64, 64) and batch["ladder_anchor"].sum() == 4
    # the same images and flips as the release step
    rng = np.random.default_rng(3)
    images = torch.from_numpy(rng.integers(0, 256, size=(35, 64, 64, 3), dtype=np.uint8)).permute(0, 3, 1, 2).float() / 255
    want = images[REF["ladder_step"]["index"]]
    flip = torch.tensor(REF["ladder_step"]["flip"])
    want[flip] = want[flip].flip(-1)
    torch.testing.assert_close(batch["img"], want)
    # one ladder step's loss and gradient norm: label losses + 4 x hinge on a seeded MSPTNet
    from mspt_pyiqa.archs import MSPTNet

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).train()
    torch.manual_seed(1)
    score = net(batch["img"]).view(-1)
    mos = batch["mos_label"].view(-1)
    rank = LadderRankLoss(loss_weight=lcfg["rank_weight"], margin=lcfg["margin"], pristine_weight=lcfg["pristine_weight"])
    loss = sum(Objective({"losses": {"mse": 1.0, "plcc": 0.5}}).label_losses(score, mos).values()) + rank(score, mos, batch["ladder_group"], batch["ladder_anchor"])
    loss.backward()
    gnorm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters() if p.grad is not None)))
    assert float(loss.detach()) == pytest.approx(REF["ladder_step"]["loss"], rel=1e-4)
    assert gnorm == pytest.approx(REF["ladder_step"]["grad_norm"], rel=1e-3)


def test_levels_layout_ladders_share_the_clean_row(tmp_path: Path) -> None:
    """The corpus's ``--levels`` CSV (no ladder_id): ladders are (photo, kind), level 0 heads each."""
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    rows = [{"dist_img": "a.png", "mos": 0.9, "source_id": "s1", "degradation": "pristine", "level": 0}]
    rows += [{"dist_img": "a.png", "mos": 0.8 - 0.1 * lv, "source_id": "s1", "degradation": k, "level": lv} for k in ("jpeg", "webp") for lv in (1, 2, 3)]
    rows += [{"dist_img": "a.png", "mos": 0.95, "source_id": "s2", "degradation": "pristine", "level": 0},
             {"dist_img": "a.png", "mos": 0.5, "source_id": "s2", "degradation": "jpeg", "level": 1}]
    pd.DataFrame(rows).to_csv(tmp_path / "levels.csv", index=False)
    lad = read_ladders(tmp_path / "levels.csv")
    assert lad.photos == ["s1", "s2"] and lad.kinds == ["jpeg", "webp"]
    assert [list(r) for r in lad.ladders] == [[0, 1, 2, 3], [0, 4, 5, 6], [7, 8]]
    # s2 has no webp ladder: a draw of webp for it is redrawn among its own kinds
    for seed in range(5):
        idx, group = ladder_batch(lad, 6, np.random.default_rng(seed), kind_probabilities(lad.kinds, {"webp": 5.0}))
        assert all(lad.levels[idx[group == g]][0] == 0 for g in set(group.tolist()))


def test_ladder_csv_errors_name_the_file(tmp_path: Path) -> None:
    pd.DataFrame([{"dist_img": "a.png", "mos": 0.5}]).to_csv(tmp_path / "nolevel.csv", index=False)
    with pytest.raises(MetaInfoError, match=r"nolevel\.csv.*'level'"):
        read_ladders(tmp_path / "nolevel.csv")
    pd.DataFrame([{"dist_img": "a.png", "mos": 0.5, "ladder_id": "x", "level": 1},
                  {"dist_img": "b.png", "mos": 0.4, "ladder_id": "x", "level": 2}]).to_csv(tmp_path / "noclean.csv", index=False)
    with pytest.raises(MetaInfoError, match=r"noclean\.csv: ladder 'x' needs exactly one level-0"):
        read_ladders(tmp_path / "noclean.csv")
    with pytest.raises(ValueError, match="kind_weights name kinds"):
        kind_probabilities(["jpeg"], {"jepg": 1.0})


def test_cross_loss_ranks_across_ladders_by_severity(tmp_path: Path) -> None:
    """``cross_loss`` needs a severity column, carries it in the batch, and orders across ladders."""
    csv, _ = _reference_pool_csv(tmp_path)
    frame = pd.read_csv(csv)
    with pytest.raises(MetaInfoError, match=r"ladders\.csv: train\.ladder\.cross_loss needs a 'severity' column"):
        LadderBatches({"meta_info_file": str(csv), "cross_loss": {"loss_weight": 1.0}})
    frame["severity"] = frame["level"] * np.where(frame["degradation"].isin(KINDS[::2]), 1.5, 1.0)  # kinds differ in step size
    frame.to_csv(csv, index=False)
    batch = LadderBatches({"meta_info_file": str(csv), "ladders_per_batch": 4, "cross_loss": {"loss_weight": 1.0}}).batch([0, 1])
    sev = batch["ladder_severity"]
    assert sev.shape == (12,) and torch.isfinite(sev).all() and bool((sev[batch["ladder_anchor"]] == 0).all())
    _, _, cross = build_ladder_losses({"cross_loss": {"type": "LadderRankLoss", "loss_weight": 1.0, "margin": 0.1, "min_gap": 0.5}})
    group = batch["ladder_group"]
    # scores in the right order within each ladder but offset per ladder: only the cross term sees it
    pred = (-sev + 3.0 * group.float()).requires_grad_(True)
    within = ladder_rank_loss(pred, -sev, group, 0.1, 0.5)
    assert float(within.detach()) == 0.0 and float(cross(pred, -sev).detach()) > 0.0
    cross(pred, -sev).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert float(cross(-sev * 10.0, -sev)) == 0.0  # one order across the batch: nothing to pay
    # margin_per_gap: the score gap asked grows with the severity gap (0.1 per level here)
    spread = LadderRankLoss(margin=0.0, min_gap=0.5, margin_per_gap=0.1)
    assert float(spread(-sev * 0.11, -sev)) == 0.0 and float(spread(-sev * 0.09, -sev)) > 0.0
    with pytest.raises(ValueError, match="margin_per_gap"):
        LadderRankLoss(margin_per_gap=-0.1)
    bad = frame.copy()
    bad.loc[3, "severity"] = -1.0
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MetaInfoError, match=r"bad\.csv: 'severity' must be a number >= 0"):
        read_ladders(tmp_path / "bad.csv")


@pytest.mark.parametrize("fraction,per_100", [(0.0, 0), (0.5, 100), (0.25, 33), (0.75, 300)])
def test_ladder_steps_spread_evenly(fraction, per_100) -> None:
    steps = [ladder_steps(fraction, it) for it in range(1, 101)]
    assert sum(steps) == per_100 and max(steps) - min(steps) <= 1 + int(fraction > 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ladder_steps(1.0, 1)


def test_ema_of_the_trainer_equals_the_release_ema() -> None:
    """torch's AveragedModel EMA (MSPTModel, ``ema_decay``) = timm's ModelEmaV3 stepped from 1 (release)."""
    from timm.utils import ModelEmaV3
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    net(torch.rand(2, 3, 8, 8))
    ours = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    theirs = ModelEmaV3(net, decay=0.9)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for it in range(5):
        opt.zero_grad()
        net(torch.rand(4, 3, 8, 8)).pow(2).mean().backward()
        opt.step()
        ours.update_parameters(net)
        theirs.update(net, step=it + 1)
    for (k, a), b in zip(ours.module.state_dict().items(), theirs.module.state_dict().values()):
        if a.is_floating_point():  # num_batches_tracked: a counter BatchNorm ignores when momentum is set
            torch.testing.assert_close(a, b, msg=k)


def test_corpus_train_split_ladders_feed_the_ranking_term(tmp_path: Path) -> None:
    """``mspt-face corpus build --levels --levels-split train`` writes ladders the trainer reads."""
    import cv2
    from skimage import data

    from mspt_pyiqa.corpus.builder import build_stage

    face = cv2.resize(data.astronaut()[20:240, 140:360], (72, 72), interpolation=cv2.INTER_AREA)
    for i in range(8):
        (tmp_path / "faces" / "clean").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "faces" / "clean" / f"f{i}.png"), np.roll(face, 3 * i, axis=1))
    cfg = {"name": "tiny", "stage": 1, "resolution": 48, "samples_per_source": 1, "split": {"val": 0.25, "test": 0.25},
           "kinds": [{"kind": "gaussian_blur"}, {"kind": "jpeg"}], "levels": [0.3, 0.9],
           "label": {"scheme": "severity", "pristine": 1.0}}
    res = build_stage(tmp_path / "faces", tmp_path / "corpus", cfg, seed=1, levels_mode=True, levels_split="train", progress=False)
    assert res.csv_path.name == "tiny_levels_train.csv"
    assert set(pd.read_csv(res.csv_path)["split"]) == {"train"}
    batches = LadderBatches({"meta_info_file": str(res.csv_path), "ladders_per_batch": 3, "augment": {"resize": [32, 32]}})
    lad = batches.ladders
    assert lad.kinds == ["gaussian_blur", "jpeg"] and all(len(r) == 3 for r in lad.ladders)
    assert all(lad.labels[r[0]] >= lad.labels[r[-1]] for r in lad.ladders)  # clean photo labelled best
    b = batches.batch([0, 1, 1])
    assert b["img"].shape == (9, 3, 32, 32) and b["ladder_group"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(b["img"], batches.batch([0, 1, 1])["img"])  # the draw depends on the key only



def test_teacher_loss_kinds_keep_the_teacher_on_those_ladders_only(tmp_path: Path) -> None:
    """``teacher_loss.kinds``: rows of other kinds lose their teacher score (NaN), so the teacher
    term sees pairs of the listed kinds only; an unknown kind is refused by name."""
    csv, _ = _reference_pool_csv(tmp_path)
    kept = KINDS[0]
    opt = {"meta_info_file": str(csv), "ladders_per_batch": 4,
           "teacher_loss": {"type": "TeacherDifferenceLoss", "loss_weight": 1.0, "kinds": [kept]}}
    batches = LadderBatches(opt)
    batches.set_teacher_scores(np.linspace(0.1, 0.9, len(batches.images)).astype(np.float32))
    lad = batches.ladders
    for rows, k in zip(lad.ladders, lad.kind_of):
        finite = np.isfinite(lad.teacher[np.asarray(rows)])
        assert finite.all() if lad.kinds[int(k)] == kept else not finite[1:].any()
    # the loss itself is built without the option (it selects rows, not a loss argument)
    _, teacher_loss, _ = build_ladder_losses(opt)
    assert teacher_loss is not None
    with pytest.raises(ValueError, match=r"teacher_loss\.kinds names kinds the ladders do not have: \['sharpen'\]"):
        LadderBatches({**opt, "teacher_loss": {"kinds": ["sharpen"]}})


def test_teacher_loss_files_keep_the_teacher_on_those_csvs_only(tmp_path: Path) -> None:
    """``teacher_loss.files``: of two ladder CSVs, only the listed one's rows keep teacher scores."""
    csv, _ = _reference_pool_csv(tmp_path)
    other = tmp_path / "other.csv"
    frame = pd.read_csv(csv)
    frame.to_csv(other, index=False)
    files = [str(csv), str(other)]
    batches = LadderBatches({"meta_info_file": files, "teacher_loss": {"loss_weight": 1.0, "files": [str(other)]}})
    batches.set_teacher_scores(np.full(len(batches.images), 0.5, np.float32))
    finite = np.isfinite(batches.ladders.teacher)
    assert finite.sum() == len(frame) and finite[len(frame):].all() and not finite[:len(frame)].any()
    with pytest.raises(ValueError, match=r"teacher_loss\.files: \['nope\.csv'\] not in train\.ladder\.meta_info_file"):
        LadderBatches({"meta_info_file": files, "teacher_loss": {"files": ["nope.csv"]}})
