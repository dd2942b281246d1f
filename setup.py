"""Package discovery that pyproject.toml cannot express: the top-level ``weights/`` folder
is installed as ``mspt_pyiqa.released_weights`` so released checkpoints travel in the wheel;
``research/`` (how past releases were made) is not packaged. Data-only folders (``face/models``,
``options/recipes``, ``options/stages``) are found as namespace packages so their files are package
data without build warnings. All other metadata lives in pyproject.toml."""
from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["mspt_pyiqa", "mspt_pyiqa.*"], exclude=["*.__pycache__"])
    + ["mspt_pyiqa.released_weights"],
    package_dir={"mspt_pyiqa.released_weights": "weights"},
)
