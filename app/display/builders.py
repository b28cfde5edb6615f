"""One scene builder per Phoenix object type, and the table that dispatches to them.

Each builder turns one collection into a `Layer`, following the HSF Phoenix event data format
(guides/developers/event_data_format.md): every type and every form it describes is drawn, and
what cannot be drawn is counted ('drawn / total') and named in the scene's notes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.display import shapes
from app.display.scene import (
    CALO_FRONT,
    CLUSTER_ANGULAR_WIDTH,
    CLUSTER_LENGTH_MM,
    CLUSTER_MM_PER_GEV,
    CLUSTER_WIDTH_MM,
    KIND_OF_TYPE,
    EventScene,
    Layer,
    compound_layer,
    drawn_objects,
    eta_of,
    field_values,
    jet_layer,
    make_props,
    met_layer,
    number,
    own_colors,
    pt_from,
    solid_layer,
    track_layer,
    vertex_layer,
)
from converters.tracks import straight_exit

# Phoenix's own sizes where the file gives the detector (cells, planes): follow its drawing.
CELL_SIDE_MM = 30.0
CELL_LENGTH_MM = 30.0
PLANAR_MM_PER_MEV = 0.22
HIT_TYPES = ("Point", "CircularPoint", "Line", "Box")
HIT_NUMBERS = {"Point": 3, "CircularPoint": 3, "Line": 6, "Box": 6}
Z_AXIS = np.array([0.0, 0.0, 1.0])
COLLECTION_FORM = {"PlanarCaloCells": "an object with a `plane` and a list of `cells`"}


@dataclass
class SceneContext:
    """What builders of later types need from earlier ones (tracks and clusters to link to)."""

    event: Mapping[str, Any]
    track_lines: dict[str, list[np.ndarray | None]] = field(default_factory=dict)

    def clusters(self) -> dict[str, list]:
        """The CaloClusters collections of the event (for the links of electrons and photons)."""
        value = self.event.get("CaloClusters")
        if not isinstance(value, Mapping):
            return {}
        return {str(name): items for name, items in value.items() if isinstance(items, list)}


Builder = Callable[[str, Any, SceneContext], Layer | None]


def build_tracks(name: str, items: Any, context: SceneContext) -> Layer | None:
    """Tracks: `pos` polylines, helices from `dparams`, or straight lines from eta and phi."""
    if not isinstance(items, list):
        return None
    layer, lines = track_layer(name, items)
    context.track_lines[name] = lines
    return layer


def build_jets(name: str, items: Any, context: SceneContext) -> Layer | None:
    """Jets: cones along eta (or theta) and phi, from their origin."""
    return jet_layer(name, items) if isinstance(items, list) else None


def build_clusters(name: str, items: Any, context: SceneContext) -> Layer | None:
    """CaloClusters: radial boxes, length from energy unless `length` is given."""
    return calo_layer("CaloClusters", name, items) if isinstance(items, list) else None


def build_cells(name: str, items: Any, context: SceneContext) -> Layer | None:
    """CaloCells: small radial boxes of a fixed size (energy only for cuts)."""
    return calo_layer("CaloCells", name, items) if isinstance(items, list) else None


def build_vertices(name: str, items: Any, context: SceneContext) -> Layer | None:
    """Vertices: spheres at x, y, z or `pos`."""
    return vertex_layer(name, items) if isinstance(items, list) else None


def build_met(name: str, items: Any, context: SceneContext) -> Layer | None:
    """MissingEnergy: dashed arrows in the transverse plane."""
    return met_layer(name, items) if isinstance(items, list) else None


def build_hits(name: str, items: Any, context: SceneContext) -> Layer | None:
    """Hits: points, line segments or boxes (the first hit's `type` sets the collection's)."""
    return hit_layer(name, items) if isinstance(items, list) else None


def compound_builder(type_name: str) -> Builder:
    """The builder of Electrons, Muons or Photons (linked tracks and clusters)."""

    def build(name: str, items: Any, context: SceneContext) -> Layer | None:
        if not isinstance(items, list):
            return None
        return compound_layer(type_name, name, items, context.track_lines, context.clusters())

    build.__doc__ = f"{type_name}: their linked tracks and clusters, or their own direction."
    return build


def build_planar_cells(name: str, value: Any, context: SceneContext) -> Layer | None:
    """PlanarCaloCells: {plane: [dx, dy, dz, distance], cells: [...]}, boxes on the plane."""
    if not isinstance(value, Mapping) or not isinstance(value.get("cells"), list):
        return None
    return planar_layer(name, value.get("plane"), value["cells"])


def build_irregular_cells(name: str, items: Any, context: SceneContext) -> Layer | None:
    """IrregularCaloCells: the convex hull of each cell's 8 corners (`vtx`)."""
    return irregular_layer(name, items) if isinstance(items, list) else None


# In drawing order: tracks first, since electrons and muons link to them.
BUILDERS: dict[str, Builder] = {
    "Tracks": build_tracks,
    "Jets": build_jets,
    "CaloClusters": build_clusters,
    "CaloCells": build_cells,
    "PlanarCaloCells": build_planar_cells,
    "IrregularCaloCells": build_irregular_cells,
    "Vertices": build_vertices,
    "MissingEnergy": build_met,
    "Electrons": compound_builder("Electrons"),
    "Muons": compound_builder("Muons"),
    "Photons": compound_builder("Photons"),
    "Hits": build_hits,
}


def scene_of(event: Mapping[str, Any]) -> EventScene:
    """Every collection of a Phoenix event as a layer, through the builder of its type."""
    context = SceneContext(event)
    layers: list[Layer] = []
    notes: list[str] = []
    for type_name, build in BUILDERS.items():
        value = event.get(type_name)
        if not isinstance(value, Mapping):
            continue
        for name, items in value.items():
            layer = build(str(name), items, context)
            if layer is None:
                form = COLLECTION_FORM.get(type_name, "a list of objects")
                notes.append(f"{name}: not drawn, a {type_name} collection is {form}")
            else:
                layers.append(layer)
    for type_name, value in event.items():
        if isinstance(value, dict) and type_name not in BUILDERS:
            count = sum(len(v) for v in value.values() if isinstance(v, list))
            if count:
                notes.append(f"not drawn: {count} objects of type {type_name}")
    for layer in layers:
        undrawn = layer.size - len(drawn_objects(layer))
        if undrawn:
            notes.append(
                f"{layer.collection}: {undrawn} of {layer.size} objects not drawn "
                f"(they lack {layer.lacking})"
            )
    return EventScene(layers=layers, notes=notes)


# ---------------------------------------------------------------- calorimeters


def calo_layer(type_name: str, name: str, items: Sequence[Any]) -> Layer:
    """Clusters or cells as radial boxes: at their `radius`/`z` if given, else the calo front.

    A box placed by the file is centred on its position, as Phoenix draws it; one placed by
    EventLab starts at the front of the calorimeter and grows outwards with its energy.
    """
    cells = type_name == "CaloCells"
    eta = eta_of(items)
    props = make_props(
        len(items),
        eta=eta,
        phi=field_values(items, "phi"),
        energy=field_values(items, "energy", "e"),
    )
    props["pt"] = pt_from(props)
    own_length = positive(field_values(items, "length"))
    side = positive(field_values(items, "side"))
    if cells:
        length = np.where(np.isfinite(own_length), own_length, CELL_LENGTH_MM)
    else:
        by_energy = np.clip(CLUSTER_MM_PER_GEV * props["energy"] / 1000.0, *CLUSTER_LENGTH_MM)
        length = np.where(np.isfinite(own_length), own_length, by_energy)
    index = np.flatnonzero(np.isfinite(props["eta"] + props["phi"] + length))
    direction = shapes.directions(props["eta"][index], props["phi"][index])
    radius = positive(field_values(items, "radius"))[index]
    z = field_values(items, "z")[index]
    position, placed = calo_positions(direction, props["phi"][index], radius, z)
    axis = position / np.maximum(np.linalg.norm(position, axis=1, keepdims=True), 1e-9)
    length = length[index]
    start = np.where(placed[:, None], position - axis * length[:, None] / 2.0, position)
    if cells:
        default_width = np.full(len(index), CELL_SIDE_MM)
    else:
        distance = np.linalg.norm(start, axis=1)
        default_width = np.clip(CLUSTER_ANGULAR_WIDTH * distance, *CLUSTER_WIDTH_MM)
    width = np.where(np.isfinite(side[index]), side[index], default_width)
    boxes = shapes.radial_boxes(start, axis, length, width)
    looks = {
        "colors": own_colors(items),
        "opacities": field_values(items, "opacity"),
        "lacking": "eta (or theta) and phi" + ("" if cells else ", and an energy or a length"),
    }
    kind = KIND_OF_TYPE[type_name]
    return solid_layer(type_name, name, kind, props, index, boxes, **looks)


def calo_positions(
    direction: np.ndarray, phi: np.ndarray, radius: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 3) of calorimeter boxes, and which ones the file placed itself.

    `radius` (cylindrical) and `z` where given; one of them with the direction gives the other;
    neither: where the direction meets the front of the calorimeter.
    """
    front = straight_exit(np.zeros_like(direction), direction, CALO_FRONT)
    sin_theta = np.hypot(direction[:, 0], direction[:, 1])
    cos_theta = direction[:, 2]
    has_r, has_z = np.isfinite(radius), np.isfinite(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(has_r, radius, np.abs(z * sin_theta / cos_theta))
        height = np.where(has_z, z, radius * cos_theta / sin_theta)
    placed = (has_r | has_z) & np.isfinite(rho) & np.isfinite(height)
    given = np.stack([rho * np.cos(phi), rho * np.sin(phi), height], axis=1)
    return np.where(placed[:, None], given, front), placed


def planar_layer(name: str, plane: Any, cells: Sequence[Any]) -> Layer:
    """Cells of a planar calorimeter: boxes of `cellSize` on `plane`, as long as Phoenix's."""
    props = make_props(len(cells), energy=field_values(cells, "energy", "e"))
    looks = {
        "colors": own_colors(cells),
        "kind": "cell",
        "lacking": "a `pos`, `cellSize` and energy",
    }
    normal = np.array([number(v) for v in plane[:4]]) if isinstance(plane, list) else np.zeros(0)
    if len(normal) < 4 or not np.isfinite(normal).all() or np.linalg.norm(normal[:3]) == 0:
        looks["lacking"] = "a plane: their collection's `plane` is not [dx, dy, dz, distance]"
        return Layer("PlanarCaloCells", name, props=props, **looks)
    unit = normal[:3] / np.linalg.norm(normal[:3])
    local = np.full((len(cells), 2), np.nan)
    for index, cell in enumerate(cells):
        pos = cell.get("pos") if isinstance(cell, Mapping) else None
        if isinstance(pos, list | tuple) and len(pos) >= 2:
            local[index] = [number(pos[0]), number(pos[1])]
    size = positive(field_values(cells, "cellSize"))
    length = PLANAR_MM_PER_MEV * props["energy"]
    index = np.flatnonzero(np.isfinite(local).all(axis=1) & np.isfinite(size + length))
    rotation = shapes.rotation_between(Z_AXIS, unit)
    offset = np.column_stack([local[index], np.full(len(index), normal[3])]) @ rotation.T
    scale = np.stack([size[index], size[index], length[index]], axis=1)
    turns = np.broadcast_to(rotation, (len(index), 3, 3))
    boxes = shapes.place(shapes.unit_box(), scale, turns, offset)
    centre = offset + unit * (length[index, None] / 2.0)
    set_direction(props, index, centre)
    return solid_layer("PlanarCaloCells", name, looks.pop("kind"), props, index, boxes, **looks)


def irregular_layer(name: str, items: Sequence[Any]) -> Layer:
    """Irregular cells: the convex hull of each one's 8 corners (`vtx`, 24 numbers)."""
    corners = np.full((len(items), 8, 3), np.nan)
    for index, item in enumerate(items):
        vtx = item.get("vtx") if isinstance(item, Mapping) else None
        if isinstance(vtx, list | tuple) and len(vtx) >= 24:
            corners[index] = np.array([number(v) for v in vtx[:24]]).reshape(8, 3)
    props = make_props(len(items), energy=field_values(items, "energy", "e"))
    props["layer"] = field_values(items, "layer")
    index = np.flatnonzero(np.isfinite(corners).all(axis=(1, 2)))
    triangles, owner = shapes.hull_triangles(corners[index])
    set_direction(props, index, corners[index].mean(axis=1))
    return Layer(
        "IrregularCaloCells",
        name,
        "cell",
        props,
        triangles=triangles,
        triangle_owner=index[owner],
        colors=own_colors(items),
        opacities=field_values(items, "opacity"),
        lacking="a `vtx` of 8 corners (24 numbers)",
    )


def set_direction(props: dict[str, np.ndarray], index: np.ndarray, centre: np.ndarray) -> None:
    """eta and phi of objects from their centres (for the info panel), and pT from energy."""
    if len(index) == 0:
        return
    rho = np.hypot(centre[:, 0], centre[:, 1])
    props["eta"][index] = np.arcsinh(centre[:, 2] / np.maximum(rho, 1e-9))
    props["phi"][index] = np.arctan2(centre[:, 1], centre[:, 0])
    props["pt"] = pt_from(props)


# ---------------------------------------------------------------- hits


def hit_layer(name: str, items: Sequence[Any]) -> Layer:
    """Hits as points ([x, y, z] lists, `pos`, or x, y, z), line segments or boxes."""
    first = items[0] if items else None
    hit_type = first.get("type", "Point") if isinstance(first, Mapping) else "Point"
    colors = own_colors(items)
    if colors is not None and np.isfinite(colors[0]).all():
        # the format applies the first hit's colour to the collection
        colors = np.where(np.isfinite(colors), colors, colors[0])
    props = make_props(len(items))
    if hit_type not in HIT_TYPES:
        lacking = (
            f"a type EventLab knows ({str(hit_type)[:40]!r} is not one of {', '.join(HIT_TYPES)})"
        )
        return Layer("Hits", name, "hit", props, colors=colors, lacking=lacking)
    values = hit_numbers(items, HIT_NUMBERS[hit_type])
    index = np.flatnonzero(np.isfinite(values).all(axis=1))
    values = values[index]
    lacking = f"a `pos` of {HIT_NUMBERS[hit_type]} numbers ({hit_type} hits)"
    looks = {"colors": colors, "lacking": lacking}
    if hit_type == "Line":
        segments = values.reshape(-1, 2, 3)
        set_direction(props, index, segments.mean(axis=1))
        return Layer("Hits", name, "hit", props, segments=segments, segment_owner=index, **looks)
    if hit_type == "Box":
        centre, size = values[:, :3], np.abs(values[:, 3:])
        bottom = centre - np.column_stack([np.zeros((len(index), 2)), size[:, 2] / 2.0])
        turns = np.broadcast_to(np.eye(3), (len(index), 3, 3))
        boxes = shapes.place(shapes.unit_box(), size, turns, bottom)
        set_direction(props, index, centre)
        return solid_layer("Hits", name, "hit", props, index, boxes, **looks)
    set_direction(props, index, values)
    return Layer("Hits", name, "hit", props, points=values, point_owner=index, **looks)


def hit_numbers(items: Sequence[Any], count: int) -> np.ndarray:
    """(N, count) numbers of each hit: a bare list, its `pos`, or its x, y, z (NaN if short)."""
    values = np.full((len(items), count), np.nan)
    for index, item in enumerate(items):
        value = item.get("pos") if isinstance(item, Mapping) else item
        if isinstance(item, Mapping) and value is None and count == 3:
            value = [item.get("x"), item.get("y"), item.get("z")]
        if isinstance(value, list | tuple) and len(value) >= count:
            values[index] = [number(v) for v in value[:count]]
    return values


def positive(values: np.ndarray) -> np.ndarray:
    """`values` where positive, NaN elsewhere."""
    return np.where(values > 0, values, math.nan)
