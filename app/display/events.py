"""Phoenix event files: find them, read them safely, and describe each event in one line."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.errors import InputFileError
from converters.summary import summary_lines

EVENT_FILE_SUFFIXES = (".json", ".json.gz")
GZIP_MAGIC = b"\x1f\x8b"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # a compressed file may unpack to at most this
# Types of the Phoenix event format whose values are {collection: [objects]}.
PHOENIX_TYPES = (
    "Tracks",
    "Jets",
    "CaloClusters",
    "CaloCells",
    "Vertices",
    "MissingEnergy",
    "Electrons",
    "Muons",
    "Photons",
    "Hits",
)
EVENT_NUMBER_KEYS = ("event number", "eventNumber", "EventNumber")
RUN_NUMBER_KEYS = ("run number", "runNumber", "RunNumber")
LUMI_BLOCK_KEYS = ("lumiBlock", "lumi block", "LumiBlock")
MC_CHANNEL_KEYS = ("mcChannelNumber", "MCChannelNumber", "mc channel number")
TOY_MARKERS = ("toy", "simulated toy")


class EventFileError(InputFileError):
    """An event file that cannot be used: not found, not allowed, or not Phoenix JSON."""


@dataclass(frozen=True)
class EventFile:
    """A Phoenix event file read into memory: its display name and its events in file order."""

    name: str
    events: dict[str, dict[str, Any]]

    @property
    def keys(self) -> list[str]:
        """The event keys in file order."""
        return list(self.events)


def list_event_files(data_dirs: Iterable[Path]) -> dict[str, Path]:
    """File name -> path of every Phoenix event file directly inside the data folders."""
    found: dict[str, Path] = {}
    for directory in data_dirs:
        directory = Path(directory)
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.name.endswith(EVENT_FILE_SUFFIXES):
                found.setdefault(path.name, path.resolve())
    return found


def resolve_event_file(name: str, data_dirs: Iterable[Path]) -> Path:
    """The path of the data-folder file called `name`; only listed names are accepted."""
    available = list_event_files(data_dirs)
    path = available.get(name)
    if path is None:
        offered = ", ".join(sorted(available)) or "none"
        raise EventFileError(f"no event file called {name!r} in the data folders (have: {offered})")
    return path


def read_event_file(path: Path, max_bytes: int | None = None) -> EventFile:
    """Read a Phoenix JSON (or .json.gz) file from disk."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise EventFileError(f"cannot open {path.name}: {error.strerror or error}") from error
    if max_bytes is not None and size > max_bytes:
        raise EventFileError(
            f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        )
    return parse_event_bytes(path.read_bytes(), path.name)


def parse_event_bytes(data: bytes, name: str) -> EventFile:
    """Parse the bytes of a Phoenix event file (plain or gzip-compressed JSON)."""
    if data[:2] == GZIP_MAGIC:
        data = gunzip_bounded(data, name)
    try:
        content = json.loads(data)
    except RecursionError:
        raise EventFileError(f"{name} is nested too deeply to be a Phoenix event file") from None
    except UnicodeDecodeError as error:
        raise EventFileError(f"{name} is not a text JSON file") from error
    except json.JSONDecodeError as error:
        raise EventFileError(
            f"{name} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    return EventFile(name=name, events=events_from_content(content, name))


def gunzip_bounded(data: bytes, name: str, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """Unpack gzip data, refusing more than `limit` bytes of output (no gzip bombs)."""
    unpacker = zlib.decompressobj(wbits=31)
    try:
        result = unpacker.decompress(data, limit)
    except zlib.error as error:
        raise EventFileError(f"{name} looks gzip-compressed but cannot be unpacked") from error
    if unpacker.unconsumed_tail:
        raise EventFileError(
            f"{name} unpacks to more than {limit / 1e6:.0f} MB; open a smaller file"
        )
    return result


def events_from_content(content: Any, name: str) -> dict[str, dict[str, Any]]:
    """The events of parsed Phoenix JSON: {key: event}, or one bare event under its number."""
    if not isinstance(content, dict) or not content:
        raise EventFileError(f"{name} is not a Phoenix event file: expected an object of events")
    if looks_like_event(content):
        return {str(first_value(content, EVENT_NUMBER_KEYS, "event")): content}
    events = {str(key): value for key, value in content.items() if isinstance(value, dict)}
    events = {key: value for key, value in events.items() if looks_like_event(value)}
    if not events:
        raise EventFileError(
            f"{name} holds no Phoenix events (none of its entries has Tracks, Jets, "
            "CaloClusters, Vertices, MissingEnergy, Electrons, Muons, Photons or Hits)"
        )
    return events


def looks_like_event(candidate: Mapping[str, Any]) -> bool:
    """Whether a mapping is one Phoenix event (it has at least one object type)."""
    return any(isinstance(candidate.get(kind), dict) for kind in PHOENIX_TYPES)


def first_value(event: Mapping[str, Any], keys: Iterable[str], default: Any = None) -> Any:
    """The value of the first of `keys` present in `event`."""
    for key in keys:
        if key in event and event[key] is not None:
            return event[key]
    return default


def collections(event: Mapping[str, Any], kind: str) -> dict[str, list]:
    """The collections of one Phoenix type, keeping only those that are lists."""
    value = event.get(kind)
    if not isinstance(value, dict):
        return {}
    return {str(name): items for name, items in value.items() if isinstance(items, list)}


def count_objects(event: Mapping[str, Any], kind: str) -> int:
    """How many objects of a type the event holds, over its collections."""
    return sum(len(items) for items in collections(event, kind).values())


def jet_count(event: Mapping[str, Any]) -> int:
    """Small-R jets: AnalysisJets if present, else the first jet collection."""
    jets = collections(event, "Jets")
    if "AnalysisJets" in jets:
        return len(jets["AnalysisJets"])
    small_r = [items for name, items in jets.items() if "LargeR" not in name and "Tau" not in name]
    return len(small_r[0]) if small_r else 0


def missing_et_gev(event: Mapping[str, Any]) -> float | None:
    """The magnitude of the event's (first) missing transverse energy, in GeV."""
    for items in collections(event, "MissingEnergy").values():
        for item in items:
            if isinstance(item, dict):
                etx, ety = _number(item.get("etx")), _number(item.get("ety"))
                if etx is not None and ety is not None:
                    return math.hypot(etx, ety) / 1000.0
    return None


def event_summary(event: Mapping[str, Any]) -> str:
    """One line for the event list, e.g. '2 mu, 4 jets, MET 43 GeV'."""
    met = missing_et_gev(event)
    return summary_lines(
        [count_objects(event, "Electrons")],
        [count_objects(event, "Muons")],
        [count_objects(event, "Photons")],
        [jet_count(event)],
        [math.nan if met is None else met],
        [count_objects(event, "Tracks")],
        [count_objects(event, "CaloClusters")],
    )[0]


def event_metadata(key: str, event: Mapping[str, Any]) -> dict[str, str]:
    """What the metadata panel shows: run, event, lumi block, MC channel or data, and a note."""
    number = first_value(event, EVENT_NUMBER_KEYS, key)
    run = first_value(event, RUN_NUMBER_KEYS, "unknown")
    lumi = first_value(event, LUMI_BLOCK_KEYS, "unknown")
    channel = first_value(event, MC_CHANNEL_KEYS)
    notes = " ".join(str(event.get(field, "")) for field in ("dataset", "note")).lower()
    if any(marker in notes for marker in TOY_MARKERS):
        origin = "simulated toy event"
    elif channel is not None:
        origin = f"simulation, MC channel {channel}"
    elif "simulat" in notes or "mc" in notes.split():
        origin = "simulation"
    else:
        origin = "data"
    metadata = {"Run": str(run), "Event": str(number), "Lumi block": str(lumi), "Origin": origin}
    dataset = event.get("dataset")
    if isinstance(dataset, str) and dataset:
        metadata["Dataset"] = dataset
    return metadata


def event_number(key: str, event: Mapping[str, Any]) -> str:
    """The event number as text (the key when the event does not say)."""
    return str(first_value(event, EVENT_NUMBER_KEYS, key))


def event_json_bytes(key: str, event: Mapping[str, Any]) -> bytes:
    """One event as a Phoenix event file, ready to download and open in any Phoenix display."""
    try:
        text = json.dumps({key: event}, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity: not JSON, browsers refuse them
        text = json.dumps({key: finite_only(event)}, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def finite_only(value: Any) -> Any:
    """A copy of parsed JSON with NaN and infinities replaced by null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: finite_only(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_only(item) for item in value]
    return value


def _number(value: Any) -> float | None:
    """`value` as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
