"""The histogram lab's newer widgets in headless Chromium: the cut builder, datasets summed and
stacked, an overlay kept across a change of dataset, luminosity normalisation with its ratio
panel, and a fit's verdict in view. Real data: the CMS 2011 dimuons (whole and split in three);
education ntuples with the 2020 weight branches, built here.

What the plot shows is read from the page's own Bokeh document (the numbers its figures draw),
and compared with what the server's tables say and with fills made here.
"""

from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import numpy as np
import pyarrow.csv as pa_csv
import pytest
from conftest import start_app, stop_app
from playwright.sync_api import Error as PlaywrightError
from test_histogram_luminosity import write_mini

from app.histogram.data import read_dataset
from app.histogram.evaluation import Evaluator
from app.histogram.filling import Binning

pytestmark = pytest.mark.browser

SETTLE_MS = 60_000
MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"
PARTS = ("a.csv", "b.csv", "c.csv")
CMS_FILE = "Zmumu_Run2011A.csv"
# Per figure of the page: its vertical axis, scale, legend and the numbers of each layer.
FIGURES_JS = """() => {
  const doc = Bokeh.documents[Bokeh.documents.length - 1];
  const shown = [];
  for (const model of doc.all_models) {
    if (model.constructor.__name__ !== "Figure") continue;
    const sources = [...new Set(model.renderers.map(r => r.data_source))];
    const layers = sources.filter(s => s.data.count !== undefined).map(s => ({
      sum: Array.from(s.data.count).reduce((a, b) => a + b, 0),
      bins: s.data.count.length,
      low: s.data.low[0],
      high: s.data.high[s.data.high.length - 1],
    }));
    const points = sources.filter(s => s.data.count === undefined && s.data.y !== undefined);
    shown.push({
      ylabel: model.left[0].axis_label,
      log: model.y_scale.constructor.__name__ === "LogScale",
      legend: model.center.filter(r => r.items !== undefined)
        .flatMap(legend => legend.items.map(item => item.label.value)),
      layers,
      ratios: points.flatMap(s => Array.from(s.data.y)),
    });
  }
  return shown;
}"""


@pytest.fixture(scope="module")
def folder(cms_zmumu_csv, tmp_path_factory):
    """The real CMS dimuons whole and in three parts, and 2020-style ntuples (two simulated
    processes and data)."""
    folder = tmp_path_factory.mktemp("widgets")
    shutil.copy(cms_zmumu_csv, folder / CMS_FILE)
    table = pa_csv.read_csv(cms_zmumu_csv)
    bounds = [0, 3000, 7000, table.num_rows]
    for name, start, stop in zip(PARTS, bounds, bounds[1:], strict=False):
        pa_csv.write_csv(table.slice(start, stop - start), folder / name)
    rng = np.random.default_rng(17)
    weights = rng.uniform(0.5, 1.5, 4000)
    write_mini(folder / "mc_zee.root", rng.normal(91, 3, 4000), xsec=2000.0,
               sum_weights=float(weights.sum()) * 10_000, mc_weight=weights)  # fmt: skip
    write_mini(folder / "mc_ttbar.root", rng.uniform(60, 120, 4000), xsec=400.0,
               sum_weights=float(weights.sum()) * 5_000, mc_weight=weights)  # fmt: skip
    data = np.concatenate([rng.normal(91, 3, 1800), rng.uniform(60, 120, 800)])
    write_mini(folder / "data_A.root", data)
    return folder


@pytest.fixture(scope="module")
def server(folder):
    """The app serving only the test folder."""
    process, base_url = start_app("--data-dir", str(folder), "--no-samples")
    process.base_url = base_url
    yield process
    stop_app(process)


@pytest.fixture
def lab_url(server):
    """The base address of the app."""
    return server.base_url


def counts_in(path, binning: Binning, cut: str = "") -> float:
    """What a file's dimuon mass histogram holds in range, filled here."""
    evaluator = Evaluator(read_dataset(path, path.name))
    return float(evaluator.histogram(MASS, binning, cut).counts.sum())


def open_lab(page, base_url: str, query: str) -> None:
    """Open the Histograms tab through a link and wait for its first plot."""
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(f"uncaught: {error}"))
    page.goto(f"{base_url}/?{query}")
    try:
        page.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
        page.locator(".bk-Figure").first.wait_for(timeout=SETTLE_MS)
    except PlaywrightError:
        pytest.fail(f"the first plot never came; the page's console said {messages[-8:]}")


def figures(page) -> list[dict]:
    """The figures the page draws now."""
    return page.evaluate(FIGURES_JS)


def wait_for(page, condition, what: str):
    """Poll the page's figures until `condition(figures)` holds; return them."""
    for _ in range(240):
        shown = figures(page)
        if shown and condition(shown):
            return shown
        page.wait_for_timeout(250)
    pytest.fail(f"the page never showed {what}: {figures(page)}")


def field(page, label: str, kind: str = "input"):
    """The input (or select) of the widget with this label."""
    return page.locator(f".bk-input-group:has(label:text-is('{label}')) {kind}").first


def type_into(page, label: str, text: str) -> None:
    """Type into a labelled box and confirm with Enter, as a student does."""
    box = field(page, label)
    box.fill(text)
    box.press("Enter")


def add_datasets(page, names: tuple[str, ...]) -> None:
    """Choose datasets in "Add datasets to this histogram"."""
    group = page.locator(
        ".bk-input-group:has(label:text-is('Add datasets to this histogram (summed)'))"
    )
    for name in names:
        group.locator(".choices__input--cloned").click()
        group.locator(f".choices__item--choice[data-value='{name}']").click()
        page.keyboard.press("Escape")


def checkbox(page, label: str):
    """The box of a labelled checkbox."""
    return page.locator(".bk-Checkbox").filter(has_text=label).locator("input")


def statistics_rows(page) -> dict[str, list[str]]:
    """The statistics table: label -> its cells."""
    table = page.locator("table.histogram-table").first
    rows = {}
    for row in table.locator("tr").all()[1:]:
        cells = [cell.inner_text().strip() for cell in row.locator("td").all()]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def number(text: str) -> float:
    """A number as the tables print it (thousands separated by commas)."""
    return float(re.sub(r"[^0-9.eE+-]", "", text))


def in_view(page, locator) -> bool:
    """Whether the element is wholly inside the browser window."""
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_the_cut_builder_writes_the_cut_and_the_plot_follows(lab_url, page, folder):
    open_lab(page, lab_url, f"h_dataset={CMS_FILE}&h_x={quote(MASS)}&h_bins=60&h_range=60,120")
    before = wait_for(page, lambda f: f[0]["layers"], "the first plot")[0]["layers"][0]["sum"]
    assert before == counts_in(folder / CMS_FILE, Binning(60, 60, 120))
    page.locator(".card-header").filter(has_text="Cut builder").click()
    field(page, "Charges", "select").select_option(label="opposite")
    type_into(page, "Mass from (GeV)", "80")
    type_into(page, "Mass to (GeV)", "100")
    page.get_by_role("button", name="Write the cut").click()
    cut_box = field(page, "Cut (keep events where it holds)")
    for _ in range(120):
        if cut_box.input_value().startswith("Q1 * Q2 < 0 & ("):
            break
        page.wait_for_timeout(250)
    cut = cut_box.input_value()
    assert cut == f"Q1 * Q2 < 0 & ({MASS}) > 80 & ({MASS}) < 100"
    expected = counts_in(folder / CMS_FILE, Binning(60, 60, 120), cut)
    wait_for(page, lambda f: f[0]["layers"][0]["sum"] == expected, "the cut's histogram")
    row = statistics_rows(page)[cut]
    assert number(row[0]) == expected and 7_000 < expected < 9_500
    assert page.offsite_requests == []


def test_datasets_summed_then_stacked(lab_url, page, folder):
    open_lab(page, lab_url, f"h_dataset=a.csv&h_x={quote(MASS)}&h_bins=60&h_range=60,120")
    binning = Binning(60, 60, 120)
    parts = [counts_in(folder / name, binning) for name in PARTS]
    assert sum(parts) == counts_in(folder / CMS_FILE, binning)
    add_datasets(page, PARTS[1:])
    wait_for(page, lambda f: f[0]["layers"][0]["sum"] == sum(parts), "the three files summed")
    assert "all datasets" in statistics_rows(page)
    checkbox(page, "Stack by dataset").check()
    shown = wait_for(page, lambda f: len(f[0]["layers"]) == 3, "a stack of three files")[0]
    assert shown["legend"] == list(PARTS)
    assert [layer["sum"] for layer in shown["layers"]] == parts
    assert all(
        (layer["bins"], layer["low"], layer["high"]) == (60, 60, 120) for layer in shown["layers"]
    )


def test_an_overlay_keeps_the_binning_when_the_dataset_changes(lab_url, page):
    open_lab(page, lab_url, f"h_dataset=a.csv&h_x={quote(MASS)}")
    type_into(page, "Bins", "40")
    type_into(page, "From", "70")
    type_into(page, "To", "110")
    wait_for(page, lambda f: f[0]["layers"][0]["low"] == 70 and f[0]["layers"][0]["high"] == 110
             and f[0]["layers"][0]["bins"] == 40, "the chosen binning")  # fmt: skip
    page.get_by_role("button", name="Add to plot as line").click()
    wait_for(page, lambda f: len(f[0]["layers"]) == 2, "the added line")
    field(page, "Dataset", "select").select_option(label="b.csv")
    shown = wait_for(
        page, lambda f: "b.csv: all events" in f[0]["legend"], "the plot of the new dataset"
    )[0]
    assert [(layer["bins"], layer["low"], layer["high"]) for layer in shown["layers"]] == [
        (40, 70, 110),
        (40, 70, 110),
    ]
    assert (field(page, "From").input_value(), field(page, "To").input_value()) == ("70", "110")


X_RANGE_JS = """() => {
  const doc = Bokeh.documents[Bokeh.documents.length - 1];
  const main = [...doc.all_models].find(m => m.constructor.__name__ === "Figure");
  return [main.x_range.start, main.x_range.end];
}"""


def test_a_zoom_stays_when_the_cut_changes(lab_url, page, folder):
    open_lab(page, lab_url, f"h_dataset={CMS_FILE}&h_x={quote(MASS)}&h_bins=60&h_range=60,120")
    wait_for(page, lambda f: f[0]["layers"], "the first plot")
    page.locator(".bk-tool-icon-box-zoom").first.click()  # a student zooms on the peak
    plot = page.locator(".bk-Figure").first.bounding_box()
    page.mouse.move(plot["x"] + 0.4 * plot["width"], plot["y"] + 0.3 * plot["height"])
    page.mouse.down()
    page.mouse.move(plot["x"] + 0.6 * plot["width"], plot["y"] + 0.7 * plot["height"], steps=8)
    page.mouse.up()
    zoomed = page.evaluate(X_RANGE_JS)
    assert zoomed[1] - zoomed[0] < 30, f"the box zoom did not zoom: {zoomed}"
    page.wait_for_timeout(500)  # the zoom reaches the server
    type_into(page, "Cut (keep events where it holds)", "Q1*Q2 < 0")
    expected = counts_in(folder / CMS_FILE, Binning(60, 60, 120), "Q1*Q2 < 0")
    wait_for(page, lambda f: f[0]["layers"][0]["sum"] == expected, "the cut's histogram")
    assert page.evaluate(X_RANGE_JS) == pytest.approx(zoomed)


def test_luminosity_normalisation_shows_data_over_simulation_and_the_ratio(
    lab_url, page, screenshot_dir
):
    open_lab(page, lab_url, "h_dataset=data_A.root&h_x=m_ll&h_bins=30&h_range=60,120")
    add_datasets(page, ("mc_zee.root", "mc_ttbar.root"))
    wait_for(page, lambda f: len(f[0]["layers"]) == 1 and f[0]["layers"][0]["sum"] > 6000,
             "the files summed")  # fmt: skip
    type_into(page, "Normalise simulation to luminosity (fb⁻¹)", "10")
    shown = wait_for(page, lambda f: len(f) == 2, "the ratio panel")
    main, ratio = sorted(shown, key=lambda figure: figure["ylabel"] == "data / simulation")
    assert ratio["ylabel"] == "data / simulation"
    assert main["legend"] == ["mc_zee.root", "mc_ttbar.root", "data"]
    assert [round(layer["sum"]) for layer in main["layers"]][-1] == 2600  # the data, as points
    # 2000 pb x 10 fb^-1 x 0.9 scale factor, and 400 pb likewise, all inside 60-120 GeV
    assert sum(layer["sum"] for layer in main["layers"][:2]) == pytest.approx(2520, rel=0.03)
    assert len(ratio["ratios"]) >= 25 and abs(np.median(ratio["ratios"]) - 1) < 0.15
    figures_shown = page.locator(".bk-Figure")
    assert sum(figures_shown.nth(i).is_visible() for i in range(figures_shown.count())) == 2
    page.screenshot(path=str(screenshot_dir / "histogram_ratio_panel.png"), full_page=True)


def test_a_fits_verdict_is_in_view_of_the_fit_controls(lab_url, page, screenshot_dir):
    query = f"h_dataset={CMS_FILE}&h_x={quote(MASS)}&h_cut={quote('Q1*Q2 < 0')}"
    open_lab(page, lab_url, f"{query}&h_bins=60&h_range=60,120")
    fit_menu = field(page, "Fit a peak", "select")
    fit_menu.scroll_into_view_if_needed()
    fit_menu.select_option(label="Gaussian")
    verdicts = page.locator(".fit-verdict")
    verdict = verdicts.first
    verdict.wait_for(timeout=SETTLE_MS)
    assert verdicts.count() == 2  # under the plot, and beside the fit's controls
    assert all("Not a valid fit" in text for text in verdicts.all_inner_texts())
    fit_card = page.locator(".card").filter(has=fit_menu)
    in_card = fit_card.locator(".fit-verdict")
    in_card.wait_for(timeout=SETTLE_MS)
    assert in_view(page, fit_menu) and in_view(page, in_card), "not beside the fit's menu"
    assert all(in_view(page, shown) for shown in verdicts.all()), "the verdict is out of view"
    suggested = page.get_by_role("button", name="Fit the suggested range")
    assert in_view(page, suggested)
    page.screenshot(path=str(screenshot_dir / "histogram_fit_verdict.png"))
    page.set_viewport_size({"width": 1280, "height": 640})  # a small laptop's window
    fit_card.evaluate("card => card.scrollIntoView({block: 'start'})")
    assert in_view(page, fit_menu) and in_view(page, in_card)
    page.set_viewport_size({"width": 1400, "height": 900})
    suggested.click()
    low = field(page, "Fit from")
    for _ in range(120):
        if low.input_value():
            break
        page.wait_for_timeout(250)
    assert 84 < float(low.input_value()) < 90
    fit_menu.select_option(label="Breit-Wigner")
    field(page, "Background", "select").select_option(label="linear")
    type_into(page, "Fit from", "60")
    type_into(page, "Fit to", "120")
    for _ in range(120):
        if "slope" in verdict.inner_text() and "limit" in verdict.inner_text():
            break
        page.wait_for_timeout(250)
    assert "slope" in verdict.inner_text() and "limit" in verdict.inner_text()
    assert in_view(page, verdict)
