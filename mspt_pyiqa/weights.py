"""Released MSPT checkpoints: the catalog and how a checkpoint is found, checked and loaded.

The catalog is ``weights/catalog.yaml`` (shipped inside the wheel as
``mspt_pyiqa.released_weights``): one entry per release with file name, sha256, input
size, training data, licence and date.

Resolution order for a catalog entry (first hit wins):

1. an explicit path (``pretrained_model_path=``), used as given (your own checkpoint);
2. ``$MSPT_PYIQA_WEIGHTS_DIR/<file>``;
3. the package's own ``weights/<file>`` (they travel in the wheel);
4. ``<torch hub dir>/checkpoints/<file>``, downloaded from the entry's ``url`` when absent
   (written to a temporary file, checked, then renamed: an interrupted download never
   leaves a file that looks complete).

Every file found in 2-4 is checked against the catalog's sha256.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Union

import yaml

if TYPE_CHECKING:  # torch is imported where it is used: reading the catalog needs none
    import torch
    from torch import nn

from mspt_pyiqa.utils.io import atomic_save, atomic_write

logger = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "MSPT_PYIQA_WEIGHTS_DIR"
#: Input size (px) when the catalog lists no release: the paper's final stage (0.4687 GFLOPs).
FALLBACK_INPUT_SIZE = 448
CATALOG_FILE = "catalog.yaml"
_DOWNLOAD_TIMEOUT_S = 30


class WeightsError(RuntimeError):
    """A checkpoint is missing, corrupt or unusable; the message says which file and what to do."""


@dataclasses.dataclass(frozen=True)
class WeightsEntry:
    """One released checkpoint (a row of ``weights/catalog.yaml``)."""

    name: str
    file: str
    sha256: str
    input_size: int
    backbone: str
    training_data: str
    license: str
    date: str
    url: Optional[str] = None
    description: str = ""
    reference: Optional[str] = None  # <release>_reference.json beside the checkpoint (mspt_pyiqa.reference)
    recipe: Optional[str] = None
    commit: Optional[str] = None  # git commit of the run that made the file (releases made by a recipe)
    detail_size: Optional[int] = None  # side (px) of the native-resolution detail view; None = no detail view
    # False: input_size is a maximum, smaller images are scored at their own size (mspt_pyiqa.preprocess)
    enlarge: bool = True

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> "WeightsEntry":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"catalog entry {name!r} has unknown fields {sorted(unknown)}")
        if not isinstance(data.get("enlarge", True), bool):  # "false" as a string would read as true
            raise ValueError(f"catalog entry {name!r}: enlarge must be true or false, got {data['enlarge']!r}")
        return cls(name=name, **{k: v for k, v in data.items() if k != "name"})

    def how_to_get(self) -> str:
        if self.url:
            src = f"Download it from {self.url} (or reinstall mspt-pyiqa, whose wheel ships it)"
        else:
            src = (f"No download is published for {self.file}: the mspt-pyiqa wheel ships it, so reinstall "
                   "mspt-pyiqa (pip install --force-reinstall mspt-pyiqa), or copy the file")
        return (
            f"{src} into ${WEIGHTS_DIR_ENV}, the package's weights/ folder or {hub_checkpoint_dir()}; "
            f"or pass pretrained_model_path=/path/to/{self.file}"
        )


def package_weights_dir() -> Path:
    """The package's own ``weights/`` folder: the source tree's beside the imported package
    (a checkout), else the installed package data (a wheel)."""
    source = Path(__file__).resolve().parent.parent / "weights"
    if (source / CATALOG_FILE).is_file() and (source / "__init__.py").is_file():
        return source
    try:
        from importlib.resources import files

        installed = Path(str(files("mspt_pyiqa.released_weights")))
        if (installed / CATALOG_FILE).is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "weights"


def hub_checkpoint_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


@lru_cache(maxsize=None)
def _read_catalog(path: str, mtime_ns: int, size: int) -> Dict[str, Any]:
    with open(path, "r", encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return data


def _load_catalog(path: str) -> Dict[str, Any]:
    """The parsed catalog; cached per file version (a rewritten catalog, e.g. after a publish, is read again)."""
    st = os.stat(path)
    return _read_catalog(path, st.st_mtime_ns, st.st_size)


def load_catalog(path: Optional[Path] = None) -> Dict[str, WeightsEntry]:
    """All catalog entries by name."""
    path = path or package_weights_dir() / CATALOG_FILE
    data = _load_catalog(str(path))
    return {name: WeightsEntry.from_dict(name, d) for name, d in (data.get("releases") or {}).items()}


def default_entry_name(path: Optional[Path] = None) -> Optional[str]:
    """Name of the release that ``create_metric('mspt_face')`` loads (``None`` before the first release)."""
    path = path or package_weights_dir() / CATALOG_FILE
    return _load_catalog(str(path)).get("default")


def get_entry(name: Optional[str] = None) -> WeightsEntry:
    catalog = load_catalog()
    name = name or default_entry_name()
    if name is None:
        raise WeightsError(
            "mspt_face has no released weights in this version of mspt-pyiqa (weights/catalog.yaml lists none). "
            "Train your own (mspt-face train) and pass pretrained_model_path=..., or use pretrained=False"
        )
    if name not in catalog:
        raise WeightsError(f"unknown MSPT weights {name!r}; released: {sorted(catalog)}")
    return catalog[name]


def release_input_size(name: Optional[str] = None) -> int:
    """Input size (px, short side) of release ``name`` (default: the catalog's default release).

    The catalog is the one place that knows it; the network, the pyiqa metric config, scoring and
    ONNX export ask here (as timm models ask their pretrained config).
    """
    name = name or default_entry_name()
    return get_entry(name).input_size if name else FALLBACK_INPUT_SIZE


def checkpoint_meta(path: Union[str, Path]) -> Dict[str, Any]:
    """The ``meta`` dict of a checkpoint (empty when it has none or cannot be read).

    Releases carry ``input_size`` (and ``detail_size`` with a detail view, ``enlarge: False`` for a
    release whose input size is a maximum) there, as timm's
    pretrained cfg travels with its weights.
    """
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # read_checkpoint reports unreadable files with a proper message later
        return {}
    meta = state.get("meta") if isinstance(state, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def meta_detail_size(meta: Dict[str, Any]) -> Optional[int]:
    """The detail size a checkpoint's ``meta`` records: ``meta['detail_size']``, else
    ``meta['network']['detail_size']`` (training checkpoints store the network options); ``None`` when neither."""
    value = meta.get("detail_size")
    if value is None and isinstance(meta.get("network"), dict):
        value = meta["network"].get("detail_size")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"checkpoint meta detail_size {value!r} is not a positive number of pixels")
    return value


def release_detail_size(name: Optional[str] = None) -> Optional[int]:
    """Side (px) of release ``name``'s detail view (:func:`mspt_pyiqa.preprocess.detail_view`), or ``None``.

    ``None`` when the release has none (every release before the detail view) or the catalog
    lists no release.
    """
    name = name or default_entry_name()
    return get_entry(name).detail_size if name else None


def meta_enlarge(meta: Dict[str, Any]) -> bool:
    """Whether a checkpoint's ``meta`` lets the resize enlarge small images: ``meta['enlarge']``, else
    ``meta['network']['enlarge']`` (training checkpoints); ``True`` (every checkpoint before the field)
    when neither. ``False``: the input size is a maximum (:func:`mspt_pyiqa.preprocess.target_short_side`)."""
    value = meta.get("enlarge")
    if value is None and isinstance(meta.get("network"), dict):
        value = meta["network"].get("enlarge")
    if value is None:
        return True
    if not isinstance(value, bool):  # a string "false" must not read as true
        raise ValueError(f"checkpoint meta enlarge {value!r} is not true or false")
    return value


def release_enlarge(name: Optional[str] = None) -> bool:
    """Whether release ``name`` enlarges images smaller than its input size (``True``: every release
    before the ``enlarge`` field, and when the catalog lists no release)."""
    name = name or default_entry_name()
    return get_entry(name).enlarge if name else True


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, entry: WeightsEntry) -> Path:
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise WeightsError(
            f"weights file {path} is corrupt or not release {entry.name!r}: sha256 {actual}, "
            f"expected {entry.sha256}. Delete it and {entry.how_to_get()}"
        )
    return path


def download_atomic(url: str, dest: Path, expected_sha256: str, timeout: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` through a temporary file beside it; the file appears only when
    its sha256 is ``expected_sha256`` (:func:`mspt_pyiqa.utils.io.atomic_write`)."""
    digest = hashlib.sha256()
    with atomic_write(dest, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
        for block in iter(lambda: resp.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
        if digest.hexdigest() != expected_sha256:
            raise WeightsError(f"download of {url} has sha256 {digest.hexdigest()}, expected {expected_sha256}; nothing was saved")
    return dest


def resolve_weights(
    entry: WeightsEntry,
    weights_dir: Optional[Path] = None,
    cache_dir: Optional[Path] = None,
    download: bool = True,
) -> Path:
    """Find (or download) the checkpoint of ``entry``, checked against its sha256.

    Args:
        entry: catalog entry.
        weights_dir: the package folder to look in (default: :func:`package_weights_dir`).
        cache_dir: download cache (default: ``<torch hub dir>/checkpoints``).
        download: try the entry's URL when no local copy exists.
    """
    candidates = []
    env_dir = os.environ.get(WEIGHTS_DIR_ENV)
    if env_dir:
        candidates.append(Path(env_dir) / entry.file)
    candidates.append(Path(weights_dir or package_weights_dir()) / entry.file)
    cached = Path(cache_dir or hub_checkpoint_dir()) / entry.file
    candidates.append(cached)
    for cand in candidates:
        if cand.is_file():
            return _check(cand, entry)
    if download and entry.url:
        logger.info("downloading %s from %s", entry.file, entry.url)
        try:
            return download_atomic(entry.url, cached, entry.sha256)
        except WeightsError:
            raise
        except OSError as err:  # URLError is an OSError: offline, 404, timeout...
            raise WeightsError(
                f"weights file {entry.file} (sha256 {entry.sha256}) is not on this machine and its download "
                f"failed ({err}). {entry.how_to_get()}"
            ) from err
    looked = ", ".join(str(c) for c in candidates)
    raise WeightsError(
        f"weights file {entry.file} (sha256 {entry.sha256}) not found; looked in {looked}. {entry.how_to_get()}"
    )


def read_checkpoint(path: Path) -> Dict[str, "torch.Tensor"]:
    """State dict of an MSPT checkpoint (pyiqa's ``{'params': state_dict}`` or a bare state dict)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle garbage...
        raise WeightsError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err})") from err
    if isinstance(state, dict) and "params" in state:
        state = state["params"]
    if not isinstance(state, dict):
        raise WeightsError(f"checkpoint {path} holds no state dict")
    return state


def non_finite_tensors(state: Mapping[str, Any]) -> Dict[str, int]:
    """``{name: count}`` of floating-point tensors of ``state`` holding NaN or inf values."""
    import torch

    bad: Dict[str, int] = {}
    for name, t in state.items():
        if torch.is_tensor(t) and t.is_floating_point():
            n = int((~torch.isfinite(t)).sum())
            if n:
                bad[name] = n
    return bad


def warn_non_finite(state: Mapping[str, Any], path: Path) -> Dict[str, int]:
    """Log a warning naming the tensors of ``state`` with NaN/inf values (scores would be NaN)."""
    bad = non_finite_tensors(state)
    if bad:
        names = ", ".join(f"{k} ({v})" for k, v in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        logger.warning("checkpoint %s has non-finite values (NaN/inf) in %d tensor(s): %s%s; its scores will be NaN",
                       path, len(bad), names, more)
    return bad


def load_mspt_weights(net: "nn.Module", weights_name: Optional[str] = None, path: Optional[str] = None) -> Path:
    """Load released (or explicit) weights into an :class:`~mspt_pyiqa.archs.MSPTNet`; return the file used."""
    if path is not None:
        resolved = Path(path)
    else:
        entry = get_entry(weights_name)
        if entry.backbone != getattr(net, "backbone_name", entry.backbone):
            raise WeightsError(f"release {entry.name!r} is for backbone {entry.backbone}, not {net.backbone_name}")
        size = getattr(net, "test_img_size", entry.input_size)
        if size != entry.input_size:
            # None means "no resize": say so rather than print "None px".
            at = "the input's own size (test_img_size=None, no resize)" if size is None else f"{size} px"
            logger.warning("release %s was trained at %d px; scoring at %s", entry.name, entry.input_size, at)
        resolved = resolve_weights(entry)
    state = read_checkpoint(resolved)
    warn_non_finite(state, resolved)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsError(f"checkpoint {resolved} does not fit this network: {err}") from err
    logger.info("loaded MSPT weights from %s", resolved)
    return resolved


def save_checkpoint(net: "nn.Module", path: Path, meta: Optional[Mapping[str, Any]] = None) -> str:
    """Write ``{'params': state_dict, 'meta': meta}`` atomically; return its sha256.

    Saved through a file object (no temp-file name inside the archive), so equal weights and
    meta give byte-identical files and equal sha256.
    """
    import torch

    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    atomic_save(Path(path), lambda f: torch.save({"params": state, "meta": dict(meta or {})}, f))
    return sha256_file(Path(path))
