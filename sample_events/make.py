"""The recipe of the bundled toy sample: `python -m sample_events.make [--root-only]`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sample_events.physlite_writer import write_physlite, write_physlite_rntuple
from sample_events.simulation import DEFAULT_EVENTS, DEFAULT_SEED, simulate

DATA_DIR = Path(__file__).resolve().parent / "data"
ROOT_NAME = "toy_physlite.root"
RNTUPLE_NAME = "toy_physlite_rntuple.root"  # the same events as an RNTuple
JSON_NAME = "toy_events.json"
PARQUET_NAME = "toy_events.parquet"
DISPLAY_EVENTS = slice(0, 200)
TOY_LABEL = {
    "dataset": "EventLab simulated toy events",
    "note": "simulated toy events (not ATLAS data)",
}


def make_root(
    output_dir: Path = DATA_DIR, n_events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED
) -> dict[str, Path]:
    """Simulate the sample and write it as PHYSLITE TTree and RNTuple files; return their paths."""
    _, events = simulate(n_events, seed)
    return {
        "PHYSLITE ROOT": write_physlite(Path(output_dir) / ROOT_NAME, events),
        "PHYSLITE RNTuple": write_physlite_rntuple(Path(output_dir) / RNTUPLE_NAME, events),
    }


def convert(root_path: Path, output_dir: Path = DATA_DIR) -> dict[str, Path]:
    """Derive the display JSON (first events) and the per-event columns from the ROOT file."""
    import converters

    json_path = Path(output_dir) / JSON_NAME
    parquet_path = Path(output_dir) / PARQUET_NAME
    converters.write_display_json(root_path, json_path, events=DISPLAY_EVENTS, metadata=TOY_LABEL)
    converters.write_columns(root_path, parquet_path, metadata=TOY_LABEL)
    return {"display JSON": json_path, "columns": parquet_path}


def make(
    output_dir: Path = DATA_DIR,
    n_events: int = DEFAULT_EVENTS,
    seed: int = DEFAULT_SEED,
    root_only: bool = False,
) -> dict[str, Path]:
    """Run the whole recipe; return what was written, by kind."""
    written = make_root(output_dir, n_events, seed)
    if not root_only:
        written.update(convert(written["PHYSLITE ROOT"], output_dir))
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of the recipe."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_events.make",
        description="Regenerate the bundled simulated toy events (not ATLAS data).",
    )
    parser.add_argument("--output-dir", type=Path, default=DATA_DIR, help="where to write")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="number of events")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--root-only", action="store_true", help="write the ROOT files only, skip the converters"
    )
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the recipe and report each output with its size."""
    args = parse_args(argv)
    started = time.perf_counter()
    written = make(args.output_dir, args.events, args.seed, args.root_only)
    for kind, path in written.items():
        print(f"{kind:>16}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"{args.events} events, seed {args.seed}, in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
