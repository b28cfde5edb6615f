"""Read inputs chunk by chunk, keep the selected events, and write display JSON or columns."""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from converters.columns import arrow_table, columns
from converters.errors import EventLabError, SelectionError
from converters.read import BranchPlan, EventBatch, EventSource, columns_plan, default_plan
from converters.selection import Selection
from converters.storage import EventStore

CHUNK_ENTRIES = 5000
# Dictionary encoding of float columns costs half the writing time and makes files larger.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": False}


@dataclass
class RunSummary:
    """What a conversion did, for the one summary line at the end."""

    events: int = 0
    entries_read: int = 0
    bytes_read: int = 0
    inputs: int = 0
    seconds: float = 0.0
    collections: set[str] = field(default_factory=set)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    missing_event_numbers: set[int] = field(default_factory=set)


def as_selection(events: slice | Selection | None) -> Selection:
    """A Selection from a slice of entries, a Selection, or nothing (every event)."""
    if events is None:
        return Selection()
    if isinstance(events, Selection):
        return events
    if events.step not in (None, 1):
        raise SelectionError("entry slices with a step are not supported")
    return Selection(ranges=((events.start or 0, events.stop),))


def as_sources(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """Input names as strings, one or many."""
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    if not inputs:
        raise EventLabError("no input file given")
    return [os.fspath(name) for name in inputs]


class BatchSelector:
    """Applies a Selection to consecutive batches, keeping count across inputs."""

    def __init__(self, selection: Selection):
        self.selection = selection
        self.kept = 0
        self.found_numbers: set[int] = set()

    def done(self) -> bool:
        """Whether the cap on the number of events is reached."""
        return self.selection.max_events is not None and self.kept >= self.selection.max_events

    def mask(self, batch: EventBatch, first_entry: int) -> np.ndarray:
        """Which events of the batch to keep."""
        mask = self.selection.entry_mask(first_entry, len(batch))
        by_number = self.selection.number_mask(batch.info["event"])
        self.found_numbers |= set(batch.info["event"][by_number & mask].astype(np.int64).tolist())
        mask &= by_number
        if self.selection.expression and mask.any():
            mask &= self.expression_mask(batch)
        if self.selection.max_events is not None:
            room = self.selection.max_events - self.kept
            mask &= np.cumsum(mask) <= room
        self.kept += int(mask.sum())
        return mask

    def expression_mask(self, batch: EventBatch) -> np.ndarray:
        """Events passing the --select expression over the per-event columns."""
        return expression_mask(columns(batch), self.selection.expression)


@lru_cache(maxsize=16)
def parsed_expression(expression: str, names: tuple[str, ...]):
    """The --select expression parsed against the column names (once per process)."""
    from converters.expressions import parse

    return parse(expression, names)


def expression_mask(table: Mapping[str, np.ndarray], expression: str) -> np.ndarray:
    """Which rows of the per-event columns pass a --select expression."""
    result = np.asarray(parsed_expression(expression, tuple(table)).evaluate(table))
    if result.dtype != bool:
        raise SelectionError(
            f"--select {expression!r} gives numbers, not true/false;"
            " compare it with something, e.g. 'n_muons >= 2'"
        )
    return result


def selected_batches(
    inputs: Sequence[str],
    selection: Selection,
    summary: RunSummary,
    progress: bool = False,
    chunk_entries: int = CHUNK_ENTRIES,
    planner: Callable[[EventStore], BranchPlan] = default_plan,
) -> Iterator[EventBatch]:
    """The selected events of all inputs, chunk by chunk, reading only the entries needed.

    `planner` says which branches of each input to read (all the converters use by default).
    """
    sources = [EventSource(name, planner=planner) for name in inputs]
    summary.inputs = len(sources)
    for source in sources:
        if source.skipped:
            summary.skipped[source.source] = source.skipped
    selector = BatchSelector(selection)
    offsets = np.cumsum([0] + [source.num_entries for source in sources])
    spans = [
        entry_spans(source, selection, int(offset))
        for source, offset in zip(sources, offsets, strict=False)
    ]
    with tqdm(
        total=sum(stop - start for per_source in spans for start, stop in per_source),
        unit="events",
        delay=2.0,
        disable=not progress,
        file=sys.stderr,
    ) as bar:
        try:
            for source, offset, source_spans in zip(sources, offsets, spans, strict=False):
                for span_start, span_stop in source_spans:
                    for first, batch in source.iterate(span_start, span_stop, chunk_entries):
                        summary.entries_read += len(batch)
                        bar.update(len(batch))
                        kept = batch.take(selector.mask(batch, int(offset) + first))
                        if len(kept):
                            summary.collections |= set(kept.collections)
                            yield kept
                        summary.events = selector.kept
                        if selector.done():
                            return
        finally:
            summary.bytes_read = sum(source.bytes_read for source in sources)
    summary.missing_event_numbers = set(selection.event_numbers) - selector.found_numbers


def entry_spans(source: EventSource, selection: Selection, offset: int) -> list[tuple[int, int]]:
    """The entry ranges of one input worth reading for `selection` (`offset`: its first entry).

    Entry ranges bound what is read; with event numbers, the event-number column is read first
    and then only the clusters that hold a wanted event, from its first to its last such entry.
    """
    spans = selection.local_ranges(offset, source.num_entries)
    if not selection.event_numbers or not spans:
        return spans
    entries = np.flatnonzero(selection.number_mask(source.event_numbers()))
    inside = np.zeros(len(entries), dtype=bool)
    for start, stop in spans:
        inside |= (entries >= start) & (entries < stop)
    return entries_by_cluster(entries[inside], source.cluster_boundaries())


def entries_by_cluster(entries: np.ndarray, boundaries: np.ndarray) -> list[tuple[int, int]]:
    """For each cluster holding some of `entries` (sorted), the range from its first to last."""
    if len(entries) == 0:
        return []
    cluster = np.searchsorted(boundaries, entries, side="right")
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    last = np.r_[first[1:], len(entries)] - 1
    return [(int(entries[a]), int(entries[b]) + 1) for a, b in zip(first, last, strict=True)]


def require_events(summary: RunSummary, selection: Selection) -> None:
    """Fail clearly when the selection kept nothing."""
    if summary.events:
        return
    if selection.event_numbers:
        raise SelectionError("none of the requested event numbers is in the input")
    if selection.expression:
        raise SelectionError(f"no event passes --select {selection.expression!r}")
    raise SelectionError("the selection keeps no event (check --events against the input size)")


@contextmanager
def atomic_output(path: Path, binary: bool = False) -> Iterator[IO]:
    """A file written under a temporary name and renamed into place only on success."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise EventLabError(f"{path.parent}: output folder does not exist")
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    compress = path.suffix == ".gz"
    opener = gzip.open if compress else open
    mode = "wb" if binary else ("wt" if compress else "w")
    try:
        with opener(temporary, mode, **({} if binary else {"encoding": "utf-8"})) as handle:
            yield handle
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def unique_keys(keys: np.ndarray, seen: set[str], first_entry: int) -> list[str]:
    """Event keys made unique across the whole output (a suffix where one repeats)."""
    keys = keys.tolist()
    if seen.isdisjoint(keys) and len(set(keys)) == len(keys):
        seen.update(keys)
        return keys
    unique = []
    for index, key in enumerate(keys):
        candidate = key if key not in seen else f"{key}#{first_entry + index}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def write_display_json(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    events: slice | Selection | None = None,
    metadata: Mapping[str, str] | None = None,
    progress: bool = False,
) -> RunSummary:
    """Convert inputs to a Phoenix multi-event JSON file (gzip-compressed if it ends in .gz)."""
    from converters.phoenix import event_keys, json_members, write_members

    selection = as_selection(events)
    summary = RunSummary()
    started = time.perf_counter()
    seen: set[str] = set()
    with atomic_output(Path(output), binary=True) as out:
        out.write(b"{\n")
        for batch in selected_batches(as_sources(inputs), selection, summary, progress):
            first = not seen
            keys = unique_keys(event_keys(batch), seen, len(seen))
            write_members(json_members(keys, batch, metadata, first=first), out)
        out.write(b"\n}\n")
        require_events(summary, selection)
    summary.seconds = time.perf_counter() - started
    return summary


def convert_events(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    events: slice | Selection | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, dict]:
    """Phoenix event dicts keyed by "RUN-EVENT", for the app and notebooks."""
    import polars

    from converters.phoenix import event_keys, json_members

    selection = as_selection(events)
    summary = RunSummary()
    seen: set[str] = set()
    members: list[str] = []
    for batch in selected_batches(as_sources(inputs), selection, summary):
        keys = unique_keys(event_keys(batch), seen, len(seen))
        members.append(json_members(keys, batch, metadata, first=not members))
    require_events(summary, selection)
    text = polars.concat(members).select(polars.col("member").str.join("")).item()
    return json.loads("{" + text + "}")


def column_tables(
    inputs: Sequence[str],
    selection: Selection,
    summary: RunSummary,
    metadata: Mapping[str, str] | None,
    limits: Mapping[str, int],
    progress: bool = False,
) -> Iterator[pa.Table]:
    """Arrow tables of per-event columns, chunk by chunk (reading only what columns need).

    A --select expression is over the columns too, so the same branches serve it.
    """
    batches = selected_batches(inputs, selection, summary, progress, planner=columns_plan)
    for batch in batches:
        yield arrow_table(columns(batch, **limits), metadata)


def columns_table(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    events: slice | Selection | None = None,
    metadata: Mapping[str, str] | None = None,
    max_leptons: int = 4,
    max_jets: int = 4,
    max_photons: int = 2,
) -> pa.Table:
    """All selected events' columns as one pyarrow table."""
    selection = as_selection(events)
    summary = RunSummary()
    limits = {"max_leptons": max_leptons, "max_jets": max_jets, "max_photons": max_photons}
    tables = list(column_tables(as_sources(inputs), selection, summary, metadata, limits))
    require_events(summary, selection)
    return concatenate(tables)


def concatenate(tables: list[pa.Table]) -> pa.Table:
    """One table from chunks; inputs of different formats must share their columns."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise EventLabError(
            f"the inputs give different columns and cannot be merged: {error}"
        ) from None


def write_columns(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    events: slice | Selection | None = None,
    metadata: Mapping[str, str] | None = None,
    max_leptons: int = 4,
    max_jets: int = 4,
    max_photons: int = 2,
    progress: bool = False,
) -> RunSummary:
    """Write per-event columns to a parquet or CSV file, chosen by the output's extension."""
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise EventLabError(f"{output}: the output must end in .parquet or .csv")
    selection = as_selection(events)
    summary = RunSummary()
    started = time.perf_counter()
    limits = {"max_leptons": max_leptons, "max_jets": max_jets, "max_photons": max_photons}
    with atomic_output(output, binary=True) as out:
        tables = column_tables(as_sources(inputs), selection, summary, metadata, limits, progress)
        write_tables(tables, out, suffix)
        require_events(summary, selection)
    summary.seconds = time.perf_counter() - started
    return summary


def write_tables(tables: Iterable[pa.Table], out: IO, suffix: str) -> None:
    """Write tables one after the other as parquet (zstd) or CSV, in the first one's schema."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    writer, schema = None, None
    for table in tables:
        if writer is None:
            schema = table.schema
            writer = (
                pq.ParquetWriter(out, schema, **PARQUET_OPTIONS)
                if suffix == ".parquet"
                else pa_csv.CSVWriter(out, schema)
            )
        if table.schema != schema:
            table = concatenate([schema.empty_table(), table]).cast(schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
