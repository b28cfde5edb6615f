"""Colours of the event display: one place, so the legend and the scene always agree."""

from __future__ import annotations

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
    "vertex": "#f5f5f5",
    "met": "#ff4040",
    "hit": "#b5e655",
}
CHARGE_COLORS = {1: "#ff6b5e", -1: "#4ea4ff", 0: "#b0b0b0"}
# Distinct colours for tracks coloured by collection (cycled).
COLLECTION_PALETTE = ("#8ecae6", "#ffb703", "#a7c957", "#f28482", "#cdb4db", "#90e0ef", "#f6bd60")
KIND_OPACITY = {
    "jet": 0.2,
    "muon": 0.95,
    "cluster": 0.75,
    "electron": 0.9,
    "photon": 0.85,
    "vertex": 1.0,
}
COLOR_MODES = ("charge", "collection")


def rgb(color: str) -> np.ndarray:
    """A '#rrggbb' colour as three floats in [0, 1]."""
    value = color.lstrip("#")
    return np.array([int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


def collection_color(index: int) -> str:
    """The colour of the index-th track collection when colouring by collection."""
    return COLLECTION_PALETTE[index % len(COLLECTION_PALETTE)]


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
