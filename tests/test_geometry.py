"""The detector description, its meshes, 2D sections and the OBJ / glTF exports."""

from __future__ import annotations

import argparse
import base64
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from converters.errors import EventLabError
from geometry import cli as geometry_cli
from geometry import shapes
from geometry.build import (
    Mesh,
    build_detector,
    build_part,
    load_parts,
    mesh_totals,
    meshes_by_group,
    meshes_by_system,
    section_outlines,
)
from geometry.export import export_meshes, write_gltf, write_obj
from geometry.spec import DEFAULT_GEOMETRY, SYSTEMS, GeometryError

EXPECTED_GROUPS = {
    "Beam pipe",
    "Pixel",
    "SCT",
    "TRT",
    "Solenoid",
    "LAr EM",
    "LAr hadronic/forward",
    "Tile",
    "Muon barrel",
    "Muon end-cap",
    "Toroids",
}
DOCUMENTS = ("JINST 3 S08003", "LHCC-2010-013")
COMPONENT_BYTES = {5126: 4, 5125: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC3": 3}


@pytest.fixture(scope="module")
def parts() -> list[dict]:
    """The parts of the bundled ATLAS description."""
    return load_parts()


@pytest.fixture(scope="module")
def detector() -> list[Mesh]:
    """The bundled detector at the default resolution."""
    return build_detector()


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed mesh; positive when its triangles wind outward."""
    v = vertices.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def merged_positions(vertices: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """Each vertex replaced by the first vertex within `tolerance` of it (float32 noise merged)."""
    points = vertices.astype(np.float64)
    _, nearest = cKDTree(points).query(points, k=8, distance_upper_bound=tolerance)
    nearest = np.where(nearest < len(points), nearest, len(points))
    return points[nearest.min(axis=1)]


def unmatched_edges(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Directed edges (by position) without their reverse: 0 for a closed, consistent surface."""
    keys = merged_positions(vertices)
    tri = keys[faces]  # (M, 3, 3)
    starts, ends = tri, np.roll(tri, -1, axis=1)
    forward = Counter(map(tuple, np.concatenate([starts, ends], axis=2).reshape(-1, 6).tolist()))
    backward = Counter(map(tuple, np.concatenate([ends, starts], axis=2).reshape(-1, 6).tolist()))
    return sum((forward - backward).values()) + sum((backward - forward).values())


def part_envelope(part: dict) -> tuple[float, float, float, float]:
    """Smallest and largest R and |z| (or z) a part's vertices may have, from its YAML fields."""
    shape = part["shape"]
    if shape == "tube":
        return part["rmin"], part["rmax"], part["zmin"], part["zmax"]
    if shape == "polygon":
        corner = 1.0 / np.cos(np.pi / part["sides"])
        return part["rmin"], part["rmax"] * corner, part["zmin"], part["zmax"]
    if shape == "layers":
        half = part["thickness"] / 2
        corner = 1.0 / np.cos(np.pi / min(part["sides"])) if part["sides"] else 1.0
        rmax = (part["radii"][-1] + half) * corner
        return part["radii"][0] - half, rmax, part["zmin"], part["zmax"]
    if shape == "disks":
        half = part["thickness"] / 2
        return part["rmin"], part["rmax"], part["z"][0] - half, part["z"][-1] + half
    if shape == "coils":
        return (
            part["rmin"],
            np.hypot(part["rmax"], part["thickness"] / 2),
            part["zmin"],
            part["zmax"],
        )
    raise AssertionError(f"no envelope for shape {shape}")


def write_yaml(tmp_path: Path, parts: list[dict]) -> Path:
    """A geometry file holding `parts`."""
    path = tmp_path / "detector.yaml"
    path.write_text(yaml.safe_dump({"units": "mm", "parts": parts}, sort_keys=False))
    return path


def a_tube(**changes) -> dict:
    """A valid tube part, with some fields changed."""
    part = {
        "name": "Test tube",
        "system": "inner detector",
        "group": "TRT",
        "shape": "tube",
        "rmin": 100.0,
        "rmax": 200.0,
        "zmin": -300.0,
        "zmax": 300.0,
        "color": "#336699",
        "opacity": 0.5,
        "visible": True,
        "source": "test value",
    }
    part.update(changes)
    return part


# --------------------------------------------------------------------------- the YAML data


def test_every_part_names_its_source_document(parts):
    raw = yaml.safe_load(DEFAULT_GEOMETRY.read_text())["parts"]
    assert len(raw) == len(parts) >= 20
    for part in raw:
        source = part.get("source", "")
        assert isinstance(source, str) and len(source) > 40, part["name"]
        assert any(document in source for document in DOCUMENTS), part["name"]


def test_every_part_has_ordered_positive_dimensions(parts):
    for part in parts:
        rmin, rmax, zmin, zmax = part_envelope(part)
        assert 0 < rmin < rmax, part["name"]
        assert zmin < zmax, part["name"]
        assert rmax < 13_000 and max(abs(zmin), abs(zmax)) < 23_000, part["name"]
        assert 0 < part["opacity"] <= 1 and part["color"].startswith("#")


def test_inner_detector_sits_inside_the_solenoid_and_calorimeters_outside(parts):
    by_name = {part["name"]: part for part in parts}
    solenoid = by_name["Solenoid"]
    for part in parts:
        rmax = part_envelope(part)[1]
        if part["system"] == "inner detector":
            assert rmax < solenoid["rmin"], part["name"]
        if part["name"].startswith("LAr EM barrel") or part["name"].startswith("Tile"):
            assert part_envelope(part)[0] > solenoid["rmax"], part["name"]


def test_the_description_covers_all_systems_and_toggle_groups(detector):
    assert list(meshes_by_system(detector)) == list(SYSTEMS)
    assert set(meshes_by_group(detector)) == EXPECTED_GROUPS
    assert sum(len(items) for items in meshes_by_system(detector).values()) == len(detector)


def test_default_look_keeps_the_event_in_view(detector):
    by_group = meshes_by_group(detector)
    assert all(mesh.visible for mesh in by_group["Beam pipe"])
    assert all(not mesh.visible for mesh in by_group["Toroids"] + by_group["Muon end-cap"])
    for mesh in by_group["Muon barrel"] + by_group["Tile"] + by_group["TRT"]:
        assert mesh.opacity <= 0.1, mesh.name


# --------------------------------------------------------------------------- meshes


@pytest.mark.parametrize("segments", [8, 24, 48])
def test_tube_has_eight_vertices_and_faces_per_segment(segments):
    part = load_parts(DEFAULT_GEOMETRY)[0]
    assert part["shape"] == "tube" and not part["mirror"]
    mesh = build_part(part, segments=segments)
    assert mesh.n_vertices == 8 * segments
    assert mesh.n_faces == 8 * segments
    mirrored = build_part({**part, "zmin": 10.0, "mirror": True}, segments=segments)
    assert mirrored.n_vertices == 16 * segments and mirrored.n_faces == 16 * segments


def test_polygon_shell_has_flat_sides():
    vertices, faces = shapes.shell(90.0, 110.0, -5.0, 5.0, sides=16)
    assert len(vertices) == 4 * 2 * 2 * 16 and len(faces) == 4 * 2 * 16
    radius = np.hypot(vertices[:, 0], vertices[:, 1])
    np.testing.assert_allclose(radius.max(), 110.0 / np.cos(np.pi / 16))
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    normals = np.cross(b - a, c - a)
    radial = normals[np.abs(normals[:, 2]) < 1e-9]
    phi = np.degrees(np.arctan2(radial[:, 1], radial[:, 0])) % 360
    np.testing.assert_allclose(np.unique(np.round(phi, 6)), np.arange(0, 360, 22.5))


def test_vertices_stay_within_each_part_range(parts, detector):
    for part, mesh in zip(parts, detector, strict=True):
        rmin, rmax, zmin, zmax = part_envelope(part)
        radius = np.hypot(mesh.vertices[:, 0], mesh.vertices[:, 1])
        z = np.abs(mesh.vertices[:, 2]) if part.get("mirror") else mesh.vertices[:, 2]
        tolerance = 1e-3 * rmax
        assert radius.min() >= rmin - tolerance, part["name"]
        assert radius.max() <= rmax + tolerance, part["name"]
        assert z.min() >= zmin - 1e-3 and z.max() <= zmax + 1e-3, part["name"]
        assert z.max() == pytest.approx(zmax, abs=1e-2), part["name"]


def test_faces_index_existing_vertices_and_have_area(detector):
    for mesh in detector:
        assert mesh.vertices.dtype == np.float32 and mesh.vertices.shape[1] == 3
        assert mesh.faces.dtype == np.uint32 and mesh.faces.shape[1] == 3
        assert mesh.faces.max() < mesh.n_vertices
        assert np.unique(mesh.faces).size == mesh.n_vertices, f"{mesh.name}: unused vertices"
        v = mesh.vertices.astype(np.float64)
        area = np.linalg.norm(
            np.cross(
                v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]]
            ),
            axis=1,
        )
        assert area.min() > 0, mesh.name
        assert not mesh.vertices.flags.writeable and not mesh.faces.flags.writeable


def test_every_part_is_closed_and_wound_outward(detector):
    for mesh in detector:
        assert unmatched_edges(mesh.vertices, mesh.faces) == 0, mesh.name
        assert signed_volume(mesh.vertices, mesh.faces) > 0, mesh.name


def test_tube_normals_point_away_from_the_solid():
    rmin, rmax, zmin, zmax = 100.0, 150.0, 200.0, 260.0
    vertices, faces = shapes.shell(rmin, rmax, zmin, zmax, segments=32)
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = tri.mean(axis=1)
    radial = np.column_stack([centre[:, 0], centre[:, 1], np.zeros(len(centre))])
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    radius = np.hypot(centre[:, 0], centre[:, 1])
    on_cap = np.isclose(centre[:, 2], zmin) | np.isclose(centre[:, 2], zmax)
    outer = ~on_cap & (radius > (rmin + rmax) / 2)
    inner = ~on_cap & ~outer
    assert (np.einsum("ij,ij->i", normal[outer], radial[outer]) > 0).all()
    assert (np.einsum("ij,ij->i", normal[inner], radial[inner]) < 0).all()
    assert (np.sign(normal[on_cap, 2]) == np.sign(centre[on_cap, 2] - (zmin + zmax) / 2)).all()
    mirrored_vertices, mirrored_faces = shapes.mirror_z((vertices, faces))
    assert signed_volume(mirrored_vertices, mirrored_faces) > 0


@settings(max_examples=40, deadline=None)
@given(
    rmin=st.floats(1.0, 5000.0),
    thickness=st.floats(0.5, 3000.0),
    zmin=st.floats(-20000.0, 20000.0),
    length=st.floats(0.5, 20000.0),
    segments=st.integers(3, 96),
    flat=st.booleans(),
)
def test_shell_volume_matches_its_polygon_cross_section(
    rmin, thickness, zmin, length, segments, flat
):
    rmax = rmin + thickness
    kind = {"sides": segments} if flat else {"segments": segments}
    vertices, faces = shapes.shell(rmin, rmax, zmin, zmin + length, **kind)
    n = segments
    if flat:  # apothem r: area n r^2 tan(pi/n)
        area = n * np.tan(np.pi / n) * (rmax**2 - rmin**2)
    else:  # circumradius r: area n/2 r^2 sin(2 pi/n)
        area = 0.5 * n * np.sin(2 * np.pi / n) * (rmax**2 - rmin**2)
    assert signed_volume(vertices, faces) == pytest.approx(area * length, rel=1e-6)
    assert unmatched_edges(vertices, faces) == 0


def test_coils_have_the_volume_of_their_frames(parts):
    part = next(part for part in parts if part["shape"] == "coils" and not part["mirror"])
    mesh = build_part(part)
    height, length, width = part["rmax"] - part["rmin"], part["zmax"] - part["zmin"], part["width"]
    frame = height * length - (height - 2 * width) * (length - 2 * width)
    expected = part["count"] * part["thickness"] * frame
    assert signed_volume(mesh.vertices, mesh.faces) == pytest.approx(expected, rel=1e-5)
    azimuth = np.degrees(np.arctan2(mesh.vertices[:, 1], mesh.vertices[:, 0])) % 360
    coil_planes = np.round((azimuth - part["phi0"]) / (360 / part["count"])) % part["count"]
    assert set(coil_planes.astype(int)) == set(range(part["count"]))


def test_whole_detector_fits_the_size_budget(detector):
    totals = mesh_totals(detector)
    assert totals["parts"] == len(detector)
    assert totals["vertices"] < 60_000 and totals["faces"] < 60_000
    assert totals["bytes"] < 2_000_000
    assert totals["bytes"] == sum(m.vertices.nbytes + m.faces.nbytes for m in detector)


def test_segments_refine_round_parts_only():
    coarse, fine = build_detector(segments=24), build_detector(segments=96)
    for low, high in zip(coarse, fine, strict=True):
        if low.name == "Beam pipe":
            assert high.n_vertices == 4 * low.n_vertices
        if low.name.startswith("Muon barrel"):
            assert high.n_vertices == low.n_vertices
    with pytest.raises(GeometryError, match="segments"):
        build_detector(segments=2)


# --------------------------------------------------------------------------- 2D sections


def test_end_on_section_shows_barrel_parts_at_their_radii(parts, detector):
    outlines = section_outlines(detector, plane="xy")
    groups = {group for group, _ in outlines}
    assert {"Beam pipe", "Pixel", "SCT", "TRT", "LAr EM", "Tile", "Muon barrel"} <= groups
    assert "Muon end-cap" not in groups  # the wheels do not cross z = 0
    beam_pipe = next(line for group, line in outlines if group == "Beam pipe")
    points = beam_pipe[~np.isnan(beam_pipe).any(axis=1)]
    radius = np.hypot(points[:, 0], points[:, 1])
    part = parts[0]
    assert radius.min() == pytest.approx(part["rmin"], rel=1e-2)
    assert radius.max() == pytest.approx(part["rmax"], rel=1e-4)


def test_side_section_spans_the_part_length(detector):
    outlines = dict(section_outlines(detector[:1], plane="zy"))
    line = outlines["Beam pipe"]
    assert line.dtype == np.float32 and line.shape[1] == 2
    points = line[~np.isnan(line).any(axis=1)]
    assert points[:, 0].min() == pytest.approx(-3512) and points[:, 0].max() == pytest.approx(3512)
    assert (points[:, 1] > 0).any() and (points[:, 1] < 0).any()
    with pytest.raises(GeometryError, match="plane"):
        section_outlines(detector, plane="rz")


# --------------------------------------------------------------------------- exports


def test_obj_export_parses_back(tmp_path, detector):
    path = write_obj(detector, tmp_path / "atlas.obj")
    lines = path.read_text().splitlines()
    kinds = Counter(line.split(" ", 1)[0] for line in lines if line and not line.startswith("#"))
    totals = mesh_totals(detector)
    assert kinds["g"] == kinds["o"] == kinds["usemtl"] == len(detector)
    assert kinds["v"] == totals["vertices"] and kinds["f"] == totals["faces"]
    indices = np.array([line.split()[1:] for line in lines if line.startswith("f ")], dtype=int)
    assert indices.min() == 1 and indices.max() == totals["vertices"]
    materials = (tmp_path / "atlas.mtl").read_text()
    assert materials.count("newmtl ") == len(detector)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.mtl", "atlas.obj"]


def check_gltf(document: dict, blob: bytes, meshes: list[Mesh]) -> None:
    """Assert that a glTF document and its buffer hold exactly `meshes`."""
    assert document["asset"]["version"] == "2.0"
    assert len(document["meshes"]) == len(document["nodes"]) == len(meshes)
    assert [node["name"] for node in document["nodes"]] == [mesh.name for mesh in meshes]
    assert document["buffers"][0]["byteLength"] == len(blob)
    for accessor in document["accessors"]:
        view = document["bufferViews"][accessor["bufferView"]]
        size = COMPONENT_BYTES[accessor["componentType"]] * TYPE_COMPONENTS[accessor["type"]]
        assert view["byteLength"] == accessor["count"] * size
        assert view["byteOffset"] % 4 == 0 and view["byteOffset"] + view["byteLength"] <= len(blob)
    for mesh, gltf_mesh, material in zip(
        meshes, document["meshes"], document["materials"], strict=True
    ):
        primitive = gltf_mesh["primitives"][0]
        positions = document["accessors"][primitive["attributes"]["POSITION"]]
        indices = document["accessors"][primitive["indices"]]
        assert positions["count"] == mesh.n_vertices and indices["count"] == 3 * mesh.n_faces
        view = document["bufferViews"][positions["bufferView"]]
        start = view["byteOffset"]
        decoded = np.frombuffer(blob, "<f4", positions["count"] * 3, start).reshape(-1, 3)
        np.testing.assert_array_equal(decoded, mesh.vertices)
        np.testing.assert_allclose(positions["min"], mesh.vertices.min(axis=0), rtol=1e-6)
        np.testing.assert_allclose(positions["max"], mesh.vertices.max(axis=0), rtol=1e-6)
        view = document["bufferViews"][indices["bufferView"]]
        decoded_faces = np.frombuffer(blob, "<u4", indices["count"], view["byteOffset"])
        np.testing.assert_array_equal(decoded_faces.reshape(-1, 3), mesh.faces)
        assert material["pbrMetallicRoughness"]["baseColorFactor"][3] == mesh.opacity


def test_gltf_export_parses_back(tmp_path, detector):
    path = export_meshes(detector, tmp_path / "atlas.gltf")
    document = json.loads(path.read_text())
    prefix = "data:application/octet-stream;base64,"
    uri = document["buffers"][0]["uri"]
    assert uri.startswith(prefix)
    check_gltf(document, base64.b64decode(uri[len(prefix) :]), detector)
    assert [p.name for p in tmp_path.iterdir()] == ["atlas.gltf"]


def test_glb_export_parses_back(tmp_path, detector):
    visible = [mesh for mesh in detector if mesh.visible]
    data = write_gltf(detector, tmp_path / "atlas.glb", visible_only=True).read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
    assert bin_type == 0x004E4942
    blob = data[28 + json_length : 28 + json_length + bin_length]
    check_gltf(document, blob[: document["buffers"][0]["byteLength"]], visible)


def test_gltf_scale_gives_metres(tmp_path, detector):
    path = write_gltf(detector[:1], tmp_path / "pipe.gltf", scale=0.001)
    document = json.loads(path.read_text())
    assert document["accessors"][0]["max"][2] == pytest.approx(3.512, rel=1e-6)


def test_export_refuses_unknown_format_and_missing_folder(tmp_path, detector):
    with pytest.raises(GeometryError, match="format"):
        export_meshes(detector, tmp_path / "atlas.stl")
    with pytest.raises(GeometryError, match="does not exist"):
        export_meshes(detector, tmp_path / "no-such-folder" / "atlas.gltf")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rmin": 300.0}, r"'Test tube'.*rmin \(300\) must be smaller than rmax \(200\)"),
        ({"zmin": 400.0}, r"zmin \(400\) must be smaller than zmax"),
        ({"rmin": -1.0}, r"rmin \(-1\) must be > 0"),
        ({"rmax": "wide"}, r"'rmax' must be a number"),
        ({"shape": "sphere"}, r"unknown shape 'sphere'"),
        ({"system": "trigger"}, r"system 'trigger' is not one of"),
        ({"color": "red"}, r"not a hex colour"),
        ({"opacity": 1.5}, r"opacity 1.5 must be a number in \(0, 1\]"),
        ({"source": ""}, r"'source' must be a non-empty text"),
        ({"radius": 3.0}, r"unknown field\(s\) radius"),
        ({"mirror": True}, r"mirrored part needs zmin >= 0"),
    ],
)
def test_bad_part_gets_a_clear_message(tmp_path, change, message):
    path = write_yaml(tmp_path, [a_tube(**change)])
    with pytest.raises(GeometryError, match=message) as caught:
        build_detector(path)
    assert isinstance(caught.value, EventLabError)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_fields_and_duplicate_names_are_reported(tmp_path):
    part = a_tube()
    del part["source"]
    with pytest.raises(GeometryError, match=r"part 1 .*missing field\(s\) source"):
        load_parts(write_yaml(tmp_path, [part]))
    with pytest.raises(GeometryError, match="two parts are named 'Test tube'"):
        load_parts(write_yaml(tmp_path, [a_tube(), a_tube()]))
    with pytest.raises(GeometryError, match=r"needs field\(s\) sides"):
        load_parts(write_yaml(tmp_path, [a_tube(shape="polygon")]))


def test_unreadable_files_get_a_clear_message(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("parts:\n  - name: [unclosed\n")
    with pytest.raises(GeometryError, match="not valid YAML at line 3"):
        load_parts(broken)
    with pytest.raises(GeometryError, match="not found"):
        load_parts(tmp_path / "absent.yaml")
    no_parts = tmp_path / "empty.yaml"
    no_parts.write_text("units: mm\n")
    with pytest.raises(GeometryError, match="'parts' list"):
        load_parts(no_parts)
    inches = write_yaml(tmp_path, [a_tube()])
    inches.write_text(inches.read_text().replace("units: mm", "units: inch"))
    with pytest.raises(GeometryError, match="units must be 'mm'"):
        load_parts(inches)


def test_custom_file_with_every_shape_builds(tmp_path):
    parts = [
        a_tube(name="Round layers", shape="layers", radii=[50.0, 80.0], thickness=2.0),
        a_tube(
            name="Flat layers", shape="layers", radii=[50.0, 80.0], thickness=2.0, sides=[8, 12]
        ),
        a_tube(name="Wheel", shape="polygon", sides=12, zmin=500.0, zmax=600.0, mirror=True),
        {**a_tube(name="Disks", shape="disks", z=[400.0, 450.0], thickness=5.0)},
        a_tube(name="Coils", shape="coils", count=3, width=20.0, thickness=10.0),
    ]
    for part in parts[:2]:
        del part["rmin"], part["rmax"]
    del parts[3]["zmin"], parts[3]["zmax"]
    meshes = build_detector(write_yaml(tmp_path, parts), segments=16)
    counts = [(mesh.n_vertices, mesh.n_faces) for mesh in meshes]
    assert counts == [
        (2 * 8 * 16, 2 * 8 * 16),
        (16 * (8 + 12), 8 * (8 + 12)),
        (2 * 16 * 12, 2 * 8 * 12),
        (2 * 2 * 8 * 16, 2 * 2 * 8 * 16),
        (3 * 4 * 24, 3 * 4 * 12),
    ]
    for mesh in meshes:
        assert unmatched_edges(mesh.vertices, mesh.faces) == 0, mesh.name
        assert signed_volume(mesh.vertices, mesh.faces) > 0, mesh.name
    with pytest.raises(GeometryError, match="one whole number per radius"):
        load_parts(write_yaml(tmp_path, [{**parts[1], "sides": [8]}]))
    with pytest.raises(GeometryError, match="coil bar width"):
        load_parts(write_yaml(tmp_path, [{**parts[4], "width": 60.0}]))


def test_command_lists_and_exports(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    geometry_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["geometry"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "Beam pipe" in listing and "vertices" in listing.splitlines()[-1]
    args = parser.parse_args(["geometry", str(tmp_path / "atlas.glb"), "--visible-only"])
    assert args.func(args) == 0
    assert (tmp_path / "atlas.glb").stat().st_size > 1000
    args = parser.parse_args(["geometry", str(tmp_path / "atlas.stl")])
    with pytest.raises(GeometryError, match="export format"):
        args.func(args)
