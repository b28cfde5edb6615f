"""Opening files in the display, in headless Chromium: refused files and ROOT files."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_app, stop_app

from app.config import BUNDLED_DATA_DIR

pytestmark = pytest.mark.browser

SCENE = ".eventlab-scene canvas"
EVENT_NUMBER = "[data-testid=event-number]"
FILE_MENU = "select"


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    """A data folder with a good event file and one that is not valid JSON."""
    folder = tmp_path_factory.mktemp("display-files")
    shutil.copy(BUNDLED_DATA_DIR / "toy_events.json", folder / "a_good.json")
    (folder / "b_broken.json").write_text('{"1-1": {"Tracks": {"T": [}}')
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
