"""The README's screenshot: ``mspt-face report`` of the scikit-image demo faces, in headless Chromium.

    python eval/report_screenshot.py --out docs/report_demo.png

Writes the demo faces (:func:`mspt_pyiqa.demo.example_faces`: the astronaut's face, blurred,
noisy and JPEG versions), scores them with the shipped weights into a report page, opens it
in headless Chromium (offline, every request checked to stay on file:/data:) and saves a
screenshot of the whole page, reduced to a 256-colour PNG.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "report_demo.png")
    ap.add_argument("--width", type=int, default=1000)
    args = ap.parse_args(argv)

    from PIL import Image

    from mspt_pyiqa.cli.main import main as cli
    from mspt_pyiqa.compare.browser import open_page, unavailable_reason
    from mspt_pyiqa.demo import example_faces
    from mspt_pyiqa.utils.io import atomic_write_bytes

    reason = unavailable_reason()
    if reason:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mspt_report_demo_") as tmp:
        faces = Path(tmp) / "demo_faces"
        example_faces(faces)
        page = Path(tmp) / "report.html"
        assert cli(["report", str(faces), "-o", str(page), "--title", "mspt-face report: scikit-image demo faces",
                    "--workers", "0", "--no-progress", "--faces", "crop"]) == 0  # the demo's face crops
        with open_page(page, width=args.width, height=700) as (p, requests, errors):
            assert not errors, errors
            bad = [u for u in requests if not u.startswith(("file:", "data:"))]
            assert not bad, bad
            png = p.screenshot(full_page=True)
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"{args.out}: {img.width}x{img.height}, {len(buf.getvalue()) / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
