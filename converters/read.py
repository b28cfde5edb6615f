"""Open PHYSLITE files and education ntuples; read them in chunks of flat per-collection columns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise

import awkward as ak
import numpy as np

from converters.errors import InputFileError
from converters.first_values import first_of_lists
from converters.flat import Objects, first_true, unpack
from converters.schema import (
    BTAGGING,
    DL1D_77_CUT,
    DL1D_CHARM_FRACTION,
    EVENT_INFO_FIELDS,
    MET_CORE,
    MET_SOFT_TRACK_SOURCE,
    NTUPLE,
    PHYSLITE_COLLECTIONS,
    PHYSLITE_WEIGHTS,
    CollectionSpec,
    Link,
    Naming,
    event_info_candidates,
    ntuple_weight_branches,
)
from converters.storage import EventStore, open_store

log = logging.getLogger("eventlab")

MUON_MASS = 105.658
FIRST_DEFAULT = 1.0  # the weight of an event without MC weights (data)
# What the per-event columns read from PHYSLITE.
COLUMN_COLLECTIONS = (
    "AnalysisElectrons",
    "AnalysisMuons",
    "AnalysisPhotons",
    "AnalysisJets",
    BTAGGING.name,
    MET_CORE.name,
)
COLUMN_EVENT_INFO = ("run", "event", "mc_channel", "weight")
MAX_CHUNK_FACTOR = 4
ELECTRON_MASS = 0.511
SYNTHETIC_TRACKS = {
    "electron": CollectionSpec("ElectronTracks", "track", {}),
    "muon": CollectionSpec("MuonTracks", "track", {}, reach="muon"),
}


@dataclass
class EventBatch:
    """A chunk of events: event info columns and the objects of each collection."""

    info: dict[str, np.ndarray]
    collections: dict[str, Objects]
    specs: dict[str, CollectionSpec]
    met: tuple[np.ndarray, np.ndarray] | None = None  # given MET (ntuples), MeV
    met_soft_track: tuple[np.ndarray, np.ndarray] | None = None  # PHYSLITE soft term, MeV

    def __len__(self) -> int:
        return len(self.info["event"])

    def take(self, events: np.ndarray) -> EventBatch:
        """The chosen events (a boolean mask or integer positions)."""

        def pick(pair: tuple[np.ndarray, np.ndarray] | None):
            return None if pair is None else (pair[0][events], pair[1][events])

        return EventBatch(
            info={key: value[events] for key, value in self.info.items()},
            collections={key: value.take_events(events) for key, value in self.collections.items()},
            specs=self.specs,
            met=pick(self.met),
            met_soft_track=pick(self.met_soft_track),
        )


def first_present(names: set[str], candidates: list[str] | tuple[str, ...]) -> str | None:
    """The first candidate branch name the tree has."""
    return next((name for name in candidates if name in names), None)


@dataclass
class BranchPlan:
    """Which branch feeds which field, resolved once per file."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)  # collection -> field -> branch
    links: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    first_only: set[str] = field(default_factory=set)  # info lists of which only the first counts

    def first_branches(self) -> list[str]:
        """The info branches read as their first value per entry."""
        return [branch for name, branch in self.info.items() if name in self.first_only]

    def branches(self) -> list[str]:
        """Every branch name the plan reads as a whole (first-value branches aside)."""
        firsts = set(self.first_branches())
        names = [branch for branch in self.info.values() if branch not in firsts]
        names += list(self.extra.values())
        for fields in self.fields.values():
            names += fields.values()
        for links in self.links.values():
            for branch_names in links.values():
                names += branch_names
        return list(dict.fromkeys(names))


def link_branches(
    names: set[str], spec: CollectionSpec, link: Link, naming: Naming
) -> tuple[str, ...] | None:
    """Branch names of one element link: split key/index sub-branches, else the record branch."""
    base = naming.link(spec.name, link.branch)
    split = (f"{base}.m_persKey", f"{base}.m_persIndex")
    if naming.split_links and all(name in names for name in split):
        return split
    if base in names:
        return (base,)
    return None


def plan_collection(
    names: set[str], spec: CollectionSpec, plan: BranchPlan, naming: Naming, links: bool = True
) -> None:
    """Add one collection's branches to the plan (its links too if asked), or note it skipped."""
    fields = {}
    for field_name in spec.fields:
        branch = first_present(names, spec.branch_candidates(field_name, naming))
        if branch is None and field_name not in spec.optional_fields:
            plan.skipped.append(spec.name)
            return
        if branch is not None:
            fields[field_name] = branch
    plan.fields[spec.name] = fields
    plan.links[spec.name] = {}
    for link in spec.links if links else ():
        branches = link_branches(names, spec, link, naming)
        if branches is not None:
            plan.links[spec.name][link.branch] = branches


def plan_physlite(
    store: EventStore,
    collections: Collection[str] | None = None,
    links: bool | Collection[str] = True,
    info: Collection[str] | None = None,
) -> BranchPlan:
    """Resolve the PHYSLITE branches this file has.

    Of the named collections (or all), following the element links of all of them, none, or
    the named ones, and reading the named event-info variables (or all; "event" always).
    """
    plan = BranchPlan(first_only={"weight"})
    names, naming = store.names, store.naming
    for name, candidates in EVENT_INFO_FIELDS.items():
        if info is not None and name not in info and name != "event":
            continue
        branch = first_present(names, event_info_candidates(candidates, naming))
        if branch is not None:
            plan.info[name] = branch
    if "event" not in plan.info:
        expected = naming.candidates("EventInfo", "eventNumber")[0]
        raise InputFileError(
            f"{store.source}: the {store.layout} {store.name!r} has no {expected}"
            f" (nor an older EventInfo layout): it does not look like PHYSLITE"
        )
    wanted = set(collections) if collections is not None else None

    def linked(spec: CollectionSpec) -> bool:
        return links if isinstance(links, bool) else spec.name in links

    for spec in PHYSLITE_COLLECTIONS:
        if wanted is None or spec.name in wanted:
            plan_collection(names, spec, plan, naming, linked(spec))
    for spec in (BTAGGING, MET_CORE):
        if wanted is None or spec.name in wanted:
            plan_collection(names, spec, plan, naming, linked(spec))
            if spec.name in plan.skipped:
                plan.skipped.remove(spec.name)
    return plan


def plan_ntuple(store: EventStore, groups: Sequence[str] | None = None) -> BranchPlan:
    """Resolve the education-ntuple branches this file has (of the named groups, or all)."""
    plan = BranchPlan(first_only={"weight"})
    names = store.names
    for name, candidates in NTUPLE.info.items():
        branch = first_present(names, candidates)
        if branch is not None:
            plan.info[name] = branch
    if "event" not in plan.info:
        raise InputFileError(
            f"{store.source}: the {store.layout} {store.name!r} has no eventNumber:"
            " it does not look like an ATLAS education ntuple"
        )
    groups_fields = {"leptons": NTUPLE.leptons, "jets": NTUPLE.jets, "photons": NTUPLE.photons}
    for group, fields in groups_fields.items():
        if groups is not None and group not in groups:
            continue
        resolved = {name: first_present(names, candidates) for name, candidates in fields.items()}
        if None in resolved.values():
            plan.skipped.append(group)
        else:
            plan.fields[group] = resolved
    for name, candidates in [
        ("jet_btag", NTUPLE.jet_btag),
        ("met", NTUPLE.met),
        ("met_phi", NTUPLE.met_phi),
    ]:
        branch = first_present(names, candidates)
        if branch is not None:
            plan.extra[name] = branch
    return plan


@dataclass(frozen=True)
class LinkColumn:
    """The element links of one link branch: storage keys and indices, and which object owns each.

    `owners` holds offsets of each object's links for lists of links per object, or is None
    when there is exactly one link per object.
    """

    keys: np.ndarray
    indices: np.ndarray
    owners: np.ndarray | None = None

    @classmethod
    def read(cls, arrays: dict[str, ak.Array], branches: tuple[str, ...]) -> LinkColumn:
        """From split key/index sub-branches, or from one branch of link records."""
        if len(branches) == 2:
            keys, indices = (unpack(arrays[branch])[1] for branch in branches)
            return cls(keys, indices.astype(np.int64))
        levels, records = unpack(arrays[branches[0]])
        owners = levels[1] if len(levels) > 1 else None
        return cls(records["m_persKey"], records["m_persIndex"].astype(np.int64), owners)

    def index(self, expected_key: int) -> np.ndarray:
        """Per object, the index of the first link into the container with `expected_key`, or -1."""
        valid = (self.keys == expected_key) & (expected_key != 0)
        if self.owners is None:
            return np.where(valid, self.indices, -1)
        objects = len(self.owners) - 1
        owner = np.repeat(np.arange(objects, dtype=np.int64), np.diff(self.owners))
        first = first_true(valid, owner, objects)
        return np.where(first >= 0, self.indices[np.maximum(first, 0)], -1)


def container_key(links: list[LinkColumn]) -> int:
    """The storage key of a target container: the most common non-zero key linking into it.

    Links can point into containers PHYSLITE does not keep (e.g. forward tracks); those carry
    another key and must not be followed into the kept container.
    """
    keys = np.concatenate([link.keys for link in links] or [np.zeros(0, dtype=np.uint32)])
    keys = keys[keys != 0]
    if len(keys) == 0:
        return 0
    values, counts = np.unique(keys, return_counts=True)
    return int(values[np.argmax(counts)])


def default_plan(store: EventStore) -> BranchPlan:
    """Everything the converters read from a file of this format."""
    return plan_physlite(store) if store.format == "physlite" else plan_ntuple(store)


def columns_plan(store: EventStore) -> BranchPlan:
    """Only what the per-event columns need: no tracks, clusters or vertices; the first MC
    weight and the other weights a luminosity normalisation needs, where the file has them."""
    if store.format != "physlite":
        plan = plan_ntuple(store)
        for branch in ntuple_weight_branches(store.names):
            plan.info.setdefault(branch, branch)
        return plan
    plan = plan_physlite(store, COLUMN_COLLECTIONS, links={"AnalysisJets"}, info=COLUMN_EVENT_INFO)
    for name, leaves in PHYSLITE_WEIGHTS.items():
        branch = first_present(store.names, event_info_candidates(leaves, store.naming))
        if branch is not None:
            plan.info[name] = branch
    return plan


class EventSource:
    """One input file: its format, size, and a chunked reader of event batches."""

    def __init__(
        self,
        source: str,
        store: EventStore | None = None,
        plan: BranchPlan | None = None,
        planner: Callable[[EventStore], BranchPlan] = default_plan,
    ):
        self.source = source
        self.store = store or open_store(source)
        self.format = self.store.format
        self.num_entries = self.store.num_entries
        self.plan = plan if plan is not None else planner(self.store)
        self.unit = self.store.unit

    @property
    def bytes_read(self) -> int:
        """Bytes fetched from the file so far."""
        return self.store.bytes_read

    @property
    def skipped(self) -> list[str]:
        """Collections this file does not have."""
        return self.plan.skipped

    def event_numbers(self) -> np.ndarray:
        """The event number of every entry, read alone (one column of the whole file)."""
        branch = self.plan.info["event"]
        return unpack(self.store.arrays([branch], 0, self.num_entries)[branch])[1]

    def read_arrays(self, start: int, stop: int) -> dict[str, ak.Array | np.ndarray]:
        """The planned branches for entries [start, stop): awkward arrays, and numpy arrays of
        the first value per entry for the first-value branches."""
        arrays: dict[str, ak.Array | np.ndarray] = self.store.arrays(
            self.plan.branches(), start, stop
        )
        for branch in self.plan.first_branches():
            arrays[branch] = self.store.first_values(branch, start, stop, FIRST_DEFAULT)
        return arrays

    def read(self, start: int, stop: int) -> EventBatch:
        """Read entries [start, stop) into an EventBatch."""
        arrays = self.read_arrays(start, stop)
        if self.format == "physlite":
            return physlite_batch(self.source, self.plan, arrays)
        return ntuple_batch(self.source, self.plan, arrays, self.unit)

    def cluster_boundaries(self) -> np.ndarray:
        """Entries where the baskets of every planned branch start together."""
        return self.store.cluster_starts(self.plan.branches())

    def chunks(self, start: int, stop: int, target: int) -> list[tuple[int, int]]:
        """Entry ranges over [start, stop) of about `target` entries, cut between clusters."""
        return chunk_ranges(self.cluster_boundaries(), start, stop, target)

    def iterate(
        self, start: int, stop: int, target: int, prefetch: bool = True
    ) -> Iterator[tuple[int, EventBatch]]:
        """Batches of about `target` entries over [start, stop), with their first entry.

        With `prefetch`, the next batch is read in a second thread while the caller works on the
        current one: decompression and array building release the GIL, so both cores are used.
        Without it (a Dask worker, which has one core of its own) batches are read in turn.
        """
        ranges = self.chunks(start, stop, target)
        if not ranges:
            return
        if not prefetch:
            for chunk_start, chunk_stop in ranges:
                yield chunk_start, self.read(chunk_start, chunk_stop)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.read, *ranges[0])
            for position, (chunk_start, _) in enumerate(ranges):
                batch = pending.result()
                if position + 1 < len(ranges):
                    pending = pool.submit(self.read, *ranges[position + 1])
                yield chunk_start, batch


def chunk_ranges(
    boundaries: np.ndarray, start: int, stop: int, target: int
) -> list[tuple[int, int]]:
    """Ranges over [start, stop) of at least `target` entries where possible.

    They end on cluster boundaries, so that no compressed basket is read twice, except where the
    stretch to the next boundary would exceed MAX_CHUNK_FACTOR x target entries: there a chunk of
    `target` entries is cut off first, to bound memory.
    """
    target = max(int(target), 1)
    points = [start]
    for boundary in [*boundaries[(boundaries > start) & (boundaries < stop)].tolist(), stop]:
        while boundary - points[-1] > MAX_CHUNK_FACTOR * target:
            points.append(points[-1] + target)
        if boundary - points[-1] >= target or (boundary == stop and boundary > points[-1]):
            points.append(boundary)
    return list(pairwise(points))


def info_columns(plan: BranchPlan, arrays: dict[str, ak.Array]) -> dict[str, np.ndarray]:
    """Event info as flat numpy columns (weight: the first MC weight, 1 where there is none)."""
    info = {}
    for name, branch in plan.info.items():
        if isinstance(arrays[branch], np.ndarray):  # already the first value per entry
            info[name] = arrays[branch]
            continue
        levels, values = unpack(arrays[branch])
        info[name] = first_of_lists(levels[0], values, FIRST_DEFAULT) if levels else values
    return info


def read_objects(source: str, fields: dict[str, str], arrays: dict[str, ak.Array]) -> Objects:
    """One collection's branches as Objects (every branch must have the same counts)."""
    offsets, columns = None, {}
    for key, branch in fields.items():
        levels, values = unpack(arrays[branch])
        if not levels:
            raise InputFileError(f"{source}: branch {branch} holds no list per event")
        if offsets is not None and not np.array_equal(levels[0], offsets):
            raise InputFileError(f"{source}: branch {branch} disagrees on the object counts")
        offsets, columns[key] = levels[0], values
    return Objects(offsets, columns)


def physlite_batch(source: str, plan: BranchPlan, arrays: dict[str, ak.Array]) -> EventBatch:
    """Objects per collection from PHYSLITE branch arrays, links resolved to indices."""
    spec_by_name = {spec.name: spec for spec in (*PHYSLITE_COLLECTIONS, BTAGGING, MET_CORE)}
    collections = {
        name: read_objects(source, fields, arrays) for name, fields in plan.fields.items()
    }
    specs = {name: spec_by_name[name] for name in collections}
    add_links(plan, arrays, collections, spec_by_name)
    soft = collections.pop(MET_CORE.name, None)
    specs.pop(MET_CORE.name, None)
    btagging = collections.pop(BTAGGING.name, None)
    specs.pop(BTAGGING.name, None)
    attach_btag(collections, btagging)
    return EventBatch(
        info_columns(plan, arrays),
        collections,
        specs,
        met_soft_track=soft_track_term(soft) if soft is not None else None,
    )


def add_links(
    plan: BranchPlan,
    arrays: dict[str, ak.Array],
    collections: dict[str, Objects],
    spec_by_name: dict[str, CollectionSpec],
) -> None:
    """Add "link_<name>" index columns, checked against the target container's key and size."""
    read: dict[tuple[str, str], tuple[str, LinkColumn]] = {}
    for name, branch_links in plan.links.items():
        targets = {link.branch: link.target for link in spec_by_name[name].links}
        for link_name, branches in branch_links.items():
            read[name, link_name] = targets[link_name], LinkColumn.read(arrays, branches)
    by_target: dict[str, list[LinkColumn]] = {}
    for target, link in read.values():
        by_target.setdefault(target, []).append(link)
    keys = {target: container_key(links) for target, links in by_target.items()}
    for (name, link_name), (target, link) in read.items():
        objects = collections[name]
        index = bounded(link.index(keys[target]), objects, collections.get(target))
        collections[name] = objects.with_columns(**{f"link_{link_name}": index})


def bounded(index: np.ndarray, objects: Objects, target: Objects | None) -> np.ndarray:
    """Links past the end of their target (thinned away) or into an absent one become -1."""
    if target is None:
        return np.full(objects.size, -1, dtype=np.int64)
    return np.where(index < target.counts[objects.event], index, -1)


def soft_track_term(met_core: Objects) -> tuple[np.ndarray, np.ndarray]:
    """mpx, mpy of the PVSoftTrkCore term per event (0 where absent)."""
    is_soft_track = met_core["source"] == MET_SOFT_TRACK_SOURCE
    return (
        met_core.sum(np.where(is_soft_track, met_core["mpx"], 0.0)),
        met_core.sum(np.where(is_soft_track, met_core["mpy"], 0.0)),
    )


def attach_btag(collections: dict[str, Objects], btagging: Objects | None) -> None:
    """Give AnalysisJets a boolean `btag` (DL1dv01 at 77 % efficiency) when the file has it."""
    jets = collections.get("AnalysisJets")
    if jets is None or btagging is None or "link_btaggingLink" not in jets:
        return
    index = jets["link_btaggingLink"]
    row = np.where(index >= 0, btagging.offsets[:-1][jets.event] + index, 0)
    pb, pc, pu = (
        np.where(index >= 0, btagging[key][row] if btagging.size else np.nan, np.nan)
        for key in ("pb", "pc", "pu")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        discriminant = np.log(pb / (DL1D_CHARM_FRACTION * pc + (1 - DL1D_CHARM_FRACTION) * pu))
    collections["AnalysisJets"] = jets.with_columns(btag=discriminant > DL1D_77_CUT)


def ntuple_batch(
    source: str, plan: BranchPlan, arrays: dict[str, ak.Array], unit: float
) -> EventBatch:
    """Objects per collection from an education ntuple (leptons split into e and mu)."""
    collections, specs = {}, {}
    spec_by_kind = {spec.kind: spec for spec in PHYSLITE_COLLECTIONS if spec.kind != "track"}
    if "leptons" in plan.fields:
        leptons = ntuple_objects(source, plan.fields["leptons"], arrays, unit)
        lepton_type = np.abs(leptons["type"])
        for kind, pdg in (("electron", 11), ("muon", 13)):
            objects = leptons.where(lepton_type == pdg)
            spec = spec_by_kind[kind]
            track_spec = SYNTHETIC_TRACKS[kind]
            link_name = spec.links[0].branch
            collections[spec.name] = objects.with_columns(
                **{f"link_{link_name}": objects.local_index}
            )
            specs[spec.name] = CollectionSpec(
                spec.name, kind, spec.fields, links=(Link(link_name, track_spec.name),)
            )
            collections[track_spec.name] = tracks_from_momenta(objects)
            specs[track_spec.name] = track_spec
    if "photons" in plan.fields:
        collections["AnalysisPhotons"] = ntuple_objects(
            source, plan.fields["photons"], arrays, unit
        )
        specs["AnalysisPhotons"] = CollectionSpec("AnalysisPhotons", "photon", {})
    if "jets" in plan.fields:
        jets = ntuple_objects(source, plan.fields["jets"], arrays, unit)
        if "jet_btag" in plan.extra:
            btag = ntuple_btag(plan.extra["jet_btag"], unpack(arrays[plan.extra["jet_btag"]])[1])
            jets = jets.with_columns(btag=btag)
        collections["AnalysisJets"] = jets
        specs["AnalysisJets"] = spec_by_kind["jet"]
    met = None
    if "met" in plan.extra and "met_phi" in plan.extra:
        magnitude = unpack(arrays[plan.extra["met"]])[1].astype(np.float64) * unit
        phi = unpack(arrays[plan.extra["met_phi"]])[1].astype(np.float64)
        met = (magnitude * np.cos(phi), magnitude * np.sin(phi))
    return EventBatch(info_columns(plan, arrays), collections, specs, met=met)


def ntuple_objects(
    source: str, fields: dict[str, str], arrays: dict[str, ak.Array], unit: float
) -> Objects:
    """pt, eta, phi, m (MeV), and charge and type where given, of ntuple objects."""
    raw = read_objects(source, fields, arrays)
    pt = raw["pt"].astype(np.float64) * unit
    eta = raw["eta"].astype(np.float64)
    energy = raw["e"].astype(np.float64) * unit
    momentum = pt * np.cosh(eta)
    columns = {
        "pt": pt,
        "eta": eta,
        "phi": raw["phi"].astype(np.float64),
        "m": np.sqrt(np.maximum(energy**2 - momentum**2, 0.0)),
    }
    columns |= {name: raw[name] for name in ("charge", "type") if name in raw}
    return Objects(raw.offsets, columns)


def ntuple_btag(branch: str, values: np.ndarray) -> np.ndarray:
    """A boolean b-tag from whichever b-tagging branch the ntuple has (77 % working point)."""
    if branch.endswith("quantile"):
        return values >= 3  # pseudo-continuous bins: 3 and above pass the 77 % working point
    if branch.endswith("MV2c10"):
        return values > 0.64
    return values != 0


def tracks_from_momenta(objects: Objects) -> Objects:
    """Perigee parameters of tracks from the prompt vertex for objects with pt, eta, phi, charge."""
    theta = 2.0 * np.arctan(np.exp(-objects["eta"]))
    momentum = objects["pt"] * np.cosh(objects["eta"])
    charge = np.where(objects["charge"] >= 0, 1.0, -1.0)
    zeros = np.zeros(objects.size)
    return Objects(
        objects.offsets,
        {"d0": zeros, "z0": zeros, "phi": objects["phi"], "theta": theta, "qop": charge / momentum},
    )
