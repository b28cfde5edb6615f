"""Gzip the page's scripts and styles once per process, then serve the compressed copy.

A student's first visit loads about 8 MB of JavaScript and CSS (Bokeh, Panel, ipywidgets,
three.js). Gzipped it is about 2.3 MB, which matters when a class shares one network. Compressing
on every request (Tornado's `compress_response`) would cost the server about 0.3 s of CPU per
student, so each file is compressed the first time it is asked for and kept, keyed by its ETag
(a hash of its content, set by the static file handlers).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

STATIC_ROUTES = ("/static/", "/widget-modules/")
COMPRESSIBLE_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
GZIP_LEVEL = 9  # paid once per file and process
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
CACHE_LIMIT_BYTES = 32 * 1024 * 1024


class CompressedFiles:
    """Compressed bodies by ETag, least recently used dropped beyond a total size."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._bodies: OrderedDict[str, bytes] = OrderedDict()

    def get(self, etag: str) -> bytes | None:
        """The compressed body of the file with this ETag, if kept."""
        body = self._bodies.get(etag)
        if body is not None:
            self._bodies.move_to_end(etag)
        return body

    def put(self, etag: str, body: bytes) -> None:
        """Keep a compressed body (unless it alone is over the limit)."""
        if len(body) > self.limit_bytes:
            return
        self._bodies[etag] = body
        self._bodies.move_to_end(etag)
        while sum(map(len, self._bodies.values())) > self.limit_bytes:
            self._bodies.popitem(last=False)

    def clear(self) -> None:
        """Forget every kept body."""
        self._bodies.clear()


COMPRESSED = CompressedFiles(CACHE_LIMIT_BYTES)


def static_gzip(prefix: str = "") -> type[OutputTransform]:
    """The output transform for a server whose routes sit below URL `prefix`."""
    prefix = prefix.strip("/")
    routes = tuple(f"/{prefix}{route}" if prefix else route for route in STATIC_ROUTES)

    class StaticGzip(OutputTransform):
        """Gzip static files for clients that accept it, compressing each file only once."""

        def __init__(self, request: HTTPServerRequest) -> None:
            self._wanted = (
                request.method == "GET"
                and request.path.startswith(routes)
                and accepts_gzip(request.headers.get("Accept-Encoding", ""))
            )
            self._etag = ""
            self._compressor: Any = None
            self._parts: list[bytes] = []
            self._served_whole = False

        def transform_first_chunk(
            self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
        ) -> tuple[int, HTTPHeaders, bytes]:
            if not self._wanted or not is_compressible(status_code, headers):
                return status_code, headers, chunk
            headers["Vary"] = "Accept-Encoding"
            headers["Content-Encoding"] = "gzip"
            self._etag = headers.get("Etag", "")
            kept = COMPRESSED.get(self._etag) if self._etag else None
            if kept is not None:
                self._served_whole = True
                headers["Content-Length"] = str(len(kept))
                return status_code, headers, kept
            self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
            body = self.transform_chunk(chunk, finishing)
            if finishing:
                headers["Content-Length"] = str(len(body))
            else:
                headers.pop("Content-Length", None)  # sent in chunks instead
            return status_code, headers, body

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            if self._served_whole:
                return b""
            if self._compressor is None:
                return chunk
            part = self._compressor.compress(chunk)
            if finishing:
                part += self._compressor.flush()
            self._parts.append(part)
            if finishing and self._etag:
                COMPRESSED.put(self._etag, b"".join(self._parts))
            return part

    return StaticGzip


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (and does not refuse it with q=0)."""
    for item in accept_encoding.split(","):
        coding, _, parameters = item.strip().partition(";")
        if coding.strip().lower() == "gzip":
            quality = parameters.strip().lower().removeprefix("q=")
            return not quality or quality_above_zero(quality)
    return False


def quality_above_zero(text: str) -> bool:
    """Whether a q-value such as "0.5" is above zero (an unreadable one counts as allowed)."""
    try:
        return float(text) > 0
    except ValueError:
        return True


def is_compressible(status_code: int, headers: HTTPHeaders) -> bool:
    """A whole, not yet encoded response of a text-like type."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    return (
        status_code == 200
        and "Content-Encoding" not in headers
        and "Content-Range" not in headers
        and content_type.startswith(COMPRESSIBLE_TYPES)
    )
