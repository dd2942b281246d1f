"""The report page's HTML: self-contained, escaped, data block, histograms, thumbnails."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mspt_pyiqa.compare.html import CSP, ReportData, histogram_svg, html_table, render_page
from mspt_pyiqa.compare.thumbs import make_thumbnails


def _data(n: int = 5, methods=("a", "b")) -> ReportData:
    keys = [f"img_{i}.png" for i in range(n)]
    keys[0] = "</script><img src=x onerror=alert(1)>.png"
    scores = [[0.1 * i + 0.05 * m for i in range(n)] for m in range(len(methods))]
    scores[0][1] = None
    status = [["ok"] * n for _ in methods]
    status[0][1] = "corrupt"
    return ReportData("t & <b>", list(methods), keys, scores, status, [[""] * n for _ in methods],
                      [[None] * n for _ in methods])


def _block(text: str) -> dict:
    m = re.search(r"<script type='application/json' id='data'>(.*?)</script>", text, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_escaped():
    text = render_page(_data())
    assert CSP in text and "default-src 'none'" in text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text)  # nothing from a network
    assert "t &amp; &lt;b&gt;" in text  # title escaped
    assert text.count("</script>") == 2  # the key's </script> cannot close the data block
    data = _block(text)
    assert data["keys"][0].startswith("</script>")
    assert data["scores"][0][1] is None and data["statuses"][data["status"][0][1]] == "corrupt"
    assert data["statuses"][0] == "ok" and data["methods"] == ["a", "b"]
    assert "id='pair-a'" in text  # two methods: side-by-side section


def test_single_method_page_has_no_pairs_section():
    text = render_page(_data(methods=("only",)))
    assert "id='pair-a'" not in text and "id='grid'" in text


def test_histogram_counts_every_finite_value():
    svg = histogram_svg([0.1, 0.2, 0.2, None, float("nan"), 0.9], 0.0, 1.0, "x", bins=10)
    assert "data-n='4'" in svg and svg.count("<rect") == 10
    heights = [float(h) for h in re.findall(r"height='([0-9.]+)' fill", svg)]
    assert heights[2] == max(heights) and sum(h > 0 for h in heights) == 3


def test_html_table_escapes_and_bolds():
    t = html_table([{"m": "<x>", "v": "**0.5** [0.4, 0.6]"}])
    assert "&lt;x&gt;" in t and "<b>0.5</b> [0.4, 0.6]" in t


def test_thumbnails_inline_folder_and_unreadable(tmp_path: Path):
    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)).save(img)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    inline = make_thumbnails([(str(img), ""), (str(bad), ""), (str(img), "")], "inline", size=64)
    assert inline[0].startswith("data:image/jpeg;base64,") and inline[1] is None and inline[2] == inline[0]
    folder = tmp_path / "page_files"
    srcs = make_thumbnails([(str(img), ""), (str(img), "10,20,100,50")], "folder", folder, size=64)
    assert all(s.startswith("page_files/") for s in srcs) and srcs[0] != srcs[1]
    assert Image.open(tmp_path / srcs[0]).size == (43, 64)
    assert Image.open(tmp_path / srcs[1]).size == (64, 32)  # the box region, not the whole image
    assert make_thumbnails([(str(img), "")], "none") == [None]
    with pytest.raises(ValueError, match="thumbnail mode"):
        make_thumbnails([(str(img), "")], "svg")
