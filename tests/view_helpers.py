"""Helpers shared by the view tests (detail view, enlarge): random networks, synthetic images, CSV scores."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict

import numpy as np
import torch

from mspt_pyiqa import weights as W
from mspt_pyiqa.archs.mspt_arch import MSPTNet
from mspt_pyiqa.scoring.writer import read_results


def random_bn(net: torch.nn.Module) -> None:
    """BatchNorm statistics like trained ones, not the 0/1 defaults (so views differ in score)."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)


def twin(net: MSPTNet, **kwargs) -> MSPTNet:
    """A network with ``net``'s weights and other view settings."""
    other = MSPTNet(pretrained=False, **kwargs)
    other.load_state_dict(net.state_dict())
    return other.eval()


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth colour field with fine noise (both views see something), uint8 ``(h, w, 3)``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([np.sin(xx / (7 + 3 * c) + c) * np.cos(yy / (11 - 2 * c)) for c in range(3)], axis=2)
    img = 0.5 + 0.35 * base + rng.normal(0, 0.06, (h, w, 3))
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def csv_scores(path: Path) -> Dict[str, float]:
    """``{file name: score}`` of a score CSV whose rows are all ``ok``."""
    rows = read_results(path)
    assert all(r["status"] == "ok" for r in rows), rows
    return {Path(r["path"]).name: r["score"] for r in rows}


def worst_difference(a: Dict[str, float], b: Dict[str, float]) -> float:
    """Largest absolute score difference of two ``{name: score}`` maps over the same names."""
    assert sorted(a) == sorted(b)
    return max(abs(a[k] - b[k]) for k in a)


def weights_folder(tmp_path: Path) -> Path:
    """A weights folder holding a copy of the package's catalog (publish tests write into it)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copyfile(W.package_weights_dir() / "catalog.yaml", folder / "catalog.yaml")
    return folder
