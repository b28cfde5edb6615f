"""`columns` and `convert` over many inputs in parallel chunks: a folder of parts (parquet or
Phoenix JSON), or one file joined from them.

The inputs are opened where the work runs (their entries and cluster boundaries come back),
cut into chunks at cluster boundaries, and each chunk is written as one part by whoever computes
it, preferably the worker that opened its input and keeps it open (see open_inputs.py).
The manifest keeps the inputs, entry ranges, events and status of every part: a rerun of the
same command does only the parts not yet written, a failed part is retried once and then named
with its error, and the run fails (non-zero exit) while any part is missing.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from converters.errors import EventLabError, SelectionError
from converters.manifest import Manifest, part_files, read_manifest
from converters.open_inputs import borrowed_source
from converters.parts import Chunk, ColumnsJob, DisplayJob, PartResult, write_part
from converters.pipeline import entries_by_cluster
from converters.read import chunk_ranges
from converters.selection import Selection

CHUNK_ENTRIES = 20_000  # entries per chunk (a part): seconds of work each
MANIFEST_EVERY = 2.0  # seconds between manifest updates while parts arrive
Job = ColumnsJob | DisplayJob


@dataclass
class DatasetSummary:
    """What a run in parts did."""

    events: int = 0
    inputs: int = 0
    parts: int = 0
    parts_before: int = 0  # already done by an earlier run
    entries_read: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    workers: int = 1
    where: str = ""
    skipped: dict[str, list[str]] = field(default_factory=dict)
    missing_event_numbers: set[int] = field(default_factory=set)


def input_layout(name: str, job: Job) -> dict:
    """An input's entries and cluster boundaries (and, for --event-numbers, the matches)."""
    selection = job.selection
    with borrowed_source(name, job.planner) as source:
        layout = {
            "entries": source.num_entries,
            "boundaries": source.cluster_boundaries().tolist(),
            "skipped": list(source.skipped),
        }
        if selection.event_numbers:
            matches = np.flatnonzero(selection.number_mask(source.event_numbers()))
            layout["matches"] = matches.tolist()
    return layout


def input_chunks(
    index: int, name: str, layout: dict, offset: int, job: Job, target: int
) -> list[Chunk]:
    """The chunks of one input: its selected entry ranges, cut at cluster boundaries."""
    boundaries = np.asarray(layout["boundaries"], dtype=np.int64)
    selection = job.selection
    spans = selection.local_ranges(offset, layout["entries"])
    if selection.event_numbers and spans:
        entries = np.asarray(layout["matches"], dtype=np.int64)
        inside = np.zeros(len(entries), dtype=bool)
        for start, stop in spans:
            inside |= (entries >= start) & (entries < stop)
        spans = entries_by_cluster(entries[inside], boundaries)
    ranges = [r for start, stop in spans for r in chunk_ranges(boundaries, start, stop, target)]
    return [
        Chunk(index, position, name, start, stop, offset, job.suffix)
        for position, (start, stop) in enumerate(ranges)
    ]


def prepare_folder(folder: Path, job: dict, inputs: list[str]) -> Manifest:
    """The manifest to continue from (same job) or a new one; other folders are refused."""
    if folder.exists() and not folder.is_dir():
        raise EventLabError(f"{folder}: is a file; give a new or empty folder for the dataset")
    if not folder.parent.exists():
        raise EventLabError(f"{folder.parent}: output folder does not exist")
    folder.mkdir(exist_ok=True)
    manifest = read_manifest(folder)
    if manifest is None:
        if any(not path.name.startswith(".") for path in folder.iterdir()):
            raise EventLabError(
                f"{folder}: the folder is not empty and is no EventLab dataset;"
                " give a new or empty folder"
            )
        return Manifest.new(job, inputs)
    if not manifest.same_job(job, inputs):
        raise EventLabError(
            f"{folder}: holds a dataset made from other inputs or options;"
            " remove it or give another folder"
        )
    for leftover in folder.glob(".part-*.partial-*"):  # parts of a run that was stopped
        leftover.unlink(missing_ok=True)
    return manifest


def open_inputs(
    manifest: Manifest, runner, job: Job, target: int, progress: bool
) -> tuple[list[str], dict[int, str | None]]:
    """Open the inputs not opened by an earlier run, plan their chunks.

    Returns the failures, and the worker that opened each input (by its index).
    """
    selection = job.selection
    waiting = [i for i, entry in enumerate(manifest.inputs) if entry["status"] != "done"]
    arguments = [(manifest.inputs[i]["name"], job) for i in waiting]
    for position, layout, error in runner.run(input_layout, arguments, progress):
        entry = manifest.inputs[waiting[position]]
        if error is not None:
            entry.update(status="failed", error=error)
        else:
            entry.update(status="done", error=None, entries=layout["entries"])
            entry["layout"] = layout
    failures = [entry["error"] for entry in manifest.inputs if entry["status"] == "failed"]
    if failures and selection.ranges:
        raise EventLabError(
            "--events counts entries over all inputs, but some cannot be read:\n  "
            + "\n  ".join(failures)
        )
    offset = 0
    for index, entry in enumerate(manifest.inputs):
        layout = entry.pop("layout", None)
        if layout is not None:
            for chunk in input_chunks(index, entry["name"], layout, offset, job, target):
                manifest.parts[chunk.name] = {
                    "input": chunk.source,
                    "input_index": index,
                    "offset": offset,
                    "entries": [chunk.start, chunk.stop],
                    "events": None,
                    "status": "pending",
                }
            entry["skipped"] = layout["skipped"]
        offset += entry.get("entries") or 0
    return failures, dict(zip(waiting, runner.ran_on, strict=True))


def part_chunk(name: str, part: dict, suffix: str) -> Chunk:
    """The chunk a manifest part stands for."""
    start, stop = part["entries"]
    position = int(name.rsplit("-", 1)[1].split(".")[0])
    return Chunk(part["input_index"], position, part["input"], start, stop, part["offset"], suffix)


def write_dataset(
    inputs: Sequence[str],
    folder: str | Path,
    job: Job,
    runner,
    chunk_entries: int = CHUNK_ENTRIES,
    progress: bool = False,
) -> DatasetSummary:
    """Write what `job` makes of `inputs` as a dataset folder of parts, chunk by chunk on
    `runner` (parquet parts of columns, or Phoenix JSON parts of events)."""
    if job.selection.max_events is not None:
        raise EventLabError(
            "--max-events cannot be used for a dataset folder or with --workers/--scheduler"
            " (the parts are made in parallel); use --events to take entries by position"
        )
    started = time.perf_counter()
    folder = Path(folder)
    inputs = list(inputs)
    manifest = prepare_folder(folder, {**job.describe(), "chunk_entries": chunk_entries}, inputs)
    manifest.write(folder)
    summary = DatasetSummary(inputs=len(inputs), workers=runner.workers, where=runner.where)
    failures, opened_on = open_inputs(manifest, runner, job, chunk_entries, progress)
    manifest.write(folder)
    todo = []
    # The inputs opened last are still open on their workers: their chunks go first.
    for name, part in reversed(manifest.parts.items()):
        path = folder / name
        if path.exists():  # written completely (renamed into place) by an earlier run
            if part["status"] != "done":
                part.update(status="done", events=job.events_in(path), error=None)
            summary.parts_before += 1
        else:
            part.update(status="pending", events=None)
            todo.append(name)
    job = replace(job, prefetch=runner.prefetch)
    arguments = [
        (part_chunk(name, manifest.parts[name], job.suffix), job, str(folder)) for name in todo
    ]
    opened = [opened_on.get(manifest.parts[name]["input_index"]) for name in todo]
    places = shared_out(opened, runner.workers)
    found: set[int] = set()
    last_write = time.monotonic()
    try:
        for position, result, error in runner.run(write_part, arguments, progress, places):
            part = manifest.parts[todo[position]]
            if error is not None:
                part.update(status="failed", error=error)
                label = part_chunk(todo[position], part, job.suffix).label
                failures.append(error if error.startswith(part["input"]) else f"{label}: {error}")
                continue
            record(part, result, summary, found)
            if time.monotonic() - last_write > MANIFEST_EVERY:
                manifest.write(folder)
                last_write = time.monotonic()
    finally:
        manifest.write(folder)
    summary.parts = len(manifest.parts)
    summary.events = manifest.events
    summary.skipped = {e["name"]: e["skipped"] for e in manifest.inputs if e.get("skipped")}
    summary.missing_event_numbers = set(job.selection.event_numbers) - found
    summary.seconds = time.perf_counter() - started
    if failures:
        raise EventLabError(
            f"{len(failures)} input(s) or part(s) failed"
            f" ({summary.events:,} events written to {folder}; run the same command again"
            " to retry only what is missing):\n  " + "\n  ".join(failures)
        )
    if not summary.events:
        raise_nothing_selected(job.selection)
    return summary


def shared_out(places: Sequence[str | None], workers: int) -> list[str | None]:
    """Each task at its place until that worker has an equal share of the tasks; the rest anywhere.

    A worker that happened to open more inputs would otherwise finish last, while the others wait.
    """
    share = math.ceil(len(places) / max(1, workers))
    given: Counter[str] = Counter()
    kept: list[str | None] = []
    for place in places:
        if place is not None and given[place] < share:
            given[place] += 1
            kept.append(place)
        else:
            kept.append(None)
    return kept


def record(part: dict, result: PartResult, summary: DatasetSummary, found: set[int]) -> None:
    """Note one written part in the manifest and the summary."""
    part.update(status="done", events=result.events, error=None)
    summary.entries_read += result.entries
    summary.bytes_read += result.bytes_read
    found.update(result.found_numbers)


def raise_nothing_selected(selection: Selection) -> None:
    """The error for a run whose selection kept no event."""
    if selection.event_numbers:
        raise SelectionError("none of the requested event numbers is in the input")
    if selection.expression:
        raise SelectionError(f"no event passes --select {selection.expression!r}")
    raise SelectionError("the selection keeps no event (check --events against the input size)")


def parts_folder(output: Path) -> Path:
    """The hidden folder of parts behind a one-file output (kept to resume a failed run)."""
    return output.with_name(f".{output.name}.parts")


def write_joined_file(
    inputs: Sequence[str],
    output: str | Path,
    job: Job,
    runner,
    chunk_entries: int = CHUNK_ENTRIES,
    progress: bool = False,
) -> DatasetSummary:
    """What `job` makes of `inputs`, in parallel parts, then joined into one file."""
    output = Path(output)
    folder = parts_folder(output)
    summary = write_dataset(inputs, folder, job, runner, chunk_entries, progress)
    job.join(part_files(folder, job.suffix), output)
    shutil.rmtree(folder, ignore_errors=True)
    return summary
