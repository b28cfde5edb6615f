"""Scene building without a browser: Phoenix event dicts -> layers of 3D arrays."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.display import shapes
from app.display.physics import can_add_to_mass, invariant_mass, object_info
from app.display.scene import (
    CALO_FRONT,
    MUON_REACHED,
    build_scene,
    drawn_objects,
)
from app.display.style import CHARGE_COLORS, KIND_COLORS, object_colors, rgb
from converters.tracks import INNER_DETECTOR, MUON_SYSTEM


def straight_track(phi: float, length: float = 1000.0, steps: int = 5) -> list[list[float]]:
    """Points of a straight track in the transverse plane."""
    radii = np.linspace(0.0, length, steps)
    return [[r * math.cos(phi), r * math.sin(phi), 0.0] for r in radii]


@pytest.fixture
def event() -> dict:
    """A small event with every type the display draws."""
    return {
        "event number": 42,
        "run number": 7,
        "Tracks": {
            "InDetTrackParticles": [
                {"pos": straight_track(0.0), "pT": 5000.0, "eta": 0.0, "phi": 0.0, "charge": 1},
                {"pos": straight_track(1.0), "pT": 800.0, "eta": 0.0, "phi": 1.0, "charge": -1},
                # no pos: drawn from its perigee parameters
                {"dparams": [0.0, 0.0, 2.0, math.pi / 2, 1 / 20000.0]},
            ],
            "ExtrapolatedMuonTrackParticles": [
                {"pos": straight_track(-1.0, 9000.0, 10), "pT": 40000.0, "charge": -1}
            ],
        },
        "Jets": {
            "AnalysisJets": [
                {"eta": 0.5, "phi": 0.3, "energy": 100000.0, "pT": 88000.0, "coneR": 0.4},
                {"eta": -1.0, "phi": 2.0, "energy": 30000.0},
            ]
        },
        "CaloClusters": {
            "egammaClusters": [{"eta": 0.1, "phi": 0.0, "energy": 45000.0}],
            "CaloCalTopoClusters": [{"eta": 2.0, "phi": -2.0, "energy": 3000.0}],
        },
        "Vertices": {"PrimaryVertices": [{"x": 0.1, "y": -0.2, "z": 12.0, "primary": 1}]},
        "MissingEnergy": {"MET": [{"etx": 30000.0, "ety": 40000.0}]},
        "Electrons": {
            "AnalysisElectrons": [
                {
                    "pT": 5000.0,
                    "eta": 0.0,
                    "phi": 0.0,
                    "energy": 5000.0,
                    "charge": 1,
                    "LinkedTracks": ["InDetTrackParticles:0"],
                    "LinkedClusters": ["egammaClusters:0"],
                }
            ]
        },
        "Muons": {
            "AnalysisMuons": [
                {
                    "pT": 40000.0,
                    "eta": 0.0,
                    "phi": -1.0,
                    "charge": -1,
                    "LinkedTracks": ["InDetTrackParticles:1"],
                },
                {"pT": 30000.0, "eta": 1.2, "phi": 2.5, "charge": 1},
            ]
        },
        "Photons": {"AnalysisPhotons": [{"pT": 20000.0, "eta": -0.5, "phi": 1.5}]},
        "Hits": {"Pixel": [[30.0, 0.0, 1.0], {"pos": [50.0, 1.0, 2.0]}, {"x": 70, "y": 2, "z": 3}]},
    }


def test_every_collection_becomes_one_layer(event):
    scene = build_scene(event)
    keys = [layer.key for layer in scene.layers]
    assert keys == [
        "Tracks/InDetTrackParticles",
        "Tracks/ExtrapolatedMuonTrackParticles",
        "Jets/AnalysisJets",
        "CaloClusters/egammaClusters",
        "CaloClusters/CaloCalTopoClusters",
        "Vertices/PrimaryVertices",
        "MissingEnergy/MET",
        "Electrons/AnalysisElectrons",
        "Muons/AnalysisMuons",
        "Photons/AnalysisPhotons",
        "Hits/Pixel",
    ]
    assert scene.notes == []


def test_tracks_follow_pos_exactly(event):
    tracks = build_scene(event).layer("Tracks/InDetTrackParticles")
    first = tracks.segments[tracks.segment_owner == 0]
    assert len(first) == 4  # 5 points -> 4 segments
    np.testing.assert_allclose(first[0, 0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(first[-1, 1], [1000.0, 0.0, 0.0])
    # consecutive segments join
    np.testing.assert_allclose(first[1:, 0], first[:-1, 1])


def test_track_without_pos_is_extrapolated_from_dparams(event):
    tracks = build_scene(event).layer("Tracks/InDetTrackParticles")
    helix = tracks.segments[tracks.segment_owner == 2].reshape(-1, 3)
    radius = np.hypot(helix[:, 0], helix[:, 1])
    assert radius.max() == pytest.approx(INNER_DETECTOR.r, rel=0.02)
    assert np.abs(helix[:, 2]).max() < 1.0  # theta = pi/2: stays at z = 0
    # a positive 20 GeV track bends clockwise: its azimuth at the outside is below phi0 = 2
    outer = helix[np.argmax(radius)]
    assert math.atan2(outer[1], outer[0]) < 2.0
    assert tracks.props["pt"][2] == pytest.approx(20000.0)
    assert tracks.props["charge"][2] == 1


def test_track_colors_by_charge_and_collection(event):
    tracks = build_scene(event).layer("Tracks/InDetTrackParticles")
    colors = object_colors(tracks.kind, tracks.props["charge"], "charge")
    np.testing.assert_allclose(colors[0], rgb(CHARGE_COLORS[1]))
    np.testing.assert_allclose(colors[1], rgb(CHARGE_COLORS[-1]))
    by_collection = object_colors(tracks.kind, tracks.props["charge"], "collection", 1)
    assert len({tuple(row) for row in by_collection}) == 1
    muons = build_scene(event).layer("Muons/AnalysisMuons")
    np.testing.assert_allclose(
        object_colors("muon", muons.props["charge"])[0], rgb(KIND_COLORS["muon"])
    )


def test_cut_hides_objects_below_threshold(event):
    tracks = build_scene(event).layer("Tracks/InDetTrackParticles")
    assert tracks.cut_variable == "pt"
    mask = tracks.passing(1.0)  # GeV
    assert mask.tolist() == [True, False, True]
    shown = tracks.restricted(mask)
    assert set(np.unique(shown.segment_owner)) == {0, 2}
    assert len(shown.segments) == (tracks.segment_owner != 1).sum()
    assert tracks.passing(0.0).all()


def test_jets_are_cones_sized_by_energy(event):
    jets = build_scene(event).layer("Jets/AnalysisJets")
    assert jets.size == 2
    per_jet = shapes.unit_cone().shape[0]
    assert len(jets.triangles) == 2 * per_jet
    lengths = []
    for index, (eta, phi) in enumerate([(0.5, 0.3), (-1.0, 2.0)]):
        vertices = jets.triangles[jets.triangle_owner == index].reshape(-1, 3)
        axis = shapes.directions(np.array([eta]), np.array([phi]))[0]
        along = vertices @ axis
        lengths.append(along.max())
        np.testing.assert_allclose(vertices[0], [0.0, 0.0, 0.0], atol=1e-9)  # apex at the origin
    assert lengths[0] > lengths[1]  # more energy, longer cone
    assert jets.props["pt"][1] == pytest.approx(30000.0 / math.cosh(-1.0))
    assert jets.passing(50.0).tolist() == [True, False]


def test_clusters_start_at_the_calorimeter_and_grow_with_energy(event):
    scene = build_scene(event)
    barrel = scene.layer("CaloClusters/egammaClusters").triangles.reshape(-1, 3)
    radius = np.hypot(barrel[:, 0], barrel[:, 1])
    assert radius.min() == pytest.approx(CALO_FRONT.r, rel=0.03)
    endcap = scene.layer("CaloClusters/CaloCalTopoClusters").triangles.reshape(-1, 3)
    assert np.abs(endcap[:, 2]).min() == pytest.approx(CALO_FRONT.z, rel=0.03)
    barrel_depth = radius.max() - radius.min()
    assert barrel_depth > 500.0  # 45 GeV
    assert scene.layer("CaloClusters/egammaClusters").cut_variable == "energy"


def test_electron_is_its_track_plus_its_linked_cluster(event):
    scene = build_scene(event)
    electrons = scene.layer("Electrons/AnalysisElectrons")
    track = scene.layer("Tracks/InDetTrackParticles")
    np.testing.assert_allclose(electrons.segments, track.segments[track.segment_owner == 0])
    cluster = scene.layer("CaloClusters/egammaClusters").triangles
    np.testing.assert_allclose(electrons.triangles[-len(cluster) :], cluster)


def test_muons_are_carried_out_to_the_muon_system(event):
    muons = build_scene(event).layer("Muons/AnalysisMuons")
    for index in (0, 1):  # linked inner track only / no track at all
        points = muons.segments[muons.segment_owner == index].reshape(-1, 3)
        transverse = np.hypot(points[:, 0], points[:, 1])
        depth = np.maximum(transverse / MUON_SYSTEM.r, np.abs(points[:, 2]) / MUON_SYSTEM.z)
        assert depth.max() == pytest.approx(1.0, rel=1e-6)
        assert depth.max() * MUON_SYSTEM.r > MUON_REACHED.r
    # the second muon goes along its own (eta, phi)
    points = muons.segments[muons.segment_owner == 1].reshape(-1, 3)
    far = points[np.argmax(np.linalg.norm(points, axis=1))]
    direction = shapes.directions(np.array([1.2]), np.array([2.5]))[0]
    np.testing.assert_allclose(far / np.linalg.norm(far), direction, atol=1e-9)


def test_muon_track_collections_reach_the_muon_system(event):
    layer = build_scene(event).layer("Tracks/ExtrapolatedMuonTrackParticles")
    assert np.linalg.norm(layer.segments[-1, 1]) == pytest.approx(9000.0)


def test_vertices_are_small_spheres_at_their_position(event):
    vertices = build_scene(event).layer("Vertices/PrimaryVertices")
    centre = vertices.triangles.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(centre, [0.1, -0.2, 12.0], atol=0.5)
    assert np.abs(vertices.triangles.reshape(-1, 3) - [0.1, -0.2, 12.0]).max() < 15.0
    assert vertices.cut_variable is None


def test_missing_energy_is_a_dashed_arrow_in_the_transverse_plane(event):
    met = build_scene(event).layer("MissingEnergy/MET")
    assert met.props["pt"][0] == pytest.approx(50000.0)
    assert np.abs(met.segments[..., 2]).max() == 0.0
    assert len(met.segments) > 3  # dashes, not one line
    gaps = np.linalg.norm(met.segments[1:, 0] - met.segments[:-1, 1], axis=1)
    assert (gaps > 10.0).all()
    tip = met.triangles.reshape(-1, 3)
    far = tip[np.argmax(np.linalg.norm(tip, axis=1))]
    assert math.atan2(far[1], far[0]) == pytest.approx(math.atan2(4, 3), abs=1e-6)
    small = build_scene({"MissingEnergy": {"MET": [{"etx": 1000.0, "ety": 0.0}]}})
    head = small.layer("MissingEnergy/MET").triangles.reshape(-1, 3)
    length = head[:, 0].max()
    assert head[:, 1].max() < 0.2 * length  # a small arrow keeps its shape, no blob


def test_hits_are_points_in_any_phoenix_spelling(event):
    hits = build_scene(event).layer("Hits/Pixel")
    np.testing.assert_allclose(hits.points[:, 0], [30.0, 50.0, 70.0])


def test_odd_files_give_notes_not_errors():
    odd = {
        "eventNumber": 1,
        "Tracks": {"T": [{"pos": "nonsense"}, {"dparams": [1, 2]}, None, 5]},
        "Jets": {"J": [{"eta": "x", "phi": 0.1, "energy": 1e4}], "bad": "not a list"},
        "Muons": {"M": [{"LinkedTracks": ["Nowhere:3", "T:99", 7]}]},
        "PlanarCaloCells": {"cells": [{"a": 1}, {"a": 2}]},
    }
    scene = build_scene(odd)
    assert [layer.key for layer in scene.layers] == ["Tracks/T", "Jets/J", "Muons/M"]
    assert (
        "cells: not drawn, a PlanarCaloCells collection is an object with a `plane` and a list "
        "of `cells`"
    ) in scene.notes
    assert "bad: not drawn, a Jets collection is a list of objects" in scene.notes
    assert (
        "T: 4 of 4 objects not drawn (they lack a `pos`, `dparams` or eta and phi)" in scene.notes
    )
    assert all(len(drawn_objects(layer)) == 0 for layer in scene.layers)


def test_phoenix_example_file_draws(phoenix_example):
    event = json.loads(phoenix_example.read_text())["Test"]
    scene = build_scene(event)
    sizes = {layer.key: layer.size for layer in scene.layers}
    assert sizes == {"Tracks/TestTracks": 9, "Jets/TestJets": 9, "CaloClusters/TestClusters": 9}
    for layer in scene.layers:
        assert len(drawn_objects(layer)) == 9
        assert np.isfinite(layer.segments).all() and np.isfinite(layer.triangles).all()


def test_invariant_mass_of_two_leptons():
    event = {
        "Muons": {
            "M": [
                {"pT": 45000.0, "eta": 0.0, "phi": 0.0, "charge": 1},
                {"pT": 45000.0, "eta": 0.0, "phi": math.pi, "charge": -1},
            ]
        }
    }
    muons = build_scene(event).layer("Muons/M")
    mass = invariant_mass([muons, muons], [0, 1])
    expected = 2 * math.sqrt(45.0**2 + 0.105658**2)
    assert mass == pytest.approx(expected, rel=1e-9)
    assert can_add_to_mass(muons, 0)
    info = object_info(muons, 1)
    assert info == {
        "Type": "muon",
        "Collection": "M",
        "pT": "45.00 GeV",
        "eta": "0.000",
        "phi": "3.142",
        "E": "45.00 GeV",
        "charge": "-1",
    }


def test_shape_helpers():
    np.testing.assert_allclose(np.linalg.norm(shapes.unit_sphere(), axis=-1), 1.0)
    assert shapes.unit_box().shape == (12, 3, 3)
    points, owner = shapes.sample_segments(
        np.array([[[0.0, 0, 0], [100.0, 0, 0]]]), np.array([3]), 25.0
    )
    np.testing.assert_allclose(points[:, 0], [0.0, 25.0, 50.0, 75.0])
    assert owner.tolist() == [3, 3, 3, 3]
