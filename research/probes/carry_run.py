"""Carry an unfinished training run from one machine to the next, through the repository.

A session's machine keeps nothing outside the repository, and a recipe of the joint design takes
about 3.5 hours on 2 CPU cores, longer than one session. ``pack`` copies what resuming a run folder
needs into a folder inside the repository, with a manifest of sha256s:
- every small text file of the run and its stages (options, results, logs, forgetting tables);
- each stage's ``models/net_best.pth`` (the next stage starts from it; a teacher stage's is the
  teacher; the forgetting table scores every stage's best);
- for a stage that has not finished, its latest training state and ``models/`` folder;
- the teacher's cached scores (``teacher_cache/``).
Images are not carried: the corpus and ladder builds are deterministic and are rebuilt from the
faces. ``unpack`` checks every hash and restores the files into the run folder the manifest names
(stage results record their checkpoints by that path), where ``mspt-face train`` resumes the run.

    python research/probes/carry_run.py pack runs/mspt_face_v12_joint67 research/carry/mspt_face_v12_joint67
    python research/probes/carry_run.py unpack research/carry/mspt_face_v12_joint67
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional

from mspt_pyiqa.utils.io import atomic_write_bytes, atomic_write_json
from mspt_pyiqa.weights import sha256_file

logger = logging.getLogger("carry_run")

TEXT_SUFFIXES = {".json", ".yml", ".yaml", ".csv", ".md", ".log", ".txt"}
MANIFEST = "carry.json"


def files_to_carry(run: Path) -> List[Path]:
    """Paths, relative to ``run``, of what resuming the run needs (see the module docstring)."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder")
    chosen: List[Path] = []
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        rel = path.relative_to(run)
        stage = run / rel.parts[0] if len(rel.parts) > 1 else None
        unfinished = stage is not None and stage.is_dir() and not (stage / "result.json").is_file()
        if path.suffix in TEXT_SUFFIXES and "training_states" not in rel.parts:
            chosen.append(rel)
        elif rel.parts[0] == "teacher_cache":
            chosen.append(rel)
        elif rel.name == "net_best.pth" and rel.parts[-2] == "models":
            chosen.append(rel)
        elif unfinished and (rel.parts[1] == "models" or (rel.parts[1] == "training_states" and rel.suffix == ".state")):
            chosen.append(rel)
    return chosen


def pack(run: Path, dest: Path) -> Dict[str, object]:
    """Copy the files of :func:`files_to_carry` to ``dest`` and write its manifest; return it."""
    run, dest = Path(run), Path(dest)
    if dest.exists():
        shutil.rmtree(dest)  # a pack is replaced whole: a stale state must not survive beside a new one
    files: Dict[str, Dict[str, object]] = {}
    for rel in files_to_carry(run):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run / rel, target)
        files[rel.as_posix()] = {"sha256": sha256_file(target), "bytes": target.stat().st_size}
    manifest = {"run": run.as_posix(), "files": files, "bytes": sum(int(f["bytes"]) for f in files.values())}
    atomic_write_json(dest / MANIFEST, manifest)
    return manifest


def unpack(src: Path, run: Optional[Path] = None) -> Path:
    """Restore a pack into ``run`` (default: the run folder the manifest names); return that folder.

    Raises:
        ValueError: a packed file is missing or its sha256 differs from the manifest's, or the run
            folder holds a different file under the same name (nothing is overwritten).
    """
    src = Path(src)
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: no manifest; is {src} a pack made by `carry_run.py pack`?")
    manifest = json.loads(manifest_path.read_text())
    run = Path(run) if run is not None else Path(manifest["run"])
    for rel, info in manifest["files"].items():
        packed = src / rel
        if not packed.is_file() or sha256_file(packed) != info["sha256"]:
            raise ValueError(f"{packed}: missing or its sha256 differs from {manifest_path}")
    for rel, info in manifest["files"].items():
        target = run / rel
        if target.is_file():
            if sha256_file(target) != info["sha256"]:
                raise ValueError(f"{target}: exists with other contents than {src / rel}; unpack into a new run folder")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, (src / rel).read_bytes())  # packed files are a few MB each
    return run


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack", help="copy what resuming RUN needs into DEST (replaced whole)")
    a.add_argument("run", type=Path)
    a.add_argument("dest", type=Path)
    b = sub.add_parser("unpack", help="restore a pack into the run folder its manifest names")
    b.add_argument("src", type=Path)
    b.add_argument("--run", type=Path, default=None, help="another run folder (stage results name their checkpoints by the packed path)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.cmd == "pack":
            m = pack(args.run, args.dest)
            print(f"{args.dest}: {len(m['files'])} files, {int(m['bytes']) / 1e6:.1f} MB from {args.run}")
        else:
            print(f"restored into {unpack(args.src, args.run)}")
    except (OSError, ValueError) as exc:
        print(f"carry_run: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
