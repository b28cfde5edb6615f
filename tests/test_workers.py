"""Several server processes (`--num-procs 2`): offline pages, assets, a dead worker, /health.

A page's HTML, its scripts and its websocket may each reach a different worker process. Every page
must still be drawn with nothing fetched from outside this machine, every asset must answer 200
from every worker, a page whose worker dies must say so, and /health must report every worker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from conftest import LOCAL_HOSTS, start_app, stop_app
from test_app_browser import (
    DRAWN_COLOURS,
    SCENE,
    distinct_colours,
    open_page,
    png_pixels,
    shown_number,
    wait_until,
)

from app.config import BUNDLED_DATA_DIR
from app.connection_notice import NOTICE_TEXT, RELOAD_BUTTON
from app.display.events import list_event_files, read_event_file
from app.workers import STALE_AFTER_S, WorkerBoard, register_static_extensions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import classroom

PAGE_LOADS = 10  # before the fix, 1 load in 4 stayed undrawn and 1 in 4 asked a CDN
FETCHES_PER_ASSET = 16
ASSET_TYPES = {"document", "script", "stylesheet", "font", "image", "fetch", "xhr"}
FIGURE = ".bk-Figure"
PLOT_COLOURS = 20  # distinct colours in a drawn histogram (axes, bars, labels)
SETTLE_MS = 60_000


def health(url: str) -> dict:
    """The server's /health answer."""
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        return json.loads(response.read())


def worker_pids(process: subprocess.Popen) -> set[int]:
    """The pids of the server's worker processes (its children)."""
    return set(classroom.server_pids(process.pid)) - {process.pid}


@pytest.fixture(scope="module")
def two_workers() -> Iterator[tuple[subprocess.Popen, str]]:
    """The app served by two worker processes, as the README suggests for a class."""
    process, url = start_app("--num-procs", "2")
    wait_until(lambda: health(url)["status"] == "ok", timeout=30)
    yield process, url
    stop_app(process)


class PageWatch:
    """What one browser page asked for: requests leaving the machine (aborted), failed answers."""

    def __init__(self, page) -> None:
        self.offsite: list[str] = []
        self.failed: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self.assets: set[tuple[str, str]] = set()
        page.route("**/*", self.route)
        page.on("response", self.response)
        page.on(
            "console", lambda message: message.type == "error" and self.errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def route(self, route) -> None:
        """Let requests to this machine through; record and abort every other."""
        request = route.request
        if urlparse(request.url).hostname in LOCAL_HOSTS:
            if request.resource_type in ASSET_TYPES:
                self.assets.add((request.resource_type, request.url))
            route.continue_()
        else:
            self.offsite.append(request.url)
            route.abort()

    def response(self, response) -> None:
        """Record answers that are errors."""
        if response.status >= 400:
            self.failed.append((response.status, response.url))


def open_histograms(page) -> None:
    """Show the Histograms tab and wait until its plot is drawn."""
    tab = page.locator(".bk-tab").filter(has_text="Histograms").first
    tab.click()
    page.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
    figure = page.locator(FIGURE).first
    figure.wait_for(timeout=SETTLE_MS)

    def plotted():
        """the histogram to be drawn"""
        return distinct_colours(png_pixels(figure.screenshot())) > PLOT_COLOURS

    wait_until(plotted, timeout=30)


def watched_visit(browser, url: str, number: str | None = None) -> PageWatch:
    """Open both tabs of the app in a fresh browser context; return what the page asked for.

    With `number`, the page must show that event.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        watch = PageWatch(page)
        open_page(page, url)
        if number is not None:
            assert shown_number(page) == number
        open_histograms(page)
        return watch
    finally:
        context.close()


def linked_event() -> tuple[str, str]:
    """A bundled file and the number of its last event (not the one a page opens on)."""
    name, path = sorted(list_event_files([BUNDLED_DATA_DIR]).items())[0]
    return name, read_event_file(path).numbers[-1]


@pytest.mark.browser
def test_every_page_load_is_drawn_offline_whichever_workers_answer(browser, two_workers):
    _, url = two_workers
    name, number = linked_event()
    link = f"{url}/?file={name}&event={number}"
    for load in range(PAGE_LOADS):
        # Every other load follows a link: its file and event reach whichever worker builds it.
        watch = watched_visit(browser, link if load % 2 else url, number if load % 2 else None)
        assert watch.offsite == [], f"page load {load} asked another host"
        assert watch.failed == [], f"page load {load} got error answers"
        assert not [e for e in watch.errors if "could not resolve type" in e], watch.errors


FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".otf", ".eot")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)(?:\s*format\(\s*['"]?([\w-]+))?""")
# Fallback font formats no current browser loads (font-awesome still names its SVG fonts, which
# Panel does not ship).
UNUSED_FONT_FORMATS = {"svg"}


def local_path(url: str) -> str:
    """A URL of this server as a path (with its query), for any other server of the app."""
    return urlparse(url)._replace(scheme="", netloc="", fragment="").geturl()


def referenced_by_stylesheet(url: str) -> set[tuple[str, str]]:
    """The fonts and images a stylesheet may load (its url(...) references), as (type, url)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode("utf-8", errors="replace")
    found = set()
    for reference, font_format in CSS_URL.findall(text):
        if reference.startswith(("data:", "#")) or font_format in UNUSED_FONT_FORMATS:
            continue
        target = urljoin(url, reference)
        kind = "font" if urlparse(target).path.endswith(FONT_SUFFIXES) else "image"
        found.add((kind, target))
    return found


@pytest.fixture(scope="module")
def page_assets(browser, app_url) -> set[tuple[str, str]]:
    """Every asset (type, path) of both tabs: what the browser loaded, and what its CSS names."""
    watch = watched_visit(browser, app_url)
    assert watch.offsite == [] and watch.failed == []
    assets = set(watch.assets)
    for kind, url in watch.assets:
        if kind == "stylesheet":
            assets |= referenced_by_stylesheet(url)
    return {(kind, local_path(url)) for kind, url in assets}


def fetch(url: str, gzip: bool) -> tuple[int, str]:
    """GET `url` on a new connection (so on any worker); its status code and the url."""
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            r.read()
            return r.status, url
    except urllib.error.HTTPError as error:
        return error.code, url


@pytest.mark.browser
def test_every_asset_answers_from_every_worker_before_any_page_was_rendered(page_assets):
    kinds = {kind for kind, _ in page_assets}
    assert {"document", "script", "stylesheet", "font", "fetch"} <= kinds, kinds
    # The page itself last: rendering it is what used to teach a worker its extension routes.
    files = sorted({path for kind, path in page_assets if kind != "document"})
    pages = sorted({path for kind, path in page_assets if kind == "document"})
    assert any("/static/extensions/ipywidgets_bokeh/" in path for path in files)
    assert any("/widget-modules/jupyter-threejs@" in path for path in files)
    process, url = start_app("--num-procs", "2")  # a fresh server: no worker has built a page
    answers = []
    try:
        for paths in (files, pages):
            requests = [f"{url}{path}" for path in paths for _ in range(FETCHES_PER_ASSET)]
            gzip = [i % 2 == 0 for i in range(len(requests))]  # as browsers, and as plain clients
            with ThreadPoolExecutor(max_workers=4) as pool:
                answers += pool.map(fetch, requests, gzip)
    finally:
        stop_app(process)
    failed = [(status, url) for status, url in answers if status != 200]
    assert failed == [], f"{len(failed)} of {len(answers)} requests failed: {sorted(set(failed))}"


def test_extension_files_are_known_before_a_page_is_bundled():
    from bokeh.embed.bundle import extension_dirs

    import app.display.offline

    app.display.offline.enable_offline_widgets()
    import ipywidgets_bokeh.widget  # noqa: F401  (the extension the 3D view needs)

    folders = register_static_extensions()
    assert (folders["ipywidgets_bokeh"] / "ipywidgets_bokeh.js").is_file()
    assert folders["ipywidgets_bokeh"] == extension_dirs["ipywidgets_bokeh"]


def test_worker_board_states():
    board = WorkerBoard(4)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    now = time.monotonic()
    board.write(0, os.getpid(), 3, 2, now)
    board.write(1, int(ended.stdout), 1, 1, now)
    board.write(2, os.getpid(), 0, 0, now - STALE_AFTER_S - 1)
    states = [(row["state"], row["sessions"], row["connected"]) for row in board.rows()]
    assert states == [("ok", 3, 2), ("down", 1, 1), ("not responding", 0, 0), ("starting", 0, 0)]


def test_health_reports_every_worker(two_workers):
    process, url = two_workers
    status = health(url)
    assert {worker["pid"] for worker in status["workers"]} == worker_pids(process)
    assert all(worker["state"] == "ok" for worker in status["workers"])
    assert status["sessions"] == sum(worker["sessions"] for worker in status["workers"])


def test_health_tells_a_worker_that_does_not_answer(two_workers):
    process, url = two_workers
    stopped = min(worker_pids(process))
    os.kill(stopped, signal.SIGSTOP)
    try:

        def reported():
            """/health to report the stopped worker"""
            status = health(url)
            states = {worker["pid"]: worker["state"] for worker in status["workers"]}
            return status if states.get(stopped) == "not responding" else None

        status = wait_until(reported, timeout=STALE_AFTER_S + 10)
        assert status["status"] == "degraded"
    finally:
        os.kill(stopped, signal.SIGCONT)
    wait_until(lambda: health(url)["status"] == "ok", timeout=10)


@pytest.mark.browser
def test_a_page_whose_worker_dies_says_so_and_the_worker_comes_back(browser, two_workers):
    process, url = two_workers
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        watch = PageWatch(page)
        open_page(page, url)

        def serving():
            """one worker to report the page's connection"""
            workers = [w for w in health(url)["workers"] if w["connected"] > 0]
            return workers[0]["pid"] if len(workers) == 1 else None

        dead = wait_until(serving, timeout=20)
        notice = page.get_by_role("alert").filter(has_text=NOTICE_TEXT)
        assert notice.count() == 0
        number = shown_number(page)
        os.kill(dead, signal.SIGKILL)
        notice.wait_for(timeout=10_000)
        page.locator("button:has-text('Next')").first.click()
        page.wait_for_timeout(1000)
        assert shown_number(page) == number  # the page cannot reach the server any more

        def respawned():
            """a new worker in place of the dead one"""
            pids = worker_pids(process)
            status = health(url)
            reported = {worker["pid"] for worker in status["workers"]}
            return (
                dead not in pids
                and len(pids) == 2
                and reported == pids
                and status["status"] == "ok"
            )

        wait_until(respawned, timeout=20)
        page.get_by_role("button", name=RELOAD_BUTTON).click()
        page.locator(SCENE).first.wait_for(timeout=SETTLE_MS)

        def drawn():
            """the reloaded page's 3D scene to be drawn"""
            pixels = png_pixels(page.locator(SCENE).first.screenshot())
            return distinct_colours(pixels) > DRAWN_COLOURS

        wait_until(drawn, timeout=30)
        assert notice.count() == 0
        assert watch.offsite == []
    finally:
        context.close()
