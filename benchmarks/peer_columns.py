"""The columns of `eventlab columns`, as a user would write them: uproot + awkward + vector.

    python peer_columns.py DAOD_PHYSLITE.root columns.parquet

No EventLab: the benchmark (benchmarks/convert.py) copies this file next to its inputs and runs it
as a standalone script against `eventlab columns`. Idiomatic columnar code, no loop per event:
the same object selection (pT and |eta| cuts), leading objects by pT, the DL1dv01 b-tag at 77 %,
the approximate MET (electrons, muons, photons, jets above 20 GeV away from electrons and photons,
and the soft-track term), m_ll, m_4l, m_yy, mt_w and the first MC weight.
"""

from __future__ import annotations

import sys

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import uproot
import vector

vector.register_awkward()

GEV = 1000.0
CUTS = {"el": (7_000.0, 2.47), "mu": (7_000.0, 2.7), "ph": (10_000.0, 2.37), "jet": (20_000.0, 4.5)}
MASSES = {"el": 0.511, "mu": 105.658}
SOFT_TRACK_SOURCE = 81952
FOUR = ("pt", "eta", "phi", "m")
BRANCHES = [
    "EventInfoAuxDyn.runNumber",
    "EventInfoAuxDyn.eventNumber",
    "EventInfoAuxDyn.mcChannelNumber",
    "EventInfoAuxDyn.mcEventWeights",
    *(f"AnalysisElectronsAuxDyn.{f}" for f in (*FOUR, "charge")),
    *(f"AnalysisMuonsAuxDyn.{f}" for f in ("pt", "eta", "phi", "charge")),
    *(f"AnalysisPhotonsAuxDyn.{f}" for f in FOUR),
    *(f"AnalysisJetsAuxDyn.{f}" for f in FOUR),
    "AnalysisJetsAuxDyn.btaggingLink.m_persIndex",
    *(f"BTagging_AntiKt4EMPFlowAuxDyn.DL1dv01_{p}" for p in ("pb", "pc", "pu")),
    *(f"MET_Core_AnalysisMETAuxDyn.{f}" for f in ("mpx", "mpy", "source")),
]


def momenta(events, container: str, mass: float | None = None, **extra) -> ak.Array:
    """Lorentz vectors of one container, with extra fields."""
    fields = {name: events[f"{container}AuxDyn.{name}"] for name in ("pt", "eta", "phi")}
    fields["mass"] = (
        ak.zeros_like(fields["pt"]) + mass if mass is not None else events[f"{container}AuxDyn.m"]
    )
    return ak.zip({**fields, **extra}, with_name="Momentum4D")


def accepted(objects: ak.Array, kind: str) -> ak.Array:
    """Objects inside the acceptance, highest pT first."""
    pt_min, eta_max = CUTS[kind]
    objects = objects[(objects.pt > pt_min) & (abs(objects.eta) < eta_max)]
    return objects[ak.argsort(objects.pt, ascending=False)]


def btagged(events) -> ak.Array:
    """Per jet: DL1dv01 passes the 77 % working point (through the jet's b-tagging link)."""
    index = events["AnalysisJetsAuxDyn.btaggingLink.m_persIndex"]
    pb, pc, pu = (events[f"BTagging_AntiKt4EMPFlowAuxDyn.DL1dv01_{p}"] for p in ("pb", "pc", "pu"))
    index = ak.mask(index, index < ak.num(pb))
    with np.errstate(divide="ignore", invalid="ignore"):
        discriminant = np.log(pb[index] / (0.018 * pc[index] + 0.982 * pu[index]))
    return ak.fill_none(discriminant > 2.456, False)


def missing_et(events, electrons, muons, photons, jets) -> tuple[ak.Array, ak.Array]:
    """-(sum of electrons, muons, photons, jets > 20 GeV not within dR 0.2 of an e/gamma) + soft."""
    egamma = ak.concatenate([electrons, photons], axis=1)
    pairs = ak.cartesian([jets, egamma], nested=True)
    overlap = ak.any(pairs["0"].deltaR(pairs["1"]) < 0.2, axis=2)
    kept = jets[(jets.pt > 20_000.0) & ~overlap]
    mex = -sum(ak.sum(o.px, axis=1) for o in (electrons, muons, photons, kept))
    mey = -sum(ak.sum(o.py, axis=1) for o in (electrons, muons, photons, kept))
    soft = events["MET_Core_AnalysisMETAuxDyn.source"] == SOFT_TRACK_SOURCE
    mex = mex + ak.sum(events["MET_Core_AnalysisMETAuxDyn.mpx"][soft], axis=1)
    mey = mey + ak.sum(events["MET_Core_AnalysisMETAuxDyn.mpy"][soft], axis=1)
    return mex, mey


def leading(objects: ak.Array, prefix: str, count: int, fields: tuple[str, ...]) -> dict:
    """Columns prefix1_pt ... of the `count` leading objects, NaN where absent."""
    padded = ak.pad_none(objects, count, clip=True)
    out = {}
    for index in range(count):
        for name in fields:
            values = getattr(padded[:, index], "E" if name == "e" else name)
            scale = GEV if name in ("pt", "e") else 1.0
            out[f"{prefix}{index + 1}_{name}"] = ak.to_numpy(
                ak.fill_none(ak.values_astype(values, np.float64) / scale, np.nan)
            )
    return out


def mass_of_first(objects: ak.Array, count: int) -> np.ndarray:
    """Mass (GeV) of the `count` leading objects together, NaN with fewer."""
    padded = ak.pad_none(objects, count, clip=True)
    total = padded[:, 0]
    for index in range(1, count):
        total = total + padded[:, index]
    return ak.to_numpy(ak.fill_none(total.mass / GEV, np.nan))


def columns(events) -> dict[str, np.ndarray]:
    """The per-event columns."""
    all_el = momenta(
        events, "AnalysisElectrons", MASSES["el"], charge=events["AnalysisElectronsAuxDyn.charge"]
    )
    all_mu = momenta(
        events, "AnalysisMuons", MASSES["mu"], charge=events["AnalysisMuonsAuxDyn.charge"]
    )
    all_ph = momenta(events, "AnalysisPhotons")
    all_jets = momenta(events, "AnalysisJets", btag=btagged(events))
    electrons = accepted(ak.with_field(all_el, 11, "flavour"), "el")
    muons = accepted(ak.with_field(all_mu, 13, "flavour"), "mu")
    leptons = ak.concatenate([electrons, muons], axis=1)
    leptons = leptons[ak.argsort(leptons.pt, ascending=False, stable=True)]
    photons, jets = accepted(all_ph, "ph"), accepted(all_jets, "jet")
    mex, mey = missing_et(events, all_el, all_mu, all_ph, all_jets)
    met = np.hypot(ak.to_numpy(mex), ak.to_numpy(mey))
    met_phi = np.arctan2(ak.to_numpy(mey), ak.to_numpy(mex))
    pairs = ak.combinations(leptons, 2)
    ossf = (pairs["0"].flavour == pairs["1"].flavour) & (pairs["0"].charge * pairs["1"].charge < 0)
    z = ak.firsts(pairs[ossf])
    lead = ak.firsts(leptons)
    mt = np.sqrt(2 * lead.pt * met * (1 - np.cos(lead.phi - met_phi))) / GEV
    table = {
        "run": ak.to_numpy(events["EventInfoAuxDyn.runNumber"]),
        "event": ak.to_numpy(events["EventInfoAuxDyn.eventNumber"]),
        "mc_channel": ak.to_numpy(events["EventInfoAuxDyn.mcChannelNumber"]),
        "weight": ak.to_numpy(
            ak.fill_none(ak.firsts(events["EventInfoAuxDyn.mcEventWeights"]), 1.0)
        ),
        "n_electrons": ak.to_numpy(ak.num(electrons)),
        "n_muons": ak.to_numpy(ak.num(muons)),
        "n_leptons": ak.to_numpy(ak.num(leptons)),
        "n_photons": ak.to_numpy(ak.num(photons)),
        "n_jets": ak.to_numpy(ak.num(jets)),
        "n_bjets": ak.to_numpy(ak.sum(jets.btag & (abs(jets.eta) < 2.5), axis=1)),
    }
    table |= leading(leptons, "lep", 4, ("pt", "eta", "phi", "e", "charge", "flavour"))
    table |= leading(jets, "jet", 4, ("pt", "eta", "phi", "e", "btag"))
    table |= leading(photons, "photon", 2, ("pt", "eta", "phi", "e"))
    table["met"], table["met_phi"] = met / GEV, met_phi
    table["m_ll"] = ak.to_numpy(ak.fill_none((z["0"] + z["1"]).mass / GEV, np.nan))
    table["m_4l"] = mass_of_first(leptons, 4)
    table["m_yy"] = mass_of_first(photons, 2)
    table["mt_w"] = ak.to_numpy(ak.fill_none(mt, np.nan))
    return table


def main(path: str, output: str) -> None:
    """Read the branches, compute the columns, write parquet."""
    events = uproot.open(path)["CollectionTree"].arrays(BRANCHES)
    pq.write_table(pa.table(columns(events)), output, compression="zstd")


if __name__ == "__main__":
    main(*sys.argv[1:3])
