"""The eta-phi ("lego") plane: calorimeter towers, jet circles, object markers, as arrays.

Calorimeter clusters and cells are summed into towers of 0.1 x 2pi/64 in eta-phi (the ATLAS
trigger-tower grid); a tower's value is its summed ET (or E). Jets are circles of their cone
radius; a circle crossing phi = +-pi is drawn a second time on the other edge, where its other
part lies. Everything is built with numpy over whole collections (no loop per object).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from app.display.scene import Layer

ETA_LIMIT = 5.0  # the forward calorimeter reaches |eta| 4.9
ETA_STEP = 0.1
PHI_BINS = 64
ETA_EDGES = np.linspace(-ETA_LIMIT, ETA_LIMIT, round(2 * ETA_LIMIT / ETA_STEP) + 1)
PHI_EDGES = np.linspace(-math.pi, math.pi, PHI_BINS + 1)
TOWER_KINDS = ("cluster", "cell")
MARKER_KINDS = ("electron", "muon", "photon")
HEIGHTS = ("ET", "E")
ObjectKey = tuple[str, int]


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuth folded into [-pi, pi)."""
    return (np.asarray(phi, dtype=np.float64) + math.pi) % (2.0 * math.pi) - math.pi


def transverse(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """ET = E / cosh(eta) of massless deposits."""
    return np.asarray(energy, dtype=np.float64) / np.cosh(np.asarray(eta, dtype=np.float64))


@dataclass(frozen=True)
class Towers:
    """The non-empty towers: their eta-phi edges and value (GeV)."""

    left: np.ndarray
    right: np.ndarray
    bottom: np.ndarray
    top: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


def towers(eta: np.ndarray, phi: np.ndarray, energy_mev: np.ndarray, height: str = "ET") -> Towers:
    """Deposits (eta, phi, energy in MeV) summed into eta-phi towers; `height` 'ET' or 'E'."""
    eta = np.asarray(eta, dtype=np.float64)
    energy = np.asarray(energy_mev, dtype=np.float64)
    value = transverse(energy, eta) if height == "ET" else energy
    usable = np.isfinite(eta) & np.isfinite(phi) & np.isfinite(value) & (value > 0)
    summed, _, _ = np.histogram2d(
        eta[usable],
        wrap_phi(np.asarray(phi)[usable]),
        bins=(ETA_EDGES, PHI_EDGES),
        weights=value[usable] / 1000.0,
    )
    row, column = np.nonzero(summed > 0)
    return Towers(
        ETA_EDGES[row],
        ETA_EDGES[row + 1],
        PHI_EDGES[column],
        PHI_EDGES[column + 1],
        summed[row, column],
    )


@dataclass(frozen=True)
class Circles:
    """Jet circles in eta-phi (copies on the other phi edge included) and the jet of each."""

    eta: np.ndarray
    phi: np.ndarray
    radius: np.ndarray
    owner: np.ndarray  # index of the jet in its layer


def jet_circles(eta: np.ndarray, phi: np.ndarray, radius: np.ndarray, owner: np.ndarray) -> Circles:
    """Circles of the given jets, with a copy 2pi away for those crossing phi = +-pi."""
    phi = wrap_phi(phi)
    crossing = np.abs(phi) + radius > math.pi
    copies = phi[crossing] - 2.0 * math.pi * np.sign(phi[crossing])
    return Circles(
        np.concatenate([eta, eta[crossing]]),
        np.concatenate([phi, copies]),
        np.concatenate([radius, radius[crossing]]),
        np.concatenate([owner, owner[crossing]]),
    )


@dataclass(frozen=True)
class LegoContent:
    """What the lego view draws for one event: towers, jets, markers and MET azimuths."""

    towers: Towers
    jets: dict[str, np.ndarray]  # eta, phi, radius, key, index, pt
    markers: dict[str, np.ndarray]  # eta, phi, kind, key, index, pt
    met: dict[str, np.ndarray]  # phi, key, index, pt


def _shown(layer: Layer, mask: np.ndarray) -> np.ndarray:
    """Indices of the shown objects of `layer` that have an eta and a phi."""
    props = layer.props
    return np.flatnonzero(mask & np.isfinite(props["eta"]) & np.isfinite(props["phi"]))


def _columns(parts: list[dict[str, np.ndarray]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-layer column dicts joined (empty columns when there are none)."""
    if not parts:
        return {name: np.zeros(0) for name in names}
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


def lego_content(shown: Iterable[tuple[Layer, np.ndarray]], height: str = "ET") -> LegoContent:
    """The lego view of the shown layers (`(layer, shown objects mask)` pairs)."""
    deposits, jets, markers, met = [], [], [], []
    for layer, mask in shown:
        props = layer.props
        if layer.kind == "met":
            index = np.flatnonzero(mask & np.isfinite(props["phi"]))
            met.append(_tagged(layer, index, phi=wrap_phi(props["phi"][index])))
            continue
        index = _shown(layer, mask)
        if layer.kind in TOWER_KINDS:
            deposits.append((props["eta"][index], props["phi"][index], props["energy"][index]))
        elif layer.kind == "jet":
            radius = props.get("cone_r", np.full(layer.size, 0.4))[index]
            circles = jet_circles(props["eta"][index], props["phi"][index], radius, index)
            jets.append(
                _tagged(
                    layer, circles.owner, eta=circles.eta, phi=circles.phi, radius=circles.radius
                )
            )
        elif layer.kind in MARKER_KINDS:
            kinds = np.full(len(index), layer.kind)
            markers.append(
                _tagged(
                    layer,
                    index,
                    eta=props["eta"][index],
                    phi=wrap_phi(props["phi"][index]),
                    kind=kinds,
                )
            )
    if deposits:
        eta, phi, energy = (np.concatenate(values) for values in zip(*deposits, strict=True))
    else:
        eta = phi = energy = np.zeros(0)
    tagged = ("key", "index", "pt")
    return LegoContent(
        towers(eta, phi, energy, height),
        _columns(jets, ("eta", "phi", "radius", *tagged)),
        _columns(markers, ("eta", "phi", "kind", *tagged)),
        _columns(met, ("phi", *tagged)),
    )


def _tagged(layer: Layer, index: np.ndarray, **columns: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of some objects of `layer`, with their layer key, index and pT (GeV)."""
    return {
        **columns,
        "key": np.full(len(index), layer.key, dtype=object),
        "index": np.asarray(index, dtype=np.int64),
        "pt": layer.props["pt"][index] / 1000.0,
    }


def pick(content: LegoContent, eta: float, phi: float, marker_radius: float) -> ObjectKey | None:
    """The object at (eta, phi): the nearest marker within `marker_radius`, else the jet whose
    circle holds the point (the closest centre), else the MET line within `marker_radius`."""
    phi = float(wrap_phi(np.array([phi]))[0])
    markers = content.markers
    if len(markers["eta"]):
        distance = np.hypot(markers["eta"] - eta, wrap_phi(markers["phi"] - phi))
        best = int(np.argmin(distance))
        if distance[best] <= marker_radius:
            return str(markers["key"][best]), int(markers["index"][best])
    jets = content.jets
    if len(jets["eta"]):
        distance = np.hypot(jets["eta"] - eta, jets["phi"] - phi) / jets["radius"]
        best = int(np.argmin(distance))
        if distance[best] <= 1.0:
            return str(jets["key"][best]), int(jets["index"][best])
    met = content.met
    if len(met["phi"]):
        distance = np.abs(wrap_phi(met["phi"] - phi))
        best = int(np.argmin(distance))
        if distance[best] <= marker_radius:
            return str(met["key"][best]), int(met["index"][best])
    return None
