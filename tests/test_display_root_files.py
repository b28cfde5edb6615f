"""ROOT files in the display: listed, opened through an event index, events converted on demand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import BUNDLED_DATA_DIR, AppConfig
from app.display.events import list_event_files
from app.display.root_files import RootEventFile, open_data_file, open_upload
from app.display.view import EventDisplay, read_upload
from app.memory import MB, SessionMemory
from converters import EventLabError, convert_events
from sample_events import make
from sample_events.ntuple_writer import write_education_events
from sample_events.physlite_writer import write_physlite
from sample_events.simulation import simulate

TOY = BUNDLED_DATA_DIR / make.ROOT_NAME
TWIN = BUNDLED_DATA_DIR / make.RNTUPLE_NAME


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A data folder: a JSON file, the toy PHYSLITE file and its RNTuple twin, an education
    ntuple, a 10,000-event PHYSLITE file in clusters of 1000, and a damaged ROOT file."""
    folder = tmp_path_factory.mktemp("root-display")
    shutil.copy(BUNDLED_DATA_DIR / "toy_events.json", folder / "a_events.json")
    shutil.copy(TOY, folder / TOY.name)
    shutil.copy(TWIN, folder / TWIN.name)
    _, events = simulate(10_000, seed=5)
    write_physlite(folder / "big_physlite.root", events, cluster_entries=1000)
    write_education_events(folder / "education.root", simulate(500, seed=6)[1])
    data = TOY.read_bytes()
    (folder / "cut_short.root").write_bytes(data[: len(data) // 2])
    return folder


def test_root_files_of_the_data_folders_are_listed(folder):
    names = list_event_files([folder])
    assert {TOY.name, TWIN.name, "big_physlite.root", "education.root"} <= set(names)
    assert "a_events.json" in names


@pytest.mark.parametrize("name", [TOY.name, TWIN.name, "education.root", "big_physlite.root"])
def test_any_event_of_a_data_folder_file_is_the_converted_one(folder, name):
    path = folder / name
    file = open_data_file(path)
    assert isinstance(file, RootEventFile) and file.name == name
    late = len(file) - 3
    expected = convert_events(str(path), events=slice(late, late + 1))
    key = next(iter(expected))
    assert file.keys[late] == key
    assert file.event(late) == expected[key]
    assert file.position_of(key) == late
    assert file.position_of(file.numbers[late]) == late
    assert file.position_of("no-such-event") is None
    assert len(file.summaries) == len(file) == len(list(file.numbers))


def test_the_event_shown_is_converted_once_for_saving_and_downloading(folder, monkeypatch):
    file = open_data_file(folder / "big_physlite.root")
    conversions = []
    convert = file.index.event
    monkeypatch.setattr(
        file.index, "event", lambda entry: conversions.append(entry) or convert(entry)
    )
    shown = file.event(9_876)
    assert file.event(9_876) is shown and conversions == [9_876]  # the record, the download
    assert file.event(12)["event number"] != shown["event number"] and conversions == [9_876, 12]


def test_a_data_folder_file_is_shared_and_costs_a_page_nothing(folder):
    first, second = (
        open_data_file(folder / "big_physlite.root"),
        open_data_file(folder / "big_physlite.root"),
    )
    assert first.index is second.index  # one index per process
    assert len(first) == 10_000 and first.nbytes == 0
    assert first.index.nbytes < 60 * 10_000  # numbers and summary columns only


def test_a_damaged_data_folder_file_is_refused_by_its_name(folder):
    with pytest.raises(EventLabError, match=r"cut_short\.root") as refused:
        open_data_file(folder / "cut_short.root")
    assert str(folder) not in str(refused.value)


def test_an_uploaded_root_file_counts_what_it_keeps():
    data = TOY.read_bytes()
    memory = SessionMemory(32 * MB)
    owner = ("upload", "mine.root")
    file = open_upload("mine.root", data, memory, owner)
    assert len(file) == 3000
    before = file.nbytes
    assert len(data) < before < len(data) + 1 * MB
    event = file.event(2999)  # any event, not only the first ones
    assert event == convert_events(str(TOY), events=slice(2999, 3000))[file.keys[2999]]
    assert file.nbytes > before  # the decoded cluster it keeps
    assert memory.used == file.nbytes  # counted in the page's memory as it is


def test_an_upload_over_the_page_memory_is_refused():
    memory = SessionMemory(1 * MB)
    with pytest.raises(EventLabError, match="more than one page may use"):
        open_upload("mine.root", TOY.read_bytes(), memory, ("upload", "mine.root"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, not a ROOT file", "mine.root is not a ROOT file"),
        (TOY.read_bytes()[:400_000], r"mine\.root: the file ends after"),
    ],
    ids=["not-root", "truncated"],
)
def test_bad_root_uploads_are_refused_with_a_message(data, message):
    with pytest.raises(EventLabError, match=message):
        read_upload("mine.root", data, 10**8, memory=SessionMemory(32 * MB))


def test_the_real_physlite_example_uploads_whole(physlite_example):
    file = read_upload("example.root", physlite_example.read_bytes(), 10**8)
    assert len(file) == 100  # every event, not the first 50
    last = file.event(99)
    assert "Tracks" in last and "mcChannelNumber" in last


def test_the_display_opens_a_late_event_of_a_root_file_from_a_link(folder):
    """A `?file=NAME.root&event=N` link: in-process the worker thread is this one."""
    file = open_data_file(folder / "big_physlite.root")
    number = file.numbers[9_876]
    display = EventDisplay(AppConfig(data_dirs=(folder,)), file="big_physlite.root", event=number)
    assert display.file.name == "big_physlite.root"
    assert display.position == 9_876
    assert display.file_select.value == "big_physlite.root"
    assert f">{number}<" in display.position_label.object
    assert len(display.event_list.options) == 10_000
    converted = file.event(9_876)
    shown = {layer.key for layer in display.scene.layers if layer.size}
    assert {f"Tracks/{name}" for name, items in converted["Tracks"].items() if items} <= shown
    display.step(1)
    assert display.position == 9_877
