"""Helix propagation: curvature, bending direction, reach and vectorisation."""

import awkward as ak
import numpy as np
import pytest

from converters.tracks import (
    FIELD_RADIUS,
    INNER_DETECTOR,
    MUON_SYSTEM,
    curvature_radius,
    propagate,
    propagate_flat,
    track_kinematics,
)


def single(d0=0.0, z0=0.0, phi=0.0, theta=np.pi / 2, qop=1e-3, envelope=INNER_DETECTOR):
    """Points of one track."""
    points, counts = propagate_flat(
        np.array([d0]),
        np.array([z0]),
        np.array([phi]),
        np.array([theta]),
        np.array([qop]),
        envelope,
    )
    assert counts.sum() == len(points)
    return points


def circle_radius(points: np.ndarray) -> float:
    """Radius of the circle through three points of the transverse projection."""
    (ax, ay), (bx, by), (cx, cy) = points[0, :2], points[len(points) // 2, :2], points[-1, :2]
    a, b, c = np.hypot(bx - cx, by - cy), np.hypot(ax - cx, ay - cy), np.hypot(ax - bx, ay - by)
    area = abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / 2
    return a * b * c / (4 * area)


def test_radius_of_curvature_follows_pt_over_0_3_b():
    # R[m] = pT[GeV] / (0.3 * 2 T): 1 GeV -> 1.667 m, in mm from MeV.
    assert curvature_radius(np.array([1000.0]))[0] == pytest.approx(1666.67, rel=1e-4)
    points = single(qop=1 / 1000.0)
    assert circle_radius(points) == pytest.approx(1666.67, rel=1e-3)


@pytest.mark.parametrize("pt_gev", [0.8, 2.0, 5.0, 20.0])
def test_drawn_helix_has_the_curvature_of_its_pt(pt_gev):
    points = single(qop=1 / (pt_gev * 1000.0))
    assert circle_radius(points) == pytest.approx(pt_gev * 1000 / 0.6, rel=2e-3)


def test_positive_tracks_bend_clockwise_negative_anticlockwise():
    positive = single(qop=1 / 2000.0)
    negative = single(qop=-1 / 2000.0)
    # Starting along +x, a positive particle in B along +z turns towards -y.
    assert positive[-1, 1] < -50
    assert negative[-1, 1] > 50
    assert np.allclose(positive[:, 1], -negative[:, 1])


def test_tracks_start_at_the_perigee_and_stop_at_the_inner_detector_envelope():
    d0, z0, phi = 0.05, 12.0, 0.7
    points = single(d0=d0, z0=z0, phi=phi, theta=1.2, qop=1 / 10000.0)
    assert points[0] == pytest.approx([-d0 * np.sin(phi), d0 * np.cos(phi), z0])
    radius = np.hypot(points[:, 0], points[:, 1])
    assert radius.max() == pytest.approx(INNER_DETECTOR.r, abs=0.5)
    assert np.all(np.diff(radius) > 0)


def test_forward_tracks_stop_at_the_end_of_the_envelope():
    points = single(theta=0.1, qop=1 / 50000.0)
    assert points[-1, 2] == pytest.approx(INNER_DETECTOR.z, abs=0.5)


def test_slope_in_z_follows_theta():
    theta = 0.9
    points = single(theta=theta, qop=1 / 3000.0)
    path = np.cumsum(np.r_[0, np.hypot(np.diff(points[:, 0]), np.diff(points[:, 1]))])
    assert np.allclose(points[:, 2], path / np.tan(theta), atol=0.5)


def test_muon_tracks_go_on_straight_outside_the_solenoid():
    points = single(phi=0.3, qop=1 / 40000.0, envelope=MUON_SYSTEM)
    radius = np.hypot(points[:, 0], points[:, 1])
    assert radius[-2] == pytest.approx(FIELD_RADIUS, abs=1)
    assert radius[-1] == pytest.approx(MUON_SYSTEM.r, abs=1)


def test_low_pt_loopers_stay_inside():
    points = single(qop=1 / 200.0)  # R = 333 mm: curls inside the inner detector
    radius = np.hypot(points[:, 0], points[:, 1])
    assert radius.max() == pytest.approx(2 * 333.33, rel=0.01)


def test_straight_tracks_need_few_points_and_curved_ones_more():
    _, counts = propagate_flat(
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        np.full(2, 1.4),
        np.array([1e-6, 1e-3]),
        INNER_DETECTOR,
    )
    assert counts[0] <= 3 < counts[1]


def test_kinematics_from_perigee():
    values = track_kinematics(
        np.array([np.pi / 2, 2 * np.arctan(np.exp(-1.5))]), np.array([-1e-4, 2e-4])
    )
    assert values["pt"] == pytest.approx([10000.0, np.sin(2 * np.arctan(np.exp(-1.5))) / 2e-4])
    assert values["eta"] == pytest.approx([0.0, 1.5])
    assert values["charge"].tolist() == [-1, 1]


def test_jagged_propagation_keeps_events_and_tracks_apart():
    tracks = ak.zip(
        {
            "d0": [[0.0, 0.0], [], [0.0]],
            "z0": [[0.0, 5.0], [], [1.0]],
            "phi": [[0.0, 1.0], [], [2.0]],
            "theta": [[1.0, 2.0], [], [1.5]],
            "qop": [[1e-3, -1e-4], [], [1e-5]],
        }
    )
    points = propagate(tracks, INNER_DETECTOR)
    assert ak.num(points, axis=1).tolist() == [2, 0, 1]
    assert points[0][1][0].tolist() == pytest.approx([0.0, 0.0, 5.0])


@pytest.mark.parametrize("pt_gev", [0.5, 5.0, 50.0, 500.0, 5000.0])
@pytest.mark.parametrize("theta", [0.02, 0.4, np.pi / 2])
def test_every_track_has_at_least_three_distinct_points(pt_gev, theta):
    """Phoenix (phoenix-objects.ts, getTrack) replaces tracks of fewer than 3 `pos` points by
    its own extrapolation from `dparams`: ours always have 3 or more, along the helix."""
    for envelope in (INNER_DETECTOR, MUON_SYSTEM):
        points = single(theta=theta, qop=1 / (pt_gev * 1000.0), envelope=envelope)
        assert len(points) >= 3
        steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
        assert np.all(steps > 0)


def test_converted_tracks_are_drawn_from_their_own_points(physlite_example):
    from converters import convert_events

    events = convert_events(physlite_example)
    counts = [
        len(track["pos"])
        for event in events.values()
        for tracks in event["Tracks"].values()
        for track in tracks
    ]
    assert len(counts) > 1000
    assert min(counts) >= 3
