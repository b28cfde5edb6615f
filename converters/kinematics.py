"""Four-vectors and event-level quantities on flat columns, in plain numpy.

The formulas are those of the `vector` library (energy from pT, eta and mass; the mass of a sum
of four-vectors as copysign(sqrt|E² - p²|)); tests/test_kinematics.py checks them against it.
Written out here, the columns need neither vector's import nor its per-call record arrays.
"""

from __future__ import annotations

import numpy as np

from converters.flat import Objects, ragged_arange
from converters.read import EventBatch

# Objects entering the approximate missing transverse energy (MeV).
MET_JET_PT_MIN = 20_000.0
MET_OVERLAP_DELTA_R = 0.2
MET_NOTE = (
    "approximate MET: minus the vector sum of electrons, muons, photons, jets (pT > 20 GeV,"
    " not within dR < 0.2 of an electron or photon) and the PHYSLITE soft-track term"
    " (PVSoftTrkCore); not the official ATLAS MET"
)


def float64(objects: Objects, name: str, default: float = 0.0) -> np.ndarray:
    """A column as float64 (`default` everywhere when the objects do not have it)."""
    if name not in objects:
        return np.full(objects.size, default)
    return np.asarray(objects[name], dtype=np.float64)


def energy(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Energy of every object from pt, eta and mass (same units as pt)."""
    pt, eta = float64(objects, "pt"), float64(objects, "eta")
    mass = float64(objects, "m", default_mass)
    sinh = np.sinh(eta)
    return np.sqrt(np.maximum(mass * mass + pt * pt * (1.0 + sinh * sinh), 0.0))


def cartesian(objects: Objects, default_mass: float = 0.0) -> tuple[np.ndarray, ...]:
    """px, py, pz and E of every object."""
    pt, eta, phi = (float64(objects, name) for name in ("pt", "eta", "phi"))
    return (
        pt * np.cos(phi),
        pt * np.sin(phi),
        pt * np.sinh(eta),
        energy(objects, default_mass),
    )


def mass_of(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Invariant mass of four-momenta (negative for the rounding of a space-like sum)."""
    squared = e * e - (px * px + py * py + pz * pz)
    return np.copysign(np.sqrt(np.abs(squared)), squared)


def summed_mass(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Invariant mass of all objects of each event together (0 for none)."""
    return mass_of(*(objects.sum(part) for part in cartesian(objects, default_mass)))


def pair_mass(objects: Objects, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Invariant mass of the object pairs (rows first[i], second[i])."""
    return mass_of(*(part[first] + part[second] for part in cartesian(objects)))


def near_any(objects: Objects, rows: np.ndarray, others: Objects, delta_r: float) -> np.ndarray:
    """For the objects at `rows`: whether one of `others` in the same event is within `delta_r`.

    Only the pairs of those rows are formed (the MET's jets above threshold, not every jet).
    """
    event = objects.event[rows]
    partners = others.counts[event]
    mine = np.repeat(np.arange(len(rows), dtype=np.int64), partners)
    theirs = ragged_arange(others.offsets[:-1][event], partners)
    eta = np.asarray(objects["eta"][rows], np.float64)[mine] - others["eta"][theirs]
    phi = np.abs(np.asarray(objects["phi"][rows], np.float64)[mine] - others["phi"][theirs])
    phi = np.where(phi > np.pi, 2 * np.pi - phi, phi)
    near = eta * eta + phi * phi < delta_r * delta_r
    return np.bincount(mine[near], minlength=len(rows)) > 0


def transverse_sum(objects: Objects, keep: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Per event, the summed px and py of the objects (of those where `keep`, if given)."""
    pt = np.asarray(objects["pt"], np.float64)
    if keep is not None:
        pt = np.where(keep, pt, 0.0)
    phi = np.asarray(objects["phi"], np.float64)
    return objects.sum(pt * np.cos(phi)), objects.sum(pt * np.sin(phi))


def met_objects(batch: EventBatch) -> list[tuple[Objects, np.ndarray | None]]:
    """The calibrated objects the approximate MET balances, with a mask of those it counts."""
    electrons = batch.collections.get("AnalysisElectrons")
    photons = batch.collections.get("AnalysisPhotons")
    muons = batch.collections.get("AnalysisMuons")
    jets = batch.collections.get("AnalysisJets")
    objects = [(o, None) for o in (electrons, muons, photons) if o is not None]
    if jets is not None:
        keep = jets["pt"] > MET_JET_PT_MIN
        for egamma in (electrons, photons):
            if egamma is not None and egamma.size:
                rows = np.flatnonzero(keep)
                keep[rows[near_any(jets, rows, egamma, MET_OVERLAP_DELTA_R)]] = False
        objects.append((jets, keep))
    return objects


def missing_et(batch: EventBatch) -> tuple[np.ndarray, np.ndarray, str]:
    """Missing transverse momentum (x, y in MeV) per event and how it was obtained."""
    if batch.met is not None:
        return batch.met[0], batch.met[1], "missing transverse energy as stored in the ntuple"
    mex = np.zeros(len(batch))
    mey = np.zeros(len(batch))
    for objects, keep in met_objects(batch):
        px, py = transverse_sum(objects, keep)
        mex -= px
        mey -= py
    if batch.met_soft_track is not None:
        mex += batch.met_soft_track[0]
        mey += batch.met_soft_track[1]
    return mex, mey, MET_NOTE
