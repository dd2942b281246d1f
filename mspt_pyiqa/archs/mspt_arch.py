"""MSPT network: MobileNetV3-Small with a one-output quality regression head.

Reference: Xiao, Chen, Zeng, Yang, "MSPT: A Lightweight Face Image Quality Assessment
Method with Multi-stage Progressive Training", arXiv:2508.07590 (2025). The paper's
network is timm ``mobilenetv3_small_100`` with ``num_classes=1``: 1,518,881 parameters
(the paper's 1.5189M). By default that backbone is built by this package's plain-torch twin
(:mod:`mspt_pyiqa.archs.mobilenetv3_small`: same state-dict keys, outputs and seeded
initialisation, without importing timm); ``backbone_impl="timm"`` builds it with timm.

Conventions (pyiqa NR metrics):

* input: float tensor ``(N, 3, H, W)`` (or ``(N, 1, H, W)``, repeated to RGB), values in
  ``[0, 1]``, any size and aspect ratio;
* output: ``(N, 1)`` quality score, **higher is better**, trained on labels in ``[0, 1]``
  (the head is linear, so scores can leave that range slightly: pyiqa's ``~0, ~1``).
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from mspt_pyiqa.archs.backbones import build_backbone, resolve_backbone_impl
from mspt_pyiqa.backbone_init import load_backbone_pretrained
from mspt_pyiqa.preprocess import detail_view, resize_to_test_size
from mspt_pyiqa.weights import (checkpoint_meta, meta_detail_size, meta_enlarge, release_detail_size, release_enlarge,
                                 release_input_size)

logger = logging.getLogger(__name__)

# timm's ImageNet statistics (timm.data.IMAGENET_DEFAULT_MEAN / STD).
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)


class MSPTNet(nn.Module):
    """MobileNetV3-Small quality regressor, registered in pyiqa as ``MSPTNet``.

    Args:
        backbone: timm model name of the backbone.
        backbone_impl: Which code builds it: ``"auto"`` (default: this package's plain-torch
            twin when :data:`mspt_pyiqa.archs.backbones.NATIVE_BACKBONES` has one, as for
            ``mobilenetv3_small_100``, else timm), ``"native"`` (the twin; an error for other
            backbones) or ``"timm"``. Both give the same state dict, outputs and seeded
            initialisation; the twin starts faster (no timm import).
        num_outputs: Outputs of the regression head (1 for a MOS).
        test_img_size: Short side, in pixels, that every input is resized to before the
            backbone (see :func:`mspt_pyiqa.preprocess.resize_to_test_size`). ``None``
            keeps the input size; ``"release"`` (default) asks the weights catalog for the
            input size of the release loaded (``weights_name``, else the default release). The same policy applies in train and eval mode, to
            tensors, paths and PIL images alike (pyiqa turns the latter into tensors first).
        resize_mode: Interpolation for that resize: ``bilinear`` or ``bicubic``
            (both antialiased when downsampling).
        detail_size: Side, in pixels, of the detail view: the centre square of the input at
            its own resolution, its corner on a 16 px grid (:func:`mspt_pyiqa.preprocess.detail_view`), seen by the same
            backbone beside the resized view; the two views' pooled features are averaged
            before the head, so the score is the mean of the two views' scores. ``None``: no
            detail view (one view, as every release before it). ``"release"`` (default): the
            detail size stored with the weights loaded: ``meta['detail_size']`` of
            ``pretrained_model_path``, else the catalog entry's (``pretrained``), else ``None``. Why: mild noise
            and JPEG blocks of a large photo are averaged away by the resize (module docstring
            of :mod:`mspt_pyiqa.preprocess`).
        enlarge: ``True``: every input is resized to ``test_img_size``, small ones enlarged (every
            release before this option). ``False``: ``test_img_size`` is a maximum: an input whose
            short side is at or below it is used at its own size, a larger one reduced as usual;
            with a detail view, an input whose short side is below ``detail_size`` gets its resized
            view as its detail view too (so the one-view score). ``"release"`` (default): what the
            weights loaded say, found like ``detail_size`` (``meta['enlarge']``, the catalog entry's
            ``enlarge``), else ``True``. Why: enlarging small face crops hides their JPEG and noise
            (module docstring of :mod:`mspt_pyiqa.preprocess`).
        drop_rate: Dropout before the head (timm ``drop_rate``).
        pretrained: Load released MSPT weights (from the catalog entry ``weights_name``,
            or from ``pretrained_model_path`` when given).
        pretrained_model_path: Explicit checkpoint path; wins over the catalog.
        weights_name: Catalog entry of ``weights/catalog.yaml`` to load when
            ``pretrained`` is true.
        backbone_pretrained: Initialise the backbone with ImageNet weights (timm hub, or
            ``backbone_pretrained_path``); ignored when MSPT weights are loaded.
        backbone_pretrained_path: Local file with ImageNet weights for the backbone.
        align_crop_face: pyiqa's option name for face metrics. ``True``: detect the main face
            of each image (YuNet), align it from its 5 landmarks and score the aligned crop.
            ``"auto"`` (the ``mspt_face`` metric's default): an image already framed like an
            aligned face crop, or one without a detectable face (a heavily degraded crop often
            has none), is scored as it is; any other image (a photo with a face) is aligned
            first. ``False`` (this class's default, used in training): score the image as it is.
        face_size: Side of the aligned face crop, in pixels.
        detector_model_path: YuNet ONNX file; default: ``$MSPT_FACE_DETECTOR`` or the
            cached download.
        no_face: What an image without a detected face scores when ``align_crop_face=True``:
            ``"nan"`` (NaN score and a warning), ``"full_image"`` (score the whole
            image) or ``"error"`` (raise).
    """

    def __init__(
        self,
        backbone: str = "mobilenetv3_small_100",
        backbone_impl: str = "auto",
        num_outputs: int = 1,
        test_img_size: Union[int, str, None] = "release",
        resize_mode: str = "bilinear",
        detail_size: Union[int, str, None] = "release",
        enlarge: Union[bool, str] = "release",
        drop_rate: float = 0.0,
        pretrained: bool = True,
        pretrained_model_path: Optional[str] = None,
        weights_name: Optional[str] = None,
        backbone_pretrained: bool = False,
        backbone_pretrained_path: Optional[str] = None,
        align_crop_face: Union[bool, str] = False,
        face_size: int = 512,
        detector_model_path: Optional[str] = None,
        no_face: str = "nan",
    ) -> None:
        super().__init__()
        if resize_mode not in ("bilinear", "bicubic"):
            raise ValueError(f"resize_mode must be 'bilinear' or 'bicubic', got {resize_mode!r}")
        if align_crop_face not in (True, False, "auto"):
            raise ValueError(f"align_crop_face must be True, False or 'auto', got {align_crop_face!r}")
        if no_face not in ("nan", "full_image", "error"):
            raise ValueError(f"no_face must be 'nan', 'full_image' or 'error', got {no_face!r}")
        self.backbone_name = backbone
        self.backbone_impl = resolve_backbone_impl(backbone, backbone_impl)  # "native" or "timm"
        if test_img_size == "release":
            test_img_size = release_input_size(weights_name)
        elif test_img_size is not None and (isinstance(test_img_size, (bool, str)) or int(test_img_size) < 1):
            raise ValueError(f"test_img_size must be a positive integer, None or 'release', got {test_img_size!r}")
        self.test_img_size = test_img_size
        # Metadata travels with the weights; read the file once for both fields.
        meta = checkpoint_meta(pretrained_model_path) if pretrained_model_path is not None and "release" in (
            detail_size, enlarge) else {}
        if detail_size == "release":
            if pretrained_model_path is not None:
                detail_size = meta_detail_size(meta)
            else:
                detail_size = release_detail_size(weights_name) if pretrained else None
        elif detail_size is not None and (isinstance(detail_size, (bool, str)) or int(detail_size) < 1):
            raise ValueError(f"detail_size must be a positive integer, None or 'release', got {detail_size!r}")
        self.detail_size: Optional[int] = None if detail_size is None else int(detail_size)
        if enlarge == "release":  # found like detail_size: the checkpoint's meta, else the catalog entry
            if pretrained_model_path is not None:
                enlarge = meta_enlarge(meta)
            else:
                enlarge = release_enlarge(weights_name) if pretrained else True
        elif not isinstance(enlarge, bool):
            raise ValueError(f"enlarge must be True, False or 'release', got {enlarge!r}")
        self.enlarge: bool = enlarge
        self.resize_mode = resize_mode
        self.align_crop_face = align_crop_face
        self.face_size = face_size
        self.detector_model_path = detector_model_path
        self.no_face = no_face
        self._aligner = None  # built lazily: a detector costs nothing until it is used

        self.model = build_backbone(backbone, num_classes=num_outputs, drop_rate=drop_rate, impl=self.backbone_impl)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

        if pretrained or pretrained_model_path is not None:
            from mspt_pyiqa.weights import load_mspt_weights

            load_mspt_weights(self, weights_name=weights_name, path=pretrained_model_path)
        elif backbone_pretrained or backbone_pretrained_path is not None:
            load_backbone_pretrained(self.model, backbone, backbone_pretrained_path)

    # ------------------------------------------------------------------ input handling
    @staticmethod
    def check_input(x: torch.Tensor) -> torch.Tensor:
        """Validate shape, channels and dtype; return an RGB ``(N, 3, H, W)`` float tensor.

        Refused with a one-line error: non-tensors, not 4-D, an empty batch (N = 0) or image
        (H or W = 0), other than 1 or 3 channels, integer dtypes and float64 (the weights are float32).
        """
        if not torch.is_tensor(x):
            raise TypeError(f"MSPTNet expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"MSPTNet expects a 4-D tensor (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError(f"MSPTNet got an empty batch (shape {tuple(x.shape)}): give at least one image")
        if x.shape[2] == 0 or x.shape[3] == 0:
            raise ValueError(f"MSPTNet got an image of zero size (shape {tuple(x.shape)})")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(
                f"MSPTNet expects 1 or 3 channels (gray or RGB), got {x.shape[1]} channels; "
                "drop the alpha channel or convert to RGB first"
            )
        if not x.is_floating_point():
            raise TypeError(f"MSPTNet expects a float tensor in [0, 1], got dtype {x.dtype}")
        if x.dtype == torch.float64:
            raise TypeError(
                "MSPTNet expects float32 (or float16/bfloat16) input in [0, 1], got torch.float64; "
                "convert with x.float()"
            )
        return x

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` in [0, 1] -> resized, ImageNet-normalised backbone input."""
        x = resize_to_test_size(x, self.test_img_size, mode=self.resize_mode, enlarge=self.enlarge)
        return (x - self.mean.to(x)) / self.std.to(x)

    # ------------------------------------------------------------------ forward passes
    def _pooled(self, x: torch.Tensor, resize: bool = True) -> torch.Tensor:
        """Pooled pre-logit features ``(N, 1024)`` of one view (resized to ``test_img_size`` if ``resize``)."""
        x = self.preprocess(x) if resize else (x - self.mean.to(x)) / self.std.to(x)
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

    def _view_pair(self, x: torch.Tensor, detail: Optional[torch.Tensor] = None
                   ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Pooled features ``(N, 1024)`` of the resized view and of the detail view (``None`` without one).

        ``detail``: the detail views ``(N, 3, D, D)`` when already cut (training data stores
        them, :mod:`mspt_pyiqa.corpus.native_ladders`); ``None`` cuts them from ``x`` with
        :func:`mspt_pyiqa.preprocess.detail_view`. Ignored without a detail view.
        """
        feats = self._pooled(x)
        if self.detail_size is None:
            return feats, None
        if detail is None:
            detail = detail_view(x, self.detail_size, mode=self.resize_mode, enlarge=self.enlarge,
                                 test_img_size=self.test_img_size)
        else:
            detail = self.check_input(detail)
            if detail.shape[0] != x.shape[0]:
                raise ValueError(f"detail views: {detail.shape[0]} for a batch of {x.shape[0]} images")
        return feats, self._pooled(detail, resize=False)

    def view_features(self, x: torch.Tensor, detail: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Features ``(N, 1024)`` the head scores: the resized view's, averaged with the detail view's
        (``detail`` as in :meth:`_view_pair`)."""
        g, d = self._view_pair(x, detail)
        # The head is linear: scoring the mean feature = the mean of the two views' scores.
        return g if d is None else 0.5 * (g + d)

    def forward_features(self, x: torch.Tensor, detail: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Pooled pre-logit features ``(N, 1024)`` for an input in [0, 1] (both views' mean with a detail view)."""
        return self.view_features(self.check_input(x), detail)

    def forward(self, x: torch.Tensor, return_features: bool = False,
                detail: Optional[torch.Tensor] = None, return_views: bool = False) -> Union[torch.Tensor, Sequence[torch.Tensor]]:
        """Quality score ``(N, 1)``, higher is better (features ``(N, 1024)`` too if asked).

        ``detail``: pre-cut detail views ``(N, 3, D, D)`` in [0, 1] of the same images (training
        batches); by default they are cut from ``x`` (see ``detail_size``). ``return_views`` (with a
        detail view, no face alignment): also each view's own score, ``(N, 2)`` = (resized, detail),
        whose mean is the score; training can rank each view on its own (``train.ladder.view_weight``).
        """
        x = self.check_input(x)
        if return_views:
            if self.detail_size is None:
                raise ValueError("return_views needs a network with a detail view (detail_size)")
            head = self.model.get_classifier()
            g, d = self._view_pair(x, detail)
            views = torch.cat([head(g), head(d)], dim=1)
            feats = 0.5 * (g + d)
            score = head(feats)
            return (score, views, feats) if return_features else (score, views)
        if self.align_crop_face == "auto" and detail is None:
            return self._forward_auto(x, return_features)
        face_missing: Optional[torch.Tensor] = None
        if self.align_crop_face is True and detail is None:
            x, face_missing = self._align_faces(x)
        score, feats = self._head(x, detail)
        if face_missing is not None and bool(face_missing.any()):
            score = score.masked_fill(face_missing.view(-1, 1).to(score.device), float("nan"))
        return (score, feats) if return_features else score

    def _head(self, x: torch.Tensor, detail: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        feats = self.view_features(x, detail)
        return self.model.get_classifier()(feats), feats

    def _forward_auto(self, x: torch.Tensor, return_features: bool) -> Union[torch.Tensor, Sequence[torch.Tensor]]:
        """``align_crop_face="auto"``: crops and face-less images as they are, photos aligned."""
        from mspt_pyiqa.face.align import BatchFaceAligner

        if self._aligner is None:
            self._aligner = BatchFaceAligner(face_size=self.face_size, detector_model_path=self.detector_model_path)
        faces, found, is_crop = self._aligner.auto(x)
        as_is = is_crop | ~found
        if bool(as_is.all()):  # every image a crop (the usual case): exactly the plain forward
            score, feats = self._head(x)
        else:
            s_faces, f_faces = self._head(faces[~as_is])
            score = s_faces.new_empty((x.shape[0], s_faces.shape[1]))
            feats = f_faces.new_empty((x.shape[0], f_faces.shape[1]))
            score[~as_is], feats[~as_is] = s_faces, f_faces
            if bool(as_is.any()):
                score[as_is], feats[as_is] = self._head(x[as_is])
        return (score, feats) if return_features else score

    def _align_faces(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Replace each image by its aligned main face; flag images without a face."""
        from mspt_pyiqa.face.align import BatchFaceAligner

        if self._aligner is None:
            self._aligner = BatchFaceAligner(face_size=self.face_size, detector_model_path=self.detector_model_path)
        faces, found = self._aligner(x)
        if bool(found.all()):
            return faces, None
        names = [i for i, ok in enumerate(found.tolist()) if not ok]
        if self.no_face == "error":
            raise ValueError(f"no face detected in batch item(s) {names}")
        if self.no_face == "full_image":
            # Score the whole image where no face was found, at the face crop's size.
            whole = F.interpolate(x, size=(self.face_size, self.face_size), mode="bilinear", align_corners=False, antialias=True)
            faces = torch.where(found.view(-1, 1, 1, 1).to(x.device), faces, whole)
            return faces, None
        logger.warning("no face detected in batch item(s) %s: their score is NaN", names)
        return faces, ~found
