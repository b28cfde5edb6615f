"""The two cameras of the 3D view: perspective for the 3D view, orthographic for the 2D ones.

The end-on and side views are true projections (Phoenix draws its 2D views the same way): an
orthographic camera that pans and zooms but does not rotate. Switching views gives the renderer
the other camera and its controls; the picker follows the renderer's camera.
"""

from __future__ import annotations

from typing import Any

from app.display.camera import (
    FRAMED_SYSTEMS,
    ORTHOGRAPHIC_VIEWS,
    orthographic_frame,
    orthographic_position,
)

NEAR_MM = 10.0
FAR_MM = 200000.0


class ViewCameras:
    """The perspective camera (given) and an orthographic one, with their orbit controls."""

    def __init__(self, perspective: Any, orbit: Any, aspect: float):
        import pythreejs as three

        self.perspective = perspective
        self.orbit = orbit
        self.aspect = aspect
        half_width, half_height = orthographic_frame(ORTHOGRAPHIC_VIEWS[0], aspect)
        position, up = orthographic_position(ORTHOGRAPHIC_VIEWS[0])
        self.orthographic = three.OrthographicCamera(
            left=-half_width,
            right=half_width,
            top=half_height,
            bottom=-half_height,
            near=NEAR_MM,
            far=FAR_MM,
            position=position,
            up=up,
            children=[three.DirectionalLight(position=[2, 3, 4], intensity=0.55)],
        )
        self.flat_orbit = three.OrbitControls(
            controlling=self.orthographic, target=[0, 0, 0], enableRotate=False
        )

    @staticmethod
    def is_flat(name: str) -> bool:
        """Whether view `name` is drawn as an orthographic projection."""
        return name in ORTHOGRAPHIC_VIEWS

    def frame(self, name: str, systems: tuple[str, ...] = FRAMED_SYSTEMS) -> None:
        """Point the orthographic camera for view `name`, framed to `systems`."""
        half_width, half_height = orthographic_frame(name, self.aspect, systems)
        position, up = orthographic_position(name)
        camera = self.orthographic
        with camera.hold_trait_notifications():
            camera.left, camera.right = -half_width, half_width
            camera.top, camera.bottom = half_height, -half_height
            camera.zoom = 1.0
            camera.up = up
            camera.position = position
        self.flat_orbit.target = [0.0, 0.0, 0.0]
        camera.lookAt([0.0, 0.0, 0.0])

    def use(
        self, name: str, renderer: Any, picker: Any, systems: tuple[str, ...] = FRAMED_SYSTEMS
    ) -> Any:
        """Draw with the camera of view `name` (framed to `systems`); return that camera."""
        flat = self.is_flat(name)
        if flat:
            self.frame(name, systems)
        camera = self.orthographic if flat else self.perspective
        controls = self.flat_orbit if flat else self.orbit
        if renderer.camera is not camera:
            renderer.camera = camera
            renderer.controls = [controls, picker]  # the picker takes the renderer's camera
        return camera

    def widgets(self) -> list[Any]:
        """Both cameras and their controls (freed with the page, whichever is in use)."""
        return [self.perspective, self.orbit, self.orthographic, self.flat_orbit]

    def world_per_pixel(self, height_pixels: int) -> float:
        """Millimetres per screen pixel in the orthographic view."""
        camera = self.orthographic
        zoom = camera.zoom if camera.zoom and camera.zoom > 0 else 1.0
        return (camera.top - camera.bottom) / zoom / height_pixels
