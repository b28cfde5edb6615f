"""A Phoenix event dict -> the 3D objects to draw, as plain arrays (no widgets).

Each collection becomes a `Layer`: per-object properties (pT, eta, phi, E, charge, mass in MeV
and radians) and its drawing as line segments, triangles and points, each element tagged with the
index of the object it belongs to (so a click maps back to the object, and cuts can hide it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.display import shapes
from app.display.style import KIND_OPACITY
from converters.tracks import (
    INNER_DETECTOR,
    MUON_SYSTEM,
    Envelope,
    propagate_flat,
    straight_exit,
    track_kinematics,
)

# Front of the calorimeters: LAr EM barrel inner radius, end-cap front |z| (geometry/atlas.yaml).
CALO_FRONT = Envelope(1400.0, 3640.0)
# A muon line that stays inside this cylinder is carried on to the muon system.
MUON_REACHED = Envelope(4500.0, 7000.0)
MUON_TRACK_COLLECTIONS = (
    "CombinedMuonTrackParticles",
    "ExtrapolatedMuonTrackParticles",
    "MuonSpectrometerTrackParticles",
)
# Display sizes (mm): choices for readability, not detector dimensions.
JET_LENGTH_MM = (1600.0, 4000.0)  # shortest and longest cone
JET_MM_PER_GEV = 10.0
CLUSTER_LENGTH_MM = (25.0, 1800.0)
CLUSTER_MM_PER_GEV = 20.0
CLUSTER_WIDTH_MM = (30.0, 120.0)
CLUSTER_ANGULAR_WIDTH = 0.04  # rad: the box cross-section grows with its distance
VERTEX_RADIUS_MM = 6.0
PRIMARY_VERTEX_RADIUS_MM = 10.0
MET_LENGTH_MM = (800.0, 6000.0)
MET_MM_PER_GEV = 40.0
MET_DASH_MM = (160.0, 90.0)
MET_WIDTH_MM = 80.0
MET_HEAD_MM = (550.0, 220.0)  # arrow head length and radius (at most)
MET_HEAD_SHARE = 0.3  # a short arrow keeps a head in proportion, not a blob at the centre
LEPTON_TUBE_MM = 40.0  # leptons are drawn as thin solid bars too: lines are one pixel wide
LEPTON_BARS_PER_LINE = 12  # the bars follow a coarser copy of the line (fewer triangles to send)
DEFAULT_CONE_R = 0.4
MASSES_MEV = {"electron": 0.511, "muon": 105.658, "photon": 0.0, "track": 139.570}
PROPERTY_NAMES = ("pt", "eta", "phi", "energy", "charge", "mass")
KIND_OF_TYPE = {
    "Tracks": "track",
    "Jets": "jet",
    "CaloClusters": "cluster",
    "CaloCells": "cell",
    "PlanarCaloCells": "cell",
    "IrregularCaloCells": "cell",
    "Vertices": "vertex",
    "MissingEnergy": "met",
    "Electrons": "electron",
    "Muons": "muon",
    "Photons": "photon",
    "Hits": "hit",
}
CUT_VARIABLE = {"track": "pt", "jet": "pt", "electron": "pt", "muon": "pt", "photon": "pt"}
CUT_VARIABLE |= {"cluster": "energy", "cell": "energy"}
LEPTON_PDG_IDS = (11, 13, 15)


@dataclass(frozen=True)
class Layer:
    """One collection's objects: properties per object and their drawing, tagged by object."""

    type: str
    collection: str
    kind: str
    props: dict[str, np.ndarray]
    segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 3)))
    segment_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    triangles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3)))
    triangle_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    point_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    colors: np.ndarray | None = None  # (N, 3) the file's own colours, NaN rows where none
    opacities: np.ndarray | None = None  # (N,) the file's own opacities, NaN where none
    lacking: str = "a position"  # what an object that is not drawn lacks (for the notes)

    @property
    def key(self) -> str:
        """Unique name of the layer in its event, e.g. 'Tracks/InDetTrackParticles'."""
        return f"{self.type}/{self.collection}"

    @property
    def size(self) -> int:
        """Number of objects."""
        return len(self.props["pt"])

    @property
    def opacity(self) -> float:
        """Opacity of its surfaces."""
        return KIND_OPACITY.get(self.kind, 1.0)

    @property
    def cut_variable(self) -> str | None:
        """'pt' or 'energy': what its cut slider acts on (None: no cut for this kind)."""
        return CUT_VARIABLE.get(self.kind)

    def passing(self, minimum_gev: float) -> np.ndarray:
        """Which drawn objects pass `cut_variable >= minimum_gev` (objects without a value pass).

        Objects that cannot be drawn never pass, so a collection's count reads 'drawn / total'.
        """
        drawn = np.zeros(self.size, dtype=bool)
        drawn[drawn_objects(self)] = True
        variable = self.cut_variable
        if variable is None or minimum_gev <= 0:
            return drawn
        values = self.props[variable]
        return drawn & ~(values < minimum_gev * 1000.0)

    def object_opacities(self) -> np.ndarray:
        """The opacity of each object's surfaces: its own where the file gives one."""
        default = np.full(self.size, self.opacity)
        if self.opacities is None:
            return default
        own = np.clip(self.opacities, 0.0, 1.0)
        return np.where(np.isfinite(own), own, default)

    def restricted(self, shown: np.ndarray) -> Layer:
        """The same layer drawing only the objects where `shown` is true (indices unchanged)."""
        keep_segments = shown[self.segment_owner]
        keep_triangles = shown[self.triangle_owner]
        keep_points = shown[self.point_owner]
        return replace(
            self,
            segments=self.segments[keep_segments],
            segment_owner=self.segment_owner[keep_segments],
            triangles=self.triangles[keep_triangles],
            triangle_owner=self.triangle_owner[keep_triangles],
            points=self.points[keep_points],
            point_owner=self.point_owner[keep_points],
        )


@dataclass(frozen=True)
class EventScene:
    """All layers of one event, and notes about what could not be drawn."""

    layers: list[Layer]
    notes: list[str]

    def layer(self, key: str) -> Layer:
        """The layer called `key`."""
        for candidate in self.layers:
            if candidate.key == key:
                return candidate
        raise KeyError(key)


def number(value: Any) -> float:
    """A JSON value as a float (NaN when it is not a finite number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value) if math.isfinite(value) else math.nan


def field_values(items: Sequence[Any], *names: str) -> np.ndarray:
    """The first present of `names` of every object, as floats (NaN where absent)."""
    values = np.full(len(items), np.nan)
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            for name in names:
                if name in item:
                    values[index] = number(item[name])
                    break
    return values


def own_colors(items: Sequence[Any]) -> np.ndarray | None:
    """Each object's `color` as RGB in [0, 1] (NaN rows where absent); None if none has one."""
    colors = np.full((len(items), 3), np.nan)
    for index, item in enumerate(items):
        if isinstance(item, Mapping) and "color" in item:
            colors[index] = parse_color(item["color"])
    return colors if np.isfinite(colors).any() else None


def parse_color(value: Any) -> np.ndarray:
    """A Phoenix colour ('#rrggbb', 'rrggbb', '0xrrggbb', a number or [R, G, B] in 0-255)."""
    if isinstance(value, bool):
        return np.full(3, np.nan)
    if isinstance(value, int) and 0 <= value <= 0xFFFFFF:
        return np.array([(value >> 16) & 255, (value >> 8) & 255, value & 255]) / 255.0
    if isinstance(value, list | tuple) and len(value) >= 3:
        rgb = np.array([number(part) for part in value[:3]])
        return rgb / 255.0 if np.isfinite(rgb).all() and (rgb >= 0).all() else np.full(3, np.nan)
    if isinstance(value, str):
        text = value.strip().lower().removeprefix("#").removeprefix("0x")
        if len(text) == 3:
            text = "".join(letter * 2 for letter in text)
        if len(text) == 6 and all(letter in "0123456789abcdef" for letter in text):
            return np.array([int(text[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0
    return np.full(3, np.nan)


def eta_of(items: Sequence[Any]) -> np.ndarray:
    """Pseudorapidity: from `theta` where given (Phoenix prefers it), else `eta`."""
    theta = field_values(items, "theta")
    with np.errstate(divide="ignore", invalid="ignore"):
        from_theta = -np.log(np.tan(theta / 2.0))
    usable = np.isfinite(from_theta) & (theta > 0) & (theta < math.pi)
    return np.where(usable, from_theta, field_values(items, "eta"))


def charge_from_pdg(items: Sequence[Any]) -> np.ndarray:
    """Charge of leptons from their `pdgId` (11, 13, 15 are negative), NaN otherwise."""
    pdg = field_values(items, "pdgId")
    lepton = np.isin(np.abs(pdg), LEPTON_PDG_IDS)
    return np.where(lepton, -np.sign(pdg), np.nan)


def make_props(count: int, **given: np.ndarray) -> dict[str, np.ndarray]:
    """Per-object properties with NaN for those not given."""
    props = {name: np.full(count, np.nan) for name in PROPERTY_NAMES}
    props.update({name: np.asarray(values, dtype=np.float64) for name, values in given.items()})
    return props


def momentum_fields(items: Sequence[Any]) -> dict[str, np.ndarray]:
    """pT, eta, phi and energy of objects, under the names Phoenix files use for them."""
    return {
        "pt": field_values(items, "pT", "pt"),
        "eta": eta_of(items),
        "phi": field_values(items, "phi"),
        "energy": field_values(items, "energy", "e"),
    }


def energy_from(props: dict[str, np.ndarray]) -> np.ndarray:
    """The energy where given, else from pT, eta and mass."""
    with np.errstate(over="ignore", invalid="ignore"):
        momentum = props["pt"] * np.cosh(props["eta"])
        derived = np.sqrt(momentum**2 + np.nan_to_num(props["mass"]) ** 2)
    return np.where(np.isfinite(props["energy"]), props["energy"], derived)


def pt_from(props: dict[str, np.ndarray]) -> np.ndarray:
    """pT where given, else from energy and eta (massless)."""
    with np.errstate(over="ignore", invalid="ignore"):
        derived = props["energy"] / np.cosh(props["eta"])
    return np.where(np.isfinite(props["pt"]), props["pt"], derived)


def lines_to_segments(
    lines: Sequence[np.ndarray], owners: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Segments of polylines (each (K, 3)) and the owner object of each segment."""
    if not lines:
        return np.zeros((0, 2, 3)), np.zeros(0, dtype=np.int64)
    lengths = np.array([len(line) for line in lines])
    points = np.concatenate(lines)
    line_id = np.repeat(np.arange(len(lines)), lengths)
    segments, segment_line = shapes.polyline_segments(points, line_id)
    return segments, np.asarray(owners, dtype=np.int64)[segment_line]


def parse_pos(value: Any) -> np.ndarray | None:
    """A Phoenix `pos` list as (K, 3) floats, or None when it is not a usable polyline."""
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 3:
        return None
    points = points[:, :3]
    return points if np.isfinite(points).all() else None


def parse_dparams(value: Any) -> np.ndarray | None:
    """Phoenix `dparams` [d0, z0, phi, theta, qOverP] as 5 floats, or None."""
    if not isinstance(value, list | tuple) or len(value) < 5:
        return None
    params = np.array([number(v) for v in value[:5]])
    return params if np.isfinite(params).all() and 0 < params[3] < math.pi else None


def straight_lines(
    start: np.ndarray, direction: np.ndarray, envelope: Envelope
) -> list[np.ndarray]:
    """Two-point lines (N of them) from `start` along `direction` to where they leave `envelope`."""
    if len(start) == 0:
        return []
    ends = straight_exit(start, direction, envelope)
    return list(np.stack([start, ends], axis=1))


def track_polylines(
    items: Sequence[Any], envelope: Envelope, eta: np.ndarray, phi: np.ndarray
) -> list[np.ndarray | None]:
    """Each track's points: its `pos`, else its helix from `dparams`, else a straight line.

    As in Phoenix, a `pos` of fewer than 3 points gives way to the helix when `dparams` exist.
    """
    lines: list[np.ndarray | None] = [
        parse_pos(item.get("pos")) if isinstance(item, Mapping) else None for item in items
    ]
    params = {
        index: parse_dparams(item.get("dparams"))
        for index, item in enumerate(items)
        if (lines[index] is None or len(lines[index]) < 3) and isinstance(item, Mapping)
    }
    helix = [index for index, value in params.items() if value is not None]
    if helix:
        d0, z0, phi0, theta, qop = np.stack([params[index] for index in helix]).T
        points, counts = propagate_flat(d0, z0, phi0, theta, qop, envelope)
        for index, chunk in zip(helix, np.split(points, np.cumsum(counts)[:-1]), strict=True):
            lines[index] = chunk
    straight = [i for i, line in enumerate(lines) if line is None and np.isfinite(eta[i] + phi[i])]
    if straight:
        start = np.zeros((len(straight), 3))
        ends = straight_lines(start, shapes.directions(eta[straight], phi[straight]), envelope)
        for index, line in zip(straight, ends, strict=True):
            lines[index] = line
    return lines


def track_layer(name: str, items: Sequence[Any]) -> tuple[Layer, list[np.ndarray | None]]:
    """A track collection, and every track's polyline (for the leptons that link to it)."""
    params = np.full((len(items), 5), np.nan)
    for index, item in enumerate(items):
        value = parse_dparams(item.get("dparams")) if isinstance(item, Mapping) else None
        if value is not None:
            params[index] = value
    kinematics = track_kinematics(params[:, 3], params[:, 4])
    pt = field_values(items, "pT", "pt")
    eta = field_values(items, "eta")
    phi = field_values(items, "phi")
    charge = field_values(items, "charge")
    props = make_props(
        len(items),
        pt=np.where(np.isfinite(pt), pt, kinematics["pt"]),
        eta=np.where(np.isfinite(eta), eta, kinematics["eta"]),
        phi=np.where(np.isfinite(phi), phi, params[:, 2]),
        charge=np.where(np.isfinite(charge), charge, kinematics["charge"]),
        mass=np.full(len(items), MASSES_MEV["track"]),
    )
    props["energy"] = energy_from(props)
    envelope = MUON_SYSTEM if name in MUON_TRACK_COLLECTIONS else INNER_DETECTOR
    lines = track_polylines(items, envelope, props["eta"], props["phi"])
    drawn = [(line, index) for index, line in enumerate(lines) if line is not None]
    segments, owner = lines_to_segments([line for line, _ in drawn], [i for _, i in drawn])
    layer = Layer(
        "Tracks",
        name,
        "track",
        props,
        segments=segments,
        segment_owner=owner,
        colors=own_colors(items),
        lacking="a `pos`, `dparams` or eta and phi",
    )
    return layer, lines


def solid_layer(
    type_name: str,
    name: str,
    kind: str,
    props: dict,
    owners: np.ndarray,
    solids: np.ndarray,
    **looks: Any,
) -> Layer:
    """A layer of closed solids: `solids` (objects, triangles, 3, 3) drawn for objects `owners`.

    `looks`: further Layer fields (colors, opacities, lacking).
    """
    return Layer(
        type_name,
        name,
        kind,
        props,
        triangles=solids.reshape(-1, 3, 3),
        triangle_owner=np.repeat(np.asarray(owners, dtype=np.int64), solids.shape[1]),
        **looks,
    )


def jet_layer(name: str, items: Sequence[Any]) -> Layer:
    """Jets as translucent cones along (eta, phi), longer with more energy."""
    props = make_props(len(items), **momentum_fields(items), mass=field_values(items, "m", "mass"))
    et = field_values(items, "et", "Et", "eT")
    with np.errstate(over="ignore", invalid="ignore"):
        props["energy"] = np.where(
            np.isfinite(props["energy"]), props["energy"], et * np.cosh(props["eta"])
        )
    props["pt"] = np.where(np.isfinite(props["pt"]), props["pt"], et)  # massless: ET = pT
    props["pt"] = pt_from(props)
    props["energy"] = energy_from(props)
    cone_r = field_values(items, "coneR")
    cone_r = np.where(np.isfinite(cone_r) & (cone_r > 0), cone_r, DEFAULT_CONE_R)
    props["cone_r"] = cone_r  # the jet's radius in eta-phi (the lego view draws it)
    drawable = np.isfinite(props["eta"] + props["phi"] + props["energy"])
    index = np.flatnonzero(drawable)
    origin = np.stack([field_values(items, f"origin_{axis}") for axis in "XYZ"], axis=-1)
    origin = np.nan_to_num(origin.reshape(-1, 3))[index]
    direction = shapes.directions(props["eta"][index], props["phi"][index])
    length = np.clip(
        JET_LENGTH_MM[0] + JET_MM_PER_GEV * props["energy"][index] / 1000.0, *JET_LENGTH_MM
    )
    sin_theta = np.hypot(direction[:, 0], direction[:, 1])
    half_angle = np.clip(cone_r[index] * sin_theta, 0.02, 0.6)
    radius = length * np.tan(half_angle)
    triangles = shapes.cones(origin, direction, length, radius)
    looks = {"colors": own_colors(items), "lacking": "eta (or theta), phi and energy (or et)"}
    return solid_layer("Jets", name, "jet", props, index, triangles, **looks)


def calo_boxes(eta: np.ndarray, phi: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Radial boxes (N, 12, 3, 3) from the calorimeter front, longer with more energy."""
    direction = shapes.directions(eta, phi)
    start = straight_exit(np.zeros_like(direction), direction, CALO_FRONT)
    distance = np.linalg.norm(start, axis=1)
    length = np.clip(CLUSTER_MM_PER_GEV * energy / 1000.0, *CLUSTER_LENGTH_MM)
    width = np.clip(CLUSTER_ANGULAR_WIDTH * distance, *CLUSTER_WIDTH_MM)
    return shapes.radial_boxes(start, direction, length, width)


def vertex_layer(name: str, items: Sequence[Any]) -> Layer:
    """Vertices (x, y, z or `pos`) as small spheres (the primary one larger, or their `size`)."""
    centre = np.stack([field_values(items, axis) for axis in ("x", "y", "z")], axis=-1)
    centre = centre.reshape(-1, 3)
    for index, item in enumerate(items):
        pos = item.get("pos") if isinstance(item, Mapping) else None
        if not np.isfinite(centre[index]).all() and isinstance(pos, list | tuple) and len(pos) >= 3:
            centre[index] = [number(value) for value in pos[:3]]
    primary = field_values(items, "primary") > 0
    primary |= field_values(items, "vertexType") == 1
    index = np.flatnonzero(np.isfinite(centre).all(axis=1))
    size = field_values(items, "size")
    radius = np.where(primary, PRIMARY_VERTEX_RADIUS_MM, VERTEX_RADIUS_MM)
    radius = np.where(np.isfinite(size) & (size > 0), size, radius)[index]
    balls = shapes.spheres(centre[index], radius)
    props = make_props(len(items))
    looks = {"colors": own_colors(items), "lacking": "x, y, z or a `pos`"}
    return solid_layer("Vertices", name, "vertex", props, index, balls, **looks)


def met_layer(name: str, items: Sequence[Any]) -> Layer:
    """Missing transverse energy as a dashed arrow in the transverse plane."""
    etx, ety = field_values(items, "etx"), field_values(items, "ety")
    met = np.hypot(etx, ety)
    props = make_props(len(items), pt=met, phi=np.arctan2(ety, etx))
    segments, segment_owner, heads, head_owner = [], [], [], []
    for index in np.flatnonzero(np.isfinite(met) & (met > 0)):
        unit = np.array([etx[index], ety[index], 0.0]) / met[index]
        length = float(np.clip(MET_MM_PER_GEV * met[index] / 1000.0, *MET_LENGTH_MM))
        tip = unit * length
        head_scale = min(1.0, MET_HEAD_SHARE * length / MET_HEAD_MM[0])
        head_length, head_radius = (size * head_scale for size in MET_HEAD_MM)
        head_base = tip - unit * head_length
        dashed = shapes.dashes(np.zeros(3), head_base, *MET_DASH_MM)
        segments.append(dashed)
        segment_owner.append(np.full(len(dashed), index))
        head_size = (np.array([head_length]), np.array([head_radius]))
        head = shapes.cones(tip[None], -unit[None], *head_size).reshape(-1, 3, 3)
        bars = segment_bars(dashed, MET_WIDTH_MM)
        heads.append(np.concatenate([head, bars]))
        head_owner.append(np.full(len(head) + len(bars), index))
    return Layer(
        "MissingEnergy",
        name,
        "met",
        props,
        segments=_join(segments, (0, 2, 3)),
        segment_owner=_join(segment_owner, (0,), np.int64),
        triangles=_join(heads, (0, 3, 3)),
        triangle_owner=_join(head_owner, (0,), np.int64),
        colors=own_colors(items),
        lacking="etx and ety",
    )


def coarsened(line: np.ndarray, segments: int) -> np.ndarray:
    """At most `segments` + 1 points of a polyline, keeping both ends."""
    if len(line) <= segments + 1:
        return line
    keep = np.unique(np.linspace(0, len(line) - 1, segments + 1).round().astype(np.int64))
    return line[keep]


def segment_bars(segments: np.ndarray, width: float) -> np.ndarray:
    """Thin solid boxes (12 triangles each) along segments, for lines that must stand out."""
    if len(segments) == 0:
        return np.zeros((0, 3, 3))
    span = segments[:, 1] - segments[:, 0]
    length = np.linalg.norm(span, axis=1)
    keep = length > 0
    direction = span[keep] / length[keep, None]
    widths = np.full(int(keep.sum()), width)
    return shapes.radial_boxes(segments[keep, 0], direction, length[keep], widths).reshape(-1, 3, 3)


def resolve_links(links: Any, targets: Mapping[str, Sequence[Any]]) -> list[Any]:
    """The objects named by Phoenix links 'COLLECTION:INDEX' that exist in `targets`."""
    found = []
    if not isinstance(links, list):
        return found
    for link in links:
        if not isinstance(link, str) or ":" not in link:
            continue
        collection, _, position = link.rpartition(":")
        items = targets.get(collection)
        if items is not None and position.isdigit() and int(position) < len(items):
            target = items[int(position)]
            if target is not None:
                found.append(target)
    return found


def four_momentum_props(items: Sequence[Any], kind: str) -> dict[str, np.ndarray]:
    """pT, eta, phi, E, charge and mass of leptons or photons."""
    props = make_props(
        len(items),
        **momentum_fields(items),
        charge=field_values(items, "charge"),
        mass=np.full(len(items), MASSES_MEV[kind]),
    )
    props["charge"] = np.where(
        np.isfinite(props["charge"]), props["charge"], charge_from_pdg(items)
    )
    if kind == "photon":
        props["charge"] = np.zeros(len(items))
    props["pt"] = pt_from(props)
    props["energy"] = energy_from(props)
    return props


def linked_clusters(
    items: Sequence[Any], props: dict[str, np.ndarray], clusters: Mapping[str, Sequence[Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Triangles and owners of each object's calorimeter deposit (linked cluster or its own)."""
    eta, phi, energy = props["eta"].copy(), props["phi"].copy(), props["energy"].copy()
    for index, item in enumerate(items):
        links = item.get("LinkedClusters") if isinstance(item, Mapping) else None
        linked = resolve_links(links, clusters)
        if linked and isinstance(linked[0], Mapping):
            values = [number(linked[0].get(key)) for key in ("eta", "phi", "energy")]
            if np.isfinite(values).all():
                eta[index], phi[index], energy[index] = values
    index = np.flatnonzero(np.isfinite(eta + phi + energy))
    boxes = calo_boxes(eta[index], phi[index], energy[index])
    return boxes.reshape(-1, 3, 3), np.repeat(index, boxes.shape[1])


def linked_lines(
    items: Sequence[Any], track_lines: Mapping[str, Sequence[np.ndarray | None]]
) -> list[list[np.ndarray]]:
    """Per object, the polylines of the tracks it links to."""
    result = []
    for item in items:
        links = item.get("LinkedTracks") if isinstance(item, Mapping) else None
        lines = resolve_links(links, track_lines)
        result.append([line for line in lines if isinstance(line, np.ndarray)])
    return result


def outermost(lines: list[np.ndarray], reach: Envelope) -> tuple[np.ndarray, np.ndarray, float]:
    """The point of `lines` deepest into the detector, the direction there, and its depth."""
    best_point, best_direction, best_depth = np.zeros(3), np.zeros(3), -1.0
    for line in lines:
        depth = np.maximum(np.hypot(line[:, 0], line[:, 1]) / reach.r, np.abs(line[:, 2]) / reach.z)
        last = int(np.argmax(depth))
        if depth[last] > best_depth:
            previous = line[last - 1] if last > 0 else np.zeros(3)
            step = line[last] - previous if last > 0 else line[1] - line[0]
            norm = np.linalg.norm(step)
            best_point = line[last]
            best_direction = step / norm if norm > 0 else np.zeros(3)
            best_depth = float(depth[last])
    return best_point, best_direction, best_depth


def lepton_lines(
    kind: str,
    props: dict[str, np.ndarray],
    linked: list[list[np.ndarray]],
) -> tuple[list[np.ndarray], list[int]]:
    """Lines of electrons or muons: their linked tracks; muons carried on to the muon system."""
    lines: list[np.ndarray] = []
    owners: list[int] = []
    starts, directions, extend_owner = [], [], []
    envelope = MUON_SYSTEM if kind == "muon" else INNER_DETECTOR
    fallback = shapes.directions(props["eta"], props["phi"])
    for index, own in enumerate(linked):
        lines.extend(own)
        owners.extend([index] * len(own))
        point, direction, depth = outermost(own, MUON_REACHED)
        if not own:
            point, direction, depth = np.zeros(3), fallback[index], 0.0
        needs_more = not own or (kind == "muon" and depth < 1.0)
        if needs_more and np.isfinite(direction).all() and np.linalg.norm(direction) > 0:
            starts.append(point)
            directions.append(direction)
            extend_owner.append(index)
    if starts:
        extra = straight_lines(np.array(starts), np.array(directions), envelope)
        lines.extend(extra)
        owners.extend(extend_owner)
    return lines, owners


def compound_layer(
    kind_type: str,
    name: str,
    items: Sequence[Any],
    track_lines: Mapping[str, Sequence[np.ndarray | None]],
    clusters: Mapping[str, Sequence[Any]],
) -> Layer:
    """Electrons (track + cluster), muons (track to the muon system) or photons (cluster)."""
    kind = KIND_OF_TYPE[kind_type]
    props = four_momentum_props(items, kind)
    segments, segment_owner = np.zeros((0, 2, 3)), np.zeros(0, dtype=np.int64)
    triangles, triangle_owner = np.zeros((0, 3, 3)), np.zeros(0, dtype=np.int64)
    parts, part_owners = [], []
    if kind in ("electron", "muon"):
        lines, owners = lepton_lines(kind, props, linked_lines(items, track_lines))
        segments, segment_owner = lines_to_segments(lines, owners)
        coarse = [coarsened(line, LEPTON_BARS_PER_LINE) for line in lines]
        bar_segments, bar_owner = lines_to_segments(coarse, owners)
        parts.append(segment_bars(bar_segments, LEPTON_TUBE_MM))
        part_owners.append(np.repeat(bar_owner[_nonzero(bar_segments)], 12))
    if kind in ("electron", "photon"):
        boxes, box_owner = linked_clusters(items, props, clusters)
        parts.append(boxes)
        part_owners.append(box_owner)
    if parts:
        triangles = np.concatenate(parts)
        triangle_owner = np.concatenate(part_owners).astype(np.int64)
    return Layer(
        kind_type,
        name,
        kind,
        props,
        segments=segments,
        segment_owner=segment_owner,
        triangles=triangles,
        triangle_owner=triangle_owner,
        colors=own_colors(items),
        lacking="eta and phi, or links to tracks and clusters",
    )


def build_scene(event: Mapping[str, Any]) -> EventScene:
    """Every drawable collection of a Phoenix event, as layers; notes for what was left out."""
    from app.display.builders import scene_of  # the builders use this module's shapes

    return scene_of(event)


def drawn_objects(layer: Layer) -> np.ndarray:
    """Indices of the objects of a layer that have any drawing."""
    owners = np.concatenate([layer.segment_owner, layer.triangle_owner, layer.point_owner])
    return np.unique(owners)


def _nonzero(segments: np.ndarray) -> np.ndarray:
    """Which segments have a length (the ones `segment_bars` draws)."""
    return np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1) > 0


def _join(parts: list[np.ndarray], empty_shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """Concatenate arrays, or an empty array of the given shape."""
    return np.concatenate(parts) if parts else np.zeros(empty_shape, dtype=dtype)
