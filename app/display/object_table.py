"""The object table beside the 3D view: every physics object of the event, one row each.

A row shows pT, eta, phi, E, charge and the collection; headers sort. Clicking a row shows the
object in the info panel and highlights it in the 3D view; ticking a row adds the object to the
invariant mass. One browser-side component (app/display/object_table.js): an event switch sends
one short list of rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.display.controls import friendly_name
from app.display.physics import KIND_NAMES, can_add_to_mass
from app.display.scene import Layer

OBJECT_TABLE_JS = Path(__file__).with_name("object_table.js")
# Kinds listed, in the order the table starts with; tracks only when asked for.
PHYSICS_KINDS = ("electron", "muon", "photon", "jet", "met")
TAU_MARKER = "Tau"
ROW_SEPARATOR = ":"


def row_id(key: str, index: int) -> str:
    """A row's id: the layer key and the object index, e.g. 'Muons/AnalysisMuons:1'."""
    return f"{key}{ROW_SEPARATOR}{index}"


def parse_row_id(text: Any) -> tuple[str, int] | None:
    """(layer key, index) of a row id sent by the page, None when it is not one."""
    if not isinstance(text, str) or ROW_SEPARATOR not in text:
        return None
    key, _, index = text.rpartition(ROW_SEPARATOR)
    return (key, int(index)) if index.isdigit() else None


def kind_label(layer: Layer) -> str:
    """What the Type column shows (taus are jets in the Phoenix format)."""
    if layer.kind == "jet" and TAU_MARKER in layer.collection:
        return "tau"
    return "MET" if layer.kind == "met" else KIND_NAMES.get(layer.kind, layer.kind)


def gev(values: np.ndarray) -> list[float | None]:
    """MeV values as GeV rounded to 2 decimals (None where unknown)."""
    return [round(float(v) / 1000.0, 2) if math.isfinite(v) else None for v in values]


def plain(values: np.ndarray, decimals: int = 3) -> list[float | None]:
    """Values rounded (None where unknown)."""
    return [round(float(v), decimals) if math.isfinite(v) else None for v in values]


def table_rows(layers: Iterable[Layer], tracks: bool = False) -> list[dict[str, Any]]:
    """One row per physics object (and per track when `tracks`), physics objects first."""
    listed = [layer for layer in layers if layer.kind in PHYSICS_KINDS]
    listed.sort(key=lambda layer: PHYSICS_KINDS.index(layer.kind))
    if tracks:
        listed += [layer for layer in layers if layer.kind == "track"]
    rows = []
    for layer in listed:
        props = layer.props
        columns = zip(
            gev(props["pt"]),
            plain(props["eta"]),
            plain(props["phi"]),
            gev(props["energy"]),
            plain(props["charge"], 0),
            strict=True,
        )
        for index, (pt, eta, phi, energy, charge) in enumerate(columns):
            rows.append(
                {
                    "id": row_id(layer.key, index),
                    "layer": layer.key,
                    "type": kind_label(layer),
                    "kind": layer.kind,
                    "collection": friendly_name(layer.collection),
                    "name": layer.collection,
                    "pt": pt,
                    "eta": eta,
                    "phi": phi,
                    "e": energy,
                    "charge": None if charge is None else int(charge),
                    "addable": can_add_to_mass(layer, index),
                }
            )
    return rows


@lru_cache(maxsize=1)
def object_table_class() -> type:
    """The JSComponent class (made on first use: importing panel is slow)."""
    import panel as pn
    import param

    class ObjectTable(pn.custom.JSComponent):
        """Rows of physics objects; the focused row and the ticked rows are shared with Python."""

        rows = param.List(default=[], doc="One dict per object (see `table_rows`).")
        hidden = param.List(default=[], doc="Layer keys not drawn in the 3D view.")
        focus = param.String(default="", doc="Id of the row in the info panel ('' for none).")
        chosen = param.List(default=[], doc="Ids of the ticked rows.")
        tracks = param.Boolean(default=False, doc="Whether tracks are listed too.")

        _esm = OBJECT_TABLE_JS

        def __init__(self, **params: Any) -> None:
            super().__init__(**params)
            self._layers: list[Layer] = []
            self._following = False  # Python showing its own state: no callbacks
            self.param.watch(lambda _event: self._list_again(), "tracks")

        def show(self, layers: Iterable[Layer], hidden: Iterable[str]) -> None:
            """The rows of a new event (nothing focused or ticked)."""
            self._layers = list(layers)
            self._update(rows=table_rows(self._layers, self.tracks), focus="", chosen=[])
            self.show_hidden(hidden)

        def show_hidden(self, hidden: Iterable[str]) -> None:
            """Mark the rows of collections not drawn in the 3D view."""
            hidden = sorted(hidden)
            if hidden != self.hidden:
                self.hidden = hidden

        def follow(self, focus: tuple[str, int] | None, chosen: Iterable[tuple[str, int]]) -> None:
            """Show the selection's focus and chosen objects."""
            ids = [row_id(*item) for item in chosen]
            self._update(focus=row_id(*focus) if focus else "", chosen=ids)

        def _list_again(self) -> None:
            """Tracks listed or not: the same event's rows again (focus and ticks kept)."""
            self._update(rows=table_rows(self._layers, self.tracks))

        def _update(self, **values: Any) -> None:
            """Set parameters without calling back the selection."""
            self._following = True
            try:
                self.param.update(**values)
            finally:
                self._following = False

        def on_pick(
            self,
            focus: Callable[[tuple[str, int]], None],
            choose: Callable[[list[tuple[str, int]]], None],
        ) -> None:
            """Call `focus(object)` for a clicked row, `choose(objects)` when ticks change."""

            def focused(event: Any) -> None:
                picked = parse_row_id(event.new)
                if picked is not None and not self._following:
                    focus(picked)

            def ticked(event: Any) -> None:
                if self._following:
                    return
                chosen = [parse_row_id(item) for item in event.new]
                choose([item for item in chosen if item is not None])

            self.param.watch(focused, "focus")
            self.param.watch(ticked, "chosen")

    return ObjectTable


def object_table(**params: Any) -> Any:
    """An empty object table; rows come with each event."""
    return object_table_class()(**params)
