"""The `eventlab` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys

from converters.errors import EventLabError

# Each module exposes `add_parser(subparsers)`; the parser it adds sets `func(args) -> int`.
SUBCOMMAND_MODULES = (
    "converters.cli",
    "geometry.cli",
    "app.server",
    "app.histogram.cli",
)
# The module of each subcommand, so that a run imports only its own (a faster start).
MODULE_OF = {
    "convert": "converters.cli",
    "columns": "converters.cli",
    "hist": "app.histogram.cli",
    "serve": "app.server",
    "geometry": "geometry.cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered (or only `command`'s module's)."""
    parser = argparse.ArgumentParser(
        prog="eventlab",
        description="ATLAS open data in the browser: event display, histogram lab, converters.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (MODULE_OF[command],) if command in MODULE_OF else SUBCOMMAND_MODULES
    for name in modules:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; user errors become one clear line on stderr and exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EventLabError as error:
        print(f"eventlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eventlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
