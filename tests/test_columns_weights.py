"""`eventlab columns` keeps the weights a luminosity normalisation needs, so that its output of
simulation is scaled in the histogram lab (`eventlab hist --lumi`) like the ntuple itself."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
from conftest import eventlab

from sample_events.ntuple_writer import education_tree, write_education_ntuple
from sample_events.simulation import simulate

N_EVENTS = 400
LUMI = 10.0  # fb^-1
XSECTION = 1500.0  # pb


def write_ntuple(path, tree_name: str, extra: dict) -> tuple:
    """An education ntuple of the toy recipe's events with extra per-event branches."""
    _, events = simulate(N_EVENTS, seed=31)
    branches = education_tree(events) | extra
    with uproot.recreate(path) as out:
        out.mktree(tree_name, branches, counter_name=lambda counted: f"{counted}_n")
    return path


@pytest.fixture(scope="module")
def ntuples(tmp_path_factory):
    """2020 (`mini`) and 2025 (`analysis`) simulation with their normalisation branches."""
    folder = tmp_path_factory.mktemp("weights")
    rng = np.random.default_rng(5)
    mc_weight = rng.uniform(0.5, 1.5, N_EVENTS).astype(np.float32)
    full = np.full(N_EVENTS, 1.0, np.float32)
    mini = {
        "mcWeight": mc_weight,
        "scaleFactor_PILEUP": full * 0.98,
        "scaleFactor_ELE": full * 0.9,
        "scaleFactor_MUON": full * 0.95,
        "scaleFactor_LepTRIGGER": full,
        "scaleFactor_PHOTON": full,
        "XSection": full * XSECTION,
        "SumWeights": full * float(mc_weight.sum()) * 100,
    }
    analysis = {
        "mcWeight": mc_weight,
        "ScaleFactor_PILEUP": full * 0.98,
        "ScaleFactor_MUON": full * 0.95,
        "xsec": full * XSECTION,
        "kfac": full * 1.2,
        "filteff": full * 0.5,
        "sum_of_weights": full * float(mc_weight.sum()) * 100,
        "sum_of_weights_squared": full,  # not needed: not kept
    }
    return {
        "mc_2020": write_ntuple(folder / "mc_2020.root", "mini", mini),
        "mc_2025": write_ntuple(folder / "mc_2025.root", "analysis", analysis),
        "recipe": write_education_ntuple(folder / "recipe.root", N_EVENTS, 3),
        "weights": mc_weight,
        "folder": folder,
    }


def columns_of(source, output):
    """Run `eventlab columns` and read its output."""
    result = eventlab("columns", source, "-o", output)
    assert result.returncode == 0, result.stderr
    return pq.read_table(output)


def test_the_2020_normalisation_branches_are_kept_by_name(ntuples):
    table = columns_of(ntuples["mc_2020"], ntuples["folder"] / "mc_2020.parquet")
    kept = ["mcWeight", "XSection", "SumWeights"]
    kept += [f"scaleFactor_{name}" for name in ("ELE", "LepTRIGGER", "MUON", "PHOTON", "PILEUP")]
    assert set(kept) <= set(table.column_names)
    assert table.column_names[:4] == ["run", "event", "mc_channel", "weight"]
    np.testing.assert_allclose(table["mcWeight"].to_numpy(), ntuples["weights"], rtol=1e-6)
    np.testing.assert_allclose(table["weight"].to_numpy(), ntuples["weights"], rtol=1e-6)
    assert np.all(table["scaleFactor_ELE"].to_numpy() == np.float32(0.9))


def test_the_2025_normalisation_branches_are_kept_and_others_not(ntuples):
    table = columns_of(ntuples["mc_2025"], ntuples["folder"] / "mc_2025.parquet")
    kept = {"mcWeight", "xsec", "kfac", "filteff", "sum_of_weights"}
    assert kept | {"ScaleFactor_PILEUP", "ScaleFactor_MUON"} <= set(table.column_names)
    assert "sum_of_weights_squared" not in table.column_names
    assert "XSection" not in table.column_names


def test_the_recipe_ntuple_keeps_its_mc_weight_and_is_data_to_the_lab(ntuples):
    table = columns_of(ntuples["recipe"], ntuples["folder"] / "recipe.parquet")
    assert "mcWeight" in table.column_names and "XSection" not in table.column_names
    assert np.all(table["mcWeight"].to_numpy() == 1)


@pytest.mark.parametrize(
    ("release", "factor"), [("mc_2020", 0.98 * 0.9 * 0.95), ("mc_2025", 0.98 * 0.95 * 1.2 * 0.5)]
)
def test_a_columns_file_of_simulation_is_scaled_like_its_ntuple(ntuples, release, factor):
    output = ntuples["folder"] / f"{release}_lumi.parquet"
    columns_of(ntuples[release], output)
    sums = {}
    for source in (ntuples[release], output):
        result = eventlab("hist", source, "--x", "met", "--lumi", LUMI, "--json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        sums[source.suffix] = document["statistics"]["sum_of_weights"]
        assert any("simulation scaled to 10 fb⁻¹" in note for note in document["notes"])
    # XSection x L x (scale factors x sum of mcWeight) / (100 x sum of mcWeight)
    expected = XSECTION * LUMI * 1000 * factor / 100
    assert sums[".parquet"] == pytest.approx(expected, rel=1e-4)
    assert sums[".root"] == pytest.approx(expected, rel=1e-4)


def test_physlite_keeps_the_mc_pileup_and_beam_spot_weights(physlite_example, tmp_path):
    table = columns_of(physlite_example, tmp_path / "physlite.parquet")
    tree = uproot.open(physlite_example)["CollectionTree"]
    info = "EventInfoAuxDyn."
    first = np.array([weights[0] for weights in tree[info + "mcEventWeights"].array()])
    np.testing.assert_allclose(table["weight"].to_numpy(), first)
    pileup = tree[info + "PileupWeight_NOSYS"].array(library="np")
    np.testing.assert_allclose(table["pileup_weight"].to_numpy(), pileup)
    beam_spot = tree[info + "beamSpotWeight"].array(library="np")
    np.testing.assert_allclose(table["beamspot_weight"].to_numpy(), beam_spot)
    assert "lumi_block" not in table.column_names
