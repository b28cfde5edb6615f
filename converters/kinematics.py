"""Four-vectors and event-level quantities, computed with the `vector` library."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from converters.read import EventBatch

vector.register_awkward()

# Objects entering the approximate missing transverse energy (MeV).
MET_JET_PT_MIN = 20_000.0
MET_OVERLAP_DELTA_R = 0.2
MET_NOTE = (
    "approximate MET: minus the vector sum of electrons, muons, photons, jets (pT > 20 GeV,"
    " not within dR < 0.2 of an electron or photon) and the PHYSLITE soft-track term"
    " (PVSoftTrkCore); not the official ATLAS MET"
)


def momenta(records: ak.Array, default_mass: float = 0.0) -> ak.Array:
    """Lorentz vectors (pt, eta, phi, mass) of a jagged record array."""
    mass = records["m"] if "m" in records.fields else ak.zeros_like(records["pt"]) + default_mass
    return ak.zip(
        {"pt": records["pt"], "eta": records["eta"], "phi": records["phi"], "mass": mass},
        with_name="Momentum4D",
    )


def energy(records: ak.Array, default_mass: float = 0.0) -> ak.Array:
    """Energy of every object (same units as pt)."""
    return momenta(records, default_mass).energy


def not_near(objects: ak.Array, others: ak.Array, delta_r: float) -> ak.Array:
    """Mask of `objects` farther than `delta_r` from every one of `others` in the same event."""
    pairs = ak.cartesian([momenta(objects), momenta(others)], axis=1, nested=True)
    near = pairs["0"].deltaR(pairs["1"]) < delta_r
    return ~ak.any(near, axis=2)


def met_objects(batch: EventBatch) -> list[ak.Array]:
    """The calibrated objects the approximate MET balances."""
    electrons = batch.collections.get("AnalysisElectrons")
    photons = batch.collections.get("AnalysisPhotons")
    muons = batch.collections.get("AnalysisMuons")
    jets = batch.collections.get("AnalysisJets")
    objects = [o for o in (electrons, muons, photons) if o is not None]
    if jets is not None:
        jets = jets[jets["pt"] > MET_JET_PT_MIN]
        for egamma in (electrons, photons):
            if egamma is not None:
                jets = jets[not_near(jets, egamma, MET_OVERLAP_DELTA_R)]
        objects.append(jets)
    return objects


def missing_et(batch: EventBatch) -> tuple[np.ndarray, np.ndarray, str]:
    """Missing transverse momentum (x, y in MeV) per event and how it was obtained."""
    if batch.met is not None:
        return batch.met[0], batch.met[1], "missing transverse energy as stored in the ntuple"
    mex = np.zeros(len(batch))
    mey = np.zeros(len(batch))
    for objects in met_objects(batch):
        vectors = momenta(objects)
        mex -= ak.to_numpy(ak.sum(vectors.px, axis=1))
        mey -= ak.to_numpy(ak.sum(vectors.py, axis=1))
    if batch.met_soft_track is not None:
        mex += batch.met_soft_track[0]
        mey += batch.met_soft_track[1]
    return mex, mey, MET_NOTE
