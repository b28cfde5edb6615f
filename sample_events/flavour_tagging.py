"""A toy DL1dv01 b-tagger: per-jet (pb, pc, pu) whose discriminant behaves like the real one."""

from __future__ import annotations

import numpy as np

from sample_events.detector import TRACKER_MAX_ETA

BOTTOM, CHARM, LIGHT = 5, 4, 0
CHARM_FRACTION = 0.018  # f_c in D = ln(pb / (f_c pc + (1 - f_c) pu))
# Fixed-cut working points of DL1dv01 on particle-flow jets: b efficiency (%) -> cut on D.
WORKING_POINTS = {85: 0.948, 77: 2.456, 70: 3.493, 60: 4.884}

# Inverse CDFs of D per true flavour, as (cumulative probability, D) knots placed so that each
# working point keeps its nominal b efficiency and roughly the published c and light mistag rates.
_DISCRIMINANT_KNOTS = {
    BOTTOM: (
        (0.0, 0.15, 0.23, 0.30, 0.40, 0.70, 1.0),
        (-4.0, 0.948, 2.456, 3.493, 4.884, 7.0, 11.0),
    ),
    CHARM: (
        (0.0, 0.40, 0.65, 0.80, 0.89, 0.96, 1.0),
        (-5.0, -0.5, 0.948, 2.456, 3.493, 4.884, 7.0),
    ),
    LIGHT: (
        (0.0, 0.50, 0.97, 0.992, 0.9975, 0.9995, 1.0),
        (-6.0, -2.0, 0.948, 2.456, 3.493, 4.884, 7.0),
    ),
}
# Beta shapes of pc / (pc + pu): c jets lean to pc, light jets to pu.
_CHARM_SHARE = {BOTTOM: (2.0, 3.0), CHARM: (5.0, 2.0), LIGHT: (1.0, 6.0)}


def discriminant(pb: np.ndarray, pc: np.ndarray, pu: np.ndarray) -> np.ndarray:
    """The DL1d b-tagging discriminant."""
    return np.log(pb / (CHARM_FRACTION * pc + (1.0 - CHARM_FRACTION) * pu))


def quantile_bin(pb: np.ndarray, pc: np.ndarray, pu: np.ndarray) -> np.ndarray:
    """Pseudo-continuous tag bin: 1 (fails 85 %) ... 5 (passes 60 %), as in the open data."""
    d = discriminant(pb, pc, pu)
    cuts = np.array(sorted(WORKING_POINTS.values()))
    return (1 + np.searchsorted(cuts, d, side="right")).astype(np.int32)


def tagger_outputs(
    rng: np.random.Generator, flavour: np.ndarray, eta: np.ndarray
) -> dict[str, np.ndarray]:
    """DL1dv01_pb, _pc, _pu per jet; beyond the tracker every jet is tagged as light."""
    label = np.where(np.abs(eta) < TRACKER_MAX_ETA, flavour, LIGHT)
    label = np.where(np.isin(label, (BOTTOM, CHARM)), label, LIGHT)
    u = rng.uniform(size=len(label))
    share = np.empty(len(label))
    d = np.empty(len(label))
    for flavour_label, (cumulative, values) in _DISCRIMINANT_KNOTS.items():
        rows = label == flavour_label
        d[rows] = np.interp(u[rows], cumulative, values)
        share[rows] = rng.beta(*_CHARM_SHARE[flavour_label], size=int(rows.sum()))
    # Solve D = ln(pb / ((1 - pb) k)) for pb, with k the f_c-weighted mix of pc and pu.
    k = CHARM_FRACTION * share + (1.0 - CHARM_FRACTION) * (1.0 - share)
    odds = np.exp(d) * k
    pb = odds / (1.0 + odds)
    return {
        "DL1dv01_pb": pb,
        "DL1dv01_pc": share * (1.0 - pb),
        "DL1dv01_pu": (1.0 - share) * (1.0 - pb),
    }
