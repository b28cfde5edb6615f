"""Collections of a chunk of events as flat numpy columns, and the jagged operations on them.

All objects of all events of a chunk sit in one row each; `offsets` says where each event's
objects start. Every operation here is a handful of numpy calls for the whole chunk, whatever
the number of events or objects: no Python loop over either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import awkward as ak
import numpy as np


def offsets_from_counts(counts: np.ndarray) -> np.ndarray:
    """Offsets (length + 1, starting at 0) of consecutive segments of the given sizes."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[i] .. starts[i] + counts[i] - 1."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - offsets_from_counts(counts)[:-1], counts)
    return np.arange(total, dtype=np.int64) + shift


def first_true(mask: np.ndarray, segment: np.ndarray, segments: int) -> np.ndarray:
    """Per segment, the position of its first true element of `mask`, -1 where there is none.

    `segment` gives each element's segment and must be non-decreasing.
    """
    positions = np.flatnonzero(mask)
    first = np.full(segments, -1, dtype=np.int64)
    # Reversed, so that the earliest position of each segment is the one written last.
    first[segment[positions][::-1]] = positions[::-1]
    return first


def unpack(array: ak.Array) -> tuple[list[np.ndarray], np.ndarray | dict[str, np.ndarray]]:
    """The offsets of each list level of an awkward array and its flat content.

    Record contents come back as a dict of their fields.
    """
    layout = ak.to_packed(array).layout
    levels = []
    while isinstance(layout, ak.contents.ListOffsetArray):
        levels.append(np.asarray(layout.offsets.data, dtype=np.int64))
        layout = layout.content
    if isinstance(layout, ak.contents.RecordArray):
        return levels, {name: ak.to_numpy(layout.content(name)) for name in layout.fields}
    return levels, ak.to_numpy(layout)


@dataclass(frozen=True)
class Objects:
    """One collection over a chunk of events: rows offsets[e]:offsets[e + 1] belong to event e."""

    offsets: np.ndarray
    columns: Mapping[str, np.ndarray]

    @classmethod
    def from_counts(cls, counts: np.ndarray, columns: Mapping[str, np.ndarray]) -> Objects:
        """Objects from the number per event and the row-aligned columns."""
        return cls(offsets_from_counts(counts), dict(columns))

    @classmethod
    def empty(cls, events: int, names: Sequence[str] = ()) -> Objects:
        """No objects in any of `events` events."""
        return cls(np.zeros(events + 1, dtype=np.int64), {name: np.zeros(0) for name in names})

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    @property
    def events(self) -> int:
        """Number of events."""
        return len(self.offsets) - 1

    @property
    def size(self) -> int:
        """Number of objects in all events."""
        return int(self.offsets[-1])

    @cached_property
    def counts(self) -> np.ndarray:
        """Objects per event."""
        return np.diff(self.offsets)

    @cached_property
    def event(self) -> np.ndarray:
        """The event of every object."""
        return np.repeat(np.arange(self.events, dtype=np.int64), self.counts)

    @cached_property
    def local_index(self) -> np.ndarray:
        """Every object's position within its event."""
        return np.arange(self.size, dtype=np.int64) - self.offsets[:-1][self.event]

    def with_columns(self, **columns: np.ndarray) -> Objects:
        """The same objects with columns added or replaced."""
        return Objects(self.offsets, {**self.columns, **columns})

    def rows(self, rows: np.ndarray) -> Objects:
        """The objects at `rows` (integer positions, grouped by event in event order)."""
        counts = np.bincount(self.event[rows], minlength=self.events)
        return Objects.from_counts(counts, {k: v[rows] for k, v in self.columns.items()})

    def where(self, keep: np.ndarray) -> Objects:
        """The objects where the boolean `keep` is true."""
        return self.rows(np.flatnonzero(keep))

    def take_events(self, events: np.ndarray) -> Objects:
        """The objects of the chosen events (a boolean mask or integer positions)."""
        chosen = np.arange(self.events)[events]
        counts = self.counts[chosen]
        rows = ragged_arange(self.offsets[chosen], counts)
        return Objects.from_counts(counts, {k: v[rows] for k, v in self.columns.items()})

    def sorted_by(self, key: np.ndarray) -> Objects:
        """The objects ordered by decreasing `key` within each event."""
        order = np.lexsort((-np.asarray(key, dtype=np.float64), self.event))
        return Objects(self.offsets, {k: v[order] for k, v in self.columns.items()})

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-event sum of a row-aligned column (float64)."""
        return np.bincount(self.event, weights=values, minlength=self.events)

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Per-event number of objects where `mask` is true."""
        return np.bincount(self.event[mask], minlength=self.events)

    def leading(self, name: str, count: int) -> np.ndarray:
        """(events, count) values of each event's first `count` objects, NaN where absent."""
        table = np.full((self.events, count), np.nan)
        rows = self.local_index < count
        table[self.event[rows], self.local_index[rows]] = self.columns[name][rows]
        return table

    def first(self, count: int) -> Objects:
        """Each event's first `count` objects."""
        return self.where(self.local_index < count)

    def pairs_with(self, others: Objects) -> tuple[np.ndarray, np.ndarray]:
        """Rows (mine, theirs) of every pair of objects in the same event."""
        partners = others.counts[self.event]
        mine = np.repeat(np.arange(self.size, dtype=np.int64), partners)
        theirs = ragged_arange(others.offsets[:-1][self.event], partners)
        return mine, theirs

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows (i, j), i < j, of every pair within an event, in awkward's combinations order."""
        later = self.offsets[1:][self.event] - np.arange(self.size) - 1
        first = np.repeat(np.arange(self.size, dtype=np.int64), later)
        second = ragged_arange(np.arange(self.size) + 1, later)
        return first, second


def concatenate(parts: Sequence[Objects]) -> Objects:
    """The objects of several collections together, event by event (columns they all have)."""
    names = [name for name in parts[0].columns if all(name in part for part in parts)]
    event = np.concatenate([part.event for part in parts])
    order = np.argsort(event, kind="stable")
    counts = np.sum([part.counts for part in parts], axis=0)
    columns = {name: np.concatenate([part[name] for part in parts])[order] for name in names}
    return Objects.from_counts(counts, columns)
