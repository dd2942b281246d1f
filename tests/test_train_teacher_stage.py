"""A recipe that fits a MobileNetV2IQA teacher in an auxiliary stage and distils it into the chain:
``@<stage>`` checkpoint references, teacher score targets and cosine feature distillation through
a trained projection (the release trainer's teacher terms)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from mspt_pyiqa.archs.teacher_arch import FEATURE_DIM, MobileNetV2IQA
from mspt_pyiqa.options import options_dir
from mspt_pyiqa.train import run_recipe
from mspt_pyiqa.train.pyiqa_model import cosine_feature_term
from mspt_pyiqa.train.recipe import RecipeError, check_recipe
from mspt_pyiqa.train.toy import write_toy_setup


def test_teacher_arch_shapes_frozen_lower_blocks_and_range() -> None:
    torch.manual_seed(0)
    net = MobileNetV2IQA(imagenet_weights=None, test_img_size=64).train()
    x = torch.rand(2, 3, 80, 96)
    score, feats = net(x, return_features=True)
    assert score.shape == (2, 1) and feats.shape == (2, FEATURE_DIM)
    assert torch.allclose(score, torch.full((2, 1), 0.5))  # zero head weights, bias 0.5: starts at the label middle
    assert not net.lower_blocks.training and all(not p.requires_grad for p in net.lower_blocks.parameters())
    assert all(p.requires_grad for p in net.upper_blocks.parameters())


def test_cosine_feature_term_matches_the_release_formula() -> None:
    torch.manual_seed(0)
    proj = torch.nn.Linear(8, 5)
    s, t = torch.randn(4, 8), torch.randn(4, 5)
    t[2] = float("nan")
    per, mask = cosine_feature_term(proj)({"features": s}, {"teacher_feats": t})
    keep = torch.tensor([True, True, False, True])
    assert torch.equal(mask, keep)
    want = 1 - torch.nn.functional.cosine_similarity(proj(s[keep]), t[keep], dim=1)
    torch.testing.assert_close(per[keep], want)
    assert float(per[2].detach()) == 0.0


def _teacher_recipe(tmp_path: Path) -> Path:
    path = write_toy_setup(tmp_path / "toy", per_stage=10, n_val=4, epochs=1, resolutions=(64, 64, 64))
    recipe = yaml.safe_load(path.read_text())
    csv = recipe["stages"][0]["overrides"]["datasets"]["train"]["meta_info_file"]
    teacher_stage = {
        "option": str(options_dir() / "stages" / "teacher_mobilenetv2_224.yml"), "auxiliary": True,
        "overrides": {"name": "fit_teacher",
                      "datasets": {"train": {"meta_info_file": csv, "augment": {"resize": [64, 64]}, "batch_size_per_gpu": 6, "num_worker_per_gpu": 0},
                                   "val": {"meta_info_file": csv, "num_worker_per_gpu": 0}},
                      "network": {"imagenet_weights": None, "test_img_size": 64},
                      "train": {"total_epoch": 1, "scheduler": {"T_max": 1}}}}
    second = recipe["stages"][1]
    second["overrides"]["train"].update(
        teacher={"type": "checkpoint", "path": "@fit_teacher", "network": {"type": "MobileNetV2IQA", "test_img_size": 64},
                 "feature_weight": 0.5, "feature_loss": "cosine"},
        per_sample_terms=[{"name": "teacher_score", "pred": "score", "target": "teacher_score", "weight": 1.0}])
    recipe["stages"] = [teacher_stage, recipe["stages"][0], second]
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_reference_to_no_earlier_stage_is_refused(tmp_path: Path) -> None:
    path = _teacher_recipe(tmp_path)
    recipe = yaml.safe_load(path.read_text())
    recipe["stages"][2]["overrides"]["train"]["teacher"]["path"] = "@fit_teachr"
    path.write_text(yaml.safe_dump(recipe))
    _, _, problems = check_recipe(path)
    assert len(problems) == 1 and "'@fit_teachr' names no earlier stage" in problems[0]
    with pytest.raises(RecipeError, match="names no earlier stage"):
        run_recipe(path, tmp_path / "run")


def test_feature_hints_reproduce_the_release_feature_init() -> None:
    """Hint losses and gradients = the release trainer's (tests/data/feature_init_reference.json)."""
    from mspt_pyiqa.archs import MSPTNet
    from mspt_pyiqa.train.feature_hints import FeatureHints, teacher_maps

    ref = json.loads((Path(__file__).parent / "data" / "feature_init_reference.json").read_text())
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).train()
    torch.manual_seed(1)
    teacher = MobileNetV2IQA(imagenet_weights=None).eval()
    torch.manual_seed(2)
    hints = FeatureHints({int(k): v for k, v in ref["taps"].items()})
    g = torch.Generator().manual_seed(3)
    batches = [torch.rand(4, 3, 64, 64, generator=g) for _ in range(3)]
    with torch.no_grad():
        firsts = [teacher_maps(teacher, b, hints.teacher_taps) for b in batches[:2]]
    hints.fit_stats([f[0] for f in firsts], [f[1] for f in firsts])
    assert bool(hints.fitted)
    loss = hints.loss(net, teacher, batches[2])
    loss.backward()
    params = list(net.parameters()) + list(hints.parameters())
    gnorm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None)))
    assert float(loss.detach()) == pytest.approx(ref["loss"], rel=1e-5)
    assert gnorm == pytest.approx(ref["grad_norm"], rel=1e-4)


@pytest.mark.slow
def test_teacher_then_feature_init_then_stages_with_teacher_targets(tmp_path: Path) -> None:
    """The v11 shape in miniature: fit a teacher (auxiliary), initialise the student from its
    features (head reset, not replayed), then two stages, the second with the teacher's score and
    cosine feature targets, severity ladders, an EMA and gradient clipping."""
    path = _teacher_recipe(tmp_path)
    recipe = yaml.safe_load(path.read_text())
    csv = recipe["stages"][1]["overrides"]["datasets"]["train"]["meta_info_file"]
    init = {"option": str(options_dir() / "stages" / "feature_init_224.yml"), "replayed": False,
            "overrides": {"name": "init", "datasets": {"train": {"meta_info_file": csv, "augment": {"resize": [64, 64]}, "batch_size_per_gpu": 6,
                                                                   "num_worker_per_gpu": 0}},
                          "network": {"test_img_size": 64},
                          "train": {"total_epoch": 1, "scheduler": {"T_max": 1}, "feature_hints": {
                              "teacher": {"path": "@fit_teacher", "network": {"test_img_size": 64}}, "stats_batches": 1}}}}
    recipe["stages"] = [recipe["stages"][0], init, *recipe["stages"][1:]]
    # the last stage also trains on ladders (explicit CSV: 3 rows per ladder, best label first)
    import pandas as pd

    toy = pd.read_csv(csv)
    rows = [dict(r, ladder_id=f"l{i // 3}", level=i % 3) for i, r in enumerate(toy.sort_values("mos", ascending=False).head(9).to_dict("records"))]
    ladders = Path(csv).parent / "ladders.csv"
    pd.DataFrame(rows).sort_values(["ladder_id", "level"]).to_csv(ladders, index=False)
    recipe["stages"][-1]["overrides"]["train"].update(
        ladder={"meta_info_file": str(ladders), "fraction": 0.5, "ladders_per_batch": 2, "augment": {"resize": [64, 64]},
                "loss": {"type": "LadderRankLoss", "loss_weight": 4.0, "margin": 0.03}},
        ema_decay=0.9, grad_clip_norm=5.0)
    path.write_text(yaml.safe_dump(recipe))
    _, stages, problems = check_recipe(path)
    assert problems == [] and len(stages) == 4
    summary = run_recipe(path, tmp_path / "run", forgetting=True)
    teacher, init_res, first, second = summary["stages"]
    assert teacher["pretrain_sha256"] is None and init_res["pretrain_sha256"] is None  # nothing starts from the teacher
    assert first["pretrain_sha256"] == init_res["best_sha256"] and second["pretrain_sha256"] == first["best_sha256"]
    from mspt_pyiqa.weights import read_checkpoint

    head = read_checkpoint(Path(init_res["best_checkpoint"]))["model.classifier.bias"]
    assert torch.allclose(head, torch.full_like(head, 0.5))  # final_head reset the regression head
    assert json.loads((tmp_path / "run" / "2_init" / "result.json").read_text())["history"][0]["l_hints"] > 0
    opts1 = yaml.safe_load((tmp_path / "run" / "3_synthetic_stage1_224" / "options.yml").read_text())
    assert "sources" not in opts1["datasets"]["train"]  # nothing replayed from the teacher or init stages
    opts2 = yaml.safe_load((tmp_path / "run" / "4_synthetic_stage2_336" / "options.yml").read_text())
    assert opts2["train"]["teacher"]["path"] == teacher["best_checkpoint"]
    assert [s["replay"] for s in opts2["datasets"]["train"]["sources"]] == [True, False]
    history = json.loads((tmp_path / "run" / "4_synthetic_stage2_336" / "result.json").read_text())["history"]
    assert all(row["l_teacher_feat"] > 0 and row["l_teacher_score"] >= 0 for row in history)
    assert all(row["l_ladder_total"] > 0 and row["l_ladder_rank"] >= 0 for row in history)  # ladder steps ran
    assert {r["checkpoint_stage"] for r in summary["forgetting"]} == {"synthetic_stage1_224", "synthetic_stage2_336"}
    # a rerun resumes: every stage (the feature init's integer-keyed taps included) is found finished
    again = run_recipe(path, tmp_path / "run", forgetting=False)
    assert [r["best_sha256"] for r in again["stages"]] == [r["best_sha256"] for r in summary["stages"]]
