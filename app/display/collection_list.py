"""The "Physics objects" list: every collection's toggle, count and cut in one page component.

One browser-side component instead of six Panel widgets per collection: opening a page costs a
few Bokeh models less per collection, and an event switch sends one small dict of counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.display.controls import collection_row, shown_by_default
from app.display.scene import Layer

COLLECTION_LIST_JS = Path(__file__).with_name("collection_list.js")


@lru_cache(maxsize=1)
def collection_list_class() -> type:
    """The JSComponent class (made on first use: importing panel is slow)."""
    import panel as pn
    import param

    class CollectionList(pn.custom.JSComponent):
        """Per collection: a show toggle, 'passing / total' and a lower cut in GeV."""

        rows = param.List(default=[], doc="One row description per collection, in order.")
        counts = param.Dict(default={}, doc="'passing / total' per collection of this event.")
        shown = param.Dict(default={}, doc="Whether each collection is drawn.")
        cuts = param.Dict(default={}, doc="Each collection's lower cut (GeV).")

        _esm = COLLECTION_LIST_JS

        def __init__(self, **params: Any) -> None:
            super().__init__(**params)
            self._rows_by_key = {row["key"]: row for row in self.rows}

        def add(self, layers: Iterable[Layer]) -> None:
            """Rows for the collections not listed yet, with their start-up choices."""
            new = [layer for layer in layers if layer.key not in self._rows_by_key]
            if not new:
                return
            rows = [collection_row(layer) for layer in new]
            self._rows_by_key.update((row["key"], row) for row in rows)
            self.param.update(
                rows=[*self.rows, *rows],
                shown={**self.shown, **{layer.key: shown_by_default(layer) for layer in new}},
                cuts={**self.cuts, **{row["key"]: row["cut"] for row in rows}},
            )

        def is_shown(self, key: str) -> bool:
            """Whether collection `key` is to be drawn."""
            return self.shown.get(key) is True

        def cut(self, key: str) -> float:
            """Collection `key`'s lower cut in GeV, within its slider's range."""
            row = self._rows_by_key.get(key)
            if row is None or not row["cut_label"]:
                return 0.0
            value = self.cuts.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return row["cut"]  # the page sends numbers; anything else keeps the default
            if not math.isfinite(value):
                return row["cut"]
            return min(max(float(value), 0.0), row["cut_max"])

        def show_counts(self, counts: Mapping[str, str]) -> None:
            """'passing / total' per collection of the shown event (the others are hidden)."""
            self.counts = dict(counts)

        def on_change(self, callback: Callable[[], None]) -> None:
            """Call `callback()` when a toggle or a cut changes."""
            self.param.watch(lambda *_events: callback(), ["shown", "cuts"])

    return CollectionList


def collection_list(**params: Any) -> Any:
    """An empty collection list; rows come with the events that have them."""
    return collection_list_class()(**params)
