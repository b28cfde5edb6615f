"""`eventlab convert` and `eventlab columns`: the converters on the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from converters.errors import EventLabError
from converters.inputs import expand_inputs
from converters.selection import Selection, parse_event_numbers, parse_ranges

INPUT_HELP = (
    "PHYSLITE file(s) or ATLAS education ntuple(s): local paths, globs ('data/*.root'),"
    " URLs (https://, root://) or @FILE: a list of paths and URLs, one a line"
)


def whole_number_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type for whole numbers of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            least = "0 or more" if minimum == 0 else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {least}, got {value}")
        return value

    return parse


TABLE_SUFFIXES = (".parquet", ".csv")
DISPLAY_SUFFIXES = (".json", ".json.gz")
positive_int = whole_number_at_least(1)
non_negative_int = whole_number_at_least(0)


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


def add_parallel_options(parser: argparse.ArgumentParser) -> None:
    """Where the chunks are computed: this process, local Dask workers, or a Dask cluster."""
    group = parser.add_argument_group("parallel runs (Dask)")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=non_negative_int,
        metavar="N",
        help="run on a local Dask cluster of N worker processes (0: one per CPU)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a running Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need"
        " EventLab and must see the same input and output paths)",
    )
    group.add_argument(
        "--chunk-entries",
        type=positive_int,
        metavar="N",
        help="entries per chunk, each written as one part (default 20000; cut at clusters)",
    )


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
        "-o",
        "--output",
        type=Path,
        help="output .json or .json.gz (default: INPUT.json), or a FOLDER (no extension): one"
        " Phoenix JSON part per chunk with a manifest; rerunning the same command completes it",
    )
    add_selection_options(convert)
    add_parallel_options(convert)
    convert.set_defaults(func=run_convert)

    columns = subparsers.add_parser(
        "columns",
        help="PHYSLITE -> flat per-event columns (parquet/CSV)",
        description="Write one row per event (GeV) for the histogram lab.",
    )
    columns.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    columns.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output .parquet or .csv file, or a FOLDER (no extension): a parquet dataset of"
        " parts with a manifest; rerunning the same command completes it",
    )
    add_selection_options(columns)
    add_parallel_options(columns)
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


def report_warnings(summary) -> None:
    """Warnings about skipped collections and event numbers not found."""
    for source, skipped in summary.skipped.items():
        print(f"warning: {source} has no {', '.join(skipped)}; skipped", file=sys.stderr)
    if summary.missing_event_numbers:
        missing = ", ".join(str(n) for n in sorted(summary.missing_event_numbers))
        print(f"warning: event numbers not found: {missing}", file=sys.stderr)


def report(command: str, summary, output: Path) -> None:
    """Warnings about skipped collections, then the one summary line."""
    report_warnings(summary)
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
    folder = dataset_output(output, DISPLAY_SUFFIXES)
    if folder or args.workers is not None or args.scheduler is not None:
        from converters.parts import DisplayJob

        args.output = output
        return run_in_parts(args, inputs, DisplayJob(selection_from(args)), folder)
    check_output(output)
    summary = write_display_json(inputs, output, selection_from(args), progress=True)
    report("convert", summary, output)
    return 0


def run_columns(args: argparse.Namespace) -> int:
    """The `columns` subcommand."""
    inputs = expand_inputs(args.inputs)
    limits = {
        "max_leptons": args.max_leptons,
        "max_jets": args.max_jets,
        "max_photons": args.max_photons,
    }
    folder = dataset_output(args.output, TABLE_SUFFIXES)
    if folder or args.workers is not None or args.scheduler is not None:
        from converters.parts import ColumnsJob

        return run_in_parts(args, inputs, ColumnsJob(selection_from(args), limits), folder)
    from converters.pipeline import write_columns

    check_output(args.output)
    summary = write_columns(inputs, args.output, selection_from(args), **limits, progress=True)
    report("columns", summary, args.output)
    return 0


def dataset_output(output: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether `-o` names a dataset folder; extensions other than `suffixes` are refused."""
    name = output.name.lower()
    if output.is_dir() or not output.suffix:
        return True
    if not name.endswith(suffixes):
        allowed = " or ".join(suffixes)
        raise EventLabError(
            f"{output}: the output must end in {allowed}, or name a folder (no extension)"
        )
    return False


def run_in_parts(args: argparse.Namespace, inputs: list[str], job, folder: bool) -> int:
    """A job cut into chunks: into a dataset folder, or one file joined from its parts."""
    from converters.cluster import runner_for
    from converters.dataset import CHUNK_ENTRIES, write_dataset, write_joined_file

    if not folder:
        check_output(args.output)
    write = write_dataset if folder else write_joined_file
    with runner_for(args.workers, args.scheduler) as runner:
        summary = write(
            inputs, args.output, job, runner, args.chunk_entries or CHUNK_ENTRIES, progress=True
        )
    report_parts(job, summary, args.output, folder)
    return 0


def report_parts(job, summary, output: Path, folder: bool) -> None:
    """Warnings, then the one summary line of a run made of parts."""
    from converters.file_problems import human_size
    from converters.manifest import part_files

    report_warnings(summary)
    files = part_files(output, job.suffix) if folder else [output]
    size = sum(path.stat().st_size for path in files) / 1e6
    rate = summary.entries_read / summary.seconds if summary.seconds else 0.0
    before = f", {summary.parts_before} done before" if summary.parts_before else ""
    print(
        f"eventlab {job.command}: {summary.events:,} events from {summary.inputs} file(s)"
        f" in {summary.parts} parts{before} -> {output}{'/' if folder else ''} ({size:.2f} MB)"
        f" in {summary.seconds:.1f} s {summary.where} ({summary.entries_read:,} entries read"
        f" at {rate:,.0f} events/s, {human_size(summary.bytes_read)} from the input)"
    )


def check_output(output: Path) -> None:
    """Refuse outputs that cannot be written before reading any input."""
    if output.is_dir():
        raise EventLabError(f"{output}: is a folder; give a file name")
    if not output.parent.exists():
        raise EventLabError(f"{output.parent}: output folder does not exist")
