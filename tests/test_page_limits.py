"""The limits of one page: its memory budget, its time budget, work off the event loop.

Pure pieces here, with a real asyncio loop and real threads where the behaviour is about them;
the running server is tested in test_hostile_input.py and test_classroom.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tornado.ioloop import IOLoop

from app.caches import SizeBoundedCache
from app.data_folders import files_inside
from app.display.events import EventFileError, parse_event_bytes
from app.display.view import read_upload
from app.histogram.data import Dataset, read_dataset
from app.histogram.evaluation import Evaluator
from app.histogram.exercises import discover_exercises
from app.memory import MB, MemoryLimitError, SessionMemory
from app.uploads import BoundedFileDropper
from app.work import SERVER_FAULT, PageWork, TimeLimitError, check_time
from converters.errors import EventLabError
from converters.expressions import parse

EVENT = {"event number": 1, "Muons": {"M": [{"pt": 1.0, "eta": 0.0, "phi": 0.0}]}}


# --- memory -------------------------------------------------------------------------------------


def test_a_page_holds_what_fits_and_is_told_what_does_not():
    memory = SessionMemory(10 * MB)
    memory.hold("a", 6 * MB, "a.csv")
    with pytest.raises(MemoryLimitError, match=r"b.csv would need about 5 MB.*10 MB \(6 MB"):
        memory.hold("b", 5 * MB, "b.csv")
    memory.hold("a", 9 * MB, "a.csv")  # an owner may grow into its own room
    memory.release("a")
    memory.hold("b", 5 * MB, "b.csv")
    assert memory.used == 5 * MB and memory.room_for("c") == 5 * MB


def test_caches_make_room_for_what_a_page_holds():
    memory = SessionMemory(100)
    cache = SizeBoundedCache(1000, memory)
    for key in range(5):
        cache.put(key, object(), 20)
    assert cache.nbytes == 100 and memory.used == 100
    memory.hold("upload", 60, "upload")
    cache.put("new", object(), 20)  # now only 40 bytes are left for the cache
    assert cache.nbytes == 40 and memory.used == 100
    assert cache.get("new") is not None and cache.get(0) is None


def test_an_uploads_table_is_refused_before_it_is_built():
    memory = SessionMemory(1 * MB)
    rows = b"a,b,c,d\n" + b"1,2,3,4\n" * 100_000  # 0.8 MB of text, 3.2 MB as float64
    with pytest.raises(MemoryLimitError, match=r"big\.csv would need about 3 MB"):
        read_dataset(rows, "big.csv", room=lambda size: memory.check("u", size, "big.csv"))


def test_a_small_parquet_bomb_is_refused_from_its_metadata(tmp_path):
    table = pa.table({name: np.zeros(2_000_000) for name in "abc"})  # zeros pack very well
    path = tmp_path / "bomb.parquet"
    pq.write_table(table, path, compression="zstd")
    assert path.stat().st_size < 0.2 * MB
    memory = SessionMemory(32 * MB)
    started = time.monotonic()
    with pytest.raises(MemoryLimitError, match="about 46 MB"):
        read_dataset(path.read_bytes(), "bomb.parquet", room=lambda n: memory.check("u", n, "x"))
    assert time.monotonic() - started < 1.0


def test_an_event_text_bomb_is_refused_before_parsing():
    bomb = gzip.compress(b'{"1": {"Jets": {"J": [' + b"{}," * 14_000_000 + b"{}]}}}")
    assert len(bomb) < 200_000
    started = time.monotonic()
    with pytest.raises(EventLabError, match="more than your page may still keep"):
        read_upload("bomb.json.gz", bomb, 10 * MB, room=32 * MB)
    with pytest.raises(EventFileError, match="too many JSON values"):
        parse_event_bytes(bomb, "bomb.json.gz")
    assert time.monotonic() - started < 5.0


def test_events_are_kept_as_text_and_parsed_when_shown():
    muons = [{"pt": 1.5e4 + i, "eta": 0.1 * i, "phi": 0.2, "energy": 2e4} for i in range(50)]
    events = {f"1-{i}": {**EVENT, "event number": i, "Muons": {"M": muons}} for i in range(200)}
    file = parse_event_bytes(json.dumps(events).encode(), "many.json")
    assert len(file) == 200 and file.event(17)["event number"] == 17
    assert file.position_of("17") == 17 and file.numbers[3] == "3"
    assert all(isinstance(text, bytes) for text in file.texts)
    assert file.nbytes < 1.2 * len(json.dumps(events))  # parsed, it would take 20 times more


def test_upload_chunks_past_the_limit_are_dropped_on_the_server():
    dropper = BoundedFileDropper(max_bytes=2 * MB)

    class Event:
        def __init__(self, chunk: int, total: int) -> None:
            self.event_name = "upload_event"
            self.data = {"name": "huge.csv", "chunk": chunk, "total_chunks": total,
                         "data": b"x" * MB, "type": "text/csv"}  # fmt: skip

    for chunk in range(1, 6):
        dropper._process_event(Event(chunk, 5))
    assert dropper.refused == "huge.csv" and dropper.value == {}
    assert not dropper._file_buffer
    told: list[str] = []
    dropper.param.watch(lambda event: told.append(event.new), "refused")
    for chunk in range(1, 4):
        dropper._process_event(Event(chunk, 3))
    assert told == ["huge.csv"]  # the same file refused again is reported again
    small = BoundedFileDropper(max_bytes=2 * MB)
    small._process_event(Event(1, 1))
    assert list(small.value) == ["huge.csv"] and small.refused == ""


@pytest.mark.parametrize(
    "data",
    [None, [], {"name": 3}, {"name": "a", "chunk": "1", "total_chunks": 1, "data": b""},
     {"name": "a", "chunk": 2, "total_chunks": 1, "data": b"x"},
     {"name": "a", "chunk": 1, "total_chunks": 1, "data": "text"}],
)  # fmt: skip
def test_malformed_upload_messages_are_ignored(data):
    dropper = BoundedFileDropper(max_bytes=MB)
    event = type("Event", (), {"event_name": "upload_event", "data": data})()
    dropper._process_event(event)
    assert dropper.value == {} and not dropper._file_buffer


# --- time -----------------------------------------------------------------------------------------


def big_evaluator(rows: int = 2_000_000) -> Evaluator:
    """An evaluator over random four-vector columns."""
    rng = np.random.default_rng(3)
    columns = {
        f"{kind}{i}": rng.uniform(1, 50, rows) for kind in ("pt", "eta", "phi") for i in (1, 2)
    }
    return Evaluator(Dataset("big", pa.table(columns)))


HEAVY = " + ".join(["inv_mass(pt1, eta1, phi1, 0.1, pt2, eta2, phi2, 0.1)"] * 12)


def test_an_expression_too_costly_for_the_budget_is_refused_before_it_runs():
    evaluator = big_evaluator()
    assert parse(HEAVY, evaluator.names).cost * 2_000_000 / 1e9 > 2
    work = PageWork(seconds=2)
    errors: list[EventLabError] = []
    started = time.monotonic()
    work.run(lambda: evaluator.values(HEAVY), lambda _: None, errors.append)
    assert time.monotonic() - started < 0.5
    assert isinstance(errors[0], TimeLimitError) and "would take about" in str(errors[0])


def test_work_past_its_budget_stops_between_chunks():
    work = PageWork(seconds=0.3)
    errors: list[EventLabError] = []

    def slow() -> None:
        for _ in range(100):
            time.sleep(0.05)
            check_time()

    started = time.monotonic()
    work.run(slow, lambda _: None, errors.append)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert isinstance(errors[0], TimeLimitError) and "longer than 0.3 s" in str(errors[0])


def run_loop(coroutine):
    """Run a coroutine on an event loop in a thread of its own (the browser tests may hold one
    in this thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


class Document:
    """Bokeh's document as PageWork uses it: callbacks run on the event loop."""

    session_context = "served"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def add_next_tick_callback(self, callback) -> None:
        self.loop.call_soon_threadsafe(callback)


def test_work_runs_off_the_event_loop_and_the_newest_request_wins():
    async def scenario() -> tuple[list, list, float]:
        work = PageWork(seconds=5, document=Document(asyncio.get_running_loop()))
        loop_thread = threading.get_ident()
        shown, threads = [], []
        gap = 0.0

        def compute(label: str) -> str:
            threads.append(threading.get_ident())
            for _ in range(20):
                time.sleep(0.02)
                check_time()
            return label

        for label in ("first", "second", "third"):
            work.run(lambda label=label: compute(label), shown.append, shown.append)
        while work.busy:  # the loop stays free while the work runs
            before = time.monotonic()
            await asyncio.sleep(0.01)
            gap = max(gap, time.monotonic() - before)
        assert loop_thread not in threads
        return shown, threads, gap

    shown, threads, gap = run_loop(scenario())
    assert shown == ["third"]  # "first" was stopped, "second" replaced while waiting
    assert len(threads) == 2 and gap < 0.1


def test_uploads_queue_behind_each_other_instead_of_replacing():
    async def scenario() -> list:
        work = PageWork(seconds=5, document=Document(asyncio.get_running_loop()))
        done: list = []
        for name in ("a.csv", "b.csv"):
            work.run(lambda name=name: (time.sleep(0.05), name)[1], done.append, done.append,
                     replaceable=False)  # fmt: skip
        work.run(lambda: "redraw", done.append, done.append)
        while work.busy:
            await asyncio.sleep(0.01)
        return done

    assert run_loop(scenario()) == ["a.csv", "b.csv", "redraw"]


def test_a_result_finished_while_the_page_is_being_rendered_still_reaches_the_page(monkeypatch):
    """Panel holds the document while it renders a page and then puts its held events back:
    a result handed to the document from a worker thread in that moment was lost for good."""
    import panel.io.resources as resources
    from bokeh.document import Document as BokehDocument
    from bokeh.models import Div, ImportedStyleSheet
    from bokeh.server.session import ServerSession

    rendering = threading.Event()

    def patch_while_the_work_finishes(stylesheet, dist_url) -> None:
        rendering.set()
        time.sleep(0.3)  # the worker thread finishes and hands its result over meanwhile

    monkeypatch.setattr(resources, "patch_stylesheet", patch_while_the_work_finishes)

    async def scenario() -> list:
        document = BokehDocument()
        root = Div(stylesheets=[ImportedStyleSheet(url="page.css")])
        document.add_root(root)
        monkeypatch.setattr(BokehDocument, "session_context", "served", raising=False)
        ServerSession("page", document, io_loop=IOLoop.current())
        work = PageWork(seconds=5, document=document)
        shown: list = []
        work.run(lambda: (rendering.wait(5), "plot")[1], shown.append, shown.append)
        resources.patch_model_css(root, dist_url="static/")  # as Panel renders the page
        for _ in range(200):
            if shown:
                break
            await asyncio.sleep(0.01)
        return shown

    assert run_loop(scenario()) == ["plot"]


def test_a_failure_while_showing_a_result_is_reported_and_the_next_action_runs():
    async def scenario() -> tuple[list, list]:
        work = PageWork(seconds=5, document=Document(asyncio.get_running_loop()))
        shown, errors = [], []

        def broken_apply(result: str) -> None:
            raise ValueError("a bug in showing the result")

        work.run(lambda: "first", broken_apply, errors.append, replaceable=False)
        work.run(lambda: "second", shown.append, errors.append)
        for _ in range(500):  # before, the page's work stopped for good here
            if not work.busy:
                break
            await asyncio.sleep(0.01)
        return shown, errors

    shown, errors = run_loop(scenario())
    assert shown == ["second"]
    assert [str(error) for error in errors] == [SERVER_FAULT]


# --- folders ------------------------------------------------------------------------------------


def test_links_out_of_a_data_folder_are_neither_listed_nor_opened(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "private.csv").write_text("a\n1\n")
    (outside / "private.json").write_text(json.dumps({"1": EVENT}))
    (outside / "evil.yaml").write_text("title: x\n")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "mine.csv").write_text("a\n1\n")
    for name in ("private.csv", "private.json", "evil.yaml"):
        (folder / f"link-{name}").symlink_to(outside / name)
    (folder / "same.csv").symlink_to(folder / "mine.csv")  # a link within the folder is fine
    found = [path.name for path in files_inside(folder, (".csv", ".json", ".yaml"))]
    assert found == ["mine.csv", "same.csv"]
    assert discover_exercises((folder,)) == ([], [])


def test_a_forked_worker_makes_its_own_threads():
    import os

    from app import work

    work.pool().submit(lambda: None).result()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        try:
            done = work.pool().submit(lambda: b"ran").result(timeout=10)
        except Exception:
            done = b"hung"
        os.write(writer, done)
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    assert os.read(reader, 10) == b"ran"
