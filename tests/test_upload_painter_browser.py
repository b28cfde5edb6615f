"""The upload box repaints only while it is used, in headless Chromium: an idle page does no
per-frame work, a student's action or an upload brings the frames back, and a file still
uploads without anyone touching the page (the browser's file dialog gives no pointer events)."""

from __future__ import annotations

import shutil

import pytest
from test_app_browser import EVENT_NUMBER

from app.config import BUNDLED_DATA_DIR

pytestmark = pytest.mark.browser

# Counts the upload box's paints: FilePond's one reader, kept in the page's painter.
COUNT_PAINTS = """() => {
  const readers = window.__framePainter.readers;
  const read = readers[0];
  window.__paints = 0;
  readers[0] = () => { window.__paints += 1; read(); };
  return readers.length;
}"""
IDLE_PAINTS_PER_S = 4  # the painter's idle pace: every 250 ms
FRAME_PAINTS_PER_S = 20  # well below the 60 frames a second of an active page


def paints_during(page, milliseconds: int) -> float:
    """The upload box's paints per second over the next `milliseconds`."""
    page.evaluate("window.__paints = 0")
    page.wait_for_timeout(milliseconds)
    return page.evaluate("window.__paints") * 1000 / milliseconds


def test_an_idle_page_does_not_repaint_its_upload_box_every_frame(app_url, page, tmp_path):
    page.goto(app_url)
    page.locator(EVENT_NUMBER).first.wait_for(timeout=60_000)
    assert page.evaluate(COUNT_PAINTS) == 1  # FilePond took this page's painter
    page.wait_for_timeout(3500)  # past the lively start
    idle = paints_during(page, 2000)
    assert idle <= IDLE_PAINTS_PER_S + 1
    page.locator(".filepond--root").first.dispatch_event("pointerdown")
    assert paints_during(page, 1000) >= FRAME_PAINTS_PER_S  # a student's action: every frame
    page.wait_for_timeout(3500)
    mine = tmp_path / "mine.json"
    shutil.copy(BUNDLED_DATA_DIR / "toy_events.json", mine)
    page.locator("input[type=file]").first.set_input_files(str(mine))  # no pointer events
    page.get_by_text("Upload complete").first.wait_for(timeout=30_000)
