"""Opening files in the display, in headless Chromium: refused files and ROOT files."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_app, stop_app

from app.config import BUNDLED_DATA_DIR
from app.display.root_files import open_data_file
from app.display.scene import build_scene
from sample_events.physlite_writer import write_physlite
from sample_events.simulation import simulate

pytestmark = pytest.mark.browser

SCENE = ".eventlab-scene canvas"
EVENT_NUMBER = "[data-testid=event-number]"
FILE_MENU = "select"


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    """A data folder: a good event file, one that is not valid JSON, the toy PHYSLITE file and
    a 10,000-event PHYSLITE file."""
    folder = tmp_path_factory.mktemp("display-files")
    shutil.copy(BUNDLED_DATA_DIR / "toy_events.json", folder / "a_good.json")
    (folder / "b_broken.json").write_text('{"1-1": {"Tracks": {"T": [}}')
    shutil.copy(BUNDLED_DATA_DIR / "toy_physlite.root", folder / "toy_physlite.root")
    _, events = simulate(10_000, seed=11)
    write_physlite(folder / "big_physlite.root", events, cluster_entries=1000)
    return folder


@pytest.fixture(scope="module")
def files_url(data_folder) -> Iterator[str]:
    """The app serving `data_folder`."""
    process, base_url = start_app("--data-dir", str(data_folder))
    yield base_url
    stop_app(process)


def shown_number(page) -> str:
    """The event number the page shows."""
    return page.locator(EVENT_NUMBER).first.inner_text()


def menu_value(page) -> str:
    """The file chosen in the file menu."""
    return page.locator(FILE_MENU).first.evaluate("element => element.value")


def test_a_refused_file_from_the_menu_leaves_the_shown_file_named(files_url, page):
    page.goto(files_url)
    page.locator(EVENT_NUMBER).first.wait_for(timeout=60_000)
    before = shown_number(page)
    assert menu_value(page) == "a_good.json"
    page.locator(FILE_MENU).first.select_option("b_broken.json")
    page.get_by_text("b_broken.json is not valid JSON").first.wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    assert menu_value(page) == "a_good.json"  # the event shown is still named by its own file
    assert shown_number(page) == before


def test_a_refused_upload_does_not_say_upload_complete(files_url, page, tmp_path):
    page.goto(files_url)
    page.locator(EVENT_NUMBER).first.wait_for(timeout=60_000)
    before = shown_number(page)
    broken = tmp_path / "my_events.json"
    broken.write_text('{"7-7": {"Jets": ')
    page.locator("input[type=file]").first.set_input_files(str(broken))
    page.get_by_text("my_events.json is not valid JSON").first.wait_for(timeout=30_000)
    items = page.locator(".filepond--item")
    deadline = time.monotonic() + 10
    while items.count() and time.monotonic() < deadline:  # the box empties itself, animated
        page.wait_for_timeout(200)
    assert items.count() == 0
    assert page.get_by_text("Upload complete").count() == 0  # also for screen readers
    assert menu_value(page) == "a_good.json"
    assert shown_number(page) == before
    # a good file afterwards is taken as usual
    good = tmp_path / "mine.json"
    shutil.copy(BUNDLED_DATA_DIR / "toy_events.json", good)
    page.locator("input[type=file]").first.set_input_files(str(good))
    page.get_by_text("Upload complete").first.wait_for(timeout=30_000)
    deadline = time.monotonic() + 30
    while menu_value(page) != "mine.json (your file)" and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert menu_value(page) == "mine.json (your file)"


def position_text(page) -> str:
    """The 'Event N (i of n)' line."""
    return page.locator(EVENT_NUMBER).first.locator("xpath=..").inner_text()


def wait_for_text(read, wanted: str, timeout: float = 30.0) -> str:
    """Poll `read()` until it contains `wanted`; return what it read last."""
    deadline = time.monotonic() + timeout
    text = read()
    while wanted not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        text = read()
    return text


def collection_count(page, key: str) -> str:
    """The 'drawn / total' count of one collection in the Physics objects list."""
    row = page.locator(f'[data-collection="{key}"] [data-testid=collection-count]').first
    return row.inner_text()


def expected_count(event: dict, key: str) -> str:
    """What the Physics objects list shows for a collection with no cut."""
    layer = build_scene(event).layer(key)
    return f"{int(layer.passing(0.0).sum())} / {layer.size}"


def test_a_root_file_from_the_menu_lists_all_its_events(files_url, page, data_folder):
    file = open_data_file(data_folder / "toy_physlite.root")
    page.goto(files_url)
    page.locator(EVENT_NUMBER).first.wait_for(timeout=60_000)
    page.locator(FILE_MENU).first.select_option("toy_physlite.root")
    text = wait_for_text(lambda: position_text(page), "of 3000)")
    assert f"Event {file.numbers[0]} (1 of 3000)" in text
    assert menu_value(page) == "toy_physlite.root"
    key = "Tracks/InDetTrackParticles"
    wanted = expected_count(file.event(0), key)
    assert wait_for_text(lambda: collection_count(page, key), wanted) == wanted
    page.keyboard.press("ArrowRight")
    text = wait_for_text(lambda: position_text(page), "(2 of 3000)")
    assert f"Event {file.numbers[1]} (2 of 3000)" in text


def test_a_link_opens_a_late_event_of_a_10k_event_file(files_url, page, data_folder):
    file = open_data_file(data_folder / "big_physlite.root")
    entry = 9_876
    number = file.numbers[entry]
    started = time.monotonic()
    page.goto(f"{files_url}/?file=big_physlite.root&event={number}")
    text = wait_for_text(lambda: position_text(page), f"({entry + 1} of 10000)", timeout=60)
    assert f"Event {number} ({entry + 1} of 10000)" in text
    assert time.monotonic() - started < 30
    event = file.event(entry)
    sizes = {layer.key: layer.size for layer in build_scene(event).layers}
    assert sizes.get("Tracks/InDetTrackParticles")
    for key in ("Tracks/InDetTrackParticles", "Muons/AnalysisMuons", "Electrons/AnalysisElectrons"):
        if sizes.get(key):
            wanted = expected_count(event, key)
            assert wait_for_text(lambda key=key: collection_count(page, key), wanted) == wanted
    assert menu_value(page) == "big_physlite.root"
    assert page.locator("select").nth(1).evaluate("e => e.options.length") == 10_000
