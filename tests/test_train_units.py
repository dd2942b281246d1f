"""Units of the training package: objective, sampler resume, recipe merging, teacher cache, EMA / L2 pull."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mspt_pyiqa.train.losses import Objective, ladder_rank_loss
from mspt_pyiqa.train.recipe import apply_dotted, deep_merge, with_replay
from mspt_pyiqa.train.sampler import ResumableSampler


def _batch(mos, teacher=None, replay=None):
    n = len(mos)
    b = {"mos_label": torch.tensor(mos, dtype=torch.float32).view(n, 1)}
    if teacher is not None:
        b["teacher_score"] = torch.tensor(teacher, dtype=torch.float32).view(n, 1)
    b["replay"] = torch.tensor(replay if replay is not None else [0.0] * n)
    return b


def test_rank_loss_zero_for_same_order_positive_otherwise():
    t = torch.tensor([0.1, 0.5, 0.9])
    assert float(ladder_rank_loss(torch.tensor([1.0, 2.0, 3.0]), t, margin=0.0)) == 0.0
    assert float(ladder_rank_loss(torch.tensor([3.0, 2.0, 1.0]), t, margin=0.0)) > 0.0
    assert float(ladder_rank_loss(torch.tensor([1.0, 2.0, 3.0]), t, margin=5.0)) > 0.0


def test_objective_terms_masks_and_teacher_targets():
    obj = Objective({"losses": {"mse": 1.0, "plcc": 1.0, "rank": 0.5}, "teacher": {"mix": 0.5}})
    score = torch.tensor([[0.2], [0.4], [0.6], [0.8]], requires_grad=True)
    # Sample 2 has no MOS: its target is the teacher; sample 0 blends MOS and teacher 50/50.
    batch = _batch([0.0, 0.4, float("nan"), 0.8], teacher=[0.4, float("nan"), 0.6, float("nan")])
    target = obj.label_target(batch)
    np.testing.assert_allclose(target.numpy(), [0.2, 0.4, 0.6, 0.8], rtol=1e-6)
    losses = obj({"score": score, "features": torch.zeros(4, 8)}, batch)
    assert set(losses) == {"l_mse", "l_plcc", "l_rank"}
    assert float(losses["l_mse"].detach()) == pytest.approx(0.0, abs=1e-9) and float(losses["l_rank"].detach()) == 0.0
    sum(losses.values()).backward()
    assert torch.isfinite(score.grad).all()

    # Per-sample distillation term only on replayed samples.
    obj = Objective({"losses": {"mse": 0.0}, "per_sample_terms": [{"name": "d", "pred": "score", "target": "prev_score", "mask": "replay", "weight": 2.0}]})
    batch = _batch([0.5, 0.5], replay=[1.0, 0.0])
    batch["prev_score"] = torch.tensor([[0.0], [10.0]])
    out = obj({"score": torch.tensor([[1.0], [1.0]]), "features": torch.zeros(2, 4)}, batch)
    assert float(out["l_d"]) == pytest.approx(2.0)  # only sample 0: 2 * (1 - 0)^2
    obj.register_term("custom", lambda o, b: (o["score"].view(-1) * 0 + 3.0, torch.tensor([True, False])), weight=1.0)
    assert float(obj({"score": torch.ones(2, 1), "features": torch.zeros(2, 4)}, batch)["l_custom"]) == pytest.approx(3.0)


def test_sampler_skip_resumes_inside_epoch_and_shards():
    full = list(ResumableSampler(10, batch_size=2, seed=3))
    s = ResumableSampler(10, batch_size=2, seed=3)
    s.set_epoch(0, skip_batches=2)
    assert list(s) == full[4:]
    s.set_epoch(1)
    assert list(s) != full and sorted(s) == list(range(10))
    r0, r1 = (list(ResumableSampler(7, 2, world_size=2, rank=r, seed=1)) for r in (0, 1))
    assert len(r0) == len(r1) == 4 and set(r0) | set(r1) == set(range(7))


def test_recipe_merging_and_replay_sources():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}
    r = apply_dotted({"stages": [{"x": 1}], "replay": {}}, {"stages.0.x": 2, "replay.enabled": False, "new.key": 1})
    assert r["stages"][0]["x"] == 2 and r["replay"]["enabled"] is False and r["new"]["key"] == 1
    prev = {"datasets": {"train": {"type": "FaceIQADataset", "meta_info_file": "/a.csv", "split_value": "train", "batch_size_per_gpu": 4}}}
    cur = {"datasets": {"train": {"type": "VQualAFIQADataset", "dataroot_target": "/vq", "batch_size_per_gpu": 8, "augment": {"hflip": True}}}}
    out = with_replay(cur, [prev], {"replay": {"enabled": True, "max_samples_per_source": 5}})
    train = out["datasets"]["train"]
    assert train["type"] == "FaceIQADataset" and train["batch_size_per_gpu"] == 8 and train["augment"] == {"hflip": True}
    assert train["sources"][0] == {"meta_info_file": "/a.csv", "split_value": "train", "layout": "meta_csv", "replay": True, "max_samples": 5}
    assert train["sources"][1] == {"dataroot_target": "/vq", "layout": "vquala", "replay": False}
    assert with_replay(cur, [prev], {"replay": {"enabled": False}}) == cur


def test_teacher_checkpoint_scores_cached(tmp_path, monkeypatch):
    import cv2

    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.train import teacher as teacher_mod
    from mspt_pyiqa.weights import save_checkpoint

    torch.manual_seed(0)
    ckpt = tmp_path / "teacher.pth"
    save_checkpoint(MSPTNet(pretrained=False, test_img_size=32), ckpt)
    paths = []
    for i in range(3):
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8))
        paths.append(str(p))
    (tmp_path / "bad.png").write_bytes(b"junk")
    paths.append(str(tmp_path / "bad.png"))
    opt = {"type": "checkpoint", "path": str(ckpt), "network": {"type": "MSPTNet", "test_img_size": 32}}
    first = teacher_mod.teacher_scores(paths, [1, 2, 3, 4], opt, tmp_path / "cache")
    assert np.isfinite(first[:3]).all() and np.isnan(first[3])
    calls = []
    monkeypatch.setattr(teacher_mod, "build_teacher", lambda *a, **k: calls.append(1) or (lambda x: torch.zeros(1)))
    again = teacher_mod.teacher_scores(paths[:3], [1, 2, 3], opt, tmp_path / "cache")
    np.testing.assert_array_equal(again, first[:3])
    assert calls == []  # all from the cache
    other_seed = teacher_mod.teacher_scores(paths[:1], [99], opt, tmp_path / "cache")
    assert calls == [1] and other_seed[0] == 0.0  # a new degradation seed is a new cache entry
    scaled = teacher_mod.teacher_scores(paths[:3], [1, 2, 3], dict(opt, score_range=[0, 2], lower_better=True), tmp_path / "cache")
    np.testing.assert_allclose(scaled, 1 - first[:3] / 2)


def test_model_ema_and_l2_pull_step(tmp_path):
    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.train.pyiqa_model import MSPTModel
    from mspt_pyiqa.weights import save_checkpoint

    torch.manual_seed(0)
    start = tmp_path / "start.pth"
    save_checkpoint(MSPTNet(pretrained=False, test_img_size=32), start)
    opt = {
        "name": "unit", "num_gpu": 0, "is_train": True, "dist": False, "rank": 0, "world_size": 1,
        "network": {"type": "MSPTNet", "pretrained": False, "test_img_size": 32},
        "path": {"pretrain_network": str(start), "models": str(tmp_path / "m"), "training_states": str(tmp_path / "s")},
        "train": {"optim": {"type": "AdamW", "lr": 1e-3}, "scheduler": {"type": "CosineAnnealingLR", "T_max": 2},
                  "losses": {"mse": 1.0, "plcc": 1.0}, "ema_decay": 0.5, "amp": True,
                  "anti_forgetting": {"distill": 1.0, "distill_features": 0.1, "l2_pull": 1.0}},
        "val": {"metrics": {"srcc": {"type": "calculate_srcc"}}},
    }
    opt["train"]["teacher"] = {"type": "checkpoint", "path": str(start), "network": {"type": "MSPTNet", "test_img_size": 32}, "feature_weight": 0.5}
    model = MSPTModel(opt)
    assert model.pretrain_sha256 is not None and model.scaler is None  # AMP is CUDA-only
    data = {"img": torch.rand(4, 3, 32, 32), "mos_label": torch.rand(4, 1), "replay": torch.tensor([1.0, 1.0, 0.0, 0.0]),
            "has_mos": torch.ones(4, dtype=torch.bool)}
    model.feed_data(data)
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert {"l_mse", "l_plcc", "l_distill", "l_distill_feat", "l_teacher_feat", "l_l2_pull", "l_total"} <= set(log)
    assert 0.0 < log["l_teacher_feat"] < float("inf")  # eval-mode teacher vs train-mode BatchNorm student
    assert log["l_l2_pull"] == 0.0  # first step: still at the start weights
    model.optimize_parameters(2)
    assert model.get_current_log()["l_l2_pull"] > 0.0
    ema = dict(model.net_ema.module.named_parameters())
    live = dict(model.net.named_parameters())
    assert any(not torch.equal(ema[k], live[k]) for k in live)  # EMA lags the live weights
    state = model.training_state(0, 2)
    assert state["ema"] is not None and "rng" in state


def test_cli_train_reports_bad_recipe(tmp_path, caplog):
    from mspt_pyiqa.cli.main import main

    assert main(["train", str(tmp_path / "missing.yml"), "--out", str(tmp_path / "run")]) == 2
    assert "missing.yml" in caplog.text
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nstages: []\n")
    assert main(["train", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert main(["train", str(bad), "--set", "no_equals_sign"]) == 2


@pytest.mark.parametrize("recipe_name", ["synthetic_faces.yml", "real_faces.yml"])
def test_shipped_recipes_resolve(recipe_name):
    from mspt_pyiqa.train.recipe import load_yaml, stage_options
    from mspt_pyiqa.options import options_dir

    path = options_dir() / "recipes" / recipe_name
    recipe = load_yaml(path)
    opts = []
    for k in range(len(recipe["stages"])):
        opt = with_replay(stage_options(recipe, path.parent, k), opts, recipe)
        assert opt["model_type"] == "MSPTModel" and opt["network"]["type"] == "MSPTNet" and opt["network"]["pretrained"] is False
        assert set(opt["val"]["metrics"]) == {"srcc", "plcc"} and opt["path"]["pretrain_network"] is None
        assert {"optim", "scheduler", "losses"} <= set(opt["train"])
        opts.append(opt)
    assert [o["network"]["test_img_size"] for o in opts] == [224, 336, 448]
    last = opts[-1]["datasets"]["train"]["sources"]
    assert [s["replay"] for s in last] == [True, True, False]
    if recipe_name == "real_faces.yml":
        assert [s["layout"] for s in last] == ["meta_csv", "meta_csv", "vquala"]
        assert last[1]["split_index"] == "official_split"


def test_recipe_anti_forgetting_wins_over_stage_file(tmp_path):
    from mspt_pyiqa.train.recipe import stage_options
    from mspt_pyiqa.options import options_dir

    stage = str(options_dir() / "stages" / "synthetic_stage2_336.yml")  # file says distill: 1.0
    recipe = {"anti_forgetting": {"distill": 0.0, "l2_pull": 0.5}, "stages": [{"option": stage}, {"option": stage, "overrides": {"train": {"anti_forgetting": {"l2_pull": 2.0}}}}]}
    assert stage_options(recipe, tmp_path, 0)["train"]["anti_forgetting"] == {"distill": 0.0, "distill_features": 0.0, "l2_pull": 0.5}
    assert stage_options(recipe, tmp_path, 1)["train"]["anti_forgetting"]["l2_pull"] == 2.0


def test_fresh_stage_ignores_anti_forgetting(tmp_path):
    from mspt_pyiqa.train.pyiqa_model import MSPTModel

    torch.manual_seed(0)
    opt = {
        "name": "fresh", "num_gpu": 0, "is_train": True, "dist": False, "rank": 0, "world_size": 1,
        "network": {"type": "MSPTNet", "pretrained": False, "test_img_size": 32},
        "path": {"pretrain_network": None},
        "train": {"optim": {"type": "AdamW", "lr": 1e-3}, "scheduler": {"type": "CosineAnnealingLR", "T_max": 1},
                  "anti_forgetting": {"distill": 1.0, "l2_pull": 1.0}, "init_head": {"weight_std": 0.0, "bias": 0.5}},
        "val": {"metrics": {"srcc": {"type": "calculate_srcc"}}},
    }
    model = MSPTModel(opt)
    assert model.prev_net is None and model.l2_pull_weight == 0.0
    model.feed_data({"img": torch.rand(2, 3, 32, 32), "mos_label": torch.rand(2, 1), "replay": torch.zeros(2)})
    model.optimize_parameters(1)
    assert "l_l2_pull" not in model.get_current_log()
    model.net.eval()
    with torch.no_grad():
        assert torch.allclose(model.net(torch.rand(2, 3, 32, 32)), torch.full((2, 1), 0.5), atol=0.01)  # head init: bias 0.5


def test_saved_stage_options_match_on_resume_with_integer_keys(tmp_path):
    """A stage's options.yml, read back on resume, must compare equal to the same options resolved
    again: the writer stores mapping keys as strings, and the feature-init stage's
    ``feature_hints.taps`` has integer keys (a resume of the v11 recipe was refused before)."""
    from mspt_pyiqa.options import options_dir
    from mspt_pyiqa.train.recipe import _comparable, load_yaml, stage_options
    from mspt_pyiqa.utils.io import atomic_write_yaml

    stage = str(options_dir() / "stages" / "feature_init_224.yml")
    opt = stage_options({"stages": [{"option": stage}]}, tmp_path, 0)
    opt.update(rank=0, dist=False, world_size=1)
    assert all(isinstance(k, int) for k in opt["train"]["feature_hints"]["taps"])
    atomic_write_yaml(tmp_path / "options.yml", _comparable(opt))
    assert _comparable(load_yaml(tmp_path / "options.yml")) == _comparable(opt)
    changed = dict(opt, train=dict(opt["train"], feature_hints=dict(opt["train"]["feature_hints"], taps={0: 3})))
    assert _comparable(load_yaml(tmp_path / "options.yml")) != _comparable(changed)  # a real change still differs


def test_resume_allows_other_logger_settings_and_refuses_other_training(tmp_path):
    """Checkpoint and print frequencies do not change the weights, so a resumed stage may use
    other ones; any other option must match its saved copy."""
    from mspt_pyiqa.options import options_dir
    from mspt_pyiqa.train.recipe import load_yaml, same_training, stage_options
    from mspt_pyiqa.utils.io import atomic_write_yaml

    opt = stage_options({"stages": [{"option": str(options_dir() / "stages" / "synthetic_stage3_448.yml")}]}, tmp_path, 0)
    opt.update(rank=0, dist=False, world_size=1)
    assert opt["logger"]["save_latest_minutes"] == 10
    atomic_write_yaml(tmp_path / "options.yml", opt)
    saved = load_yaml(tmp_path / "options.yml")
    assert same_training(saved, dict(opt, logger=dict(opt["logger"], save_latest_freq=7, save_latest_minutes=2)))
    assert not same_training(saved, dict(opt, train=dict(opt["train"], total_epoch=opt["train"]["total_epoch"] + 1)))
