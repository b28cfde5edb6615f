"""One chunk of a columns run, done where it runs: read the entries, compute, write one part.

A chunk is a range of entries of one input, cut at cluster boundaries. Its part of the parquet
dataset is written by whoever computes it (a Dask worker or the command's own process) under a
temporary name and renamed, so a part file that exists is complete.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from converters.columns import arrow_table, columns
from converters.pipeline import PARQUET_OPTIONS, expression_mask
from converters.read import EventSource, columns_plan
from converters.selection import Selection

READ_ENTRIES = 5000  # entries read at once within a chunk
OPEN_SOURCES = 4  # inputs kept open per thread, for the next chunk of the same file


@dataclass(frozen=True)
class ColumnsJob:
    """What every chunk of one run computes: the selection, the column counts, the metadata."""

    selection: Selection = field(default_factory=Selection)
    limits: Mapping[str, int] = field(default_factory=dict)
    metadata: Mapping[str, str] | None = None
    prefetch: bool = True  # read the next batch in a second thread (not on one-core workers)

    def describe(self) -> dict:
        """The job as JSON-ready values, to recognise the same job on a rerun."""
        selection = self.selection
        return {
            "events": [list(span) for span in selection.ranges],
            "event_numbers": sorted(selection.event_numbers),
            "select": selection.expression,
            **dict(sorted(self.limits.items())),
        }


@dataclass(frozen=True)
class Chunk:
    """Entries [start, stop) of input number `input_index`; `offset`: its first global entry."""

    input_index: int
    position: int  # the chunk's place within its input
    source: str
    start: int
    stop: int
    offset: int

    @property
    def name(self) -> str:
        """The part file's name; names sort in the order of the rows."""
        return f"part-{self.input_index:05d}-{self.position:04d}.parquet"

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


_sources: dict[int, OrderedDict[str, EventSource]] = {}
_sources_lock = threading.Lock()


def open_source(name: str) -> EventSource:
    """The input opened for columns, kept open for this thread's next chunks of it."""
    with _sources_lock:
        opened = _sources.setdefault(threading.get_ident(), OrderedDict())
    if name in opened:
        opened.move_to_end(name)
        return opened[name]
    source = EventSource(name, planner=columns_plan)
    opened[name] = source
    while len(opened) > OPEN_SOURCES:
        opened.popitem(last=False)
    return source


def chunk_table(chunk: Chunk, job: ColumnsJob) -> tuple[pa.Table, PartResult]:
    """The selected events' columns of one chunk (max_events does not apply: see dataset.py)."""
    source = open_source(chunk.source)
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


def write_part(chunk: Chunk, job: ColumnsJob, folder: str) -> PartResult:
    """Compute one chunk and write it as `folder/<part name>` (temporary name, then renamed)."""
    import pyarrow.parquet as pq

    table, result = chunk_table(chunk, job)
    final = Path(folder) / chunk.name
    temporary = final.with_name(f".{chunk.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        pq.write_table(table, temporary, **PARQUET_OPTIONS)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return result
