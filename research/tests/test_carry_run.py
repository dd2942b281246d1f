"""The run carrier: which files a pack holds, the round trip, and refusals (a changed packed file,
a different file already in the run folder)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from carry_run import files_to_carry, pack, unpack  # noqa: E402


def _fake_run(root: Path) -> Path:
    """A run folder: a finished stage (result.json) and an unfinished one, a teacher cache."""
    run = root / "runs" / "r"
    files = {
        "run.json": "{}", "recipe.yml": "a: 1", "train.log": "log",
        "1_stage1/result.json": "{}", "1_stage1/options.yml": "x: 1",
        "1_stage1/models/net_best.pth": "best1", "1_stage1/models/net_latest.pth": "latest1",
        "1_stage1/training_states/10.state": "old state",
        "2_stage2/options.yml": "x: 2", "2_stage2/models/net_best.pth": "best2",
        "2_stage2/models/net_latest.pth": "latest2", "2_stage2/training_states/7.state": "state7",
        "teacher_cache/scores_abc.npz": "scores",
    }
    for rel, text in files.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text(text)
    return run


def test_pack_holds_what_a_resume_needs_and_no_more(tmp_path):
    run = _fake_run(tmp_path)
    chosen = {p.as_posix() for p in files_to_carry(run)}
    assert chosen == {
        "run.json", "recipe.yml", "train.log", "1_stage1/result.json", "1_stage1/options.yml",
        "1_stage1/models/net_best.pth", "2_stage2/options.yml", "2_stage2/models/net_best.pth",
        "2_stage2/models/net_latest.pth", "2_stage2/training_states/7.state", "teacher_cache/scores_abc.npz",
    }  # a finished stage's latest weights and old states stay behind


def test_round_trip_and_refusals(tmp_path):
    run = _fake_run(tmp_path)
    manifest = pack(run, tmp_path / "carry")
    assert manifest["run"] == run.as_posix() and len(manifest["files"]) == 11
    restored = unpack(tmp_path / "carry", tmp_path / "again")
    for rel in manifest["files"]:
        assert (restored / rel).read_bytes() == (run / rel).read_bytes()
    unpack(tmp_path / "carry", restored)  # the same files again: nothing to do
    (restored / "2_stage2/training_states/7.state").write_text("another state")
    with pytest.raises(ValueError, match="exists with other contents"):
        unpack(tmp_path / "carry", restored)
    (tmp_path / "carry/2_stage2/models/net_best.pth").write_text("tampered")
    with pytest.raises(ValueError, match="sha256 differs"):
        unpack(tmp_path / "carry", tmp_path / "third")
    assert not (tmp_path / "third").exists()  # every hash is checked before anything is written


def test_a_packed_interrupted_run_resumes_on_a_bare_machine(tmp_path):
    """The toy recipe stopped in stage 2, packed, its run folder deleted (a new machine), unpacked
    and run again: it finishes, and every stage's best weights equal an uninterrupted run's
    (no data-loader workers in the toy recipe, so a resume is bit-identical)."""
    import shutil

    import torch

    from mspt_pyiqa.train import run_recipe
    from mspt_pyiqa.train.stage import StageInterrupted
    from mspt_pyiqa.train.toy import write_toy_setup
    from mspt_pyiqa.weights import read_checkpoint

    recipe = write_toy_setup(tmp_path / "toy", per_stage=10, n_val=4, save_every=2, epochs=2, resolutions=(48, 56, 64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        full = run_recipe(recipe, tmp_path / "full", forgetting=False)
        run = tmp_path / "run"
        with pytest.raises(StageInterrupted):
            run_recipe(recipe, run, stop_after={"stage": 1, "iter": 3}, forgetting=False)
        pack(run, tmp_path / "carry")
        shutil.rmtree(run)
        unpack(tmp_path / "carry")
        # stage 2 continues from its packed state (saved at iteration 2), not from its start
        assert [f.name for f in (run / "2_synthetic_stage2_336" / "training_states").iterdir()] == ["2.state"]
        resumed = run_recipe(recipe, run, forgetting=False)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(full["stages"], resumed["stages"]):
        wa, wb = read_checkpoint(Path(a["best_checkpoint"])), read_checkpoint(Path(b["best_checkpoint"]))
        assert all(torch.equal(wa[k], wb[k]) for k in wa), f"{b['name']} differs after pack and unpack"
