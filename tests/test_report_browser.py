"""The HTML report in a real browser: headless Chromium opens it from disk and the DOM is checked.

Skips with the reason when Playwright or Chromium is missing (``.ci/run`` installs Debian's
``chromium``; the ``test`` extra installs ``playwright``, which starts that executable).
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
from PIL import Image

from mspt_pyiqa.cli.main import main
from mspt_pyiqa.compare.browser import open_page, unavailable_reason
from mspt_pyiqa.compare.html import ReportData, write_page

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=f"no headless browser: {unavailable_reason()}")


def _scores(page, selector: str) -> List[float]:
    return [float(s) for s in page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.score)") if s != ""]


def _images_load(page, selector: str) -> bool:
    """Scroll every lazy ``<img>`` of ``selector`` into view; True when all decoded with a size."""
    imgs = page.locator(selector)
    for k in range(imgs.count()):
        imgs.nth(k).scroll_into_view_if_needed()
    page.wait_for_function(f"[...document.querySelectorAll({selector!r})].every(e => e.complete)", timeout=10000)
    return page.eval_on_selector_all(selector, "els => els.length > 0 && els.every(e => e.naturalWidth > 0)")


def _offline(requests: List[str]) -> None:
    assert requests, "the page made no request at all (not even for itself)"
    bad = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert not bad, f"requests left the file system: {bad[:3]}"


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory: pytest.TempPathFactory):
    from mspt_pyiqa.degrade import apply
    from mspt_pyiqa.demo import example_faces

    root = tmp_path_factory.mktemp("demo")
    faces = example_faces(root / "faces")
    blurred = root / "blurred"
    blurred.mkdir()
    for p in faces:
        img = np.asarray(Image.open(p).convert("RGB"))
        Image.fromarray(apply(img, "gaussian_blur", 0.5, np.random.default_rng(0))).save(blurred / p.name)
    (root / "faces" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    report = root / "report.html"
    # The demo faces are crops, blurred ones included: scored whole (--faces crop), every row has a score.
    assert main(["report", str(root / "faces"), "-o", str(report), "--workers", "0", "--no-progress",
                 "--faces", "crop"]) == 0
    cmp_dir = root / "cmp"
    assert main(["compare", str(root / "faces"), str(blurred), "-o", str(cmp_dir), "--thumbs", "folder",
                 "--workers", "0", "--no-progress", "--n-boot", "200", "--faces", "crop"]) == 0
    return report, cmp_dir / "report.html", len(faces)


def test_report_renders_sorted_filterable_and_offline(demo_pages, tmp_path: Path):
    report, _, n_faces = demo_pages
    with open_page(report) as (page, requests, errors):
        assert page.locator("#grid .card").count() == n_faces + 1  # + the broken file, with its status
        assert page.inner_text("#grid-count") == str(n_faces + 1)
        desc = _scores(page, "#grid .card")
        assert len(desc) == n_faces and desc == sorted(desc, reverse=True)
        worst, best = _scores(page, "#worst .card"), _scores(page, "#best .card")
        half = n_faces // 2  # fewer than 2 x 10 faces: each list takes half, no face in both
        assert worst == sorted(desc)[:half] and best == desc[:half]
        assert page.inner_text("#n-worst") == str(half)
        keys = page.eval_on_selector_all("#grid .card", "els => els.map(e => e.dataset.key)")
        assert "astronaut_pristine.png" in keys  # names relative to the scored folder
        assert _images_load(page, "#grid img")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.select_option("#order", "asc")
        asc = _scores(page, "#grid .card")
        assert asc == sorted(desc)
        page.uncheck("input[data-status='ok']")
        statuses = page.eval_on_selector_all("#grid .card", "els => els.map(e => e.dataset.status)")
        assert statuses == ["not_image"]  # only the broken file
        page.check("input[data-status='ok']")
        lo = sorted(desc)[3]
        page.fill("#lo", str(lo))
        assert _scores(page, "#grid .card") == sorted(desc)[3:] and page.inner_text("#grid-count") == str(n_faces - 3)
        assert not errors, errors
        _offline(requests)
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_compare_page_shows_largest_differences_first(demo_pages, tmp_path: Path):
    _, cmp_page, n_faces = demo_pages
    with open_page(cmp_page) as (page, requests, errors):
        rows = page.locator("#pairs .row")
        assert rows.count() == n_faces
        diffs = [abs(float(d)) for d in page.eval_on_selector_all("#pairs .row", "els => els.map(e => e.dataset.diff)")]
        assert diffs == sorted(diffs, reverse=True) and diffs[0] > 0
        assert page.locator("#pairs .row").first.locator(".card").count() == 2  # the face in both methods
        assert _images_load(page, "#pairs img")
        page.select_option("#pair-b", "0")  # a method against itself: every difference 0
        assert {float(d) for d in page.eval_on_selector_all("#pairs .row", "els => els.map(e => e.dataset.diff)")} == {0.0}
        page.screenshot(path=str(tmp_path / "compare.png"))
        assert not errors, errors
        _offline(requests)


def test_large_page_renders_one_page_of_cards_at_a_time(tmp_path: Path):
    n = 300
    rng = np.random.default_rng(0)
    data = ReportData("many", ["m"], [f"f{i:04d}.png" for i in range(n)], [list(rng.uniform(0, 1, n))],
                      [["ok"] * n], [[""] * n], [[None] * n])
    page_file = write_page(tmp_path / "many.html", data, page_size=120)
    with open_page(page_file) as (page, requests, errors):
        assert page.locator("#grid .card").count() == 120
        page.click("#grid-pager button:has-text('next')")
        page.click("#grid-pager button:has-text('next')")
        assert page.locator("#grid .card").count() == 60
        assert "241-300 of 300" in page.inner_text("#grid-pager")
        assert not errors, errors
        _offline(requests)
