"""Closed triangle meshes of simple solids, built with numpy (no loop over vertices).

Every function returns `(vertices, faces)`: float64 (N, 3) positions in mm and int64 (M, 3)
vertex indices whose triangles are counter-clockwise seen from outside the solid, so the
right-hand normal `(b - a) x (c - a)` points outward. Each flat or curved surface gets its own
vertices, so normals a viewer derives per vertex stay crisp along edges.
"""

from __future__ import annotations

import numpy as np

Triangles = tuple[np.ndarray, np.ndarray]


def azimuth_columns(
    segments: int | None = None, *, sides: int | None = None, phi0_deg: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-apothem directions around z, and the column pairs spanning each facet in +phi order.

    Round (`segments`): vertices on the circle, facets shared between neighbours.
    Flat (`sides`): an N-gon whose first face normal points at `phi0_deg`; each face has its
    own two corner columns, scaled by 1/cos(pi/N) so that the faces lie at unit distance.
    """
    phi0 = np.radians(phi0_deg)
    if sides is None:
        if segments is None:
            raise ValueError("give either segments (round) or sides (flat)")
        phi = phi0 + 2.0 * np.pi * np.arange(segments) / segments
        directions = np.column_stack([np.cos(phi), np.sin(phi)])
        start = np.arange(segments)
        return directions, np.column_stack([start, (start + 1) % segments])
    half = np.pi / sides
    centres = phi0 + 2.0 * np.pi * np.arange(sides) / sides
    corners = np.column_stack([centres - half, centres + half]).ravel()
    directions = np.column_stack([np.cos(corners), np.sin(corners)]) / np.cos(half)
    start = 2 * np.arange(sides)
    return directions, np.column_stack([start, start + 1])


def revolve(profile: np.ndarray, directions: np.ndarray, pairs: np.ndarray) -> Triangles:
    """Sweep a closed (r, z) polygon, counter-clockwise with r to the right, around the z axis."""
    profile = np.asarray(profile, dtype=np.float64)
    ends = np.stack([profile, np.roll(profile, -1, axis=0)], axis=1)  # (edge, start/end, r|z)
    radius = ends[:, :, 0, None]
    x = radius * directions[:, 0]
    y = radius * directions[:, 1]
    z = np.broadcast_to(ends[:, :, 1, None], x.shape)
    vertices = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    n_columns = len(directions)
    base = (2 * n_columns * np.arange(len(profile)))[:, None]
    a0, a1 = base + pairs[:, 0], base + pairs[:, 1]
    b0, b1 = a0 + n_columns, a1 + n_columns
    quads = np.stack([np.stack([a0, a1, b1], -1), np.stack([a0, b1, b0], -1)], axis=2)
    return vertices, quads.reshape(-1, 3).astype(np.int64)


def rectangle_profile(rmin: float, rmax: float, zmin: float, zmax: float) -> np.ndarray:
    """The (r, z) outline of a shell, counter-clockwise: outer wall, top, inner wall, bottom."""
    return np.array([[rmax, zmin], [rmax, zmax], [rmin, zmax], [rmin, zmin]], dtype=np.float64)


def shell(
    rmin: float,
    rmax: float,
    zmin: float,
    zmax: float,
    *,
    segments: int | None = None,
    sides: int | None = None,
    phi0_deg: float = 0.0,
) -> Triangles:
    """A closed cylinder shell (round with `segments`) or N-sided shell (flat with `sides`)."""
    directions, pairs = azimuth_columns(segments, sides=sides, phi0_deg=phi0_deg)
    return revolve(rectangle_profile(rmin, rmax, zmin, zmax), directions, pairs)


def _unit_cube() -> tuple[np.ndarray, np.ndarray]:
    """Corners (24, 3) in {0, 1} and faces (12, 3) of a unit cube, one quad per side."""
    corners, faces = [], []
    for axis in range(3):
        b, c = (axis + 1) % 3, (axis + 2) % 3  # e_b x e_c = e_axis
        for side in (0, 1):
            quad = [(0, 0), (1, 0), (1, 1), (0, 1)]
            if side == 0:
                quad = quad[::-1]
            first = len(corners)
            for ub, uc in quad:
                corner = [0, 0, 0]
                corner[axis], corner[b], corner[c] = side, ub, uc
                corners.append(corner)
            faces += [[first, first + 1, first + 2], [first, first + 2, first + 3]]
    return np.array(corners, dtype=np.float64), np.array(faces, dtype=np.int64)


UNIT_CUBE_CORNERS, UNIT_CUBE_FACES = _unit_cube()


def boxes(lower: np.ndarray, upper: np.ndarray, phi_deg: np.ndarray) -> Triangles:
    """Boxes given in their own frame (radial u, tangential t, z), each turned to its phi.

    `lower` and `upper` are (B, 3) corners as (u, t, z); the frame (u, t, z) is right-handed,
    so the cube's outward winding survives the rotation.
    """
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    local = lower[:, None, :] + (upper - lower)[:, None, :] * UNIT_CUBE_CORNERS  # (B, 24, 3)
    phi = np.radians(np.asarray(phi_deg, dtype=np.float64))[:, None]
    cos, sin = np.cos(phi), np.sin(phi)
    u, t = local[..., 0], local[..., 1]
    vertices = np.stack([u * cos - t * sin, u * sin + t * cos, local[..., 2]], axis=-1)
    offsets = len(UNIT_CUBE_CORNERS) * np.arange(len(lower))[:, None, None]
    return vertices.reshape(-1, 3), (UNIT_CUBE_FACES + offsets).reshape(-1, 3)


def racetrack_coils(
    rmin: float,
    rmax: float,
    zmin: float,
    zmax: float,
    *,
    width: float,
    thickness: float,
    count: int,
    phi0_deg: float = 0.0,
) -> Triangles:
    """`count` rectangular coil frames in planes of constant phi, evenly spaced from `phi0_deg`.

    Each frame is four bars: two along z at the inner and outer radius, two along r closing
    the ends between them (so the bars touch but do not overlap).
    """
    half = thickness / 2.0
    bars_lower = np.array(
        [
            [rmin, -half, zmin],
            [rmax - width, -half, zmin],
            [rmin + width, -half, zmin],
            [rmin + width, -half, zmax - width],
        ]
    )
    bars_upper = np.array(
        [
            [rmin + width, half, zmax],
            [rmax, half, zmax],
            [rmax - width, half, zmin + width],
            [rmax - width, half, zmax],
        ]
    )
    phi = phi0_deg + 360.0 * np.arange(count) / count
    lower = np.tile(bars_lower, (count, 1))
    upper = np.tile(bars_upper, (count, 1))
    return boxes(lower, upper, np.repeat(phi, len(bars_lower)))


def mirror_z(triangles: Triangles) -> Triangles:
    """The mirror image through z = 0, with the winding reversed so normals still face out."""
    vertices, faces = triangles
    return vertices * np.array([1.0, 1.0, -1.0]), faces[:, ::-1].copy()


def merge(pieces: list[Triangles]) -> Triangles:
    """One mesh from several, with face indices shifted to the concatenated vertices."""
    counts = np.array([len(vertices) for vertices, _ in pieces])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    vertices = np.concatenate([vertices for vertices, _ in pieces])
    faces = np.concatenate([f + o for (_, f), o in zip(pieces, offsets, strict=True)])
    return vertices, faces
