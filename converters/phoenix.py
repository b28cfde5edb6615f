"""Event batches -> events in the Phoenix JSON event format, one small builder per object type.

Everything stays columnar: each builder returns a jagged (events x objects) record array whose
fields are Phoenix attributes, and awkward writes the JSON. Units are MeV, mm and radians.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import awkward as ak
import numpy as np
import polars

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


def objects(fields: Mapping[str, ak.Array]) -> ak.Array:
    """A jagged (events x objects) record array from jagged fields of equal counts."""
    return ak.zip(dict(fields), depth_limit=2)


def flat(values: ak.Array) -> np.ndarray:
    """The float64 contents of a jagged array, NaN and inf replaced by 0 (JSON has neither)."""
    numbers = ak.to_numpy(ak.flatten(values, axis=None)).astype(np.float64)
    return np.nan_to_num(numbers, nan=0.0, posinf=0.0, neginf=0.0)


def rounded(values: ak.Array, decimals: int) -> ak.Array:
    """A jagged (events x objects) array rounded to `decimals` places."""
    return ak.unflatten(np.round(flat(values), decimals), ak.num(values, axis=1))


def significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Round to `digits` significant digits."""
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
        scale = 10.0 ** (digits - 1 - np.nan_to_num(exponent, neginf=0.0))
        return np.where(values == 0, 0.0, np.round(values * scale) / scale)


def angles(records: ak.Array) -> dict[str, ak.Array]:
    """eta and phi, rounded for display."""
    return {"eta": rounded(records["eta"], 4), "phi": rounded(records["phi"], 4)}


def tracks(records: ak.Array, spec: CollectionSpec) -> ak.Array:
    """Phoenix tracks: helix points `pos`, perigee `dparams`, and values for cuts."""
    per_event = ak.num(records, axis=1)
    d0, z0, phi, theta, qop = (flat(records[k]) for k in ("d0", "z0", "phi", "theta", "qop"))
    points, counts = propagate_flat(d0, z0, phi, theta, qop, ENVELOPES[spec.reach])
    pos = ak.unflatten(ak.unflatten(np.round(points, 1) + 0.0, counts), per_event)
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
    by_event = {
        "pos": pos,
        "dparams": ak.unflatten(ak.from_regular(dparams), per_event),
        "pT": np.round(np.nan_to_num(kinematics["pt"]), 0),
        "eta": np.round(np.nan_to_num(kinematics["eta"]), 4),
        "phi": np.round(phi, 4),
        "charge": kinematics["charge"].astype(np.int64),
        "d0": np.round(d0, 3),
        "z0": np.round(z0, 2),
    }
    return objects(
        {
            k: v if isinstance(v, ak.Array) else ak.unflatten(v, per_event)
            for k, v in by_event.items()
        }
    )


def jets(records: ak.Array, spec: CollectionSpec) -> ak.Array:
    """Phoenix jets: cones along (eta, phi) with energy, pT and cone radius."""
    fields = {
        **angles(records),
        "energy": rounded(energy(records), 0),
        "pT": rounded(records["pt"], 0),
        "m": rounded(records["m"], 0),
        "coneR": ak.zeros_like(records["pt"], dtype=np.float64) + spec.cone_radius,
    }
    if "charge" in records.fields:
        fields["charge"] = ak.values_astype(records["charge"], np.int64)
    if "btag" in records.fields:
        fields["btag"] = records["btag"]
    return objects(fields)


def clusters(records: ak.Array, spec: CollectionSpec) -> ak.Array:
    """Phoenix calorimeter clusters: eta, phi and energy."""
    return objects({**angles(records), "energy": rounded(records["e"], 0)})


def vertices(records: ak.Array, spec: CollectionSpec) -> ak.Array:
    """Phoenix vertices (dummy vertices dropped), the primary one flagged."""
    records = records[records["vertex_type"] != NO_VERTEX_TYPE]
    return objects(
        {
            "x": rounded(records["x"], 3),
            "y": rounded(records["y"], 3),
            "z": rounded(records["z"], 2),
            "vertexType": records["vertex_type"],
            "primary": records["vertex_type"] == PRIMARY_VERTEX_TYPE,
        }
    )


def linked(
    records: ak.Array, spec: CollectionSpec, present: Mapping[str, CollectionSpec], kind: str
) -> ak.Array:
    """Per object, the "COLLECTION:INDEX" links into the present collections of one kind."""
    per_event = ak.num(records, axis=1)
    columns, valid = [], []
    for link in spec.links:
        key = f"link_{link.branch}"
        target = present.get(link.target)
        if target is None or target.kind != kind or key not in records.fields:
            continue
        index = ak.to_numpy(ak.flatten(records[key])).astype(np.int64)
        columns.append(np.char.add(f"{link.target}:", index.astype(str)))
        valid.append(index >= 0)
    if not columns:
        return empty_lists(per_event)
    strings = ak.from_regular(ak.from_numpy(np.stack(columns, axis=1)))
    mask = ak.from_regular(ak.from_numpy(np.stack(valid, axis=1)))
    return ak.unflatten(strings[mask], per_event)


def empty_lists(per_event: ak.Array) -> ak.Array:
    """An empty list of strings for every object."""
    total = int(ak.sum(per_event))
    strings = ak.unflatten(ak.Array(np.array([], dtype=str)), np.zeros(total, dtype=np.int64))
    return ak.unflatten(strings, per_event)


def compound(
    records: ak.Array, spec: CollectionSpec, present: Mapping[str, CollectionSpec]
) -> ak.Array:
    """Phoenix electrons, muons and photons with their linked tracks and clusters."""
    fields = {
        **angles(records),
        "pT": rounded(records["pt"], 0),
        "energy": rounded(energy(records, MASSES.get(spec.kind, 0.0)), 0),
        "LinkedTracks": linked(records, spec, present, "track"),
        "LinkedClusters": linked(records, spec, present, "cluster"),
    }
    if spec.kind in PDG_IDS:
        charge = ak.values_astype(records["charge"], np.int64)
        fields["charge"] = charge
        fields["pdgId"] = ak.values_astype(-PDG_IDS[spec.kind] * charge, np.int64)
    else:
        fields["pdgId"] = ak.zeros_like(records["pt"], dtype=np.int64) + 22
    return objects(fields)


def missing_energy(batch: EventBatch) -> ak.Array:
    """Phoenix MissingEnergy: one object per event, with how it was obtained."""
    mex, mey, note = missing_et(batch)
    one = np.ones(len(batch), dtype=np.int64)
    return ak.unflatten(
        ak.zip(
            {
                "etx": np.round(mex, 0),
                "ety": np.round(mey, 0),
                "et": np.round(np.hypot(mex, mey), 0),
                "phi": np.round(np.arctan2(mey, mex), 4),
                "note": np.full(len(batch), note),
            }
        ),
        one,
    )


BUILDERS = {
    "track": tracks,
    "jet": jets,
    "tau": jets,
    "cluster": clusters,
    "vertex": vertices,
}


def event_records(batch: EventBatch, metadata: Mapping[str, str] | None = None) -> ak.Array:
    """One record per event in the Phoenix layout: event info, then object types."""
    fields: dict[str, ak.Array | np.ndarray] = {}
    names = {
        "event number": "event",
        "run number": "run",
        "lumiBlock": "lumi_block",
        "mcChannelNumber": "mc_channel",
    }
    for key, info in names.items():
        if info in batch.info:
            fields[key] = batch.info[info].astype(np.int64)
    for key, value in (metadata or {}).items():
        fields[key] = np.full(len(batch), str(value))
    by_type: dict[str, dict[str, ak.Array]] = {}
    for name, records in batch.collections.items():
        spec = batch.specs[name]
        builder = BUILDERS.get(spec.kind)
        built = builder(records, spec) if builder else compound(records, spec, batch.specs)
        by_type.setdefault(PHOENIX_TYPES[spec.kind], {})[name] = built
    by_type["MissingEnergy"] = {"MET": missing_energy(batch)}
    for type_name, collections in by_type.items():
        fields[type_name] = ak.zip(collections, depth_limit=1)
    return ak.zip(fields, depth_limit=1)


def event_keys(batch: EventBatch) -> np.ndarray:
    """Event keys "RUN-EVENT" (or "EVENT" when the run is unknown)."""
    event = batch.info["event"].astype(np.int64).astype(str)
    if "run" not in batch.info:
        return event
    run = batch.info["run"].astype(np.int64).astype(str)
    return np.char.add(np.char.add(run, "-"), event)


def event_json(batch: EventBatch, metadata: Mapping[str, str] | None = None) -> list[str]:
    """The JSON text of every event of the batch.

    awkward -> Arrow -> polars shares the buffers, and polars writes JSON in compiled code;
    awkward's own writer goes through Python objects and is about twenty times slower.
    """
    if len(batch) == 0:
        return []
    table = ak.to_arrow_table(event_records(batch, metadata), extensionarray=False)
    buffer = io.BytesIO()
    polars.from_arrow(table).write_ndjson(buffer)
    return buffer.getvalue().decode("utf-8").rstrip("\n").split("\n")
