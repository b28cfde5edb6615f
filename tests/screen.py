"""Where 3D points appear on the screen of a camera looking at the collision point (for tests)."""

from __future__ import annotations

import math

import numpy as np

from app.display.camera import FIELD_OF_VIEW_DEG


def screen_coordinates(
    points: np.ndarray, position: tuple, up: tuple, aspect: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where points (N, 3) land on a camera looking at the origin: -1..1 across the view."""
    eye = np.asarray(position, dtype=np.float64)
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    depth = (points - eye) @ forward
    half_height = math.tan(math.radians(FIELD_OF_VIEW_DEG) / 2.0)
    x = ((points - eye) @ right) / depth / (half_height * aspect)
    y = ((points - eye) @ true_up) / depth / half_height
    return x, y
