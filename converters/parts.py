"""One chunk of a run in parts, done where it runs: read the entries, compute, write one part.

A chunk is a range of entries of one input, cut at cluster boundaries. Its part is written by
whoever computes it (a Dask worker or the command's own process) under a temporary name and
renamed, so a part file that exists is complete. A job says what a part holds: per-event columns
(`ColumnsJob`, a parquet part) or event-display events (`DisplayJob`, a Phoenix JSON part).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa

from converters.columns import arrow_table, columns
from converters.open_inputs import borrowed_source
from converters.pipeline import PARQUET_OPTIONS, atomic_output, expression_mask, unique_keys
from converters.read import EventBatch, EventSource, columns_plan, default_plan
from converters.selection import Selection

READ_ENTRIES = 5000  # entries read at once within a chunk


def described(selection: Selection) -> dict:
    """A selection as JSON-ready values: its event ranges, event numbers and expression."""
    return {
        "events": [list(span) for span in selection.ranges],
        "event_numbers": sorted(selection.event_numbers),
        "select": selection.expression,
    }


@dataclass(frozen=True)
class ColumnsJob:
    """What every chunk of one run computes: the selection, the column counts, the metadata."""

    selection: Selection = field(default_factory=Selection)
    limits: Mapping[str, int] = field(default_factory=dict)
    metadata: Mapping[str, str] | None = None
    prefetch: bool = True  # read the next batch in a second thread (not on one-core workers)
    suffix: ClassVar[str] = ".parquet"
    command: ClassVar[str] = "columns"

    @property
    def planner(self) -> Callable:
        """Which branches the inputs are read with."""
        return columns_plan

    def describe(self) -> dict:
        """The job as JSON-ready values, to recognise the same job on a rerun."""
        return {**described(self.selection), **dict(sorted(self.limits.items()))}

    def write_chunk(self, chunk: Chunk, path: Path) -> PartResult:
        """Compute one chunk's columns and write them to `path` as parquet."""
        import pyarrow.parquet as pq

        table, result = chunk_table(chunk, self)
        pq.write_table(table, path, **PARQUET_OPTIONS)
        return result

    def events_in(self, path: Path) -> int:
        """Rows of a written part (from its footer)."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows

    def join(self, parts: Sequence[Path], output: Path) -> None:
        """The parts' rows, in order, in one parquet or CSV file (under a temporary name)."""
        import pyarrow.parquet as pq

        from converters.pipeline import write_tables

        with atomic_output(output, binary=True) as out:
            write_tables((pq.read_table(path) for path in parts), out, output.suffix.lower())


@dataclass(frozen=True)
class DisplayJob:
    """Event-display (Phoenix JSON) parts: every chunk's selected events, keyed "RUN-EVENT"."""

    selection: Selection = field(default_factory=Selection)
    metadata: Mapping[str, str] | None = None
    prefetch: bool = True
    suffix: ClassVar[str] = ".json"
    command: ClassVar[str] = "convert"

    @property
    def planner(self) -> Callable:
        """Which branches the inputs are read with: all the display shows."""
        return default_plan

    def describe(self) -> dict:
        """The job as JSON-ready values, to recognise the same job on a rerun."""
        return {"output": "event display JSON", **described(self.selection)}

    def write_chunk(self, chunk: Chunk, path: Path) -> PartResult:
        """Convert one chunk's selected events and write them to `path` as one JSON object."""
        from converters.phoenix import event_keys, json_members, write_members

        seen: set[str] = set()
        found: set[int] = set()
        with borrowed_source(chunk.source, self.planner) as source, path.open("wb") as out:
            bytes_before = source.bytes_read
            out.write(b"{\n")
            for batch in selected_chunk_batches(source, chunk, self, found):
                first = not seen
                keys = unique_keys(event_keys(batch), seen, len(seen))
                write_members(json_members(keys, batch, self.metadata, first=first), out)
            out.write(b"\n}\n")
            return PartResult(
                chunk.name,
                len(seen),
                chunk.stop - chunk.start,
                source.bytes_read - bytes_before,
                sorted(found),
                list(source.skipped),
            )

    def events_in(self, path: Path) -> int:
        """Events of a written part."""
        with path.open("rb") as part:
            return len(json.load(part))

    def join(self, parts: Sequence[Path], output: Path) -> None:
        """The parts' events, in order, in one Phoenix JSON file (.json or .json.gz); an event
        key found in an earlier part gets the suffix `#N` (N: its place in the file)."""
        with atomic_output(output, binary=True) as out:
            out.write(b"{\n")
            seen: set[bytes] = set()
            written = 0
            for path in parts:
                body = path.read_bytes()[2:-3]  # between "{\n" and "\n}\n"
                if not body:
                    continue
                keys = MEMBER_KEY.findall(body)
                if not seen.isdisjoint(keys):
                    body = renamed_repeats(body, seen, written)
                seen.update(keys)
                out.write(b",\n" if written else b"")
                out.write(body)
                written += len(keys)
            out.write(b"\n}\n")


# The key at the start of each member line of a part ("KEY": {...}); events are one line each.
MEMBER_KEY = re.compile(rb'^"((?:[^"\\]|\\.)*)": ', re.MULTILINE)


def renamed_repeats(body: bytes, seen: set[bytes], written: int) -> bytes:
    """A part's members with keys already written renamed KEY#N (N: the event's place)."""
    place = iter(range(written, written + body.count(b"\n") + 1))

    def rename(match: re.Match) -> bytes:
        index = next(place)
        key = match.group(1)
        return b'"%s#%d": ' % (key, index) if key in seen else match.group(0)

    return MEMBER_KEY.sub(rename, body)


@dataclass(frozen=True)
class Chunk:
    """Entries [start, stop) of input number `input_index`; `offset`: its first global entry."""

    input_index: int
    position: int  # the chunk's place within its input
    source: str
    start: int
    stop: int
    offset: int

    suffix: str = ".parquet"

    @property
    def name(self) -> str:
        """The part file's name; names sort in the order of the rows."""
        return f"part-{self.input_index:05d}-{self.position:04d}{self.suffix}"

    @property
    def label(self) -> str:
        """How the chunk is named in messages."""
        return f"{self.source} entries {self.start}-{self.stop - 1}"


@dataclass
class PartResult:
    """What writing one part did."""

    name: str
    events: int
    entries: int
    bytes_read: int
    found_numbers: list[int]
    skipped: list[str]


def chunk_table(chunk: Chunk, job: ColumnsJob) -> tuple[pa.Table, PartResult]:
    """The selected events' columns of one chunk (max_events does not apply: see dataset.py)."""
    with borrowed_source(chunk.source, job.planner) as source:
        return source_chunk_table(source, chunk, job)


def source_chunk_table(
    source: EventSource, chunk: Chunk, job: ColumnsJob
) -> tuple[pa.Table, PartResult]:
    """The selected events' columns of one chunk of the open `source`."""
    bytes_before = source.bytes_read
    selection = job.selection
    tables, found = [], set()
    batches = source.iterate(chunk.start, chunk.stop, READ_ENTRIES, prefetch=job.prefetch)
    for first, batch in batches:
        mask = selection.entry_mask(chunk.offset + first, len(batch))
        by_number = selection.number_mask(batch.info["event"])
        found |= set(batch.info["event"][mask & by_number].astype(np.int64).tolist())
        mask &= by_number
        kept = batch.take(mask)
        values = columns(kept, **job.limits)
        if selection.expression and len(kept):
            passed = expression_mask(values, selection.expression)
            values = {name: column[passed] for name, column in values.items()}
        tables.append(arrow_table(values, job.metadata))
    table = pa.concat_tables(tables, promote_options="permissive")
    result = PartResult(
        chunk.name,
        table.num_rows,
        chunk.stop - chunk.start,
        source.bytes_read - bytes_before,
        sorted(found),
        list(source.skipped),
    )
    return table, result


def selected_chunk_batches(
    source: EventSource, chunk: Chunk, job: DisplayJob, found: set[int]
) -> Iterator[EventBatch]:
    """The selected events of a chunk, batch by batch; event numbers seen are added to `found`."""
    selection = job.selection
    batches = source.iterate(chunk.start, chunk.stop, READ_ENTRIES, prefetch=job.prefetch)
    for first, batch in batches:
        mask = selection.entry_mask(chunk.offset + first, len(batch))
        by_number = selection.number_mask(batch.info["event"])
        found |= set(batch.info["event"][mask & by_number].astype(np.int64).tolist())
        mask &= by_number
        if selection.expression and mask.any():
            mask &= expression_mask(columns(batch), selection.expression)
        kept = batch.take(mask)
        if len(kept):
            yield kept


def write_part(chunk: Chunk, job: ColumnsJob | DisplayJob, folder: str) -> PartResult:
    """Compute one chunk and write it as `folder/<part name>` (temporary name, then renamed)."""
    final = Path(folder) / chunk.name
    temporary = final.with_name(f".{chunk.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        result = job.write_chunk(chunk, temporary)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return result
