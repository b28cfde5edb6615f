"""Reading and checking the detector description file (parts as shapes, dimensions in mm)."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import yaml

from converters.errors import EventLabError

DEFAULT_GEOMETRY = Path(__file__).with_name("atlas.yaml")
SYSTEMS = ("inner detector", "calorimeters", "muon system", "magnets")
COMMON_FIELDS = ("name", "system", "group", "shape", "color", "opacity", "visible", "source")

# Per shape: the required fields and the optional ones with their defaults.
SHAPE_FIELDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "tube": (("rmin", "rmax", "zmin", "zmax"), {"mirror": False}),
    "polygon": (("sides", "rmin", "rmax", "zmin", "zmax"), {"phi0": 0.0, "mirror": False}),
    "layers": (("radii", "thickness", "zmin", "zmax"), {"sides": None, "phi0": 0.0}),
    "disks": (("rmin", "rmax", "z", "thickness"), {"mirror": True}),
    "coils": (
        ("count", "rmin", "rmax", "zmin", "zmax", "width", "thickness"),
        {"phi0": 0.0, "mirror": False},
    ),
}
NUMBER_FIELDS = ("rmin", "rmax", "zmin", "zmax", "thickness", "width", "phi0")
INTEGER_FIELDS = ("sides", "count")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class GeometryError(EventLabError):
    """A detector description file that is missing, unreadable or describes impossible shapes."""


def load_parts(path: Path | None = None) -> list[dict[str, Any]]:
    """The parts of a geometry file, checked and with defaults filled in (numbers as float)."""
    path = Path(path) if path is not None else DEFAULT_GEOMETRY
    document = _read_yaml(path)
    if not isinstance(document, dict) or "parts" not in document:
        raise GeometryError(f"{path}: expected a mapping with a 'parts' list at the top level")
    units = document.get("units", "mm")
    if units != "mm":
        raise GeometryError(f"{path}: units must be 'mm', got {units!r}")
    raw_parts = document["parts"]
    if not isinstance(raw_parts, list) or not raw_parts:
        raise GeometryError(f"{path}: 'parts' must be a non-empty list")
    parts = [_check_part(raw, index, path) for index, raw in enumerate(raw_parts, start=1)]
    seen: set[str] = set()
    for part in parts:
        if part["name"] in seen:
            raise GeometryError(f"{path}: two parts are named {part['name']!r}")
        seen.add(part["name"])
    return parts


def _read_yaml(path: Path) -> Any:
    """The parsed YAML document at `path`, or a GeometryError saying why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GeometryError(f"geometry file {path} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GeometryError(f"cannot read geometry file {path}: {error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise GeometryError(f"{path}: not valid YAML{where}: {problem}") from None


def _check_part(raw: Any, index: int, path: Path) -> dict[str, Any]:
    """One part with its fields type-checked, its dimensions checked and defaults filled in."""
    label = f"{path}: part {index}"
    if not isinstance(raw, dict):
        raise GeometryError(f"{label}: expected a mapping of fields, got {type(raw).__name__}")
    if isinstance(raw.get("name"), str) and raw["name"].strip():
        label = f"{path}: part {index} ({raw['name']!r})"
    missing = [field for field in COMMON_FIELDS if field not in raw]
    if missing:
        raise GeometryError(f"{label}: missing field(s) {', '.join(missing)}")
    shape = raw["shape"]
    if shape not in SHAPE_FIELDS:
        known = ", ".join(SHAPE_FIELDS)
        raise GeometryError(f"{label}: unknown shape {shape!r} (known shapes: {known})")
    required, optional = SHAPE_FIELDS[shape]
    missing = [field for field in required if field not in raw]
    if missing:
        raise GeometryError(f"{label}: shape {shape!r} needs field(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - set(COMMON_FIELDS) - set(required) - set(optional))
    if unknown:
        raise GeometryError(f"{label}: unknown field(s) {', '.join(unknown)} for shape {shape!r}")
    part = {**optional, **raw}
    try:
        _check_common(part)
        _check_types(part)
        _check_dimensions(part)
    except GeometryError as error:
        raise GeometryError(f"{label}: {error}") from None
    return part


def _check_common(part: dict[str, Any]) -> None:
    """Check the fields every part has: names, system, colour, opacity, visibility, source."""
    for field in ("name", "group", "source"):
        if not isinstance(part[field], str) or not part[field].strip():
            raise GeometryError(f"'{field}' must be a non-empty text")
        part[field] = " ".join(part[field].split())
    if part["system"] not in SYSTEMS:
        raise GeometryError(f"system {part['system']!r} is not one of {', '.join(SYSTEMS)}")
    if not isinstance(part["color"], str) or not HEX_COLOUR.match(part["color"]):
        raise GeometryError(f"color {part['color']!r} is not a hex colour like '#a0b1c2'")
    opacity = part["opacity"]
    if not _is_number(opacity) or not 0.0 < opacity <= 1.0:
        raise GeometryError(f"opacity {opacity!r} must be a number in (0, 1]")
    part["opacity"] = float(opacity)
    for field in ("visible", "mirror"):
        if field in part and not isinstance(part[field], bool):
            raise GeometryError(f"'{field}' must be true or false, got {part[field]!r}")


def _check_types(part: dict[str, Any]) -> None:
    """Turn number fields into floats and check integer and list fields."""
    for field in NUMBER_FIELDS:
        if field in part:
            if not _is_number(part[field]):
                raise GeometryError(f"'{field}' must be a number, got {part[field]!r}")
            part[field] = float(part[field])
    for field in INTEGER_FIELDS:
        value = part.get(field)
        if value is not None and part["shape"] != "layers" and not _is_whole(value):
            raise GeometryError(f"'{field}' must be a whole number, got {value!r}")
    for field in ("radii", "z"):
        if field in part:
            values = part[field]
            if not isinstance(values, list) or not values or not all(map(_is_number, values)):
                raise GeometryError(f"'{field}' must be a non-empty list of numbers")
            part[field] = [float(value) for value in values]
    if part["shape"] == "layers" and part["sides"] is not None:
        sides = part["sides"]
        if not isinstance(sides, list) or len(sides) != len(part["radii"]):
            raise GeometryError("'sides' must list one whole number per radius")
        if not all(map(_is_whole, sides)):
            raise GeometryError(f"'sides' must hold whole numbers, got {sides!r}")


def _check_dimensions(part: dict[str, Any]) -> None:
    """Check that the dimensions describe a real solid: positive sizes, ordered ranges."""
    shape = part["shape"]
    if "rmin" in part:
        _require(part["rmin"] > 0, f"rmin ({part['rmin']:g}) must be > 0")
        _require(
            part["rmin"] < part["rmax"],
            f"rmin ({part['rmin']:g}) must be smaller than rmax ({part['rmax']:g})",
        )
    if "zmin" in part:
        _require(
            part["zmin"] < part["zmax"],
            f"zmin ({part['zmin']:g}) must be smaller than zmax ({part['zmax']:g})",
        )
    if part.get("mirror") and "zmin" in part:
        _require(part["zmin"] >= 0, f"a mirrored part needs zmin >= 0, got {part['zmin']:g}")
    for field in ("thickness", "width"):
        if field in part:
            _require(part[field] > 0, f"{field} ({part[field]:g}) must be > 0")
    sides = part.get("sides")
    for n in sides if isinstance(sides, list) else [sides]:
        if n is not None:
            _require(n >= 3, f"sides ({n}) must be at least 3")
    if shape == "layers":
        radii = part["radii"]
        _require(
            all(b > a for a, b in itertools.pairwise(radii)),
            "radii must increase",
        )
        _require(
            radii[0] - part["thickness"] / 2 > 0,
            f"the first layer (R = {radii[0]:g}) is thinner than half its thickness",
        )
    if shape == "disks":
        z = part["z"]
        _require(all(b > a for a, b in itertools.pairwise(z)), "disk positions z must increase")
        if part["mirror"]:
            _require(
                z[0] - part["thickness"] / 2 >= 0,
                "mirrored disks must lie at z >= 0 (first disk minus half its thickness)",
            )
    if shape == "coils":
        _require(part["count"] >= 1, f"count ({part['count']}) must be at least 1")
        room = min(part["rmax"] - part["rmin"], part["zmax"] - part["zmin"])
        _require(
            2 * part["width"] < room,
            f"coil bar width ({part['width']:g}) must be less than half the coil size ({room:g})",
        )


def _require(condition: bool, message: str) -> None:
    """Raise GeometryError(message) unless `condition` holds."""
    if not condition:
        raise GeometryError(message)


def _is_number(value: Any) -> bool:
    """Whether `value` is a finite int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole(value: Any) -> bool:
    """Whether `value` is an int (booleans are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)
