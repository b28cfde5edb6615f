"""Dataset folders filled where their parts are: one fill per part on a runner, then added up.

`eventlab hist FOLDER --workers N` (or `--scheduler ADDRESS`) gives `compute_plot` a
`PartsEvaluator`: its selections and histograms are computed part by part on Dask workers, each
reading only the columns the expressions use from its part; only row counts, bins with their
flows and variances, and entry sums come back (a few kB a part). A part's columns stay in its
worker's memory between the selection and the fill. With a range given the histogram equals the
one-process fill bin for bin; without one, the range is chosen from a sample of every part.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.histogram.errors import DatasetError, ExpressionInputError
from app.histogram.evaluation import Evaluator, normalised
from app.histogram.filling import (
    RANGE_SAMPLE,
    Binning,
    FilledHistogram,
    Selection,
    Sums,
    filled_part,
    with_flows,
)
from app.histogram.folder_columns import FolderDataset, read_parts_dataset

MIN_SAMPLE = 10_000  # values per part sampled for an automatic range, at least
KEPT_PARTS = 4  # parts whose columns a worker keeps between the selection and the fill


@dataclass(frozen=True)
class PartSelection:
    """One part's rows, rows selected, and a sample of its finite selected values (and weights)."""

    rows: int
    selected: int
    values: np.ndarray
    weights: np.ndarray | None


@dataclass(frozen=True)
class PartFill:
    """One part's bins with underflow first and overflow last, their variances, and sums."""

    counts: np.ndarray
    variances: np.ndarray
    sums: Sums


@dataclass(frozen=True)
class ExpressionProblem:
    """An expression a part could not evaluate (the same for every part): said once, unprefixed."""

    message: str


@functools.lru_cache(maxsize=KEPT_PARTS)
def part_evaluator(path: str, modified_ns: int, size: int) -> Evaluator:
    """The evaluator of one part, kept while it is among the last few used by this worker."""
    del modified_ns, size  # part of the cache key only: a rewritten part is read again
    return Evaluator(read_parts_dataset([Path(path)], Path(path).name))


def evaluator_of_part(path: str) -> Evaluator:
    """The (kept) evaluator of the part at `path` as it is now."""
    stat = os.stat(path)
    return part_evaluator(path, stat.st_mtime_ns, stat.st_size)


def select_part(
    path: str, x: str, cut: str, weight: str, limit: int
) -> PartSelection | ExpressionProblem:
    """A part's selection: its counts and an evenly spaced sample of about `limit` values."""
    try:
        selection = evaluator_of_part(path).selection(x, cut, weight)
    except ExpressionInputError as error:
        return ExpressionProblem(str(error))
    values, weights = selection.values, selection.weights
    step = max(1, values.size // limit)
    sample_weights = None if weights is None else weights[::step]
    return PartSelection(selection.rows, selection.selected, values[::step], sample_weights)


def fill_part(
    path: str, x: str, cut: str, weight: str, binning: Binning
) -> PartFill | ExpressionProblem:
    """A part's histogram with its flows, and the sums of its entries."""
    try:
        selection = evaluator_of_part(path).selection(x, cut, weight)
    except ExpressionInputError as error:
        return ExpressionProblem(str(error))
    histogram, sums = filled_part(selection, range(selection.source.size), binning)
    view = histogram.view(flow=True)
    if selection.weighted:
        counts = np.asarray(view["value"], dtype=np.float64)
        variances = np.asarray(view["variance"], dtype=np.float64)
    else:
        counts = np.asarray(view, dtype=np.float64)
        variances = counts
    return PartFill(counts, variances, sums)


class PartsEvaluator(Evaluator):
    """An evaluator of a dataset folder whose selections and fills run part by part on a runner
    (converters.cluster); values of whole columns (stack categories, luminosity columns) are
    read here as usual."""

    def __init__(self, dataset: FolderDataset, runner) -> None:
        super().__init__(dataset)
        self.runner = runner

    def selection(self, x: str, cut: str = "", weight: str = "") -> Selection:
        """The rows and selected rows of every part, with a sample of their values: enough for
        the statistics table and an automatic range."""
        key = ("part selection", normalised(x), normalised(cut), normalised(weight))
        cached = self._cache.get(key)
        if cached is None:
            self.check_expressions(x, cut, weight)
            limit = max(MIN_SAMPLE, RANGE_SAMPLE // len(self.dataset.parts))
            parts = self.on_parts(select_part, (x, cut, weight, limit))
            values = np.concatenate([np.empty(0), *(part.values for part in parts)])
            weights = None
            if weight.strip():
                weights = np.concatenate([np.empty(0), *(part.weights for part in parts)])
            rows = sum(part.rows for part in parts)
            selected = sum(part.selected for part in parts)
            cached = Selection(values, None, weights, rows, selected)
            self._cache.put(key, cached, values.nbytes * 2)
        return cached

    def histogram(
        self, x: str, binning: Binning, cut: str = "", weight: str = ""
    ) -> FilledHistogram:
        """Every part's bins, flows and sums, added up."""
        key = ("part histogram", normalised(x), normalised(cut), normalised(weight), binning)
        cached = self._cache.get(key)
        if cached is None:
            self.check_expressions(x, cut, weight)
            cached = merged(self.on_parts(fill_part, (x, cut, weight, binning)), binning)
            self._cache.put(key, cached, 3 * cached.counts.nbytes)
        return cached

    def check_expressions(self, x: str, cut: str, weight: str) -> None:
        """Refuse a mistyped expression once, before any part is read."""
        if x.strip() not in self.dataset.jagged_columns:
            self.parsed(x, "variable")
        if cut.strip():
            self.parsed(cut, "cut")
        if weight.strip():
            self.parsed(weight, "weight")

    def on_parts(self, function: Callable, arguments: tuple) -> list:
        """`function(part, *arguments)` for every part on the runner, in the parts' order."""
        parts = [str(path) for path in self.dataset.parts]
        results: list = [None] * len(parts)
        tasks = [(part, *arguments) for part in parts]
        for position, result, error in self.runner.run(function, tasks):
            if error is not None:
                name = Path(parts[position]).name
                raise DatasetError(error if error.startswith(name) else f"{name}: {error}")
            if isinstance(result, ExpressionProblem):
                raise ExpressionInputError(result.message)
            results[position] = result
        return results


def merged(parts: list[PartFill], binning: Binning) -> FilledHistogram:
    """One histogram from the parts' bins (with flows), variances and sums."""
    counts = np.sum([part.counts for part in parts], axis=0)
    variances = np.sum([part.variances for part in parts], axis=0)
    sums = functools.reduce(Sums.__add__, (part.sums for part in parts))
    return with_flows(binning, counts, variances, sums)
