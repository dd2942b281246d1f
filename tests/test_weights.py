"""Weights catalog and resolution: order, sha256 checks, atomic download, clear errors."""
from __future__ import annotations

import dataclasses

from pathlib import Path

import pyiqa
import pytest
import torch

import mspt_pyiqa  # noqa: F401  (registers mspt_face)
from mspt_pyiqa import weights as W
from mspt_pyiqa.archs import MSPTNet


def _entry(tmp_path: Path, ckpt: Path, **kw) -> W.WeightsEntry:
    fields = dict(
        name="test_release", file="mspt_test.pth", sha256=W.sha256_file(ckpt), input_size=128,
        backbone="mobilenetv3_small_100", training_data="random", license="MIT", date="2026-11-29",
    )
    fields.update(kw)
    return W.WeightsEntry(**fields)


def test_catalog_entries_are_complete() -> None:
    catalog = W.load_catalog()
    default = W.default_entry_name()
    assert default is None or default in catalog
    for entry in catalog.values():
        assert len(entry.sha256) == 64
        # Sizes MSPT runs at (multiples of the backbone's stride 32, at most the paper's 448 px + one step).
        assert 160 <= entry.input_size <= 512 and entry.input_size % 32 == 0, entry
        assert entry.detail_size is None or (160 <= entry.detail_size <= 512 and entry.detail_size % 32 == 0), entry
        assert entry.license and entry.training_data and entry.date
        assert (W.package_weights_dir() / entry.file).is_file(), f"{entry.file} listed but not shipped"
        assert W.sha256_file(W.package_weights_dir() / entry.file) == entry.sha256


def test_default_metric_loads_release_or_says_none() -> None:
    default = W.default_entry_name()
    if default is None:
        with pytest.raises(W.WeightsError, match="no released weights"):
            pyiqa.create_metric("mspt_face", device="cpu")
    else:
        metric = pyiqa.create_metric("mspt_face", device="cpu")
        entry = W.load_catalog()[default]
        assert metric.net.test_img_size == entry.input_size
        assert metric.net.detail_size == entry.detail_size  # the release's detail view travels with it


def test_resolution_order(tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry(tmp_path, tiny_checkpoint)
    env_dir, pkg_dir, cache = tmp_path / "env", tmp_path / "pkg", tmp_path / "cache"
    for d in (env_dir, pkg_dir, cache):
        d.mkdir()
        (d / entry.file).write_bytes(tiny_checkpoint.read_bytes())
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(env_dir))
    assert W.resolve_weights(entry, weights_dir=pkg_dir, cache_dir=cache) == env_dir / entry.file
    monkeypatch.delenv(W.WEIGHTS_DIR_ENV)
    assert W.resolve_weights(entry, weights_dir=pkg_dir, cache_dir=cache) == pkg_dir / entry.file
    (pkg_dir / entry.file).unlink()
    assert W.resolve_weights(entry, weights_dir=pkg_dir, cache_dir=cache) == cache / entry.file


def test_download_into_cache_is_checked_and_atomic(tmp_path: Path, tiny_checkpoint: Path) -> None:
    entry = _entry(tmp_path, tiny_checkpoint, url=tiny_checkpoint.as_uri())
    cache = tmp_path / "cache"
    got = W.resolve_weights(entry, weights_dir=tmp_path / "empty", cache_dir=cache)
    assert got == cache / entry.file
    assert W.sha256_file(got) == entry.sha256
    assert sorted(p.name for p in cache.iterdir()) == [entry.file]  # no temp files left


def test_download_with_wrong_hash_saves_nothing(tmp_path: Path, tiny_checkpoint: Path) -> None:
    entry = _entry(tmp_path, tiny_checkpoint, url=tiny_checkpoint.as_uri(), sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(W.WeightsError, match="expected 0{64}"):
        W.resolve_weights(entry, weights_dir=tmp_path / "empty", cache_dir=cache)
    assert not any(cache.iterdir())


def test_missing_weights_error_names_file_hash_and_remedy(tmp_path: Path, tiny_checkpoint: Path) -> None:
    entry = _entry(tmp_path, tiny_checkpoint, url=(tmp_path / "nowhere.pth").as_uri())
    with pytest.raises(W.WeightsError) as err:
        W.resolve_weights(entry, weights_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    msg = str(err.value)
    assert entry.file in msg and entry.sha256 in msg
    assert "pretrained_model_path" in msg and W.WEIGHTS_DIR_ENV in msg


def test_corrupt_local_file_is_rejected(tmp_path: Path, tiny_checkpoint: Path) -> None:
    entry = _entry(tmp_path, tiny_checkpoint)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    data = bytearray(tiny_checkpoint.read_bytes())
    data[1000] ^= 0xFF
    (pkg / entry.file).write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match=f"{entry.file}.*corrupt.*expected {entry.sha256}"):
        W.resolve_weights(entry, weights_dir=pkg, cache_dir=tmp_path / "cache", download=False)


def test_metric_uses_catalog_entry(tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """create_metric(weights_name=...) goes through catalog -> resolution -> sha256 -> load."""
    entry = _entry(tmp_path, tiny_checkpoint)
    monkeypatch.setattr(W, "load_catalog", lambda path=None: {entry.name: entry})
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(tiny_checkpoint.parent))
    (tiny_checkpoint.parent / entry.file).write_bytes(tiny_checkpoint.read_bytes())
    metric = pyiqa.create_metric("mspt_face", device="cpu", weights_name=entry.name, test_img_size=128)
    ref = MSPTNet(pretrained=False, test_img_size=128)
    ref.load_state_dict(W.read_checkpoint(tiny_checkpoint))
    x = torch.rand(1, 3, 128, 128)
    assert torch.equal(metric(x), ref.eval()(x))
    # the same catalog entry with a wrong hash fails loudly
    bad = dataclasses.replace(entry, sha256="f" * 64)
    monkeypatch.setattr(W, "load_catalog", lambda path=None: {bad.name: bad})
    with pytest.raises(W.WeightsError, match="f{64}"):
        pyiqa.create_metric("mspt_face", device="cpu", weights_name=bad.name, test_img_size=128)


def test_unreadable_checkpoint_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(W.WeightsError, match="broken.pth"):
        pyiqa.create_metric("mspt_face", device="cpu", pretrained_model_path=str(bad))


def test_save_checkpoint_is_atomic_and_roundtrips(tmp_path: Path) -> None:
    net = MSPTNet(pretrained=False, test_img_size=64)
    path = tmp_path / "out" / "ck.pth"
    digest = W.save_checkpoint(net, path, meta={"input_size": 64})
    assert digest == W.sha256_file(path)
    assert [p.name for p in path.parent.iterdir()] == ["ck.pth"]
    state = W.read_checkpoint(path)
    assert set(state) == set(net.state_dict())


def test_no_release_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before a first release (catalog default: null) create_metric says so and how to proceed."""
    monkeypatch.setattr(W, "default_entry_name", lambda path=None: None)
    with pytest.raises(W.WeightsError, match="no released weights.*pretrained_model_path"):
        pyiqa.create_metric("mspt_face", device="cpu", weights_name=None)


@pytest.mark.parametrize("size, says", [(None, "own size (test_img_size=None, no resize)"), (336, "scoring at 336 px")])
def test_size_mismatch_warning_says_what_scoring_does(size, says, caplog: pytest.LogCaptureFixture) -> None:
    default = W.default_entry_name()
    if default is None:
        pytest.skip("no release in the catalog")
    net = MSPTNet(pretrained=False, test_img_size=size)
    with caplog.at_level("WARNING", logger="mspt_pyiqa.weights"):
        W.load_mspt_weights(net, default)
    text = caplog.text
    assert f"trained at {W.load_catalog()[default].input_size} px" in text and says in text
    assert "None px" not in text
