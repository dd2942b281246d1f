"""corpus.typical: saturation and colour cast away from the typical good photo (sampler option)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_pyiqa.corpus.sampler import DegradationSampler
from mspt_pyiqa.corpus.typical import TypicalReference, balance, balance_phase, chroma, measure
from mspt_pyiqa.degrade import apply, apply_with_parts
from mspt_pyiqa.degrade.photometric import colour_cast, saturation

#: Measured on 600 train photos of celebahq and scut (mspt_face_v23.yml): warm skin, R > G > B.
REF = {"chroma": 0.05879, "balance": [0.27232, -0.0535, -0.21882]}


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """The astronaut's face (skimage, public domain) at 96 x 96 px, RGB uint8."""
    from skimage import data

    return cv2.resize(data.astronaut()[20:240, 140:360], (96, 96), interpolation=cv2.INTER_AREA)


def _faces(face: np.ndarray) -> list:
    """The face made pale, as is, and vivid; warmed, and cooled: both sides of the reference."""
    out = [saturation(face, s, None, direction=d) for s, d in ((0.6, "desat"), (0.2, "desat"), (0.3, "oversat"))]
    out += [face, colour_cast(face, 0.5, None, theta=0.0), colour_cast(face, 0.5, None, theta=np.pi)]
    return out


def test_statistics_of_grey_and_neutral_images() -> None:
    grey = np.full((16, 16, 3), 128, np.uint8)
    assert chroma(grey) == 0.0
    assert np.allclose(balance(grey), 0.0, atol=1e-6)
    red = grey.copy()
    red[..., 0] = 200
    assert chroma(red) > 0.05
    assert balance(red)[0] > 0 > balance(red)[2]
    assert abs(balance_phase(balance(red))) < 0.2  # the red channel's phase on the cast circle is 0


def test_cast_phase_matches_colour_cast_gains(face: np.ndarray) -> None:
    """The balance shift of a cast at hue theta points at theta (clipping aside)."""
    for theta in (0.3, 2.0, 4.0):
        shift = balance(colour_cast(face, 0.3, None, theta=theta)) - balance(face)
        assert np.cos(balance_phase(shift) - theta) > 0.95


def test_fixed_params_reproduce_the_random_choice(face: np.ndarray) -> None:
    """direction / theta given explicitly gives the image the random draw would have given."""
    rng = np.random.default_rng(3)
    u = np.random.default_rng(3).random()
    direction = "desat" if u < 0.5 else "oversat"
    assert np.array_equal(saturation(face, 0.4, rng), saturation(face, 0.4, None, direction=direction))
    theta = float(np.random.default_rng(5).uniform(0.0, 2.0 * np.pi))
    assert np.array_equal(colour_cast(face, 0.4, np.random.default_rng(5)), colour_cast(face, 0.4, None, theta=theta))


def test_bad_params_are_clear_errors(face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="saturation direction"):
        apply(face, "saturation", 0.3, rng, direction="sideways")
    with pytest.raises(ValueError, match="'jpeg' takes no parameter"):
        apply_with_parts(face, "jpeg", 0.3, rng, theta=1.0)
    with pytest.raises(ValueError, match="'chain' takes no fixed parameters"):
        apply_with_parts(face, "chain", 0.3, rng, theta=1.0)
    with pytest.raises(ValueError, match="away_from_typical needs"):
        TypicalReference.from_config({"chroma": 0.05})
    with pytest.raises(ValueError, match="chroma > 0 and 3 balance"):
        TypicalReference.from_config({"chroma": 0.05, "balance": [0.1, -0.1]})
    with pytest.raises(ValueError, match="no images"):
        measure([])


def test_reference_is_median_chroma_and_mean_balance(face: np.ndarray) -> None:
    faces = _faces(face)
    ref = measure(faces)
    assert ref.chroma == pytest.approx(float(np.median([chroma(f) for f in faces])))
    assert np.allclose(ref.balance, np.mean([balance(f) for f in faces], 0))
    assert TypicalReference.from_config(ref.as_config()).chroma == pytest.approx(ref.chroma, abs=1e-5)


@pytest.mark.parametrize("kind", ["saturation", "colour_cast"])
def test_sampler_moves_every_photo_away_from_typical(face: np.ndarray, kind: str) -> None:
    """With away_from_typical no photo gets closer to the reference, at any severity or seed;
    at random about half of them do (the label noise the option removes)."""
    typical = DegradationSampler({"kinds": [kind], "away_from_typical": REF})
    random = DegradationSampler({"kinds": [kind]})
    ref = TypicalReference.from_config(REF)

    def distance(img: np.ndarray) -> float:
        if kind == "saturation":
            return abs(chroma(img) - ref.chroma)
        return float(np.linalg.norm(balance(img) - np.asarray(ref.balance)))

    toward = {"typical": 0, "random": 0}
    n = 0
    for img in _faces(face):
        for seed in range(6):
            for sev in (0.1, 0.45):
                for name, smp in (("typical", typical), ("random", random)):
                    out, label, info = smp.degrade(img, kind, sev, np.random.default_rng(seed))
                    toward[name] += distance(out) < distance(img) - 1e-4
                    assert info["degradation"] == kind and 0.0 < label < 1.0
                n += 1
    assert toward["typical"] == 0
    assert toward["random"] >= n // 5


def test_sampler_without_option_is_unchanged(face: np.ndarray) -> None:
    """Published pools are rebuilt unchanged: without the option the sampler applies the
    library's own random draw; with it, every other kind's image is the same."""
    plain = DegradationSampler({"kinds": ["saturation", "jpeg", "gaussian_noise"]})
    typical = DegradationSampler({"kinds": ["saturation", "jpeg", "gaussian_noise"], "away_from_typical": REF})
    for kind in ("saturation", "jpeg", "gaussian_noise"):
        out = plain.degrade(face, kind, 0.4, np.random.default_rng(7))[0]
        assert np.array_equal(out, apply(face, kind, 0.4, np.random.default_rng(7)))
        if kind != "saturation":
            assert np.array_equal(out, typical.degrade(face, kind, 0.4, np.random.default_rng(7))[0])


def test_sampler_rejects_bad_reference() -> None:
    with pytest.raises(ValueError, match="away_from_typical"):
        DegradationSampler({"kinds": ["saturation"], "away_from_typical": {"chroma": "pale"}})
