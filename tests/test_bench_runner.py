"""Leaderboard runner on a tiny generated corpus: outputs, unloadable metrics, resume from cache."""
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mspt_pyiqa.bench import runner
from mspt_pyiqa.bench.datasets import DatasetSpec, load_dataset
from mspt_pyiqa.bench.runner import RunConfig, run_dataset
from mspt_pyiqa.bench.toyset import make_toyset


def _photos(tmp: Path, n: int = 2):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        yy, xx = np.mgrid[0:80, 0:80]
        img = np.stack([(xx * 3 + i * 40) % 256, (yy * 2) % 256, ((xx + yy) * 1.5) % 256], -1).astype(np.float32)
        img = cv2.GaussianBlur(img, (0, 0), 2) + rng.normal(0, 3, img.shape)
        cv2.circle(img, (40, 40), 15 + 5 * i, (250, 200, 180), -1)
        p = tmp / "faces" / f"p{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.clip(img, 0, 255).astype(np.uint8))
        out.append(p)
    return out


@pytest.fixture()
def corpus(tmp_path):
    return make_toyset(_photos(tmp_path), tmp_path / "set", size=48)


@pytest.fixture()
def dataset(corpus):
    return load_dataset(DatasetSpec(path=corpus))


def test_toyset_reads_as_corpus(dataset):
    assert dataset.layout == "corpus" and len(dataset.items) == 34
    assert dataset.has_ref and dataset.has_order


def test_unloadable_metrics_are_reported_with_reason(dataset, tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    cfg = RunConfig(out_dir=tmp_path / "out", metrics=["psnr", "no_such_metric", "mspt_face"], mspt_weights=bad, n_boot=20, random_timing=False)
    res = {r["metric"]: r for r in run_dataset(dataset, cfg)}
    assert set(res) == {"psnr", "no_such_metric", "mspt_face"}
    assert res["psnr"]["status"] == "ok" and res["psnr"]["srcc"] > 0.5
    assert res["no_such_metric"]["status"] == "cannot load"
    assert "unknown metric" in res["no_such_metric"]["reason"]
    assert res["mspt_face"]["status"] == "cannot load" and res["mspt_face"]["reason"]


def test_fr_metric_not_applicable_without_refs(tmp_path, dataset):
    from mspt_pyiqa.bench.loading import load_metric

    r = load_metric("psnr", has_ref=False)
    assert r.status == "not applicable" and "reference" in r.reason


def test_resume_scores_only_missing_images(dataset, tmp_path, monkeypatch):
    calls = []
    real = runner._score_one

    def counting(metric, item, mode):
        calls.append(item.path)
        return real(metric, item, mode)

    monkeypatch.setattr(runner, "_score_one", counting)
    cfg = RunConfig(out_dir=tmp_path / "out", metrics=["psnr"], n_boot=20, random_timing=False)
    first = run_dataset(dataset, cfg)[0]
    assert len(calls) == 34
    # simulate an interruption: result lost, only 10 scores written
    cache_dir = tmp_path / "out" / "cache" / dataset.name
    (cache_dir / "psnr.json").unlink()
    scores = pd.read_csv(cache_dir / "psnr.scores.csv")
    scores.head(10).to_csv(cache_dir / "psnr.scores.csv", index=False)
    calls.clear()
    second = run_dataset(dataset, cfg)[0]
    assert len(calls) == 24
    assert second["srcc"] == pytest.approx(first["srcc"]) and second["score_lo"] == pytest.approx(first["score_lo"])
    calls.clear()
    run_dataset(dataset, cfg)  # complete cache: nothing rescored
    assert calls == []


def test_bad_image_recorded_not_fatal(dataset, tmp_path):
    dataset.items[1].path.write_bytes(b"broken")
    cfg = RunConfig(out_dir=tmp_path / "out", metrics=["psnr"], n_boot=0, random_timing=False)
    r = run_dataset(dataset, cfg)[0]
    assert r["status"] == "ok" and r["n_errors"] == 1 and r["n_invalid"] == 1
    assert str(dataset.items[1].path.name) in "".join(pd.read_csv(r["scores_file"])["path"])


@pytest.mark.slow
def test_cli_end_to_end_with_own_checkpoint(corpus, tmp_path):
    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.cli.main import main
    from mspt_pyiqa.weights import save_checkpoint

    ckpt = tmp_path / "mspt.pth"
    save_checkpoint(MSPTNet(pretrained=False, test_img_size=64), ckpt)
    out = tmp_path / "out"
    rc = main(["bench", "--dataset", str(corpus), "--metrics", "mspt_face,psnr,ssim", "--mspt-weights", str(ckpt),
               "--out", str(out), "--n-boot", "30", "--timing-runs", "1", "--offline", "yes"])
    assert rc == 0
    for name in ("results.csv", "results.json", "leaderboard.md", "order.csv", "scatter_toyset.png", "speed_accuracy_toyset.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "results.json").read_text())
    rows = {r["metric"]: r for r in data["results"]}
    assert rows["mspt_face"]["status"] == "ok"
    assert rows["mspt_face"]["params"] == 1518881
    assert rows["mspt_face"]["gflops"] > 0 and rows["mspt_face"]["ms_per_image"] > 0
    assert rows["mspt_face"]["params_source"].startswith("checkpoint")
    table = (out / "leaderboard.md").read_text()
    assert "mspt_face" in table and "Within-photo order" in table


def test_mspt_cache_key_follows_the_default_release(monkeypatch, tiny_checkpoint):
    """Cached mspt_face scores are keyed by the checkpoint, so a new default release is rescored."""
    import dataclasses

    from mspt_pyiqa import weights as W

    assert runner.metric_key("niqe", None) == "niqe"
    assert runner.metric_key("mspt_face", tiny_checkpoint) == f"mspt_face@{W.sha256_file(tiny_checkpoint)[:12]}"
    fake = W.WeightsEntry("next", "next.pth", "f" * 64, 224, "mobilenetv3_small_100", "x", "x", "2026-01-01")
    monkeypatch.setattr(W, "default_entry_name", lambda path=None: "next")
    monkeypatch.setattr(W, "get_entry", lambda name=None: fake)
    assert runner.metric_key("mspt_face", None) == "mspt_face@ffffffffffff"
    monkeypatch.setattr(W, "get_entry", lambda name=None: dataclasses.replace(fake, sha256="a" * 64))
    assert runner.metric_key("mspt_face", None) == "mspt_face@aaaaaaaaaaaa"
    monkeypatch.setattr(W, "default_entry_name", lambda path=None: None)
    assert runner.metric_key("mspt_face", None) == "mspt_face"
