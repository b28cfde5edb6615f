"""Write toy events as an ATLAS 13 TeV education ntuple (tree `analysis`, GeV)."""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from sample_events.files import atomic_path
from sample_events.flavour_tagging import quantile_bin
from sample_events.particles import ELECTRON, MUON
from sample_events.physics import MUON_MASS
from sample_events.reconstruction import RecoEvents
from sample_events.simulation import DEFAULT_EVENTS, DEFAULT_SEED, simulate

TREE_NAME = "analysis"
GEV = 1000.0


def _energy(pt: ak.Array, eta: ak.Array, mass: ak.Array | float) -> ak.Array:
    """Energy from pt, eta and mass."""
    return np.sqrt(np.square(pt * np.cosh(eta)) + np.square(mass))


def _objects(columns: dict[str, ak.Array], integers: tuple[str, ...] = ()) -> ak.Array:
    """Objects of one kind ordered by decreasing pT per event: float32, or int32 if named."""
    order = ak.argsort(columns["pt"], axis=1, ascending=False)
    return ak.zip(
        {
            name: ak.values_astype(column[order], np.int32 if name in integers else np.float32)
            for name, column in columns.items()
        },
        depth_limit=2,
    )


def _leptons(events: RecoEvents) -> ak.Array:
    """Electrons and muons together, as the ntuple's lep_* collection."""
    electrons, muons = events.electrons, events.muons
    electron_e = _energy(electrons.pt, electrons.eta, electrons.m)
    muon_e = _energy(muons.pt, muons.eta, MUON_MASS)
    columns = {
        "pt": ak.concatenate([electrons.pt, muons.pt], axis=1) / GEV,
        "eta": ak.concatenate([electrons.eta, muons.eta], axis=1),
        "phi": ak.concatenate([electrons.phi, muons.phi], axis=1),
        "e": ak.concatenate([electron_e, muon_e], axis=1) / GEV,
        "charge": ak.concatenate([electrons.charge, muons.charge], axis=1),
        "type": ak.concatenate(
            [ak.full_like(electrons.pt, ELECTRON), ak.full_like(muons.pt, MUON)], axis=1
        ),
    }
    return _objects(columns, integers=("charge", "type"))


def _jets(events: RecoEvents) -> ak.Array:
    """Jets with energy and the pseudo-continuous b-tag bin."""
    jets, tags = events.jets, events.btagging
    flat = (
        ak.to_numpy(ak.flatten(tags[name])) for name in ("DL1dv01_pb", "DL1dv01_pc", "DL1dv01_pu")
    )
    columns = {
        "pt": jets.pt / GEV,
        "eta": jets.eta,
        "phi": jets.phi,
        "e": _energy(jets.pt, jets.eta, jets.m) / GEV,
        "btag_quantile": ak.unflatten(quantile_bin(*flat), ak.num(jets.pt)),
    }
    return _objects(columns, integers=("btag_quantile",))


def _photons(events: RecoEvents) -> ak.Array:
    """Photons with energy."""
    photons = events.photons
    columns = {
        "pt": photons.pt / GEV,
        "eta": photons.eta,
        "phi": photons.phi,
        "e": _energy(photons.pt, photons.eta, 0.0) / GEV,
    }
    return _objects(columns)


def education_tree(events: RecoEvents) -> dict[str, np.ndarray | ak.Array]:
    """Branches of the education ntuple; jagged collections become lep_*, jet_*, photon_*."""
    mpx, mpy = events.missing_et()
    return {
        "runNumber": events.run_number.astype(np.int32),
        "eventNumber": events.event_number.astype(np.int64),
        "channelNumber": events.channel.astype(np.int32),
        "mcWeight": np.ones(events.n_events, dtype=np.float32),
        "lep": _leptons(events),
        "jet": _jets(events),
        "photon": _photons(events),
        "met": (np.hypot(mpx, mpy) / GEV).astype(np.float32),
        "met_phi": np.arctan2(mpy, mpx).astype(np.float32),
    }


def write_education_events(path: str | os.PathLike, events: RecoEvents) -> Path:
    """Write `events` as an education ntuple at `path`, atomically; return the path."""
    with atomic_path(path) as temporary, uproot.recreate(temporary) as out:
        out.mktree(
            TREE_NAME,
            education_tree(events),
            title="toy education ntuple",
            counter_name=lambda counted: f"{counted}_n",
        )
    return Path(path)


def write_education_ntuple(
    path: str | os.PathLike, n_events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED
) -> Path:
    """Simulate `n_events` toy events with `seed` and write them as an education ntuple."""
    _, events = simulate(n_events, seed)
    return write_education_events(path, events)
