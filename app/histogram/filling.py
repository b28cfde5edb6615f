"""Binning choice, histogram filling with boost-histogram, and the statistics people read."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import boost_histogram as bh
import numpy as np

from app.histogram.errors import BinningError

MAX_BINS = 2000
DEFAULT_BINS = 50
# Arrays longer than this are filled by several threads.
THREADED_FILL_MIN = 500_000
# The automatic range is taken from a strided subsample of at most this many values.
RANGE_SAMPLE = 1_000_000
# The automatic range spans these quantiles (about 3 sigma), so that a few far outliers do not
# squash the plot; what falls outside is shown as underflow and overflow.
RANGE_QUANTILES = (0.0015, 0.9985)
# Rows per block when applying a cut (a block's index array stays well under 10 MB).
GATHER_BLOCK = 1 << 20


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
    """The finite values (and weights) of the selected rows of one expression, with statistics."""

    values: np.ndarray
    weights: np.ndarray | None
    rows: int
    selected: int
    no_value: int
    sum_weights: float
    mean: float
    std: float

    @property
    def selected_fraction(self) -> float:
        """Fraction of rows that pass the cut."""
        return self.selected / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class FilledHistogram:
    """Bin contents (sums of weights), their variances, and what fell outside the range."""

    edges: np.ndarray
    counts: np.ndarray
    variances: np.ndarray
    underflow: float
    overflow: float

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


def make_selection(
    values: np.ndarray,
    mask: np.ndarray | None,
    weights: np.ndarray | None,
    rows: int,
) -> Selection:
    """Apply a cut to values (and weights), drop non-finite ones and compute mean and std."""
    if mask is not None:
        values = gather(values, mask)
        weights = None if weights is None else gather(weights, mask)
    selected = values.size
    finite = np.isfinite(values)
    if weights is not None:
        finite &= np.isfinite(weights)
    no_value = int(finite.size - np.count_nonzero(finite))
    if no_value:
        values = values[finite]
        weights = None if weights is None else weights[finite]
    mean, std, total = moments(values, weights)
    return Selection(values, weights, rows, selected, no_value, total, mean, std)


def gather(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """values[mask], by blocks of rows: gathering by index is about twice as fast as boolean
    indexing, and blocks keep the index arrays small (large fresh allocations are slow)."""
    result = np.empty(int(np.count_nonzero(mask)), dtype=values.dtype)
    position = 0
    for start in range(0, values.size, GATHER_BLOCK):
        rows = np.flatnonzero(mask[start : start + GATHER_BLOCK])
        values[start : start + GATHER_BLOCK].take(rows, out=result[position : position + rows.size])
        position += rows.size
    return result


def moments(values: np.ndarray, weights: np.ndarray | None) -> tuple[float, float, float]:
    """Mean, standard deviation and sum of weights of finite values."""
    if values.size == 0:
        return math.nan, math.nan, 0.0
    if weights is None:
        total = float(values.size)
        mean = float(values.sum()) / total
        second = float(np.dot(values, values)) / total
    else:
        total = float(weights.sum())
        if total == 0:
            return math.nan, math.nan, 0.0
        mean = float(np.dot(weights, values)) / total
        second = float(np.dot(weights * values, values)) / total
    # Shifting by the mean before squaring would cost a copy; clipping hides the rounding.
    return mean, math.sqrt(max(second - mean * mean, 0.0)), total


def fill(selection: Selection, binning: Binning) -> FilledHistogram:
    """Fill regular bins with the selected values (weighted when the selection has weights)."""
    storage = bh.storage.Double() if selection.weights is None else bh.storage.Weight()
    axis = bh.axis.Regular(binning.bins, binning.low, binning.high)
    histogram = bh.Histogram(axis, storage=storage)
    threads = (os.cpu_count() or 1) if selection.values.size >= THREADED_FILL_MIN else None
    histogram.fill(selection.values, weight=selection.weights, threads=threads)
    view = histogram.view(flow=True)
    if selection.weights is None:
        counts = np.asarray(view, dtype=np.float64)
        variances = counts
    else:
        counts = np.asarray(view["value"], dtype=np.float64)
        variances = np.asarray(view["variance"], dtype=np.float64)
    return FilledHistogram(
        edges=binning.edges,
        counts=counts[1:-1].copy(),
        variances=variances[1:-1].copy(),
        underflow=float(counts[0]),
        overflow=float(counts[-1]),
    )


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
        "entries": int(selection.values.size),
        "no_value": selection.no_value,
        "sum_of_weights": selection.sum_weights,
        "mean": selection.mean,
        "std": selection.std,
        "underflow": histogram.underflow,
        "overflow": histogram.overflow,
    }
