"""research/eval/ladder_failures.py: where a ladder's order fails, on a hand-made pool with known scores."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mspt_pyiqa.degrade.photometric import saturation
from research.release.pools import Pool


class _Fixed:
    """An rng stub whose ``random()`` picks the saturation direction (< 0.5: to grey)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def _pool() -> Pool:
    """Two photos: pristine + 3 saturation levels (photo a desaturated, photo b oversaturated)
    + 3 JPEG-like levels (noise-free copies: only the scores matter) + one no-op ladder."""
    rng = np.random.default_rng(0)
    images, kinds, sev, sids = [], [], [], []
    for sid, direction in (("a", 0.1), ("b", 0.9)):
        clean = (rng.random((8, 8, 3)) * 200 + 20).astype(np.uint8)
        images.append(clean), kinds.append("pristine"), sev.append(0.0), sids.append(sid)
        for s in (0.1, 0.4, 0.8):
            images.append(saturation(clean, s, _Fixed(direction))), kinds.append("saturation"), sev.append(s)
            sids.append(sid)
        for s in (0.1, 0.4, 0.8):
            images.append(np.clip(clean.astype(int) - int(40 * s), 0, 255).astype(np.uint8))
            kinds.append("jpeg"), sev.append(s), sids.append(sid)
        for s in (0.1, 0.4):  # the degradation did nothing: no order to get right, left out
            images.append(clean.copy()), kinds.append("colour_cast"), sev.append(s), sids.append(sid)
    n = len(images)
    return Pool(np.stack(images), np.linspace(1, 0, n).astype(np.float32), np.array(sids), np.array(kinds),
                np.array(sev, np.float32), 8)


def test_counts_by_position_and_saturation_direction(eval_script) -> None:
    mod = eval_script("ladder_failures")
    pool = _pool()
    #            a: pristine, sat 0.1/0.4/0.8,   jpeg 0.1/0.4/0.8,  cast x2
    pred = np.array([0.80, 0.85, 0.70, 0.60, 0.70, 0.75, 0.50, 0.9, 0.9,
                     # b: pristine below sat 0.1 and 0.4; jpeg fine
                     0.80, 0.90, 0.81, 0.30, 0.70, 0.60, 0.50, 0.1, 0.1])
    rows = {r["kind"]: r for r in mod.failure_rows(pred, pool, "m")}
    assert set(rows) == {"jpeg", "saturation", "saturation:desat", "saturation:oversat"}  # no-op cast left out
    sat = rows["saturation"]
    assert sat["ladders"] == 2 and sat["first_step_fail"] == 1.0 and sat["pristine_not_top"] == 1.0
    assert sat["levels_above_mean"] == 1.5 and sat["inner_swap"] == 0.0
    assert sat["excess_median"] == pytest.approx((0.05 + 0.10) / 2)
    assert rows["saturation:desat"]["levels_above_mean"] == 1 and rows["saturation:oversat"]["levels_above_mean"] == 2
    jpeg = rows["jpeg"]  # photo a: 0.70 < 0.75 swap among the degraded, pristine on top
    assert jpeg["first_step_fail"] == 0.0 and jpeg["pristine_not_top"] == 0.0 and jpeg["inner_swap"] == 0.5
    assert jpeg["excess_median"] == 0.0
    only = mod.failure_rows(pred, pool, "m", kinds=["jpeg"])
    assert [r["kind"] for r in only] == ["jpeg"]


def test_cli_scores_models_and_checks_its_inputs(eval_script, tmp_path: Path, capsys) -> None:
    mod = eval_script("ladder_failures")
    pool = _pool()
    path = tmp_path / "pool.npz"
    pool.save(path)
    scores = tmp_path / "s.npy"
    np.save(scores, -pool.severities)  # a perfect orderer: pristine always on top
    out = tmp_path / "rep"
    assert mod.main(["--pool", str(path), "--scores", f"ideal={scores}", "--kinds", "saturation",
                     "--out", str(out)]) == 0
    text = out.with_suffix(".md").read_text()
    assert "| ideal | saturation | 2 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 |" in text
    assert out.with_suffix(".csv").read_text().count("\n") == 4  # header + 3 saturation rows
    np.save(scores, np.zeros(3))
    with pytest.raises(SystemExit):
        mod.main(["--pool", str(path), "--scores", f"bad={scores}", "--out", str(out)])
    assert "3 scores for a pool of 18 rows" in capsys.readouterr().err
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not an array")
    with pytest.raises(SystemExit):
        mod.main(["--pool", str(path), "--scores", f"j={junk}", "--out", str(out)])
    assert f"--scores {junk}: cannot be read" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--pool", str(path), "--scores", f"x={scores}", "--kinds", "webp", "--out", str(out)])
    assert "['webp'] not in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--pool", str(tmp_path / "missing.npz"), "--scores", f"x={scores}"])
    assert "no such file" in capsys.readouterr().err


def test_model_specs_name_a_release_or_an_existing_checkpoint(tmp_path: Path) -> None:
    """The eval harnesses' ``--model``: a catalog release, or NAME=CHECKPOINT of a file that exists."""
    import torch

    from mspt_pyiqa.archs import MSPTNet
    from research.release.evaluate import load_net, model_spec_error
    from mspt_pyiqa.weights import load_catalog, save_checkpoint

    assert model_spec_error(next(iter(load_catalog()))) is None
    assert "neither a catalog release" in model_spec_error("mspt_face_v999")
    assert "'x=" in model_spec_error(f"x={tmp_path / 'missing.pth'}")
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).eval()
    ck = tmp_path / "net.pth"
    save_checkpoint(net, ck, meta={"stage": "test"})
    assert model_spec_error(f"mine={ck}") is None
    got = load_net(f"mine={ck}")
    assert not got.training
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(got(x), net(x))
    assert model_spec_error(f"mine={ck}@40+32") is None and "'x=" in model_spec_error(f"x={tmp_path / 'missing.pth'}@40")
    two = load_net(f"mine={ck}@40+32")
    assert (two.test_img_size, two.detail_size) == (40, 32)
    want = MSPTNet(pretrained=False, test_img_size=40, detail_size=32).eval()
    want.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(two(x), want(x))
    one = load_net(f"mine={ck}@40")
    assert (one.test_img_size, one.detail_size) == (40, None)
