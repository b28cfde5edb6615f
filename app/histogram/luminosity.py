"""Simulation scaled to the data's luminosity, as the ATLAS Open Data notebooks do it.

The weight of a simulated event is built, as an expression the page shows, from the columns its
file has:
- 2020 education ntuples (tree `mini`): mcWeight x scale factors x XSection x L / SumWeights;
- 2025 release (tree `analysis`): mcWeight x scale factors x xsec x kfac x filteff x L /
  sum_of_weights.
Cross-sections are in pb and L is given in fb^-1 (x 1000 for pb^-1). A file without these
columns, or whose cross-section or sum of weights is zero everywhere, is data (weight 1).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from app.histogram.evaluation import Evaluator

PB_PER_FB = 1000.0
# The scale factors the notebooks apply to lepton selections, by release prefix.
SCALE_FACTORS = ("PILEUP", "ELE", "MUON", "LepTRIGGER")


@dataclass(frozen=True)
class Release:
    """The normalisation columns of one release of the education ntuples."""

    name: str
    normalisation: tuple[str, ...]  # multiplied
    sum_of_weights: str
    scale_factor_prefix: str


RELEASES = (
    Release("2020 (13 TeV, 10 fb⁻¹)", ("XSection",), "SumWeights", "scaleFactor_"),
    Release(
        "2025 (13 TeV, 36 fb⁻¹)", ("xsec", "kfac", "filteff"), "sum_of_weights", "ScaleFactor_"
    ),
)


def release_of(names: Collection[str]) -> Release | None:
    """The release whose normalisation columns a file has, if any."""
    for release in RELEASES:
        if {*release.normalisation, release.sum_of_weights} <= set(names):
            return release
    return None


def luminosity_weight(names: Collection[str], luminosity_fb: float) -> str | None:
    """The weight expression scaling a simulated file to `luminosity_fb`, or None (data)."""
    release = release_of(names)
    if release is None:
        return None
    factors = ["mcWeight"] if "mcWeight" in names else []
    factors += [
        release.scale_factor_prefix + factor
        for factor in SCALE_FACTORS
        if release.scale_factor_prefix + factor in names
    ]
    factors += [*release.normalisation, f"{luminosity_fb * PB_PER_FB:g}"]
    return f"{' * '.join(factors)} / {release.sum_of_weights}"


def simulation_weight(evaluator: Evaluator, luminosity_fb: float) -> str | None:
    """A dataset's luminosity weight, None when it is data (no cross-section, or zero ones)."""
    expression = luminosity_weight(evaluator.names, luminosity_fb)
    if expression is None:
        return None
    release = release_of(evaluator.names)
    assert release is not None
    for column in (*release.normalisation, release.sum_of_weights):
        values = evaluator.values(column)
        if not np.any(np.isfinite(values) & (values != 0)):
            return None
    return expression


def weighted_by(weight: str, factor: str | None) -> str:
    """The user's weight times a luminosity weight (either may be absent)."""
    if factor is None:
        return weight
    return f"({weight}) * ({factor})" if weight.strip() else factor
