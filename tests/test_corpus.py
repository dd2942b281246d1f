"""Corpus: labels, sampler, stage configs, splits, builder (CSV, resume, bad files, levels), CLI."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import cv2
import numpy as np
import pandas as pd
import pytest

from mspt_pyiqa.corpus import DegradationSampler, SeverityLabeler
from mspt_pyiqa.corpus.builder import COLUMNS, build_stage, regenerate
from mspt_pyiqa.corpus.config import load_default_stages, load_stage
from mspt_pyiqa.corpus.sources import assign_splits, list_sources, load_rgb
from mspt_pyiqa.degrade import KINDS

REPO = Path(__file__).resolve().parent.parent


def small_config(**over: Any) -> Dict[str, Any]:
    cfg = {
        "name": "tiny", "stage": 1, "resolution": 64, "samples_per_source": 3,
        "split": {"val": 0.25, "test": 0.25}, "pristine_prob": 0.2,
        "severity": {"dist": "uniform", "low": 0.05, "high": 1.0},
        "kinds": [{"kind": "gaussian_blur"}, {"kind": "jpeg"}, {"kind": "chain"},
                  {"kind": "gaussian_noise", "weight": 0.5, "tag": "mild_gaussian_noise",
                   "severity": {"dist": "uniform", "low": 0.02, "high": 0.25}}],
        "levels": [0.2, 0.6, 1.0],
        "label": {"scheme": "severity", "pristine": 1.0, "source_quality": {"wild": 0.8}},
    }
    cfg.update(over)
    return cfg


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    from skimage import data

    return cv2.resize(data.astronaut()[20:240, 140:360], (72, 72), interpolation=cv2.INTER_AREA)


@pytest.fixture()
def faces_dir(tmp_path: Path, face: np.ndarray) -> Path:
    """10 generated faces in two source sets (shifted/flipped/tinted crops) + one corrupt file."""
    root = tmp_path / "faces"
    for i in range(10):
        sset = "clean" if i < 6 else "wild"
        img = np.roll(face, 3 * i, axis=1)
        img = img[:, ::-1] if i % 2 else img
        img = np.clip(img.astype(int) + (i - 5) * 3, 0, 255).astype(np.uint8)
        (root / sset).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / sset / f"f{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (root / "clean" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    return root


def test_labels_range_monotonic_and_chain_product() -> None:
    lab = SeverityLabeler()
    for kind in lab.curves:
        q = [lab([(kind, s)]) for s in np.linspace(0.0, 1.0, 11)]
        assert q[0] == 1.0 and all(0.0 <= v <= 1.0 for v in q)
        assert all(a > b for a, b in zip(q, q[1:])), kind
    assert lab([]) == 1.0
    parts = [("gaussian_blur", 0.3), ("jpeg", 0.5)]
    assert lab(parts) == pytest.approx(lab(parts[:1]) * lab(parts[1:]))
    with pytest.raises(ValueError):
        SeverityLabeler({"jpeg": [1.5, 1.0]})


def test_sampler_reproducible_pristine_and_oversampling(face: np.ndarray) -> None:
    s = DegradationSampler(small_config())
    a = s(face, np.random.default_rng(5))
    b = s(face, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    infos = [s(face, np.random.default_rng(i)) for i in range(150)]
    pristine = [x for x in infos if x[2]["degradation"] == "pristine"]
    assert 10 <= len(pristine) <= 50
    assert all(l == 1.0 and np.array_equal(img, face) and i["level"] == 0 for img, l, i in pristine)
    mild = [i for _, _, i in infos if i["tag"] == "mild_gaussian_noise"]
    assert mild and all(0.02 <= i["severity"] <= 0.25 for i in mild)
    assert all(0.0 <= l <= 1.0 for _, l, _ in infos)
    assert all(1 <= i["level"] <= 3 for _, _, i in infos if i["degradation"] != "pristine")
    # An unknown-quality source set is scaled by its prior.
    _, l_wild, _ = s.degrade(face, "jpeg", 0.5, np.random.default_rng(0), source_set="wild")
    _, l_clean, _ = s.degrade(face, "jpeg", 0.5, np.random.default_rng(0), source_set="clean")
    assert l_wild == pytest.approx(0.8 * l_clean)


def test_sampler_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="unknown degradation kind"):
        DegradationSampler(small_config(kinds=[{"kind": "sepia"}]))
    with pytest.raises(ValueError, match="low <= high"):
        DegradationSampler(small_config(severity={"low": 0.8, "high": 0.2}))
    with pytest.raises(ValueError, match="scheme"):
        DegradationSampler(small_config(label={"scheme": "made_up"}))


def test_default_stage_configs_follow_mspt() -> None:
    stages = load_default_stages()
    assert [c["resolution"] for c in stages] == [224, 336, 448]
    kinds = [{e["kind"] for e in c["kinds"]} for c in stages]
    sources = [set(c["sources"]) for c in stages]
    assert kinds[0] < kinds[1] < kinds[2] and "chain" in kinds[2] and "chain" not in kinds[1]
    assert sources == [{"scut"}, {"scut", "celebahq"}, {"scut", "celebahq", "aaf"}]
    assert kinds[2] == set(KINDS)
    for c in stages:
        tags = {e.get("tag") for e in c["kinds"]}
        assert {"mild_gaussian_noise", "mild_jpeg"} <= tags  # oversampled mild noise / JPEG
        DegradationSampler(c)
    assert load_stage("stage2")["name"] == "stage2"


def test_splits_by_source_deterministic() -> None:
    ids = [f"set/{i}.jpg" for i in range(2000)]
    a = assign_splits(ids, {"val": 0.1, "test": 0.1}, seed=3)
    assert a == assign_splits(list(reversed(ids)), {"val": 0.1, "test": 0.1}, seed=3)
    counts = pd.Series(a).value_counts(normalize=True)
    assert abs(counts["test"] - 0.1) < 0.03 and abs(counts["val"] - 0.1) < 0.03
    assert a != assign_splits(ids, {"val": 0.1, "test": 0.1}, seed=4)
    # Adding photos does not move existing ones.
    more = assign_splits(ids + ["set/new.jpg"], {"val": 0.1, "test": 0.1}, seed=3)
    assert all(more[k] == v for k, v in a.items())


def test_builder_csv_resume_bad_file_and_regenerate(faces_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    cfg = small_config()
    res = build_stage(faces_dir, out, cfg, seed=1, progress=False)
    df = pd.read_csv(res.csv_path)
    assert list(df.columns) == list(COLUMNS)
    assert list(df.columns[:2]) == ["dist_img", "mos"] and "split" in df.columns
    assert len(df) == 10 * 3 and res.rows == 30
    # The corrupt file is reported by name and does not stop the build.
    assert len(res.errors) == 1 and "broken.jpg" in res.errors[0][0] and "decodable" in res.errors[0][1]
    assert "broken.jpg" in (out / "tiny_errors.csv").read_text()
    # Split by source photo: one split per source id.
    assert (df.groupby("source_id")["split"].nunique() == 1).all()
    assert df["mos"].between(0, 1).all() and set(df["stage"]) == {1}
    assert (df[df.source_set == "wild"]["mos"] <= 0.8 + 1e-9).all()
    for rel in df["dist_img"]:
        assert (out / rel).is_file()
    # Every image can be regenerated from its reference and row.
    for row in df.head(8).itertuples():
        ref = load_rgb(out / row.ref_img)
        assert ref.shape[:2] == (64, 64)
        assert np.array_equal(regenerate(ref, row.degradation, row.severity, row.seed), load_rgb(out / row.dist_img))
    # Resume: nothing is rewritten; a deleted image is rebuilt identically.
    res2 = build_stage(faces_dir, out, cfg, seed=1, progress=False)
    assert res2.written == 0 and res2.resumed == 30
    victim = df[df.degradation != "pristine"].iloc[0]
    before = load_rgb(out / victim.dist_img)
    (out / victim.dist_img).unlink()
    res3 = build_stage(faces_dir, out, cfg, seed=1, progress=False)
    assert res3.written == 1
    assert np.array_equal(load_rgb(out / victim.dist_img), before)
    pd.testing.assert_frame_equal(pd.read_csv(res3.csv_path), df)
    # Two worker processes give the same CSV and images.
    res4 = build_stage(faces_dir, tmp_path / "par", cfg, seed=1, progress=False, workers=2)
    df4 = pd.read_csv(res4.csv_path)
    pd.testing.assert_frame_equal(df4, df)
    for rel in df4["dist_img"].head(6):
        assert np.array_equal(load_rgb(tmp_path / "par" / rel), load_rgb(out / rel))


def test_builder_levels_mode(faces_dir: Path, tmp_path: Path) -> None:
    cfg = small_config()
    res = build_stage(faces_dir, tmp_path / "c", cfg, seed=1, levels_mode=True, progress=False)
    df = pd.read_csv(res.csv_path)
    splits = assign_splits([s.source_id for s in list_sources(faces_dir)], cfg["split"], 1)
    n_test = sum(1 for k, v in splits.items() if v == "test" and "broken" not in k)
    kinds = {e["kind"] for e in cfg["kinds"]}
    assert n_test >= 1 and len(df) == n_test * (1 + len(kinds) * 3)
    assert set(df["split"]) == {"test"}
    for _, g in df.groupby(["source_id", "degradation"]):
        if g.degradation.iloc[0] != "pristine":
            assert sorted(g["level"]) == [1, 2, 3]
            assert g.sort_values("severity")["mos"].is_monotonic_decreasing
            assert g["seed"].nunique() == 1  # same pattern / chain composition along the ladder
            steps = {">".join(p.split(":")[0] for p in parts.split(">")) for parts in g["parts"]}
            assert len(steps) == 1


def test_cli_build_and_guards(faces_dir: Path, tmp_path: Path) -> None:
    from mspt_pyiqa.cli.main import main

    cfg_path = tmp_path / "tiny.yml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(small_config()))
    out = tmp_path / "cli_out"
    argv = ["corpus", "build", "--faces", str(faces_dir), "--out", str(out), "--stages", str(cfg_path), "--no-progress"]
    assert main(argv) == 1  # one bad source photo -> exit status 1, other results kept
    assert len(pd.read_csv(out / "tiny.csv")) == 30
    assert main(["corpus", "build", "--faces", str(faces_dir), "--out", str(REPO / "data_x"),
                 "--stages", str(cfg_path)]) == 2
    assert not (REPO / "data_x").exists()
    assert main(["corpus", "build", "--faces", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_real_faces_listing_and_tiny_build(shared_dir: Path, tmp_path: Path) -> None:
    """On the real ../shared photos (skipped if absent): sets, and a 2-photo stage-3 build."""
    faces = shared_dir / "data" / "faces"
    srcs = list_sources(faces)
    counts = pd.Series([s.source_set for s in srcs]).value_counts().to_dict()
    assert counts == {"scut": 3000, "aaf": 1500, "celebahq": 1000}
    cfg = load_stage("stage3")
    res = build_stage(faces, tmp_path, cfg, seed=0, limit=1, samples_per_source=2, progress=False)
    df = pd.read_csv(res.csv_path)
    assert not res.errors and len(df) == 3 * 2 and set(df.source_set) == {"scut", "celebahq", "aaf"}
    ref = load_rgb(tmp_path / df.ref_img.iloc[0])
    assert min(ref.shape[:2]) == 448


def test_build_refused_when_it_would_not_fit(faces_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A build larger than the free disk is refused before any image is written, naming the CSV,
    the estimate and the way out; the estimate counts images still to write (resume)."""
    from collections import namedtuple

    import yaml

    from mspt_pyiqa.cli.main import main
    from mspt_pyiqa.corpus import builder

    usage = namedtuple("usage", "total used free")
    cfg = small_config()
    out = tmp_path / "full" / "not_yet"
    # 11 photo files x (3 draws + the reference) x 64 x 64 x 3 x 0.5 bytes = 270,336 bytes
    monkeypatch.setattr(builder.shutil, "disk_usage", lambda p: usage(10**9, 10**9, 200_000))
    with pytest.raises(builder.CorpusSpaceError, match=r"tiny\.csv: 44 images at 64 px need about 0\.3 MB, but only 0\.2 MB.*--limit"):
        build_stage(faces_dir, out, cfg, seed=1, progress=False)
    assert not out.exists()
    cfg_path = tmp_path / "tiny.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert main(["corpus", "build", "--faces", str(faces_dir), "--out", str(out), "--stages", str(cfg_path), "--no-progress"]) == 2
    assert "tiny.csv: 44 images" in caplog.text and not out.exists()
    monkeypatch.undo()
    res = build_stage(faces_dir, out, cfg, seed=1, progress=False)
    assert res.rows == 30
    # resumed: only the unreadable photo's 4 images are counted (4 x 6,144 bytes)
    monkeypatch.setattr(builder.shutil, "disk_usage", lambda p: usage(10**9, 10**9, 4 * 6144))
    assert build_stage(faces_dir, out, cfg, seed=1, progress=False).resumed == 30


def test_free_space_estimate() -> None:
    from mspt_pyiqa.corpus.builder import check_free_space

    assert check_free_space(Path("/"), 1000, 448, "x") == pytest.approx(1000 * 448 * 448 * 3 * 0.5)
    assert check_free_space(Path("/"), 1000, None, "x") == 0.0  # native size: unknown, not checked
