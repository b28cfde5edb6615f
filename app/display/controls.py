"""Widgets of the side panels: per-collection toggles and cuts, detector groups, legend."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.display.scene import Layer
from app.display.style import KIND_COLORS

# Slider ranges (GeV) per cut variable and kind: wide enough for ttbar and Z/H candidates.
CUT_RANGES = {"jet": 300.0, "cluster": 200.0, "electron": 200.0, "muon": 200.0, "photon": 200.0}
DEFAULT_CUT_RANGE = 50.0
# Start-up choices that keep a busy event readable; students can change all of them.
DEFAULT_CUTS_GEV = {"jet": 20.0}
HIDDEN_COLLECTION_MARKERS = ("LargeR", "Tau")  # overlap the standard jets
MAX_VERTICES_SHOWN = 10  # pile-up vertices pile up at the centre
# What students read beside each collection (its real name is shown in small text below).
FRIENDLY_NAMES = {
    "InDetTrackParticles": "Tracks (inner detector)",
    "InDetForwardTrackParticles": "Forward tracks (inner detector)",
    "GSFTrackParticles": "Electron tracks (GSF)",
    "CombinedMuonTrackParticles": "Muon tracks (combined)",
    "ExtrapolatedMuonTrackParticles": "Muon tracks (extrapolated)",
    "MuonSpectrometerTrackParticles": "Muon tracks (muon spectrometer)",
    "AnalysisElectrons": "Electrons",
    "Electrons": "Electrons",
    "AnalysisMuons": "Muons",
    "Muons": "Muons",
    "AnalysisPhotons": "Photons",
    "Photons": "Photons",
    "AnalysisJets": "Jets",
    "AntiKt4EMPFlowJets": "Jets",
    "AnalysisLargeRJets": "Large-R jets",
    "AnalysisTauJets": "Tau candidates",
    "MET": "Missing energy",
    "MET_Core_AnalysisMET": "Missing energy",
    "PrimaryVertices": "Collision vertices",
    "egammaClusters": "Calorimeter clusters (e/γ)",
    "CaloCalTopoClusters": "Calorimeter clusters",
}
LEGEND = (
    ("track", "tracks (+ red, − blue)"),
    ("electron", "electrons"),
    ("muon", "muons"),
    ("photon", "photons"),
    ("jet", "jets"),
    ("cluster", "calorimeter clusters"),
    ("met", "missing energy"),
    ("vertex", "vertices"),
)


@dataclass
class CollectionControl:
    """Show toggle, cut slider and count of one collection."""

    toggle: Any
    cut: Any | None
    count: Any
    row: Any


def shown_by_default(layer: Layer) -> bool:
    """Whether a collection is on when it first appears."""
    if layer.kind == "vertex":
        return layer.size <= MAX_VERTICES_SHOWN
    return not any(marker in layer.collection for marker in HIDDEN_COLLECTION_MARKERS)


def friendly_name(collection: str) -> str:
    """The label students read for a collection (unknown collections keep their own name)."""
    return FRIENDLY_NAMES.get(collection, collection)


def collection_note(collection: str) -> str:
    """The real collection name, in small grey text under its friendly label."""
    name = html.escape(collection)
    return (
        f"<div title='ATLAS collection {name}' data-testid='collection-name' "
        f"style='font-size:11px;color:#888;line-height:1.1'>{name}</div>"
    )


def collection_control(layer: Layer, on_change: Callable[[str], None]) -> CollectionControl:
    """The controls of one collection; `on_change(layer_key)` runs when one of them moves."""
    import panel as pn

    toggle = pn.widgets.Checkbox(
        name=friendly_name(layer.collection),
        value=shown_by_default(layer),
        width=215,
        margin=(4, 5, 0, 5),
    )
    # plain text: updated on every event, and a text widget costs half what an HTML pane does
    count = pn.widgets.StaticText(
        value="",
        width=70,
        margin=(4, 5, 0, 5),
        styles={"text-align": "right", "color": "#666", "font-size": "12px"},
    )
    cut = None
    widgets: list[Any] = [pn.Row(toggle, count, margin=0)]
    if friendly_name(layer.collection) != layer.collection:
        widgets.append(pn.pane.HTML(collection_note(layer.collection), margin=(0, 5, 2, 28)))
    if layer.cut_variable is not None:
        name = "pT" if layer.cut_variable == "pt" else "E"
        cut = pn.widgets.FloatSlider(
            name=f"{name} cut (GeV)",
            start=0.0,
            end=CUT_RANGES.get(layer.kind, DEFAULT_CUT_RANGE),
            step=0.5,
            value=DEFAULT_CUTS_GEV.get(layer.kind, 0.0),
            width=280,
            margin=(0, 10, 6, 25),
        )
        cut.param.watch(lambda _event: on_change(layer.key), "value_throttled")
        widgets.append(cut)
    toggle.param.watch(lambda _event: on_change(layer.key), "value")
    return CollectionControl(toggle, cut, count, pn.Column(*widgets, margin=0))


def detector_control(
    group: str, visible: bool, opacity: float, on_toggle: Callable, on_opacity: Callable
) -> Any:
    """A detector group's toggle and opacity slider."""
    import panel as pn

    toggle = pn.widgets.Checkbox(name=group, value=visible, width=130, margin=(8, 5))
    slider = pn.widgets.FloatSlider(
        name="", start=0.0, end=1.0, step=0.01, value=opacity, width=150, margin=(0, 5)
    )
    toggle.param.watch(lambda event: on_toggle(group, event.new), "value")
    slider.param.watch(lambda event: on_opacity(group, event.new), "value_throttled")
    return pn.Row(toggle, slider, margin=0)


def legend_html() -> str:
    """A compact colour legend of the object kinds."""
    items = "".join(
        f'<span style="white-space:nowrap;margin-right:10px">'
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:2px;'
        f'background:{KIND_COLORS[kind]};margin-right:4px"></span>{label}</span> '
        for kind, label in LEGEND
    )
    return f'<div style="font-size:12px;line-height:1.7">{items}</div>'
