"""Which events to convert: entry ranges, event numbers, and expressions over event columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from converters.errors import SelectionError


@dataclass(frozen=True)
class Selection:
    """What the user asked for: entry ranges, event numbers, a cut, and a cap on the count."""

    ranges: tuple[tuple[int, int | None], ...] = ()
    event_numbers: frozenset[int] = frozenset()
    expression: str | None = None
    max_events: int | None = None

    def entry_mask(self, first_entry: int, length: int) -> np.ndarray:
        """Which of `length` entries starting at global entry `first_entry` are in the ranges."""
        if not self.ranges:
            return np.ones(length, dtype=bool)
        entries = np.arange(first_entry, first_entry + length)
        mask = np.zeros(length, dtype=bool)
        for start, stop in self.ranges:
            mask |= (entries >= start) & (entries < (stop if stop is not None else np.inf))
        return mask

    def entry_limit(self) -> int | None:
        """The entry after the last one the ranges can select (None: unbounded)."""
        if not self.ranges or any(stop is None for _, stop in self.ranges):
            return None
        return max(stop for _, stop in self.ranges)

    def local_ranges(self, offset: int, entries: int) -> list[tuple[int, int]]:
        """The selected entry ranges of an input holding global entries [offset, offset + entries),
        counted from its own first entry, sorted and merged."""
        if not self.ranges:
            return [(0, entries)] if entries else []
        clipped = []
        for start, stop in sorted(self.ranges):
            low = max(start - offset, 0)
            high = min((stop if stop is not None else offset + entries) - offset, entries)
            if high <= low:
                continue
            if clipped and low <= clipped[-1][1]:
                clipped[-1] = (clipped[-1][0], max(clipped[-1][1], high))
            else:
                clipped.append((low, high))
        return clipped

    def number_mask(self, event_numbers: np.ndarray) -> np.ndarray:
        """Which events have one of the requested event numbers."""
        if not self.event_numbers:
            return np.ones(len(event_numbers), dtype=bool)
        wanted = np.fromiter(self.event_numbers, dtype=np.int64)
        return np.isin(event_numbers.astype(np.int64), wanted)


def parse_ranges(text: str) -> tuple[tuple[int, int | None], ...]:
    """'0:20', '5', '0:10,15,20:' -> half-open entry ranges."""
    ranges = []
    for part in text.split(","):
        part = part.strip()
        try:
            if ":" in part:
                start_text, stop_text = part.split(":", 1)
                start = int(start_text) if start_text.strip() else 0
                stop = int(stop_text) if stop_text.strip() else None
            else:
                start = int(part)
                stop = start + 1
        except ValueError:
            raise SelectionError(
                f"--events {text!r}: expected entry indices like 0:20, 5 or 0:10,15"
            ) from None
        if start < 0 or (stop is not None and stop <= start):
            raise SelectionError(f"--events {text!r}: range {part!r} selects nothing")
        ranges.append((start, stop))
    return tuple(ranges)


def parse_event_numbers(text: str) -> frozenset[int]:
    """'123,456' -> {123, 456}."""
    try:
        numbers = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SelectionError(
            f"--event-numbers {text!r}: expected whole numbers separated by commas"
        ) from None
    if not numbers:
        raise SelectionError("--event-numbers: no event number given")
    return numbers
