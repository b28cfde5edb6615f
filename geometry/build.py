"""Detector parts as light triangle meshes, one merged mesh per part, ready for a 3D view."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geometry import shapes
from geometry.spec import SYSTEMS, GeometryError, load_parts

__all__ = [
    "GeometryError",
    "Mesh",
    "build_detector",
    "build_part",
    "load_parts",
    "mesh_totals",
    "meshes_by_group",
    "meshes_by_system",
    "section_outlines",
]

DEFAULT_SEGMENTS = 48
MIN_SEGMENTS, MAX_SEGMENTS = 8, 512
SECTION_PLANES = {"xy": (2, (0, 1)), "zy": (0, (2, 1))}  # plane: (normal axis, output axes)


@dataclass(frozen=True, eq=False)
class Mesh:
    """One detector part as a triangle mesh (mm), with how it is shown and where it comes from."""

    name: str
    system: str
    group: str
    vertices: np.ndarray  # float32 (N, 3), mm
    faces: np.ndarray  # uint32 (M, 3), counter-clockwise seen from outside
    color: str
    opacity: float
    visible: bool
    source: str

    @property
    def n_vertices(self) -> int:
        """Number of vertices."""
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        """Number of triangles."""
        return len(self.faces)

    @property
    def nbytes(self) -> int:
        """Bytes of the vertex and index buffers."""
        return self.vertices.nbytes + self.faces.nbytes


def _tube(part: dict[str, Any], segments: int) -> shapes.Triangles:
    """A round cylinder shell."""
    return shapes.shell(part["rmin"], part["rmax"], part["zmin"], part["zmax"], segments=segments)


def _polygon(part: dict[str, Any], segments: int) -> shapes.Triangles:
    """An N-sided shell whose rmin/rmax are the distances to its flat faces."""
    return shapes.shell(
        part["rmin"],
        part["rmax"],
        part["zmin"],
        part["zmax"],
        sides=part["sides"],
        phi0_deg=part["phi0"],
    )


def _layers(part: dict[str, Any], segments: int) -> shapes.Triangles:
    """Concentric thin shells, round or with one side count per layer."""
    half = part["thickness"] / 2.0
    sides = part["sides"] or [None] * len(part["radii"])
    return shapes.merge(
        [
            shapes.shell(
                radius - half,
                radius + half,
                part["zmin"],
                part["zmax"],
                segments=segments,
                sides=n,
                phi0_deg=part["phi0"],
            )
            for radius, n in zip(part["radii"], sides, strict=True)
        ]
    )


def _disks(part: dict[str, Any], segments: int) -> shapes.Triangles:
    """Round disks centred at the listed z positions."""
    half = part["thickness"] / 2.0
    return shapes.merge(
        [
            shapes.shell(part["rmin"], part["rmax"], z - half, z + half, segments=segments)
            for z in part["z"]
        ]
    )


def _coils(part: dict[str, Any], segments: int) -> shapes.Triangles:
    """Racetrack coils repeated evenly in phi."""
    return shapes.racetrack_coils(
        part["rmin"],
        part["rmax"],
        part["zmin"],
        part["zmax"],
        width=part["width"],
        thickness=part["thickness"],
        count=part["count"],
        phi0_deg=part["phi0"],
    )


SHAPE_BUILDERS: dict[str, Callable[[dict[str, Any], int], shapes.Triangles]] = {
    "tube": _tube,
    "polygon": _polygon,
    "layers": _layers,
    "disks": _disks,
    "coils": _coils,
}


def build_part(part: dict[str, Any], *, segments: int = DEFAULT_SEGMENTS) -> Mesh:
    """The mesh of one checked part (as returned by `load_parts`), mirrored to -z if asked."""
    triangles = SHAPE_BUILDERS[part["shape"]](part, segments)
    if part.get("mirror"):
        triangles = shapes.merge([triangles, shapes.mirror_z(triangles)])
    vertices, faces = triangles
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    faces = np.ascontiguousarray(faces, dtype=np.uint32)
    vertices.setflags(write=False)
    faces.setflags(write=False)
    return Mesh(
        name=part["name"],
        system=part["system"],
        group=part["group"],
        vertices=vertices,
        faces=faces,
        color=part["color"],
        opacity=part["opacity"],
        visible=part["visible"],
        source=part["source"],
    )


def build_detector(path: Path | None = None, *, segments: int = DEFAULT_SEGMENTS) -> list[Mesh]:
    """Every part of the geometry file as a mesh, in file order; round parts use `segments`."""
    if isinstance(segments, bool) or not isinstance(segments, int):
        raise GeometryError(f"segments must be a whole number, got {segments!r}")
    if not MIN_SEGMENTS <= segments <= MAX_SEGMENTS:
        raise GeometryError(
            f"segments must be between {MIN_SEGMENTS} and {MAX_SEGMENTS}, got {segments}"
        )
    return [build_part(part, segments=segments) for part in load_parts(path)]


def meshes_by_system(meshes: Iterable[Mesh]) -> dict[str, list[Mesh]]:
    """Meshes keyed by system, systems in their canonical order (inner detector first)."""
    grouped: dict[str, list[Mesh]] = {system: [] for system in SYSTEMS}
    for mesh in meshes:
        grouped.setdefault(mesh.system, []).append(mesh)
    return {system: items for system, items in grouped.items() if items}


def meshes_by_group(meshes: Iterable[Mesh]) -> dict[str, list[Mesh]]:
    """Meshes keyed by toggle group, groups in order of first appearance."""
    grouped: dict[str, list[Mesh]] = {}
    for mesh in meshes:
        grouped.setdefault(mesh.group, []).append(mesh)
    return grouped


def mesh_totals(meshes: Iterable[Mesh]) -> dict[str, int]:
    """Total parts, vertices, faces and buffer bytes of a list of meshes."""
    meshes = list(meshes)
    return {
        "parts": len(meshes),
        "vertices": sum(mesh.n_vertices for mesh in meshes),
        "faces": sum(mesh.n_faces for mesh in meshes),
        "bytes": sum(mesh.nbytes for mesh in meshes),
    }


def section_outlines(meshes: Iterable[Mesh], plane: str = "xy") -> list[tuple[str, np.ndarray]]:
    """Cuts of the meshes by a plane through the origin, for 2D views, as (group, polyline).

    "xy" cuts at z = 0 (end-on view, points are (x, y)); "zy" cuts at x = 0 (side view,
    points are (z, y)). Each polyline is float32 (K, 2) in mm made of two-point segments
    separated by NaN rows, the form Bokeh `multi_line` and matplotlib `plot` draw as breaks.
    Parts the plane misses are left out.
    """
    if plane not in SECTION_PLANES:
        raise GeometryError(f"unknown section plane {plane!r} (choose from xy, zy)")
    axis, kept = SECTION_PLANES[plane]
    outlines = []
    for mesh in meshes:
        segments = _plane_cut(mesh.vertices.astype(np.float64), mesh.faces, axis)
        if len(segments):
            points = segments[:, :, kept]
            gaps = np.full((len(points), 1, 2), np.nan)
            polyline = np.concatenate([points, gaps], axis=1).reshape(-1, 2)[:-1]
            outlines.append((mesh.group, polyline.astype(np.float32)))
    return outlines


def _plane_cut(vertices: np.ndarray, faces: np.ndarray, axis: int) -> np.ndarray:
    """Segments (S, 2, 3) where triangles cross the plane `coordinate[axis] == 0`."""
    corners = vertices[faces]  # (M, 3, 3)
    distance = corners[:, :, axis]
    above = distance >= 0.0
    start, end = corners, np.roll(corners, -1, axis=1)  # edges 0-1, 1-2, 2-0
    d0, d1 = distance, np.roll(distance, -1, axis=1)
    crossing = above != np.roll(above, -1, axis=1)
    cut = crossing.sum(axis=1) == 2
    denominator = np.where(crossing, d0 - d1, 1.0)
    fraction = np.where(crossing, d0 / denominator, 0.0)[..., None]
    points = start + fraction * (end - start)
    segments = points[cut][crossing[cut]].reshape(-1, 2, 3)
    length = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    return segments[length > 1e-6]
