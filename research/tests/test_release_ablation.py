"""research/eval/release_ablation.py: rows from run folders and from published releases, clean-pool columns."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _figures(worst: float, clean: dict | None) -> dict:
    kinds = {"jpeg": 0.99, "saturation": worst}
    student = {"test": {"srcc": 0.9, "plcc": 0.8}, "monotonicity_per_kind": kinds, "monotonicity_min": worst,
               "pristine_above_degraded": 0.9}
    if clean is not None:
        student["levels_clean_common_random"] = clean
    return {"student": student, "stages": [{"train_seconds": 600.0}]}


def _run_dir(tmp_path: Path, name: str, clean: dict | None) -> Path:
    run = tmp_path / name
    run.mkdir()
    cfg = {"stages": [{"iterations": 10, "ladder": {"fraction": 0.5, "rank_weight": 3.0}}]}
    (run / "config.yml").write_text(yaml.safe_dump(cfg))
    (run / "report.json").write_text(json.dumps(_figures(0.7, clean)))
    return run


def test_clean_columns_count_kinds_under_the_bar(eval_script, tmp_path: Path) -> None:
    mod = eval_script("release_ablation")
    clean = {"monotonicity_per_kind": {"jpeg": 0.96, "saturation": 0.84, "overexposure": 0.949},
             "monotonicity_min": 0.84, "pristine_above_degraded": 0.953}
    run = _run_dir(tmp_path, "c", clean)
    row = mod.row("c", run / "config.yml", run / "report.json")
    assert row["order_min_clean"] == 0.84 and row["order_min_clean_kind"] == "saturation"
    assert row["kinds_below_bar_clean"] == 2 and row["pristine_above_clean"] == 0.953
    assert row["stage3_train_min"] == 10.0 and row["order_min_kind"] == "saturation"
    assert row["feature_init_iterations"] == 0 and row["ladder_teacher_weight"] == 0.0  # levers left out
    assert row["ladder_pristine_weight"] == 1.0
    cfg = yaml.safe_load((run / "config.yml").read_text())
    cfg["feature_init"] = {"iterations": 1500}
    cfg["stages"][-1]["ladder"]["teacher_weight"] = 10.0
    cfg["stages"][-1]["ladder"]["pristine_weight"] = 4.0
    (run / "config.yml").write_text(yaml.safe_dump(cfg))
    levers = mod.row("c", run / "config.yml", run / "report.json")
    assert levers["feature_init_iterations"] == 1500 and levers["ladder_teacher_weight"] == 10.0
    assert levers["ladder_pristine_weight"] == 4.0
    run = _run_dir(tmp_path, "o", None)
    old = mod.row("o", run / "config.yml", run / "report.json")
    assert old["order_min_clean"] == "" and old["kinds_below_bar_clean"] == ""  # report predating the pool


def test_main_takes_published_releases_and_run_folders(eval_script, tmp_path: Path) -> None:
    mod = eval_script("release_ablation")
    catalog = yaml.safe_load((REPO / "weights" / "catalog.yaml").read_text())
    name = catalog["default"]
    run = _run_dir(tmp_path, "cand", None)
    out = tmp_path / "abl"
    assert mod.main(["--release", name, "--run", f"cand={run}", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert [r["run"] for r in rows] == [name, "cand"]
    report = json.loads((REPO / "weights" / f"{name}_report.json").read_text())
    assert float(rows[0]["test_srcc"]) == round(report["student"]["test"]["srcc"], 4)
    assert rows[0]["order_min_clean"] != ""  # the default release's report has the clean pool
    md = out.with_suffix(".md").read_text()
    assert f"--release {name} --run cand={run}" in md and "kinds_below_bar_clean" in md


def test_bad_arguments_name_the_problem(eval_script, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    mod = eval_script("release_ablation")
    with pytest.raises(SystemExit):
        mod.main(["--out", str(tmp_path / "x")])
    assert "at least one --run or --release" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--release", "no_such_release", "--out", str(tmp_path / "x")])
    assert "no_such_release" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--run", f"r={tmp_path}", "--out", str(tmp_path / "x")])
    assert "DIR/report.json" in capsys.readouterr().err


def test_release_files_fall_back_to_a_committed_candidate_report(eval_script, tmp_path: Path, monkeypatch) -> None:
    mod = eval_script("release_ablation")
    monkeypatch.setattr(mod, "REPO", tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / "research" / "reports").mkdir(parents=True)
    cand = tmp_path / "research" / "reports" / "cand_candidate_report.json"
    cand.write_text("{}")
    assert mod.release_files("cand")[1] == cand  # not released: the committed candidate report
    released = tmp_path / "weights" / "cand_report.json"
    released.write_text("{}")
    assert mod.release_files("cand")[1] == released  # a release's own report wins
    cfg = mod.release_files("cand")[0]
    assert cfg == tmp_path / "research" / "release" / "configs" / "cand.yml"
