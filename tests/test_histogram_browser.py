"""The Histograms tab in headless Chromium: variable, bins and cut change the plot."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.browser

SETTLE_MS = 60_000


def canvas_image(page) -> bytes:
    """What the plot looks like now (retried while a redraw replaces the plot element)."""
    for _ in range(20):
        try:
            return page.locator("div.bk-Figure, .bk-Figure").first.screenshot(timeout=5000)
        except PlaywrightError:
            page.wait_for_timeout(250)
    pytest.fail("the plot never settled long enough to be captured")


def wait_for_change(page, before: bytes) -> bytes:
    """Poll until the plot looks different from `before`; return the new image."""
    for _ in range(120):
        page.wait_for_timeout(250)
        after = canvas_image(page)
        if after != before:
            page.wait_for_timeout(300)  # let the redraw finish
            return canvas_image(page)
    pytest.fail("the plot did not change")


def statistics_text(page) -> str:
    """The text of the statistics table."""
    return page.locator("table.histogram-table").first.inner_text()


def test_histogram_tab_variable_bins_cut(app_url, page, screenshot_dir):
    page.goto(app_url)
    tab = page.locator(".bk-tab").filter(has_text="Histograms").first
    tab.wait_for(timeout=SETTLE_MS)
    tab.click()
    page.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
    page.locator(".bk-Figure").first.wait_for(timeout=SETTLE_MS)
    page.wait_for_timeout(1000)
    first = canvas_image(page)

    variable = page.locator("select").filter(has=page.locator("option", has_text="lep1_pt [GeV]"))
    variable.select_option(label="lep1_pt [GeV]")
    second = wait_for_change(page, first)
    assert page.get_by_placeholder("inv_mass(").first.input_value() == "lep1_pt"

    bins = page.locator(".bk-input-group:has(label:text-is('Bins')) input").first
    bins.fill("12")
    bins.press("Enter")
    third = wait_for_change(page, second)

    entries_before = statistics_text(page)
    cut = page.locator(".bk-input-group:has(label:text-is('Cut (keep events where it holds)'))")
    cut = cut.locator("input").first
    cut.fill("n_leptons >= 2 & lep1_pt > 30")
    cut.press("Enter")
    wait_for_change(page, third)
    for _ in range(120):
        if statistics_text(page) != entries_before:
            break
        page.wait_for_timeout(250)
    assert statistics_text(page) != entries_before
    assert "n_leptons >= 2 &amp; lep1_pt > 30" not in statistics_text(page)
    assert "n_leptons >= 2 & lep1_pt > 30" in statistics_text(page)

    page.screenshot(path=str(screenshot_dir / "histogram_tab.png"), full_page=True)

    cut.fill("lep1_pt > 30 & nonsense > 1")
    cut.press("Enter")
    caret = page.locator("pre").filter(has_text="nonsense").first
    caret.wait_for(timeout=SETTLE_MS)
    assert "^" in caret.inner_text()
    assert page.get_by_text("unknown name 'nonsense'").first.is_visible()
    assert page.offsite_requests == []
