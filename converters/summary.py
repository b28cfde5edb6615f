"""The one-line event summary of the event list ("2 mu, 4 jets, MET 43 GeV"), for many at once.

Both the display (for events read from JSON) and the ROOT event index (for events not yet
converted) describe events with these words, so the list reads the same whichever the source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

LABELS = (("electrons", "e"), ("muons", "mu"), ("photons", "photon"))
NOTHING = "no physics objects"


def counted(column: str, label: str) -> pl.Expr:
    """'N label' where the count is positive, else null."""
    return pl.when(pl.col(column) > 0).then(pl.format("{} " + label, pl.col(column)))


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
    events = len(electrons)
    nothing = np.zeros(events, dtype=np.int64)
    met = np.full(events, np.nan) if met_gev is None else np.asarray(met_gev, dtype=np.float64)
    has_met = np.isfinite(met)
    frame = pl.DataFrame(
        {
            "electrons": np.asarray(electrons, dtype=np.int64),
            "muons": np.asarray(muons, dtype=np.int64),
            "photons": np.asarray(photons, dtype=np.int64),
            "jets": np.asarray(jets, dtype=np.int64),
            # rint rounds half to even on the exact value, as Python's format(x, ".0f") does.
            "met": np.where(has_met, np.rint(np.where(has_met, met, 0.0)), 0).astype(np.int64),
            "has_met": has_met,
            "tracks": nothing if tracks is None else np.asarray(tracks, dtype=np.int64),
            "clusters": nothing if clusters is None else np.asarray(clusters, dtype=np.int64),
        }
    )
    jets_text = (
        pl.when(pl.col("jets") == 1)
        .then(pl.lit("1 jet"))
        .when(pl.col("jets") > 1)
        .then(pl.format("{} jets", pl.col("jets")))
    )
    met_text = pl.when(pl.col("has_met")).then(pl.format("MET {} GeV", pl.col("met")))
    physics = pl.concat_str(
        [*(counted(column, label) for column, label in LABELS), jets_text, met_text],
        separator=", ",
        ignore_nulls=True,
    )
    detector = pl.concat_str(
        [counted("tracks", "tracks"), counted("clusters", "clusters")],
        separator=", ",
        ignore_nulls=True,
    )
    line = (
        pl.when(physics != "")
        .then(physics)
        .when(detector != "")
        .then(detector)
        .otherwise(pl.lit(NOTHING))
    )
    return frame.select(line.alias("line"))["line"].to_list()
