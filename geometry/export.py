"""Detector meshes to files other viewers load: Wavefront OBJ (+ MTL) and glTF 2.0 (.gltf, .glb)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from geometry.build import Mesh
from geometry.spec import GeometryError

EXPORT_FORMATS = (".obj", ".gltf", ".glb")
GLTF_FLOAT, GLTF_UNSIGNED_INT = 5126, 5125
GLTF_ARRAY_BUFFER, GLTF_ELEMENT_ARRAY_BUFFER = 34962, 34963
GLTF_TRIANGLES = 4
GLB_MAGIC, GLB_JSON, GLB_BIN = 0x46546C67, 0x4E4F534A, 0x004E4942


def export_meshes(meshes: Iterable[Mesh], path: Path, **options: Any) -> Path:
    """Write `meshes` in the format named by the suffix of `path` (.obj, .gltf or .glb)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return write_obj(meshes, path, **options)
    if suffix in (".gltf", ".glb"):
        return write_gltf(meshes, path, **options)
    raise GeometryError(
        f"cannot tell the export format of {path.name!r}: use one of {', '.join(EXPORT_FORMATS)}"
    )


def write_obj(
    meshes: Iterable[Mesh], path: Path, *, materials: bool = True, visible_only: bool = False
) -> Path:
    """Write an OBJ file with one group per part, and beside it an MTL file of part colours."""
    path = Path(path)
    meshes = _selected(meshes, visible_only)
    mtl_path = path.with_suffix(".mtl")
    text = io.StringIO()
    text.write("# Simplified ATLAS detector, units: mm\n")
    if materials:
        text.write(f"mtllib {mtl_path.name}\n")
    offset = 1  # OBJ indices start at 1 and run over the whole file
    for mesh in meshes:
        label = obj_name(mesh.name)
        text.write(f"\n# {mesh.name} ({mesh.system}, {mesh.group})\no {label}\ng {label}\n")
        np.savetxt(text, mesh.vertices, fmt="v %.3f %.3f %.3f")
        if materials:
            text.write(f"usemtl {label}\n")
        np.savetxt(text, mesh.faces.astype(np.int64) + offset, fmt="f %d %d %d")
        offset += mesh.n_vertices
    if materials:
        _atomic_write(mtl_path, mtl_text(meshes).encode())
    _atomic_write(path, text.getvalue().encode())
    return path


def obj_name(name: str) -> str:
    """A part name as one OBJ token (OBJ splits names at white space)."""
    return re.sub(r"[^0-9A-Za-z_.()-]+", "_", name).strip("_")


def mtl_text(meshes: Iterable[Mesh]) -> str:
    """The MTL materials of the meshes: diffuse colour and opacity per part."""
    lines = ["# Part colours of the simplified ATLAS detector"]
    for mesh in meshes:
        red, green, blue = hex_to_rgb(mesh.color)
        lines += [
            f"\nnewmtl {obj_name(mesh.name)}",
            f"Kd {red:.4f} {green:.4f} {blue:.4f}",
            f"Ka {red:.4f} {green:.4f} {blue:.4f}",
            f"d {mesh.opacity:.3f}",
            "illum 1",
        ]
    return "\n".join(lines) + "\n"


def write_gltf(
    meshes: Iterable[Mesh], path: Path, *, scale: float = 1.0, visible_only: bool = False
) -> Path:
    """Write glTF 2.0: .gltf as JSON with an embedded base64 buffer, .glb as binary glTF.

    Positions stay in mm by default (`scale=1.0`), as event displays such as Phoenix expect;
    use `scale=0.001` for viewers that follow the glTF convention of metres.
    """
    path = Path(path)
    document, blob = gltf_document(_selected(meshes, visible_only), scale=scale)
    if path.suffix.lower() == ".glb":
        _atomic_write(path, glb_bytes(document, blob))
    else:
        uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
        document["buffers"][0]["uri"] = uri
        _atomic_write(path, json.dumps(document, separators=(",", ":")).encode())
    return path


def gltf_document(meshes: Iterable[Mesh], *, scale: float = 1.0) -> tuple[dict[str, Any], bytes]:
    """The glTF JSON (without buffer URI) and its binary buffer: one mesh and node per part."""
    if not np.isfinite(scale) or scale <= 0:
        raise GeometryError(f"scale must be a positive number, got {scale!r}")
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "EventLab geometry export"},
        "scene": 0,
        "scenes": [{"name": "ATLAS (simplified)", "nodes": []}],
        "nodes": [],
        "meshes": [],
        "materials": [],
        "accessors": [],
        "bufferViews": [],
        "buffers": [],
    }
    blob = bytearray()
    for index, mesh in enumerate(meshes):
        positions = (mesh.vertices.astype(np.float64) * scale).astype("<f4")
        indices = mesh.faces.astype("<u4").ravel()
        position_accessor = _add_accessor(
            document, blob, positions, GLTF_FLOAT, "VEC3", GLTF_ARRAY_BUFFER
        )
        document["accessors"][position_accessor]["min"] = positions.min(axis=0).tolist()
        document["accessors"][position_accessor]["max"] = positions.max(axis=0).tolist()
        index_accessor = _add_accessor(
            document, blob, indices, GLTF_UNSIGNED_INT, "SCALAR", GLTF_ELEMENT_ARRAY_BUFFER
        )
        document["materials"].append(_material(mesh))
        primitive = {
            "attributes": {"POSITION": position_accessor},
            "indices": index_accessor,
            "material": index,
            "mode": GLTF_TRIANGLES,
        }
        document["meshes"].append({"name": mesh.name, "primitives": [primitive]})
        extras = {
            "system": mesh.system,
            "group": mesh.group,
            "visible": mesh.visible,
            "source": mesh.source,
        }
        document["nodes"].append({"name": mesh.name, "mesh": index, "extras": extras})
        document["scenes"][0]["nodes"].append(index)
    document["buffers"].append({"byteLength": len(blob)})
    return document, bytes(blob)


def _add_accessor(
    document: dict[str, Any],
    blob: bytearray,
    array: np.ndarray,
    component_type: int,
    kind: str,
    target: int,
) -> int:
    """Append `array` to the buffer with its own buffer view and accessor; the accessor index."""
    _pad(blob, 4)
    document["bufferViews"].append(
        {"buffer": 0, "byteOffset": len(blob), "byteLength": array.nbytes, "target": target}
    )
    blob.extend(np.ascontiguousarray(array).tobytes())
    count = len(array)
    document["accessors"].append(
        {
            "bufferView": len(document["bufferViews"]) - 1,
            "componentType": component_type,
            "count": count,
            "type": kind,
        }
    )
    return len(document["accessors"]) - 1


def _material(mesh: Mesh) -> dict[str, Any]:
    """A glTF PBR material with the part colour (converted to linear) and opacity."""
    linear = [_srgb_to_linear(channel) for channel in hex_to_rgb(mesh.color)]
    material: dict[str, Any] = {
        "name": mesh.name,
        "pbrMetallicRoughness": {
            "baseColorFactor": [*linear, mesh.opacity],
            "metallicFactor": 0.0,
            "roughnessFactor": 0.8,
        },
        "alphaMode": "BLEND" if mesh.opacity < 1.0 else "OPAQUE",
    }
    return material


def glb_bytes(document: dict[str, Any], blob: bytes) -> bytes:
    """Binary glTF: a 12-byte header, the JSON chunk (space padded), the BIN chunk (zero padded)."""
    json_chunk = bytearray(json.dumps(document, separators=(",", ":")).encode())
    _pad(json_chunk, 4, b" ")
    bin_chunk = bytearray(blob)
    _pad(bin_chunk, 4)
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, 2, total),
            struct.pack("<II", len(json_chunk), GLB_JSON),
            bytes(json_chunk),
            struct.pack("<II", len(bin_chunk), GLB_BIN),
            bytes(bin_chunk),
        ]
    )


def hex_to_rgb(colour: str) -> tuple[float, float, float]:
    """'#rrggbb' as three floats in [0, 1]."""
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return red, green, blue


def _srgb_to_linear(channel: float) -> float:
    """An sRGB channel in [0, 1] in linear light, as glTF colour factors are."""
    if channel <= 0.04045:
        return round(channel / 12.92, 6)
    return round(((channel + 0.055) / 1.055) ** 2.4, 6)


def _pad(buffer: bytearray, alignment: int, fill: bytes = b"\x00") -> None:
    """Pad `buffer` in place to a multiple of `alignment` bytes."""
    buffer.extend(fill * (-len(buffer) % alignment))


def _selected(meshes: Iterable[Mesh], visible_only: bool) -> list[Mesh]:
    """The meshes to export; a clear error when there are none."""
    chosen = [mesh for mesh in meshes if mesh.visible or not visible_only]
    if not chosen:
        raise GeometryError("no detector parts to export")
    return chosen


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it."""
    folder = path.parent
    if not folder.is_dir():
        raise GeometryError(f"cannot write {path}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise GeometryError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600 files; an export is meant to be shared
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise GeometryError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
