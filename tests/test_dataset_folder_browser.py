"""A dataset folder made on a Dask LocalCluster, in the Histograms tab of headless Chromium: it
is offered in the dataset menu, opens as one dataset and plots."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PROJECT_ROOT, dask_client, start_app, stop_app

from converters.cluster import DaskRunner
from converters.dataset import write_dataset
from converters.parts import ColumnsJob
from converters.pipeline import columns_table

pytestmark = pytest.mark.browser

SETTLE_MS = 60_000
TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    """A server whose data folder holds a dataset folder written by 2 Dask workers."""
    folder = tmp_path_factory.mktemp("data")
    with dask_client() as client:
        write_dataset(
            [str(TOY), str(TOY_RNTUPLE)],
            folder / "toy_dataset",
            ColumnsJob(),
            DaskRunner(client, "on 2 test workers"),
            500,
        )
    process, base_url = start_app("--data-dir", str(folder))
    yield base_url
    stop_app(process)


def entries_of_m_ll() -> str:
    """How many events of the inputs have an m_ll, as one process computes the columns."""
    m_ll = columns_table([str(TOY), str(TOY_RNTUPLE)]).column("m_ll").to_numpy()
    return f"{int(np.count_nonzero(np.isfinite(m_ll))):,}"


def test_a_dataset_folder_is_offered_and_plots(lab_url, page, screenshot_dir):
    expected = entries_of_m_ll()
    page.goto(lab_url)
    tab = page.locator(".bk-tab").filter(has_text="Histograms").first
    tab.wait_for(timeout=SETTLE_MS)
    tab.click()
    page.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
    menu = page.locator(".bk-input-group:has(label:text-is('Dataset')) select").first
    assert "toy_dataset" in menu.locator("option").all_inner_texts()
    menu.select_option(label="toy_dataset")
    card = page.get_by_text("parquet parts").first
    card.wait_for(timeout=SETTLE_MS)
    assert "6 parquet parts" in card.inner_text()
    assert page.get_by_text("6,000").first.is_visible()

    variable = page.locator(".bk-input-group:has(label:text-is('Variable')) select").first
    variable.select_option(label="m_ll [GeV]")
    expression = page.get_by_placeholder("inv_mass(").first
    for _ in range(240):
        statistics = page.locator("table.histogram-table").first.inner_text()
        if expression.input_value() == "m_ll" and f"all events\t{expected}\t" in statistics:
            break
        page.wait_for_timeout(250)
    assert expression.input_value() == "m_ll"
    assert f"all events\t{expected}\t100.0 %" in statistics
    page.locator(".bk-Figure").first.wait_for(timeout=SETTLE_MS)
    assert not page.locator(".alert-danger").first.is_visible()
    page.screenshot(path=str(screenshot_dir / "histogram_dataset_folder.png"), full_page=True)
    assert page.offsite_requests == []
