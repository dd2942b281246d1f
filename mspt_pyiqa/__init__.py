"""mspt-pyiqa: MSPT face image quality assessment as a pyiqa metric.

``import mspt_pyiqa`` registers the ``mspt_face`` metric (NR, higher is better) and the
``MSPTNet`` architecture in pyiqa.
"""
from mspt_pyiqa.registration import METRIC_NAME, register
from mspt_pyiqa.version import __version__

register()

__all__ = ["METRIC_NAME", "register", "__version__"]
