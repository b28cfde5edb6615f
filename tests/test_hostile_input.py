"""Hostile input: paths, uploads, huge or deep JSON, HTML in names, costly expressions.

Pure functions where the server adds nothing; the real server and a browser where the danger is
in the page. After each attack through the server, /health answers and another session works.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import urllib.request
import zlib
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import start_app, stop_app

from app.config import BUNDLED_DATA_DIR
from app.display.events import (
    MAX_UNPACKED_BYTES,
    EventFileError,
    list_event_files,
    parse_event_bytes,
    resolve_event_file,
)
from app.display.view import read_upload
from app.histogram.catalog import is_safe_name, resolve_data_file
from app.histogram.data import read_dataset
from app.histogram.errors import DatasetError
from app.histogram.evaluation import Evaluator
from app.histogram.links import settings_from_query
from converters.errors import EventLabError

# Payloads valid for the parsers they target: HTML with quoted attributes (Markdown passes it
# as raw HTML), SVG handlers, an iframe document, a script link, an off-site image.
XSS = '<img src="x" onerror="window.__xss=1">'
PAYLOADS = (
    XSS,
    '<svg onload="window.__xss=2"></svg>',
    '<svg><animate onbegin="window.__xss=3" attributeName="x" dur="1s"/></svg>',
    '<iframe srcdoc="<script>parent.__xss=4</script>"></iframe>',
    "[click me](javascript:window.__xss=5)",
    "![tracker](http://evil.example/pixel.png)",
)
TRAVERSALS = ["../../etc/passwd", "/etc/passwd", "..", "a/../../etc/passwd", "..\\..\\win.ini"]
FAST_S = 5.0  # every refusal below must come well within this


def health(url: str) -> dict:
    """The server's /health answer."""
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def small_dataset_bytes() -> bytes:
    """A small valid CSV."""
    return b"x,y\n1,2\n3,4\n5,6\n"


# --- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRAVERSALS)
def test_event_file_names_never_leave_the_data_folders(name):
    with pytest.raises(EventFileError, match="no event file called"):
        resolve_event_file(name, [BUNDLED_DATA_DIR])


@pytest.mark.parametrize("name", [*TRAVERSALS, "C:evil.csv", ".hidden.csv", "x\x00.csv"])
def test_data_file_names_never_leave_the_data_folders(name):
    assert not is_safe_name(name)
    with pytest.raises(DatasetError, match="not a plain file name"):
        resolve_data_file(name, (BUNDLED_DATA_DIR,))


def test_histogram_link_refuses_traversal_and_oversized_values():
    query = "h_dataset=..%2F..%2Fetc%2Fpasswd&h_bins=99999999&h_cut=" + "x" * 5000
    settings, problems = settings_from_query(query)
    assert settings.dataset is None and settings.bins is None and settings.cut is None
    assert len(problems) == 3


def test_uploaded_file_names_lose_their_folders():
    data = json.dumps({"1": {"Muons": {"M": []}}}).encode()
    assert read_upload("../../etc/evil.json", data, 10**6).name == "evil.json"
    assert read_upload("/abs/path/evil.json", data, 10**6).name == "evil.json"


# --- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("fake.root", b"this is not a ROOT file" * 100, "not a ROOT file"),
        ("fake.json", b"\x00\xff\xfe binary", r"not a text JSON file|not valid JSON"),
        ("fake.json", b'{"a": [1, 2', "not valid JSON"),
        ("fake.json.gz", b"\x1f\x8b broken gzip", "cannot be unpacked"),
        ("list.json", b"[1, 2, 3]", "expected an object of events"),
        ("script.py", b"import os", "EventLab opens Phoenix event files"),
    ],
    ids=["root", "binary-json", "cut-json", "broken-gzip", "json-list", "python"],
)
def test_malformed_event_uploads_are_refused_with_a_message(name, data, message):
    with pytest.raises(EventLabError, match=message):
        read_upload(name, data, 10**7)


def test_oversized_upload_is_refused_before_reading():
    with pytest.raises(EventFileError, match="over the 1 MB limit"):
        read_upload("big.json", b" " * (2 * 10**6), 10**6)


def test_gzip_bomb_is_refused_without_unpacking_it():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\x00" * (1 << 20)
    chunks = MAX_UNPACKED_BYTES // len(chunk) * 4  # four times the limit
    bomb = b"".join(packer.compress(chunk) for _ in range(chunks)) + packer.flush()
    assert len(bomb) < MAX_UNPACKED_BYTES // 200  # a 1 GB bomb in about 1 MB
    started = time.monotonic()
    with pytest.raises(EventFileError, match="unpacks to more than"):
        parse_event_bytes(bomb, "bomb.json.gz")
    assert time.monotonic() - started < FAST_S


def test_huge_json_array_is_refused():
    data = b"[" + b"0," * (10**7 - 1) + b"0]"
    started = time.monotonic()
    with pytest.raises(EventFileError, match="expected an object of events"):
        parse_event_bytes(data, "huge.json")
    assert time.monotonic() - started < 3 * FAST_S


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_deeply_nested_json_is_refused(opening):
    closing = b"]" if opening == b"[" else b"}"
    data = opening * 100_000 + b"1" + closing * 100_000
    with pytest.raises(EventFileError, match=r"nested too deeply|not valid JSON"):
        parse_event_bytes(data, "deep.json")


def parquet_bytes(table: pa.Table) -> bytes:
    """A table written as parquet."""
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("fake.parquet", b"PAR1 not really parquet PAR1"),
        ("fake.csv", b"\x00\x01\x02\xff\xfe"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n"),
        ("empty.csv", b""),
        ("text.csv", b"name\nalice\nbob\n"),
        ("fake.xlsx", b"PK\x03\x04"),
        ("strings.parquet", parquet_bytes(pa.table({"s": ["a", "b"]}))),
    ],
)
def test_malformed_column_uploads_are_refused_with_a_message(name, data):
    with pytest.raises(DatasetError):
        read_dataset(data, name)


# --- expressions -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    """An evaluator over a small dataset."""
    return Evaluator(read_dataset(small_dataset_bytes(), "small.csv"))


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9**9",
        "x" + "**x" * 300,
        "(" * 100_000 + "x" + ")" * 100_000,
        "x" + " + x" * 5000,
        "x > " + "9" * 100_000,
        "__import__('os').system('true')",
        "x.__class__",
        "[x for x in x]",
        "'a' * 10**9",
        "lambda: 1",
    ],
)
def test_costly_or_code_like_expressions_are_bounded(evaluator, expression):
    started = time.monotonic()
    try:
        values = evaluator.values(expression)
    except EventLabError:
        pass
    else:
        assert values.shape == (3,)
    assert time.monotonic() - started < FAST_S


# --- through the real server -------------------------------------------------------------------


def test_hostile_urls_leave_the_server_up(app_url):
    queries = [
        "file=..%2F..%2Fetc%2Fpasswd",
        "file=%2Fetc%2Fpasswd",
        "event=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "h_dataset=..%2F..%2Fetc%2Fpasswd&h_x=__import__",
        "file=" + "a" * 2000,
    ]
    for query in queries:
        with urllib.request.urlopen(f"{app_url}/?{query}", timeout=60) as response:
            page = response.read().decode("utf-8", "replace")
        assert response.status == 200 and "root:x:0:0" not in page
    for path in ("/widget-modules/three@1/..%2F..%2F..%2Fetc%2Fpasswd", "/..%2F..%2Fetc%2Fpasswd"):
        try:
            with urllib.request.urlopen(f"{app_url}{path}", timeout=10) as response:
                assert "root:x:0:0" not in response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            assert error.code in (403, 404)
    assert health(app_url)["status"] == "ok"


@pytest.fixture
def hostile_event_file(tmp_path) -> Path:
    """A Phoenix file whose metadata and collection names carry HTML with a script."""
    event = {
        "event number": XSS,
        "run number": XSS,
        "dataset": XSS,
        "Muons": {
            XSS: [{"pt": 40000.0, "eta": 0.5, "phi": 1.0, "energy": 50000.0, "charge": 1}],
        },
        "Tracks": {XSS: [{"pos": [[0, 0, 0], [100, 100, 100]], "dparams": [0, 0, 0, 1, 0]}]},
    }
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps({"1-1": event}))
    return path


@pytest.mark.browser
def test_html_in_event_metadata_is_shown_as_text(app_url, page, browser, hostile_event_file):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_url)
    page.locator(".eventlab-scene canvas").first.wait_for(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(hostile_event_file))
    page.get_by_text(XSS).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0
    assert health(app_url)["status"] == "ok"
    other = browser.new_page()
    try:
        other.goto(app_url)
        other.locator("[data-testid=event-number]").first.wait_for(timeout=60_000)
        assert other.get_by_text(XSS).count() == 0
    finally:
        other.close()
    assert page.offsite_requests == []


@pytest.mark.browser
def test_html_in_column_names_is_shown_as_text(app_url, page, tmp_path):
    path = tmp_path / "columns.csv"
    quoted = XSS.replace('"', '""')  # a quote inside a quoted CSV field is doubled
    path.write_text(f'"{quoted}",x,"<b>label</b>"\n1,2,a\n3,4,b\n')
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{app_url}/?h_bins=20")
    page.locator("table.histogram-table").first.wait_for(timeout=60_000)
    page.locator("input[type=file][accept*=csv]").first.set_input_files(str(path))
    page.get_by_text("columns.csv (uploaded)").first.wait_for(timeout=30_000, state="attached")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__xss") is None
    assert dialogs == [] and page.locator("img[src=x]").count() == 0
    assert health(app_url)["status"] == "ok"


def test_numbers_of_the_fake_dataset_are_finite():
    assert np.isfinite(read_dataset(small_dataset_bytes(), "ok.csv").column("x")).all()


def test_gzip_event_file_within_the_limit_still_opens():
    files = list_event_files([BUNDLED_DATA_DIR])
    name, path = next(iter(files.items()))
    packed = gzip.compress(path.read_bytes())
    assert len(parse_event_bytes(packed, name + ".gz"))


# --- script from a link, a file name, a file's contents or an exercise (in Chromium) -----------


def hostile_exercise(dataset: str) -> str:
    """An exercise file with a payload in every text a student reads."""
    texts = [json.dumps(f"Text {number}: {payload}") for number, payload in enumerate(PAYLOADS)]
    return (
        f"title: {texts[0]}\nsummary: {texts[1]}\nsource: {texts[2]}\ndataset: {dataset}\n"
        "steps:\n"
        f"  - title: {texts[3]}\n    instructions: {texts[4]}\n    x: x\n"
        f"    questions:\n      - text: {texts[5]}\n        answer: 1\n        tolerance: 1\n"
        f"        unit: {json.dumps(XSS)}\n        hint: {texts[1]}\n"
    )


@pytest.fixture
def hostile_folder(tmp_path) -> Path:
    """A data folder whose file names, columns, metadata and exercise all carry payloads."""
    folder = tmp_path / "class"
    (folder / "exercises").mkdir(parents=True)
    event = {
        "event number": 1,
        "dataset": PAYLOADS[1],
        "Muons": {PAYLOADS[2]: [{"pt": 4e4, "eta": 0.5, "phi": 1.0, "energy": 5e4, "charge": 1}]},
    }
    (folder / f"{XSS}.json").write_text(json.dumps({"1-1": event}))
    table = pa.table({PAYLOADS[3]: [1.0, 2.0, 3.0], "x": [1.0, 2.0, 2.5]})
    table = table.replace_schema_metadata({"note": PAYLOADS[0], PAYLOADS[5]: "metadata"})
    pq.write_table(table, folder / "columns.parquet")
    (folder / "exercises" / "hostile.yaml").write_text(hostile_exercise("columns.parquet"))
    return folder


def assert_no_script_ran(page, dialogs: list[str]) -> None:
    """Nothing of the payloads ran, and the page asked nothing of another host."""
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('*').length") > 0
    assert dialogs == [] and page.offsite_requests == []


@pytest.mark.browser
def test_payloads_in_links_names_files_and_exercises_stay_text(page, hostile_folder, tmp_path):
    process, url = start_app("--no-samples", "--data-dir", str(hostile_folder))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        for query in (f"event={quote(XSS)}", f"file={quote(PAYLOADS[1])}", f"file={quote(XSS)}"):
            page.goto(f"{url}/?{query}")
            page.locator("[data-testid=event-number]").first.wait_for(timeout=60_000)
            assert_no_script_ran(page, dialogs)
        page.get_by_text(PAYLOADS[2], exact=False).first.wait_for(timeout=30_000)
        upload = tmp_path / f"{PAYLOADS[3]}.json".replace("/", "_")
        upload.write_text(json.dumps({"2-2": {"event number": 2, "Muons": {XSS: []}}}))
        page.locator("input[type=file]").first.set_input_files(str(upload))
        page.get_by_text(upload.name, exact=False).first.wait_for(timeout=30_000, state="attached")
        assert_no_script_ran(page, dialogs)

        page.locator(".bk-tab").filter(has_text="Histograms").first.click()
        page.locator("table.histogram-table").first.wait_for(timeout=60_000)
        page.locator("select").filter(has_text="Text 0").first.select_option(label=f"Text 0: {XSS}")
        page.get_by_text("Text 4: [click me](javascript:", exact=False).first.wait_for(
            timeout=30_000
        )
        page.get_by_text("[image: tracker]", exact=False).first.wait_for(timeout=30_000)
        assert page.locator("a[href^='javascript']").count() == 0
        assert_no_script_ran(page, dialogs)
        assert health(url)["status"] == "ok"
    finally:
        stop_app(process)
