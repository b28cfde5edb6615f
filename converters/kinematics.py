"""Four-vectors and event-level quantities on flat columns.

Energies and masses come from the `vector` library; the transverse sums of the MET and the
ΔR of its overlap removal, run over every object of a chunk, are a few numpy expressions.
"""

from __future__ import annotations

import numpy as np

from converters.flat import Objects
from converters.read import EventBatch
from converters.vectors import vector_module

# Objects entering the approximate missing transverse energy (MeV).
MET_JET_PT_MIN = 20_000.0
MET_OVERLAP_DELTA_R = 0.2
MET_NOTE = (
    "approximate MET: minus the vector sum of electrons, muons, photons, jets (pT > 20 GeV,"
    " not within dR < 0.2 of an electron or photon) and the PHYSLITE soft-track term"
    " (PVSoftTrkCore); not the official ATLAS MET"
)


def momenta(objects: Objects, default_mass: float = 0.0):
    """Lorentz vectors (pt, eta, phi, mass) of every object (a vector.MomentumNumpy4D)."""
    mass = objects["m"] if "m" in objects else np.full(objects.size, default_mass)
    columns = {"pt": objects["pt"], "eta": objects["eta"], "phi": objects["phi"], "mass": mass}
    return vector_module().array(
        {key: np.asarray(value, np.float64) for key, value in columns.items()}
    )


def energy(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Energy of every object (same units as pt)."""
    return np.asarray(momenta(objects, default_mass).energy)


def summed_mass(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Invariant mass of all objects of each event together (0 for none)."""
    vectors = momenta(objects, default_mass)
    total = vector_module().array(
        {
            "px": objects.sum(vectors.px),
            "py": objects.sum(vectors.py),
            "pz": objects.sum(vectors.pz),
            "E": objects.sum(vectors.E),
        }
    )
    return np.asarray(total.mass)


def pair_mass(objects: Objects, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Invariant mass of the object pairs (rows first[i], second[i])."""
    vectors = momenta(objects)
    return np.asarray((vectors[first] + vectors[second]).mass)


def wrapped(angle: np.ndarray) -> np.ndarray:
    """Angles brought into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def not_near(objects: Objects, others: Objects, delta_r: float) -> np.ndarray:
    """Mask of `objects` farther than `delta_r` from every one of `others` in the same event."""
    mine, theirs = objects.pairs_with(others)
    eta = (
        np.asarray(objects["eta"], np.float64)[mine] - np.asarray(others["eta"], np.float64)[theirs]
    )
    phi = wrapped(
        np.asarray(objects["phi"], np.float64)[mine] - np.asarray(others["phi"], np.float64)[theirs]
    )
    near = eta * eta + phi * phi < delta_r * delta_r
    return np.bincount(mine[near], minlength=objects.size) == 0


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
                keep &= not_near(jets, egamma, MET_OVERLAP_DELTA_R)
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
