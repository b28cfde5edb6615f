"""Ready for a class: independent sessions, released when their tab closes, histogram links."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Event
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import pytest
from conftest import start_app, stop_app

from app.server import MAX_MESSAGE_BYTES, opens_on_histograms
from app.sessions import SessionCounter, close_widgets, reachable_widgets
from app.uploads import CHUNK_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import classroom
from bokeh.client import pull_session

SETTLE_MS = 60_000
EVENT_NUMBER = "[data-testid=event-number]"
RELEASE_S = 60.0
CUT_BOX = ".bk-input-group:has(label:has-text('Cut')) input"
IDLE_S = 4.0


def health(url: str) -> dict:
    """The server's /health answer."""
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        return json.loads(response.read())


def wait_for_sessions(url: str, wanted: int, timeout: float = RELEASE_S) -> int:
    """Poll /health until it reports `wanted` open sessions; return the last count."""
    deadline = time.monotonic() + timeout
    count = health(url)["sessions"]
    while count != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        count = health(url)["sessions"]
    return count


def test_websocket_messages_fit_an_upload_chunk_with_room_to_spare():
    assert CHUNK_BYTES * 4 // 3 + 2**20 < MAX_MESSAGE_BYTES <= 8 * 2**20


def test_histogram_link_keys_choose_the_histograms_tab():
    assert opens_on_histograms({"h_bins": [b"20"], "file": [b"x.json"]})
    assert not opens_on_histograms({"file": [b"x.json"], "event": [b"1"]})
    assert not opens_on_histograms({})


def test_session_counter():
    counter = SessionCounter()
    counter.open()
    counter.open()
    counter.release()
    assert (counter.opened, counter.released, counter.active) == (2, 1, 1)


def test_closing_replaced_objects_keeps_shared_materials():
    import pythreejs as three
    from ipywidgets.widgets.widget import _instances

    material = three.MeshLambertMaterial()
    geometry = three.BufferGeometry(
        attributes={"position": three.BufferAttribute(array=np.zeros((3, 3), dtype="float32"))}
    )
    mesh = three.Mesh(geometry, material)
    group = three.Group(children=[mesh])
    found = reachable_widgets([group], keep=[material])
    assert {id(w) for w in found} == {
        id(group),
        id(mesh),
        id(geometry),
        id(geometry.attributes["position"]),
    }
    assert close_widgets(found) == 4
    assert all(widget is not group and widget is not mesh for widget in _instances.values())
    assert mesh.comm is None and material.comm is not None
    assert close_widgets([material]) == 1


@pytest.mark.browser
def test_sessions_are_counted_and_released_when_the_tab_closes(browser):
    process, url = start_app()
    try:
        assert wait_for_sessions(url, 0) == 0
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.locator(EVENT_NUMBER).first.wait_for(timeout=SETTLE_MS)
        assert health(url)["sessions"] == 1
        context.close()
        assert wait_for_sessions(url, 0) == 0
    finally:
        stop_app(process)


@pytest.mark.browser
def test_a_histogram_link_opens_on_the_histograms_tab(app_url, page):
    page.goto(f"{app_url}/?h_bins=17&h_cut=lep1_pt%20%3E%2030")
    page.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
    bins = page.locator(".bk-input-group:has(label:text-is('Bins')) input").first
    assert bins.input_value() == "17"
    assert page.offsite_requests == []


@pytest.mark.browser
def test_sessions_never_see_each_other(app_url, browser, tmp_path):
    events = tmp_path / "alice_events.json"
    events.write_text(json.dumps({"7-77": {"event number": 77, "Muons": {"M": []}}}))
    columns = tmp_path / "alice_columns.csv"
    columns.write_text("alice_x,alice_y\n1,2\n3,4\n")
    alice, bob = browser.new_context(), browser.new_context()
    try:
        first = alice.new_page()
        first.goto(app_url)
        first.locator(EVENT_NUMBER).first.wait_for(timeout=SETTLE_MS)
        opening = first.locator(EVENT_NUMBER).first.inner_text()
        first.locator("button:has-text('Next')").first.click()
        first.locator("input[type=file]").first.set_input_files(str(events))
        first.get_by_text("alice_events.json").first.wait_for(timeout=30_000, state="attached")
        first.locator(".bk-tab").filter(has_text="Histograms").first.click()
        first.locator("input[type=file][accept*=csv]").first.set_input_files(str(columns))
        first.get_by_text("alice_columns.csv (uploaded)").first.wait_for(
            timeout=30_000, state="attached"
        )
        cut = first.locator(CUT_BOX).first
        cut.fill("alice_x > 1")
        cut.press("Enter")
        first.get_by_text("alice_x > 1").first.wait_for(timeout=30_000, state="attached")

        second = bob.new_page()
        second.goto(app_url)
        second.locator(EVENT_NUMBER).first.wait_for(timeout=SETTLE_MS)
        assert second.locator(EVENT_NUMBER).first.inner_text() == opening
        assert second.get_by_text("alice_events.json").count() == 0
        second.locator(".bk-tab").filter(has_text="Histograms").first.click()
        second.locator("table.histogram-table").first.wait_for(timeout=SETTLE_MS)
        assert second.get_by_text("alice_columns.csv").count() == 0
        assert second.get_by_text("alice_x").count() == 0
        assert second.locator(CUT_BOX).first.input_value() == ""
    finally:
        alice.close()
        bob.close()


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie counts as ended)."""
    try:
        state = classroom.process_stat(pid)[0]
    except OSError:
        return False
    return state != "Z"


def test_several_processes_serve_the_app_and_stop_with_it():
    process, url = start_app("--num-procs", "2")
    try:
        with urllib.request.urlopen(f"{url}/", timeout=60) as response:
            assert response.status == 200 and b"EventLab" in response.read()
        assert health(url)["status"] == "ok"
        workers = set(classroom.server_pids(process.pid)) - {process.pid}
        assert len(workers) == 2
    finally:
        stop_app(process)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "worker processes outlived the server"


def page_compression(url: str) -> str | None:
    """The websocket extension a page's connection agreed on, for a client offering compression."""
    classroom.load_client_models()
    session, _ = classroom.open_session(f"{url}/")
    try:
        return session._connection._socket._socket.headers.get("Sec-WebSocket-Extensions")
    finally:
        session.close()


def test_pages_are_deflated_for_clients_that_offer_it(app_url, monkeypatch):
    """Browsers offer permessage-deflate; the 1 MB display page then leaves as about 0.3 MB."""
    import bokeh.client.connection

    # offer_compression replaces this function for the whole process: put it back afterwards
    monkeypatch.setattr(
        bokeh.client.connection, "websocket_connect", bokeh.client.connection.websocket_connect
    )
    classroom.offer_compression()
    # In a thread of its own: the Bokeh client runs an event loop, and so may the browser's.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(page_compression, app_url).result(timeout=120) == "permessage-deflate"


def change_cut_without_reporting_loaded(url: str, typed: Event, measured: Event) -> None:
    """As a script would: open a histogram link, type two cuts, never send document_ready."""
    classroom.load_client_models()
    session = pull_session(url=f"{url}/", arguments={"h_bins": "50"})
    try:
        document = session.document
        link = classroom.find_model(
            document, lambda m: getattr(m, "title", None) == "Link to this plot", "link box"
        )
        cut = classroom.find_model(
            document, lambda m: str(getattr(m, "title", "")).startswith("Cut"), "cut box"
        )
        for value in ("n_leptons >= 2", "n_leptons >= 1"):
            cut.value = value
            classroom.wait_for(session, lambda v=value: quote_plus(v) in link.value, "cut")
        typed.set()
        measured.wait(timeout=60)  # the session stays open while the server's CPU is measured
    finally:
        typed.set()
        session.close()


def test_a_page_that_never_reports_loaded_does_not_keep_the_server_busy():
    """A client that never sends document_ready (a script, a half-loaded page) costs no CPU idle."""
    process, url = start_app()
    typed, measured = Event(), Event()
    try:
        # In a thread of its own: the Bokeh client runs an event loop, and so may the browser's.
        with ThreadPoolExecutor(max_workers=1) as pool:
            client = pool.submit(change_cut_without_reporting_loaded, url, typed, measured)
            typed.wait(timeout=120)
            time.sleep(1.0)
            before = classroom.server_cpu_seconds(process.pid)
            time.sleep(IDLE_S)
            used = classroom.server_cpu_seconds(process.pid) - before
            measured.set()
            client.result()
        assert used < 0.2 * IDLE_S
    finally:
        measured.set()
        stop_app(process)


@pytest.fixture
def collector():
    """The garbage collector as tests found it: nothing frozen, no freeze pending, afterwards."""
    import gc

    from app.sessions import CLOSED_PAGES

    yield gc
    CLOSED_PAGES.cancel()
    gc.unfreeze()


def open_page() -> tuple[Any, list]:
    """A page with a few 3D widgets, frozen out of full collections as the server does."""
    import comm
    import panel.io.ipywidget  # noqa: F401  (gives each page's widgets their comms)
    import pythreejs as three
    from bokeh.document import Document
    from panel.io.state import set_curdoc
    from tornado.ioloop import IOLoop

    from app.sessions import freeze_live_objects, page_of

    IOLoop.current()  # the server's loop exists before any page (made later, it would hold one)
    document = Document()
    with set_curdoc(document):
        widgets = [three.Mesh(three.BufferGeometry(), three.MeshBasicMaterial()) for _ in range(3)]
    freeze_live_objects()
    registered = comm.get_comm_manager().comms
    assert sum(page_of(channel) is document for channel in registered.values()) == 9
    return document, widgets


def release_page(document: Any, widgets: list) -> Any:
    """Release a page as when its tab closes; a weak reference to its document."""
    import weakref

    import comm

    from app.sessions import page_of, release_session

    document.callbacks.destroy()  # as Bokeh does when the tab closes: closing messages fail
    release_session(document, lambda: widgets)
    registered = comm.get_comm_manager().comms
    assert not any(page_of(channel) is document for channel in registered.values())
    return weakref.ref(document)


def test_a_closed_page_stays_frozen_until_the_collection_frees_it(collector):
    """Closing a page frees its widgets' comms; the page itself stays frozen (unfrozen at once,
    pages built in the next moments would set off full passes) until the collection frees it."""
    from app.sessions import CLOSED_PAGES

    closed = release_page(*open_page())
    assert collector.get_freeze_count() > 0
    built_meanwhile = open_page()  # Panel keeps the latest page's widget kernel: now this one's
    assert closed() is not None, "collected before its collection ran"
    CLOSED_PAGES.run()
    assert closed() is None, "the closed page's document is still referenced"
    release_page(*built_meanwhile)


def test_closed_pages_are_collected_soon_after_they_close(collector, monkeypatch):
    """In a thread with an event loop of its own: the browser tests' loop runs in this one."""
    import asyncio

    from app.sessions import CLOSED_PAGES

    monkeypatch.setattr(CLOSED_PAGES, "delay_s", 0.05)

    def close_pages_and_wait() -> tuple[bool, bool, bool]:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            closed = release_page(*open_page())
            latest = open_page()  # releases Panel's hold on the closed page's widget kernel
            made_since = [object()]
            kept_at_first = closed() is not None
            loop.run_until_complete(asyncio.sleep(0.3))
            frozen = not any(tracked is made_since for tracked in collector.get_objects())
            release_page(*latest)
            return kept_at_first, closed() is None, frozen
        finally:
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        kept_at_first, collected, frozen = pool.submit(close_pages_and_wait).result(timeout=60)
    assert kept_at_first
    assert collected
    assert frozen, "what lives on is frozen again"


def test_each_built_tab_is_frozen_out_of_full_collections(collector, monkeypatch):
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    import app.sessions
    from app.config import AppConfig
    from app.server import create_app

    froze = []
    freeze = app.sessions.freeze_live_objects
    monkeypatch.setattr(app.sessions, "freeze_live_objects", lambda: froze.append(freeze()))

    def run_scheduled() -> None:
        callbacks = list(document.session_callbacks)
        for callback in callbacks:
            document.remove_next_tick_callback(callback)
            callback.callback()

    document = Document()
    with set_curdoc(document):
        tabs = create_app(AppConfig())
        collector.unfreeze()
        run_scheduled()
        assert len(froze) == 1
        assert not any(tracked is tabs for tracked in collector.get_objects()), "not frozen"
        tabs.active = 1  # the Histograms tab is built when first shown
        run_scheduled()
        assert len(froze) == 2
    tab = tabs.objects[1].objects[0]
    assert not any(tracked is tab for tracked in collector.get_objects())
