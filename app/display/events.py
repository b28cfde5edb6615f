"""Phoenix event files: find them, read them safely, and describe each event in one line."""

from __future__ import annotations

import json
import math
import re
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.data_folders import files_inside
from converters.errors import InputFileError
from converters.summary import summary_lines

EVENT_FILE_SUFFIXES = (".json", ".json.gz")
GZIP_MAGIC = b"\x1f\x8b"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # a file's text may be at most this
# What parsing may build at once: a bound on `parse_cost`. Parsed JSON takes about 24 times its
# text; an object or a list costs about 64 bytes, any other value about 32.
MAX_PARSE_BYTES = 1024 * 1024 * 1024
CONTAINER_BYTES = 64
VALUE_BYTES = 32
PER_EVENT_BYTES = 400  # what a kept event costs besides its text (its entries in four tuples)
MAX_NAMES_SHOWN = 5
DECODER = json.JSONDecoder()
SPACE = re.compile(r"[ \t\n\r]*")
# Files are parsed one at a time per process, so that the passing peaks of parsing never add up.
PARSING = threading.Lock()
# Types of the Phoenix event format whose values are {collection: [objects]}.
PHOENIX_TYPES = (
    "Tracks",
    "Jets",
    "CaloClusters",
    "CaloCells",
    "PlanarCaloCells",
    "IrregularCaloCells",
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
    """A Phoenix event file: one compact JSON text per event, parsed only when it is shown.

    Parsed JSON takes about 24 times the memory of its text, so only the texts are kept, with
    what the event list needs (keys, event numbers, one-line summaries).
    """

    name: str
    keys: tuple[str, ...]
    numbers: tuple[str, ...]
    summaries: tuple[str, ...]
    texts: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.keys)

    def event(self, position: int) -> dict[str, Any]:
        """The event at `position` (file order), parsed."""
        return json.loads(self.texts[position])

    def position_of(self, wanted: str) -> int | None:
        """The position of the event whose key or event number is `wanted`, if any."""
        for position, (key, number) in enumerate(zip(self.keys, self.numbers, strict=True)):
            if wanted in (key, number):
                return position
        return None

    @property
    def nbytes(self) -> int:
        """About how much memory the file holds."""
        labels = sum(map(len, self.keys)) + sum(map(len, self.numbers))
        labels += sum(map(len, self.summaries))
        return sum(map(len, self.texts)) + labels + PER_EVENT_BYTES * len(self.keys)

    @classmethod
    def from_events(cls, name: str, events: Mapping[str, Mapping[str, Any]]) -> EventFile:
        """An event file of parsed events (e.g. just converted)."""
        parts = ((key, event, compact_json(event)) for key, event in events.items())
        return cls.from_parts(name, parts)

    @classmethod
    def from_parts(
        cls, name: str, parts: Iterable[tuple[str, Mapping[str, Any], bytes]]
    ) -> EventFile:
        """An event file of (key, parsed event, its JSON text), in file order."""
        keys, numbers, summaries, texts = [], [], [], []
        for key, event, text in parts:
            keys.append(key)
            numbers.append(event_number(key, event))
            summaries.append(event_summary(event))
            texts.append(text)
        return cls(name, tuple(keys), tuple(numbers), tuple(summaries), tuple(texts))


def list_event_files(data_dirs: Iterable[Path]) -> dict[str, Path]:
    """File name -> path of every Phoenix event file directly inside the data folders."""
    found: dict[str, Path] = {}
    for directory in data_dirs:
        for path in files_inside(Path(directory), EVENT_FILE_SUFFIXES):
            found.setdefault(path.name, path)
    return found


def resolve_event_file(name: str, data_dirs: Iterable[Path]) -> Path:
    """The path of the data-folder file called `name`; only listed names are accepted."""
    available = list_event_files(data_dirs)
    path = available.get(name)
    if path is None:
        names = sorted(available)
        offered = ", ".join(names[:MAX_NAMES_SHOWN]) or "none"
        if len(names) > MAX_NAMES_SHOWN:
            offered += f" and {len(names) - MAX_NAMES_SHOWN} more"
        raise EventFileError(
            f"no event file called {shorten(name)!r} in the data folders (have: {offered})"
        )
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


def parse_event_bytes(
    data: bytes, name: str, max_text: int = MAX_UNPACKED_BYTES, limit: str = "a file may have"
) -> EventFile:
    """Parse the bytes of a Phoenix event file (plain or gzip-compressed JSON).

    Refused before anything big is built: more than `max_text` bytes of text (`limit` says
    whose limit that is), or more JSON values than one parse may build (see `parse_cost`).
    """
    if data[:2] == GZIP_MAGIC:
        data = gunzip_bounded(data, name, max_text, limit)
    elif len(data) > max_text:
        raise EventFileError(
            f"{name} is {len(data) / 2**20:.1f} MB of text, more than the "
            f"{max_text / 2**20:.0f} MB {limit}; open a smaller file"
        )
    cost = parse_cost(data)
    if cost > MAX_PARSE_BYTES:
        raise EventFileError(
            f"{name} holds too many JSON values to be read: it would take about "
            f"{cost / 1e6:,.0f} MB of memory (a Phoenix event file of that size takes far less)"
        )
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise EventFileError(f"{name} is not a text JSON file (it is not UTF-8)") from None
    with PARSING:
        return EventFile.from_parts(name, split_events(text, name))


def parse_cost(data: bytes) -> int:
    """An upper bound of the memory that parsing JSON text builds, from counts of separators."""
    containers = data.count(b"{") + data.count(b"[")
    values = data.count(b",") + data.count(b":") + 1
    return CONTAINER_BYTES * containers + VALUE_BYTES * values + len(data)


def split_events(text: str, name: str) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """(key, event, its text) of each event of a Phoenix file, parsed one event at a time.

    A file is an object of events ({"RUN-EVENT": event, ...}) or one bare event.
    """
    position = skip_space(text, 0)
    if not text.startswith("{", position):
        decode_or_fail(text, position, name)  # broken JSON gets its own message first
        raise EventFileError(f"{name} is not a Phoenix event file: expected an object of events")
    found, others = 0, {}
    for key, value, start, end in top_level_items(text, position, name):
        if isinstance(value, dict) and looks_like_event(value):
            found += 1
            yield key, value, text[start:end].encode("utf-8")
        else:
            others[key] = value
    if found:
        return
    if looks_like_event(others):
        yield str(first_value(others, EVENT_NUMBER_KEYS, "event")), others, compact_json(others)
        return
    raise EventFileError(
        f"{name} holds no Phoenix events (none of its entries has Tracks, Jets, "
        "CaloClusters, Vertices, MissingEnergy, Electrons, Muons, Photons or Hits)"
    )


def top_level_items(text: str, position: int, name: str) -> Iterator[tuple[str, Any, int, int]]:
    """(key, value, start, end of the value's text) of the object that starts at `position`."""
    position = skip_space(text, position + 1)
    if text.startswith("}", position):
        raise EventFileError(f"{name} is not a Phoenix event file: expected an object of events")
    while True:
        key, position = decode_or_fail(text, position, name)
        position = skip_space(text, position)
        if not isinstance(key, str) or not text.startswith(":", position):
            raise invalid_at(text, position, name, "expected a name in quotes, then ':'")
        start = skip_space(text, position + 1)
        value, end = decode_or_fail(text, start, name)
        yield key, value, start, end
        position = skip_space(text, end)
        if text.startswith("}", position):
            if skip_space(text, position + 1) != len(text):
                raise invalid_at(text, position + 1, name, "extra data after the end")
            return
        if not text.startswith(",", position):
            raise invalid_at(text, position, name, "expected ',' or '}'")
        position = skip_space(text, position + 1)


def decode_or_fail(text: str, position: int, name: str) -> tuple[Any, int]:
    """The JSON value that starts at `position`, and where it ends; a clear error otherwise."""
    try:
        return DECODER.raw_decode(text, position)
    except RecursionError:
        raise EventFileError(f"{name} is nested too deeply to be a Phoenix event file") from None
    except json.JSONDecodeError as error:
        raise EventFileError(
            f"{name} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


def invalid_at(text: str, position: int, name: str, what: str) -> EventFileError:
    """The error of invalid JSON at `position`."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return EventFileError(f"{name} is not valid JSON (line {line}, column {column}: {what})")


def skip_space(text: str, position: int) -> int:
    """The first position at or after `position` that is not JSON whitespace."""
    match = SPACE.match(text, position)
    return match.end() if match else position


def compact_json(event: Mapping[str, Any]) -> bytes:
    """An event as compact JSON text (NaN kept, as Phoenix files may have it)."""
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


def shorten(text: str, length: int = 80) -> str:
    """Text cut to `length` characters for a message."""
    return text if len(text) <= length else text[: length - 1] + "…"


def gunzip_bounded(
    data: bytes, name: str, max_bytes: int = MAX_UNPACKED_BYTES, limit: str = "a file may have"
) -> bytes:
    """Unpack gzip data, refusing more than `max_bytes` of output (no gzip bombs)."""
    unpacker = zlib.decompressobj(wbits=31)
    try:
        result = unpacker.decompress(data, max_bytes)
    except zlib.error as error:
        raise EventFileError(f"{name} looks gzip-compressed but cannot be unpacked") from error
    if unpacker.unconsumed_tail:
        raise EventFileError(
            f"{name} unpacks to more than {max_bytes / 2**20:.0f} MB, more than {limit}; open a "
            "smaller file"
        )
    return result


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
