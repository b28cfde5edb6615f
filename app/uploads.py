"""The upload box of both tabs: files arrive in small chunks, and no more than the limit.

Panel's FileDropper sends a file in chunks and checks its size only in the browser. A page that
does not play by the rules could send chunks without end; this one counts what it buffers and
drops a file (reporting it in `refused`) once it passes the limit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import param
from panel.widgets import FileDropper

CHUNK_BYTES = 1024 * 1024  # each chunk is one websocket message of about 1.4 MB
PAINTER_JS = Path(__file__).with_name("upload_painter.js")
# The page's head as Panel writes it, with the painter before the upload box's own script.
PAGE_TEMPLATE = (
    "{%% block preamble %%}{{ super() }}<script>{%% raw %%}%s{%% endraw %%}</script>"
    "{%% endblock %%}"
)


class BoundedFileDropper(FileDropper):
    """A FileDropper that refuses, on the server too, files larger than `max_bytes`."""

    max_bytes = param.Integer(default=0, bounds=(0, None), doc="largest file accepted (0: any)")
    refused = param.String(default="", doc="the last file dropped for its size")

    _rename: ClassVar[dict[str, str | None]] = {
        **FileDropper._rename,
        "max_bytes": None,
        "refused": None,
    }

    def _process_event(self, event: Any) -> None:
        data = getattr(event, "data", None)
        if not well_formed(event.event_name, data):
            return  # not what a browser's upload box sends
        if event.event_name == "upload_event":
            name = str(data.get("name", ""))
            if data.get("chunk") == 1:
                self._file_buffer.pop(name, None)
            elif name not in self._file_buffer:
                return  # the rest of a file already dropped (or never started)
            received = sum(map(len, self._file_buffer.get(name, []))) + len(data.get("data", b""))
            if self.max_bytes and received > self.max_bytes:
                self._file_buffer.pop(name, None)
                if self.refused == name:
                    self.param.trigger("refused")  # the same file again: say it again
                else:
                    self.refused = name
                return
        super()._process_event(event)


def well_formed(kind: str, data: Any) -> bool:
    """Whether an upload box's message has the fields and types its browser side sends."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return False
    if kind == "delete_event":
        return True
    chunk, total = data.get("chunk"), data.get("total_chunks")
    numbers = isinstance(chunk, int) and isinstance(total, int) and 1 <= chunk <= total
    return (
        numbers
        and isinstance(data.get("data"), bytes | bytearray | memoryview)
        and (isinstance(data.get("type", ""), str))
    )


def upload_box(max_mb: float, suffixes: tuple[str, ...], **params: Any) -> BoundedFileDropper:
    """An upload box for one file of the given kinds, up to `max_mb` megabytes."""
    return BoundedFileDropper(
        multiple=False,
        max_bytes=int(max_mb * 1024 * 1024),
        max_file_size=f"{max(1, int(max_mb))}MB",
        accepted_filetypes=list(suffixes),
        chunk_size=CHUNK_BYTES,
        layout="compact",
        **params,
    )


@lru_cache(maxsize=1)
def page_template() -> str:
    """The page template that brings the upload boxes' painter (read once)."""
    return PAGE_TEMPLATE % PAINTER_JS.read_text(encoding="utf-8")


def paint_upload_boxes_when_used(document: Any) -> None:
    """Make the upload boxes of `document`'s page repaint only while in use (upload_painter.js):
    otherwise they redraw every frame of an idle page, on every student's computer."""
    document.template = page_template()


def upload_refusal(name: str, max_mb: float) -> str:
    """The message for a file over the upload limit."""
    return f"{name} is larger than the upload limit of this server ({max_mb:g} MB)"
