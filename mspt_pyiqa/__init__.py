"""mspt-pyiqa: MSPT face image quality assessment as a pyiqa metric.

``import mspt_pyiqa`` registers the ``mspt_face`` metric (NR, higher is better) and the
``MSPTNet`` architecture in pyiqa. With pyiqa 0.1.16 this import is needed before
``pyiqa.create_metric('mspt_face')``; the order of the two imports does not matter.

The import itself is light (no torch, timm or pyiqa), so the ``mspt-face`` command starts
fast: when pyiqa is already imported, registration happens at once; otherwise it happens
right after pyiqa's own import finishes (:mod:`mspt_pyiqa._lazy_registration`).
"""
from mspt_pyiqa._lazy_registration import register_when_pyiqa_loads
from mspt_pyiqa.registration import METRIC_NAME, register
from mspt_pyiqa.version import __version__

register_when_pyiqa_loads(register)

__all__ = ["METRIC_NAME", "register", "__version__"]
