"""Gzip the page's scripts and styles once per process, then serve the compressed copy.

A student's first visit loads about 8 MB of JavaScript and CSS (Bokeh, Panel, ipywidgets,
three.js); gzipped it is about 2.2 MB, which matters when a class shares one network.
Compressing on every request (Tornado's `compress_response`) would cost the server about 0.2 s of
CPU per student, so a file is compressed while it is first sent and then kept, keyed by its ETag
(a hash of its content, set by the static file handlers). Requests for a file that arrive while
it is being compressed get it uncompressed rather than compressing it again.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

from app.caches import SizeBoundedCache
from app.display.offline import WIDGET_ROUTE, under_prefix

STATIC_ROUTE = "/static"
COMPRESSIBLE_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
GZIP_LEVEL = 6  # level 9 makes these files 1 % smaller for half as much CPU again
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
CACHE_LIMIT_BYTES = 32 * 1024 * 1024
# A download that never ends (a client gone quiet) stops blocking that file's compression then.
COMPRESSING_TIMEOUT_S = 30.0

COMPRESSED = SizeBoundedCache(CACHE_LIMIT_BYTES)  # ETag -> gzipped body, in this process
STARTED: dict[str, float] = {}  # ETag -> when a request began compressing it while sending it


def being_compressed(etag: str) -> bool:
    """Whether a request is compressing the file with this ETag now."""
    started = STARTED.get(etag)
    return started is not None and time.monotonic() - started < COMPRESSING_TIMEOUT_S


def static_gzip(prefix: str = "") -> type[OutputTransform]:
    """The output transform for a server whose routes sit below URL `prefix`."""
    routes = tuple(under_prefix(prefix, route) + "/" for route in (STATIC_ROUTE, WIDGET_ROUTE))

    class StaticGzip(OutputTransform):
        """Gzip static files for clients that accept it, compressing each file only once."""

        def __init__(self, request: HTTPServerRequest) -> None:
            self._static = request.path.startswith(routes)
            self._wanted = (
                self._static
                and request.method == "GET"
                and accepts_gzip(request.headers.get("Accept-Encoding", ""))
            )
            self._compressor: Any = None
            self._etag = ""  # set while compressing a body that will be kept
            self._expected = -1
            self._read = 0
            self._parts: list[bytes] = []
            self._served_whole = False

        def transform_first_chunk(
            self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
        ) -> tuple[int, HTTPHeaders, bytes]:
            """Choose: as it is, the kept compressed copy, or compressed while sent."""
            if self._static:
                add_vary(headers)  # also on 304s and uncompressed answers, for shared caches
            if not self._wanted or not is_compressible(status_code, headers):
                return status_code, headers, chunk
            etag = headers.get("Etag", "")
            kept = COMPRESSED.get(etag) if etag else None
            if kept is None and being_compressed(etag):
                return status_code, headers, chunk
            headers["Content-Encoding"] = "gzip"
            headers.pop("Accept-Ranges", None)  # ranges would be of the uncompressed bytes
            if etag and not etag.startswith("W/"):
                headers["Etag"] = "W/" + etag  # the same content, in another encoding
            if kept is not None:
                self._served_whole = True
                headers["Content-Length"] = str(len(kept))
                return status_code, headers, kept
            self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
            length = headers.pop("Content-Length", None)
            if etag and not etag.startswith("W/") and length is not None and length.isdigit():
                self._etag, self._expected = etag, int(length)
                STARTED[etag] = time.monotonic()
            body = self.transform_chunk(chunk, finishing)
            if finishing:
                headers["Content-Length"] = str(len(body))
            return status_code, headers, body

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            """Compress one more piece; keep the whole body once all of it went through."""
            if self._served_whole:
                return b""
            if self._compressor is None:
                return chunk
            self._read += len(chunk)
            part = self._compressor.compress(chunk)
            if finishing:
                part += self._compressor.flush()
            if self._etag:
                self._parts.append(part)
                if finishing:
                    self._keep()
            return part

        def _keep(self) -> None:
            """Keep the compressed body, unless the file was cut short (a dropped download)."""
            STARTED.pop(self._etag, None)
            if self._read == self._expected:
                body = b"".join(self._parts)
                COMPRESSED.put(self._etag, body, len(body))
            self._parts = []

    return StaticGzip


def add_vary(headers: HTTPHeaders) -> None:
    """Say that the answer depends on Accept-Encoding (keeping any other Vary)."""
    present = [item.strip().lower() for item in headers.get("Vary", "").split(",")]
    if "accept-encoding" not in present:
        headers["Vary"] = ", ".join(filter(None, [headers.get("Vary", ""), "Accept-Encoding"]))


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (by name or by `*`), not refused by q=0."""
    qualities: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *parameters = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                quality = q_value(value)
        if coding:
            qualities[coding] = quality
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def q_value(text: str) -> float:
    """A q-value such as "0.5" (an unreadable one counts as 1, as if it were absent)."""
    try:
        return float(text)
    except ValueError:
        return 1.0


def is_compressible(status_code: int, headers: HTTPHeaders) -> bool:
    """A whole, not yet encoded response of a text-like type."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    return (
        status_code == 200
        and "Content-Encoding" not in headers
        and "Content-Range" not in headers
        and content_type.startswith(COMPRESSIBLE_TYPES)
    )
