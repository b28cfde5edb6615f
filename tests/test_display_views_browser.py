"""The end-on view in headless Chromium: an orthographic projection, and clicks still pick."""

from __future__ import annotations

import numpy as np
import pytest
from test_app_browser import SCENE, canvas_pixels, open_page, wait_until

from app.config import BUNDLED_DATA_DIR
from app.display.camera import orthographic_frame
from app.display.events import read_event_file
from app.display.objects3d import PICK_STEP_MM
from app.display.scene import build_scene
from app.display.shapes import sample_segments
from app.display.stage import CANVAS_SIZE

pytestmark = pytest.mark.browser

EVENT = "3000279"
END_ON = "End-on (x-y)"
# Clicks keep this far from the canvas's edges (a click 20 px from the top once picked nothing).
EDGE_PX = 80


def end_on_screen(points: np.ndarray, box: dict) -> np.ndarray:
    """Where points (N, 3) appear on the canvas in the orthographic end-on view (x right, y up)."""
    half_width, half_height = orthographic_frame(END_ON, CANVAS_SIZE[0] / CANVAS_SIZE[1])
    x = points[:, 0] / half_width
    y = points[:, 1] / half_height
    return np.stack([(x + 1.0) / 2.0 * box["width"], (1.0 - y) / 2.0 * box["height"]], axis=1)


def clear_spot_on_muon(event: dict, box: dict) -> tuple[float, float]:
    """A point on muon 0's line (end-on) far from the lines of other objects."""
    layers = build_scene(event).layers
    muons = next(layer for layer in layers if layer.key == "Muons/AnalysisMuons")
    points, owner = sample_segments(muons.segments, muons.segment_owner, PICK_STEP_MM)
    own = end_on_screen(points[owner == 0], box)
    others = []
    for layer in layers:
        if layer.kind in ("electron", "jet", "met") and len(layer.segments):
            samples, _ = sample_segments(layer.segments, layer.segment_owner, PICK_STEP_MM)
            others.append(end_on_screen(samples, box))
        if layer.key == "Muons/AnalysisMuons":
            others.append(end_on_screen(points[owner == 1], box))
    everything = np.concatenate(others)
    inside = (own > EDGE_PX).all(axis=1) & (own[:, 0] < box["width"] - EDGE_PX)
    inside &= own[:, 1] < box["height"] - EDGE_PX
    gaps = np.linalg.norm(own[:, None] - everything[None], axis=-1).min(axis=1)
    best = int(np.argmax(np.where(inside, gaps, -1.0)))
    return float(own[best, 0]), float(own[best, 1])


def test_end_on_view_is_orthographic_and_picks_the_muon(app_url, page, screenshot_dir):
    file = read_event_file(BUNDLED_DATA_DIR / "toy_events.json")
    event = file.event(file.position_of(EVENT))
    before = open_page(page, f"{app_url}/?file=toy_events.json&event={EVENT}")
    page.locator(f"button:has-text('{END_ON}')").first.click()

    def moved() -> bool:
        """the view to switch to the end-on projection"""
        return np.abs(canvas_pixels(page) - before).sum(axis=-1).astype(bool).sum() > 5000

    wait_until(moved)
    page.wait_for_timeout(500)
    scene = page.locator(SCENE).first
    scene.screenshot(path=str(screenshot_dir / "view_end_on_orthographic.png"))
    x, y = clear_spot_on_muon(event, scene.bounding_box())
    info = page.locator("[data-testid=object-info]")
    for _ in range(5):
        scene.click(position={"x": x, "y": y})
        if wait_until(
            lambda: info.count() and "26.04 GeV" in info.first.inner_text(), 3.0, fail=False
        ):
            break
    else:
        pytest.fail(f"a click on muon 0 at ({x:.0f}, {y:.0f}) in the end-on view picked nothing")
    assert page.offsite_requests == []
