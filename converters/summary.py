"""The one-line event summary of the event list ("2 mu, 4 jets, MET 43 GeV"), for many at once.

Both the display (for events read from JSON) and the ROOT event index (for events not yet
converted) describe events with these words, so the list reads the same whichever the source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LABELS = ("e", "mu", "photon")
NOTHING = "no physics objects"

# numpy rather than polars: the display's server forks worker processes, and a process that has
# started polars' thread pool must not fork.


def counted(values: np.ndarray, label: str) -> np.ndarray:
    """'N label' where the count is positive, else ''."""
    return np.where(values > 0, np.char.add(values.astype(str), " " + label), "")


def joined(parts: list[np.ndarray]) -> np.ndarray:
    """The non-empty parts of each row joined with ', '."""
    line = parts[0]
    for part in parts[1:]:
        both = (line != "") & (part != "")
        line = np.char.add(np.char.add(line, np.where(both, ", ", "")), part)
    return line


def summary_lines(
    electrons: Sequence[int] | np.ndarray,
    muons: Sequence[int] | np.ndarray,
    photons: Sequence[int] | np.ndarray,
    jets: Sequence[int] | np.ndarray,
    met_gev: Sequence[float] | np.ndarray | None = None,
    tracks: Sequence[int] | np.ndarray | None = None,
    clusters: Sequence[int] | np.ndarray | None = None,
) -> list[str]:
    """One summary line per event from its object counts and MET in GeV (NaN: none).

    Tracks and clusters are named only for events with none of the rest.
    """
    counts = [np.asarray(values, dtype=np.int64) for values in (electrons, muons, photons, jets)]
    events = len(counts[0])
    met = np.full(events, np.nan) if met_gev is None else np.asarray(met_gev, dtype=np.float64)
    has_met = np.isfinite(met)
    # rint rounds half to even on the exact value, as Python's format(x, ".0f") does.
    met_whole = np.rint(np.where(has_met, met, 0.0)).astype(np.int64)
    jet_count = counts[3]
    jets_text = np.where(jet_count == 1, "1 jet", counted(jet_count, "jets"))
    met_text = np.where(
        has_met, np.char.add(np.char.add("MET ", met_whole.astype(str)), " GeV"), ""
    )
    physics = joined(
        [
            *(counted(c, label) for c, label in zip(counts, LABELS, strict=False)),
            jets_text,
            met_text,
        ]
    )
    nothing = np.zeros(events, dtype=np.int64)
    detector = joined(
        [
            counted(nothing if tracks is None else np.asarray(tracks, np.int64), "tracks"),
            counted(nothing if clusters is None else np.asarray(clusters, np.int64), "clusters"),
        ]
    )
    line = np.where(physics != "", physics, np.where(detector != "", detector, NOTHING))
    return line.tolist()
