"""Simulation normalised to a luminosity with the education ntuples' weight columns, data as
points over the stacked simulation, and the data/simulation ratio (page, PNG, eventlab hist)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot
from bokeh.document import Document

from app.cli import main
from app.config import AppConfig
from app.histogram.data import read_dataset
from app.histogram.luminosity import luminosity_weight
from app.histogram.png import png_bytes
from app.histogram.view import HistogramLab

LUMI = 10.0  # fb^-1
N_SIM = 4_000


def write_mini(path, masses, *, xsec=None, sum_weights=None, mc_weight=None, prefix="2020"):
    """A small education ntuple with lepton pairs of the given masses (GeV) and, for
    simulation, the normalisation branches of the 2020 or 2025 release."""
    n = masses.size
    branches = {"m_ll": masses.astype(np.float32), "lep_n": np.full(n, 2, np.int32)}
    if xsec is not None:
        branches["mcWeight"] = mc_weight.astype(np.float32)
        if prefix == "2020":
            branches |= {
                "XSection": np.full(n, xsec, np.float32),
                "SumWeights": np.full(n, sum_weights, np.float32),
                "scaleFactor_ELE": np.full(n, 0.9, np.float32),
                "scaleFactor_MUON": np.full(n, 1.0, np.float32),
            }
        else:
            branches |= {
                "xsec": np.full(n, xsec, np.float32),
                "kfac": np.full(n, 1.1, np.float32),
                "filteff": np.full(n, 0.5, np.float32),
                "sum_of_weights": np.full(n, sum_weights, np.float32),
            }
    with uproot.recreate(path) as out:
        out.mktree("mini" if prefix == "2020" else "analysis", branches)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lumi")
    rng = np.random.default_rng(17)
    weights = rng.uniform(0.5, 1.5, N_SIM)
    write_mini(folder / "mc_zee.root", rng.normal(91, 3, N_SIM), xsec=2000.0,
               sum_weights=float(weights.sum()) * 10_000, mc_weight=weights)  # fmt: skip
    write_mini(folder / "mc_ttbar.root", rng.uniform(60, 120, N_SIM), xsec=400.0,
               sum_weights=float(weights.sum()) * 5_000, mc_weight=weights)  # fmt: skip
    write_mini(
        folder / "data_A.root", np.concatenate([rng.normal(91, 3, 1800), rng.uniform(60, 120, 800)])
    )
    write_mini(folder / "mc_2025.root", rng.normal(91, 3, N_SIM), xsec=1000.0,
               sum_weights=float(weights.sum()), mc_weight=weights, prefix="2025")  # fmt: skip
    return folder


def test_the_weight_expressions_of_both_releases(folder):
    names_2020 = read_dataset(folder / "mc_zee.root", "mc_zee.root").names
    assert luminosity_weight(names_2020, LUMI) == (
        "mcWeight * scaleFactor_ELE * scaleFactor_MUON * XSection * 10000 / SumWeights"
    )
    names_2025 = read_dataset(folder / "mc_2025.root", "mc_2025.root").names
    assert luminosity_weight(names_2025, 36.6) == (
        "mcWeight * xsec * kfac * filteff * 36600 / sum_of_weights"
    )
    assert luminosity_weight(read_dataset(folder / "data_A.root", "d.root").names, LUMI) is None


def test_eventlab_hist_scales_simulation_and_draws_data_over_it(folder, capsys):
    files = [str(folder / name) for name in ("mc_zee.root", "mc_ttbar.root", "data_A.root")]
    options = ["--x", "m_ll", "--bins", "30", "--range", "60,120", "--lumi", "10", "--json"]
    assert main(["hist", *files, *options]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {entry["file"].rsplit("/", 1)[-1]: entry for entry in document["datasets"]}
    # Z -> ee: 2000 pb x 10,000 pb^-1 x 0.9 x sum of mcWeight / (10,000 x sum of mcWeight)
    assert rows["mc_zee.root"]["statistics"]["sum_of_weights"] == pytest.approx(1800, rel=1e-3)
    assert rows["mc_ttbar.root"]["statistics"]["sum_of_weights"] == pytest.approx(
        720, rel=1e-3
    )  # x 0.9 too
    assert rows["data_A.root"]["statistics"]["entries"] == 2600
    assert any("data_A.root: data" in note for note in document["notes"])
    assert sum(document["bins"]["counts"]) == 2600  # the main histogram is the data


def test_the_page_shows_data_points_stacked_simulation_and_the_ratio(folder):
    lab = HistogramLab(AppConfig(data_dirs=(folder,)))
    lab.layout.get_root(Document())
    lab.dataset_select.value = "file:data_A.root"
    lab.x_input.value = "m_ll"
    lab.combine_select.value = ["file:mc_zee.root", "file:mc_ttbar.root"]
    lab.luminosity_input.value = LUMI
    assert not lab.error_alert.visible, lab.error_alert.object
    styles = [(layer.label, layer.style) for layer in lab.plot.layers]
    assert styles == [("mc_zee.root", "stack"), ("mc_ttbar.root", "stack"), ("data", "points")]
    stack = sum(layer.histogram.counts.sum() for layer in lab.plot.layers[:2])
    assert stack == pytest.approx(2520, rel=0.03)  # 1800 + 720, less what falls outside
    centres, ratio, error = lab.plot.ratio_values()
    assert centres.size == 50 and np.all(error[np.isfinite(ratio)] > 0)
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.15)
    assert "simulation, 10 fb⁻¹" in lab.stats_pane.object and "h_lumi=10" in lab.link_text.value
    assert png_bytes(lab.plot).startswith(b"\x89PNG")


def test_the_ratio_panel_renders_below_the_plot(folder):
    from bokeh.models import Column

    from app.histogram.drawing import LivePlot

    lab = HistogramLab(AppConfig(data_dirs=(folder,)))
    lab.dataset_select.value = "file:data_A.root"
    lab.x_input.value = "m_ll"
    lab.combine_select.value = ["file:mc_zee.root"]
    lab.luminosity_input.value = LUMI
    live = LivePlot()
    element = live.element(lab.plot, in_place=False)
    assert isinstance(element, Column) and len(element.children) == 2
    labels = [plot.yaxis[0].axis_label for plot in element.children]
    assert labels[-1] == "data / simulation" and len(labels) == 2
    assert element.children[1].x_range is element.children[0].x_range  # zoomed together
    ratio = live.figures.ratio.data
    centres, values, _ = lab.plot.ratio_values()
    shown = np.isfinite(values)
    assert np.allclose(ratio["x"], centres[shown]) and np.allclose(ratio["y"], values[shown])
    low, high = element.children[1].y_range.start, element.children[1].y_range.end
    assert low <= ratio["y_low"].min() and high >= ratio["y_high"].max() and low < 1 < high
