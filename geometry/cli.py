"""The `eventlab geometry` subcommand: list the detector parts or export them for other viewers."""

from __future__ import annotations

import argparse
from pathlib import Path

from geometry.build import DEFAULT_SEGMENTS, build_detector, mesh_totals
from geometry.export import EXPORT_FORMATS, export_meshes


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `geometry` on the `eventlab` command line."""
    parser = subparsers.add_parser(
        "geometry",
        help="list the simplified ATLAS detector or export it (OBJ, glTF)",
        description=(
            "Without OUTPUT, list the detector parts with their mesh sizes. With OUTPUT, export "
            f"the detector; the format follows the suffix ({', '.join(EXPORT_FORMATS)})."
        ),
    )
    parser.add_argument("output", nargs="?", type=Path, help="file to write (.obj, .gltf, .glb)")
    parser.add_argument(
        "--geometry", type=Path, default=None, help="detector description YAML (default: ATLAS)"
    )
    parser.add_argument(
        "--segments",
        type=int,
        default=DEFAULT_SEGMENTS,
        help=f"facets around round parts (default {DEFAULT_SEGMENTS})",
    )
    parser.add_argument(
        "--visible-only", action="store_true", help="leave out parts hidden by default"
    )
    parser.add_argument(
        "--metres", action="store_true", help="glTF positions in metres instead of mm"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """List or export the detector as the arguments ask."""
    meshes = build_detector(args.geometry, segments=args.segments)
    if args.output is None:
        for mesh in meshes:
            shown = "shown" if mesh.visible else "hidden"
            print(
                f"{mesh.name:34} {mesh.system:15} {mesh.group:21} {shown:6} "
                f"{mesh.n_vertices:6d} vertices {mesh.n_faces:6d} faces"
            )
        totals = mesh_totals(meshes)
        print(
            f"{totals['parts']} parts, {totals['vertices']} vertices, {totals['faces']} faces, "
            f"{totals['bytes'] / 1e6:.2f} MB"
        )
        return 0
    options: dict[str, object] = {"visible_only": args.visible_only}
    if args.output.suffix.lower() in (".gltf", ".glb"):
        options["scale"] = 0.001 if args.metres else 1.0
    path = export_meshes(meshes, args.output, **options)
    count = sum(1 for mesh in meshes if mesh.visible or not args.visible_only)
    print(f"wrote {path} ({count} parts)")
    return 0
