"""Event batches -> one flat row per event for the histogram lab (GeV, radians)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from converters.flat import Objects, concatenate, first_true
from converters.kinematics import energy, missing_et, pair_mass, summed_mass
from converters.read import ELECTRON_MASS, MUON_MASS, EventBatch

GEV = 1000.0
# Objects counted and listed in the columns (MeV): the usual analysis acceptance.
ELECTRON_CUTS = (7_000.0, 2.47)
MUON_CUTS = (7_000.0, 2.7)
PHOTON_CUTS = (10_000.0, 2.37)
JET_CUTS = (20_000.0, 4.5)
BJET_MAX_ETA = 2.5
LEPTON_FIELDS = ("pt", "eta", "phi", "e", "charge", "flavour")
JET_FIELDS = ("pt", "eta", "phi", "e")
PHOTON_FIELDS = ("pt", "eta", "phi", "e")


def accepted(objects: Objects | None, cuts: tuple[float, float]) -> Objects | None:
    """Objects above the pT threshold and inside the |eta| range."""
    if objects is None:
        return None
    pt_min, eta_max = cuts
    return objects.where((objects["pt"] > pt_min) & (np.abs(objects["eta"]) < eta_max))


def leading_first(objects: Objects | None, events: int) -> Objects:
    """Objects with their energy `e`, ordered by decreasing pT within each event.

    Files keep objects in the order they were reconstructed, not by calibrated pT (a fifth of
    real PHYSLITE events have jets out of pT order): "leading" means highest pT.
    """
    if objects is None:
        return Objects.empty(events, ("pt", "eta", "phi", "m", "e"))
    return objects.with_columns(e=energy(objects)).sorted_by(objects["pt"])


def leptons(batch: EventBatch) -> Objects:
    """Accepted electrons and muons, pT-ordered, with mass, energy and flavour 11 or 13."""
    parts = []
    for name, cuts, mass, flavour in (
        ("AnalysisElectrons", ELECTRON_CUTS, ELECTRON_MASS, 11),
        ("AnalysisMuons", MUON_CUTS, MUON_MASS, 13),
    ):
        objects = accepted(batch.collections.get(name), cuts)
        if objects is None:
            continue
        kept = Objects(objects.offsets, {key: objects[key] for key in ("pt", "eta", "phi")})
        kept = kept.with_columns(
            charge=objects["charge"].astype(np.float64),
            m=np.full(kept.size, mass),
            flavour=np.full(kept.size, flavour, dtype=np.int64),
        )
        parts.append(kept.with_columns(e=energy(kept)))
    if not parts:
        return Objects.empty(len(batch), (*LEPTON_FIELDS, "m"))
    merged = concatenate(parts)
    return merged.sorted_by(merged["pt"])


def leading_ossf_mass(leps: Objects) -> np.ndarray:
    """Mass of the leading opposite-charge same-flavour lepton pair (GeV), NaN if none."""
    first, second = leps.pairs()
    good = (leps["flavour"][first] == leps["flavour"][second]) & (
        leps["charge"][first] * leps["charge"][second] < 0
    )
    chosen = first_true(good, leps.event[first], leps.events)
    found = chosen >= 0
    masses = np.full(leps.events, np.nan)
    masses[found] = pair_mass(leps, first[chosen[found]], second[chosen[found]]) / GEV
    return masses


def first_n_mass(objects: Objects, count: int) -> np.ndarray:
    """Mass of exactly the `count` leading objects (GeV), NaN with fewer."""
    return np.where(objects.counts >= count, summed_mass(objects.first(count)) / GEV, np.nan)


def transverse_mass(leps: Objects, mex: np.ndarray, mey: np.ndarray) -> np.ndarray:
    """W transverse mass of the leading lepton and the missing transverse momentum (GeV)."""
    pt = leps.leading("pt", 1)[:, 0]
    phi = leps.leading("phi", 1)[:, 0]
    met = np.hypot(mex, mey)
    return np.sqrt(np.maximum(2 * pt * met * (1 - np.cos(phi - np.arctan2(mey, mex))), 0)) / GEV


def object_columns(
    prefix: str, objects: Objects, count: int, fields: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Columns prefix1_pt ... for the `count` leading objects (momenta in GeV)."""
    values = {name: objects.leading(name, count) for name in fields}
    for name in ("pt", "e"):
        if name in values:
            values[name] = values[name] / GEV
    return {
        f"{prefix}{index + 1}_{name}": values[name][:, index]
        for index in range(count)
        for name in fields
    }


def columns(
    batch: EventBatch, max_leptons: int = 4, max_jets: int = 4, max_photons: int = 2
) -> dict[str, np.ndarray]:
    """The flat per-event columns of a batch, in a stable order."""
    table: dict[str, np.ndarray] = {}
    # The event's numbers first, then any further weights the reading plan kept.
    for name in ("run", "event", "mc_channel", "weight", *batch.info):
        if name in batch.info and name != "lumi_block":
            table[name] = batch.info[name]
    events = len(batch)
    leps = leptons(batch)
    photons = leading_first(accepted(batch.collections.get("AnalysisPhotons"), PHOTON_CUTS), events)
    jets = leading_first(accepted(batch.collections.get("AnalysisJets"), JET_CUTS), events)
    has_btag = "btag" in jets
    table["n_electrons"] = leps.count(leps["flavour"] == 11)
    table["n_muons"] = leps.count(leps["flavour"] == 13)
    table["n_leptons"] = leps.counts
    table["n_photons"] = photons.counts
    table["n_jets"] = jets.counts
    if has_btag:
        table["n_bjets"] = jets.count(jets["btag"] & (np.abs(jets["eta"]) < BJET_MAX_ETA))
    table |= object_columns("lep", leps, max_leptons, LEPTON_FIELDS)
    jet_fields = (*JET_FIELDS, "btag") if has_btag else JET_FIELDS
    table |= object_columns("jet", jets, max_jets, jet_fields)
    table |= object_columns("photon", photons, max_photons, PHOTON_FIELDS)
    mex, mey, _ = missing_et(batch)
    table["met"] = np.hypot(mex, mey) / GEV
    table["met_phi"] = np.arctan2(mey, mex)
    table["m_ll"] = leading_ossf_mass(leps)
    table["m_4l"] = first_n_mass(leps, 4)
    table["m_yy"] = first_n_mass(photons, 2)
    table["mt_w"] = transverse_mass(leps, mex, mey)
    return table


def arrow_array(values: np.ndarray) -> pa.Array:
    """A numeric numpy column as an Arrow array, without a copy (NaN stays a value).

    pyarrow's own conversion imports pandas on first use (0.3 s of a short run's start-up).
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iuf" or values.ndim != 1:
        return pa.array(values)
    values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def arrow_table(
    values: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> pa.Table:
    """A pyarrow table of the columns, with `metadata` in its schema."""
    table = pa.table({name: arrow_array(column) for name, column in values.items()})
    merged = {**(table.schema.metadata or {}), **{k: str(v) for k, v in (metadata or {}).items()}}
    return table.replace_schema_metadata(merged)
