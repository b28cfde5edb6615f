"""The first impression without a browser: framed views, a light detector, friendly labels."""

from __future__ import annotations

import numpy as np
import pytest
from screen import screen_coordinates

from app.display import shapes
from app.display.camera import (
    VIEW_DIRECTIONS,
    cylinder_rims,
    framed_extent,
    preset_view,
)
from app.display.controls import collection_row, friendly_name
from app.display.scene import build_scene
from app.display.style import EVENT_RENDER_ORDER, lighter
from geometry.shapes import shell

ASPECT = 720 / 560


@pytest.fixture(scope="module")
def display():
    """An event display session on the bundled samples (no browser)."""
    from app.config import AppConfig
    from app.display.offline import enable_offline_widgets

    enable_offline_widgets()
    from app.display.view import EventDisplay

    return EventDisplay(AppConfig())


def test_outline_of_a_box_is_its_twelve_edges():
    triangles = shapes.unit_box()
    faces = np.arange(len(triangles) * 3).reshape(-1, 3)
    edges = shapes.feature_edges(triangles.reshape(-1, 3), faces, 20.0)
    assert edges.shape == (12, 2, 3)
    lengths = np.linalg.norm(edges[:, 1] - edges[:, 0], axis=1)
    np.testing.assert_allclose(lengths, lengths[0])  # a cube's edges, no face diagonals


def test_outline_of_a_round_tube_is_its_four_end_circles():
    vertices, faces = shell(100.0, 200.0, -500.0, 500.0, segments=48)
    edges = shapes.feature_edges(vertices, faces, 20.0)
    assert edges.shape == (4 * 48, 2, 3)
    assert np.allclose(np.abs(edges[..., 2]), 500.0)  # no lines along the barrel
    radius = np.round(np.hypot(edges[..., 0], edges[..., 1]), 6)
    assert set(radius.ravel()) == {100.0, 200.0}  # inner and outer circles


def test_views_frame_the_inner_detector_and_calorimeters():
    radius, half_length = framed_extent()
    assert 4000 < radius < 4500 and 5800 < half_length < 6500  # calorimeters, not muon system
    rims = cylinder_rims(radius, half_length)
    for name in VIEW_DIRECTIONS:
        position, up = preset_view(name, ASPECT)
        x, y = screen_coordinates(rims, position, up, ASPECT)
        extent = max(np.abs(x).max(), np.abs(y).max())
        assert 0.85 < extent <= 1.0, name  # all of it in view, and filling the view
    position, _ = preset_view("3D", ASPECT)
    share = np.abs(position) / np.linalg.norm(position)
    assert (share > 0.3).all()  # a 3/4 view: from the side, above and along the beam at once


def test_detector_is_faint_context_with_outlined_calorimeters(display):
    groups = display.stage.detector
    for name, (_, materials) in groups.items():
        for material in materials:
            assert material.opacity <= 0.15 and material.depthWrite is False, name
            assert material.side == "FrontSide", name
    for name in ("LAr EM", "Tile"):
        group = groups[name][0]
        assert group.visible
        assert any(type(child).__name__ == "LineSegments" for child in group.children), name
    assert not groups["Muon barrel"][0].visible and not groups["Muon end-cap"][0].visible


def test_detector_toggles_and_opacity_sliders_still_act(display):
    group, materials = display.stage.detector["Tile"]
    display.stage.set_detector_opacity("Tile", 0.5)
    assert [material.opacity for material in materials] == [0.5] * len(materials)
    display.stage.set_detector_visible("Tile", False)
    assert group.visible is False
    display.stage.set_detector_visible("Tile", True)
    display.stage.set_detector_opacity("Tile", 0.04)
    assert group.visible is True


def test_showing_the_muon_system_moves_the_camera_out_to_see_it_whole(display):
    start = np.asarray(display.stage.camera.position)
    display.stage.set_detector_visible("Toroids", True)
    moved = np.asarray(display.stage.camera.position)
    assert np.linalg.norm(moved) > 1.3 * np.linalg.norm(start)
    assert np.allclose(moved / np.linalg.norm(moved), start / np.linalg.norm(start), atol=1e-4)
    radius, half_length = framed_extent(("muon system", "magnets"))
    assert np.hypot(*moved[:2]) > radius or abs(moved[2]) > half_length  # outside, not inside
    display.stage.set_detector_visible("Toroids", False)
    assert np.allclose(display.stage.camera.position, moved)  # never brought closer by a toggle
    display.reset_view()
    assert tuple(display.stage.camera.position) == tuple(start)


def test_detector_list_names_every_group_under_its_system(display):
    rows = display.detector_list.rows
    assert [row["name"] for row in rows] == list(display.stage.detector)
    assert {row["system"] for row in rows} >= {"inner detector", "calorimeters", "muon system"}
    display.detector_list.shown = {**display.detector_list.shown, "Tile": False}
    assert display.stage.detector["Tile"][0].visible is False
    before = display.stage.detector["Tile"][1][0].opacity
    display.detector_list.opacity = {**display.detector_list.opacity, "Tile": "lots"}
    assert display.stage.detector["Tile"][1][0].opacity == before  # refused
    display.detector_list.opacity = {**display.detector_list.opacity, "Tile": 0.1}
    assert display.stage.detector["Tile"][1][0].opacity == pytest.approx(0.1)
    outlines = [c for c in display.stage.detector["Tile"][0].children if hasattr(c, "material")]
    assert any(child.material.opacity == pytest.approx(0.32) for child in outlines)


def test_preset_buttons_move_the_camera_and_reset_returns(display):
    start = tuple(display.stage.camera.position)
    assert start == preset_view("3D", ASPECT)[0]
    display.view_buttons.value = "End-on (x-y)"
    position = display.stage.camera.position
    assert position[0] == position[1] == 0.0 and position[2] > 0
    display.reset_view()
    assert tuple(display.stage.camera.position) == start


def test_event_objects_are_drawn_after_the_detector(display):
    objects = [*display.objects.visual, *display.objects.pickable]
    assert objects
    assert all(obj.renderOrder == EVENT_RENDER_ORDER > 0 for obj in objects)
    assert all(obj.material.transparent for obj in display.objects.visual)


def test_collections_have_friendly_labels_and_keep_their_real_name():
    assert friendly_name("InDetTrackParticles") == "Tracks (inner detector)"
    assert friendly_name("GSFTrackParticles") == "Electron tracks (GSF)"
    assert friendly_name("AnalysisLargeRJets") == "Large-R jets"
    assert friendly_name("MET") == "Missing energy"
    assert friendly_name("MyOwnJets") == "MyOwnJets"
    event = {
        "Muons": {"AnalysisMuons": [{"pT": 30000.0, "eta": 0.1, "phi": 1.0}]},
        "Jets": {"MyOwnJets": [{"pT": 30000.0, "eta": 0.1, "phi": 1.0, "energy": 4e4}]},
    }
    scene = build_scene(event)
    muons = collection_row(scene.layer("Muons/AnalysisMuons"))
    assert muons["label"] == "Muons"
    assert muons["name"] == "AnalysisMuons"  # the real name, under the label
    own = collection_row(scene.layer("Jets/MyOwnJets"))
    assert own["label"] == "MyOwnJets" and own["name"] == ""  # no repeated name
    assert own["cut_label"] == "pT cut (GeV)" and own["cut"] == 20.0 and own["cut_max"] > 100


def drawn_keys(display) -> set[str]:
    """Layers with objects the student can click in the shown event."""
    return {
        pick.layer_keys[index]
        for pick in display.objects.picks.values()
        for index in np.unique(pick.element_layer)
    }


def test_collection_list_toggles_and_cuts_act_and_ignore_nonsense(display):
    listed = display.collection_list
    for _ in range(20):  # an event with jets
        if display.scene.layer("Jets/AnalysisJets").size:
            break
        display.step(1)
    key = "Jets/AnalysisJets"
    jets = next(row for row in listed.rows if row["key"] == key)
    layer = display.scene.layer(key)
    assert listed.counts[key] == f"{int(layer.passing(20.0).sum())} / {layer.size}"
    assert listed.cut(key) == 20.0 and listed.is_shown(key)

    listed.cuts = {**listed.cuts, key: 0.0}  # as the page sends it when a slider is let go
    assert listed.counts[key] == f"{layer.size} / {layer.size}"
    assert key in drawn_keys(display)
    listed.shown = {**listed.shown, key: False}
    assert not listed.is_shown(key) and key not in drawn_keys(display)
    for nonsense, expected in (("1e9", 20.0), (float("nan"), 20.0), (1e9, jets["cut_max"])):
        listed.cuts = {**listed.cuts, key: nonsense}
        assert listed.cut(key) == expected
    listed.shown = {**listed.shown, key: "yes"}
    assert not listed.is_shown(key)
    listed.param.update(shown={**listed.shown, key: True}, cuts={**listed.cuts, key: 20.0})


def click(display, obj, element: int, point=(100.0, 20.0, 3.0)) -> None:
    """What the page sends for a click on element `element` of the three.js object `obj`."""
    picker = display.stage.picker
    with picker.hold_trait_notifications():
        picker.object, picker.faceIndex, picker.index = obj, element, element
        picker.point = point


def test_every_click_on_an_object_shows_it_but_the_end_of_a_drag_does_not(display):
    obj = display.objects.pickable[0]
    expected = display.selection.physics_object(*display.objects.picks[obj.model_id].resolve(0))
    display.stage.moved_at = 0.0
    for _ in range(3):  # the same spot again and again, as a student clicking twice
        display.focus = None
        click(display, obj, 0)
        assert display.focus == expected
    display.focus = None
    position = display.stage.camera.position
    # The page sends the same position back, rounded: not a drag.
    display.stage.camera.position = tuple(value * (1 + 1e-12) for value in position)
    click(display, obj, 0)
    assert display.focus == expected
    display.focus = None
    display.stage.camera.position = tuple(value * 1.1 for value in position)  # a drag just ended
    click(display, obj, 0)
    assert display.focus is None
    display.stage.camera.position = position


def test_kept_pickable_geometries_span_the_world_for_every_event(display):
    """three.js keeps a geometry's first bounding sphere: it must hold any later event."""
    from app.display.objects3d import world_extent

    corner = world_extent()
    kept = None
    for _ in range(4):
        display.step(1)
        kept = kept or {obj.model_id for obj in display.objects.pickable}
        for obj in display.objects.pickable:
            position = np.asarray(obj.geometry.attributes["position"].array)
            assert np.allclose(position.min(axis=0), -corner)
            assert np.allclose(position.max(axis=0), corner)
    assert kept & {obj.model_id for obj in display.objects.pickable}  # the same objects


def test_lighter_mixes_towards_white():
    assert lighter("#000000", 0.5) == "#808080"
    assert lighter("#d9534f", 0.0) == "#d9534f" and lighter("#d9534f", 1.0) == "#ffffff"


def test_end_on_and_side_views_are_orthographic_projections(display):
    from app.display.camera import framed_extent, orthographic_frame

    radius, half_length = framed_extent()
    for name in ("End-on (x-y)", "Side (z-y)"):
        display.view_buttons.value = name
        camera = display.stage.renderer.camera
        assert type(camera).__name__ == "OrthographicCamera"
        assert display.stage.renderer.controls[0].enableRotate is False
        assert display.stage.renderer.controls[1] is display.stage.picker
        half_width, half_height = orthographic_frame(name, ASPECT)
        assert (camera.right, camera.top) == (half_width, half_height)
        across = half_length if name.startswith("Side") else radius
        assert 0.85 < max(across / half_width, radius / half_height) <= 1.0  # framed, all in
        threshold = display.stage.picker.pointThreshold
        assert threshold == pytest.approx(max(5.0, 8.0 * 2 * half_height / 560))
    display.reset_view()
    assert type(display.stage.renderer.camera).__name__ == "PerspectiveCamera"
    assert display.stage.renderer.controls[0] is display.stage.orbit
