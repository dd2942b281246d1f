"""``"@release:<name>"`` in a stage's options: a catalog release's checkpoint file.

A recipe can start from (or distil from) a shipped release instead of an earlier stage::

    path: {pretrain_network: "@release:mspt_face_v11"}
    train: {teacher: {type: checkpoint, path: "@release:mspt_face_v11", network: {type: MSPTNet, test_img_size: 224}}}

The name is looked up in ``weights/catalog.yaml`` and the file found (and its sha256 checked)
by :func:`mspt_pyiqa.weights.resolve_weights`, without downloading; the resolved options record
the absolute path, so a resumed run compares like with like.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

from mspt_pyiqa.weights import WeightsError, get_entry, resolve_weights

PREFIX = "@release:"


class ReleaseRefError(ValueError):
    """A ``@release:`` reference names no catalog release or its file is missing (one line)."""


def resolve_release(ref: str) -> str:
    """Absolute checkpoint path of ``"@release:<name>"``; :class:`ReleaseRefError` otherwise."""
    name = ref[len(PREFIX):].strip()
    if not ref.startswith(PREFIX) or not name:
        raise ReleaseRefError(f"{ref!r} is not of the form '@release:<name>'")
    try:
        return str(Path(resolve_weights(get_entry(name), download=False)).resolve())
    except WeightsError as err:
        raise ReleaseRefError(f"{ref}: {err}") from None


def _slots(opt: Dict[str, Any]) -> List[Tuple[Dict[str, Any], str, str]]:
    train = opt.get("train") if isinstance(opt.get("train"), dict) else {}
    hints = train.get("feature_hints") if isinstance(train.get("feature_hints"), dict) else {}
    out = [(opt.get("path"), "pretrain_network", "path.pretrain_network"),
           (train.get("teacher"), "path", "train.teacher.path"),
           (hints.get("teacher"), "path", "train.feature_hints.teacher.path")]
    return [(d, k, where) for d, k, where in out if isinstance(d, dict)]


def resolve_release_refs(opt: Dict[str, Any]) -> List[str]:
    """Replace every ``@release:`` value of ``opt`` in place; returns the key paths replaced.

    Raises :class:`ReleaseRefError` naming the key path and the release.
    """
    done = []
    for holder, key, where in _slots(opt):
        value = holder.get(key)
        if isinstance(value, str) and value.startswith(PREFIX):
            try:
                holder[key] = resolve_release(value)
            except ReleaseRefError as err:
                raise ReleaseRefError(f"{where}: {err}") from None
            done.append(where)
    return done
