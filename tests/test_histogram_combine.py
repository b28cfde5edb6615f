"""Several datasets in one histogram (summed or stacked), and the one settings object that the
page, links, exercise steps and `eventlab hist` share. Real data: the CMS 2011 dimuons, split
into three files as the Higgs exercise's three channels come."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.csv as pa_csv
import pytest
from bokeh.document import Document

from app.cli import main
from app.config import AppConfig
from app.histogram.exercises import Step
from app.histogram.links import LinkSettings, settings_from_query, settings_query
from app.histogram.settings import PlotSettings
from app.histogram.view import HistogramLab

DIMUON_MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"
PARTS = ("a.csv", "b.csv", "c.csv")


@pytest.fixture(scope="module")
def split_folder(cms_zmumu_csv, tmp_path_factory):
    """The real CMS dimuon file and the same rows split into three files."""
    folder = tmp_path_factory.mktemp("split")
    table = pa_csv.read_csv(cms_zmumu_csv)
    pa_csv.write_csv(table, folder / "whole.csv")
    bounds = [0, 3000, 7000, table.num_rows]
    for name, start, stop in zip(PARTS, bounds, bounds[1:], strict=False):
        pa_csv.write_csv(table.slice(start, stop - start), folder / name)
    return folder


def hist_json(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(["hist", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eventlab_hist_sums_several_files(split_folder, capsys):
    options = ["--x", DIMUON_MASS, "--cut", "Q1*Q2 < 0", "--bins", "60", "--range", "60,120"]
    whole = hist_json(capsys, str(split_folder / "whole.csv"), *options)
    parts = [str(split_folder / name) for name in PARTS]
    summed = hist_json(capsys, *parts, *options, "--fit", "voigt", "--background", "exp")
    assert summed["bins"]["counts"] == whole["bins"]["counts"]
    assert summed["statistics"]["rows"] == 10_583
    assert summed["statistics"]["mean"] == pytest.approx(whole["statistics"]["mean"])
    assert summed["statistics"]["std"] == pytest.approx(whole["statistics"]["std"])
    assert [d["statistics"]["rows"] for d in summed["datasets"]] == [3000, 4000, 3583]
    assert summed["fit"]["parameters"]["mass"]["value"] == pytest.approx(90.8, abs=0.3)
    stacked = hist_json(capsys, *parts, *options, "--stack-files")
    per_file = np.array([d["counts"] for d in stacked["datasets"]])
    assert per_file.sum(axis=0).tolist() == whole["bins"]["counts"]
    assert (
        main(["hist", *parts, *options, "--stack-files", "--png", str(split_folder / "s.png")]) == 0
    )
    assert (split_folder / "s.png").read_bytes().startswith(b"\x89PNG")


@pytest.fixture
def lab(split_folder):
    lab = HistogramLab(AppConfig(data_dirs=(split_folder,)))
    lab.layout.get_root(Document())
    lab.dataset_select.value = "file:a.csv"
    lab.x_input.value = DIMUON_MASS
    lab.auto_range.value = False
    lab.bins_input.value = 60
    lab.low_input.value, lab.high_input.value = 60.0, 120.0
    return lab


def total(lab) -> float:
    return float(sum(layer.histogram.counts.sum() for layer in lab.plot.layers))


def test_the_page_sums_or_stacks_datasets(lab):
    alone = total(lab)
    lab.combine_select.value = ["file:b.csv", "file:c.csv"]
    assert not lab.error_alert.visible
    assert len(lab.plot.layers) == 1 and lab.plot.layers[0].label.startswith("a.csv + b.csv")
    summed = total(lab)
    assert summed > 3 * alone
    assert "all datasets" in lab.stats_pane.object
    lab.combine_stack.value = True
    assert [layer.style for layer in lab.plot.layers] == ["stack"] * 3
    assert [layer.label for layer in lab.plot.layers] == list(PARTS)
    assert total(lab) == summed
    assert "h_add=b.csv%2Cc.csv" in lab.link_text.value and "h_stack_files=1" in lab.link_text.value


def test_changing_the_dataset_keeps_the_teachers_binning(lab):
    lab.low_input.value, lab.high_input.value = 70.0, 181.0
    lab.add_points_button.clicks += 1
    lab.dataset_select.value = "file:b.csv"
    assert (lab.settings.low, lab.settings.high) == (70.0, 181.0)
    assert lab.plot.layers[0].histogram.edges[[0, -1]].tolist() == [70.0, 181.0]
    assert len(lab.plot.layers) == 2


def test_links_and_steps_write_the_one_settings_object(lab):
    link = LinkSettings(x="pt1", cut="pt1 > 20", range=(0.0, 100.0), fit="gauss", add=("c.csv",))
    settings = PlotSettings(dataset="file:a.csv").with_link(link)
    assert (settings.x, settings.auto_range, settings.combine) == ("pt1", False, ("file:c.csv",))
    parsed, problems = settings_from_query(settings_query(settings.link("a.csv")))
    assert problems == [] and parsed.add == ("c.csv",) and parsed.range == (0.0, 100.0)
    step = Step(title="", instructions="", x="pt2", bins=30, range=(0.0, 60.0), fit="bw")
    stepped = settings.with_step(step, "file:b.csv")
    assert (stepped.dataset, stepped.x, stepped.bins, stepped.combine) == (
        "file:b.csv",
        "pt2",
        30,
        (),
    )
    lab._apply(stepped)
    assert lab.settings.x == "pt2" and lab.x_input.value == "pt2"
    assert lab.bins_input.value == 30 and lab.fit_select.value == "bw"
    assert lab.plot.layers[0].histogram.edges[[0, -1]].tolist() == [0.0, 60.0]
    lab.cut_input.value = "pt2 > 25"  # the page writes it too
    assert lab.settings.cut == "pt2 > 25"
