"""Preset camera views, each framed so the inner detector and calorimeters fill the canvas."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

FIELD_OF_VIEW_DEG = 40.0
# Systems every preset view shows whole (the muon system is larger; it starts hidden).
FRAMED_SYSTEMS = ("inner detector", "calorimeters")
FILL = 0.94  # fraction of the canvas height (and width) the framed systems may take
RIM_POINTS = 96
# Where each view's camera sits, seen from the collision point, and its up direction.
VIEW_DIRECTIONS = {
    "3D": ((-0.72, 0.38, 0.58), (0.0, 1.0, 0.0)),  # a 3/4 view: barrel and one end-cap
    "End-on (x-y)": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "Side (z-y)": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
}
DEFAULT_VIEW = "3D"


def cylinder_rims(radius: float, half_length: float, count: int = RIM_POINTS) -> np.ndarray:
    """Points (2 count, 3) on the two end circles of a cylinder around the beam line."""
    phi = 2.0 * np.pi * np.arange(count) / count
    circle = np.stack([radius * np.cos(phi), radius * np.sin(phi)], axis=-1)
    return np.concatenate(
        [np.column_stack([circle, np.full(count, z)]) for z in (-half_length, half_length)]
    )


def framing_distance(
    points: np.ndarray,
    direction: tuple[float, float, float],
    up: tuple[float, float, float],
    aspect: float,
    fov_deg: float = FIELD_OF_VIEW_DEG,
    fill: float = FILL,
) -> float:
    """Distance from the origin along `direction` at which a camera looking back sees `points`."""
    back = np.asarray(direction, dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(up, dtype=np.float64), back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    tan_v = math.tan(math.radians(fov_deg) / 2.0) * fill
    tan_h = tan_v * aspect
    across = np.maximum(np.abs(points @ right) / tan_h, np.abs(points @ true_up) / tan_v)
    return float(np.max(points @ back + across))


@lru_cache(maxsize=8)
def framed_extent(systems: tuple[str, ...] = FRAMED_SYSTEMS) -> tuple[float, float]:
    """Outer radius and half length (mm) of `systems`, from the detector geometry."""
    from app.display.objects3d import detector_parts

    radius, half_length = 0.0, 0.0
    for part in detector_parts():
        if part.system in systems:
            radius = max(radius, float(np.hypot(*part.positions[:, :2].T).max()))
            half_length = max(half_length, float(np.abs(part.positions[:, 2]).max()))
    return radius, half_length


@lru_cache(maxsize=16)
def preset_view(
    name: str, aspect: float, systems: tuple[str, ...] = FRAMED_SYSTEMS
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Camera position and up vector of a preset view showing `systems` whole."""
    direction, up = VIEW_DIRECTIONS[name]
    rims = cylinder_rims(*framed_extent(systems))
    distance = framing_distance(rims, direction, up, aspect)
    unit = np.asarray(direction) / np.linalg.norm(direction)
    position = tuple(round(float(value), 1) for value in unit * distance)
    return position, up  # type: ignore[return-value]


def moved_out(
    position: tuple[float, float, float],
    up: tuple[float, float, float],
    aspect: float,
    systems: tuple[str, ...],
) -> tuple[float, float, float] | None:
    """Where a camera looking at the centre from `position` sees `systems` whole, further out.

    None when it already does: the camera is never brought closer.
    """
    point = np.asarray(position, dtype=np.float64)
    distance = float(np.linalg.norm(point))
    if distance == 0.0:
        return None
    needed = framing_distance(cylinder_rims(*framed_extent(systems)), tuple(point), up, aspect)
    if needed <= distance:
        return None
    return tuple(round(float(value), 1) for value in point / distance * needed)  # type: ignore[return-value]


# Views that physicists read as 2D projections: drawn with an orthographic camera, so that the
# end-cap wheels are circles and lengths along the beam are true (as in Phoenix's 2D views).
ORTHOGRAPHIC_VIEWS = ("End-on (x-y)", "Side (z-y)")
ORTHOGRAPHIC_DISTANCE_MM = 40000.0  # far outside the detector, so nothing is behind the camera


@lru_cache(maxsize=16)
def orthographic_frame(
    name: str, aspect: float, systems: tuple[str, ...] = FRAMED_SYSTEMS
) -> tuple[float, float]:
    """Half width and half height (mm) of an orthographic view showing `systems` whole."""
    radius, half_length = framed_extent(systems)
    across = half_length if name == "Side (z-y)" else radius  # horizontal half extent
    half_height = max(radius, across / aspect) / FILL
    return half_height * aspect, half_height


def orthographic_position(
    name: str,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Camera position and up vector of an orthographic view, looking at the collision point."""
    direction, up = VIEW_DIRECTIONS[name]
    unit = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    position = tuple(round(float(value), 1) for value in unit * ORTHOGRAPHIC_DISTANCE_MM)
    return position, up  # type: ignore[return-value]
