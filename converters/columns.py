"""Event batches -> one flat row per event for the histogram lab (GeV, radians)."""

from __future__ import annotations

from collections.abc import Mapping

import awkward as ak
import numpy as np
import pyarrow as pa

from converters.kinematics import missing_et, momenta
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


def accepted(records: ak.Array | None, cuts: tuple[float, float]) -> ak.Array | None:
    """Objects above the pT threshold and inside the |eta| range."""
    if records is None:
        return None
    pt_min, eta_max = cuts
    return records[(records["pt"] > pt_min) & (abs(records["eta"]) < eta_max)]


def with_energy(records: ak.Array, mass: float) -> ak.Array:
    """Records with their four-vector `p4` and energy `e` attached."""
    vectors = momenta(records, mass)
    return ak.with_field(ak.with_field(records, vectors, "p4"), vectors.energy, "e")


def leptons(batch: EventBatch) -> ak.Array:
    """Accepted electrons and muons, pT-ordered, with flavour 11 or 13."""
    parts = []
    for name, cuts, mass, flavour in (
        ("AnalysisElectrons", ELECTRON_CUTS, ELECTRON_MASS, 11),
        ("AnalysisMuons", MUON_CUTS, MUON_MASS, 13),
    ):
        records = accepted(batch.collections.get(name), cuts)
        if records is None:
            continue
        records = with_energy(
            ak.zip({key: records[key] for key in ("pt", "eta", "phi", "charge")}), mass
        )
        flavours = ak.zeros_like(records["pt"], dtype=np.int64) + flavour
        parts.append(ak.with_field(records, flavours, "flavour"))
    if not parts:
        return empty_objects(len(batch))
    merged = ak.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return merged[ak.argsort(merged["pt"], axis=1, ascending=False)]


def empty_objects(length: int) -> ak.Array:
    """No objects in any of `length` events."""
    empty = ak.unflatten(np.zeros(0), np.zeros(length, dtype=np.int64))
    return ak.zip({"pt": empty, "eta": empty, "phi": empty, "charge": empty, "e": empty})


def leading(records: ak.Array, count: int, field_name: str) -> np.ndarray:
    """(events, count) values of the `count` leading objects, NaN where absent."""
    padded = ak.pad_none(records[field_name], count, axis=1, clip=True)
    return ak.to_numpy(ak.fill_none(ak.values_astype(padded, np.float64), np.nan))


def mass_of(vectors: ak.Array) -> np.ndarray:
    """Invariant mass (GeV) of all vectors of each event; NaN where there are none."""
    total = ak.sum(vectors, axis=1)
    present = ak.to_numpy(ak.num(vectors, axis=1)) > 0
    return np.where(present, ak.to_numpy(total.mass) / GEV, np.nan)


def leading_ossf_mass(leps: ak.Array) -> np.ndarray:
    """Mass of the leading opposite-charge same-flavour lepton pair (GeV), NaN if none."""
    pairs = ak.combinations(leps, 2, axis=1, fields=["a", "b"])
    good = (pairs["a"]["flavour"] == pairs["b"]["flavour"]) & (
        pairs["a"]["charge"] * pairs["b"]["charge"] < 0
    )
    first = ak.firsts(pairs[good], axis=1)
    mass = (first["a"]["p4"] + first["b"]["p4"]).mass
    return ak.to_numpy(ak.fill_none(mass, np.nan)) / GEV


def first_n_mass(vectors: ak.Array, count: int) -> np.ndarray:
    """Mass of exactly the `count` leading objects (GeV), NaN with fewer."""
    enough = ak.to_numpy(ak.num(vectors, axis=1)) >= count
    return np.where(enough, mass_of(vectors[:, :count]), np.nan)


def transverse_mass(leps: ak.Array, mex: np.ndarray, mey: np.ndarray) -> np.ndarray:
    """W transverse mass of the leading lepton and the missing transverse momentum (GeV)."""
    pt = leading(leps, 1, "pt")[:, 0]
    phi = leading(leps, 1, "phi")[:, 0]
    met = np.hypot(mex, mey)
    return np.sqrt(np.maximum(2 * pt * met * (1 - np.cos(phi - np.arctan2(mey, mex))), 0)) / GEV


def object_columns(
    prefix: str, records: ak.Array, count: int, fields: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Columns prefix1_pt ... for the `count` leading objects (momenta in GeV)."""
    values = {name: leading(records, count, name) for name in fields}
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
    for name in ("run", "event", "mc_channel", "weight"):
        if name in batch.info:
            table[name] = batch.info[name]
    leps = leptons(batch)
    photons = accepted(batch.collections.get("AnalysisPhotons"), PHOTON_CUTS)
    jets = accepted(batch.collections.get("AnalysisJets"), JET_CUTS)
    photons = with_energy(photons, 0.0) if photons is not None else empty_objects(len(batch))
    has_btag = jets is not None and "btag" in jets.fields
    jets = with_energy(jets, 0.0) if jets is not None else empty_objects(len(batch))
    table["n_electrons"] = ak.to_numpy(ak.sum(leps["flavour"] == 11, axis=1))
    table["n_muons"] = ak.to_numpy(ak.sum(leps["flavour"] == 13, axis=1))
    table["n_leptons"] = ak.to_numpy(ak.num(leps, axis=1))
    table["n_photons"] = ak.to_numpy(ak.num(photons, axis=1))
    table["n_jets"] = ak.to_numpy(ak.num(jets, axis=1))
    if has_btag:
        bjets = jets["btag"] & (abs(jets["eta"]) < BJET_MAX_ETA)
        table["n_bjets"] = ak.to_numpy(ak.sum(bjets, axis=1))
    table |= object_columns("lep", leps, max_leptons, LEPTON_FIELDS)
    jet_fields = (*JET_FIELDS, "btag") if has_btag else JET_FIELDS
    table |= object_columns("jet", jets, max_jets, jet_fields)
    table |= object_columns("photon", photons, max_photons, PHOTON_FIELDS)
    mex, mey, _ = missing_et(batch)
    table["met"] = np.hypot(mex, mey) / GEV
    table["met_phi"] = np.arctan2(mey, mex)
    table["m_ll"] = leading_ossf_mass(leps)
    table["m_4l"] = first_n_mass(leps["p4"], 4) if "p4" in leps.fields else nan_column(len(batch))
    table["m_yy"] = (
        first_n_mass(photons["p4"], 2) if "p4" in photons.fields else nan_column(len(batch))
    )
    table["mt_w"] = transverse_mass(leps, mex, mey)
    return table


def nan_column(length: int) -> np.ndarray:
    """A column of NaN."""
    return np.full(length, np.nan)


def arrow_table(
    values: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> pa.Table:
    """A pyarrow table of the columns, with `metadata` in its schema."""
    table = pa.table({name: pa.array(column) for name, column in values.items()})
    merged = {**(table.schema.metadata or {}), **{k: str(v) for k, v in (metadata or {}).items()}}
    return table.replace_schema_metadata(merged)
