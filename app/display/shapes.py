"""Triangle and segment arrays for the shapes of the event display, vectorised over objects.

Every builder returns arrays over all objects at once: triangles (N, T, 3, 3) or segments
(S, 2, 3), in mm. Objects point from the origin along (eta, phi).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CONE_SIDES = 24
SPHERE_SUBDIVISIONS = 0  # 20 faces: vertices are a few pixels wide


def directions(eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors (N, 3) pointing along pseudorapidity `eta` and azimuth `phi`."""
    theta = 2.0 * np.arctan(np.exp(-np.asarray(eta, dtype=np.float64)))
    phi = np.asarray(phi, dtype=np.float64)
    sin_theta = np.sin(theta)
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), np.cos(theta)], axis=-1)


def frames(direction: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) whose third column is `direction` (unit vectors)."""
    helper = np.where(
        np.abs(direction[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]])
    )
    first = np.cross(helper, direction)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    second = np.cross(direction, first)
    return np.stack([first, second, direction], axis=-1)


def place(
    template: np.ndarray, scale: np.ndarray, rotation: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """Scale (N, 3), rotate (N, 3, 3) and move (N, 3) a template of triangles (T, 3, 3)."""
    scaled = template[None, :, :, :] * scale[:, None, None, :]
    turned = np.einsum("nij,ntvj->ntvi", rotation, scaled)
    return turned + offset[:, None, None, :]


@lru_cache(maxsize=4)
def unit_cone(sides: int = CONE_SIDES) -> np.ndarray:
    """Triangles (2*sides, 3, 3) of a cone: apex at the origin, base of radius 1 at z = 1."""
    angles = np.linspace(0.0, 2.0 * np.pi, sides + 1)
    rim = np.stack([np.cos(angles), np.sin(angles), np.ones_like(angles)], axis=1)
    apex = np.zeros((sides, 3))
    centre = np.tile([0.0, 0.0, 1.0], (sides, 1))
    side = np.stack([apex, rim[1:], rim[:-1]], axis=1)
    base = np.stack([centre, rim[:-1], rim[1:]], axis=1)
    return np.concatenate([side, base]).astype(np.float64)


@lru_cache(maxsize=1)
def unit_box() -> np.ndarray:
    """Triangles (12, 3, 3) of a box of cross-section 1 x 1 centred on the z axis, z in [0, 1]."""
    corners = np.array(
        [[x, y, z] for z in (0.0, 1.0) for y in (-0.5, 0.5) for x in (-0.5, 0.5)], dtype=np.float64
    )
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    faces = [(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads]
    return corners[np.array(faces)]


@lru_cache(maxsize=2)
def unit_sphere(subdivisions: int = SPHERE_SUBDIVISIONS) -> np.ndarray:
    """Triangles of a unit icosphere."""
    golden = (1.0 + 5.0**0.5) / 2.0
    vertices = np.array(
        [
            [-1, golden, 0], [1, golden, 0], [-1, -golden, 0], [1, -golden, 0],
            [0, -1, golden], [0, 1, golden], [0, -1, -golden], [0, 1, -golden],
            [golden, 0, -1], [golden, 0, 1], [-golden, 0, -1], [-golden, 0, 1],
        ],
        dtype=np.float64,
    )  # fmt: skip
    faces = np.array(
        [
            [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
            [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
            [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
        ]
    )  # fmt: skip
    triangles = vertices[faces]
    for _ in range(subdivisions):
        a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        triangles = np.concatenate(
            [np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
        )
    return triangles / np.linalg.norm(triangles, axis=-1, keepdims=True)


def cones(
    apex: np.ndarray, direction: np.ndarray, length: np.ndarray, radius: np.ndarray
) -> np.ndarray:
    """Cones (N, T, 3, 3) from `apex` along unit `direction`, of given length and base radius."""
    scale = np.stack([radius, radius, length], axis=1)
    return place(unit_cone(), scale, frames(direction), apex)


def radial_boxes(
    start: np.ndarray, direction: np.ndarray, length: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """Boxes (N, 12, 3, 3) starting at `start`, extending `length` along `direction`."""
    scale = np.stack([width, width, length], axis=1)
    return place(unit_box(), scale, frames(direction), start)


def spheres(centre: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Icospheres (N, T, 3, 3) around each centre (N, 3), of radius (N,)."""
    return unit_sphere()[None] * radius[:, None, None, None] + centre[:, None, None, :]


def polyline_segments(points: np.ndarray, line_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (S, 2, 3) joining consecutive points of the same line, and each one's line id."""
    if len(points) < 2:
        return np.zeros((0, 2, 3)), np.zeros(0, dtype=np.int64)
    same = line_id[1:] == line_id[:-1]
    segments = np.stack([points[:-1][same], points[1:][same]], axis=1)
    return segments, line_id[:-1][same]


def dashes(start: np.ndarray, end: np.ndarray, dash: float, gap: float) -> np.ndarray:
    """Segments (S, 2, 3) of a dashed line from `start` to `end` (one line)."""
    span = end - start
    length = float(np.linalg.norm(span))
    if length == 0:
        return np.zeros((0, 2, 3))
    starts = np.arange(0.0, length, dash + gap)
    stops = np.minimum(starts + dash, length)
    unit = span / length
    return np.stack([start + starts[:, None] * unit, start + stops[:, None] * unit], axis=1)


def sample_segments(
    segments: np.ndarray, owner: np.ndarray, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points along segments at most `step` apart (for picking lines), with their owners."""
    if len(segments) == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    span = segments[:, 1] - segments[:, 0]
    count = np.maximum(np.ceil(np.linalg.norm(span, axis=1) / step), 1).astype(np.int64)
    which = np.repeat(np.arange(len(segments)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    fraction = (np.arange(count.sum()) - first) / np.repeat(count, count)
    points = segments[which, 0] + fraction[:, None] * span[which]
    return points, owner[which]


def feature_edges(
    positions: np.ndarray, faces: np.ndarray, angle_deg: float, tolerance: float = 0.01
) -> np.ndarray:
    """Outline segments (S, 2, 3) of a triangle mesh: open edges and edges bent over `angle_deg`.

    Vertices closer than `tolerance` are merged first, so split (flat-shaded) meshes work too.
    """
    points = np.asarray(positions, dtype=np.float64)
    _, merged = np.unique(np.round(points / tolerance), axis=0, return_inverse=True)
    corners = merged.ravel()[np.asarray(faces, dtype=np.int64)]
    triangles = points[np.asarray(faces, dtype=np.int64)]
    normal = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    length = np.linalg.norm(normal, axis=1)
    solid = length > 0
    corners, normal = corners[solid], normal[solid] / length[solid, None]
    ends = np.stack([corners, np.roll(corners, -1, axis=1)], axis=-1).reshape(-1, 2)
    order = np.sort(ends, axis=1)
    edge_normal = np.repeat(normal, 3, axis=0)
    _, edge, count = np.unique(order, axis=0, return_inverse=True, return_counts=True)
    edge = edge.ravel()
    first = np.full(len(count), -1)
    last = np.full(len(count), -1)
    first[edge[::-1]] = np.arange(len(edge))[::-1]
    last[edge] = np.arange(len(edge))
    bend = np.einsum("ij,ij->i", edge_normal[first], edge_normal[last])
    keep = (count == 1) | (bend < np.cos(np.radians(angle_deg)))
    vertex_at = np.zeros((merged.max() + 1 if len(merged) else 0, 3))
    vertex_at[merged.ravel()] = points
    return vertex_at[order[first[keep]]]


def rotation_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The rotation matrix (3, 3) turning unit vector `start` onto unit vector `end`.

    The same rotation three.js's Quaternion.setFromUnitVectors makes (Phoenix places planar
    calorimeter cells with it), including its choice for opposite vectors.
    """
    real = float(np.dot(start, end)) + 1.0
    if real < 1e-6:
        if abs(start[0]) > abs(start[2]):
            quaternion = np.array([-start[1], start[0], 0.0, 0.0])
        else:
            quaternion = np.array([0.0, -start[2], start[1], 0.0])
    else:
        quaternion = np.array([*np.cross(start, end), real])
    x, y, z, w = quaternion / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@lru_cache(maxsize=1)
def _corner_triples() -> np.ndarray:
    """Every choice (56, 3) of three of eight corners."""
    from itertools import combinations

    return np.array(list(combinations(range(8), 3)), dtype=np.int64)


def hull_triangles(corners: np.ndarray, tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Triangles (M, 3, 3) of the convex hulls of 8-corner cells (N, 8, 3), and each one's cell.

    A triangle of three corners is on the hull when no other corner lies outside its plane. A
    flat face of four corners would give four such triangles (both diagonals): only the two that
    share the face's lowest corner and end on an edge of the face are kept.
    """
    if len(corners) == 0:
        return np.zeros((0, 3, 3)), np.zeros(0, dtype=np.int64)
    triples = _corner_triples()
    tri = corners[:, triples]  # (N, 56, 3, 3)
    normal = np.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])
    size = np.abs(corners - corners.mean(axis=1, keepdims=True)).max(axis=(1, 2))
    scale = np.maximum(size, 1e-12)[:, None, None]
    offsets = corners[:, None, :, :] - tri[:, :, 0][:, :, None, :]  # (N, 56, 8, 3)
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    reach = np.einsum("ntk,ntjk->ntj", normal, offsets) / (length + 1e-300) / scale
    solid = np.linalg.norm(normal, axis=-1) > tolerance * scale[:, :, 0] ** 2
    above, below = (reach > tolerance).any(axis=-1), (reach < -tolerance).any(axis=-1)
    on_hull = solid & ~(above & below)
    coplanar = np.abs(reach) <= tolerance  # (N, 56, 8): includes the triangle's own corners
    extra = coplanar.sum(axis=-1) - 3
    keep = on_hull & (extra == 0)
    quad = on_hull & (extra == 1)
    if quad.any():
        keep |= quad & _fan_of_quad(corners, triples, coplanar)
    keep |= on_hull & (extra > 1)  # more than four corners in one plane: overlaps are harmless
    cell, which = np.nonzero(keep)
    return tri[cell, which], cell


def _fan_of_quad(corners: np.ndarray, triples: np.ndarray, coplanar: np.ndarray) -> np.ndarray:
    """Which triangles of flat four-corner faces belong to the fan from the face's lowest corner."""
    own = np.zeros((len(triples), 8), dtype=bool)
    own[np.arange(len(triples))[:, None], triples] = True
    fourth = np.argmax(coplanar & ~own[None], axis=-1)  # (N, 56)
    lowest = np.minimum(triples[None, :, 0], fourth)
    has_lowest = triples[None, :, 0] == lowest  # triples are sorted: their first is their lowest
    # the two other corners x, y: the lowest corner and the fourth on the same side of line xy
    x = corners[:, triples[:, 1]]
    y = corners[:, triples[:, 2]]
    a = corners[:, triples[:, 0]]
    w = np.take_along_axis(corners, fourth[..., None], axis=1)
    side_a = np.cross(y - x, a - x)
    side_w = np.cross(y - x, w - x)
    same_side = np.einsum("ntk,ntk->nt", side_a, side_w) > 0
    return has_lowest & same_side
