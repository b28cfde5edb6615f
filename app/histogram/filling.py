"""Binning choice, histogram filling with boost-histogram, and the statistics people read."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import boost_histogram as bh
import numpy as np

from app.histogram.errors import BinningError

MAX_BINS = 2000
DEFAULT_BINS = 50
# The automatic range is taken from a strided subsample of at most this many values.
RANGE_SAMPLE = 1_000_000
# The automatic range spans these quantiles (about 3 sigma), so that a few far outliers do not
# squash the plot; what falls outside is shown as underflow and overflow.
RANGE_QUANTILES = (0.0015, 0.9985)
# Rows per block when gathering the selected values: the buffers stay in the processor's cache.
BLOCK_ROWS = 1 << 16
# Arrays with at least this many rows are gathered and filled by one thread per processor.
PARALLEL_MIN_ROWS = 1 << 20

Result = TypeVar("Result")


@dataclass(frozen=True)
class Binning:
    """Regular bins: how many, and the range they cover."""

    bins: int
    low: float
    high: float

    def __post_init__(self) -> None:
        if isinstance(self.bins, bool) or int(self.bins) != self.bins:
            raise BinningError(f"the number of bins must be a whole number, not {self.bins}")
        if not 1 <= self.bins <= MAX_BINS:
            raise BinningError(f"the number of bins must be between 1 and {MAX_BINS}")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise BinningError("the range must be two finite numbers")
        if self.low >= self.high:
            raise BinningError(
                f"the range must go upwards: {self.low:g} is not below {self.high:g}"
            )

    @property
    def edges(self) -> np.ndarray:
        """The bins + 1 bin edges."""
        return np.linspace(self.low, self.high, self.bins + 1)


@dataclass(frozen=True)
class Selection:
    """The rows a cut keeps from one expression's values (and weights).

    The selected values are never copied out as a whole: `blocks` gathers them a block of rows
    at a time into small reused buffers, so a new cut costs no large allocation.
    """

    source: np.ndarray
    mask: np.ndarray | None
    source_weights: np.ndarray | None
    rows: int
    selected: int

    @property
    def weighted(self) -> bool:
        """True when the entries carry weights."""
        return self.source_weights is not None

    @property
    def selected_fraction(self) -> float:
        """Fraction of rows that pass the cut."""
        return self.selected / self.rows if self.rows else 0.0

    @property
    def values(self) -> np.ndarray:
        """The finite selected values, as a new array."""
        return np.concatenate([np.empty(0), *(values.copy() for values, _ in self.blocks())])

    @property
    def weights(self) -> np.ndarray | None:
        """The weights of the finite selected values, as a new array (None when unweighted)."""
        if not self.weighted:
            return None
        return np.concatenate([np.empty(0), *(weights.copy() for _, weights in self.blocks())])

    def blocks(self, part: range | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The finite selected values and their weights in `part` of the rows (default: all),
        one block of rows at a time; the arrays are views of buffers the next block overwrites.
        """
        part = range(self.source.size) if part is None else part
        value_buffer = np.empty(min(BLOCK_ROWS, len(part)))
        weight_buffer = None if self.source_weights is None else np.empty_like(value_buffer)
        for start in range(part.start, part.stop, BLOCK_ROWS):
            rows = slice(start, min(start + BLOCK_ROWS, part.stop))
            picked = None if self.mask is None else np.flatnonzero(self.mask[rows])
            values = gathered(self.source[rows], picked, value_buffer)
            weights = None
            if self.source_weights is not None:
                weights = gathered(self.source_weights[rows], picked, weight_buffer)
            yield finite_only(values, weights)


@dataclass(frozen=True)
class FilledHistogram:
    """Bin contents (sums of weights), their variances, what fell outside the range, and the
    statistics of every entry filled (in range or not)."""

    edges: np.ndarray
    counts: np.ndarray
    variances: np.ndarray
    underflow: float
    overflow: float
    entries: int = 0
    sum_weights: float = 0.0
    mean: float = math.nan
    std: float = math.nan

    @property
    def errors(self) -> np.ndarray:
        """Uncertainty of each bin: sqrt(N), or sqrt(sum of squared weights)."""
        return np.sqrt(self.variances)

    @property
    def widths(self) -> np.ndarray:
        """Width of each bin."""
        return np.diff(self.edges)

    @property
    def centres(self) -> np.ndarray:
        """Centre of each bin."""
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    def normalisation(self, density: bool) -> float:
        """Factor that turns contents into a unit-area density (1 when `density` is False)."""
        area = float(np.sum(self.counts * self.widths))
        return 1.0 / area if density and area > 0 else 1.0


@dataclass
class Sums:
    """Running sums over filled entries: count, weights, weighted values and squared values."""

    entries: int = 0
    weights: float = 0.0
    first: float = 0.0
    second: float = 0.0

    def add(self, values: np.ndarray, weights: np.ndarray | None) -> None:
        """Add a block of entries (einsum needs no temporary array and no BLAS threads)."""
        self.entries += values.size
        if weights is None:
            self.weights += values.size
            self.first += float(values.sum())
            self.second += float(np.einsum("i,i->", values, values))
        else:
            weighted = weights * values
            self.weights += float(weights.sum())
            self.first += float(weighted.sum())
            self.second += float(np.einsum("i,i->", weighted, values))

    def __add__(self, other: Sums) -> Sums:
        """The sums over both sets of entries."""
        return Sums(
            self.entries + other.entries,
            self.weights + other.weights,
            self.first + other.first,
            self.second + other.second,
        )

    def mean_and_std(self) -> tuple[float, float]:
        """Weighted mean and standard deviation (NaN without entries or weights)."""
        if self.entries == 0 or self.weights == 0:
            return math.nan, math.nan
        mean = self.first / self.weights
        # Shifting by the mean before squaring would cost a second pass; clipping hides rounding.
        return mean, math.sqrt(max(self.second / self.weights - mean * mean, 0.0))


def make_selection(
    values: np.ndarray,
    mask: np.ndarray | None,
    weights: np.ndarray | None,
    rows: int,
) -> Selection:
    """The rows of `values` (and `weights`) that `mask` keeps (all when None)."""
    for name, array in (("mask", mask), ("weights", weights)):
        if array is not None and array.shape != values.shape:
            raise ValueError(f"the {name} must have the shape of the values, {values.shape}")
    selected = values.size if mask is None else int(np.count_nonzero(mask))
    return Selection(values, mask, weights, rows, selected)


def gathered(values: np.ndarray, picked: np.ndarray | None, buffer: np.ndarray) -> np.ndarray:
    """values[picked] written into the start of `buffer` (values itself when picked is None)."""
    if picked is None:
        return values
    # mode="clip" lets take write straight into `out` (the default mode buffers a copy).
    return values.take(picked, out=buffer[: picked.size], mode="clip")


def finite_only(
    values: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The entries whose value (and weight) is finite."""
    finite = np.isfinite(values)
    if weights is not None:
        finite &= np.isfinite(weights)
    if finite.all():
        return values, weights
    return values[finite], None if weights is None else weights[finite]


def in_parallel(task: Callable[[range], Result], rows: int) -> list[Result]:
    """`task` applied to consecutive parts of `rows` rows, one per processor for large arrays."""
    workers = os.cpu_count() or 1
    if rows < PARALLEL_MIN_ROWS or workers == 1:
        return [task(range(rows))]
    step = -(-rows // workers)
    parts = [range(start, min(start + step, rows)) for start in range(0, rows, step)]
    # numpy and boost-histogram release the interpreter lock while they work on arrays.
    return list(worker_pool().map(task, parts))


@cache
def worker_pool() -> ThreadPoolExecutor:
    """The threads shared by every fill of this process."""
    return ThreadPoolExecutor(os.cpu_count(), thread_name_prefix="histogram")


def fill(selection: Selection, binning: Binning) -> FilledHistogram:
    """Fill regular bins with the selected values (weighted when the selection has weights),
    summing up the entries' statistics in the same pass."""
    parts = in_parallel(lambda part: filled_part(selection, part, binning), selection.source.size)
    histograms, part_sums = zip(*parts, strict=True)
    histogram = sum(histograms[1:], histograms[0])
    sums = sum(part_sums[1:], part_sums[0])
    view = histogram.view(flow=True)
    if not selection.weighted:
        counts = np.asarray(view, dtype=np.float64)
        variances = counts
    else:
        counts = np.asarray(view["value"], dtype=np.float64)
        variances = np.asarray(view["variance"], dtype=np.float64)
    return with_flows(binning, counts, variances, sums)


def with_flows(
    binning: Binning, counts: np.ndarray, variances: np.ndarray, sums: Sums
) -> FilledHistogram:
    """The filled histogram of bin contents and variances that include the two flow bins."""
    mean, std = sums.mean_and_std()
    return FilledHistogram(
        edges=binning.edges,
        counts=counts[1:-1].copy(),
        variances=variances[1:-1].copy(),
        underflow=float(counts[0]),
        overflow=float(counts[-1]),
        entries=sums.entries,
        sum_weights=sums.weights,
        mean=mean,
        std=std,
    )


def filled_part(selection: Selection, part: range, binning: Binning) -> tuple[bh.Histogram, Sums]:
    """A boost histogram of the selected values in some of the rows, and their sums."""
    storage = bh.storage.Weight() if selection.weighted else bh.storage.Double()
    axis = bh.axis.Regular(binning.bins, binning.low, binning.high)
    histogram = bh.Histogram(axis, storage=storage)
    sums = Sums()
    for values, weights in selection.blocks(part):
        histogram.fill(values, weight=weights)
        sums.add(values, weights)
    return histogram, sums


def auto_binning(values: np.ndarray, bins: int | None = None) -> Binning:
    """A sensible default binning: whole-number bins for counts, else a rounded central range."""
    if values.size == 0:
        return Binning(bins or DEFAULT_BINS, 0.0, 1.0)
    sample = values[:: max(1, values.size // RANGE_SAMPLE)]
    low, high = float(sample.min()), float(sample.max())
    if is_integer_valued(sample) and high - low <= 100:
        low, high = math.floor(low) - 0.5, math.ceil(high) + 0.5
        return Binning(bins or int(high - low), low, high)
    if sample.size >= 200:
        low, high = (float(q) for q in np.quantile(sample, RANGE_QUANTILES))
    if high <= low:
        half = max(abs(low) * 0.05, 0.5)
        return Binning(bins or DEFAULT_BINS, low - half, low + half)
    low, high = nice_range(low, high)
    return Binning(bins or DEFAULT_BINS, low, high)


def is_integer_valued(values: np.ndarray) -> bool:
    """True when every value is a whole number (counts, charges, flags)."""
    return bool(np.all(values == np.round(values)))


def nice_range(low: float, high: float) -> tuple[float, float]:
    """Widen a range outwards to round numbers on a step of about a twentieth of its span."""
    raw_step = (high - low) / 20
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    nice_low = math.floor(low / step) * step
    nice_high = math.ceil(high / step) * step
    # Quantities that cannot be negative (masses, momenta) should not get a negative axis.
    if low >= 0 > nice_low:
        nice_low = 0.0
    return nice_low, nice_high


def summary(selection: Selection, histogram: FilledHistogram) -> dict[str, float | int]:
    """The statistics of a filled histogram, as plain numbers (for tables and JSON)."""
    return {
        "rows": selection.rows,
        "selected": selection.selected,
        "selected_fraction": selection.selected_fraction,
        "entries": histogram.entries,
        "no_value": selection.selected - histogram.entries,
        "sum_of_weights": histogram.sum_weights,
        "mean": histogram.mean,
        "std": histogram.std,
        "underflow": histogram.underflow,
        "overflow": histogram.overflow,
    }
