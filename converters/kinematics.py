"""Four-vectors and event-level quantities, computed with the `vector` library on flat columns."""

from __future__ import annotations

import numpy as np
import vector

from converters.flat import Objects
from converters.read import EventBatch

# Objects entering the approximate missing transverse energy (MeV).
MET_JET_PT_MIN = 20_000.0
MET_OVERLAP_DELTA_R = 0.2
MET_NOTE = (
    "approximate MET: minus the vector sum of electrons, muons, photons, jets (pT > 20 GeV,"
    " not within dR < 0.2 of an electron or photon) and the PHYSLITE soft-track term"
    " (PVSoftTrkCore); not the official ATLAS MET"
)


def momenta(objects: Objects, default_mass: float = 0.0) -> vector.MomentumNumpy4D:
    """Lorentz vectors (pt, eta, phi, mass) of every object."""
    mass = objects["m"] if "m" in objects else np.full(objects.size, default_mass)
    columns = {"pt": objects["pt"], "eta": objects["eta"], "phi": objects["phi"], "mass": mass}
    return vector.array({key: np.asarray(value, np.float64) for key, value in columns.items()})


def energy(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Energy of every object (same units as pt)."""
    return np.asarray(momenta(objects, default_mass).energy)


def summed_mass(objects: Objects, default_mass: float = 0.0) -> np.ndarray:
    """Invariant mass of all objects of each event together (0 for none)."""
    vectors = momenta(objects, default_mass)
    total = vector.array(
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


def not_near(objects: Objects, others: Objects, delta_r: float) -> np.ndarray:
    """Mask of `objects` farther than `delta_r` from every one of `others` in the same event."""
    mine, theirs = objects.pairs_with(others)
    near = momenta(objects)[mine].deltaR(momenta(others)[theirs]) < delta_r
    return np.bincount(mine[near], minlength=objects.size) == 0


def met_objects(batch: EventBatch) -> list[Objects]:
    """The calibrated objects the approximate MET balances."""
    electrons = batch.collections.get("AnalysisElectrons")
    photons = batch.collections.get("AnalysisPhotons")
    muons = batch.collections.get("AnalysisMuons")
    jets = batch.collections.get("AnalysisJets")
    objects = [o for o in (electrons, muons, photons) if o is not None]
    if jets is not None:
        keep = jets["pt"] > MET_JET_PT_MIN
        for egamma in (electrons, photons):
            if egamma is not None:
                keep &= not_near(jets, egamma, MET_OVERLAP_DELTA_R)
        objects.append(jets.where(keep))
    return objects


def missing_et(batch: EventBatch) -> tuple[np.ndarray, np.ndarray, str]:
    """Missing transverse momentum (x, y in MeV) per event and how it was obtained."""
    if batch.met is not None:
        return batch.met[0], batch.met[1], "missing transverse energy as stored in the ntuple"
    mex = np.zeros(len(batch))
    mey = np.zeros(len(batch))
    for objects in met_objects(batch):
        vectors = momenta(objects)
        mex -= objects.sum(np.asarray(vectors.px))
        mey -= objects.sum(np.asarray(vectors.py))
    if batch.met_soft_track is not None:
        mex += batch.met_soft_track[0]
        mey += batch.met_soft_track[1]
    return mex, mey, MET_NOTE
