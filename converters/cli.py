"""`eventlab convert` and `eventlab columns`: the converters on the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from converters.errors import EventLabError
from converters.inputs import expand_inputs
from converters.selection import Selection, parse_event_numbers, parse_ranges

INPUT_HELP = (
    "PHYSLITE file(s) or ATLAS education ntuple(s): local paths, globs ('data/*.root'),"
    " URLs (https://, root://) or @FILE: a list of paths and URLs, one a line"
)


def positive_int(text: str) -> int:
    """An argparse type for counts that must be at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """The event-selection options shared by both subcommands."""
    group = parser.add_argument_group("which events")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--events", metavar="RANGES", help="entry indices over all inputs, e.g. 0:20 or 0:10,15"
    )
    choice.add_argument(
        "--event-numbers", metavar="N,M,...", help="ATLAS event numbers, e.g. 7608691,7608287"
    )
    choice.add_argument(
        "--select",
        metavar="EXPR",
        help='a cut over the per-event columns, e.g. "n_muons >= 2 & met > 30"',
    )
    group.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N events")


def selection_from(args: argparse.Namespace) -> Selection:
    """The Selection the command-line options describe."""
    return Selection(
        ranges=parse_ranges(args.events) if args.events else (),
        event_numbers=parse_event_numbers(args.event_numbers)
        if args.event_numbers
        else frozenset(),
        expression=args.select,
        max_events=args.max_events,
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `convert` and `columns`."""
    convert = subparsers.add_parser(
        "convert",
        help="PHYSLITE -> event display JSON (Phoenix format)",
        description="Convert PHYSLITE files or education ntuples to Phoenix event-display JSON.",
    )
    convert.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    convert.add_argument(
        "-o", "--output", type=Path, help="output .json or .json.gz (default: INPUT.json)"
    )
    add_selection_options(convert)
    convert.set_defaults(func=run_convert)

    columns = subparsers.add_parser(
        "columns",
        help="PHYSLITE -> flat per-event columns (parquet/CSV)",
        description="Write one row per event (GeV) for the histogram lab.",
    )
    columns.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    columns.add_argument("-o", "--output", type=Path, required=True, help="output .parquet or .csv")
    add_selection_options(columns)
    for name, default in (("leptons", 4), ("jets", 4), ("photons", 2)):
        columns.add_argument(
            f"--max-{name}",
            type=positive_int,
            default=default,
            metavar="N",
            help=f"columns for the N leading {name} (default {default})",
        )
    columns.set_defaults(func=run_columns)


def default_output(first_input: str) -> Path:
    """INPUT.json next to where the command runs."""
    name = first_input.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "events"
    return Path(Path(name).stem + ".json")


def report(command: str, summary, output: Path) -> None:
    """Warnings about skipped collections, then the one summary line."""
    for source, skipped in summary.skipped.items():
        print(f"warning: {source} has no {', '.join(skipped)}; skipped", file=sys.stderr)
    if summary.missing_event_numbers:
        missing = ", ".join(str(n) for n in sorted(summary.missing_event_numbers))
        print(f"warning: event numbers not found: {missing}", file=sys.stderr)
    from converters.file_problems import human_size

    size = output.stat().st_size / 1e6
    rate = summary.entries_read / summary.seconds if summary.seconds else 0.0
    entries = "entry" if summary.entries_read == 1 else "entries"
    print(
        f"eventlab {command}: {summary.events} events from {summary.inputs} file(s)"
        f" ({len(summary.collections)} collections) -> {output} ({size:.2f} MB)"
        f" in {summary.seconds:.1f} s ({summary.entries_read:,} {entries} read at {rate:,.0f}"
        f" events/s, {human_size(summary.bytes_read)} from the input)"
    )


def run_convert(args: argparse.Namespace) -> int:
    """The `convert` subcommand."""
    from converters.pipeline import write_display_json

    inputs = expand_inputs(args.inputs)
    output = args.output or default_output(inputs[0])
    check_output(output)
    summary = write_display_json(inputs, output, selection_from(args), progress=True)
    report("convert", summary, output)
    return 0


def run_columns(args: argparse.Namespace) -> int:
    """The `columns` subcommand."""
    from converters.pipeline import write_columns

    inputs = expand_inputs(args.inputs)
    check_output(args.output)
    summary = write_columns(
        inputs,
        args.output,
        selection_from(args),
        max_leptons=args.max_leptons,
        max_jets=args.max_jets,
        max_photons=args.max_photons,
        progress=True,
    )
    report("columns", summary, args.output)
    return 0


def check_output(output: Path) -> None:
    """Refuse outputs that cannot be written before reading any input."""
    if output.is_dir():
        raise EventLabError(f"{output}: is a folder; give a file name")
    if not output.parent.exists():
        raise EventLabError(f"{output.parent}: output folder does not exist")
