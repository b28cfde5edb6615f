"""An event switch in headless Chromium: the new event drawn, with no answers the server ignores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_app_browser import canvas_pixels, open_page, shown_number, wait_until

pytestmark = pytest.mark.browser


def widget_updates(frames: list) -> list[dict]:
    """The ipywidgets state updates among websocket frames the page sent."""
    updates = []
    for frame in frames:
        if not isinstance(frame, str) or "ipywidgets_bokeh" not in frame:
            continue
        for event in json.loads(frame).get("events", []):
            data = event.get("msg_data")
            if isinstance(data, str):
                content = json.loads(data).get("content", {}).get("data", {})
                if content.get("method") == "update":
                    updates.append(content.get("state", {}))
    return updates


def first_with(frames: list, text: str) -> int:
    """Index of the first text frame holding `text` (len(frames) when none does)."""
    found = (i for i, frame in enumerate(frames) if isinstance(frame, str) and text in frame)
    return next(found, len(frames))


def test_switching_events_draws_them_without_echoing_arrays(app_url, page):
    sent: list = []
    received: list = []

    def follow(socket) -> None:
        socket.on("framesent", lambda frame: sent.append(frame))
        socket.on("framereceived", lambda frame: received.append(frame))

    page.on("websocket", follow)
    before = open_page(page, f"{app_url}/?file=toy_events.json")
    for _ in range(3):
        number = shown_number(page)
        sent.clear()
        received.clear()
        page.locator("button:has-text('Next')").first.click()
        wait_until(lambda number=number: shown_number(page) != number)

        def redrawn(previous: np.ndarray = before) -> bool:
            """the next event to be drawn"""
            return np.abs(canvas_pixels(page) - previous).sum(axis=-1).astype(bool).sum() > 500

        wait_until(redrawn)
        page.wait_for_timeout(500)  # answers to the arrays would have arrived by now
        assert [state for state in widget_updates(sent) if "version" in state] == []
        # the new event's arrays come first, all in one update, before the counts and panels
        arrays = first_with(received, '"kind":"MessageSent"')
        assert arrays < first_with(received, '"attr":"counts"') < len(received)
        update = json.loads(received[arrays])["events"]
        assert len(update) >= 3 and all(event["kind"] == "MessageSent" for event in update)
        before = canvas_pixels(page)
