"""Colours of the event display: one place, so the legend and the scene always agree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = "#0d1117"
HIGHLIGHT = "#ffffff"
# One colour per kind of physics object; muons in a vivid magenta nothing else uses.
KIND_COLORS = {
    "track": "#9fb3c8",
    "electron": "#2ee66b",
    "muon": "#ff2fd4",
    "photon": "#ffe03a",
    "jet": "#ff9f1c",
    "cluster": "#35c7e8",
    "cell": "#4fe0b0",
    "vertex": "#f5f5f5",
    "met": "#ff4040",
    "hit": "#b5e655",
}
CHARGE_COLORS = {1: "#ff7b6b", -1: "#5cb3ff", 0: "#c4c4c4"}
# Distinct colours for tracks coloured by collection (cycled).
COLLECTION_PALETTE = ("#8ecae6", "#ffb703", "#a7c957", "#f28482", "#cdb4db", "#90e0ef", "#f6bd60")
KIND_OPACITY = {
    "jet": 0.3,
    "muon": 0.95,
    "cluster": 0.75,
    "cell": 0.85,
    "electron": 0.9,
    "photon": 0.85,
    "vertex": 1.0,
}
COLOR_MODES = ("charge", "collection")
# Event objects are drawn after the detector (translucent pass), so the detector never tints them.
EVENT_RENDER_ORDER = 1


@dataclass(frozen=True)
class DetectorLook:
    """How a detector group is drawn: opacity of its surfaces and of its outline edges."""

    surface: float
    outline: float = 0.0  # 0: no outline


# The detector is light context around the event: faint inner layers, calorimeters and the muon
# system mostly as outlines. Groups not listed keep the opacity of geometry/atlas.yaml.
DETECTOR_LOOK = {
    "Beam pipe": DetectorLook(0.15),
    "Pixel": DetectorLook(0.1),
    "SCT": DetectorLook(0.06),
    "TRT": DetectorLook(0.05),
    "Solenoid": DetectorLook(0.04, 0.2),
    "LAr EM": DetectorLook(0.06, 0.22),
    "LAr hadronic/forward": DetectorLook(0.04),
    "Tile": DetectorLook(0.05, 0.16),
    # The muon system is ten times larger than the rest: faint, or its edges wall the event in.
    "Toroids": DetectorLook(0.05, 0.1),
    "Muon barrel": DetectorLook(0.03, 0.07),
    "Muon end-cap": DetectorLook(0.03, 0.07),
}
OUTLINE_ANGLE_DEG = 20.0  # an edge between faces bent more than this is drawn as an outline
OUTLINE_MIN_RADIUS_MM = 1000.0  # smaller parts (forward calorimeter, pixels) get no outline


def detector_look(group: str, opacity: float) -> DetectorLook:
    """The look of a detector group (`opacity` from the geometry file when it is not listed)."""
    return DETECTOR_LOOK.get(group, DetectorLook(opacity))


def rgb(color: str) -> np.ndarray:
    """A '#rrggbb' colour as three floats in [0, 1]."""
    value = color.lstrip("#")
    return np.array([int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


def lighter(color: str, amount: float = 0.4) -> str:
    """A '#rrggbb' colour mixed with white (`amount` 0: unchanged, 1: white)."""
    mixed = rgb(color) + (1.0 - rgb(color)) * amount
    return "#" + "".join(f"{round(float(value) * 255):02x}" for value in mixed)


def collection_color(index: int) -> str:
    """The colour of the index-th track collection when colouring by collection."""
    return COLLECTION_PALETTE[index % len(COLLECTION_PALETTE)]


def with_own_colors(colors: np.ndarray, own: np.ndarray | None) -> np.ndarray:
    """`colors` (N, 3), replaced by the file's own colour of an object where it gives one."""
    if own is None:
        return colors
    return np.where(np.isfinite(own).all(axis=1)[:, None], own, colors).astype(np.float32)


def object_colors(
    kind: str, charge: np.ndarray, mode: str = "charge", collection_index: int = 0
) -> np.ndarray:
    """Colours (N, 3) of the objects of one collection."""
    count = len(charge)
    if kind != "track":
        return np.tile(rgb(KIND_COLORS.get(kind, KIND_COLORS["track"])), (count, 1))
    if mode == "collection":
        return np.tile(rgb(collection_color(collection_index)), (count, 1))
    sign = np.sign(np.nan_to_num(charge)).astype(np.int64)
    table = np.stack([rgb(CHARGE_COLORS[0]), rgb(CHARGE_COLORS[1]), rgb(CHARGE_COLORS[-1])])
    return table[sign]  # sign -1 indexes the last row: the negative colour
