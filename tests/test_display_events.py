"""Event files for the display: finding, reading, summarising, and uploads."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.display.events import (
    EventFileError,
    event_json_bytes,
    event_metadata,
    event_summary,
    list_event_files,
    parse_event_bytes,
    read_event_file,
    resolve_event_file,
)
from app.display.view import read_upload
from converters.errors import EventLabError

EVENT = {
    "event number": 12,
    "run number": 284500,
    "lumiBlock": 3,
    "mcChannelNumber": 999002,
    "note": "simulated toy events (not ATLAS data)",
    "Muons": {"AnalysisMuons": [{"pT": 1.0}, {"pT": 2.0}]},
    "Jets": {"AnalysisJets": [{}, {}, {}, {}], "AnalysisLargeRJets": [{}]},
    "MissingEnergy": {"MET": [{"etx": 30000.0, "ety": -30000.0}]},
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with a plain, a gzipped and a non-event file."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"1-12": EVENT}))
    (folder / "b.json.gz").write_bytes(gzip.compress(json.dumps({"x": EVENT}).encode()))
    (folder / "notes.txt").write_text("not an event file")
    (tmp_path / "secret.json").write_text(json.dumps({"1-1": EVENT}))
    return folder


def test_lists_only_event_files(data_dir):
    assert sorted(list_event_files([data_dir])) == ["a.json", "b.json.gz"]
    assert list_event_files([data_dir / "missing"]) == {}


@pytest.mark.parametrize("name", ["../secret.json", "/etc/passwd", "notes.txt", "c.json", ""])
def test_only_listed_names_resolve(data_dir, name):
    with pytest.raises(EventFileError, match="no event file called"):
        resolve_event_file(name, [data_dir])


def test_reads_plain_and_gzipped_files(data_dir):
    plain = read_event_file(resolve_event_file("a.json", [data_dir]))
    packed = read_event_file(resolve_event_file("b.json.gz", [data_dir]))
    assert plain.keys == ("1-12",) and packed.keys == ("x",)
    assert plain.event(0) == packed.event(0) == EVENT
    assert plain.numbers == ("12",) and plain.summaries == ("2 mu, 4 jets, MET 42 GeV",)


def test_size_limit(data_dir):
    with pytest.raises(EventFileError, match="over the"):
        read_event_file(data_dir / "a.json", max_bytes=10)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON \\(line 1, column 2"),
        (b"\xff\xfe\x00garbage", "not a text JSON file|not valid JSON"),
        (b"[1, 2, 3]", "expected an object of events"),
        (b'{"a": {"b": 1}}', "holds no Phoenix events"),
        (b"\x1f\x8b\x08broken", "cannot be unpacked"),
    ],
)
def test_bad_files_give_clear_messages(content, message):
    with pytest.raises(EventFileError, match=message):
        parse_event_bytes(content, "upload.json")


def test_a_bare_event_is_accepted():
    file = parse_event_bytes(json.dumps(EVENT).encode(), "one.json")
    assert file.keys == ("12",)


def test_summary_line():
    assert event_summary(EVENT) == "2 mu, 4 jets, MET 42 GeV"
    assert event_summary({"Tracks": {"T": [{}, {}]}}) == "2 tracks"
    assert event_summary({"Jets": {"J": []}}) == "no physics objects"


def test_metadata_of_toy_simulation_and_data():
    toy = event_metadata("k", EVENT)
    expected = {"Run": "284500", "Event": "12", "Lumi block": "3"}
    assert toy == {**expected, "Origin": "simulated toy event"}
    mc = event_metadata("k", {"eventNumber": 5, "runNumber": 1, "mcChannelNumber": 410470})
    assert mc["Origin"] == "simulation, MC channel 410470" and mc["Event"] == "5"
    data = event_metadata("k", {"event number": 5, "run number": 358031})
    assert data["Origin"] == "data" and data["Lumi block"] == "unknown"


def test_download_round_trips_as_a_phoenix_file():
    content = event_json_bytes("1-12", EVENT)
    file = parse_event_bytes(content, "download.json")
    assert file.keys == ("1-12",) and file.event(0) == EVENT


def test_download_replaces_non_finite_numbers():
    content = event_json_bytes("k", {"Jets": {"J": [{"eta": float("nan"), "phi": 1.0}]}})
    assert json.loads(content) == {"k": {"Jets": {"J": [{"eta": None, "phi": 1.0}]}}}


def test_uploads(tmp_path):
    assert read_upload("mine.json", json.dumps({"e": EVENT}).encode(), 10**6).keys == ("e",)
    with pytest.raises(EventLabError, match="over the"):
        read_upload("mine.json", b"{}" * 1000, 100)
    with pytest.raises(EventLabError, match=r"opens Phoenix event files \(.json, .json.gz\)"):
        read_upload("picture.png", b"\x89PNG", 10**6)
    with pytest.raises(EventLabError, match="is not a ROOT file"):
        read_upload("fake.root", b"hello", 10**6)
    # names from the browser never become paths
    assert read_upload("../../x.json", json.dumps(EVENT).encode(), 10**6).name == "x.json"


def test_physlite_upload_is_converted(physlite_example):
    file = read_upload("example.root", physlite_example.read_bytes(), 10**8)
    assert len(file) == 100
    first = file.event(0)
    assert "Tracks" in first and "mcChannelNumber" in first
