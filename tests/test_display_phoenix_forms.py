"""Every object type and form of the Phoenix event format, drawn where Phoenix draws it.

The expected positions are computed here the way HSF Phoenix's phoenix-objects.ts places its
three.js objects (box centres, plane rotations, line ends), independently of the display code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.display.builders import BUILDERS
from app.display.events import looks_like_event, parse_event_bytes
from app.display.objects3d import DrawnLayer, batched
from app.display.scene import build_scene, drawn_objects
from app.display.style import rgb

EVERY_FORM = Path(__file__).parent / "data" / "phoenix_every_form.json"


@pytest.fixture(scope="module")
def event() -> dict:
    """The test event holding each type and form of the format description."""
    return json.loads(EVERY_FORM.read_text())["every form"]


@pytest.fixture(scope="module")
def scene(event):
    """Its scene."""
    return build_scene(event)


def corners_of(layer, index: int) -> np.ndarray:
    """The distinct vertices of one object's triangles."""
    triangles = layer.triangles[layer.triangle_owner == index].reshape(-1, 3)
    return np.unique(np.round(triangles, 6), axis=0)


def centre_of(layer, index: int) -> np.ndarray:
    """The centre of one object's box (mean of its 8 corners)."""
    return corners_of(layer, index).mean(axis=0)


def box_corners(centre, size) -> np.ndarray:
    """The 8 corners of an axis-aligned box, as three.js BoxGeometry(size) moved to `centre`."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    return np.asarray(centre, float) + signs * np.asarray(size, float) / 2.0


def same_points(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two point sets are equal (any order), to 1e-6 mm."""
    order = lambda points: points[np.lexsort(np.round(points, 4).T)]  # noqa: E731
    return first.shape == second.shape and np.allclose(order(first), order(second), atol=1e-6)


def test_every_type_is_built_by_its_own_builder(scene, event):
    assert set(BUILDERS) >= {key for key, value in event.items() if isinstance(value, dict)}
    types = {layer.type for layer in scene.layers}
    assert types == set(BUILDERS)
    assert looks_like_event({"PlanarCaloCells": event["PlanarCaloCells"]})


def test_counts_and_notes_name_what_is_left_out(scene):
    drawn = {layer.key: f"{len(drawn_objects(layer))} / {layer.size}" for layer in scene.layers}
    assert drawn["Hits/Odd"] == "0 / 1"
    assert all(
        count.split(" / ")[0] == count.split(" / ")[1]
        for key, count in drawn.items()
        if key != "Hits/Odd"
    )
    odd = scene.layer("Hits/Odd")
    assert not odd.passing(0.0).any()
    assert scene.notes == [
        "Odd: 1 of 1 objects not drawn (they lack a type EventLab knows ('Spiral' is not one "
        "of Point, CircularPoint, Line, Box))"
    ]


def test_cluster_with_radius_is_drawn_at_that_radius(scene, event):
    """A `radius: 2500` cluster: Phoenix centres its box at cylindrical radius 2500."""
    layer = scene.layer("CaloClusters/C")
    given = event["CaloClusters"]["C"][0]
    centre = centre_of(layer, 0)
    theta = 2 * math.atan(math.exp(-given["eta"]))
    expected = [2500 * math.cos(1.2), 2500 * math.sin(1.2), 2500 / math.tan(theta)]
    np.testing.assert_allclose(centre, expected, atol=1e-6)


def test_cluster_with_z_theta_side_length_colour_and_opacity(scene, event):
    layer = scene.layer("CaloClusters/C")
    given = event["CaloClusters"]["C"][1]
    centre = centre_of(layer, 1)
    rho = 4000 * math.tan(given["theta"])
    np.testing.assert_allclose(centre, [rho * math.cos(-1), rho * math.sin(-1), 4000], atol=1e-6)
    corners = corners_of(layer, 1)
    axis = centre / np.linalg.norm(centre)
    along = (corners - centre) @ axis
    np.testing.assert_allclose(np.ptp(along), 300.0, atol=1e-6)  # its `length`
    across = np.linalg.norm((corners - centre) - np.outer(along, axis), axis=1)
    np.testing.assert_allclose(across, 80 / math.sqrt(2), atol=1e-6)  # its `side`
    np.testing.assert_allclose(layer.colors[1], [0, 0, 1])
    assert np.isnan(layer.colors[0]).all()
    assert layer.object_opacities()[1] == pytest.approx(0.4)
    assert layer.props["eta"][1] == pytest.approx(-math.log(math.tan(0.2)))


def test_cell_with_radius_and_z(scene):
    layer = scene.layer("CaloCells/Cells")
    np.testing.assert_allclose(
        centre_of(layer, 0), [1900 * math.cos(0.1), 1900 * math.sin(0.1), 1200], atol=1e-6
    )
    corners = corners_of(layer, 0)
    assert np.ptp(corners @ (centre_of(layer, 0) / np.linalg.norm(centre_of(layer, 0)))) == (
        pytest.approx(100.0)
    )
    assert len(corners_of(layer, 1)) == 8  # default place and size
    assert layer.kind == "cell"


def phoenix_plane_rotation(normal: np.ndarray) -> np.ndarray:
    """Rotation from z onto `normal` (Rodrigues), as Quaternion.setFromUnitVectors makes it."""
    unit = normal / np.linalg.norm(normal)
    axis = np.cross([0.0, 0.0, 1.0], unit)
    sin, cos = np.linalg.norm(axis), unit[2]
    if sin < 1e-12:
        return np.eye(3) if cos > 0 else np.diag([-1.0, 1.0, -1.0])
    k = axis / sin
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * cross + (1 - cos) * cross @ cross


@pytest.mark.parametrize("collection", ["P", "Tilted"])
def test_planar_cells_sit_on_their_plane(scene, event, collection):
    """BoxGeometry(size, size, 0.22 E), moved to (x, y, d + L/2), turned from z to the normal."""
    layer = scene.layer(f"PlanarCaloCells/{collection}")
    plane = np.array(event["PlanarCaloCells"][collection]["plane"], float)
    rotation = phoenix_plane_rotation(plane[:3])
    for index, cell in enumerate(event["PlanarCaloCells"][collection]["cells"]):
        length = 0.22 * cell["energy"]
        local = box_corners(
            [*cell["pos"], plane[3] + length / 2], [cell["cellSize"]] * 2 + [length]
        )
        assert same_points(corners_of(layer, index), local @ rotation.T)
    if collection == "P":
        np.testing.assert_allclose(layer.colors[1], [1, 1, 0])
    assert layer.size == len(event["PlanarCaloCells"][collection]["cells"])


def test_irregular_cells_are_hulls_of_their_corners(scene, event):
    layer = scene.layer("IrregularCaloCells/I")
    for index, cell in enumerate(event["IrregularCaloCells"]["I"]):
        given = np.array(cell["vtx"], float).reshape(8, 3)
        assert same_points(corners_of(layer, index), given)
    cube = layer.triangles[layer.triangle_owner == 0]
    area = np.linalg.norm(np.cross(cube[:, 1] - cube[:, 0], cube[:, 2] - cube[:, 0]), axis=1) / 2
    assert area.sum() == pytest.approx(6 * 100 * 100)  # each face once, no overlaps
    np.testing.assert_allclose(layer.colors[0], [1.0, 128 / 255, 0.0])
    assert layer.object_opacities()[0] == pytest.approx(0.5)
    np.testing.assert_array_equal(layer.props["layer"], [1, 2])


def test_hits_as_points_lines_and_boxes(scene, event):
    points = scene.layer("Hits/Points")
    np.testing.assert_allclose(points.points, event["Hits"]["Points"])
    np.testing.assert_allclose(scene.layer("Hits/Circles").points, [[1.0, 2.0, 3.0]])
    lines = scene.layer("Hits/Lines")
    expected = np.array([hit["pos"] for hit in event["Hits"]["Lines"]], float).reshape(-1, 2, 3)
    np.testing.assert_allclose(lines.segments, expected)
    # the first hit's colour applies to the collection
    np.testing.assert_allclose(lines.colors, [rgb("#123456")] * 2, atol=1e-6)
    boxes = scene.layer("Hits/Boxes")
    for index, hit in enumerate(event["Hits"]["Boxes"]):
        assert same_points(corners_of(boxes, index), box_corners(hit["pos"][:3], hit["pos"][3:]))


def test_vertices_from_pos_with_size_and_colour(scene):
    layer = scene.layer("Vertices/V")
    # centred on `pos` (Phoenix's getVertex puts z = y, against its own format description)
    np.testing.assert_allclose(corners_of(layer, 0).mean(axis=0), [1.0, -2.0, 30.0], atol=1e-6)
    radius = np.linalg.norm(corners_of(layer, 0) - [1.0, -2.0, 30.0], axis=1)
    np.testing.assert_allclose(radius, 5.0)
    np.testing.assert_allclose(layer.colors[0], [1, 0, 1])


def test_jets_with_theta_et_and_origin(scene, event):
    layer = scene.layer("Jets/J")
    given = event["Jets"]["J"][0]
    triangles = layer.triangles[layer.triangle_owner == 0]
    apex = triangles[0, 0]
    np.testing.assert_allclose(apex, [10.0, -5.0, 20.0])
    base = triangles[len(triangles) // 2, 0]  # base triangles start with the base centre
    axis = (base - apex) / np.linalg.norm(base - apex)
    theta, phi = given["theta"], given["phi"]
    expected = [math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)]
    np.testing.assert_allclose(axis, expected, atol=1e-9)
    assert layer.props["pt"][0] == pytest.approx(50000.0)
    eta = -math.log(math.tan(theta / 2))
    assert layer.props["energy"][0] == pytest.approx(50000.0 * math.cosh(eta))
    np.testing.assert_allclose(layer.colors[0], [0, 1, 0])


def test_tracks_of_two_points_give_way_to_dparams_and_keep_their_colour(scene):
    layer = scene.layer("Tracks/T")
    assert (layer.segment_owner == 1).sum() > 2  # extrapolated, as Phoenix does
    np.testing.assert_allclose(layer.colors[0], [1, 0, 0])
    np.testing.assert_allclose(scene.layer("MissingEnergy/MET").colors[0], [1, 1, 1])


def test_leptons_without_links_take_their_charge_from_pdg_id(scene):
    assert scene.layer("Electrons/E").props["charge"][0] == 1
    assert scene.layer("Muons/M").props["charge"][0] == -1
    assert len(drawn_objects(scene.layer("Photons/G"))) == 1


def test_own_opacities_get_their_own_surfaces(scene):
    layer = scene.layer("IrregularCaloCells/I")
    colors = np.zeros((layer.size, 3))
    batches = batched([DrawnLayer(layer, colors)])
    opacities = sorted(opacity for opacity, _ in batches.surfaces)
    assert opacities == [0.5, pytest.approx(layer.opacity)]


def test_the_file_reads_as_an_event_file():
    file = parse_event_bytes(EVERY_FORM.read_bytes(), EVERY_FORM.name)
    assert file.keys == ("every form",)
    assert file.numbers == ("1234",)
