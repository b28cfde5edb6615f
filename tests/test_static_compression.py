"""Static scripts and styles leave gzipped, each file compressed once per process."""

from __future__ import annotations

import gzip
import json
import urllib.request

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from app.static_compression import COMPRESSED, STARTED, accepts_gzip, static_gzip

SCRIPT = b"".join(b"function f%d(){return %d;}\n" % (n, n) for n in range(20_000))


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts and ends with nothing compressed."""
    COMPRESSED.clear()
    STARTED.clear()
    yield
    COMPRESSED.clear()
    STARTED.clear()


def request(path: str, accept: str = "gzip, deflate, br", method: str = "GET") -> HTTPServerRequest:
    """A request as tornado hands it to an output transform."""
    return HTTPServerRequest(
        headers=HTTPHeaders({"Accept-Encoding": accept, "Host": "localhost"}),
        start_line=RequestStartLine(method, path, "HTTP/1.1"),
    )


def served(transform, body: bytes, chunk: int = 65536, **headers: str) -> tuple[HTTPHeaders, bytes]:
    """Send `body` through `transform` in chunks, as a static file handler streams a file."""
    sent = HTTPHeaders(
        {"Content-Type": "application/javascript", "Content-Length": str(len(body)), **headers}
    )
    pieces = [body[start : start + chunk] for start in range(0, len(body), chunk)] or [b""]
    status, sent, first = transform.transform_first_chunk(200, sent, pieces[0], len(pieces) == 1)
    out = [first]
    for index, piece in enumerate(pieces[1:], start=2):
        out.append(transform.transform_chunk(piece, index == len(pieces)))
    assert status == 200
    return sent, b"".join(out)


def test_a_static_file_is_compressed_once_then_served_from_memory():
    transform = static_gzip()
    headers, body = served(
        transform(request("/static/js/app.js")), SCRIPT, Etag='"abc"', **{"Accept-Ranges": "bytes"}
    )
    assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    assert headers["Etag"] == 'W/"abc"'  # the same content in another encoding
    assert "Accept-Ranges" not in headers  # ranges would be of the uncompressed file
    assert "Content-Length" not in headers  # streamed in chunks while compressing
    assert gzip.decompress(body) == SCRIPT
    assert len(body) < len(SCRIPT) / 4
    again_headers, again = served(transform(request("/static/js/app.js")), SCRIPT, Etag='"abc"')
    assert again == body and again_headers["Content-Length"] == str(len(body))
    other, _ = served(transform(request("/static/js/app.js")), SCRIPT, Etag='"def"')
    assert "Content-Length" not in other, "another version of the file is compressed anew"


def test_a_download_cut_short_is_not_kept():
    """A client gone mid-way: tornado still finishes the response, with what was sent."""
    transform = static_gzip()(request("/static/js/app.js"))
    sent = HTTPHeaders(
        {"Content-Type": "application/javascript", "Content-Length": str(len(SCRIPT)), "Etag": "x"}
    )
    transform.transform_first_chunk(200, sent, SCRIPT[:65536], False)
    transform.transform_chunk(b"", True)
    assert COMPRESSED.get("x") is None


def test_a_file_being_compressed_is_sent_as_it_is_meanwhile():
    """Thirty students arriving together do not compress the same file thirty times."""
    transform = static_gzip()
    first = transform(request("/static/js/app.js"))
    sent = HTTPHeaders(
        {"Content-Type": "application/javascript", "Content-Length": str(len(SCRIPT)), "Etag": "x"}
    )
    first.transform_first_chunk(200, sent, SCRIPT[:65536], False)
    headers, body = served(transform(request("/static/js/app.js")), SCRIPT, Etag="x")
    assert "Content-Encoding" not in headers and body == SCRIPT
    assert headers["Vary"] == "Accept-Encoding"
    first.transform_chunk(SCRIPT[65536:], True)
    headers, body = served(transform(request("/static/js/app.js")), SCRIPT, Etag="x")
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == SCRIPT


def test_vary_is_added_to_what_is_there_and_to_answers_left_as_they_are():
    transform = static_gzip()
    headers, _ = served(transform(request("/static/a.js")), SCRIPT, Etag="x", Vary="Origin")
    assert headers["Vary"] == "Origin, Accept-Encoding"
    headers, _ = served(transform(request("/static/a.js", accept="identity")), SCRIPT, Etag="y")
    assert headers["Vary"] == "Accept-Encoding" and "Content-Encoding" not in headers


def test_routes_below_a_prefix_and_the_widget_modules_are_compressed():
    transform = static_gzip("/eventlab/")
    for path in ("/eventlab/static/js/app.js", "/eventlab/widget-modules/three@1/dist/index"):
        headers, body = served(transform(request(path)), SCRIPT, Etag='"abc"')
        assert headers.get("Content-Encoding") == "gzip", path
    headers, body = served(transform(request("/static/js/app.js")), SCRIPT, Etag='"abc"')
    assert "Content-Encoding" not in headers and body == SCRIPT


@pytest.mark.parametrize(
    ("path", "accept", "method", "headers"),
    [
        ("/", "gzip", "GET", {}),  # pages carry session tokens: never kept
        ("/static/js/app.js", "identity", "GET", {}),
        ("/static/js/app.js", "gzip;q=0, br", "GET", {}),
        ("/static/js/app.js", "gzip", "HEAD", {}),
        ("/static/js/app.js", "gzip", "GET", {"Content-Type": "image/png"}),
        ("/static/js/app.js", "gzip", "GET", {"Content-Encoding": "br"}),
        ("/static/js/app.js", "gzip", "GET", {"Content-Range": "bytes 0-9/100"}),
    ],
)
def test_what_is_left_as_it_is(path, accept, method, headers):
    transform = static_gzip()(request(path, accept, method))
    sent, body = served(transform, SCRIPT, Etag='"abc"', **headers)
    assert body == SCRIPT
    assert sent.get("Content-Encoding") == headers.get("Content-Encoding")
    assert COMPRESSED.get('"abc"') is None


def test_accept_encoding_values():
    assert accepts_gzip("gzip, deflate, br, zstd")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert accepts_gzip("br, *;q=0.1")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip;level=1;q=0")
    assert not accepts_gzip("gzip;q=0.000, br")
    assert not accepts_gzip("gzip;q=0, *")
    assert not accepts_gzip("")
    assert not accepts_gzip("x-gzip-not, deflate")


def fetch(url: str, accept: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of a GET with the given Accept-Encoding (the body as sent)."""
    ask = urllib.request.Request(url, headers={"Accept-Encoding": accept})
    with urllib.request.urlopen(ask, timeout=30) as response:
        return dict(response.headers), response.read()


def test_the_server_sends_its_scripts_gzipped(app_url):
    from app.display.offline import widget_modules

    version = json.loads(widget_modules()["three"]["package"])["version"]
    for path in ("/static/js/bokeh.min.js", f"/widget-modules/three@{version}/dist/index"):
        plain_headers, plain = fetch(app_url + path, "identity")
        assert "Content-Encoding" not in plain_headers
        assert plain_headers["Vary"] == "Accept-Encoding"
        headers, body = fetch(app_url + path, "gzip, deflate")
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == plain, path
        assert len(body) < len(plain) / 2.5, path
    # Bokeh's static files are streamed in pieces: only a kept copy comes with its length.
    headers, body = fetch(app_url + "/static/js/bokeh.min.js", "gzip")
    assert int(headers["Content-Length"]) == len(body), "not served from memory"
