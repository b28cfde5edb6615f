"""A notice in the page when its websocket to the server closes: "connection lost, reload".

Panel turns off Bokeh's own connection messages and does not reconnect, so without this a page
whose server process stopped (or whose network dropped) looks alive while every click is lost.
The notice is a document callback of Bokeh's `connection_lost` event, sent with the page itself
(no extra request); it is not shown when the page is closed or reloaded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

NOTICE_JS = Path(__file__).with_name("connection_notice.js")
NOTICE_TEXT = "Connection to the server lost: reload the page to continue."
RELOAD_BUTTON = "Reload the page"


@lru_cache(maxsize=1)
def notice_code() -> str:
    """The notice's JavaScript (read once)."""
    return NOTICE_JS.read_text(encoding="utf-8")


def show_notice_when_connection_lost(document: Any) -> None:
    """Make `document`'s page show the reload notice once its connection to the server is lost."""
    from bokeh.models import CustomJS

    callback = CustomJS(args={"message": NOTICE_TEXT, "button": RELOAD_BUTTON}, code=notice_code())
    document.js_on_event("connection_lost", callback)
