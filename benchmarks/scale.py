"""`eventlab columns` on Dask: events/s with 1 and 2 local workers, the scheduler's cost per chunk,
and from these the time for the whole ATLAS open-data release on a cluster.

    python benchmarks/scale.py [--files 24] [--events-per-file 10000] [--chunk-entries 5000]

Writes replicas of the real PHYSLITE example (../shared/data/physlite, as benchmarks/convert.py
does) into a temporary folder, then times the same dataset-folder run on a LocalCluster of one
worker process and of two (cluster start-up timed apart). The scheduler's cost per chunk is the
time per task of many tasks that do nothing. The estimate for the release assumes the measured
events/s per worker, the share of a file's bytes that columns read (measured on the real example),
and a network bandwidth shared by all workers.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert import REAL_FILE, replicate

from converters.cluster import DaskRunner
from converters.dataset import write_dataset
from converters.parts import ColumnsJob

RELEASE_FILES = 45_571
RELEASE_EVENTS = 538_000_000
RELEASE_BYTES = 35 * 2**40  # 35 TiB
NO_OP_TASKS = 2000
# Network bandwidth shared by the cluster's workers (bytes/s) for each cluster size.
BANDWIDTH = {100: 10e9 / 8, 1000: 100e9 / 8}
LIMITS = {"max_leptons": 4, "max_jets": 4, "max_photons": 2}


def nothing(index: int) -> int:
    """A task that does no work: its time is the scheduler's and the workers' own."""
    return index


def cluster(workers: int) -> tuple[LocalCluster, Client, float]:
    """A local cluster of `workers` single-threaded processes, and its start-up seconds."""
    started = time.perf_counter()
    local = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    client = Client(local)
    client.wait_for_workers(workers)
    return local, client, time.perf_counter() - started


def worker_cpu(client: Client) -> float:
    """CPU seconds (user + system) the worker processes have used so far, all together."""
    usage = client.run(lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))
    return sum(usage.values())


def timed_run(client: Client, inputs: list[str], folder: Path, chunk: int):
    """One dataset-folder run on the cluster: (seconds, worker CPU seconds, summary)."""
    runner = DaskRunner(client, "")
    client.run(lambda: __import__("converters.dataset"))  # imports are start-up, not work
    cpu_before = worker_cpu(client)
    started = time.perf_counter()
    summary = write_dataset(inputs, folder, ColumnsJob(limits=LIMITS), runner, chunk)
    seconds = time.perf_counter() - started
    return seconds, worker_cpu(client) - cpu_before, summary


def per_task_overhead(client: Client) -> tuple[float, float]:
    """Seconds per no-op task in a batch of many, and for one task alone (round trip)."""
    started = time.perf_counter()
    client.gather(client.map(nothing, range(NO_OP_TASKS), pure=False))
    batch = (time.perf_counter() - started) / NO_OP_TASKS
    started = time.perf_counter()
    for index in range(20):
        client.submit(nothing, index, pure=False).result()
    return batch, (time.perf_counter() - started) / 20


def read_fraction() -> float:
    """The share of a real PHYSLITE file's bytes that `columns` reads (the real example)."""
    from converters.pipeline import write_columns

    with tempfile.TemporaryDirectory() as folder:
        summary = write_columns(REAL_FILE, Path(folder) / "c.parquet")
    return summary.bytes_read / REAL_FILE.stat().st_size


def release_estimate(rate_per_worker: float, fraction: float, task_seconds: float) -> None:
    """Print the time for the whole release on 100 and 1,000 cores."""
    read = fraction * RELEASE_BYTES
    print(
        f"\nThe whole release on paper: {RELEASE_FILES:,} files, {RELEASE_EVENTS / 1e6:.0f} M"
        f" events, {RELEASE_BYTES / 2**40:.0f} TiB; columns read {100 * fraction:.0f} % of a"
        f" file's bytes (as of the real example): {read / 2**40:.1f} TiB over the network;"
        f" {rate_per_worker:,.0f} events/s per core (as measured)"
    )
    chunks = RELEASE_FILES  # about 12,000 events per file: one chunk each at the default size
    for cores, bandwidth in BANDWIDTH.items():
        compute = RELEASE_EVENTS / (cores * rate_per_worker)
        network = read / bandwidth
        scheduling = chunks * task_seconds
        total = max(compute, network) + scheduling
        print(
            f"  {cores:>5} cores, {bandwidth * 8 / 1e9:.0f} Gbit/s shared: compute"
            f" {compute / 3600:5.2f} h, network {network / 3600:5.2f} h, scheduler"
            f" {scheduling / 60:4.1f} min -> about {total / 3600:.1f} h"
        )


def main() -> None:
    """Write the inputs, run on 1 and 2 workers, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--events-per-file", type=int, default=10_000)
    parser.add_argument("--chunk-entries", type=int, default=5000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        first = replicate(REAL_FILE, folder / "input0.root", max(1, args.events_per_file // 100))
        inputs = [str(first)]
        for index in range(1, args.files):
            copy = folder / f"input{index}.root"
            copy.write_bytes(first.read_bytes())
            inputs.append(str(copy))
        events = args.files * args.events_per_file
        print(f"{args.files} replicas of the real example, {events:,} events in all")
        rates = {}
        for workers in (1, 2):
            local, client, startup = cluster(workers)
            with local, client:
                timed_run(client, inputs[:1], folder / f"warm{workers}", args.chunk_entries)
                seconds, cpu, summary = timed_run(
                    client, inputs, folder / f"out{workers}", args.chunk_entries
                )
                if workers == 2:
                    batch, alone = per_task_overhead(client)
            rates[workers] = events / seconds
            print(
                f"  {workers} worker{'s' if workers > 1 else ' '}: {rates[workers]:8,.0f} events/s"
                f" ({seconds:.1f} s for {summary.parts} chunks, workers busy {cpu / seconds:.2f}"
                f" CPUs on average; cluster start-up {startup:.1f} s)"
            )
        print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f} x")
        print(
            f"  scheduler cost per chunk: {batch * 1e3:.2f} ms per task among {NO_OP_TASKS:,},"
            f" {alone * 1e3:.1f} ms for one task alone (round trip)"
        )
        chunk_seconds = args.chunk_entries / rates[1]
        print(f"  a {args.chunk_entries:,}-entry chunk takes {chunk_seconds:.2f} s of one worker")
        release_estimate(rates[2] / 2, read_fraction(), batch)


if __name__ == "__main__":
    main()
