"""Layers and detector meshes -> pythreejs objects, with maps from a click back to an object.

Each collection is drawn with a handful of objects (batched geometry, vertex colours), not one
object per track. Picking uses invisible point clouds sampled along lines and jet axes (a line is
too thin to hit with a ray in three.js r97), plus the solid calorimeter boxes and vertex spheres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from app.display import shapes
from app.display.scene import Layer
from app.display.style import (
    EVENT_RENDER_ORDER,
    HIGHLIGHT,
    OUTLINE_ANGLE_DEG,
    OUTLINE_MIN_RADIUS_MM,
    detector_look,
    lighter,
    rgb,
)
from app.sessions import close_widgets, reachable_widgets
from converters.tracks import MUON_SYSTEM

PICK_STEP_MM = 50.0  # spacing of pick points along lines (picking radius is larger)
HIT_POINT_SIZE = 4.0
PICKABLE_MESH_KINDS = ("cluster", "cell", "electron", "muon", "photon", "vertex", "met", "hit")


@dataclass
class PickMap:
    """What a pick on one three.js object means: per element, its layer and object index."""

    layer_keys: list[str]
    element_layer: np.ndarray
    element_owner: np.ndarray
    by_face: bool  # mesh picks report a triangle (faceIndex), point picks a point (index)

    def resolve(self, element: int | None) -> tuple[str, int] | None:
        """(layer key, object index) of a picked element, None when out of range."""
        if element is None or not 0 <= element < len(self.element_owner):
            return None
        return self.layer_keys[self.element_layer[element]], int(self.element_owner[element])


@dataclass
class EventObjects:
    """The pythreejs objects of the shown event and how to map their picks."""

    visual: list[Any] = field(default_factory=list)
    pickable: list[Any] = field(default_factory=list)
    picks: dict[str, PickMap] = field(default_factory=dict)  # model_id -> map


@dataclass
class DrawnLayer:
    """A layer to draw: only its shown objects, their colours, and the highlighted ones."""

    layer: Layer
    colors: np.ndarray
    selected: frozenset[int] = frozenset()


class Materials:
    """The materials of one session, shared between its objects (fewer widgets per switch)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def lines(self) -> Any:
        """Vertex-coloured lines."""
        import pythreejs as three

        # transparent (though opaque) so they draw after the translucent detector, untinted
        return self._get(
            ("lines",),
            lambda: three.LineBasicMaterial(vertexColors="VertexColors", transparent=True),
        )

    def surfaces(self, opacity: float) -> Any:
        """Vertex-coloured lit surfaces of a given opacity."""
        opacity = round(float(opacity), 2)
        return self._get(
            ("surfaces", opacity),
            lambda: flat_shaded(
                vertexColors="VertexColors",
                transparent=True,  # drawn after the detector (see `lines`)
                opacity=opacity,
                depthWrite=opacity >= 1.0,
                side="DoubleSide",
            ),
        )

    def points(self, size: float) -> Any:
        """Vertex-coloured points of a screen size in pixels."""
        import pythreejs as three

        return self._get(
            ("points", size),
            lambda: three.PointsMaterial(
                vertexColors="VertexColors", size=size, sizeAttenuation=False
            ),
        )

    def pick_proxy(self) -> Any:
        """A material that draws nothing: its objects only catch picking rays."""
        import pythreejs as three

        return self._get(("pick",), lambda: three.PointsMaterial(visible=False, size=1.0))

    def all(self) -> list[Any]:
        """Every material made so far."""
        return list(self._cache.values())

    def _get(self, key: tuple, make) -> Any:
        """The cached material for `key`, made once."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def flat_shaded(**options: Any) -> Any:
    """A lit surface material whose facets the browser shades from their own orientation.

    Flat shading needs no normals, which would otherwise be a third of every mesh sent.
    """
    import pythreejs as three

    return three.MeshPhongMaterial(flatShading=True, shininess=0, specular="#000000", **options)


def buffer_geometry(**attributes: np.ndarray) -> Any:
    """A new BufferGeometry: float32 attributes, and colours as bytes (a quarter of the size)."""
    import pythreejs as three

    return three.BufferGeometry(
        attributes={name: buffer_attribute(name, values) for name, values in attributes.items()}
    )


def buffer_attribute(name: str, values: np.ndarray) -> Any:
    """One attribute: RGB colours in [0, 1] as normalised unsigned bytes, the rest as float32."""
    import pythreejs as three

    return three.BufferAttribute(array=attribute_array(name, values), normalized=name == "color")


def attribute_array(name: str, values: np.ndarray) -> np.ndarray:
    """The array sent for an attribute: colours as bytes (a quarter of the size), else float32."""
    if name == "color":
        return np.ascontiguousarray(np.round(np.clip(values, 0.0, 1.0) * 255.0), dtype=np.uint8)
    return np.ascontiguousarray(values, dtype=np.float32)


def element_colors(
    owner: np.ndarray, colors: np.ndarray, selected: frozenset[int], per_element: int
) -> np.ndarray:
    """Colours per vertex: each element takes its object's colour (white when selected)."""
    values = colors[owner]
    if selected:
        values = np.where(np.isin(owner, list(selected))[:, None], rgb(HIGHLIGHT), values)
    return np.repeat(values, per_element, axis=0)


class _Batch:
    """Arrays of one kind of drawing gathered over layers, with per-element layer and owner."""

    def __init__(self) -> None:
        self.arrays: dict[str, list[np.ndarray]] = {}
        self.layer: list[np.ndarray] = []
        self.owner: list[np.ndarray] = []

    def add(self, layer_index: int, owner: np.ndarray, **arrays: np.ndarray) -> None:
        """Append elements of one layer."""
        if len(owner) == 0:
            return
        for name, values in arrays.items():
            self.arrays.setdefault(name, []).append(values)
        self.layer.append(np.full(len(owner), layer_index, dtype=np.int64))
        self.owner.append(np.asarray(owner, dtype=np.int64))

    def __bool__(self) -> bool:
        return bool(self.owner)

    def joined(self) -> dict[str, np.ndarray]:
        """Each array concatenated over the layers."""
        return {name: np.concatenate(parts) for name, parts in self.arrays.items()}

    def pick_map(self, keys: list[str], by_face: bool) -> PickMap:
        """The pick map of the batched elements."""
        return PickMap(keys, np.concatenate(self.layer), np.concatenate(self.owner), by_face)


class EventDrawing:
    """The event objects of one session's 3D view, kept from one event to the next.

    A handful of batched objects draw every shown object of an event: one line set, one mesh per
    opacity (pickable surfaces apart from jets), one point cloud of hits and one invisible point
    cloud for picking. They are made once and then only sent new arrays: making and closing
    pythreejs widgets on every event costs the server more than the arrays themselves.

    three.js keeps the bounding sphere it first computed for a geometry, and a ray that misses
    it never reaches the objects inside. Pickable reused geometries therefore always end with
    two empty elements at opposite corners of the world, so their sphere holds any event.
    """

    def __init__(self) -> None:
        self.materials = Materials()
        self._objects: dict[tuple, Any] = {}

    def all(self) -> list[Any]:
        """Every widget root this drawing owns (objects, shown or not, and materials)."""
        return [*self._objects.values(), *self.materials.all()]

    def update(self, drawn: list[DrawnLayer]) -> EventObjects:
        """Draw `drawn` with the kept objects (made on first need) and map their picks."""
        import pythreejs as three

        batches = batched(drawn)
        keys = [item.layer.key for item in drawn]
        result = EventObjects()
        if batches.lines:
            lines = self._reused(
                ("lines",), batches.lines.joined(), three.LineSegments, self.materials.lines()
            )
            result.visual.append(lines)
        # opaque surfaces first, then translucent ones from the most to the least opaque
        for (opacity, pickable), batch in sorted(batches.surfaces.items(), key=lambda e: -e[0][0]):
            material = self.materials.surfaces(opacity)
            key = ("surfaces", opacity, pickable)
            anchored = 3 if pickable else None
            mesh = self._reused(key, batch.joined(), three.Mesh, material, anchored)
            if pickable:
                result.pickable.append(mesh)
                result.picks[mesh.model_id] = batch.pick_map(keys, by_face=True)
            else:
                result.visual.append(mesh)
        if batches.hits:
            # visible points: corner anchors would show, so this object is made anew each time
            material = self.materials.points(HIT_POINT_SIZE)
            cloud = self._replaced(("hits",), batches.hits.joined(), three.Points, material)
            result.pickable.append(cloud)
            result.picks[cloud.model_id] = batches.hits.pick_map(keys, by_face=False)
        if batches.picks:
            material = self.materials.pick_proxy()
            proxy = self._reused(("picks",), batches.picks.joined(), three.Points, material, 1)
            result.pickable.append(proxy)
            result.picks[proxy.model_id] = batches.picks.pick_map(keys, by_face=False)
        return result

    def _reused(
        self,
        key: tuple,
        arrays: dict[str, np.ndarray],
        kind: type,
        material: Any,
        anchored: int | None = None,
    ) -> Any:
        """The kept object `key` showing `arrays` (anchored: elements of that many vertices)."""
        if anchored is not None:
            arrays = with_world_anchors(arrays, anchored)
        drawn = self._objects.get(key)
        if drawn is None:
            return self._made(key, arrays, kind, material)
        attributes = drawn.geometry.attributes
        for name, values in arrays.items():
            attributes[name].array = attribute_array(name, values)
        return drawn

    def _replaced(
        self, key: tuple, arrays: dict[str, np.ndarray], kind: type, material: Any
    ) -> Any:
        """A new object `key` showing `arrays`; the one it replaces is closed."""
        previous = self._objects.pop(key, None)
        if previous is not None:
            close_widgets(reachable_widgets([previous], keep=self.materials.all()))
        return self._made(key, arrays, kind, material)

    def _made(self, key: tuple, arrays: dict[str, np.ndarray], kind: type, material: Any) -> Any:
        """A new object of `kind` for `key` (drawn after the detector, never culled)."""
        made = kind(
            buffer_geometry(**arrays),
            material,
            renderOrder=EVENT_RENDER_ORDER,
            frustumCulled=False,  # its bounding sphere is that of an earlier event
        )
        self._objects[key] = made
        return made


@dataclass
class Batches:
    """The shown objects of an event gathered by how they are drawn."""

    lines: _Batch = field(default_factory=_Batch)
    picks: _Batch = field(default_factory=_Batch)
    hits: _Batch = field(default_factory=_Batch)
    surfaces: dict[tuple[float, bool], _Batch] = field(default_factory=dict)


def batched(drawn: list[DrawnLayer]) -> Batches:
    """Every drawn layer's segments, triangles and points, batched by how they are drawn."""
    batches = Batches()
    for index, item in enumerate(drawn):
        layer, colors, selected = item.layer, item.colors, item.selected
        if len(layer.segments):
            batches.lines.add(
                index,
                layer.segment_owner,
                position=layer.segments.reshape(-1, 3),
                color=element_colors(layer.segment_owner, colors, selected, 2),
            )
            points, owner = shapes.sample_segments(
                layer.segments, layer.segment_owner, PICK_STEP_MM
            )
            batches.picks.add(index, owner, position=points)
        if len(layer.triangles):
            pickable = layer.kind in PICKABLE_MESH_KINDS
            opacity = layer.object_opacities()[layer.triangle_owner]
            for value in np.unique(opacity):  # one value unless the file gives its own
                chosen = opacity == value
                owner = layer.triangle_owner[chosen]
                batch = batches.surfaces.setdefault((float(value), pickable), _Batch())
                batch.add(
                    index,
                    owner,
                    position=layer.triangles[chosen].reshape(-1, 3),
                    color=element_colors(owner, colors, selected, 3),
                )
            if layer.kind == "jet":
                points, owner = jet_axes(layer)
                batches.picks.add(index, owner, position=points)
        if len(layer.points):
            batches.hits.add(
                index,
                layer.point_owner,
                position=layer.points,
                color=element_colors(layer.point_owner, colors, selected, 1),
            )
    return batches


def with_world_anchors(arrays: dict[str, np.ndarray], per_element: int) -> dict[str, np.ndarray]:
    """`arrays` and two empty elements (all vertices in one point) at opposite world corners.

    An element of one repeated vertex draws nothing and no ray hits it; pick maps end before it.
    """
    corner = np.full(3, world_extent())
    anchors = {"position": np.repeat(np.stack([-corner, corner]), per_element, axis=0)}
    if "color" in arrays:
        anchors["color"] = np.zeros((2 * per_element, 3))
    return {name: np.concatenate([values, anchors[name]]) for name, values in arrays.items()}


@lru_cache(maxsize=1)
def world_extent() -> float:
    """Half the side (mm) of a cube holding the detector and everything drawn in it."""
    reach = max(float(np.abs(part.positions).max()) for part in detector_parts())
    return 2.0 * max(reach, MUON_SYSTEM.z)


def jet_axes(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """Points along each drawn jet's axis (apex to base centre), with their owners."""
    per_jet = shapes.unit_cone().shape[0]
    triangles = layer.triangles.reshape(-1, per_jet, 3, 3)
    owners = layer.triangle_owner[::per_jet]
    apex = triangles[:, 0, 0]
    base_centre = triangles[:, per_jet // 2, 0]  # base triangles start with the base centre
    axes = np.stack([apex, base_centre], axis=1)
    return shapes.sample_segments(axes, owners, PICK_STEP_MM)


@dataclass(frozen=True)
class DetectorPart:
    """One detector mesh (the parts drawn alike, merged) as arrays shared by every session."""

    name: str
    system: str
    group: str
    color: str
    opacity: float
    visible: bool
    positions: np.ndarray
    index: np.ndarray
    outline: np.ndarray  # float32 (2 S, 3): ends of its outline segments


@lru_cache(maxsize=1)
def detector_parts() -> tuple[DetectorPart, ...]:
    """The detector geometry, built once per process (30 students may connect at once).

    Parts drawn alike (same group, colour and opacity) are merged into one mesh: every mesh is
    a handful of widgets in each student's page, and a group is only ever shown as a whole.
    """
    from geometry.build import build_detector

    alike: dict[tuple, list[Any]] = {}
    for mesh in build_detector():
        look = (mesh.system, mesh.group, mesh.color, float(mesh.opacity))
        alike.setdefault(look, []).append(mesh)
    return tuple(merged_part(meshes) for meshes in alike.values())


def merged_part(meshes: list[Any]) -> DetectorPart:
    """One read-only part drawing the given meshes of the same look."""
    starts = np.cumsum([0] + [len(mesh.vertices) for mesh in meshes[:-1]])
    positions = np.ascontiguousarray(
        np.concatenate([mesh.vertices for mesh in meshes]), dtype=np.float32
    )
    faces = np.concatenate([mesh.faces + start for mesh, start in zip(meshes, starts, strict=True)])
    index_type = np.uint16 if len(positions) <= np.iinfo(np.uint16).max else np.uint32
    index = np.ascontiguousarray(faces, dtype=index_type).ravel()
    outline = np.concatenate([part_outline(mesh.vertices, mesh.faces) for mesh in meshes])
    for array in (positions, index, outline):
        array.setflags(write=False)
    first = meshes[0]
    return DetectorPart(
        ", ".join(mesh.name for mesh in meshes),
        first.system,
        first.group,
        first.color,
        float(first.opacity),
        any(bool(mesh.visible) for mesh in meshes),
        positions,
        index,
        outline,
    )


def part_outline(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Ends (2 S, 3) of a part's outline segments; none for small parts (they would clutter)."""
    if np.hypot(vertices[:, 0], vertices[:, 1]).max() < OUTLINE_MIN_RADIUS_MM:
        return np.zeros((0, 3), dtype=np.float32)
    edges = shapes.feature_edges(vertices, faces, OUTLINE_ANGLE_DEG)
    return np.ascontiguousarray(edges.reshape(-1, 3), dtype=np.float32)


def detector_groups(hidden_systems: tuple[str, ...] = ()) -> dict[str, tuple[Any, list[Any]]]:
    """Per toggle group: a pythreejs Group of its meshes and their surface materials.

    Surfaces are faint (their opacity is what the group's slider sets); large parts also get
    outline edges. A group starts visible when one of its parts is visible by default and its
    system is not in `hidden_systems`.
    """
    import pythreejs as three

    groups: dict[str, tuple[Any, list[Any]]] = {}
    for part in detector_parts():
        look = detector_look(part.group, part.opacity)
        geometry = three.BufferGeometry(
            attributes={
                "position": three.BufferAttribute(array=part.positions, normalized=False),
                "index": three.BufferAttribute(array=part.index, normalized=False),
            }
        )
        material = flat_shaded(
            color=part.color,
            transparent=True,
            opacity=look.surface,
            depthWrite=False,
            side="FrontSide",  # closed solids: back faces would double every translucent layer
        )
        if part.group not in groups:
            groups[part.group] = (three.Group(name=part.group, visible=False), [])
        group, group_materials = groups[part.group]
        group.add(three.Mesh(geometry, material, name=part.name))
        if look.outline > 0 and len(part.outline):
            group.add(outline_lines(part, look.outline))
        group.visible = group.visible or (part.visible and part.system not in hidden_systems)
        group_materials.append(material)
    return groups


def detector_systems() -> dict[str, str]:
    """The system (inner detector, calorimeters, ...) of each detector group, in drawing order."""
    return {part.group: part.system for part in detector_parts()}


def outline_lines(part: DetectorPart, opacity: float) -> Any:
    """The outline edges of a detector part, in a lighter shade of its colour."""
    import pythreejs as three

    geometry = three.BufferGeometry(
        attributes={"position": three.BufferAttribute(array=part.outline, normalized=False)}
    )
    material = three.LineBasicMaterial(
        color=lighter(part.color), transparent=True, opacity=opacity, depthWrite=False
    )
    return three.LineSegments(geometry, material, name=f"{part.name} outline")
