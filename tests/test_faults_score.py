"""Faults of ``mspt-face score`` in one process: odd file names, hostile cells, output errors,
resume by resolved path, the lock, usage errors, damaged files (signals: test_faults_signals.py)."""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring import output as output_mod
from mspt_pyiqa.scoring import runner as runner_mod
from mspt_pyiqa.scoring.cells import escape_path, neutralise, unescape_path, unneutralise
from mspt_pyiqa.scoring.output import OutputLock
from mspt_pyiqa.scoring.writer import read_results, write_results

ODD = [b"bad_\xe9\xff.png", b"caf\xc3\xa9.jpg", b"back\\slash.jpg", b"new\nline.jpg", b"-minus.jpg", b"=cmd.jpg"]


def score(out: Path, *args: object) -> Tuple[int, List[dict]]:
    # The files are face crops: --faces crop keeps a damaged crop's outcome about the file, not the detector.
    code = main(["score", *map(str, args), "-o", str(out), "--no-progress", "--table-rows", "5", "--workers", "0",
                 "--faces", "crop"])
    return code, (read_results(out) if code != 2 and out.exists() and out.stat().st_size else [])


@pytest.fixture()
def odd_dir(tmp_path: Path, face_paths: List[Path]) -> Path:
    """Real face photos under names with bytes that are not UTF-8, backslashes, newlines, formulas."""
    d = tmp_path / "odd"
    d.mkdir()
    for i, name in enumerate(ODD):
        shutil.copy(face_paths[i % len(face_paths)], os.path.join(os.fsencode(d), name))
    return d


def test_escaped_form_round_trips_every_name() -> None:
    names = [os.fsdecode(n) for n in ODD] + ["tab\there", "\\x41 literal", "ü", "'quoted", "plain.png"]
    for n in names:
        esc = escape_path(n)
        esc.encode("utf-8")  # always writable
        assert "\n" not in esc and "\t" not in esc
        assert unescape_path(esc) == n and os.fsencode(unescape_path(esc)) == os.fsencode(n)
    assert escape_path(os.fsdecode(b"bad_\xe9\xff.png")) == "bad_\\xe9\\xff.png"
    for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "'", "ok", ""]:
        assert unneutralise(neutralise(cell)) == cell
    assert neutralise("=1+1") == "'=1+1" and neutralise("ok") == "ok"


def test_non_utf8_names_score_resume_and_merge(tmp_path: Path, odd_dir: Path, tiny_checkpoint: Path) -> None:
    paths = sorted(os.path.join(odd_dir, os.fsdecode(n)) for n in ODD)
    for suffix in ("csv", "json"):
        out = tmp_path / f"s.{suffix}"
        code, rows = score(out, odd_dir, "--weights", tiny_checkpoint)
        assert code == 0
        assert sorted(r["path"] for r in rows) == paths and {r["status"] for r in rows} == {"ok"}
        out.read_bytes().decode("utf-8")  # the file is valid UTF-8
        # --resume reads every name back identically: nothing is scored twice.
        marked = [{**r, "score": 123.0} for r in rows]
        write_results(marked, out)
        code, again = score(out, odd_dir, "--weights", tiny_checkpoint, "--resume")
        assert code == 0 and len(again) == len(paths) and {r["score"] for r in again} == {123.0}
    # Shards, then --merge with the expected list: every odd name found in exactly one part.
    parts = []
    for i in range(2):
        part = tmp_path / f"part{i}.csv"
        assert score(part, odd_dir, "--weights", tiny_checkpoint, "--shard", f"{i}/2")[0] == 0
        parts.append(part)
    merged = tmp_path / "merged.csv"
    code = main(["score", str(odd_dir), "--merge", *map(str, parts), "-o", str(merged), "--table-rows", "0"])
    assert code == 0 and sorted(r["path"] for r in read_results(merged)) == paths


def test_formula_cells_neutralised_in_csv_only(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["=HYPERLINK(1).jpg", "+1.jpg", "-2.jpg", "@SUM.jpg"]
    for n in names:
        shutil.copy(face_paths[0], tmp_path / n)
    missing = "=cmd|' /C calc'!A0"
    (tmp_path / "names.txt").write_text("\n".join(names + [missing]) + "\n")  # '-2.jpg' is no option there
    code, rows = score(tmp_path / "s.csv", "names.txt", "--weights", tiny_checkpoint)
    assert code == 0 and sorted(r["path"] for r in rows) == sorted(names + [missing])
    lines = (tmp_path / "s.csv").read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        assert line[0] in "'\"", line  # every cell of these rows starts with ' (or a quote around it)
        assert not line.lstrip('"').startswith(("=", "+", "-", "@"))
    bad = next(r for r in rows if r["path"] == missing)
    assert bad["status"] == "not_found" and bad["message"].startswith("=cmd")  # read back as written
    code, jrows = score(tmp_path / "s.json", "names.txt", "--weights", tiny_checkpoint)
    data = json.loads((tmp_path / "s.json").read_text())
    assert sorted(r["path"] for r in data) == sorted(names + [missing])  # JSON unchanged
    assert not any(r["message"].startswith("'") for r in data)


def test_resume_matches_resolved_paths(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, p in enumerate(face_paths):
        shutil.copy(p, imgs / f"{i}.jpg")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "s.csv"
    code, rows = score(out, "imgs", "--weights", tiny_checkpoint)
    assert code == 0 and len(rows) == len(face_paths)
    write_results([{**r, "score": 7.0} for r in rows], out)
    os.symlink(imgs, tmp_path / "link")
    for spelling in (str(imgs), "./imgs/", "link"):
        code, again = score(out, spelling, "--weights", tiny_checkpoint, "--resume")
        assert code == 0 and len(again) == len(face_paths), spelling  # no duplicate rows
        assert {r["score"] for r in again} == {7.0}, spelling  # nothing rescored


def test_output_checked_before_any_work(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("x")
    caplog.set_level(logging.INFO)
    code, _ = score(blocker / "out.csv", face_paths[0], "--weights", tiny_checkpoint)
    assert code == 2 and "is a file, not a folder" in caplog.text
    assert "scoring 1 file" not in caplog.text  # refused before the first image
    # An existing file that is not a results file is neither replaced nor resumed.
    other = tmp_path / "mine.csv"
    other.write_text("name,value\na,1\n")
    for extra in ((), ("--resume",)):
        assert score(other, face_paths[0], "--weights", tiny_checkpoint, *extra)[0] == 2
    assert other.read_text() == "name,value\na,1\n"
    caplog.clear()
    assert score(other, face_paths[0], other, "--weights", tiny_checkpoint)[0] == 2  # -o is an input
    assert "also one of the files to score" in caplog.text


def test_write_errors_lose_nothing(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                   monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A full disk at every checkpoint: scoring goes on; at the end the rows go to a fallback file (exit 4)."""
    fallback_dir = tmp_path / "tmpdir"
    fallback_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fallback_dir))
    out = tmp_path / "full" / "s.csv"
    real = write_results

    def full_disk(rows, path):  # the results file's disk is full; others are fine
        if Path(path).parent == out.parent:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(rows, path)

    monkeypatch.setattr(runner_mod, "write_results", full_disk)
    monkeypatch.setattr(output_mod, "write_results", full_disk)
    caplog.set_level(logging.WARNING)
    code = main(["score", *map(str, face_paths), "-o", str(out), "--weights", str(tiny_checkpoint), "--workers", "0",
                 "--batch-size", "1", "--save-every", "0", "--no-progress", "--table-rows", "0"])
    assert code == 4
    assert "checkpoint of" in caplog.text and "No space left" in caplog.text
    saved = list(fallback_dir.glob("s.unsaved-*.csv"))
    assert len(saved) == 1 and str(saved[0]) in caplog.text
    rows = read_results(saved[0])
    assert [r["path"] for r in rows] == [str(p) for p in face_paths] and {r["status"] for r in rows} == {"ok"}
    assert not out.exists()


def test_umask_and_stale_temps(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    out = tmp_path / "s.csv"
    stale = tmp_path / ".s.csv.x1y2.tmp"
    stale.write_text("left by kill -9")
    old = os.umask(0o027)
    try:
        assert score(out, face_paths[0], "--weights", tiny_checkpoint)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert not stale.exists() and not list(tmp_path.glob(".s.csv*"))  # no temp, no lock file left


def test_second_writer_fails_at_once(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "s.csv"
    with OutputLock(out):
        code, _ = score(out, face_paths[0], "--weights", tiny_checkpoint)
        assert code == 2 and f"process {os.getpid()}" in caplog.text and "being written" in caplog.text
        assert not out.exists()
        code = main(["score", "--merge", str(tmp_path / "p.csv"), "-o", str(out)])
        assert code == 2
    assert score(out, face_paths[0], "--weights", tiny_checkpoint)[0] == 0  # free again


def test_usage_errors_exit_2_before_work(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path,
                                         monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(face_paths[0], tmp_path / "photo.txt")  # an image named like a list file
    (tmp_path / "self.txt").write_text("self.txt\n")
    (tmp_path / "a.lst").write_text("b.lst\n")
    (tmp_path / "b.lst").write_text("a.lst\n")
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x01garbage")
    w = ["--weights", str(tiny_checkpoint)]
    img = str(face_paths[0])
    cases = {
        "photo.txt": (["photo.txt"], "binary data"),
        "self": (["self.txt"], "includes itself"),
        "cycle": (["a.lst"], "includes itself"),
        "cuda": ([img, "--device", "cuda:7"], "--device cuda:7"),
        "input size": ([img, "--input-size", "-3"], "--input-size -3"),
        "batch": ([img, "--batch-size", "0", "--workers", "-1"], "--workers -1"),
        "threshold": ([img, "--det-threshold", "1.5"], "--det-threshold"),
        "detector": ([img, "--detect", "--detector-model", "broken.onnx"], "broken.onnx"),
        "resume other": ([img, "--resume", "-o", "notes.csv"], "not an mspt-face results file"),
        "onnx file": ([img, "--backend", "onnxruntime", "--onnx-model", "missing.onnx"], "missing.onnx"),
        "onnx garbage": ([img, "--backend", "onnxruntime", "--onnx-model", "broken.onnx"], "not a usable ONNX model"),
    }
    for name, (args, needle) in cases.items():
        caplog.clear()
        out = [] if "-o" in args else ["-o", "out.csv"]
        code = main(["score", *args, *out, *w, "--no-progress", "--workers", "0"] if "--workers" not in args else
                    ["score", *args, *out, *w, "--no-progress"])
        assert code == 2, name
        assert needle in caplog.text, (name, caplog.text)
        assert "Traceback" not in caplog.text
    assert not (tmp_path / "out.csv").exists()
    assert main(["score", "--merge", "notes.csv", "-o", "x.txt"]) == 2
    assert main(["score", "--merge", "notes.csv", "-o", "m.csv"]) == 2
    assert main(["score", "--merge", "no_such_part.csv", "-o", "m.csv"]) == 2 and "no such file" in caplog.text
    import importlib.util

    from mspt_pyiqa.scoring import checks

    real_find = importlib.util.find_spec
    monkeypatch.setattr(checks.importlib.util, "find_spec", lambda n, *a: None if n == "onnx" else real_find(n, *a))
    caplog.clear()
    assert main(["score", img, "-o", "o.csv", "--backend", "onnxruntime", *w]) == 2
    assert "pip install onnx" in caplog.text


def test_folder_named_like_an_image_and_damaged_jpeg(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    d = tmp_path / "in"
    (d / "x.jpg").mkdir(parents=True)
    shutil.copy(face_paths[0], d / "x.jpg" / "inner.jpg")
    data = Path(face_paths[0]).read_bytes()
    mid = len(data) // 2
    (d / "zeros.jpg").write_bytes(data[:mid] + b"\x00" * 2000 + data[mid + 2000:])
    rng = np.random.default_rng(0)
    (d / "random.jpg").write_bytes(data[:mid] + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes() + data[mid + 2000:])
    code, rows = score(tmp_path / "s.csv", d, "--weights", tiny_checkpoint)
    by = {Path(r["path"]).relative_to(d).as_posix(): r for r in rows}
    assert by["x.jpg"]["status"] == "not_image" and "not a regular file" in by["x.jpg"]["message"]
    assert by["x.jpg/inner.jpg"]["status"] == "ok"
    assert by["zeros.jpg"]["status"] == "ok" and "damaged JPEG data" in by["zeros.jpg"]["message"]
    assert by["random.jpg"]["status"] == "corrupt"
