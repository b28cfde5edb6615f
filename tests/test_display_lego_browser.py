"""The eta-phi (lego) view in headless Chromium, linked both ways to the 3D view and the table."""

from __future__ import annotations

import numpy as np
import pytest
from test_app_browser import SCENE, canvas_pixels, open_page, png_pixels, wait_until

pytestmark = pytest.mark.browser

EVENT = "3000279"  # bundled toy event: 2 electrons, 2 muons (74.19 GeV together), 1 jet
MUONS = {0: (1.0048, 1.9286), 1: (-1.3288, -1.7109)}  # (eta, phi) in toy_events.json

# The lego plot's view in the page (scrolled into sight), then ANSWER computed from it.
FIND_PLOT = """
([eta, phi]) => {
  let found = null;
  function walk(view) {
    if (!view || found) return;
    if (view.model && view.model.name === 'lego') { found = view; return; }
    for (const kid of view.child_views ?? []) walk(kid);
  }
  for (const view of Bokeh.index.roots) walk(view);
  if (!found) return null;
  found.el.scrollIntoView({ block: 'center' });
  const box = found.el.getBoundingClientRect();
  const frame = found.frame;
  return ANSWER;
}
"""
# Where a point (eta, phi) of the plot is on the page, from the plot's own scales.
TO_PAGE = FIND_PLOT.replace(
    "ANSWER", "[box.left + frame.x_scale.compute(eta), box.top + frame.y_scale.compute(phi)]"
)
PLOT_BOX = FIND_PLOT.replace(
    "ANSWER", "{x: box.left, y: box.top, width: box.width, height: box.height}"
)
RINGS = """
() => {
  for (const doc of Bokeh.documents) {
    const ring = doc.get_model_by_name('lego-ring-markers');
    if (ring) {
      const data = ring.data_source.data;
      return Array.from(data.eta).map((eta, i) => [eta, data.phi[i]]);
    }
  }
  return null;
}
"""


def white_pixels(pixels: np.ndarray) -> int:
    """Pixels in the highlight white."""
    return int((pixels.min(axis=-1) > 235).sum())


def lego_click(page, eta: float, phi: float, shift: bool = False) -> None:
    """Click the lego plot at (eta, phi)."""
    point = wait_until(lambda: page.evaluate(TO_PAGE, [eta, phi]), 30.0)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(*point)
    if shift:
        page.keyboard.up("Shift")


def row(page, index: int):
    """The object table's row of muon `index`."""
    return page.locator(f"[data-testid=object-row][data-id='Muons/AnalysisMuons:{index}']")


def rings(page) -> list[tuple[float, float]]:
    """(eta, phi) of the markers ringed in the lego plot."""
    return [tuple(round(value, 4) for value in ring) for ring in page.evaluate(RINGS) or []]


def test_a_muon_picked_in_the_lego_view_is_picked_in_3d_and_the_table(
    app_url, page, screenshot_dir
):
    before = open_page(page, f"{app_url}/?file=toy_events.json&event={EVENT}")
    lego_click(page, *MUONS[1])
    info = page.locator("[data-testid=object-info]")
    wait_until(lambda: info.count() and "17.37 GeV" in info.first.inner_text())
    assert "muon" in info.first.inner_text()
    wait_until(lambda: "focus" in (row(page, 1).get_attribute("class") or ""))
    wait_until(lambda: white_pixels(canvas_pixels(page)) > white_pixels(before) + 50)
    wait_until(lambda: rings(page) == [MUONS[1]])
    page.locator(SCENE).first.screenshot(path=str(screenshot_dir / "lego_pick_3d.png"))

    # Both muons shift-clicked in the lego view: the mass of the two AnalysisMuons.
    for index in (0, 1):
        lego_click(page, *MUONS[index], shift=True)
        wait_until(lambda index=index: row(page, index).locator("input").is_checked())
    mass = page.locator("[data-testid=mass]")
    wait_until(lambda: mass.count() and "74.19 GeV" in mass.first.inner_text())
    assert row(page, 0).locator("input").is_checked()


def test_a_muon_picked_in_the_table_is_ringed_in_the_lego_view(app_url, page, screenshot_dir):
    open_page(page, f"{app_url}/?file=toy_events.json&event={EVENT}")
    wait_until(lambda: page.evaluate(TO_PAGE, [0.0, 0.0]), 30.0)
    assert rings(page) == []
    row(page, 0).click()
    wait_until(lambda: rings(page) == [MUONS[0]])
    page.wait_for_timeout(300)  # the ring's frame
    box = page.evaluate(PLOT_BOX, [0.0, 0.0])
    shot = page.screenshot(clip=box, path=str(screenshot_dir / "lego_view.png"))
    assert white_pixels(png_pixels(shot)) > 20  # the ring drawn
    row(page, 1).click()  # the ring follows the focus
    wait_until(lambda: rings(page) == [MUONS[1]])
