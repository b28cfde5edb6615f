"""The 3D stage of the event display: detector, cameras, controls, picker and renderer.

It holds the three.js objects and what moves them (preset views, detector parts switched on or
off, the picking distance that follows the zoom); what is drawn on it and what a click picks
belong to the display.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.display.camera import (
    DEFAULT_VIEW,
    FIELD_OF_VIEW_DEG,
    FRAMED_SYSTEMS,
    moved_out,
    preset_view,
)
from app.display.objects3d import detector_groups, detector_systems
from app.display.style import BACKGROUND, detector_look
from app.display.view_cameras import ViewCameras

CANVAS_SIZE = (720, 560)
PICK_PIXELS = 8.0  # how close (in screen pixels, roughly) a click must be to a line
DRAG_PICK_GAP_S = 0.4  # a pick right after the camera moved is the end of a drag, not a click
# The page re-sends the camera on a click; shifts this small (relative) are rounding, not a drag.
CAMERA_STILL = 1e-6


def camera_moved(old: Any, new: Any) -> bool:
    """Whether the camera position changed by more than rounding."""
    if old is None or new is None:
        return True
    return math.dist(old, new) > CAMERA_STILL * max(math.hypot(*new), 1.0)


class Stage:
    """The three.js scene of one page: the detector, a group for the event, and its cameras."""

    def __init__(self, hidden_systems: tuple[str, ...]):
        import pythreejs as three

        width, height = CANVAS_SIZE
        self.aspect = width / height
        self.view = DEFAULT_VIEW
        self.moved_at = 0.0  # when the camera last moved (monotonic seconds)
        position, up = preset_view(DEFAULT_VIEW, self.aspect)
        self.camera = three.PerspectiveCamera(
            position=position,
            up=up,
            fov=FIELD_OF_VIEW_DEG,
            aspect=self.aspect,
            near=10,
            far=200000,
            children=[three.DirectionalLight(position=[2, 3, 4], intensity=0.55)],
        )
        self.detector = detector_groups(hidden_systems)
        self.event_group = three.Group(name="event")
        self.pick_group = three.Group(name="pickable")
        self.scene = three.Scene(
            children=[
                self.camera,
                three.AmbientLight(intensity=0.7),
                *(group for group, _ in self.detector.values()),
                self.event_group,
                self.pick_group,
            ],
            background=BACKGROUND,
        )
        self.orbit = three.OrbitControls(controlling=self.camera, target=[0, 0, 0])
        self.picker = three.Picker(controlling=self.pick_group, event="click")
        self.renderer = three.Renderer(
            camera=self.camera,
            scene=self.scene,
            controls=[self.orbit, self.picker],
            width=width,
            height=height,
            antialias=True,
        )
        self.cameras = ViewCameras(self.camera, self.orbit, self.aspect)
        self.update_pick_threshold()
        self.camera.observe(self._on_camera, names=["position"])
        self.cameras.orthographic.observe(self._on_camera, names=["position", "zoom"])

    def widgets(self) -> list[Any]:
        """The stage's widgets that live as long as the page (to be freed with it)."""
        return [self.renderer, *self.cameras.widgets()]

    def show(self, visual: Sequence[Any], pickable: Sequence[Any]) -> None:
        """Put the event's 3D objects on the stage: those seen, and those a click can pick."""
        self.event_group.children = tuple(visual)
        self.pick_group.children = tuple(pickable)

    def set_view(self, name: str) -> None:
        """Move the camera to a preset view (looking at the interaction point)."""
        self.view = name
        position, up = preset_view(name, self.aspect, self.framed_systems())
        self.camera.up = up
        self.camera.position = position
        self.orbit.target = [0.0, 0.0, 0.0]
        self.camera.lookAt([0.0, 0.0, 0.0])
        self.cameras.use(name, self.renderer, self.picker, self.framed_systems())
        self.update_pick_threshold()

    def framed_systems(self) -> tuple[str, ...]:
        """The systems a preset view shows whole: the inner ones, and any other one shown."""
        systems = detector_systems()
        shown = {systems[name] for name, (group, _) in self.detector.items() if group.visible}
        return FRAMED_SYSTEMS + tuple(sorted(shown - set(FRAMED_SYSTEMS)))

    def set_detector_visible(self, group: str, visible: bool) -> None:
        """Show or hide one detector group (the camera moves out to see it whole)."""
        self.detector[group][0].visible = visible
        if visible:
            self._keep_detector_in_view()

    def set_detector_opacity(self, group: str, opacity: float) -> None:
        """Change the opacity of one detector group (its outline edges fade with it)."""
        meshes, materials = self.detector[group]
        for material in materials:
            material.opacity = float(opacity)
        look = detector_look(group, opacity)
        if look.outline and look.surface:
            outline = min(1.0, look.outline * float(opacity) / look.surface)
            for child in meshes.children:
                if type(child).__name__ == "LineSegments":
                    child.material.opacity = outline

    def just_dragged(self) -> bool:
        """Whether the camera moved a moment ago (a click then is the end of a drag)."""
        return time.monotonic() - self.moved_at < DRAG_PICK_GAP_S

    def update_pick_threshold(self) -> None:
        """Scale the picking distance with the camera distance (about PICK_PIXELS on screen)."""
        height = CANVAS_SIZE[1]
        if self.renderer.camera is self.cameras.orthographic:
            world_per_pixel = self.cameras.world_per_pixel(height)
        else:
            distance = float(np.linalg.norm(self.camera.position))
            world_per_pixel = (
                2.0 * distance * math.tan(math.radians(self.camera.fov / 2.0)) / height
            )
        self.picker.pointThreshold = max(5.0, PICK_PIXELS * world_per_pixel)

    def _keep_detector_in_view(self) -> None:
        """Move the camera out when a shown detector group reaches past it (never closer)."""
        systems = self.framed_systems()
        if self.renderer.camera is self.cameras.orthographic:
            self.cameras.frame(self.view, systems)
        else:
            position = moved_out(self.camera.position, self.camera.up, self.aspect, systems)
            if position is not None:
                self.camera.position = position
                self.camera.lookAt(list(self.orbit.target))
        self.update_pick_threshold()

    def _on_camera(self, change: Any) -> None:
        """The camera moved (orbit, zoom or preset)."""
        if change.name == "zoom" or camera_moved(change.old, change.new):
            self.moved_at = time.monotonic()
        self.update_pick_threshold()
