"""The page's browser side: shortcuts, the PNG screenshot of the 3D canvas, the upload box."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

BRIDGE_JS = Path(__file__).with_name("bridge.js")
SCENE_CLASS = "eventlab-scene"
UPLOAD_CLASS = "eventlab-event-upload"
ACTIONS = ("next", "previous", "random", "screenshot-done", "screenshot-failed")


@lru_cache(maxsize=1)
def bridge_class() -> type:
    """The JSComponent class (made on first use: importing panel is slow)."""
    import panel as pn
    import param

    class BrowserBridge(pn.custom.JSComponent):
        """Sends key presses to Python; takes screenshots of the 3D canvas on request."""

        scene_class = param.String(default=SCENE_CLASS, doc="CSS class of the 3D pane.")

        _esm = BRIDGE_JS

        def __init__(self, on_action: Callable[[str], None], **params: Any) -> None:
            super().__init__(**params)
            self._on_action = on_action

        def _handle_msg(self, data: Any) -> None:
            action = data.get("action") if isinstance(data, dict) else None
            if action in ACTIONS:
                self._on_action(action)

        def clear_upload(self, announcement: str) -> None:
            """Empty the upload box (it says "Upload complete" of a file the server refused).

            `announcement` replaces what the box told screen readers.
            """
            message = {"action": "clear-upload", "upload_class": UPLOAD_CLASS}
            self._send_msg({**message, "announcement": announcement})

        def screenshot(self, filename: str) -> None:
            """Ask the browser to save the 3D canvas as a PNG file."""
            self._send_msg({"action": "screenshot", "filename": filename})

    return BrowserBridge


def browser_bridge(on_action: Callable[[str], None]) -> Any:
    """A hidden component that forwards shortcuts to `on_action` and takes screenshots."""
    return bridge_class()(on_action, width=0, height=0, margin=0)
