"""The eta-phi ("lego") view beside the 3D view: a Bokeh map linked to the shared selection.

Drawn as a 2D Bokeh plot: the page already runs Bokeh, so the view adds four small data sources
and no 3D widgets; towers are coloured by their ET (or E). A click picks the object under it
(shift-click adds it to the mass) through the same `Selection` the 3D view and the table use,
and the selection's objects are ringed here as they are lit in the 3D view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from app.display.lego import (
    ETA_LIMIT,
    HEIGHTS,
    LegoContent,
    ObjectKey,
    lego_content,
    pick,
)
from app.display.scene import Layer
from app.display.style import BACKGROUND, HIGHLIGHT, KIND_COLORS

PLOT_SIZE = (720, 330)
PICK_RADIUS = 0.15  # in eta-phi units: about 10 pixels on the plot
MARKERS = {"electron": "circle", "muon": "triangle", "photon": "square"}
MARKER_SIZE = 13
TOWER_PALETTE = "Plasma256"


def labels(prefix: str, values: np.ndarray, unit: str = "GeV") -> np.ndarray:
    """Hover texts such as 'jet, pT 23.1 GeV' for many objects at once."""
    numbers = np.char.mod("%.1f", np.nan_to_num(np.asarray(values, dtype=np.float64)))
    return np.char.add(np.char.add(f"{prefix} ", numbers), f" {unit}").astype(object)


def by_kind(kinds: np.ndarray, table: dict[str, str]) -> np.ndarray:
    """`table[kind]` for each of `kinds` (a lookup per distinct kind, not per object)."""
    unique, inverse = np.unique(kinds, return_inverse=True)
    return np.array([table[kind] for kind in unique] + [""], dtype=object)[inverse]


def source_data(content: LegoContent, height: str) -> dict[str, dict[str, Any]]:
    """The columns of each data source of the plot for one event."""
    towers, jets, markers, met = content.towers, content.jets, content.markers, content.met
    kinds = markers["kind"].astype(str)
    return {
        "towers": {
            "left": towers.left,
            "right": towers.right,
            "bottom": towers.bottom,
            "top": towers.top,
            "value": towers.value,
            "label": labels(f"tower, {height}", towers.value),
        },
        "jets": {
            "eta": jets["eta"],
            "phi": jets["phi"],
            "diameter": 2.0 * jets["radius"],
            "label": labels("jet, pT", jets["pt"]),
        },
        "markers": {
            "eta": markers["eta"],
            "phi": markers["phi"],
            "marker": by_kind(kinds, MARKERS),
            "color": by_kind(kinds, KIND_COLORS),
            "label": np.char.add(kinds, labels(", pT", markers["pt"]).astype(str)).astype(object),
        },
        "met": {
            "phi": met["phi"],
            "label": labels("missing ET", met["pt"]),
        },
    }


def ringed(content: LegoContent, highlighted: Iterable[ObjectKey]) -> dict[str, dict[str, Any]]:
    """Positions of the highlighted markers and jet circles (rings drawn over them)."""
    wanted = set(highlighted)
    result = {}
    for name, columns in (("markers", content.markers), ("jets", content.jets)):
        mask = np.zeros(len(columns["eta"]), dtype=bool)
        for key, index in wanted:  # the few highlighted objects, not every object
            mask |= (columns["key"] == key) & (columns["index"] == index)
        result[name] = {"eta": columns["eta"][mask], "phi": columns["phi"][mask]}
        if name == "jets":
            result[name]["diameter"] = 2.0 * columns["radius"][mask]
    return result


class LegoView:
    """The eta-phi view of one page: towers, jet circles, markers, MET; clicks pick objects."""

    def __init__(self, on_pick: Callable[[str, int, bool], None]):
        import panel as pn

        self.on_pick = on_pick
        self.content: LegoContent | None = None
        self._signature: tuple | None = None
        self._shown: list[tuple[Layer, np.ndarray]] = []
        self.height = pn.widgets.RadioButtonGroup(options=list(HEIGHTS), value="ET", width=110)
        self.height.param.watch(lambda _event: self._refill(), "value")
        self.plot, self.sources, self.mapper = self._figure()
        self.panel = pn.Column(
            pn.Row(
                pn.pane.HTML(
                    "<span style='line-height:32px'>η-φ view: towers coloured by</span>",
                    margin=(5, 2, 5, 10),
                ),
                self.height,
                margin=0,
            ),
            pn.pane.Bokeh(self.plot),
            margin=(5, 10),
        )

    def _figure(self) -> tuple[Any, dict[str, Any], Any]:
        """The Bokeh figure, its data sources and the towers' colour mapper."""
        from bokeh.events import DoubleTap, PressUp, Tap
        from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
        from bokeh.plotting import figure

        sources = {
            name: ColumnDataSource(data)
            for name, data in source_data(lego_content([]), "ET").items()
        }
        sources["ring_markers"] = ColumnDataSource({"eta": [], "phi": []})
        sources["ring_jets"] = ColumnDataSource({"eta": [], "phi": [], "diameter": []})
        mapper = LinearColorMapper(palette=TOWER_PALETTE, low=0.0, high=1.0)
        width, height = PLOT_SIZE
        plot = figure(
            name="lego",
            width=width,
            height=height,
            x_range=(-ETA_LIMIT, ETA_LIMIT),
            y_range=(-math.pi, math.pi),
            x_axis_label="η",
            y_axis_label="φ",
            tools="",
            toolbar_location=None,
            background_fill_color=BACKGROUND,
            border_fill_color="white",
        )
        plot.grid.grid_line_color = "#2a3240"
        plot.quad(
            left="left", right="right", bottom="bottom", top="top", source=sources["towers"],
            fill_color={"field": "value", "transform": mapper}, line_color=None,
            name="lego-towers",
        )  # fmt: skip
        segments = plot.segment(
            x0=-ETA_LIMIT, x1=ETA_LIMIT, y0="phi", y1="phi", source=sources["met"],
            line_color=KIND_COLORS["met"], line_width=2, line_dash="dashed", name="lego-met",
        )  # fmt: skip
        jets = plot.ellipse(
            x="eta", y="phi", width="diameter", height="diameter", source=sources["jets"],
            fill_color=KIND_COLORS["jet"], fill_alpha=0.12, line_color=KIND_COLORS["jet"],
            line_width=2, name="lego-jets",
        )  # fmt: skip
        markers = plot.scatter(
            x="eta", y="phi", marker="marker", size=MARKER_SIZE, source=sources["markers"],
            fill_color="color", fill_alpha=0.45, line_color="color", line_width=2,
            name="lego-markers",
        )  # fmt: skip
        plot.ellipse(
            x="eta", y="phi", width="diameter", height="diameter", source=sources["ring_jets"],
            fill_color=None, line_color=HIGHLIGHT, line_width=3, name="lego-ring-jets",
        )  # fmt: skip
        plot.scatter(
            x="eta", y="phi", marker="circle", size=MARKER_SIZE + 10,
            source=sources["ring_markers"], fill_color=None, line_color=HIGHLIGHT,
            line_width=3, name="lego-ring-markers",
        )  # fmt: skip
        plot.add_tools(HoverTool(renderers=[markers, jets, segments], tooltips="@label"))
        plot.add_layout(
            ColorBar(color_mapper=mapper, width=10, title="ET (GeV)", name="lego-scale"), "right"
        )
        # Bokeh reports a second click within 300 ms as a double tap, and a click held long
        # (or slowed by a busy browser) as a press: each is a click on an object here.
        for click in (Tap, DoubleTap, PressUp):
            plot.on_event(click, self._on_tap)
        return plot, sources, mapper

    def show(self, shown: list[tuple[Layer, np.ndarray]], highlighted: Iterable[ObjectKey]) -> None:
        """Draw the shown objects (`(layer, mask)` pairs) and ring the highlighted ones."""
        signature = tuple((id(layer), mask.tobytes()) for layer, mask in shown)
        if signature != self._signature:
            self._signature, self._shown = signature, shown
            self._refill()
        self.follow(highlighted)

    def _refill(self) -> None:
        """New content: every source replaced (once per event, toggle or cut)."""
        self.content = lego_content(self._shown, self.height.value)
        data = source_data(self.content, self.height.value)
        for name, columns in data.items():
            self.sources[name].data = columns
        values = self.content.towers.value
        self.mapper.high = float(values.max()) if len(values) else 1.0
        self.plot.select_one({"name": "lego-scale"}).title = f"{self.height.value} (GeV)"

    def follow(self, highlighted: Iterable[ObjectKey]) -> None:
        """Ring the highlighted objects (only the two small ring sources change)."""
        if self.content is None:
            return
        rings = ringed(self.content, highlighted)
        for name in ("markers", "jets"):
            source = self.sources[f"ring_{name}"]
            if any(len(source.data[column]) for column in source.data) or len(rings[name]["eta"]):
                source.data = rings[name]

    def _on_tap(self, event: Any) -> None:
        """A click on the plot: the object under it, shift adding it to the mass."""
        if self.content is None or event.x is None or event.y is None:
            return
        target = pick(self.content, float(event.x), float(event.y), PICK_RADIUS)
        if target is not None:
            modifiers = getattr(event, "modifiers", None) or {}
            self.on_pick(target[0], target[1], bool(modifiers.get("shift")))
