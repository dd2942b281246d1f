"""``mspt-face compare`` and ``mspt-face report`` end to end on faces made from scikit-image's astronaut."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Dict

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mspt_pyiqa.cli.main import main

N_FACES = 16


def astronaut_faces(folder: Path, n: int = N_FACES, size: int = 128, degrade: str = "", severity: float = 0.0) -> Path:
    """``n`` distinct face crops of ``skimage.data.astronaut()`` (shifted, scaled, re-lit), optionally degraded."""
    from skimage import data

    from mspt_pyiqa.degrade import apply

    img = data.astronaut()
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        side = int(rng.integers(200, 260))
        top, left = int(rng.integers(0, 30)), int(rng.integers(95, 135))
        crop = img[top:top + side, left:left + side].astype(np.float32) * float(rng.uniform(0.85, 1.1))
        face = np.asarray(Image.fromarray(crop.clip(0, 255).astype(np.uint8)).resize((size, size), Image.BICUBIC))
        if degrade:
            face = apply(face, degrade, severity, np.random.default_rng(i))
        sub = folder / ("sub" if i % 4 == 0 else "")
        sub.mkdir(exist_ok=True)
        Image.fromarray(face).save(sub / f"face_{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("methods")
    out = {
        "gt": astronaut_faces(root / "gt"),
        "clean": astronaut_faces(root / "clean"),
        "blurred": astronaut_faces(root / "blurred", degrade="gaussian_blur", severity=0.3),
    }
    out["copy"] = Path(shutil.copytree(out["clean"], root / "copy"))
    return out


def compare(out: Path, *args: str) -> int:
    return main(["compare", *map(str, args), "-o", str(out), "--no-progress", "--workers", "0", "--n-boot", "500"])


@pytest.fixture(scope="module")
def degraded_run(folders: Dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cmp") / "out"
    assert compare(out, folders["clean"], folders["blurred"], "--ref", folders["gt"], "--latex") == 0
    return out


def test_mildly_degraded_folder_is_worse_with_interval_excluding_zero(degraded_run: Path):
    pairs = pd.read_csv(degraded_run / "pairs.csv").set_index("metric")
    r = pairs.loc["mspt_face"]
    assert (r["a"], r["b"], r["n"]) == ("clean", "blurred", N_FACES)
    assert r["diff"] > 0 and r["diff_lo"] > 0, "the blurred folder must score worse with an interval above 0"
    assert r["win_rate"] > 0.8 and r["p_wilcoxon"] < 0.01
    # FR metrics against the ground truth: the clean copy is identical to it
    assert np.isinf(pairs.loc["psnr", "mean_a"]) or pairs.loc["psnr", "mean_a"] > 40
    assert pairs.loc["ssim", "mean_a"] == pytest.approx(1.0, abs=1e-4) and pairs.loc["ssim", "diff_lo"] > 0


def test_outputs_tables_and_statuses(degraded_run: Path):
    for name in ("per_image.csv", "summary.csv", "pairs.csv", "table.md", "table.tex", "compare.json", "report.html",
                 "scores/clean.csv", "scores/blurred.csv", "scores/clean.ssim.csv"):
        assert (degraded_run / name).is_file(), name
    md = (degraded_run / "table.md").read_text()
    assert "| clean | **" in md and "mspt_face ↑" in md
    per = pd.read_csv(degraded_run / "per_image.csv")
    assert len(per) == 2 * N_FACES and set(per["status"]) == {"ok"}
    assert "sub/face_00.png" in set(per["key"])  # relative paths keep sub-folders
    meta = json.loads((degraded_run / "compare.json").read_text())
    assert meta["images"] == N_FACES and meta["unmatched"] == [] and meta["metrics"]["mspt_face"] is False


def test_identical_folders_interval_contains_zero(folders: Dict[str, Path], tmp_path: Path):
    assert compare(tmp_path / "out", folders["clean"], folders["copy"], "--names", "run1,run2") == 0
    r = pd.read_csv(tmp_path / "out" / "pairs.csv").iloc[0]
    assert (r["a"], r["b"]) == ("run1", "run2")
    assert r["diff_lo"] <= 0 <= r["diff_hi"] and r["diff"] == 0
    assert r["p_wilcoxon"] == 1.0


def test_unmatched_and_bad_files_are_reported_not_dropped(folders: Dict[str, Path], tmp_path: Path):
    a = Path(shutil.copytree(folders["clean"], tmp_path / "a"))
    b = Path(shutil.copytree(folders["blurred"], tmp_path / "b"))
    (a / "face_01.png").unlink()
    (b / "extra.png").write_bytes(b"not a png at all")
    assert compare(tmp_path / "out", a, b) == 0
    un = pd.read_csv(tmp_path / "out" / "unmatched.csv")
    assert set(un["key"]) == {"face_01.png", "extra.png"}
    per = pd.read_csv(tmp_path / "out" / "per_image.csv").set_index(["key", "method"])
    assert per.loc[("face_01.png", "a"), "status"] == "missing"
    assert per.loc[("extra.png", "b"), "status"] == "not_image"
    assert per.loc[("extra.png", "a"), "status"] == "missing"
    assert pd.read_csv(tmp_path / "out" / "pairs.csv").iloc[0]["n"] == N_FACES - 1


def test_rerun_resumes_from_score_caches(degraded_run: Path, folders: Dict[str, Path], caplog: pytest.LogCaptureFixture):
    before = (degraded_run / "scores" / "clean.csv").read_text()
    with caplog.at_level("INFO"):
        assert compare(degraded_run, folders["clean"], folders["blurred"]) == 0
    assert "16 file(s) already in" in caplog.text and "0 to score" in caplog.text
    assert (degraded_run / "scores" / "clean.csv").read_text() == before


def test_score_files_as_methods(degraded_run: Path, tmp_path: Path):
    s = degraded_run / "scores"
    assert compare(tmp_path / "out", s / "clean.csv", s / "blurred.csv", "--no-report") == 0
    r = pd.read_csv(tmp_path / "out" / "pairs.csv").iloc[0]
    ref = pd.read_csv(degraded_run / "pairs.csv").iloc[0]
    assert (r["a"], r["b"], r["n"]) == ("clean", "blurred", N_FACES)
    assert r["diff"] == pytest.approx(ref["diff"], abs=1e-5)
    assert not (tmp_path / "out" / "report.html").exists()


def test_usage_errors_name_the_problem(folders: Dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture):
    assert compare(tmp_path / "o1", folders["clean"]) == 2
    assert "at least two methods" in caplog.text
    assert compare(tmp_path / "o2", folders["clean"], tmp_path / "nope") == 2
    assert f"{tmp_path / 'nope'}: no such folder or score file" in caplog.text
    assert compare(tmp_path / "o3", folders["clean"], folders["copy"], "--names", "x") == 2
    assert "--names: 1 name(s) for 2 method(s)" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert compare(tmp_path / "o4", folders["clean"], empty) == 2
    assert "no image files in this folder" in caplog.text
    assert compare(tmp_path / "o5", folders["clean"], folders["copy"], "--ref", tmp_path / "nogt") == 2
    assert "no such folder" in caplog.text


def test_report_of_a_results_file_and_of_a_folder(degraded_run: Path, folders: Dict[str, Path], tmp_path: Path):
    page = tmp_path / "r.html"
    assert main(["report", str(degraded_run / "scores" / "blurred.csv"), "-o", str(page)]) == 0
    text = page.read_text()
    assert text.count("data:image/jpeg;base64,") == N_FACES and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    page2 = tmp_path / "f.html"
    assert main(["report", str(folders["clean"]), "-o", str(page2), "--thumbs", "folder", "--workers", "0", "--no-progress"]) == 0
    assert (tmp_path / "f_scores.csv").is_file() and len(list((tmp_path / "f_files").glob("*.jpg"))) == N_FACES
    assert "f_files/" in page2.read_text()
    page3 = tmp_path / "c.html"
    assert main(["report", str(degraded_run), "-o", str(page3)]) == 0
    assert "Side by side" in page3.read_text()
    assert main(["report", str(tmp_path / "missing.csv"), "-o", str(page)]) == 2
    assert main(["report", str(degraded_run / "table.md"), "-o", str(page)]) == 2


def test_fr_metrics_missing_reference_and_unusable_metric_names(folders: Dict[str, Path], tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture):
    gt = Path(shutil.copytree(folders["gt"], tmp_path / "gt"))
    (gt / "face_02.png").unlink()
    out = tmp_path / "out"
    assert compare(out, folders["clean"], folders["blurred"], "--ref", gt, "--fr-metrics", "psnr,niqe,no_such_metric",
                   "--no-report") == 0
    assert "niqe is not a full-reference metric" in caplog.text
    assert "FR metric no_such_metric left out: unknown metric name" in caplog.text
    per = pd.read_csv(out / "per_image.csv").set_index(["key", "method"])
    assert per.loc[("face_02.png", "clean"), "psnr_status"] == "no_reference"
    assert per.loc[("face_02.png", "clean"), "status"] == "ok"  # the MSPT score does not need the reference
    assert "niqe" not in per.columns
    psnr = pd.read_csv(out / "pairs.csv").set_index("metric").loc["psnr"]
    assert psnr["n"] == N_FACES - 1 and psnr["diff_lo"] > 0


def test_report_rebuilt_from_compare_folder_reuses_its_thumbnails(degraded_run: Path, folders: Dict[str, Path], tmp_path: Path):
    out = tmp_path / "out"
    assert compare(out, folders["clean"], folders["blurred"], "--thumbs", "folder", "--no-progress") == 0
    before = sorted(p.name for p in (out / "report_files").glob("*.jpg"))
    assert len(before) == 2 * N_FACES
    assert main(["report", str(out), "-o", str(out / "report.html"), "--thumbs", "folder"]) == 0
    assert sorted(p.name for p in (out / "report_files").glob("*.jpg")) == before


def test_interrupted_cache_resumes_and_other_settings_rescore(folders: Dict[str, Path], tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture):
    out = tmp_path / "out"
    assert compare(out, folders["clean"], folders["blurred"], "--no-report") == 0
    full = pd.read_csv(out / "pairs.csv").iloc[0]
    cache = out / "scores" / "clean.csv"
    lines = cache.read_text().splitlines(keepends=True)
    cache.write_text("".join(lines[:6]))  # as if the run had stopped after 5 images
    caplog.clear()
    with caplog.at_level("INFO"):
        assert compare(out, folders["clean"], folders["blurred"], "--no-report") == 0
    assert f"5 file(s) already in {cache}, {N_FACES - 5} to score" in caplog.text
    assert pd.read_csv(out / "pairs.csv").iloc[0]["diff"] == pytest.approx(full["diff"], abs=1e-6)
    caplog.clear()
    with caplog.at_level("INFO"):
        assert compare(out, folders["clean"], folders["blurred"], "--no-report", "--input-size", "160") == 0
    assert "made with other model settings; scoring afresh" in caplog.text and "already in" not in caplog.text
    assert pd.read_csv(out / "pairs.csv").iloc[0]["diff"] != pytest.approx(full["diff"], abs=1e-6)
