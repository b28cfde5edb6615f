"""What a class's records add up to: counts per category (W+ and W- apart) and mass histograms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.masterclass.categories import Masterclass
from app.masterclass.store import Record

MASS_RANGE_GEV = (0.0, 200.0)
MASS_BINS = 40


@dataclass(frozen=True)
class CategoryCount:
    """How many events of one category, and of them with a positive or negative lepton."""

    key: str
    label: str
    total: int
    plus: int
    minus: int


def category_counts(records: Sequence[Record], masterclass: Masterclass) -> list[CategoryCount]:
    """Counts per category, in the masterclass's order (unlisted categories after them)."""
    keys = [item.key for item in masterclass.categories]
    keys += sorted({record.category for record in records} - set(keys))
    counts = []
    for key in keys:
        chosen = [record for record in records if record.category == key]
        plus = sum(1 for record in chosen if (record.charge or 0) > 0)
        minus = sum(1 for record in chosen if (record.charge or 0) < 0)
        counts.append(CategoryCount(key, masterclass.label(key), len(chosen), plus, minus))
    return counts


def w_ratio(counts: Sequence[CategoryCount], masterclass: Masterclass) -> tuple[int, int, float]:
    """W+ and W- counts over the charged categories, and their ratio (NaN without W-)."""
    charged = {item.key for item in masterclass.categories if item.charged}
    plus = sum(count.plus for count in counts if count.key in charged)
    minus = sum(count.minus for count in counts if count.key in charged)
    return plus, minus, plus / minus if minus else math.nan


def mass_histogram(
    records: Sequence[Record], bins: int = MASS_BINS, span: tuple[float, float] = MASS_RANGE_GEV
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges (GeV) of the records' masses; masses past the range go in its ends."""
    masses = np.array([r.mass_gev for r in records if r.mass_gev is not None], dtype=np.float64)
    edges = np.linspace(*span, bins + 1)
    clipped = np.clip(masses, span[0], np.nextafter(span[1], span[0]))
    counts, _ = np.histogram(clipped, edges)
    return counts, edges
