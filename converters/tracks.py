"""Helix propagation of perigee parameters in the ATLAS solenoid, vectorised over all tracks.

A track with perigee parameters (d0, z0, phi0, theta, q/p) moves on a helix in the 2 T solenoid
field along +z: radius of curvature R[mm] = pT[MeV] / (0.3 * B[T]), and a positive particle turns
clockwise seen from +z. Outside the field region the track goes on in a straight line.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

FIELD_TESLA = 2.0
# Field region: the solenoid's inner radius and half length (JINST 3 S08003, Sec. 2.1.1).
FIELD_RADIUS = 1150.0
FIELD_HALF_LENGTH = 2650.0
# The largest sagitta (mm) allowed between two drawn points of a helix.
SAGITTA_TOLERANCE = 0.5
MAX_POINTS = 64
# Phoenix replaces tracks of 2 or fewer `pos` points by its own extrapolation: write at least 3.
MIN_POINTS = 3


@dataclass(frozen=True)
class Envelope:
    """How far tracks are drawn: a cylinder of radius `r` and half length `z` (mm)."""

    r: float
    z: float


INNER_DETECTOR = Envelope(1100.0, 3000.0)
MUON_SYSTEM = Envelope(10000.0, 21000.0)
ENVELOPES = {"inner": INNER_DETECTOR, "muon": MUON_SYSTEM}


def curvature_radius(pt_mev: np.ndarray, field_tesla: float = FIELD_TESLA) -> np.ndarray:
    """Radius of curvature in mm of a track of transverse momentum pT (MeV)."""
    return pt_mev / (0.3 * field_tesla)


def track_kinematics(theta: np.ndarray, qop: np.ndarray) -> dict[str, np.ndarray]:
    """pT (MeV), eta and charge from the polar angle and q/p (1/MeV)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pt = np.abs(np.sin(theta) / qop)
        eta = -np.log(np.tan(theta / 2.0))
    return {"pt": pt, "eta": eta, "charge": np.sign(qop)}


def helix_path_length(
    radius: np.ndarray, cot_theta: np.ndarray, z0: np.ndarray, limit: Envelope
) -> np.ndarray:
    """Transverse path length from the perigee to where the helix leaves the `limit` cylinder."""
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.clip(limit.r / (2.0 * radius), 0.0, 1.0)
        s_radial = np.where(limit.r < 2.0 * radius, 2.0 * radius * np.arcsin(reach), np.pi * radius)
        s_longitudinal = np.where(
            cot_theta != 0, (np.sign(cot_theta) * limit.z - z0) / cot_theta, np.inf
        )
    return np.maximum(np.minimum(s_radial, s_longitudinal), 0.0)


def points_per_track(turning_angle: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """How many points draw each helix within the sagitta tolerance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.minimum(0.2, np.sqrt(8.0 * SAGITTA_TOLERANCE / radius))
        count = np.ceil(np.abs(turning_angle) / step) + 1
    count = np.nan_to_num(count, nan=MIN_POINTS)
    return np.clip(count, MIN_POINTS, MAX_POINTS).astype(np.int64)


def straight_exit(position: np.ndarray, direction: np.ndarray, envelope: Envelope) -> np.ndarray:
    """Where straight lines from `position` along `direction` (N, 3) leave the envelope."""
    px, py, pz = position.T
    dx, dy, dz = direction.T
    transverse = np.hypot(dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = transverse**2
        b = px * dx + py * dy
        c = px**2 + py**2 - envelope.r**2
        t_radial = np.where(a > 0, (-b + np.sqrt(np.maximum(b**2 - a * c, 0.0))) / a, np.inf)
        t_longitudinal = np.where(dz != 0, (np.sign(dz) * envelope.z - pz) / dz, np.inf)
    t = np.maximum(np.minimum(t_radial, t_longitudinal), 0.0)
    return position + direction * t[:, None]


@dataclass(frozen=True)
class Helices:
    """Per-track helix constants: x = cx - a sin(phi), y = cy + a cos(phi), phi = phi0 - s / a."""

    a: np.ndarray  # signed radius R / q (mm)
    cx: np.ndarray
    cy: np.ndarray
    phi0: np.ndarray
    z0: np.ndarray
    cot_theta: np.ndarray

    def at(self, s: np.ndarray, track: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Points (N, 3) at transverse path lengths `s` along helices `track`."""
        a = self.a[track]
        phi = self.phi0[track] - s / a
        points = np.empty((len(phi), 3))
        np.subtract(self.cx[track], a * np.sin(phi), out=points[:, 0])
        np.add(self.cy[track], a * np.cos(phi), out=points[:, 1])
        np.add(self.z0[track], s * self.cot_theta[track], out=points[:, 2])
        return points


def propagate_flat(
    d0: np.ndarray,
    z0: np.ndarray,
    phi0: np.ndarray,
    theta: np.ndarray,
    qop: np.ndarray,
    envelope: Envelope,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (M, 3) along every track and the number of points of each track."""
    d0, z0, phi0, theta, qop = (np.asarray(v, dtype=np.float64) for v in (d0, z0, phi0, theta, qop))
    kinematics = track_kinematics(theta, qop)
    charge = np.where(kinematics["charge"] == 0, 1.0, kinematics["charge"])
    radius = curvature_radius(np.nan_to_num(kinematics["pt"], nan=1e12, posinf=1e12))
    cot_theta = np.cos(theta) / np.sin(theta)
    signed = radius / charge
    helices = Helices(
        a=signed,
        cx=(signed - d0) * np.sin(phi0),
        cy=(d0 - signed) * np.cos(phi0),
        phi0=phi0,
        z0=z0,
        cot_theta=cot_theta,
    )
    field_region = Envelope(min(envelope.r, FIELD_RADIUS), min(envelope.z, FIELD_HALF_LENGTH))
    path = helix_path_length(radius, cot_theta, z0, field_region)
    on_helix = points_per_track(path / radius, radius)

    # Beyond the field region tracks go straight on to the envelope; loopers never get there.
    last = helices.at(path)
    phi_end = phi0 - path / signed
    direction = np.stack([np.cos(phi_end), np.sin(phi_end), cot_theta], axis=1)
    exits = straight_exit(last, direction, envelope)
    goes_on = (np.linalg.norm(exits - last, axis=1) > 1.0) & (path < 0.999 * np.pi * radius)

    counts = on_helix + goes_on
    ends = np.cumsum(counts)
    # Every point on its track's helix; for tracks that go on, the last is then their exit.
    step = np.arange(int(counts.sum())) - np.repeat(ends - counts, counts)
    s = step * np.repeat(path / (on_helix - 1), counts)
    points = helices.at(s, np.repeat(np.arange(len(d0)), counts))
    points[ends[goes_on] - 1] = exits[goes_on]
    return points, counts


def propagate(tracks: ak.Array, envelope: Envelope) -> ak.Array:
    """Helix points per track for a jagged (events x tracks) record array with perigee fields."""
    flat = {
        key: ak.to_numpy(ak.flatten(tracks[key])) for key in ("d0", "z0", "phi", "theta", "qop")
    }
    points, counts = propagate_flat(
        flat["d0"], flat["z0"], flat["phi"], flat["theta"], flat["qop"], envelope
    )
    per_track = ak.unflatten(points, counts)
    return ak.unflatten(per_track, ak.num(tracks, axis=1))
