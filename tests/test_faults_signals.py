"""Real signals sent to a real ``mspt-face score`` process: SIGTERM and SIGHUP save and exit
128 + signal; ``kill -9`` leaves no orphan worker, forkserver or resource tracker; a second
writer of the same results file is refused while the first runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import pytest

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring.writer import read_results

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find child processes")


@pytest.fixture(scope="module")
def many_faces(sample_faces: List[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 files (hard links to the face images made in conftest, no ../shared needed): enough
    work to be interrupted mid-way. Not symlinks: --resume matches resolved paths, and 400
    symlinks to 4 files are 4 files."""
    d = tmp_path_factory.mktemp("many")
    for i in range(400):
        src = sample_faces[i % len(sample_faces)]
        os.link(src, d / f"{i:04d}{src.suffix}")
    return d


def start(out: Path, folder: Path, ckpt: Path, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "mspt_pyiqa.cli.main", "score", str(folder), "-o", str(out), "--weights", str(ckpt),
           "--workers", str(workers), "--batch-size", "8", "--save-every", "0.2", "--no-progress", "--table-rows", "0"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_rows(proc: subprocess.Popen, out: Path, timeout_s: float = 180.0) -> None:
    """Until the first checkpoint holds scored rows (the run is mid-way)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        assert proc.poll() is None, proc.communicate()
        if out.exists() and len(out.read_text().splitlines()) > 1:
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no checkpoint in {timeout_s} s")


def _state(pid: int) -> Optional[str]:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
        return data[data.rindex(")") + 2]
    except (OSError, ValueError):
        return None


def descendants(pid: int) -> List[int]:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                data = Path(f"/proc/{d}/stat").read_text()
                if int(data[data.rindex(")") + 2:].split()[1]) == pid:
                    kids.append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    return kids + [g for k in kids for g in descendants(k)]


def assert_all_gone(pids: List[int], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and any(_state(k) not in (None, "Z") for k in pids):
        time.sleep(0.1)
    alive = [k for k in pids if _state(k) not in (None, "Z")]
    for k in alive:  # clean up before failing
        os.kill(k, signal.SIGKILL)
    assert not alive, f"orphans {within_s} s after the run died: {alive}"


def resume_all(out: Path, folder: Path, ckpt: Path) -> List[dict]:
    code = main(["score", str(folder), "-o", str(out), "--weights", str(ckpt), "--workers", "0", "--resume",
                 "--batch-size", "16", "--no-progress", "--table-rows", "0"])
    assert code == 0
    return read_results(out)


@pytest.mark.slow  # one CLI process with a forkserver (~10-20 s on a shared machine)
def test_sigterm_saves_exits_143_and_resume_completes(tmp_path: Path, many_faces: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "s.csv"
    proc = start(out, many_faces, tiny_checkpoint, workers=1)
    wait_for_rows(proc, out)
    kids = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated by SIGTERM" in err and "rerun with --resume" in err
    rows = read_results(out)
    paths = [r["path"] for r in rows]
    assert 0 < len(rows) < 400 and len(set(paths)) == len(paths) and {r["status"] for r in rows} == {"ok"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_state(k) not in (None, "Z") for k in kids):
        time.sleep(0.2)
    assert not [k for k in kids if _state(k) not in (None, "Z")], "worker processes outlived the run"
    rows = resume_all(out, many_faces, tiny_checkpoint)
    assert len(rows) == 400 and len({r["path"] for r in rows}) == 400


@pytest.mark.slow
def test_sighup_to_the_process_group_saves_and_exits_129(tmp_path: Path, many_faces: Path, tiny_checkpoint: Path) -> None:
    """A closed terminal (or Slurm) signals every process of the group: workers die too."""
    out = tmp_path / "s.json"
    proc = start(out, many_faces, tiny_checkpoint, workers=1)
    wait_for_rows(proc, out)
    os.killpg(proc.pid, signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 129, err
    assert f'File "{REPO / "mspt_pyiqa"}' not in err  # no traceback through our code (the stdlib's tracker may warn)
    rows = read_results(out)
    assert 0 < len(rows) < 400 and len({r["path"] for r in rows}) == len(rows)


@pytest.mark.slow
def test_kill_9_leaves_no_orphans_and_lock_refuses_second_writer(tmp_path: Path, many_faces: Path, tiny_checkpoint: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "s.csv"
    proc = start(out, many_faces, tiny_checkpoint, workers=2)
    wait_for_rows(proc, out)
    # A second writer of the same file fails at once, naming the first.
    t0 = time.monotonic()
    code = main(["score", str(many_faces), "-o", str(out), "--weights", str(tiny_checkpoint), "--no-progress"])
    assert code == 2 and f"process {proc.pid}" in caplog.text and time.monotonic() - t0 < 30
    kids = descendants(proc.pid)
    assert len(kids) >= 3  # forkserver, resource tracker, workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_all_gone(kids, within_s=5)
    rows = resume_all(out, many_faces, tiny_checkpoint)  # the stale lock does not block; nothing duplicated
    assert len(rows) == 400 and len({r["path"] for r in rows}) == 400


@pytest.mark.slow
def test_kill_9_while_workers_start_leaves_no_orphans(tmp_path: Path, many_faces: Path, tiny_checkpoint: Path) -> None:
    """Killed while the forkserver is still importing torch: it must not linger until its imports end."""
    proc = start(tmp_path / "s.csv", many_faces, tiny_checkpoint, workers=2)
    t0 = time.monotonic()
    while not descendants(proc.pid):
        assert proc.poll() is None and time.monotonic() - t0 < 180, "no worker process started"
        time.sleep(0.02)
    time.sleep(0.3)
    kids = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_all_gone(kids, within_s=5)
