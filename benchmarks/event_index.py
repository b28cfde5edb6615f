"""Speed of the display's ROOT event index: opening a file, then converting events on demand.

    python benchmarks/event_index.py [--events 10000] [--samples 30]

Writes 10,000-event inputs in 1000-entry clusters in a temporary folder (toy PHYSLITE as a TTree
and as an RNTuple, an education ntuple, and the real PHYSLITE example replicated when
../shared/data is present), then prints for each: the time to open it and read the event list
(numbers and summaries), the index's own memory, and the server time per event shown: a cold
event (its cluster not yet read), and a warm one (a neighbour in a cluster already decoded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from convert import CLUSTER_ENTRIES, REAL_FILE, replicate

from converters.event_index import EventIndex
from sample_events.ntuple_writer import write_education_events
from sample_events.physlite_writer import write_physlite, write_physlite_rntuple
from sample_events.simulation import simulate

REPEATS = 3


def open_time(path: Path) -> tuple[float, EventIndex]:
    """Seconds the fastest of a few openings takes (with the event list), and an index."""
    best, index = float("inf"), None
    for _ in range(REPEATS):
        started = time.perf_counter()
        index = EventIndex(path)
        index.summaries()
        best = min(best, time.perf_counter() - started)
    return best, index


def event_times(path: Path, samples: int, seed: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    """Milliseconds per event: the first one after opening, random (cold) entries of a fresh
    index, then their neighbours (warm)."""
    index = EventIndex(path)
    started = time.perf_counter()
    index.event(len(index) // 2)
    first = (time.perf_counter() - started) * 1000
    index = EventIndex(path)
    entries = np.random.default_rng(seed).choice(len(index), samples, replace=False)
    cold, warm = [], []
    for entry in entries:
        started = time.perf_counter()
        index.event(int(entry))
        cold.append(time.perf_counter() - started)
        neighbour = min(int(entry) + 1, len(index) - 1)
        started = time.perf_counter()
        index.event(neighbour)
        warm.append(time.perf_counter() - started)
    return first, np.array(cold) * 1000, np.array(warm) * 1000


def report(name: str, path: Path, samples: int) -> None:
    """Print the figures of one input."""
    seconds, index = open_time(path)
    first, cold, warm = event_times(path, samples)
    print(f"\n{name}: {len(index)} events, {path.stat().st_size / 1e6:.1f} MB")
    print(
        f"  open + event list        {seconds:6.2f} s   (index arrays {index.nbytes / 1e3:.0f} kB)"
    )
    print(f"  first event after open   {first:9.0f} ms")
    print(
        f"  event, cold cluster      median {np.median(cold):5.0f} ms"
        f"   95 % {np.percentile(cold, 95):5.0f} ms   max {cold.max():5.0f} ms   (over {samples})"
    )
    print(
        f"  event, warm cluster      median {np.median(warm):5.0f} ms"
        f"   95 % {np.percentile(warm, 95):5.0f} ms   max {warm.max():5.0f} ms"
    )


def main() -> None:
    """Write the inputs and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _, events = simulate(args.events, seed=7)
        inputs = {
            "toy PHYSLITE (TTree)": write_physlite(folder / "toy.root", events, CLUSTER_ENTRIES),
            "toy PHYSLITE (RNTuple)": write_physlite_rntuple(
                folder / "toy_rntuple.root", events, CLUSTER_ENTRIES
            ),
            "education ntuple": write_education_events(folder / "education.root", events),
        }
        if REAL_FILE.exists():
            copies = max(1, args.events // 100)
            inputs[f"real PHYSLITE example x {copies}"] = replicate(
                REAL_FILE, folder / "replicated.root", copies
            )
        for name, path in inputs.items():
            report(name, path, args.samples)


if __name__ == "__main__":
    main()
