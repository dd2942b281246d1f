"""Photometric degradations that move a photo *away* from the typical good photo.

The corpus draws the direction of a saturation change (to grey or oversaturated) and the hue
of a colour cast at random. A no-reference score cannot compare with the original: it judges
how typical the image's chroma and colour balance are among good photos. Half of the random
directions move a photo *towards* the typical one (a pale portrait made more colourful, a
warm photo cooled), and ``research/eval/level_visibility.py`` measured that the models fail the mild
levels of those ladders about half of the time against about one in ten of the others: the
label says "worse", the image gives no sign of it, and it may even look better.

With ``away_from_typical`` in a sampler config (:class:`TypicalReference`), the sampler
chooses the direction from the clean photo instead:

* saturation: to grey if the photo's chroma is below the reference chroma, else oversaturated;
* colour cast: the hue ``theta`` is still drawn uniformly, then turned by 180 degrees if its
  gains would push the photo's colour balance towards the reference balance, so the cast
  strengthens the photo's own departure from neutral (a random hue within +-90 degrees of it).

The reference values come from good photos (``python -m research.typical_reference --config
RELEASE.yml`` measures them on train-split photos of the clean sets) and are stored in the
config, so a pool is reproducible from the config alone.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Sequence

import numpy as np

from mspt_pyiqa.degrade.photometric import LUMA

logger = logging.getLogger(__name__)

#: Phases of the R, G, B channels on the colour-cast hue circle (``degrade.photometric.colour_cast``).
CHANNEL_PHASES = np.array([0.0, 2.0, 4.0]) * np.pi / 3.0


def chroma(img: np.ndarray) -> float:
    """Mean distance of a pixel from its luma grey, RGB uint8 ``(H, W, 3)``; 0 for a grey image,
    about 0.02-0.12 for colour face photos."""
    x = img.astype(np.float32) / 255.0
    return float(np.abs(x - (x @ LUMA)[..., None]).mean())


def balance(img: np.ndarray) -> np.ndarray:
    """``(3,)`` colour balance of an RGB uint8 image: log of each channel's mean linear light
    (sRGB as gamma 2.2, as ``colour_cast``) minus their mean; 0 for a neutral grey image."""
    lin = (img.astype(np.float32) / 255.0) ** 2.2
    logs = np.log(lin.reshape(-1, 3).mean(0).astype(np.float64) + 1e-4)
    return logs - logs.mean()


def balance_phase(v: np.ndarray) -> float:
    """Hue angle (radians) of a ``(3,)`` channel vector on the cast hue circle: the ``theta``
    whose gains ``cos(theta - phase_k)`` best match ``v``."""
    return float(np.arctan2(v @ np.sin(CHANNEL_PHASES), v @ np.cos(CHANNEL_PHASES)))


@dataclass(frozen=True)
class TypicalReference:
    """The typical good photo's ``chroma`` (:func:`chroma`) and colour ``balance`` (``(3,)``,
    :func:`balance`); from a sampler config's ``away_from_typical: {chroma: c, balance: [r, g, b]}``."""

    chroma: float
    balance: tuple

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "TypicalReference":
        try:
            c, bal = float(cfg["chroma"]), tuple(float(v) for v in cfg["balance"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"away_from_typical needs {{chroma: float, balance: [r, g, b]}}, got {dict(cfg)!r}") from err
        if len(bal) != 3 or not c > 0:
            raise ValueError(f"away_from_typical: need chroma > 0 and 3 balance values, got {dict(cfg)!r}")
        return cls(c, bal)

    def saturation_direction(self, img: np.ndarray) -> str:
        """``"desat"`` for a photo less colourful than the typical one, else ``"oversat"``."""
        return "desat" if chroma(img) < self.chroma else "oversat"

    def cast_theta(self, img: np.ndarray, theta: float) -> float:
        """``theta``, or ``theta + pi`` if ``theta``'s cast would move ``img``'s colour balance
        towards the typical one (a cast within +-90 degrees of the photo's own departure)."""
        away = balance_phase(balance(img) - np.asarray(self.balance))
        return float(theta if np.cos(theta - away) >= 0.0 else (theta + np.pi) % (2.0 * np.pi))

    def as_config(self) -> Dict[str, Any]:
        return {"chroma": round(self.chroma, 5), "balance": [round(float(v), 5) for v in self.balance]}


def measure(images: Sequence[np.ndarray]) -> TypicalReference:
    """The reference of good photos: median chroma and mean colour balance of ``images``."""
    if not len(images):
        raise ValueError("no images to measure a typical reference on")
    return TypicalReference(float(np.median([chroma(i) for i in images])),
                            tuple(np.mean([balance(i) for i in images], axis=0).tolist()))
