"""Histograms of several datasets added bin by bin, with their statistics combined."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from app.histogram.filling import FilledHistogram, Selection, summary


def summed_histogram(histograms: Sequence[FilledHistogram]) -> FilledHistogram:
    """The bin-by-bin sum of histograms with the same binning, with pooled mean and std."""
    first = histograms[0]
    if len(histograms) == 1:
        return first
    weights = np.array([h.sum_weights if h.sum_weights else h.entries for h in histograms], float)
    means = np.array([h.mean for h in histograms])
    stds = np.array([h.std for h in histograms])
    used = (weights > 0) & np.isfinite(means) & np.isfinite(stds)
    total = float(weights[used].sum())
    mean = std = math.nan
    if total > 0:
        mean = float(np.sum(weights[used] * means[used]) / total)
        second = float(np.sum(weights[used] * (stds[used] ** 2 + means[used] ** 2)) / total)
        std = math.sqrt(max(second - mean * mean, 0.0))
    return FilledHistogram(
        edges=first.edges,
        counts=np.sum([h.counts for h in histograms], axis=0),
        variances=np.sum([h.variances for h in histograms], axis=0),
        underflow=float(sum(h.underflow for h in histograms)),
        overflow=float(sum(h.overflow for h in histograms)),
        entries=int(sum(h.entries for h in histograms)),
        sum_weights=float(sum(h.sum_weights for h in histograms)),
        mean=mean,
        std=std,
    )


def combined_summary(
    selections: Sequence[Selection], histograms: Sequence[FilledHistogram]
) -> dict[str, float | int]:
    """The statistics of several datasets' selections filled into one histogram."""
    histogram = summed_histogram(histograms)
    rows = sum(selection.rows for selection in selections)
    selected = sum(selection.selected for selection in selections)
    numbers = summary(selections[0], histogram)
    numbers |= {
        "rows": rows,
        "selected": selected,
        "selected_fraction": selected / rows if rows else 0.0,
        "no_value": selected - histogram.entries,
    }
    return numbers
