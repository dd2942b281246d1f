"""ImageNet initialisation of the backbone: timm's hub when reachable, or a local file.

Offline, timm's hub download would retry for a long time; we check the local Hugging Face
cache and the network first and fail fast with instructions instead.
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Optional

import torch
from torch import nn

logger = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"
_CONNECT_TIMEOUT_S = 3.0


def _hub_reachable(host: str = HUB_HOST, timeout: float = _CONNECT_TIMEOUT_S) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_hub_file(model_name: str) -> Optional[str]:
    """Path of the backbone's weights in the local Hugging Face cache, if already there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with timm
        return None
    import timm  # here, not at module level: the scoring path never initialises from ImageNet

    cfg = timm.models.get_pretrained_cfg(model_name)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(hub_id, filename)
        if isinstance(hit, str):
            return hit
    return None


def _read_state_dict(path: str) -> dict:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "params"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return state


def load_backbone_pretrained(model: nn.Module, model_name: str, path: Optional[str] = None) -> None:
    """Load ImageNet weights into a backbone ``model`` (its classifier is left as initialised).

    Args:
        model: timm model created with ``pretrained=False`` (any ``num_classes``), or its native
            twin (:mod:`mspt_pyiqa.archs.backbones`, same state-dict keys).
        model_name: timm name, used to find the hub weights.
        path: local ``.pth``/``.safetensors`` with the ImageNet state dict; wins over the hub.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        RuntimeError: no path, nothing cached and the hub is unreachable (says what to do).
    """
    if path is None:
        path = _cached_hub_file(model_name)
        if path is None:
            if not _hub_reachable():
                raise RuntimeError(
                    f"backbone_pretrained=True needs ImageNet weights for timm '{model_name}', but the "
                    f"Hugging Face hub ({HUB_HOST}) is unreachable and nothing is cached. Download them on a "
                    "machine with internet (timm.create_model(name, pretrained=True) fills ~/.cache/huggingface) "
                    "or pass backbone_pretrained_path=/path/to/model.safetensors"
                )
            logger.info("downloading ImageNet weights for %s through timm", model_name)
            import timm

            hub_model = timm.create_model(model_name, pretrained=True)
            state = hub_model.state_dict()
        else:
            state = _read_state_dict(path)
    else:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"backbone_pretrained_path not found: {path}")
        state = _read_state_dict(path)
    classifier = model.get_classifier()
    head_keys = {k for k in model.state_dict() if classifier is not None and any(
        k == f"{name}.{p}" for name, mod in model.named_modules() if mod is classifier for p in ("weight", "bias"))}
    state = {k: v for k, v in state.items() if k not in head_keys}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in head_keys]
    if missing or unexpected:
        raise RuntimeError(
            f"ImageNet weights from {path or 'the hub'} do not fit timm '{model_name}': "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    logger.info("loaded ImageNet weights for %s from %s", model_name, path or "the hub")
