"""Speed of `convert` and `columns` against reading alone (the floor), a per-event loop, and a
hand-written uproot + awkward + vector script.

    python benchmarks/convert.py [--events 20000] [--naive-events 200] [--peer-events 10000,100000]
    python benchmarks/convert.py --peer-only     # only the comparison with the hand-written script

Writes a large PHYSLITE-schema file with the toy-sample recipe in a temporary folder, as a TTree
and as an RNTuple, then prints events/s for: uproot reading the same branches (the floor), our
reading into event batches, `convert` (display JSON), `columns` (parquet), and a plain per-event
Python loop that reads one event at a time with uproot and builds the Phoenix dicts object by
object (the naive baseline). Then one chosen event by its number (`--event-numbers`) against
reading just the event-number column and the cluster that holds it with uproot.

Then, on replicas of the real PHYSLITE example of each `--peer-events` size, whole processes
side by side (medians of runs taken in turn, warm page cache): `eventlab columns`, the peer
script `benchmarks/peer_columns.py` (copied beside the inputs and run alone: the same columns,
including the event weight, in idiomatic awkward), and uproot reading exactly the branches the
columns need (the read floor); coffea's NanoEvents with PHYSLITESchema too where it is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from converters import Selection, write_columns, write_display_json
from converters.pipeline import CHUNK_ENTRIES, entries_by_cluster
from converters.read import EventSource, columns_plan
from sample_events.physlite_writer import write_physlite, write_physlite_rntuple
from sample_events.simulation import simulate

PROJECT = Path(__file__).resolve().parents[1]
REAL_FILE = PROJECT.parent / "shared" / "data" / "physlite" / "PHYSLITE_example.root"
PEER_SCRIPT = Path(__file__).resolve().with_name("peer_columns.py")
PEER_RUNS = {10_000: 7, 100_000: 3}  # whole-process runs of each command per size


REPEATS = 5
CLUSTER_ENTRIES = 1000  # entries per basket cluster of the replicated file, as ROOT's auto-flush


def timed(function, *args, **kwargs) -> float:
    """Seconds the fastest of a few calls takes (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        function(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best


def read_floor(path: Path, planner=None) -> None:
    """Open the file and read every branch the converters read, in the same chunks, with uproot
    (those the columns read when `planner` is columns_plan)."""
    source = EventSource(str(path)) if planner is None else EventSource(str(path), planner=planner)
    for start, stop in source.chunks(0, source.num_entries, CHUNK_ENTRIES):
        source.store.arrays(source.plan.branches() + source.plan.first_branches(), start, stop)


def cpu_seconds(function, *args) -> float:
    """CPU seconds (all threads of this process) the least of a few calls takes."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.process_time()
        function(*args)
        best = min(best, time.process_time() - started)
    return best


def convert_split(path: Path) -> str:
    """Where convert's CPU time goes: reading, the display objects, their JSON text."""
    from converters.phoenix import event_keys, event_table, json_members

    source = EventSource(str(path))
    spans = source.chunks(0, source.num_entries, CHUNK_ENTRIES)
    batches = [source.read(start, stop) for start, stop in spans]
    reading = cpu_seconds(read_batches, path)
    objects = cpu_seconds(lambda: [event_table(batch) for batch in batches])
    members = cpu_seconds(
        lambda: [json_members(event_keys(batch).tolist(), batch) for batch in batches]
    )
    return (
        f"CPU: reading {reading:.2f} s, display objects {objects:.2f} s,"
        f" their JSON text {members - objects:.2f} s"
    )


def read_batches(path: Path) -> None:
    """Our reading: the same chunks, into event batches (objects, links resolved)."""
    source = EventSource(str(path))
    for start, stop in source.chunks(0, source.num_entries, CHUNK_ENTRIES):
        source.read(start, stop)


def uproot_object(path: Path):
    """The TTree or RNTuple of a PHYSLITE file, opened with uproot alone."""
    file = uproot.open(path, array_cache=None)
    return file["CollectionTree"] if "CollectionTree" in file else file["EventData"]


def targeted_floor(path: Path, number: int) -> int:
    """With uproot alone: the event-number column, then every planned branch over the entries
    of the one cluster holding the event; returns the bytes read."""
    source = EventSource(str(path))  # only to know the branch names and clusters
    stored = uproot_object(path)
    event_branch = source.plan.info["event"]
    numbers = stored.arrays([event_branch], library="np")[event_branch]
    entries = np.flatnonzero(numbers == number)
    for start, stop in entries_by_cluster(entries, source.cluster_boundaries()):
        stored.arrays(source.plan.branches(), entry_start=start, entry_stop=stop)
    return int(stored.file.source.num_requested_bytes)


def report_one_event(name: str, path: Path, folder: Path) -> None:
    """`convert --event-numbers N` for one event against the targeted read."""
    numbers = EventSource(str(path)).event_numbers()
    number = int(numbers[len(numbers) * 2 // 3])
    selection = Selection(event_numbers=frozenset({number}))
    floor = timed(targeted_floor, path, number)
    convert = timed(write_display_json, path, folder / "one.json", selection)
    whole = timed(write_display_json, path, folder / "all.json")
    summary = write_display_json(path, folder / "one.json", selection)
    floor_bytes = targeted_floor(path, number)
    print(f"\n{name}: one event by its number, of {len(numbers)}")
    print(f"  {'uproot targeted read':<28}{floor * 1000:9.0f} ms  {floor_bytes / 1e6:6.2f} MB read")
    print(
        f"  {'convert --event-numbers':<28}{convert * 1000:9.0f} ms"
        f"  {summary.bytes_read / 1e6:6.2f} MB read  = {convert / floor:4.2f} x targeted read"
    )
    print(
        f"  {'convert, whole file':<28}{whole * 1000:9.0f} ms"
        f"  of {path.stat().st_size / 1e6:.1f} MB"
    )


def naive_convert(path: Path, count: int) -> dict:
    """The per-event Python loop: one uproot read and Python dicts per event and object."""
    tree = uproot.open(path)["CollectionTree"]
    branches = (
        [f"InDetTrackParticlesAuxDyn.{name}" for name in ("d0", "z0", "phi", "theta", "qOverP")]
        + [f"AnalysisJetsAuxDyn.{name}" for name in ("pt", "eta", "phi")]
        + [
            "EventInfoAuxDyn.eventNumber",
            "EventInfoAuxDyn.runNumber",
        ]
    )
    events = {}
    for entry in range(count):
        arrays = tree.arrays(branches, entry_start=entry, entry_stop=entry + 1, library="np")
        tracks = []
        for index in range(len(arrays["InDetTrackParticlesAuxDyn.d0"][0])):
            theta = float(arrays["InDetTrackParticlesAuxDyn.theta"][0][index])
            qop = float(arrays["InDetTrackParticlesAuxDyn.qOverP"][0][index])
            pt = abs(math.sin(theta) / qop)
            tracks.append(
                {
                    "dparams": [
                        float(arrays[f"InDetTrackParticlesAuxDyn.{n}"][0][index])
                        for n in ("d0", "z0", "phi", "theta", "qOverP")
                    ],
                    "pT": pt,
                }
            )
        jets = [
            {"pt": float(pt), "eta": float(eta), "phi": float(phi)}
            for pt, eta, phi in zip(
                arrays["AnalysisJetsAuxDyn.pt"][0],
                arrays["AnalysisJetsAuxDyn.eta"][0],
                arrays["AnalysisJetsAuxDyn.phi"][0],
                strict=True,
            )
        ]
        key = f"{arrays['EventInfoAuxDyn.runNumber'][0]}-{arrays['EventInfoAuxDyn.eventNumber'][0]}"
        events[key] = {"Tracks": {"InDetTrackParticles": tracks}, "Jets": {"AnalysisJets": jets}}
    return events


def replicate(source: Path, destination: Path, copies: int) -> Path:
    """Write the branches the converters read from `source`, repeated `copies` times.

    The copies are written in clusters of about CLUSTER_ENTRIES entries, as ROOT files are.
    uproot cannot write lists of element links, so those become one link per object (their
    first), stored as key/index sub-branches like PHYSLITE's single links. Each copy gets its
    own event numbers (the original plus copy x 10^9), so that event numbers stay unique.
    """
    reader = EventSource(str(source))
    names = reader.plan.branches() + reader.plan.first_branches()
    arrays = reader.store.arrays(names, 0, reader.num_entries)  # whole MC-weight lists too
    branches = {}
    for name, values in arrays.items():
        if values.ndim == 3:  # vector<vector<ElementLink>>: keep the first link of each object
            first = ak.firsts(values, axis=2)
            branches[f"{name}.m_persKey"] = ak.fill_none(first["m_persKey"], 0)
            branches[f"{name}.m_persIndex"] = ak.fill_none(first["m_persIndex"], 0)
        else:
            branches[name] = values
    per_cluster = max(1, CLUSTER_ENTRIES // len(arrays[next(iter(arrays))]))
    cluster = {name: ak.concatenate([values] * per_cluster) for name, values in branches.items()}
    event_branch = reader.plan.info["event"]
    numbers = ak.to_numpy(cluster[event_branch]).astype(np.uint64)
    copy_of_entry = np.repeat(np.arange(per_cluster, dtype=np.uint64), reader.num_entries)
    with uproot.recreate(destination, compression=uproot.ZLIB(1)) as output:
        output.mktree("CollectionTree", {n: v.type.content for n, v in cluster.items()})
        for chunk in range(math.ceil(copies / per_cluster)):
            copy = copy_of_entry + np.uint64(chunk * per_cluster)
            cluster[event_branch] = numbers + copy * np.uint64(10**9)
            output["CollectionTree"].extend(cluster)
    return destination


def report(name: str, path: Path, naive_events: int, folder: Path) -> None:
    """Print the figures for one input file."""
    entries = EventSource(str(path)).num_entries
    floor = timed(read_floor, path)
    columns_floor = timed(read_floor, path, columns_plan)
    batches = timed(read_batches, path)
    convert = timed(write_display_json, path, folder / "events.json")
    columns = timed(write_columns, path, folder / "columns.parquet")
    print(f"\n{name}: {entries} events, {path.stat().st_size / 1e6:.1f} MB")
    print(f"  {'uproot read (floor)':<28}{entries / floor:>12,.0f} events/s  {floor:7.2f} s")
    print(
        f"  {'uproot read, columns only':<28}{entries / columns_floor:>12,.0f} events/s"
        f"  {columns_floor:7.2f} s  (the branches the columns need)"
    )
    if naive_events:
        naive_count = min(naive_events, entries)
        started = time.perf_counter()
        naive_convert(path, naive_count)
        naive = (time.perf_counter() - started) / naive_count * entries
    else:
        naive = float("nan")
    for label, seconds, base in (
        ("read into event batches", batches, floor),
        ("convert (display JSON)", convert, floor),
        ("columns (parquet)", columns, columns_floor),
    ):
        print(
            f"  {label:<28}{entries / seconds:>12,.0f} events/s  {seconds:7.2f} s"
            f"  = {seconds / base:4.2f} x floor, {naive / seconds:6.0f} x naive loop"
        )
    if naive_events:
        print(
            f"  {'naive per-event loop':<28}{entries / naive:>12,.1f} events/s"
            f"  (over {naive_count})"
        )
    print(f"  {'convert, split':<28}{convert_split(path)}")


def floor_script(path: Path, folder: Path) -> Path:
    """A standalone script that reads, with uproot alone, exactly the branches columns read."""
    source = EventSource(str(path), planner=columns_plan)
    branches = source.plan.branches() + source.plan.first_branches()
    script = folder / "read_floor.py"
    script.write_text(
        "import sys\nimport uproot\n\n"
        f"BRANCHES = {branches!r}\n"
        'uproot.open(sys.argv[1])["CollectionTree"].arrays(BRANCHES)\n'
    )
    return script


COFFEA_SCRIPT = """import sys
import awkward as ak
from coffea.nanoevents import NanoEventsFactory, PHYSLITESchema

events = NanoEventsFactory.from_root(
    {sys.argv[1]: "CollectionTree"}, schemaclass=PHYSLITESchema, mode="eager"
).events()
electrons = events.Electrons[(events.Electrons.pt > 7000) & (abs(events.Electrons.eta) < 2.47)]
muons = events.Muons[(events.Muons.pt > 7000) & (abs(events.Muons.eta) < 2.7)]
leptons = ak.concatenate([electrons, muons], axis=1)
leptons = leptons[ak.argsort(leptons.pt, ascending=False)]
pairs = ak.combinations(leptons, 2)
m_ll = (pairs["0"] + pairs["1"]).mass
counts = ak.num(leptons), ak.num(events.Jets), ak.num(events.Photons)
weight = ak.firsts(events.EventInfo.mcEventWeights)
"""


def whole_process_commands(path: Path, folder: Path) -> dict[str, list[str]]:
    """The commands compared, each a whole process reading `path`."""
    shutil.copy(PEER_SCRIPT, folder / PEER_SCRIPT.name)
    commands = {
        "eventlab columns": [
            sys.executable,
            "-m",
            "app.cli",
            "columns",
            str(path),
            "-o",
            str(folder / "c.parquet"),
        ],
        "peer script": [sys.executable, PEER_SCRIPT.name, str(path), str(folder / "p.parquet")],
        "uproot read floor": [sys.executable, floor_script(path, folder).name, str(path)],
    }
    if importlib.util.find_spec("coffea") is not None:
        (folder / "coffea_peer.py").write_text(COFFEA_SCRIPT)
        commands["coffea NanoEvents"] = [sys.executable, "coffea_peer.py", str(path)]
    return commands


def child_cpu() -> float:
    """CPU seconds (user + system) used by the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_in_turn(
    commands: dict[str, list[str]], runs: int, folder: Path
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall-clock and CPU seconds of each command over `runs` rounds, taking turns.

    CPU seconds hardly change with the load of a shared machine; wall-clock seconds do.
    """
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_number in range(runs + 1):  # the first round warms the page cache, not counted
        for name, command in commands.items():
            started, cpu_before = time.perf_counter(), child_cpu()
            subprocess.run(command, cwd=folder, env=environment, check=True, capture_output=True)
            if round_number:
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(child_cpu() - cpu_before)
    return (
        {name: statistics.median(values) for name, values in seconds.items()},
        {name: statistics.median(values) for name, values in cpu.items()},
    )


def same_columns(ours: Path, peer: Path) -> str:
    """Whether the peer wrote the same columns (float32 inputs: within 1e-5 relative)."""
    import pyarrow.parquet as pq

    first, second = pq.read_table(ours), pq.read_table(peer)
    if set(first.column_names) != set(second.column_names):
        return "no: different column names"
    for name in first.column_names:
        a = first[name].to_numpy(zero_copy_only=False).astype(np.float64)
        b = second[name].to_numpy(zero_copy_only=False).astype(np.float64)
        if not np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True):
            return f"no: {name} differs"
    return f"yes, all {len(first.column_names)} columns of {first.num_rows:,} rows"


def report_peers(sizes: list[int], folder: Path) -> None:
    """`eventlab columns` against the peer script and the read floor, as whole processes."""
    print(f"\nWhole processes on replicas of the real PHYSLITE example ({os.cpu_count()} CPUs,")
    print(f"load average {os.getloadavg()[0]:.1f} at the start; medians, warm page cache)")
    if importlib.util.find_spec("coffea") is None:
        print("  coffea: not installed (not installed for this benchmark: it brings numba,")
        print("  dask-awkward, dask-histogram and correctionlib); install it to add its line")
    for size in sizes:
        path = replicate(REAL_FILE, folder / f"replica_{size}.root", max(1, size // 100))
        commands = whole_process_commands(path, folder)
        medians, cpu = run_in_turn(commands, PEER_RUNS.get(size, 3), folder)
        print(f"\n  {size:,} events ({path.stat().st_size / 1e6:.0f} MB):  wall-clock, CPU")
        for name, seconds in medians.items():
            print(
                f"    {name:<22}{seconds:7.2f} s {cpu[name]:7.2f} s"
                f"  {size / seconds:>9,.0f} events/s"
            )
        for label, other in (
            ("peer", "peer script"),
            ("read floor", "uproot read floor"),
            ("coffea", "coffea NanoEvents"),
        ):
            if other in medians:
                wall = medians["eventlab columns"] / medians[other]
                used = cpu["eventlab columns"] / cpu[other]
                print(f"    columns / {label:<12}{wall:7.2f} x {used:7.2f} x")
        print(
            f"    peer output matches:  {same_columns(folder / 'c.parquet', folder / 'p.parquet')}"
        )
        path.unlink()


def main() -> None:
    """Generate the large inputs and print the comparisons."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--naive-events", type=int, default=200)
    parser.add_argument(
        "--peer-events", default="10000,100000", help="replica sizes, comma-separated"
    )
    parser.add_argument("--peer-only", action="store_true", help="only the peer comparison")
    args = parser.parse_args()
    sizes = [int(size) for size in args.peer_events.split(",") if size.strip()]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if REAL_FILE.exists() and sizes:
            report_peers(sizes, folder)
        if args.peer_only:
            return
        started = time.perf_counter()
        _, events = simulate(args.events, seed=7)
        big = write_physlite(folder / "large_physlite.root", events, CLUSTER_ENTRIES)
        twin = write_physlite_rntuple(folder / "large_rntuple.root", events, CLUSTER_ENTRIES)
        print(f"\nwrote {args.events} toy events in {time.perf_counter() - started:.1f} s")
        report("toy PHYSLITE file (TTree)", big, args.naive_events, folder)
        report("the same events as an RNTuple", twin, 0, folder)
        report_one_event("toy PHYSLITE file (TTree)", big, folder)
        report_one_event("the same events as an RNTuple", twin, folder)
        if REAL_FILE.exists():
            copies = max(1, args.events // 100)
            replicated = replicate(REAL_FILE, folder / "replicated_example.root", copies)
            report(f"real PHYSLITE example x {copies}", replicated, args.naive_events, folder)
            report_one_event(f"real PHYSLITE example x {copies}", replicated, folder)


if __name__ == "__main__":
    main()
