"""Charged-particle tracks: perigee helix parameters, tracks in jets, soft tracks (MeV, mm)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sample_events.detector import TRACKER_MAX_ETA, wrap_phi

GEV = 1000.0
PROMPT_D0_SIGMA = 0.02  # mm
PROMPT_Z0_SIGMA = 0.05  # mm, around the primary vertex
B_DECAY_D0_SCALE = 0.25  # mm, impact parameters from b-hadron flight
ID_RESOLUTION = (5e-4, 0.01)  # sigma(pT)/pT = a * pT/GeV (+) b
MIN_TRACK_PT = 1 * GEV  # tracks inside jets below this are thinned away, as in PHYSLITE
CHARGED_FRACTION = 0.6  # share of a jet's pT carried by charged particles


@dataclass(frozen=True)
class Tracks:
    """Flat tracks: their event, perigee parameters and (for display) the pT they stand for."""

    event: np.ndarray
    d0: np.ndarray
    z0: np.ndarray
    phi: np.ndarray
    theta: np.ndarray
    qOverP: np.ndarray  # the PHYSLITE name, charge / momentum in 1/MeV

    @classmethod
    def from_kinematics(
        cls,
        event: np.ndarray,
        pt: np.ndarray,
        eta: np.ndarray,
        phi: np.ndarray,
        charge: np.ndarray,
        d0: np.ndarray,
        z0: np.ndarray,
    ) -> Tracks:
        """Helix parameters of charged particles: theta from eta, q/p in 1/MeV."""
        return cls(
            event=np.asarray(event, dtype=np.int64),
            d0=d0,
            z0=z0,
            phi=wrap_phi(phi),
            theta=2.0 * np.arctan(np.exp(-eta)),
            qOverP=charge / (pt * np.cosh(eta)),
        )

    @classmethod
    def concatenate(cls, parts: list[Tracks]) -> Tracks:
        """All tracks of `parts`, grouped by event, keeping the order of `parts` inside events."""
        joined = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        rank = np.concatenate([np.full(len(p.event), i) for i, p in enumerate(parts)])
        order = np.lexsort((rank, joined["event"]))
        return cls(**{name: column[order] for name, column in joined.items()})

    @property
    def pt(self) -> np.ndarray:
        """Transverse momentum from q/p and theta."""
        return np.sin(self.theta) / np.abs(self.qOverP)


def prompt_impact(
    rng: np.random.Generator, event: np.ndarray, vertex_z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """d0 and z0 of tracks from the primary vertex of their event."""
    n = len(event)
    d0 = PROMPT_D0_SIGMA * rng.standard_normal(n)
    z0 = vertex_z[event] + PROMPT_Z0_SIGMA * rng.standard_normal(n)
    return d0, z0


def inner_detector_pt(rng: np.random.Generator, pt: np.ndarray) -> np.ndarray:
    """pT measured by the inner detector alone."""
    sigma = np.hypot(ID_RESOLUTION[0] * pt / GEV, ID_RESOLUTION[1])
    return pt * np.maximum(1.0 + sigma * rng.standard_normal(len(pt)), 0.05)


def jet_tracks(
    rng: np.random.Generator,
    event: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    is_b: np.ndarray,
    vertex_z: np.ndarray,
) -> Tracks:
    """A few charged particles inside each jet within the tracker, sharing its charged pT."""
    central = np.abs(eta) < TRACKER_MAX_ETA
    n_tracks = np.where(central, np.minimum(1 + rng.poisson(pt / (25 * GEV)), 8), 0)
    owner = np.repeat(np.arange(len(pt)), n_tracks)
    share = rng.exponential(1.0, len(owner))
    share /= np.bincount(owner, weights=share, minlength=len(pt))[owner]
    track_pt = CHARGED_FRACTION * pt[owner] * share
    track_eta = eta[owner] + 0.04 * rng.standard_normal(len(owner))
    track_phi = phi[owner] + 0.04 * rng.standard_normal(len(owner))
    charge = rng.choice(np.array([-1.0, 1.0]), len(owner))
    d0, z0 = prompt_impact(rng, event[owner], vertex_z)
    displaced = is_b[owner] & (rng.uniform(size=len(owner)) < 0.6)
    flight = rng.choice(np.array([-1.0, 1.0]), len(owner)) * rng.exponential(
        B_DECAY_D0_SCALE, len(owner)
    )
    d0 = np.where(displaced, d0 + flight, d0)
    kept = (track_pt > MIN_TRACK_PT) & (np.abs(track_eta) < TRACKER_MAX_ETA)
    return Tracks.from_kinematics(
        event[owner][kept],
        track_pt[kept],
        track_eta[kept],
        track_phi[kept],
        charge[kept],
        d0[kept],
        z0[kept],
    )


def soft_tracks(
    rng: np.random.Generator,
    target_px: np.ndarray,
    target_py: np.ndarray,
    vertex_z: np.ndarray,
) -> Tracks:
    """Soft primary-vertex tracks outside all objects whose pT sums exactly to the target."""
    n_events = len(target_px)
    counts = 3 + rng.poisson(4.0, n_events)
    event = np.repeat(np.arange(n_events), counts)
    pt = 0.5 * GEV + rng.exponential(1.0 * GEV, len(event))
    phi = rng.uniform(-np.pi, np.pi, len(event))
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    # Spread what the random tracks miss of the target equally over the tracks of the event.
    missing_x = (target_px - np.bincount(event, weights=px, minlength=n_events)) / counts
    missing_y = (target_py - np.bincount(event, weights=py, minlength=n_events)) / counts
    px, py = px + missing_x[event], py + missing_y[event]
    eta = rng.uniform(-TRACKER_MAX_ETA, TRACKER_MAX_ETA, len(event))
    charge = rng.choice(np.array([-1.0, 1.0]), len(event))
    d0, z0 = prompt_impact(rng, event, vertex_z)
    return Tracks.from_kinematics(event, np.hypot(px, py), eta, np.arctan2(py, px), charge, d0, z0)
