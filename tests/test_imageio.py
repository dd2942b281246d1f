"""Robust image loading: every bad or unusual input kind gets the right status or conversion."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mspt_pyiqa.imageio import ImageLoadError, load_image


def _face_like(h: int = 64, w: int = 48) -> np.ndarray:
    """Smooth RGB gradient (JPEG-friendly), uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 128)], -1).astype(np.uint8)


def _status(path: Path, **kw) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kw)
    assert str(path) in info.value.message  # the message names the file
    return info.value.status


def test_missing_file(tmp_path: Path) -> None:
    assert _status(tmp_path / "nope.jpg") == "not_found"


def test_non_image_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("this is not a picture\n" * 20)
    assert _status(p) == "not_image"


def test_random_bytes_with_jpeg_extension(tmp_path: Path) -> None:
    p = tmp_path / "garbage.jpg"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert _status(p) == "not_image"


def test_truncated_jpeg(tmp_path: Path) -> None:
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(full, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert _status(cut) == "corrupt"


def test_truncated_png(tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(full)
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert _status(cut) == "corrupt"


def test_cmyk_jpeg_converted(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(_face_like()).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    img = load_image(p)
    assert img.rgb.shape == (64, 48, 3) and img.rgb.dtype == np.uint8
    assert np.abs(img.rgb.astype(int) - _face_like().astype(int)).mean() < 12
    assert any("CMYK" in n for n in img.notes)


def test_palette_png_and_transparent_palette(tmp_path: Path) -> None:
    p = tmp_path / "pal.png"
    Image.fromarray(_face_like()).convert("P", palette=Image.ADAPTIVE, colors=64).save(p)
    img = load_image(p)
    assert img.rgb.shape == (64, 48, 3)
    assert np.abs(img.rgb.astype(int) - _face_like().astype(int)).mean() < 12
    # Palette with a transparent index: that colour becomes white.
    q = tmp_path / "pal_t.png"
    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([10, 20, 30] + [200, 0, 0] * 255)
    pal.paste(1, (0, 0, 20, 40))
    pal.save(q, transparency=0)
    out = load_image(q).rgb
    assert (out[:, 25:] == 255).all() and (out[:, :20] == [200, 0, 0]).all()


def test_16bit_grayscale_png_scaled(tmp_path: Path) -> None:
    p = tmp_path / "g16.png"
    arr = np.zeros((40, 40), np.uint16)
    arr[:, :20] = 65535
    arr[:, 20:] = 32896  # 128 * 257
    assert cv2.imwrite(str(p), arr)
    img = load_image(p)
    assert img.rgb.shape == (40, 40, 3)
    assert (img.rgb[:, :20] == 255).all() and (img.rgb[:, 20:] == 128).all()


def test_16bit_rgb_png(tmp_path: Path) -> None:
    p = tmp_path / "rgb16.png"
    rgb8 = _face_like()
    assert cv2.imwrite(str(p), cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    img = load_image(p)
    assert np.abs(img.rgb.astype(int) - rgb8.astype(int)).max() <= 1


def test_grayscale_repeated(tmp_path: Path) -> None:
    p = tmp_path / "gray.png"
    Image.fromarray(_face_like()[:, :, 0]).save(p)
    img = load_image(p)
    assert img.rgb.shape == (64, 48, 3)
    assert (img.rgb[..., 0] == img.rgb[..., 1]).all() and (img.rgb[..., 1] == img.rgb[..., 2]).all()


def test_rgba_composited_on_white(tmp_path: Path) -> None:
    p = tmp_path / "rgba.png"
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (0, 0, 255)
    rgba[:, :20, 3] = 255  # opaque blue left half
    rgba[:, 20:, 3] = 0  # transparent right half
    Image.fromarray(rgba, "RGBA").save(p)
    img = load_image(p)
    assert (img.rgb[:, :20] == (0, 0, 255)).all()
    assert (img.rgb[:, 20:] == 255).all()
    assert "alpha composited on white" in img.notes


def test_exif_orientation_applied(tmp_path: Path) -> None:
    p = tmp_path / "rot.jpg"
    arr = np.zeros((40, 80, 3), np.uint8)  # landscape as stored
    arr[:, :20] = 255  # white band on the stored left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(arr).save(p, exif=exif, quality=95)
    img = load_image(p)
    assert img.rgb.shape[:2] == (80, 40)  # displayed upright: portrait
    assert img.rgb[:20].mean() > 200 and img.rgb[40:].mean() < 50  # stored left -> displayed top
    assert any("orientation 6" in n for n in img.notes)


def test_tiny_image_refused(tmp_path: Path) -> None:
    p = tmp_path / "tiny.png"
    Image.fromarray(_face_like(20, 31)).save(p)
    assert _status(p) == "too_small"
    assert load_image(p, min_side=16).rgb.shape == (20, 31, 3)


def test_huge_image_decoded_and_reduced(tmp_path: Path) -> None:
    p = tmp_path / "huge.jpg"
    Image.fromarray(_face_like(400, 8400)).save(p, quality=80)
    full = load_image(p)
    assert full.rgb.shape == (400, 8400, 3)
    small = load_image(p, max_side=2100)
    assert max(small.rgb.shape[:2]) == 2100 and small.source_size == (8400, 400)
    assert any("reduced from 8400x400" in n for n in small.notes)


def _png_with_header_size(src: Path, dst: Path, width: int, height: int) -> None:
    """Copy a PNG, rewriting IHDR width/height (and its CRC): a decompression bomb header."""
    data = bytearray(src.read_bytes())
    ihdr = data[12:29]  # b'IHDR' + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    dst.write_bytes(bytes(data))


def test_decompression_bomb_refused_without_decoding(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(_face_like()).save(small)
    for w, h, name in ((60000, 60000, "bomb_pil.png"), (13000, 12000, "bomb_ours.png")):
        bomb = tmp_path / name
        _png_with_header_size(small, bomb, w, h)
        assert _status(bomb) == "too_large"


def test_truncated_file_is_corrupt_even_after_pyiqa_relaxed_pillow(tmp_path) -> None:
    """pyiqa's AVA dataset module sets Pillow's LOAD_TRUNCATED_IMAGES globally on import."""
    import io

    import numpy as np
    import pytest
    from PIL import Image, ImageFile

    import pyiqa.data.ava_dataset  # noqa: F401  (the side effect under test)
    from mspt_pyiqa.imageio import ImageLoadError, load_image

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(buf, "JPEG")
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError) as err:
        load_image(bad)
    assert err.value.status == "corrupt" and "cut.jpg" in str(err.value)
