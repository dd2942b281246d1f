"""Network architectures of mspt-pyiqa."""
from mspt_pyiqa.archs.mspt_arch import MSPTNet

__all__ = ["MSPTNet"]
