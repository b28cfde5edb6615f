"""`--event-numbers` and `--events` read only the clusters that hold the wanted events,
from local files and over HTTP with range requests."""

from __future__ import annotations

import http.server
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import eventlab

from converters import Selection, convert_events, write_display_json
from converters.pipeline import entries_by_cluster
from converters.read import EventSource
from sample_events.physlite_writer import write_physlite, write_physlite_rntuple
from sample_events.simulation import simulate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVENTS, CLUSTER = 4000, 500


@pytest.fixture(scope="module")
def clustered_files(tmp_path_factory) -> dict[str, Path]:
    """4000 toy events in clusters of 500 entries, as a TTree and as an RNTuple."""
    folder = tmp_path_factory.mktemp("clustered")
    _, events = simulate(EVENTS, seed=9)
    return {
        "TTree": write_physlite(folder / "tree.root", events, cluster_entries=CLUSTER),
        "RNTuple": write_physlite_rntuple(folder / "ntuple.root", events, CLUSTER),
    }


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves files of one folder with single-range requests, counting the bytes it sends."""

    def __init__(self, folder: Path):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.folder = folder
        self.bytes_sent = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """HEAD and GET with `Range: bytes=a-b`, as static file servers answer them."""

    server: RangeServer

    def log_message(self, *args) -> None:
        """Quiet."""

    def payload(self) -> bytes | None:
        path = self.server.folder / Path(self.path.split("?")[0]).name
        return path.read_bytes() if path.is_file() else None

    def do_HEAD(self) -> None:
        data = self.payload()
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:
        data = self.payload()
        if data is None:
            self.send_error(404)
            return
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        start, stop = 0, len(data)
        if wanted:
            start = int(wanted[1])
            stop = min(int(wanted[2]) + 1, len(data)) if wanted[2] else len(data)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:stop]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)
        with self.server.lock:
            self.server.bytes_sent += len(body)


@pytest.fixture
def range_server(clustered_files):
    """A local HTTP server of the clustered files."""
    server = RangeServer(clustered_files["TTree"].parent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_clusters_are_grouped_by_the_wanted_entries():
    boundaries = np.array([0, 500, 1000, 1500])
    assert entries_by_cluster(np.array([3, 7, 600, 1499]), boundaries) == [
        (3, 8),
        (600, 601),
        (1499, 1500),
    ]
    assert entries_by_cluster(np.array([], dtype=np.int64), boundaries) == []


@pytest.mark.parametrize("layout", ["TTree", "RNTuple"])
def test_event_numbers_read_only_the_clusters_holding_them(clustered_files, layout, tmp_path):
    path = clustered_files[layout]
    numbers = EventSource(str(path)).event_numbers()
    wanted = [int(numbers[1234]), int(numbers[1240]), int(numbers[3999])]
    summary = write_display_json(
        path, tmp_path / "chosen.json", Selection(event_numbers=frozenset(wanted))
    )
    events = json.loads((tmp_path / "chosen.json").read_text())
    assert sorted(e["event number"] for e in events.values()) == sorted(wanted)
    assert summary.entries_read == (1240 - 1234 + 1) + 1
    assert summary.bytes_read < path.stat().st_size / 3
    whole = write_display_json(path, tmp_path / "all.json")
    assert whole.bytes_read > 0.9 * path.stat().st_size
    everything = json.loads((tmp_path / "all.json").read_text())
    assert all(everything[key] == event for key, event in events.items())


def test_entry_ranges_start_where_they_ask(clustered_files, tmp_path):
    path = clustered_files["TTree"]
    summary = write_display_json(path, tmp_path / "late.json", Selection(ranges=((3600, 3610),)))
    assert summary.events == 10
    assert summary.entries_read == 10
    assert summary.bytes_read < path.stat().st_size / 3


def test_cli_prints_the_bytes_read(clustered_files, tmp_path):
    path = clustered_files["RNTuple"]
    number = int(EventSource(str(path)).event_numbers()[2100])
    output = tmp_path / "one.json"
    result = eventlab("convert", path, "--event-numbers", number, "-o", output)
    assert result.returncode == 0, result.stderr
    assert "1 events from 1 file(s)" in result.stdout
    assert re.search(r"1 entry read at .* events/s, \d+ kB from the input\)", result.stdout), (
        result.stdout
    )
    assert len(result.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize("layout", ["TTree", "RNTuple"])
def test_over_http_only_the_needed_bytes_are_fetched(clustered_files, range_server, layout):
    path = clustered_files[layout]
    numbers = EventSource(str(path)).event_numbers()
    wanted = Selection(event_numbers=frozenset({int(numbers[2750])}))
    local = convert_events(path, wanted)
    range_server.bytes_sent = 0
    remote = convert_events(f"{range_server.url}/{path.name}", wanted)
    assert remote == local
    size = path.stat().st_size
    assert 0 < range_server.bytes_sent < size / 3, (range_server.bytes_sent, size)


def test_over_http_the_summary_counts_what_was_fetched(clustered_files, range_server, tmp_path):
    path = clustered_files["TTree"]
    number = int(EventSource(str(path)).event_numbers()[10])
    output = tmp_path / "remote.json"
    result = eventlab(
        "convert", f"{range_server.url}/{path.name}", "--event-numbers", number, "-o", output
    )
    assert result.returncode == 0, result.stderr
    read = re.search(r"(\d+) kB from the input\)", result.stdout)
    assert read, result.stdout
    assert int(read[1]) * 1000 == pytest.approx(range_server.bytes_sent, rel=0.1, abs=2000)
    assert range_server.bytes_sent < path.stat().st_size / 3
