"""The eta-phi (lego) view's arrays: towers, jet circles, markers and picks, by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.config import BUNDLED_DATA_DIR
from app.display.events import read_event_file
from app.display.lego import jet_circles, lego_content, pick, towers, wrap_phi
from app.display.lego_view import ringed, source_data
from app.display.scene import build_scene

PHI_STEP = 2 * math.pi / 64


def shown(event: dict) -> list:
    """Every layer of an event with all its drawn objects shown."""
    return [(layer, layer.passing(0.0)) for layer in build_scene(event).layers]


def test_deposits_in_one_tower_add_their_et():
    # two deposits in the tower eta [0.2, 0.3), phi [0, 2pi/64); one in the next eta tower
    result = towers([0.25, 0.27, 0.35], [0.01, 0.05, 0.01], [10_000.0, 20_000.0, 5_000.0])
    assert len(result) == 2
    expected = 10.0 / math.cosh(0.25) + 20.0 / math.cosh(0.27)  # 9.6954 + 19.2925 GeV
    assert result.value[0] == pytest.approx(expected)
    assert result.value[0] == pytest.approx(28.9879, abs=1e-4)
    assert result.value[1] == pytest.approx(5.0 / math.cosh(0.35))
    assert result.left == pytest.approx([0.2, 0.3]) and result.right == pytest.approx([0.3, 0.4])
    assert result.bottom == pytest.approx([0.0, 0.0]) and result.top == pytest.approx(
        [PHI_STEP] * 2
    )


def test_towers_by_energy_wrap_phi_and_leave_out_what_has_no_place():
    result = towers(
        [-1.05, -1.05, 7.0, np.nan, 0.5],
        [math.pi + 0.01, -math.pi + 0.02, 0.0, 0.0, 0.0],
        [3_000.0, 4_000.0, 9_000.0, 1_000.0, -2_000.0],
        height="E",
    )
    assert len(result) == 1  # phi pi + 0.01 is -pi + 0.01: same tower as -pi + 0.02
    assert result.value[0] == pytest.approx(7.0)
    assert result.left[0] == pytest.approx(-1.1) and result.bottom[0] == pytest.approx(-math.pi)
    assert wrap_phi(np.array([3 * math.pi / 2]))[0] == pytest.approx(-math.pi / 2)


def test_a_jet_crossing_phi_pi_is_drawn_on_both_edges():
    circles = jet_circles(
        np.array([0.5, -1.0]), np.array([3.0, 0.0]), np.array([0.4, 0.4]), np.array([3, 7])
    )
    assert circles.eta == pytest.approx([0.5, -1.0, 0.5])
    assert circles.phi == pytest.approx([3.0, 0.0, 3.0 - 2 * math.pi])
    assert list(circles.owner) == [3, 7, 3]


def test_toy_event_leptons_jet_met_and_clusters():
    file = read_event_file(BUNDLED_DATA_DIR / "toy_events.json")
    event = file.event(file.position_of("3000279"))
    content = lego_content(shown(event))
    markers = content.markers
    assert list(markers["kind"]) == ["electron", "electron", "muon", "muon"]
    assert markers["eta"][2:] == pytest.approx([1.0048, -1.3288])
    assert markers["phi"][2:] == pytest.approx([1.9286, -1.7109])
    assert content.jets["radius"] == pytest.approx([0.4])  # the file's coneR
    assert content.jets["eta"] == pytest.approx([2.6305])
    met = event["MissingEnergy"]["MET"][0]
    assert content.met["phi"] == pytest.approx([math.atan2(met["ety"], met["etx"])])
    # the two egamma clusters: 39937 MeV at eta -0.1723 and 15459 MeV at eta -0.5515
    assert sorted(content.towers.value) == pytest.approx(
        sorted([39.937 / math.cosh(-0.1723), 15.459 / math.cosh(-0.5515)])
    )
    data = source_data(content, "ET")
    assert list(data["markers"]["marker"]) == ["circle", "circle", "triangle", "triangle"]
    assert data["jets"]["diameter"] == pytest.approx([0.8])


def test_picks_find_markers_jets_and_met():
    file = read_event_file(BUNDLED_DATA_DIR / "toy_events.json")
    content = lego_content(shown(file.event(file.position_of("3000279"))))
    assert pick(content, -1.30, -1.70, 0.15) == ("Muons/AnalysisMuons", 1)
    assert pick(content, 1.0048, 1.9286 + 2 * math.pi, 0.15) == ("Muons/AnalysisMuons", 0)
    assert pick(content, 2.9, 1.2, 0.15) == ("Jets/AnalysisJets", 0)  # inside the cone
    assert pick(content, -4.0, 1.20, 0.15) == ("MissingEnergy/MET", 0)  # on the MET line
    assert pick(content, -4.0, -0.5, 0.15) is None
    rings = ringed(content, [("Muons/AnalysisMuons", 1), ("Jets/AnalysisJets", 0)])
    assert rings["markers"]["eta"] == pytest.approx([-1.3288])
    assert rings["jets"]["diameter"] == pytest.approx([0.8])


def test_hidden_and_cut_objects_are_left_out():
    file = read_event_file(BUNDLED_DATA_DIR / "toy_events.json")
    layers = build_scene(file.event(file.position_of("3000279"))).layers
    muons = next(layer for layer in layers if layer.kind == "muon")
    content = lego_content([(muons, muons.passing(20.0))])  # only the 26 GeV muon passes
    assert list(content.markers["index"]) == [0]
    assert len(content.towers) == 0 and len(content.jets["eta"]) == 0


def test_phoenix_calibration_grid_gives_one_tower_per_cluster(phoenix_example):
    event = json.loads(phoenix_example.read_text())["Test"]
    content = lego_content(shown(event))
    clusters = event["CaloClusters"]["TestClusters"]
    assert len(content.towers) == len(clusters) == 9
    eta = np.array([cluster["eta"] for cluster in clusters])
    phi = np.array([cluster["phi"] for cluster in clusters])
    energy = np.array([cluster["energy"] for cluster in clusters]) / 1000.0
    assert content.towers.value.sum() == pytest.approx((energy / np.cosh(eta)).sum())
    centre_eta = (content.towers.left + content.towers.right) / 2
    centre_phi = (content.towers.bottom + content.towers.top) / 2
    for x, y in zip(eta, phi, strict=True):  # each cluster sits in a tower of its own
        assert (np.abs(centre_eta - x) <= 0.05 + 1e-9).any()
        assert (np.abs(centre_phi - y) <= PHI_STEP / 2 + 1e-9).any()
    assert content.jets["radius"] == pytest.approx([0.4] * 9)  # no coneR: the default
