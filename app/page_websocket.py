"""The page's websocket, as Bokeh serves it, with three changes of our own.

- Every frame leaves at once (TCP_NODELAY), as browsers send theirs. A Bokeh message is several
  websocket frames; with Nagle's algorithm on, every frame after the first waits for the browser
  to acknowledge the one before, which it delays by up to 40 ms.
- Compressed messages survive a ping or pong between their fragments. The browser may answer
  the server's keep-alive ping in the middle of a long message that it sends in fragments (an
  upload's chunk, say). Tornado 6 takes the compression flag of that control frame for the
  message's own, so the message arrives still compressed and every later message of the page
  is garbled (tornado pull request 3353, not yet released): the page dies mid-upload.
- Changes reach the page from the moment it has its document. Panel counts a page as connected
  only once the browser reports it built (`document_ready`, seconds later on a slow computer)
  and, until then, drops the layout changes it makes, trusting them to be in the document the
  browser has yet to fetch. But the browser fetched it already: a tab clicked in that moment
  never came, and every later change to it referred to models the page did not know. Panel
  learns of the connection here, as the document goes out.
"""

from __future__ import annotations

from typing import Any


def compression_safe(protocol_class: type) -> type:
    """A subclass of Tornado's websocket protocol that keeps a message's compression flag
    across control frames received between its fragments."""

    class CompressionSafeProtocol(protocol_class):
        """Tornado's protocol; a ping or pong in a fragmented message leaves its flag alone."""

        async def _receive_frame(self) -> None:
            in_message = getattr(self, "_fragmented_message_buffer", None) is not None
            compressed = getattr(self, "_frame_compressed", None)
            await super()._receive_frame()
            if in_message and getattr(self, "_fragmented_message_buffer", None) is not None:
                self._frame_compressed = compressed  # the message goes on: its flag stays

    return CompressionSafeProtocol


def mark_connected(connection: Any) -> None:
    """Tell Panel that the page of this websocket connection holds its document."""
    from panel.io.state import state

    session = getattr(connection, "session", None)
    if session is not None and session.document is not None:
        state._connected[session.document] = True


def page_websocket_handler(handler: type) -> type:
    """Bokeh's websocket handler class with all three changes."""
    from tornado.websocket import WebSocketProtocol13

    safe_protocol = compression_safe(WebSocketProtocol13)

    class PageWebSocket(handler):
        """The page's websocket: frames sent at once, compression safe across control frames,
        changes sent from the moment the page has its document."""

        sends_at_once = True

        def open(self, *args: Any, **kwargs: Any) -> Any:
            self.set_nodelay(True)
            return super().open(*args, **kwargs)

        async def send_message(self, message: Any) -> None:
            # The reply is made and sent with no other callback in between: no change is lost.
            if message.msgtype == "PULL-DOC-REPLY":
                mark_connected(self.connection)
            await super().send_message(message)

        def get_websocket_protocol(self) -> Any:
            protocol = super().get_websocket_protocol()
            if type(protocol) is WebSocketProtocol13:
                protocol.__class__ = safe_protocol
            return protocol

    return PageWebSocket


def install_page_websocket() -> None:
    """Put our page websocket handler in Bokeh's route table (once)."""
    import panel.io.server  # noqa: F401  (installs Panel's handlers in the route table first)
    from bokeh.server.urls import per_app_patterns

    for index, (route, handler) in enumerate(per_app_patterns):
        if route == "/ws" and not getattr(handler, "sends_at_once", False):
            per_app_patterns[index] = (route, page_websocket_handler(handler))
