"""Publish a finished recipe run as a release: the weights file and its catalog entry.

``mspt-face train RECIPE --out RUN --publish`` (after the run, or on a finished run folder,
which the trainer resumes with nothing left to do) copies the last stage's checkpoint (or, for a
recipe with ``weight_interpolation``, the run's ``interpolated.pth``) into the weights folder as ``<name>-<sha256[:8]>.pth`` with its input size in the file's ``meta`` and
writes its entry in ``catalog.yaml``: file, sha256, input size, backbone, the recipe and the
git commit that trained it (from ``run.json``: each stage's own, which must agree), and the recipe's ``release:`` block
(``training_data``, ``license``, ``description``, ``input_size``: the test size the
native-scale yardstick chose; ``detail_size``: the side of the detail view when the release
has one, which must be what the last stage trained with; ``enlarge: false`` for a release whose
input size is a maximum, smaller images scored at their own size, which must match the last stage's
``network.enlarge`` when that is set). ``default: true`` in that block (or ``--default``) makes it what
``create_metric('mspt_face')`` loads. A run started from a tree with uncommitted changes
(``git_commit`` ending in ``-dirty``) is refused: its commit would not reproduce it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

from mspt_pyiqa.utils.io import atomic_save, atomic_write_text

logger = logging.getLogger(__name__)

#: Keys of a recipe's ``release:`` block that :func:`publish_run` reads.
RELEASE_KEYS = ("training_data", "license", "description", "input_size", "detail_size", "enlarge", "default", "reference")


class PublishError(ValueError):
    """A run that cannot be published (unfinished, dirty, incomplete release block)."""


def _catalog_header(text: str) -> str:
    """The leading comment lines of ``catalog.yaml`` (kept as they are)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def release_block(recipe: Mapping[str, Any]) -> Dict[str, Any]:
    """The recipe's ``release:`` block, checked: text fields present, ``input_size`` a size in px."""
    block = dict(recipe.get("release") or {})
    missing = [k for k in ("training_data", "license", "description", "input_size") if k not in block]
    if missing:
        raise PublishError(f"recipe {recipe.get('name')!r} has no release fields {missing} (a 'release:' block)")
    unknown = sorted(set(block) - set(RELEASE_KEYS))
    if unknown:
        raise PublishError(f"recipe release block: unknown keys {unknown} (known: {', '.join(RELEASE_KEYS)})")
    size = block["input_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise PublishError(f"recipe release block: input_size must be an integer >= 16 px, got {size!r}")
    detail = block.get("detail_size")
    if detail is not None and (isinstance(detail, bool) or not isinstance(detail, int) or detail < 16):
        raise PublishError(f"recipe release block: detail_size must be an integer >= 16 px or absent, got {detail!r}")
    stages = recipe.get("stages") or []
    last = ((stages[-1].get("overrides") or {}).get("network") or {}) if stages else {}
    if "detail_size" in last and last["detail_size"] != detail:
        raise PublishError(f"recipe release block: detail_size {detail!r} is not the last stage's "
                           f"network detail_size {last['detail_size']!r}")
    enlarge = block.get("enlarge", True)
    if not isinstance(enlarge, bool):  # YAML 'false' is a bool; "false" or 0 would be misread
        raise PublishError(f"recipe release block: enlarge must be true or false, got {enlarge!r}")
    if "enlarge" in last and last["enlarge"] != enlarge:
        raise PublishError(f"recipe release block: enlarge {enlarge!r} is not the last stage's "
                           f"network enlarge {last['enlarge']!r}")
    return block


def publish_run(run_dir: Path, recipe: Mapping[str, Any], weights_dir: Path, recipe_ref: str,
                make_default: Optional[bool] = None, today: Optional[str] = None) -> Path:
    """Copy the run's final checkpoint into ``weights_dir`` and write its catalog entry.

    Args:
        run_dir: A finished ``mspt-face train`` run folder (``run.json`` with every stage).
        recipe: The resolved recipe (its ``name`` and ``release:`` block are used).
        weights_dir: Folder holding ``catalog.yaml`` (the package's ``weights/``).
        recipe_ref: How the catalog names the recipe, e.g. ``options/recipes/mspt_face_v12.yml``.
        make_default: Make this release the default; ``None``: the block's ``default`` (false).
        today: Release date (ISO); default today.

    Returns the path of the published checkpoint. Raises :class:`PublishError`.
    """
    import torch

    block = release_block(recipe)
    name = str(recipe.get("name") or "")
    if not name:
        raise PublishError("recipe has no name: the release is named after it")
    run_json = Path(run_dir) / "run.json"
    if not run_json.is_file():
        raise PublishError(f"{run_json}: no run.json (train the recipe first)")
    run = json.loads(run_json.read_text())
    stages = run.get("stages") or []
    if len(stages) != len(recipe.get("stages") or []) or not stages[-1].get("best_checkpoint"):
        raise PublishError(f"{run_dir}: the run is not finished ({len(stages)} of {len(recipe.get('stages') or [])} stages)")
    # The commit each stage trained from (a later resume that only publishes runs at another commit).
    commits = sorted({str(st.get("git_commit") or run.get("git_commit") or "") for st in stages})
    if len(commits) > 1:
        raise PublishError(f"{run_json}: stages were trained from different commits {commits}; a release needs one")
    commit = commits[0]
    if not commit or commit.endswith("-dirty") or commit == "unknown":
        raise PublishError(f"{run_json}: trained from commit {commit or 'unknown'!r}; a release needs a clean, known commit")
    source = Path(stages[-1]["best_checkpoint"])
    if recipe.get("weight_interpolation"):
        record = run.get("interpolation") or {}
        if not record.get("checkpoint") or float(record.get("weight", -1)) != float(recipe["weight_interpolation"]["weight"]):
            raise PublishError(f"{run_json}: the recipe interpolates weights (weight_interpolation) but the run has no "
                               "matching interpolated checkpoint; rerun the recipe to write it")
        source = Path(record["checkpoint"])
    state = torch.load(str(source), map_location="cpu", weights_only=True)
    params = state.get("params", state) if isinstance(state, dict) else state
    meta = {"name": name, "input_size": int(block["input_size"]), "recipe": recipe_ref, "git_commit": commit}
    if block.get("detail_size"):
        meta["detail_size"] = int(block["detail_size"])
    if block.get("enlarge") is False:  # only then: releases that enlarge keep the meta they always had
        meta["enlarge"] = False
    weights_dir = Path(weights_dir)
    tmp = weights_dir / f".{name}.publish.pth"
    atomic_save(tmp, lambda f: torch.save({"params": params, "meta": meta}, f))
    from mspt_pyiqa.weights import sha256_file

    sha = sha256_file(tmp)
    dest = weights_dir / f"{name}-{sha[:8]}.pth"
    tmp.replace(dest)
    catalog_path = weights_dir / "catalog.yaml"
    text = catalog_path.read_text(encoding="utf-8")
    catalog = yaml.safe_load(text) or {}
    releases = dict(catalog.get("releases") or {})
    entry: Dict[str, Any] = {
        "file": dest.name, "sha256": sha, "input_size": int(block["input_size"]), "backbone": "mobilenetv3_small_100",
        "training_data": str(block["training_data"]), "license": str(block["license"]),
        "date": today or dt.date.today().isoformat(), "url": None, "recipe": recipe_ref, "commit": commit,
    }
    if block.get("detail_size"):
        entry["detail_size"] = int(block["detail_size"])
    if block.get("enlarge") is False:
        entry["enlarge"] = False
    if block.get("reference"):
        entry["reference"] = str(block["reference"])
    entry["description"] = str(block["description"])
    releases[name] = entry
    catalog["releases"] = releases
    if make_default if make_default is not None else bool(block.get("default", False)):
        catalog = {"default": name, **{k: v for k, v in catalog.items() if k != "default"}}
    atomic_write_text(catalog_path, _catalog_header(text) + yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True))
    logger.info("published %s as %s (sha256 %s, %d px, commit %s)", name, dest, sha[:16], entry["input_size"], commit[:12])
    return dest
