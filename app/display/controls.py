"""Side panel contents: what each collection's row shows, and the legend."""

from __future__ import annotations

from typing import Any

from app.display.scene import Layer
from app.display.style import KIND_COLORS

# Slider ranges (GeV) per cut variable and kind: wide enough for ttbar and Z/H candidates.
CUT_RANGES = {
    "jet": 300.0,
    "cluster": 200.0,
    "cell": 50.0,
    "electron": 200.0,
    "muon": 200.0,
    "photon": 200.0,
}
DEFAULT_CUT_RANGE = 50.0
CUT_STEP_GEV = 0.5
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


def shown_by_default(layer: Layer) -> bool:
    """Whether a collection is on when it first appears."""
    if layer.kind == "vertex":
        return layer.size <= MAX_VERTICES_SHOWN
    return not any(marker in layer.collection for marker in HIDDEN_COLLECTION_MARKERS)


def friendly_name(collection: str) -> str:
    """The label students read for a collection (unknown collections keep their own name)."""
    return FRIENDLY_NAMES.get(collection, collection)


def collection_row(layer: Layer) -> dict[str, Any]:
    """What the collection list shows for one collection, and its start-up cut."""
    label = friendly_name(layer.collection)
    row = {
        "key": layer.key,
        "label": label,
        "name": layer.collection if label != layer.collection else "",
        "cut_label": "",
        "cut_max": 0.0,
        "cut_step": CUT_STEP_GEV,
        "cut": 0.0,
    }
    if layer.cut_variable is not None:
        row["cut_label"] = f"{'pT' if layer.cut_variable == 'pt' else 'E'} cut (GeV)"
        row["cut_max"] = CUT_RANGES.get(layer.kind, DEFAULT_CUT_RANGE)
        row["cut"] = DEFAULT_CUTS_GEV.get(layer.kind, 0.0)
    return row


def legend_html() -> str:
    """A compact colour legend of the object kinds."""
    items = "".join(
        f'<span style="white-space:nowrap;margin-right:10px">'
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:2px;'
        f'background:{KIND_COLORS[kind]};margin-right:4px"></span>{label}</span> '
        for kind, label in LEGEND
    )
    return f'<div style="font-size:12px;line-height:1.7">{items}</div>'
