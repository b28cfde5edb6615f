"""Open PHYSLITE files and education ntuples, and read them in chunks as awkward records."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import awkward as ak
import numpy as np
import uproot

from converters.errors import InputFileError
from converters.schema import (
    BTAGGING,
    DL1D_77_CUT,
    DL1D_CHARM_FRACTION,
    EVENT_INFO_FIELDS,
    MET_CORE,
    MET_SOFT_TRACK_SOURCE,
    NTUPLE,
    NTUPLE_TREES,
    PHYSLITE_COLLECTIONS,
    PHYSLITE_TREE,
    CollectionSpec,
    Link,
    event_info_candidates,
)

log = logging.getLogger("eventlab")

MUON_MASS = 105.658
ELECTRON_MASS = 0.511
SYNTHETIC_TRACKS = {
    "electron": CollectionSpec("ElectronTracks", "track", {}),
    "muon": CollectionSpec("MuonTracks", "track", {}, reach="muon"),
}


@dataclass
class EventBatch:
    """A chunk of events: event info columns and one awkward record array per collection."""

    info: dict[str, np.ndarray]
    collections: dict[str, ak.Array]
    specs: dict[str, CollectionSpec]
    met: tuple[np.ndarray, np.ndarray] | None = None  # given MET (ntuples), MeV
    met_soft_track: tuple[np.ndarray, np.ndarray] | None = None  # PHYSLITE soft term, MeV

    def __len__(self) -> int:
        return len(self.info["event"])

    def take(self, mask: np.ndarray) -> EventBatch:
        """The events where `mask` is true (a boolean mask or integer positions)."""

        def pick(values):
            return values[mask]

        return EventBatch(
            info={key: pick(value) for key, value in self.info.items()},
            collections={key: pick(value) for key, value in self.collections.items()},
            specs=self.specs,
            met=None if self.met is None else (pick(self.met[0]), pick(self.met[1])),
            met_soft_track=None
            if self.met_soft_track is None
            else (pick(self.met_soft_track[0]), pick(self.met_soft_track[1])),
        )


def is_url(source: str) -> bool:
    """Whether `source` is a remote address rather than a local path."""
    return "://" in source and not source.startswith("file://")


def open_tree(source: str) -> tuple[uproot.TTree, str]:
    """Open the event tree of a PHYSLITE file or education ntuple; return it and its format."""
    if not is_url(source) and not os.path.exists(source):
        raise InputFileError(f"{source}: no such file")
    if not is_url(source) and os.path.isdir(source):
        raise InputFileError(f"{source}: is a folder, not a ROOT file")
    try:
        root_file = uproot.open(source, timeout=30) if is_url(source) else uproot.open(source)
    except FileNotFoundError as error:
        raise InputFileError(f"{source}: not found ({error})") from None
    except ValueError as error:
        if "ROOT file" in str(error) or "magic" in str(error):
            raise InputFileError(f"{source}: not a ROOT file") from None
        raise InputFileError(f"{source}: cannot be opened as a ROOT file ({error})") from None
    except Exception as error:
        if is_url(source):
            raise InputFileError(f"{source}: cannot open the URL ({error})") from None
        raise InputFileError(f"{source}: not a readable ROOT file ({error})") from None
    try:
        names = {key.split(";")[0] for key in root_file.keys(recursive=False)}
    except Exception as error:
        raise InputFileError(f"{source}: truncated or corrupt ROOT file ({error})") from None
    for name, file_format in [(PHYSLITE_TREE, "physlite")] + [(n, "ntuple") for n in NTUPLE_TREES]:
        if name in names:
            try:
                return root_file[name], file_format
            except Exception as error:
                raise InputFileError(f"{source}: cannot read tree {name!r} ({error})") from None
    found = ", ".join(sorted(names)) or "nothing"
    raise InputFileError(
        f"{source}: no '{PHYSLITE_TREE}' tree (PHYSLITE) nor 'analysis' tree (education ntuple);"
        f" the file holds: {found}"
    )


class BranchNames(set):
    """Every branch name of a tree, by full path and by its own name."""

    def __init__(self, tree: uproot.TTree):
        paths = tree.keys(recursive=True)
        super().__init__(paths)
        self.update(path.rsplit("/", 1)[-1] for path in paths)


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

    def branches(self) -> list[str]:
        """Every branch name the plan reads."""
        names = list(self.info.values()) + list(self.extra.values())
        for fields in self.fields.values():
            names += fields.values()
        for links in self.links.values():
            for branch_names in links.values():
                names += branch_names
        return list(dict.fromkeys(names))


def link_branches(names: set[str], spec: CollectionSpec, link: Link) -> tuple[str, ...] | None:
    """Branch names of one element link: split key/index sub-branches, else the object branch."""
    base = f"{spec.name}AuxDyn.{link.branch}"
    split = (f"{base}.m_persKey", f"{base}.m_persIndex")
    if all(name in names for name in split):
        return split
    if base in names:
        return (base,)
    return None


def plan_collection(names: set[str], spec: CollectionSpec, plan: BranchPlan) -> None:
    """Add one collection's branches to the plan, or note it as skipped."""
    fields = {}
    for field_name in spec.fields:
        branch = first_present(names, spec.branch_candidates(field_name))
        if branch is None and field_name not in spec.optional_fields:
            plan.skipped.append(spec.name)
            return
        if branch is not None:
            fields[field_name] = branch
    plan.fields[spec.name] = fields
    links = {}
    for link in spec.links:
        branches = link_branches(names, spec, link)
        if branches is not None:
            links[link.branch] = branches
    plan.links[spec.name] = links


def plan_physlite(names: set[str]) -> BranchPlan:
    """Resolve the PHYSLITE branches this file has."""
    plan = BranchPlan()
    for name, candidates in EVENT_INFO_FIELDS.items():
        branch = first_present(names, event_info_candidates(candidates))
        if branch is not None:
            plan.info[name] = branch
    if "event" not in plan.info:
        raise InputFileError("no eventNumber branch in EventInfo: is this a PHYSLITE file?")
    for spec in PHYSLITE_COLLECTIONS:
        plan_collection(names, spec, plan)
    for spec in (BTAGGING, MET_CORE):
        plan_collection(names, spec, plan)
        if spec.name in plan.skipped:
            plan.skipped.remove(spec.name)
    return plan


def plan_ntuple(names: set[str]) -> BranchPlan:
    """Resolve the education-ntuple branches this file has."""
    plan = BranchPlan()
    for name, candidates in NTUPLE.info.items():
        branch = first_present(names, candidates)
        if branch is not None:
            plan.info[name] = branch
    if "event" not in plan.info:
        raise InputFileError("no eventNumber branch: is this an ATLAS education ntuple?")
    groups = {"leptons": NTUPLE.leptons, "jets": NTUPLE.jets, "photons": NTUPLE.photons}
    for group, fields in groups.items():
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


def link_parts(raw: ak.Array | tuple[ak.Array, ...]) -> tuple[ak.Array, ak.Array]:
    """(m_persKey, m_persIndex) of a link branch, from split sub-branches or link records."""
    if isinstance(raw, tuple):
        keys, indices = raw
    else:
        keys, indices = raw["m_persKey"], raw["m_persIndex"]
    return keys, ak.values_astype(indices, np.int64)


def container_key(parts: list[tuple[ak.Array, ak.Array]]) -> int:
    """The storage key of a target container: the most common non-zero key linking into it.

    Links can point into containers PHYSLITE does not keep (e.g. forward tracks); those carry
    another key and must not be followed into the kept container.
    """
    keys = np.concatenate([ak.to_numpy(ak.flatten(k, axis=None)) for k, _ in parts] or [[]])
    keys = keys[keys != 0]
    if len(keys) == 0:
        return 0
    values, counts = np.unique(keys, return_counts=True)
    return int(values[np.argmax(counts)])


def link_index(keys: ak.Array, indices: ak.Array, expected_key: int) -> ak.Array:
    """Per-object index of the linked object (first valid link), -1 where there is none."""
    valid = (keys == expected_key) & (expected_key != 0)
    if indices.ndim == 3:
        return ak.fill_none(ak.firsts(indices[valid], axis=2), -1)
    return ak.where(valid, indices, -1)


def bounded_links(index: ak.Array, target_counts: ak.Array) -> ak.Array:
    """Links pointing past the end of their target (thinned away) become -1."""
    return ak.where(index < target_counts, index, -1)


class EventSource:
    """One input file: its format, size, and a chunked reader of event batches."""

    def __init__(self, source: str):
        self.source = source
        self.tree, self.format = open_tree(source)
        self.num_entries = int(self.tree.num_entries)
        names = BranchNames(self.tree)
        self.plan = plan_physlite(names) if self.format == "physlite" else plan_ntuple(names)
        self.unit = NTUPLE_TREES.get(self.tree.name.split(";")[0], 1.0)

    @property
    def skipped(self) -> list[str]:
        """Collections this file does not have."""
        return self.plan.skipped

    def read_arrays(self, start: int, stop: int) -> dict[str, ak.Array]:
        """The planned branches for entries [start, stop), as awkward arrays."""
        try:
            return self.tree.arrays(
                self.plan.branches(), entry_start=start, entry_stop=stop, how=dict
            )
        except InputFileError:
            raise
        except Exception as error:
            raise InputFileError(
                f"{self.source}: cannot read entries {start}-{stop}; the file looks truncated or"
                f" corrupt ({type(error).__name__}: {error})"
            ) from None

    def read(self, start: int, stop: int) -> EventBatch:
        """Read entries [start, stop) into an EventBatch."""
        arrays = self.read_arrays(start, stop)
        if self.format == "physlite":
            return physlite_batch(self.plan, arrays)
        return ntuple_batch(self.plan, arrays, self.unit)

    def iterate(self, start: int, stop: int, step: int) -> Iterator[tuple[int, EventBatch]]:
        """Batches of at most `step` entries over [start, stop), with their first entry.

        The next batch is read in a second thread while the caller works on the current one:
        decompression and array building release the GIL, so both cores are used.
        """
        starts = list(range(start, stop, step))
        if not starts:
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.read, starts[0], min(starts[0] + step, stop))
            for position, chunk_start in enumerate(starts):
                batch = pending.result()
                if position + 1 < len(starts):
                    following = starts[position + 1]
                    pending = pool.submit(self.read, following, min(following + step, stop))
                yield chunk_start, batch


def info_columns(plan: BranchPlan, arrays: dict[str, ak.Array]) -> dict[str, np.ndarray]:
    """Event info as flat numpy columns (weight: the first MC weight)."""
    info = {}
    for name, branch in plan.info.items():
        values = arrays[branch]
        if values.ndim > 1:
            values = ak.fill_none(ak.firsts(values), 1.0)
        info[name] = ak.to_numpy(values)
    return info


def physlite_batch(plan: BranchPlan, arrays: dict[str, ak.Array]) -> EventBatch:
    """Records per collection from PHYSLITE branch arrays."""
    collections, specs = {}, {}
    spec_by_name = {spec.name: spec for spec in (*PHYSLITE_COLLECTIONS, BTAGGING, MET_CORE)}
    links = read_links(plan, arrays, spec_by_name)
    for name, fields in plan.fields.items():
        records = {key: arrays[branch] for key, branch in fields.items()}
        records |= links.get(name, {})
        collections[name] = ak.zip(records, depth_limit=2)
        specs[name] = spec_by_name[name]
    batch_info = info_columns(plan, arrays)
    soft = collections.pop(MET_CORE.name, None)
    specs.pop(MET_CORE.name, None)
    met_soft_track = soft_track_term(soft) if soft is not None else None
    btagging = collections.pop(BTAGGING.name, None)
    specs.pop(BTAGGING.name, None)
    attach_btag(collections, btagging)
    resolve_link_bounds(collections, specs)
    return EventBatch(batch_info, collections, specs, met_soft_track=met_soft_track)


def read_links(
    plan: BranchPlan, arrays: dict[str, ak.Array], spec_by_name: dict[str, CollectionSpec]
) -> dict[str, dict[str, ak.Array]]:
    """Link index fields ("link_<name>") per collection, checked against the target's key."""
    parts: dict[tuple[str, str], tuple[ak.Array, ak.Array]] = {}
    targets: dict[str, str] = {}
    for name, branch_links in plan.links.items():
        link_targets = {link.branch: link.target for link in spec_by_name[name].links}
        for link_name, branches in branch_links.items():
            raw = tuple(arrays[b] for b in branches) if len(branches) == 2 else arrays[branches[0]]
            parts[name, link_name] = link_parts(raw)
            targets[f"{name}.{link_name}"] = link_targets[link_name]
    keys = {
        target: container_key(
            [part for (n, link), part in parts.items() if targets[f"{n}.{link}"] == target]
        )
        for target in set(targets.values())
    }
    links: dict[str, dict[str, ak.Array]] = {}
    for (name, link_name), (link_keys, indices) in parts.items():
        expected = keys[targets[f"{name}.{link_name}"]]
        links.setdefault(name, {})[f"link_{link_name}"] = link_index(link_keys, indices, expected)
    return links


def soft_track_term(met_core: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """mpx, mpy of the PVSoftTrkCore term per event (0 where absent)."""
    is_soft_track = met_core["source"] == MET_SOFT_TRACK_SOURCE
    mpx = ak.to_numpy(ak.sum(met_core["mpx"][is_soft_track], axis=1)).astype(np.float64)
    mpy = ak.to_numpy(ak.sum(met_core["mpy"][is_soft_track], axis=1)).astype(np.float64)
    return mpx, mpy


def take_linked(values: ak.Array, index: ak.Array) -> ak.Array:
    """values[index] per event, NaN where the index is -1 (no link)."""
    padding = ak.unflatten(np.full(len(values), np.nan), 1)
    padded = ak.concatenate([ak.values_astype(values, np.float64), padding], axis=1)
    return padded[ak.where(index >= 0, index, ak.num(padded, axis=1) - 1)]


def attach_btag(collections: dict[str, ak.Array], btagging: ak.Array | None) -> None:
    """Give AnalysisJets a boolean `btag` (DL1dv01 at 77 % efficiency) when the file has it."""
    jets = collections.get("AnalysisJets")
    if jets is None or btagging is None or "link_btaggingLink" not in jets.fields:
        return
    index = bounded_links(jets["link_btaggingLink"], ak.num(btagging, axis=1))
    pb, pc, pu = (take_linked(btagging[key], index) for key in ("pb", "pc", "pu"))
    with np.errstate(divide="ignore", invalid="ignore"):
        discriminant = np.log(pb / (DL1D_CHARM_FRACTION * pc + (1 - DL1D_CHARM_FRACTION) * pu))
    collections["AnalysisJets"] = ak.with_field(jets, discriminant > DL1D_77_CUT, "btag")


def resolve_link_bounds(collections: dict[str, ak.Array], specs: dict[str, CollectionSpec]) -> None:
    """Turn links into thinned-away or absent targets into -1."""
    for name, records in collections.items():
        for link in specs[name].links:
            key = f"link_{link.branch}"
            if key not in records.fields:
                continue
            target = collections.get(link.target)
            counts = ak.num(target, axis=1) if target is not None else 0
            records = ak.with_field(records, bounded_links(records[key], counts), key)
        collections[name] = records


def ntuple_batch(plan: BranchPlan, arrays: dict[str, ak.Array], unit: float) -> EventBatch:
    """Records per collection from an education ntuple (leptons split into e and mu)."""
    collections, specs = {}, {}
    spec_by_kind = {spec.kind: spec for spec in PHYSLITE_COLLECTIONS if spec.kind != "track"}
    if "leptons" in plan.fields:
        leptons = ntuple_objects(plan.fields["leptons"], arrays, unit)
        lepton_type = abs(arrays[plan.fields["leptons"]["type"]])
        for kind, pdg in (("electron", 11), ("muon", 13)):
            objects = leptons[lepton_type == pdg]
            spec = spec_by_kind[kind]
            track_spec = SYNTHETIC_TRACKS[kind]
            own_index = ak.local_index(objects["pt"], axis=1)
            link_name = spec.links[0].branch
            collections[spec.name] = ak.with_field(objects, own_index, f"link_{link_name}")
            specs[spec.name] = CollectionSpec(
                spec.name, kind, spec.fields, links=(Link(link_name, track_spec.name),)
            )
            collections[track_spec.name] = tracks_from_momenta(objects)
            specs[track_spec.name] = track_spec
    if "photons" in plan.fields:
        collections["AnalysisPhotons"] = ntuple_objects(plan.fields["photons"], arrays, unit)
        specs["AnalysisPhotons"] = CollectionSpec("AnalysisPhotons", "photon", {})
    if "jets" in plan.fields:
        jets = ntuple_objects(plan.fields["jets"], arrays, unit)
        if "jet_btag" in plan.extra:
            jets = ak.with_field(jets, ntuple_btag(plan.extra["jet_btag"], arrays), "btag")
        collections["AnalysisJets"] = jets
        specs["AnalysisJets"] = spec_by_kind["jet"]
    met = None
    if "met" in plan.extra and "met_phi" in plan.extra:
        magnitude = ak.to_numpy(arrays[plan.extra["met"]]).astype(np.float64) * unit
        phi = ak.to_numpy(arrays[plan.extra["met_phi"]]).astype(np.float64)
        met = (magnitude * np.cos(phi), magnitude * np.sin(phi))
    return EventBatch(info_columns(plan, arrays), collections, specs, met=met)


def ntuple_objects(fields: dict[str, str], arrays: dict[str, ak.Array], unit: float) -> ak.Array:
    """pt, eta, phi, m (MeV) and charge of ntuple objects."""
    pt = ak.values_astype(arrays[fields["pt"]], np.float64) * unit
    eta = ak.values_astype(arrays[fields["eta"]], np.float64)
    energy = ak.values_astype(arrays[fields["e"]], np.float64) * unit
    momentum = pt * np.cosh(eta)
    mass = np.sqrt(np.maximum(energy**2 - momentum**2, 0.0))
    record = {"pt": pt, "eta": eta, "phi": arrays[fields["phi"]], "m": mass}
    if "charge" in fields:
        record["charge"] = arrays[fields["charge"]]
    return ak.zip(record)


def ntuple_btag(branch: str, arrays: dict[str, ak.Array]) -> ak.Array:
    """A boolean b-tag from whichever b-tagging branch the ntuple has (77 % working point)."""
    values = arrays[branch]
    if branch.endswith("quantile"):
        return values >= 3  # pseudo-continuous bins: 3 and above pass the 77 % working point
    if branch.endswith("MV2c10"):
        return values > 0.64
    return values != 0


def tracks_from_momenta(objects: ak.Array) -> ak.Array:
    """Perigee parameters of tracks from the prompt vertex for objects with pt, eta, phi, charge."""
    theta = 2.0 * np.arctan(np.exp(-objects["eta"]))
    momentum = objects["pt"] * np.cosh(objects["eta"])
    charge = ak.where(objects["charge"] >= 0, 1.0, -1.0)
    zeros = ak.zeros_like(objects["pt"])
    return ak.zip(
        {"d0": zeros, "z0": zeros, "phi": objects["phi"], "theta": theta, "qop": charge / momentum}
    )
