"""Build the scoring backend from CLI-level choices (weights, input size, backend, device).

Input size, first hit wins: ``--input-size``; ``meta['input_size']`` of a ``--weights``
checkpoint written by :func:`mspt_pyiqa.weights.save_checkpoint`; the default release's
catalog entry (:func:`mspt_pyiqa.weights.release_input_size`, 448 px when the catalog lists none). An ONNX model carries
its own size in its metadata.

Detail view size (:func:`mspt_pyiqa.preprocess.detail_view`), the same way: ``--detail-size``;
``meta['detail_size']`` of a ``--weights`` checkpoint (else the ``detail_size`` of the network
options a training run stores in ``meta['network']``); without ``--weights``, the default
release's catalog entry (:func:`mspt_pyiqa.weights.release_detail_size`). ``None`` everywhere: no
detail view, the one-view model of every release before it. An ONNX model carries its own
(``mspt_detail_size``).

Never enlarge (``enlarge`` false: the input size is a maximum, :func:`mspt_pyiqa.preprocess.target_short_side`),
the same way again: ``--no-enlarge``; ``meta['enlarge']`` of a ``--weights`` checkpoint (else
``meta['network']['enlarge']``); without ``--weights``, the default release's catalog entry
(:func:`mspt_pyiqa.weights.release_enlarge`); ``True`` (enlarge, every release before the field)
when none says. An ONNX model carries its own (``mspt_enlarge``).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Union

from mspt_pyiqa.reference import Reference, ReferenceError, onnx_metadata, reference_for_release
from mspt_pyiqa.scoring.backends import OnnxBackend, TorchBackend
from mspt_pyiqa.weights import checkpoint_meta, meta_detail_size, meta_enlarge

if TYPE_CHECKING:  # torch is imported only where a torch model is built (never for --onnx-model)
    import torch

logger = logging.getLogger(__name__)

Backend = Union[TorchBackend, OnnxBackend]


def resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _from_meta(given: Any, weights: Optional[str], meta: Dict[str, Any], read: Callable[[Dict[str, Any]], Any],
               hint: str = "") -> Any:
    """A view setting: ``given`` when set, else what the checkpoint's ``meta`` says (``read``), else
    ``"release"`` (the default release's catalog entry) when no checkpoint is given."""
    if given is not None:
        return given
    if not weights:
        return "release"
    try:
        return read(meta)
    except ValueError as err:
        raise ValueError(f"{weights}: {err}{hint}") from err


def build_net(weights: Optional[str] = None, input_size: Optional[int] = None,
              detail_size: Optional[int] = None, enlarge: Optional[bool] = None) -> "torch.nn.Module":
    """MSPTNet with released weights (catalog default) or ``weights``; eval mode, on CPU.

    ``input_size`` / ``detail_size`` / ``enlarge``: overrides of what the checkpoint meta or the
    catalog says (module docstring); ``None``: not overridden.
    """
    from mspt_pyiqa.archs.mspt_arch import MSPTNet
    from mspt_pyiqa.registration import metric_config

    opts = metric_config()["metric_opts"]
    meta = checkpoint_meta(weights) if weights else {}
    size = input_size or meta.get("input_size") or opts["test_img_size"]
    detail = _from_meta(detail_size, weights, meta, meta_detail_size, "; give --detail-size")
    grow = _from_meta(enlarge, weights, meta, meta_enlarge)
    net = MSPTNet(
        backbone=opts["backbone"],
        test_img_size=int(size),
        detail_size=detail,
        enlarge=grow,
        pretrained=True,
        pretrained_model_path=weights,
        weights_name=opts["weights_name"],
    )
    return net.eval()


def default_release() -> Optional[str]:
    """Name of the catalog's default release (what runs without ``--weights``)."""
    from mspt_pyiqa.weights import default_entry_name

    return default_entry_name()


def default_reference() -> Optional["Reference"]:
    """Reference points of the default release; ``None`` (with a warning) when unreadable."""
    try:
        return reference_for_release(default_release())
    except ReferenceError as err:
        logger.warning("no score reference: %s", err)
        return None


def build_backend(
    backend: str = "torch",
    weights: Optional[str] = None,
    input_size: Optional[int] = None,
    device: str = "cpu",
    onnx_model: Optional[str] = None,
    work_dir: Optional[Path] = None,
    detail_size: Optional[int] = None,
    enlarge: Optional[bool] = None,
) -> Backend:
    """A ready backend. ``onnxruntime`` without ``onnx_model`` exports the torch model to ``work_dir`` first.

    Its ``detail_size`` (``None``: no detail view) and ``enlarge`` are what the preprocessing must
    do (:class:`mspt_pyiqa.scoring.preprocess.PreprocessConfig`).
    """
    device = resolve_device(device)
    if backend == "torch":
        return TorchBackend(build_net(weights, input_size, detail_size, enlarge), device,
                            None if weights else default_reference())
    if backend != "onnxruntime":
        raise ValueError(f"unknown backend {backend!r} (torch or onnxruntime)")
    if onnx_model is None:
        from mspt_pyiqa.onnx_export import export_onnx

        work_dir = Path(work_dir or tempfile.mkdtemp(prefix="mspt_onnx_"))
        meta = {} if weights else onnx_metadata(default_release())
        net = build_net(weights, input_size, detail_size, enlarge)
        onnx_model = str(export_onnx(net, work_dir / "mspt_face.onnx", metadata=meta))
    elif weights or input_size or detail_size or enlarge is not None:
        logger.warning("--onnx-model given: --weights / --input-size / --detail-size / --no-enlarge are ignored "
                       "(the ONNX file has its own)")
    return OnnxBackend(Path(onnx_model), device)  # a broken file: ValueError naming it
