"""Input expansion, sharding (--shard i/n, torchrun) and merging: no file scored twice or lost."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring.inputs import expand_inputs
from mspt_pyiqa.scoring.shard import parse_shard, select_shard
from mspt_pyiqa.scoring.writer import read_results

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scut(scut_faces: List[Path]) -> List[Path]:
    return scut_faces


def test_expand_inputs_files_folders_globs_lists(tmp_path: Path, scut: List[Path]) -> None:
    d = tmp_path / "tree" / "sub"
    d.mkdir(parents=True)
    for p in scut[:3]:
        shutil.copy(p, d / p.name)
    (d / "README.md").write_text("not an image")  # skipped when expanding a folder
    (tmp_path / "list.txt").write_text(f"# comment\n\n{scut[3]}\ntree/sub/{scut[0].name}\n")
    (tmp_path / "other.lst").write_text(f"{scut[4]}\n")
    files, missing = expand_inputs(
        [str(tmp_path / "tree"), f"@{tmp_path / 'list.txt'}", str(tmp_path / "other.lst"), str(scut[5].parent / "AF1*.jpg"),
         str(tmp_path / "nothing*.png"), str(d / "README.md")]
    )
    names = [Path(f).name for f in files]
    assert names[:3] == sorted(p.name for p in scut[:3])
    assert scut[3].name in names and scut[4].name in names and "README.md" in names  # explicit file kept
    assert len(files) == len(set(files))  # tree/sub/<first> listed twice, kept once
    assert all(Path(f).name.startswith("AF1") for f in files[5:-1])
    assert missing == [str(tmp_path / "nothing*.png")]


def test_select_shard_partitions() -> None:
    files = [f"f{i}" for i in range(11)]
    parts = [select_shard(files, i, 4) for i in range(4)]
    assert sorted(sum(parts, [])) == sorted(files) and sum(len(p) for p in parts) == 11
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "-1/2", "a/b", "3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_shards_then_merge(tmp_path: Path, scut: List[Path], tiny_checkpoint: Path) -> None:
    inputs = [str(p) for p in scut] + [str(tmp_path / "gone.jpg")]
    parts = []
    for i in range(3):
        out = tmp_path / f"part{i}.csv"
        code = main(["score", *inputs, "-o", str(out), "--shard", f"{i}/3", "--weights", str(tiny_checkpoint),
                     "--workers", "0", "--no-progress", "--table-rows", "0"])
        assert code == 0
        parts.append(out)
    paths = [[r["path"] for r in read_results(p)] for p in parts]
    flat = sum(paths, [])
    assert len(flat) == len(set(flat)) == len(inputs)  # disjoint, nothing lost (missing reported once)
    merged = tmp_path / "all.json"
    assert main(["score", "--merge", *map(str, parts), "-o", str(merged), *inputs, "--table-rows", "0"]) == 0
    rows = read_results(merged)
    assert sorted(r["path"] for r in rows) == sorted(flat)
    assert sum(r["status"] == "ok" for r in rows) == len(scut)
    # A shard given twice (a file scored twice) or a shard missing (files lost) is refused.
    assert main(["score", "--merge", str(parts[0]), str(parts[0]), str(parts[1]), str(parts[2]), "-o", str(tmp_path / "x.csv")]) == 2
    assert main(["score", "--merge", str(parts[0]), str(parts[1]), "-o", str(tmp_path / "y.csv"), *inputs]) == 2
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()


@pytest.mark.slow  # two processes with torch + gloo: ~20 s idle
def test_torchrun_splits_and_merges(tmp_path: Path, scut: List[Path], tiny_checkpoint: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.is_file():
        pytest.skip("torchrun not installed")
    out = tmp_path / "scores.csv"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "mspt_pyiqa.cli.main", "score", *map(str, scut),
         "-o", str(out), "--weights", str(tiny_checkpoint), "--workers", "0", "--no-progress"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = read_results(out)
    assert sorted(r["path"] for r in rows) == sorted(map(str, scut)) and all(r["status"] == "ok" for r in rows)
    for i in range(2):
        assert (tmp_path / f"scores.part{i}of2.csv").is_file()
