"""Event batches -> events in the Phoenix JSON event format, one small builder per object type.

Everything stays columnar: each builder turns one collection's flat columns into an Arrow list
array (events x objects) whose struct fields are Phoenix attributes; polars then writes the JSON
text of all events in compiled code. Units are MeV, mm and radians.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import IO

import numpy as np
import polars
import pyarrow as pa
import pyarrow.compute as pc

from converters.flat import Objects, offsets_from_counts
from converters.kinematics import energy, missing_et
from converters.read import ELECTRON_MASS, MUON_MASS, EventBatch
from converters.schema import CollectionSpec
from converters.tracks import ENVELOPES, propagate_flat, track_kinematics

PHOENIX_TYPES = {
    "track": "Tracks",
    "jet": "Jets",
    "tau": "Jets",
    "cluster": "CaloClusters",
    "vertex": "Vertices",
    "electron": "Electrons",
    "muon": "Muons",
    "photon": "Photons",
}
PDG_IDS = {"electron": 11, "muon": 13}
MASSES = {"electron": ELECTRON_MASS, "muon": MUON_MASS}
PRIMARY_VERTEX_TYPE = 1
NO_VERTEX_TYPE = 0
EVENT_INFO = {
    "event number": "event",
    "run number": "run",
    "lumiBlock": "lumi_block",
    "mcChannelNumber": "mc_channel",
}


def finite(values: np.ndarray) -> np.ndarray:
    """float64 values with NaN and inf replaced by 0 (JSON has neither)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isfinite(values).all():  # the usual case: one pass instead of nan_to_num's several
        return values
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def rounded(values: np.ndarray, decimals: int) -> np.ndarray:
    """Values rounded to `decimals` places (and no negative zero)."""
    result = np.round(finite(values), decimals)
    result += 0.0
    return result


def whole(values: np.ndarray) -> np.ndarray:
    """Values rounded to integers (MeV need no decimals), written without a decimal point."""
    return np.round(finite(values)).astype(np.int64)


def significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Round to `digits` significant digits."""
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
        scale = 10.0 ** (digits - 1 - np.nan_to_num(exponent, neginf=0.0))
        return np.where(values == 0, 0.0, np.round(values * scale) / scale)


def vectors(values: np.ndarray) -> pa.FixedSizeListArray:
    """Rows of an (N, k) array as fixed-size lists of k numbers."""
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def listed(offsets: np.ndarray, items: pa.Array) -> pa.ListArray:
    """Consecutive slices of `items` as lists."""
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), items)


def records(offsets: np.ndarray, fields: Mapping[str, np.ndarray | pa.Array]) -> pa.ListArray:
    """Lists (one per event) of records with the given row-aligned fields."""
    arrays = [
        value if isinstance(value, pa.Array) else pa.array(value) for value in fields.values()
    ]
    return listed(offsets, pa.StructArray.from_arrays(arrays, names=list(fields)))


def angles(objects: Objects) -> dict[str, np.ndarray]:
    """eta and phi, rounded for display."""
    return {"eta": rounded(objects["eta"], 4), "phi": rounded(objects["phi"], 4)}


def tracks(
    objects: Objects, spec: CollectionSpec, present: Mapping[str, CollectionSpec]
) -> pa.ListArray:
    """Phoenix tracks: helix points `pos`, perigee `dparams`, and values for cuts.

    A track refitted from another (an electron's GSF track from its inner-detector track) links
    to it in `LinkedTracks`, as compound objects do: the display picks the electron for both.
    """
    d0, z0, phi, theta, qop = (finite(objects[k]) for k in ("d0", "z0", "phi", "theta", "qop"))
    points, counts = propagate_flat(d0, z0, phi, theta, qop, ENVELOPES[spec.reach])
    dparams = np.stack(
        [
            np.round(d0, 3),
            np.round(z0, 2),
            np.round(phi, 5),
            np.round(theta, 5),
            significant(qop, 5),
        ],
        axis=1,
    )
    kinematics = track_kinematics(theta, qop)
    fields = {
        "pos": listed(offsets_from_counts(counts), vectors(rounded(points, 1))),
        "dparams": vectors(dparams + 0.0),
        "pT": whole(kinematics["pt"]),
        "eta": rounded(kinematics["eta"], 4),
        "phi": rounded(phi, 4),
        "charge": kinematics["charge"].astype(np.int64),
        "d0": rounded(d0, 3),
        "z0": rounded(z0, 2),
    }
    if any(f"link_{link.branch}" in objects for link in spec.links):
        fields["LinkedTracks"] = linked(objects, spec, present, "track")
    return records(objects.offsets, fields)


def jets(objects: Objects, spec: CollectionSpec, present: object = None) -> pa.ListArray:
    """Phoenix jets: cones along (eta, phi) with energy, pT and cone radius."""
    fields = {
        **angles(objects),
        "energy": whole(energy(objects)),
        "pT": whole(objects["pt"]),
        "m": whole(objects["m"]),
        "coneR": np.full(objects.size, spec.cone_radius),
    }
    if "charge" in objects:
        fields["charge"] = objects["charge"].astype(np.int64)
    if "btag" in objects:
        fields["btag"] = objects["btag"]
    return records(objects.offsets, fields)


def clusters(objects: Objects, spec: CollectionSpec, present: object = None) -> pa.ListArray:
    """Phoenix calorimeter clusters: eta, phi and energy."""
    return records(objects.offsets, {**angles(objects), "energy": whole(objects["e"])})


def vertices(objects: Objects, spec: CollectionSpec, present: object = None) -> pa.ListArray:
    """Phoenix vertices (dummy vertices dropped), the primary one flagged."""
    objects = objects.where(objects["vertex_type"] != NO_VERTEX_TYPE)
    return records(
        objects.offsets,
        {
            "x": rounded(objects["x"], 3),
            "y": rounded(objects["y"], 3),
            "z": rounded(objects["z"], 2),
            "vertexType": objects["vertex_type"].astype(np.int64),
            "primary": objects["vertex_type"] == PRIMARY_VERTEX_TYPE,
        },
    )


def linked(
    objects: Objects, spec: CollectionSpec, present: Mapping[str, CollectionSpec], kind: str
) -> pa.ListArray:
    """Per object, the "COLLECTION:INDEX" links into the present collections of one kind."""
    labels, valid = [], []
    for link in spec.links:
        key = f"link_{link.branch}"
        target = present.get(link.target)
        if target is None or target.kind != kind or key not in objects:
            continue
        index = pa.array(objects[key]).cast(pa.string())
        labels.append(pc.binary_join_element_wise(f"{link.target}:", index, ""))
        valid.append(objects[key] >= 0)
    if not labels:
        return listed(np.zeros(objects.size + 1, dtype=np.int64), pa.array([], pa.string()))
    valid = np.stack(valid, axis=1)  # (objects, links), read row by row: each object's links
    position = np.arange(valid.size).reshape(len(labels), objects.size).T
    chosen = pa.concat_arrays(labels).take(pa.array(position[valid]))
    return listed(offsets_from_counts(valid.sum(axis=1)), chosen)


def compound(
    objects: Objects, spec: CollectionSpec, present: Mapping[str, CollectionSpec]
) -> pa.ListArray:
    """Phoenix electrons, muons and photons with their linked tracks and clusters."""
    fields = {
        **angles(objects),
        "pT": whole(objects["pt"]),
        "energy": whole(energy(objects, MASSES.get(spec.kind, 0.0))),
        "LinkedTracks": linked(objects, spec, present, "track"),
        "LinkedClusters": linked(objects, spec, present, "cluster"),
    }
    if spec.kind in PDG_IDS:
        charge = objects["charge"].astype(np.int64)
        fields["charge"] = charge
        fields["pdgId"] = -PDG_IDS[spec.kind] * charge
    else:
        fields["pdgId"] = np.full(objects.size, 22, dtype=np.int64)
    return records(objects.offsets, fields)


def missing_energy(batch: EventBatch) -> pa.ListArray:
    """Phoenix MissingEnergy: one object per event, with how it was obtained."""
    mex, mey, note = missing_et(batch)
    return records(
        np.arange(len(batch) + 1),
        {
            "etx": whole(mex),
            "ety": whole(mey),
            "et": whole(np.hypot(mex, mey)),
            "phi": rounded(np.arctan2(mey, mex), 4),
            "note": pa.repeat(note, len(batch)),
        },
    )


BUILDERS = {
    "track": tracks,
    "jet": jets,
    "tau": jets,
    "cluster": clusters,
    "vertex": vertices,
}


def event_table(batch: EventBatch, metadata: Mapping[str, str] | None = None) -> pa.Table:
    """One row per event in the Phoenix layout: event info, then object types."""
    fields: dict[str, pa.Array] = {}
    for key, info in EVENT_INFO.items():
        if info in batch.info:
            fields[key] = pa.array(batch.info[info].astype(np.int64))
    for key, value in (metadata or {}).items():
        fields[key] = pa.repeat(str(value), len(batch))
    by_type: dict[str, dict[str, pa.Array]] = {}
    for name, objects in batch.collections.items():
        spec = batch.specs[name]
        builder = BUILDERS.get(spec.kind)
        built = (builder or compound)(objects, spec, batch.specs)
        by_type.setdefault(PHOENIX_TYPES[spec.kind], {})[name] = built
    by_type["MissingEnergy"] = {"MET": missing_energy(batch)}
    for type_name, collections in by_type.items():
        fields[type_name] = pa.StructArray.from_arrays(
            list(collections.values()), names=list(collections)
        )
    return pa.table(fields)


def event_keys(batch: EventBatch) -> np.ndarray:
    """Event keys "RUN-EVENT" (or "EVENT" when the run is unknown)."""
    return keys_of(batch.info["event"], batch.info.get("run"))


def keys_of(events: np.ndarray, runs: np.ndarray | None) -> np.ndarray:
    """Event keys "RUN-EVENT" from event (and run) numbers; "EVENT" without runs."""
    event = np.asarray(events).astype(np.int64).astype(str)
    if runs is None:
        return event
    run = np.asarray(runs).astype(np.int64).astype(str)
    return np.char.add(np.char.add(run, "-"), event)


def event_dicts(keys: Sequence[str], batch: EventBatch, metadata=None) -> dict[str, dict]:
    """Phoenix event dicts of a batch, keyed by `keys` (through the same JSON as the files)."""
    text = json_members(keys, batch, metadata).select(polars.col("member").str.join("")).item()
    return json.loads("{" + text + "}")


def json_members(
    keys: Sequence[str],
    batch: EventBatch,
    metadata: Mapping[str, str] | None = None,
    first: bool = True,
) -> polars.DataFrame:
    """Members of a Phoenix multi-event JSON object, one row per event: ',\n"KEY": {event}'.

    Without the comma for the object's first member. Arrow -> polars shares the buffers and polars
    writes the JSON in compiled code, about twenty times faster than going through Python objects;
    cut into one piece per polars thread, the events are encoded on all cores at once.
    """
    separators = np.full(len(keys), ",\n")
    separators[0] = "" if first else ",\n"
    heads = pc.binary_join_element_wise(pa.array(separators), '"', pa.array(keys), '": ', "")
    table = pa.table({"head": heads, "event": event_table(batch, metadata).to_struct_array()})
    piece = max(1, math.ceil(len(table) / polars.thread_pool_size()))
    frame = polars.from_arrow(
        pa.Table.from_batches(table.to_batches(max_chunksize=piece)), rechunk=False
    )
    member = polars.concat_str(polars.col("head"), polars.col("event").struct.json_encode())
    return frame.select(member.alias("member"))


def write_members(members: polars.DataFrame, out: IO[bytes]) -> None:
    """Write JSON members as they are (no quoting, no line ends added)."""
    members.write_csv(out, include_header=False, quote_style="never", line_terminator="")
