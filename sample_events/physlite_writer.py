"""Write reconstructed toy events as a ROOT file in the DAOD_PHYSLITE schema (MeV, mm)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from sample_events.files import atomic_path
from sample_events.reconstruction import INVALID_LINK, RecoEvents

TREE_NAME = "CollectionTree"
RNTUPLE_NAME = "EventData"  # the object ATLAS writes PHYSLITE RNTuples under
COMPRESSION = uproot.ZLIB(9)  # readable everywhere, including browsers
TRACK_FIELDS = ("d0", "z0", "phi", "theta", "qOverP")
INVALID_INDEX = np.uint32(0xFFFFFFFF)  # what an invalid ElementLink stores, with key 0

# m_persKey of each target container: the hashed keys the reference PHYSLITE file uses.
GSF_TRACKS_KEY = 776133387
EGAMMA_CLUSTERS_KEY = 360221983
INDET_TRACKS_KEY = 490246363
COMBINED_TRACKS_KEY = 873304470
EXTRAPOLATED_TRACKS_KEY = 350445215
SPECTROMETER_TRACKS_KEY = 965986547
BTAGGING_KEY = 582299515

# Links that real files store as a list per object (vector<vector<ElementLink>>); the others hold
# one link per object. The TTree writer cannot write lists of links, the RNTuple writer can.
LIST_LINKS = {
    ("AnalysisElectronsAuxDyn", "trackParticleLinks"),
    ("AnalysisElectronsAuxDyn", "caloClusterLinks"),
    ("AnalysisPhotonsAuxDyn", "caloClusterLinks"),
}

# Stored types of the non-float branches (all other values are float32, as in PHYSLITE).
_DTYPES = {
    "muonType": np.uint16,
    "vertexType": np.int16,
    "source": np.uint64,
    "HadronConeExclTruthLabelID": np.int32,
}


@dataclass(frozen=True)
class CollectionSpec:
    """One PHYSLITE container: its branch prefix, source collection, values and links."""

    branch: str
    source: str
    values: tuple[str, ...]
    links: dict[str, int]  # link name -> m_persKey of the target container


COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "AnalysisElectronsAuxDyn",
        "electrons",
        ("pt", "eta", "phi", "m", "charge"),
        {"trackParticleLinks": GSF_TRACKS_KEY, "caloClusterLinks": EGAMMA_CLUSTERS_KEY},
    ),
    CollectionSpec(
        "AnalysisMuonsAuxDyn",
        "muons",
        ("pt", "eta", "phi", "charge", "muonType"),
        {
            "inDetTrackParticleLink": INDET_TRACKS_KEY,
            "combinedTrackParticleLink": COMBINED_TRACKS_KEY,
            "extrapolatedMuonSpectrometerTrackParticleLink": EXTRAPOLATED_TRACKS_KEY,
            "muonSpectrometerTrackParticleLink": SPECTROMETER_TRACKS_KEY,
        },
    ),
    CollectionSpec(
        "AnalysisPhotonsAuxDyn",
        "photons",
        ("pt", "eta", "phi", "m"),
        {"caloClusterLinks": EGAMMA_CLUSTERS_KEY},
    ),
    CollectionSpec(
        "AnalysisJetsAuxDyn",
        "jets",
        ("pt", "eta", "phi", "m", "HadronConeExclTruthLabelID"),
        {"btaggingLink": BTAGGING_KEY},
    ),
    CollectionSpec(
        "BTagging_AntiKt4EMPFlowAuxDyn",
        "btagging",
        ("DL1dv01_pb", "DL1dv01_pc", "DL1dv01_pu"),
        {},
    ),
    CollectionSpec("AnalysisTauJetsAuxDyn", "taus", ("pt", "eta", "phi", "m", "charge"), {}),
    CollectionSpec("AnalysisLargeRJetsAuxDyn", "large_r_jets", ("pt", "eta", "phi", "m"), {}),
    CollectionSpec("InDetTrackParticlesAuxDyn", "indet_tracks", TRACK_FIELDS, {}),
    CollectionSpec(
        "GSFTrackParticlesAuxDyn",
        "gsf_tracks",
        TRACK_FIELDS,
        {"originalTrackParticle": INDET_TRACKS_KEY},
    ),
    CollectionSpec("CombinedMuonTrackParticlesAuxDyn", "combined_tracks", TRACK_FIELDS, {}),
    CollectionSpec("ExtrapolatedMuonTrackParticlesAuxDyn", "extrapolated_tracks", TRACK_FIELDS, {}),
    CollectionSpec("MuonSpectrometerTrackParticlesAuxDyn", "spectrometer_tracks", TRACK_FIELDS, {}),
    CollectionSpec("egammaClustersAuxDyn", "egamma_clusters", ("calE", "calEta", "calPhi"), {}),
    CollectionSpec("PrimaryVerticesAuxDyn", "vertices", ("x", "y", "z", "vertexType"), {}),
    CollectionSpec("MET_Core_AnalysisMETAuxDyn", "met_core", ("mpx", "mpy", "sumet", "source"), {}),
)


def counter_name(counted: str) -> str:
    """Name of the counter branch uproot needs for a jagged branch (not a PHYSLITE branch)."""
    return "n" + counted.replace(".", "_")


def field_name(outer: str, inner: str) -> str:
    """Branch name of field `inner` of container `outer`: 'Container.field', as in PHYSLITE."""
    return f"{outer}.{inner}"


def _link_columns(name: str, index: ak.Array, key: int) -> dict[str, ak.Array]:
    """The m_persKey and m_persIndex of one element link per object (key 0 means invalid)."""
    valid = index != INVALID_LINK
    return {
        f"{name}.m_persKey": ak.values_astype(ak.where(valid, key, 0), np.uint32),
        f"{name}.m_persIndex": ak.values_astype(
            ak.where(valid, index, int(INVALID_INDEX)), np.uint32
        ),
    }


def _collection(events: RecoEvents, spec: CollectionSpec) -> ak.Array:
    """The jagged record of one container, with stored dtypes and link sub-branches."""
    source = getattr(events, spec.source)
    columns = {
        value: ak.values_astype(source[value], _DTYPES.get(value, np.float32))
        for value in spec.values
    }
    for link, key in spec.links.items():
        columns.update(_link_columns(link, source[link], key))
    return ak.zip(columns, depth_limit=2)


def _event_info(events: RecoEvents) -> dict[str, np.ndarray | ak.Array]:
    """EventInfo branches: run, event and lumi-block numbers, channel and weights."""
    return {
        "EventInfoAuxDyn.runNumber": events.run_number.astype(np.uint32),
        "EventInfoAuxDyn.eventNumber": events.event_number.astype(np.uint64),
        "EventInfoAuxDyn.mcEventNumber": events.event_number.astype(np.uint64),
        "EventInfoAuxDyn.lumiBlock": events.lumi_block.astype(np.uint32),
        "EventInfoAuxDyn.mcChannelNumber": events.channel.astype(np.uint32),
        "EventInfoAuxDyn.mcEventWeights": ak.from_regular(
            np.ones((events.n_events, 1), dtype=np.float32)
        ),
    }


def physlite_tree(events: RecoEvents) -> dict[str, np.ndarray | ak.Array]:
    """Everything written to the tree: event-info branches and one record per container."""
    tree = _event_info(events)
    tree.update({spec.branch: _collection(events, spec) for spec in COLLECTIONS})
    return tree


def write_physlite(
    path: str | os.PathLike, events: RecoEvents, cluster_entries: int | None = None
) -> Path:
    """Write `events` to a PHYSLITE-schema ROOT file at `path`, atomically; return the path.

    With `cluster_entries`, the baskets hold that many entries each (as ROOT's auto-flush makes
    them); otherwise one basket per branch.
    """
    tree = physlite_tree(events)
    entries = len(next(iter(tree.values())))
    step = cluster_entries or max(entries, 1)
    with atomic_path(path) as temporary, uproot.recreate(temporary, compression=COMPRESSION) as out:
        for start in range(0, max(entries, 1), step):
            cluster = {name: values[start : start + step] for name, values in tree.items()}
            if start == 0:
                out.mktree(
                    TREE_NAME,
                    cluster,
                    title="toy PHYSLITE events",
                    counter_name=counter_name,
                    field_name=field_name,
                )
            else:
                out[TREE_NAME].extend(cluster)
    return Path(path)


def _link_record(index: ak.Array, key: int, as_list: bool) -> ak.Array:
    """One element link per object as a {m_persKey, m_persIndex} record, or a list of such
    records (empty for an invalid link) where real files keep a list of links per object."""
    columns = _link_columns("link", index, key)
    links = ak.zip(
        {"m_persKey": columns["link.m_persKey"], "m_persIndex": columns["link.m_persIndex"]}
    )
    if not as_list:
        return links
    valid = ak.values_astype(index != INVALID_LINK, np.int64)
    counts = ak.flatten(valid)
    kept = ak.flatten(links[index != INVALID_LINK])
    return ak.unflatten(ak.unflatten(kept, counts), ak.num(index))


def physlite_fields(events: RecoEvents) -> dict[str, np.ndarray | ak.Array]:
    """Everything written to the RNTuple: ATLAS's field names, `Container:variable`."""
    fields = {
        name.replace(".", ":", 1): values
        for name, values in _event_info(events).items()
        if not name.startswith("n")
    }
    for spec in COLLECTIONS:
        source = getattr(events, spec.source)
        for value in spec.values:
            dtype = _DTYPES.get(value, np.float32)
            fields[f"{spec.branch}:{value}"] = ak.values_astype(source[value], dtype)
        for link, key in spec.links.items():
            as_list = (spec.branch, link) in LIST_LINKS
            fields[f"{spec.branch}:{link}"] = _link_record(source[link], key, as_list)
    return fields


def write_physlite_rntuple(
    path: str | os.PathLike, events: RecoEvents, cluster_entries: int | None = None
) -> Path:
    """Write `events` as a PHYSLITE RNTuple (`EventData`) at `path`, atomically.

    The same events as `write_physlite` writes to a TTree, with ATLAS's RNTuple naming; with
    `cluster_entries`, clusters of that many entries, otherwise one cluster.
    """
    fields = physlite_fields(events)
    entries = len(next(iter(fields.values())))
    step = cluster_entries or max(entries, 1)
    with atomic_path(path) as temporary, uproot.recreate(temporary, compression=COMPRESSION) as out:
        ntuple = None
        for start in range(0, max(entries, 1), step):
            cluster = {name: values[start : start + step] for name, values in fields.items()}
            if ntuple is None:
                ntuple = out.mkrntuple(RNTUPLE_NAME, cluster, description="toy PHYSLITE events")
            else:
                ntuple.extend(cluster)
    return Path(path)
