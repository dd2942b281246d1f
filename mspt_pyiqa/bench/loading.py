"""Load pyiqa metrics for the leaderboard, turning every failure into a readable reason.

A metric that cannot be had here (weights not downloadable offline, missing optional
dependency, no released MSPT weights yet) is *reported*, never dropped. Probing is fast:
when the Hugging Face hub is unreachable, its client is switched to offline mode (no
retry loops), and pyiqa's own downloader fails on the first DNS/connect error.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import re
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional

from mspt_pyiqa.bench.catalog import CONVERTED_PARAMS, DEFAULT_EXCLUDED, PARAMS_SOURCE

logger = logging.getLogger(__name__)

MSPT_METRIC = "mspt_face"
_CONNECT_TIMEOUT_S = 3.0
_DOWNLOAD_RE = re.compile(r'Downloading: "([^"]+)"')
# huggingface_hub's exception names for "offline and not cached" (matched by exact class name:
# the classes move between huggingface_hub versions).
_HUB_MISSING = {"LocalEntryNotFoundError", "OfflineModeIsEnabled"}


@dataclasses.dataclass
class LoadedMetric:
    """Outcome of loading one metric.

    ``status``: ``ok`` (``metric`` is a pyiqa InferenceModel), ``cannot load``,
    ``not applicable`` (FR metric on data without references) or ``excluded``.
    """

    name: str
    status: str
    reason: str = ""
    mode: str = "NR"
    lower_better: bool = False
    params_source: str = "pyiqa default"
    metric: Any = None

    def row(self) -> Dict[str, Any]:
        """JSON-friendly description (no model object)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "metric"}


def hub_reachable(host: str = "huggingface.co", port: int = 443) -> bool:
    """True when a TCP connection to ``host`` opens within a few seconds."""
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def set_offline(offline: bool) -> None:
    """Switch the Hugging Face hub client's offline mode (checked at call time by huggingface_hub)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return
    constants.HF_HUB_OFFLINE = offline


def pyiqa_configs() -> Dict[str, Dict[str, Any]]:
    """pyiqa's metric configs, with ``mspt_face`` registered."""
    import mspt_pyiqa  # noqa: F401  (registers mspt_face)
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    return DEFAULT_CONFIGS


def default_metric_names(has_ref: bool) -> List[str]:
    """``mspt_face``, then every pyiqa NR metric, then (with references) every FR metric."""
    cfg = pyiqa_configs()
    nr = [n for n, c in cfg.items() if c.get("metric_mode") == "NR" and n != MSPT_METRIC]
    fr = [n for n, c in cfg.items() if c.get("metric_mode") == "FR"] if has_ref else []
    return [MSPT_METRIC] + nr + fr


def _short_reason(err: BaseException, captured: str) -> str:
    """One line: what failed, and the URL pyiqa tried when it was a download."""
    msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
    urls = _DOWNLOAD_RE.findall(captured)
    if type(err).__name__ in _HUB_MISSING:
        return "weights not available offline: Hugging Face hub file not in the local cache"
    if urls or "connect" in msg.lower() or "Name or service" in msg or "cache" in msg.lower():
        where = f" ({urls[-1]})" if urls else ""
        return f"weights not available offline{where}: {type(err).__name__}: {msg[:100]}"
    return f"{type(err).__name__}: {msg[:200]}"


def load_metric(
    name: str,
    has_ref: bool,
    device: str = "cpu",
    mspt_weights: Optional[Path] = None,
    params_cache: Optional[Path] = None,
    explicit: bool = False,
) -> LoadedMetric:
    """Create pyiqa metric ``name`` or explain why not.

    ``explicit``: the user named the metric, so :data:`DEFAULT_EXCLUDED` does not apply.
    ``mspt_weights`` goes to ``mspt_face`` as ``pretrained_model_path``. NIQE / BRISQUE
    fall back to parameters converted from registry packages when pyiqa's download fails.
    """
    import pyiqa

    cfg = pyiqa_configs().get(name)
    if cfg is None:
        return LoadedMetric(name, "cannot load", "unknown metric name (not in pyiqa's DEFAULT_CONFIGS)")
    out = LoadedMetric(name, "ok", mode=cfg.get("metric_mode", "NR"), lower_better=bool(cfg.get("lower_better", False)))
    if not explicit and name in DEFAULT_EXCLUDED:
        out.status, out.reason = "excluded", DEFAULT_EXCLUDED[name]
        return out
    if out.mode == "FR" and not has_ref:
        out.status, out.reason = "not applicable", "FR metric: dataset has no reference images"
        return out
    kwargs: Dict[str, Any] = {}
    if name == MSPT_METRIC:  # benchmark images are face crops: score them as they are, like the TOPIQ face metrics
        kwargs["align_crop_face"] = False
    if name == MSPT_METRIC and mspt_weights is not None:
        kwargs["pretrained_model_path"] = str(mspt_weights)
        out.params_source = f"checkpoint {mspt_weights}"
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):  # pyiqa prints 'Downloading: "url"'
            out.metric = pyiqa.create_metric(name, device=device, as_loss=False, **kwargs)
        return out
    except BaseException as err:  # noqa: BLE001 - any failure becomes a reported reason
        if isinstance(err, KeyboardInterrupt):
            raise
        first_error = _short_reason(err, captured.getvalue())
    if name in CONVERTED_PARAMS:
        from mspt_pyiqa.bench import classic_params

        key = CONVERTED_PARAMS[name]
        try:
            path = classic_params.PARAM_BUILDERS[key](params_cache)
            out.metric = pyiqa.create_metric(name, device=device, pretrained_model_path=str(path))
            out.params_source = PARAMS_SOURCE[key]
            logger.info("%s: pyiqa download failed, using %s", name, out.params_source)
            return out
        except Exception as err:  # noqa: BLE001
            first_error += f"; converted parameters failed too: {type(err).__name__}: {err}"
    out.status, out.reason = "cannot load", first_error
    logger.info("%s: cannot load: %s", name, first_error)
    return out
