"""Package discovery that pyproject.toml cannot express: the top-level ``weights/`` folder
is installed as ``mspt_pyiqa.released_weights`` so released checkpoints travel in the wheel.
All other metadata lives in pyproject.toml."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mspt_pyiqa", "mspt_pyiqa.*"]) + ["mspt_pyiqa.released_weights"],
    package_dir={"mspt_pyiqa.released_weights": "weights"},
)
