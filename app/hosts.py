"""Only requests addressed to this server by one of its own names are served.

Browsers send the host name they typed in every request's Host header, and a web page may only
talk to its own host. A site that makes its name resolve to this server (DNS rebinding) would
otherwise get pages whose Host and Origin agree, which Tornado accepts before Bokeh's list of
allowed websocket origins is consulted, and could drive the app from the student's browser. So
the Host of every request, page, script or websocket, must be one of the allowed names, as
Jupyter Server and Django's ALLOWED_HOSTS do. The health check is left open: it tells nothing
but counts, and platforms probe it under addresses of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REFUSAL = (
    "This server does not answer to the name {host!r}. Open it under one of the addresses "
    "its teacher gave (eventlab serve --allow-websocket-origin names them)."
)


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether a request's Host header names this server (Bokeh's rules: ports, wildcards)."""
    from bokeh.server.util import check_allowlist

    return bool(host) and check_allowlist(host.lower(), [name.lower() for name in allowed])


def require_known_host(application: Any, allowed: list[str], open_paths: Iterable[str]) -> None:
    """Make a Tornado application refuse (403) requests whose Host is not in `allowed`."""
    from tornado.web import RequestHandler

    class UnknownHostHandler(RequestHandler):
        """403 with a plain message, for every method."""

        def prepare(self) -> None:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(REFUSAL.format(host=self.request.host[:100]))

    open_paths = frozenset(open_paths)
    find_handler = application.find_handler

    def checked_find_handler(request: Any, **kwargs: Any) -> Any:
        if request.path in open_paths or host_allowed(request.host, allowed):
            return find_handler(request, **kwargs)
        return application.get_handler_delegate(request, UnknownHostHandler)

    application.find_handler = checked_find_handler
