"""What every request must be before it reaches a page: addressed to the server by one of its
own names, and with an address of sane length.

Browsers send the host name they typed in every request's Host header, and a web page may only
talk to its own host. A site that makes its name resolve to this server (DNS rebinding) would
otherwise get pages whose Host and Origin agree, which Tornado accepts before Bokeh's list of
allowed websocket origins is consulted, and could drive the app from the student's browser. So
the Host of every request, page, script or websocket, must be one of the allowed names, as
Jupyter Server and Django's ALLOWED_HOSTS do. The health check is left open: it tells nothing
but counts, and platforms probe it under addresses of their own.

Addresses are bounded too: Panel reads every query value of a page's address, as JSON, into
Python values, and fails on a number thousands of digits long; links that EventLab makes are far
shorter than the bounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_URL_LENGTH = 16 * 1024
MAX_QUERY_VALUE_LENGTH = 3000  # an expression is at most 1000 characters
MAX_QUERY_FIELDS = 100
LOGGED_URI = 300  # characters of an address written to the access log

UNKNOWN_HOST = (
    "This server does not answer to the name {host!r}. Open it under one of the addresses "
    "its teacher gave (eventlab serve --allow-websocket-origin names them)."
)
TOO_LONG = (
    "This address is too long for EventLab ({length:,} characters, or a part of it over "
    f"{MAX_QUERY_VALUE_LENGTH:,}). Links that EventLab makes are much shorter: check the link."
)


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether a request's Host header names this server (Bokeh's rules: ports, wildcards)."""
    from bokeh.server.util import check_allowlist

    return bool(host) and check_allowlist(host.lower(), [name.lower() for name in allowed])


def log_request(handler: Any) -> None:
    """Tornado's access log line, with the address cut short (a hostile one can be 1 MB)."""
    from tornado.log import access_log

    status = handler.get_status()
    method = access_log.info if status < 400 else access_log.warning
    if status >= 500:
        method = access_log.error
    request = handler.request
    uri = request.uri if len(request.uri) <= LOGGED_URI else request.uri[:LOGGED_URI] + "…"
    elapsed = 1000.0 * request.request_time()
    method("%d %s %s (%s) %.2fms", status, request.method, uri, request.remote_ip, elapsed)


def address_too_long(uri: str) -> bool:
    """Whether a request's address (path and query) passes the bounds."""
    if len(uri) > MAX_URL_LENGTH:
        return True
    query = urlsplit(uri).query
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:  # more fields than allowed
        return True
    return any(
        len(key) > MAX_QUERY_VALUE_LENGTH or len(value) > MAX_QUERY_VALUE_LENGTH
        for key, value in pairs
    )


def guard_requests(application: Any, allowed: list[str], open_paths: Iterable[str]) -> None:
    """Make a Tornado application refuse requests for another host (403), whatever their path
    but `open_paths`, and requests whose address is too long (414)."""
    from tornado.web import RequestHandler

    class RefusalHandler(RequestHandler):
        """A status and a plain message, for every method."""

        def initialize(self, status: int, message: str) -> None:
            self.status, self.message = status, message

        def prepare(self) -> None:
            self.set_status(self.status)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(self.message)

    open_paths = frozenset(open_paths)
    find_handler = application.find_handler

    def checked_find_handler(request: Any, **kwargs: Any) -> Any:
        if request.path not in open_paths and not host_allowed(request.host, allowed):
            message = UNKNOWN_HOST.format(host=request.host[:100])
            return application.get_handler_delegate(
                request, RefusalHandler, {"status": 403, "message": message}
            )
        if address_too_long(request.uri):
            message = TOO_LONG.format(length=len(request.uri))
            return application.get_handler_delegate(
                request, RefusalHandler, {"status": 414, "message": message}
            )
        return find_handler(request, **kwargs)

    application.find_handler = checked_find_handler
