"""``mspt-face score`` end to end: bad inputs, faces in the wild, resume, workers, exit codes."""
from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np
import pytest
from PIL import Image

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.scoring.writer import read_results

REPO = Path(__file__).resolve().parent.parent


def score(out: Path, *args: str) -> Tuple[int, List[dict]]:
    code = main(["score", *map(str, args), "-o", str(out), "--no-progress", "--table-rows", "0"])
    return code, (read_results(out) if out.exists() else [])


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory, face_paths: List[Path]) -> Path:
    """One real face photo saved in every awkward form, plus broken files."""
    d = tmp_path_factory.mktemp("inputs")
    face = Image.open(face_paths[2]).convert("RGB")  # CelebA-HQ 512x512
    face.convert("CMYK").save(d / "cmyk.jpg", quality=92)
    face.convert("P", palette=Image.ADAPTIVE).save(d / "palette.png")
    rgb16 = cv2.cvtColor(np.asarray(face), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    cv2.imwrite(str(d / "rgb16.png"), rgb16)
    cv2.imwrite(str(d / "gray16.png"), cv2.cvtColor(rgb16, cv2.COLOR_BGR2GRAY))
    face.convert("L").save(d / "gray.jpg", quality=92)
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(face.size))
    rgba.save(d / "rgba.png")
    exif = Image.Exif()
    exif[0x0112] = 8
    face.rotate(-90, expand=True).save(d / "exif_rotated.jpg", exif=exif, quality=92)
    face.resize((24, 24)).save(d / "tiny.png")
    Image.fromarray(np.tile(np.asarray(face.resize((256, 256))), (1, 33, 1))).save(d / "huge_8448px.jpg", quality=80)
    full = d / "tmp_full.jpg"
    face.save(full, quality=95)
    (d / "truncated.jpg").write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    full.unlink()
    (d / "not_an_image.jpg").write_text("hello, I am text\n" * 50)
    small = d / "tmp_small.png"
    face.resize((64, 64)).save(small)
    data = bytearray(small.read_bytes())  # decompression bomb: IHDR claims 50000 x 50000
    data[16:24] = struct.pack(">II", 50000, 50000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    (d / "bomb.png").write_bytes(bytes(data))
    small.unlink()
    return d


EXPECTED = {
    "cmyk.jpg": "ok", "palette.png": "ok", "rgb16.png": "ok", "gray16.png": "ok", "gray.jpg": "ok",
    "rgba.png": "ok", "exif_rotated.jpg": "ok", "huge_8448px.jpg": "ok", "tiny.png": "too_small",
    "truncated.jpg": "corrupt", "not_an_image.jpg": "not_image", "bomb.png": "too_large",
}


def test_every_bad_input_gets_a_status_and_the_run_continues(tmp_path: Path, bad_dir: Path, tiny_checkpoint: Path) -> None:
    code, rows = score(tmp_path / "s.csv", bad_dir, tmp_path / "missing.jpg", "--weights", tiny_checkpoint, "--workers", "0",
                       "--faces", "crop")  # the 8448 px strip of 33 small faces is about decoding, not detection
    assert code == 0
    by_name = {Path(r["path"]).name: r for r in rows}
    assert {k: by_name[k]["status"] for k in EXPECTED} == EXPECTED
    assert by_name["missing.jpg"]["status"] == "not_found"
    for name, status in EXPECTED.items():
        r = by_name[name]
        if status == "ok":
            assert r["score"] is not None and np.isfinite(r["score"]) and r["face"] == 0
        else:
            assert r["score"] is None and name in r["message"]
    assert by_name["exif_rotated.jpg"]["box"] == "0,0,512,512"  # upright size
    assert by_name["huge_8448px.jpg"]["box"] == "0,0,8448,256"
    assert "alpha composited on white" in by_name["rgba.png"]["message"]
    # --strict turns any failure into exit 3; only failures -> exit 1.
    assert score(tmp_path / "s2.csv", bad_dir, "--weights", tiny_checkpoint, "--workers", "0", "--strict")[0] == 3
    only_bad = [bad_dir / n for n, s in EXPECTED.items() if s != "ok"]
    assert score(tmp_path / "s3.csv", *only_bad, "--weights", tiny_checkpoint, "--workers", "0")[0] == 1


def test_exif_rotated_copy_scores_like_the_upright_photo(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    face = Image.open(face_paths[2]).convert("RGB")
    face.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down, displayed upright
    face.rotate(180).save(tmp_path / "stored_flipped.png", exif=exif)
    code, rows = score(tmp_path / "s.csv", tmp_path / "upright.png", tmp_path / "stored_flipped.png", "--weights", tiny_checkpoint, "--workers", "0")
    assert code == 0 and rows[0]["score"] == pytest.approx(rows[1]["score"], abs=1e-6)


def test_detect_no_face_and_two_faces(tmp_path: Path, face_paths: List[Path], yunet: str, tiny_checkpoint: Path) -> None:
    a = cv2.imread(str(face_paths[2]))  # CelebA-HQ 512
    b = cv2.resize(cv2.imread(str(face_paths[0])), (512, 512))  # SCUT 350 -> 512
    cv2.imwrite(str(tmp_path / "two_faces.jpg"), np.concatenate([a, b], axis=1))
    cv2.imwrite(str(tmp_path / "wall.jpg"), np.full((300, 400, 3), (90, 120, 150), np.uint8))
    code, rows = score(tmp_path / "s.csv", tmp_path / "two_faces.jpg", tmp_path / "wall.jpg", face_paths[2],
                       "--weights", tiny_checkpoint, "--detect", "--detector-model", yunet, "--workers", "0")
    assert code == 0
    two = [r for r in rows if r["path"].endswith("two_faces.jpg")]
    assert [r["face"] for r in two] == [0, 1] and all(r["status"] == "ok" for r in two)
    centres = sorted(int(r["box"].split(",")[0]) + int(r["box"].split(",")[2]) // 2 for r in two)
    assert centres[0] < 512 < centres[1]
    wall = [r for r in rows if r["path"].endswith("wall.jpg")]
    assert len(wall) == 1 and wall[0]["status"] == "no_face" and wall[0]["score"] is None and wall[0]["face"] is None
    # The left face of the pair is the CelebA-HQ photo: found at the same place as alone
    # (detection runs at 640 px on the 1024 px pair, so within a few pixels).
    single = [r for r in rows if r["path"] == str(face_paths[2])][0]
    left = min(two, key=lambda r: int(r["box"].split(",")[0]))
    assert np.abs(np.array(left["box"].split(","), int) - np.array(single["box"].split(","), int)).max() <= 30  # ~8 % of a 360 px box
    assert two[0]["score"] != two[1]["score"]
    # Nothing but a wall: nothing scored -> exit 1, and the no_face row is still written.
    code, rows = score(tmp_path / "w.csv", tmp_path / "wall.jpg", "--weights", tiny_checkpoint, "--detect", "--detector-model", yunet, "--workers", "0")
    assert code == 1 and rows[0]["status"] == "no_face"


@pytest.mark.slow  # starts a forkserver (one import of torch): ~5 s idle, ~30 s on a busy machine
def test_worker_processes_and_json_match_in_process(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    code0, rows0 = score(tmp_path / "a.csv", *face_paths, "--weights", tiny_checkpoint, "--workers", "0", "--batch-size", "1")
    code2, rows2 = score(tmp_path / "b.json", *face_paths, "--weights", tiny_checkpoint, "--workers", "2", "--batch-size", "3")
    assert code0 == code2 == 0
    assert [r["path"] for r in rows0] == [r["path"] for r in rows2] == [str(p) for p in face_paths]
    assert np.allclose([r["score"] for r in rows0], [r["score"] for r in rows2], atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_resume_skips_scored_files_and_retries_failures(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    late = tmp_path / "late.jpg"  # missing in the first run, present in the second
    out = tmp_path / "s.csv"
    code, rows = score(out, face_paths[0], face_paths[1], late, "--weights", tiny_checkpoint, "--workers", "0")
    assert code == 0 and [r["status"] for r in rows] == ["ok", "ok", "not_found"]
    # Mark the first file's row: a resumed run must keep it, not score it again.
    text = out.read_text().splitlines()
    text[1] = text[1].replace(f"{rows[0]['score']:.6f}", "123.000000")
    out.write_text("\n".join(text) + "\n")
    shutil.copy(face_paths[3], late)
    code, rows = score(out, face_paths[0], face_paths[1], late, face_paths[2], "--weights", tiny_checkpoint, "--workers", "0", "--resume")
    assert code == 0
    by = {r["path"]: r for r in rows}
    assert len(rows) == 4 and by[str(face_paths[0])]["score"] == 123.0
    assert by[str(late)]["status"] == "ok" and by[str(face_paths[2])]["status"] == "ok"
    # Without --resume everything is scored again.
    code, rows = score(out, face_paths[0], "--weights", tiny_checkpoint, "--workers", "0")
    assert rows[0]["score"] != 123.0 and len(rows) == 1


def test_usage_errors(tmp_path: Path, face_paths: List[Path], tiny_checkpoint: Path) -> None:
    assert main(["score", "-o", str(tmp_path / "x.csv")]) == 2  # no paths
    assert main(["score", str(face_paths[0]), "-o", str(tmp_path / "x.txt"), "--weights", str(tiny_checkpoint)]) == 2
    assert main(["score", str(face_paths[0]), "-o", str(tmp_path / "x.csv"), "--shard", "3/2", "--weights", str(tiny_checkpoint)]) == 2
    bad_ckpt = tmp_path / "bad.pth"
    bad_ckpt.write_bytes(b"not a checkpoint")
    assert main(["score", str(face_paths[0]), "-o", str(tmp_path / "x.csv"), "--weights", str(bad_ckpt)]) == 2
    assert not (tmp_path / "x.csv").exists()
