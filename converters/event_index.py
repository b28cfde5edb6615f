"""A ROOT event file opened for the display: the event list up front, each event on demand.

Opening reads only the event and run numbers and what the one-line summaries need (object
counts and the approximate MET, computed as `convert` computes them), as small arrays. An event
is converted when it is asked for, from the cluster of entries that holds it; a few decoded
clusters are kept, so stepping through neighbouring events reads nothing again. One lock guards
the file and the cache: many browser sessions of one process can share an index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from converters.errors import InputFileError
from converters.kinematics import missing_et
from converters.phoenix import event_dicts, keys_of, whole
from converters.pipeline import unique_keys
from converters.read import EventBatch, EventSource, plan_ntuple, plan_physlite
from converters.schema import MET_CORE
from converters.storage import EventStore
from converters.summary import summary_lines

SUMMARY_COLLECTIONS = (
    "AnalysisElectrons",
    "AnalysisMuons",
    "AnalysisPhotons",
    "AnalysisJets",
    MET_CORE.name,
)
SUMMARY_CHUNK = 20_000  # entries read at once while indexing
CACHED_CLUSTERS = 4
MAX_CLUSTER_ENTRIES = 2000  # longer clusters are read in windows of this many entries


@dataclass(frozen=True)
class SummaryColumns:
    """Per event: the numbers and what its summary line says."""

    event: np.ndarray
    run: np.ndarray | None
    electrons: np.ndarray
    muons: np.ndarray
    photons: np.ndarray
    jets: np.ndarray
    met_gev: np.ndarray

    @classmethod
    def of(cls, batch: EventBatch) -> SummaryColumns:
        """The columns of one batch, as its converted events would show them."""

        def count(name: str) -> np.ndarray:
            objects = batch.collections.get(name)
            return np.zeros(len(batch), np.int32) if objects is None else objects.counts

        mex, mey, _ = missing_et(batch)
        return cls(
            event=batch.info["event"].astype(np.int64),
            run=batch.info["run"].astype(np.int64) if "run" in batch.info else None,
            electrons=count("AnalysisElectrons").astype(np.int32),
            muons=count("AnalysisMuons").astype(np.int32),
            photons=count("AnalysisPhotons").astype(np.int32),
            jets=count("AnalysisJets").astype(np.int32),
            # From the whole MeV the display JSON holds, so the words match those of its events.
            met_gev=(np.hypot(whole(mex), whole(mey)) / 1000.0).astype(np.float64),
        )

    @classmethod
    def concatenate(cls, parts: list[SummaryColumns]) -> SummaryColumns:
        """All parts one after the other."""
        names = ("event", "electrons", "muons", "photons", "jets", "met_gev")
        joined = {name: np.concatenate([getattr(part, name) for part in parts]) for name in names}
        runs = [part.run for part in parts]
        joined["run"] = None if any(run is None for run in runs) else np.concatenate(runs)
        return cls(**joined)


def batch_nbytes(batch: EventBatch) -> int:
    """The bytes of a decoded batch's arrays."""
    arrays = list(batch.info.values())
    for objects in batch.collections.values():
        arrays += [objects.offsets, *objects.columns.values()]
    for pair in (batch.met, batch.met_soft_track):
        arrays += list(pair or ())
    return sum(array.nbytes for array in arrays if isinstance(array, np.ndarray))


def summary_source(source: EventSource) -> EventSource:
    """The same file planned for the summaries only: no tracks, clusters or links."""
    store = source.store
    if store.format == "physlite":
        plan = plan_physlite(store, SUMMARY_COLLECTIONS, links=False)
    else:
        plan = plan_ntuple(store)
    return EventSource(source.source, store=store, plan=plan)


class EventIndex:
    """A PHYSLITE (TTree or RNTuple) or education-ntuple file: its events listed, then
    converted one at a time, reading only the cluster of entries that holds each."""

    def __init__(
        self,
        source: str,
        cached_clusters: int = CACHED_CLUSTERS,
        max_cluster_entries: int = MAX_CLUSTER_ENTRIES,
        store: EventStore | None = None,
    ):
        """`store`: the file already opened (e.g. from bytes in memory); `source` names it."""
        self.source = EventSource(str(source), store=store)
        self.name = str(source)
        self.cached_clusters = max(int(cached_clusters), 1)
        self.max_cluster_entries = max(int(max_cluster_entries), 1)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int], EventBatch] = OrderedDict()
        self._boundaries = self.source.cluster_boundaries()
        self.columns = self._read_summaries()
        keys = unique_keys(keys_of(self.columns.event, self.columns.run), set(), 0)
        self._keys = np.array(keys, dtype=np.bytes_)  # one byte per character: they are ASCII

    def _read_summaries(self) -> SummaryColumns:
        """The summary columns of every event, read chunk by chunk."""
        reader = summary_source(self.source)
        parts = [
            SummaryColumns.of(batch)
            for _, batch in reader.iterate(0, self.source.num_entries, SUMMARY_CHUNK)
        ]
        if not parts:
            raise InputFileError(f"{self.name}: the file holds no events")
        return SummaryColumns.concatenate(parts)

    @property
    def nbytes(self) -> int:
        """Memory held by the index itself (its arrays), not counting cached clusters."""
        arrays = [value for value in vars(self.columns).values() if isinstance(value, np.ndarray)]
        return sum(array.nbytes for array in arrays) + self._keys.nbytes

    @property
    def cached_nbytes(self) -> int:
        """Memory held by the decoded clusters kept for the next events."""
        with self._lock:
            batches = list(self._cache.values())
        return sum(batch_nbytes(batch) for batch in batches)

    def forget_clusters(self) -> None:
        """Drop the decoded clusters kept (to give their memory back)."""
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self.columns.event)

    @property
    def skipped(self) -> list[str]:
        """Collections this file does not have."""
        return self.source.skipped

    @property
    def keys(self) -> list[str]:
        """The event keys ("RUN-EVENT") in file order, as `convert` writes them."""
        return np.char.decode(self._keys, "ascii").tolist()

    @property
    def bytes_read(self) -> int:
        """Bytes fetched from the file so far."""
        return self.source.bytes_read

    def key(self, entry: int) -> str:
        """The key of one entry."""
        return self._keys[self._checked(entry)].decode("ascii")

    def entry(self, key: str) -> int:
        """The entry of an event key ("RUN-EVENT", or the event number alone)."""
        matches = np.flatnonzero(self._keys == key.encode("utf-8"))
        if len(matches) == 0 and key.isdigit():
            matches = np.flatnonzero(self.columns.event == int(key))
        if len(matches) == 0:
            raise InputFileError(f"{self.name}: no event {key!r}")
        return int(matches[0])

    def summaries(self, start: int = 0, stop: int | None = None) -> list[str]:
        """The summary lines of entries [start, stop), in the words of the display's list."""
        window = slice(start, stop)
        columns = self.columns
        return summary_lines(
            columns.electrons[window],
            columns.muons[window],
            columns.photons[window],
            columns.jets[window],
            columns.met_gev[window],
        )

    def summary(self, entry: int) -> str:
        """The summary line of one entry."""
        entry = self._checked(entry)
        return self.summaries(entry, entry + 1)[0]

    def event(self, entry: int) -> dict:
        """The Phoenix event dict of one entry, as `convert` writes it."""
        entry = self._checked(entry)
        batch, first = self._cluster_of(entry)
        one = batch.take(np.array([entry - first]))
        return event_dicts([self.key(entry)], one)[self.key(entry)]

    def _checked(self, entry: int) -> int:
        """`entry` as an int, refused when outside the file."""
        entry = int(entry)
        if not 0 <= entry < len(self):
            raise InputFileError(f"{self.name}: no entry {entry} (the file has {len(self)})")
        return entry

    def span(self, entry: int) -> tuple[int, int]:
        """The entries read together with `entry`: its cluster, or a window of a long one."""
        boundaries = self._boundaries
        position = int(np.searchsorted(boundaries, entry, side="right")) - 1
        start, stop = int(boundaries[position]), int(boundaries[position + 1])
        if stop - start > self.max_cluster_entries:
            start += (entry - start) // self.max_cluster_entries * self.max_cluster_entries
            stop = min(start + self.max_cluster_entries, stop)
        return start, stop

    def _cluster_of(self, entry: int) -> tuple[EventBatch, int]:
        """The decoded batch holding `entry` and its first entry (read, or from the cache)."""
        span = self.span(entry)
        with self._lock:
            batch = self._cache.get(span)
            if batch is None:
                batch = self.source.read(*span)
                self._cache[span] = batch
                while len(self._cache) > self.cached_clusters:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(span)
        return batch, span[0]
