"""What students read off the display: one object's properties and a selection's invariant mass."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from app.display.scene import Layer

KIND_NAMES = {
    "track": "track",
    "jet": "jet",
    "electron": "electron",
    "muon": "muon",
    "photon": "photon",
    "cluster": "calorimeter cluster",
    "cell": "calorimeter cell",
    "vertex": "vertex",
    "met": "missing transverse energy",
    "hit": "hit",
}
# Kinds whose selection adds to the invariant mass (the masterclass Z and Higgs hunts).
MASS_KINDS = ("electron", "muon", "photon", "jet", "track")


def object_info(layer: Layer, index: int) -> dict[str, str]:
    """Type, collection and kinematics of one object, formatted for people (GeV, 2 decimals)."""
    props = {name: float(values[index]) for name, values in layer.props.items()}
    info = {"Type": KIND_NAMES.get(layer.kind, layer.kind), "Collection": layer.collection}
    if layer.kind == "met":
        info["MET"] = _gev(props["pt"])
        info["phi"] = _plain(props["phi"])
        return info
    info["pT"] = _gev(props["pt"])
    info["eta"] = _plain(props["eta"])
    info["phi"] = _plain(props["phi"])
    info["E"] = _gev(props["energy"])
    info["charge"] = _charge(props["charge"])
    return {key: value for key, value in info.items() if value != ""}


def four_vectors(layers: Sequence[Layer], indices: Sequence[int]) -> np.ndarray:
    """(N, 4) arrays of (E, px, py, pz) in MeV of selected objects."""
    rows = []
    for layer, index in zip(layers, indices, strict=True):
        pt, eta, phi = (float(layer.props[name][index]) for name in ("pt", "eta", "phi"))
        mass = float(np.nan_to_num(layer.props["mass"][index]))
        px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
        rows.append([math.sqrt(px**2 + py**2 + pz**2 + mass**2), px, py, pz])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def invariant_mass(layers: Sequence[Layer], indices: Sequence[int]) -> float:
    """Invariant mass in GeV of the selected objects (NaN when one lacks pT, eta or phi)."""
    total = four_vectors(layers, indices).sum(axis=0)
    squared = total[0] ** 2 - total[1] ** 2 - total[2] ** 2 - total[3] ** 2
    return math.sqrt(max(squared, 0.0)) / 1000.0 if np.isfinite(squared) else math.nan


def can_add_to_mass(layer: Layer, index: int) -> bool:
    """Whether an object has the kinematics needed for the invariant mass."""
    if layer.kind not in MASS_KINDS:
        return False
    return bool(all(np.isfinite(layer.props[name][index]) for name in ("pt", "eta", "phi")))


def _gev(value_mev: float) -> str:
    """MeV as a GeV string."""
    return f"{value_mev / 1000.0:.2f} GeV" if math.isfinite(value_mev) else ""


def _plain(value: float) -> str:
    """A dimensionless number with 3 decimals."""
    return f"{value:.3f}" if math.isfinite(value) else ""


def _charge(value: float) -> str:
    """Charge as +1, -1 or 0."""
    if not math.isfinite(value):
        return ""
    return f"{int(value):+d}" if value != 0 else "0"
