"""Network architectures of mspt-pyiqa."""
from mspt_pyiqa.archs.mobilenetv3_small import MobileNetV3Small
from mspt_pyiqa.archs.mspt_arch import MSPTNet

__all__ = ["MSPTNet", "MobileNetV3Small"]
