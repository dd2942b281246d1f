"""Explicit, idempotent registration of mspt-pyiqa's parts in pyiqa.

``import mspt_pyiqa`` calls :func:`register`; pyiqa also calls it through the entry points
``pyiqa.archs`` / ``pyiqa.models`` / ``pyiqa.datasets`` declared in ``pyproject.toml``,
so its own pipelines (``pyiqa.train``) find these parts without an import. Calling it any
number of times is harmless.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Dict, List, Tuple

logger = logging.getLogger(__name__)

METRIC_NAME = "mspt_face"
# Score range as pyiqa writes it: trained on [0, 1] labels, linear head, so approximately.
SCORE_RANGE = "~0, ~1"

# (registry, "module:attribute") of every part this package adds to pyiqa.
_PARTS: List[Tuple[str, str]] = [
    ("ARCH_REGISTRY", "mspt_pyiqa.archs.mspt_arch:MSPTNet"),
]
# Parts added by later modules (training, datasets) register themselves here.
_OPTIONAL_PARTS: List[Tuple[str, str]] = [
    ("ARCH_REGISTRY", "mspt_pyiqa.archs.teacher_arch:MobileNetV2IQA"),
    ("MODEL_REGISTRY", "mspt_pyiqa.train.pyiqa_model:MSPTModel"),
    ("DATASET_REGISTRY", "mspt_pyiqa.data.datasets:VQualAFIQADataset"),
    ("DATASET_REGISTRY", "mspt_pyiqa.data.datasets:FaceIQADataset"),
    ("LOSS_REGISTRY", "mspt_pyiqa.train.losses:LadderRankLoss"),
    ("LOSS_REGISTRY", "mspt_pyiqa.train.losses:TeacherDifferenceLoss"),
]


def metric_config() -> Dict[str, Any]:
    """The ``DEFAULT_CONFIGS['mspt_face']`` entry, derived from the weights catalog's default release."""
    from mspt_pyiqa.weights import default_entry_name, load_catalog, release_input_size

    name = default_entry_name()
    entry = load_catalog().get(name) if name else None
    return {
        "metric_opts": {
            "type": "MSPTNet",
            "backbone": entry.backbone if entry else "mobilenetv3_small_100",
            "test_img_size": release_input_size(name),
            "weights_name": name,
            "pretrained": True,
            # pyiqa's option name for face metrics. pyiqa's own face metric (topiq_nr-face)
            # aligns every input by default; "auto" does so for photos and leaves images that
            # already are aligned face crops (or show no detectable face) as they are, the
            # decision `mspt-face score --faces auto` makes (eval/reports/face_framing.md).
            "align_crop_face": "auto",
        },
        "metric_mode": "NR",
        "lower_better": False,
        "score_range": SCORE_RANGE,
    }


def _load(path: str) -> Any:
    module_name, attr = path.split(":")
    return getattr(importlib.import_module(module_name), attr)


def register() -> None:
    """Register MSPTNet (and training / dataset classes when present) and the ``mspt_face`` metric."""
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    from pyiqa.utils import registry as pyiqa_registry

    for registry_name, path in _PARTS + _OPTIONAL_PARTS:
        try:
            obj = _load(path)
        except (ModuleNotFoundError, AttributeError) as err:
            if (registry_name, path) in _PARTS:
                raise
            logger.debug("optional part %s not available: %s", path, err)
            continue
        registry = getattr(pyiqa_registry, registry_name)
        # Write the map directly: `in`/`register` would re-enter pyiqa's entry-point
        # loading, which calls this function again. Same object -> no-op.
        if registry._obj_map.get(obj.__name__) is not obj:
            registry.register(obj, override=True)
    DEFAULT_CONFIGS[METRIC_NAME] = metric_config()
