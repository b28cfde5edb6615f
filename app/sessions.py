"""Browser sessions: count them, and free what one held (3D widgets, comms) when its tab closes.

Each session builds its own pythreejs widgets. ipywidgets keeps every widget in a global
registry until it is closed, Panel keeps one widget kernel per page, and every widget's comm stays
in the process-wide comm manager (closing it fails once Bokeh has torn the page down), so without
an explicit release a closed tab would stay in memory for the life of the server.

Open pages are also kept out of the garbage collector's full passes (see `freeze_live_objects`),
and closed ones until a collection a little later reclaims them (see `ClosedPageCollection`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

LOG = logging.getLogger(__name__)
MAX_WIDGETS = 200_000  # bound on one walk of a widget graph


class SessionCounter:
    """How many sessions this process has opened, released, and holds now (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.opened = 0
        self.released = 0

    def open(self) -> None:
        """A session started."""
        with self._lock:
            self.opened += 1

    def release(self) -> None:
        """A session ended."""
        with self._lock:
            self.released += 1

    @property
    def active(self) -> int:
        """Sessions open now."""
        with self._lock:
            return self.opened - self.released


SESSIONS = SessionCounter()


def child_widgets(value: Any) -> Iterator[Any]:
    """The ipywidgets directly inside a trait value (a widget, or a list, tuple or dict of them)."""
    from ipywidgets import Widget

    if isinstance(value, Widget):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, Widget):
                yield item
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, Widget):
                yield item


def reachable_widgets(roots: Iterable[Any], keep: Iterable[Any] = ()) -> list[Any]:
    """Every widget reachable from `roots` through widget traits, without those in `keep`."""
    from ipywidgets import Widget

    kept = {id(widget) for widget in keep}
    seen: dict[int, Any] = {}
    stack = [root for root in roots if isinstance(root, Widget)]
    while stack and len(seen) < MAX_WIDGETS:
        widget = stack.pop()
        if id(widget) in seen or id(widget) in kept:
            continue
        seen[id(widget)] = widget
        for name in widget.keys:
            stack.extend(child_widgets(getattr(widget, name, None)))
    return list(seen.values())


def close_widgets(widgets: Iterable[Any]) -> int:
    """Close widgets (they leave the global registry and their comms); return how many."""
    closed = 0
    for widget in widgets:
        if getattr(widget, "comm", None) is None:
            continue
        try:
            widget.close()
        except Exception:  # a page already gone may refuse the closing message
            LOG.debug("closing widget %s failed", widget.model_id, exc_info=True)
            from ipywidgets.widgets.widget import _instances

            _instances.pop(widget.model_id, None)
            widget.comm = None
        closed += 1
    return closed


def drop_widget_kernel(document: Any) -> None:
    """Forget the widget kernel Panel made for a page and every comm opened through it.

    The kernel holds the page's document, and its comms stay registered with the process-wide
    comm manager even after their widgets closed: left there, every closed page (widgets,
    document, models) would stay in memory.
    """
    import comm
    from panel.io.state import state

    kernel = state._ipykernels.pop(document, None)
    managers = [comm.get_comm_manager(), getattr(kernel, "comm_manager", None)]
    for manager in filter(None, managers):
        for comm_id, channel in list(manager.comms.items()):
            if page_of(channel) is document:
                manager.comms.pop(comm_id, None)


def page_of(channel: Any) -> Any:
    """The document of the page a widget comm belongs to (None if it is not a page's)."""
    session = getattr(getattr(channel, "kernel", None), "session", None)
    return getattr(session, "_document", None)


def free_page(document: Any, roots: Iterable[Any]) -> int:
    """Close the widgets reachable from `roots` and drop the page's kernel; how many closed."""
    closed = close_widgets(reachable_widgets(roots))
    drop_widget_kernel(document)
    return closed


def freeze_live_objects() -> None:
    """Collect garbage, then keep every object still alive out of the collector's full passes.

    A full pass visits every tracked object: with a class's pages open that is about a million,
    a 0.1-0.5 s stall of everything the process serves, several times while the pages open.
    Libraries and open pages live until the server ends or their tab closes, so those passes
    find nothing in them. The collection first keeps garbage from being frozen; with the rest
    frozen it only visits what was made since (a page: about 15 thousand objects, 2 ms).
    """
    gc.collect()
    gc.freeze()


def freeze_after_this_change(document: Any) -> None:
    """Freeze the live objects once the change now running (a page or tab being built) ends."""
    document.add_next_tick_callback(freeze_live_objects)


class ClosedPageCollection:
    """One full collection, a little after pages close, that reclaims every page closed by then.

    Closed pages stay frozen until it runs: unfrozen at once, the pages being built meanwhile
    would set off the collector's own full passes (0.2-0.5 s each, with a class's pages open)
    in the middle of their work. This one runs on the event loop between requests, once for
    all the tabs a class closes together, and gives the freed memory back to the system.
    """

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._timer: Any = None

    def schedule(self) -> None:
        """Collect in `delay_s`, unless a collection is already due (it takes this page too)."""
        from tornado.ioloop import IOLoop

        loop = IOLoop.current()
        if self._timer is None or self._timer[0] is not loop:  # (a forked worker: a new loop)
            self._timer = (loop, loop.call_later(self.delay_s, self.run))

    def cancel(self) -> None:
        """Drop the pending collection, if any."""
        if self._timer is not None:
            loop, handle = self._timer
            loop.remove_timeout(handle)
            self._timer = None

    def run(self) -> None:
        """Collect everything that is garbage, closed pages included; freeze what is left."""
        self.cancel()  # when run directly, the pending timer must not run it again
        gc.unfreeze()
        freeze_live_objects()
        trim_memory()


# Bokeh ends closed sessions in batches every few seconds: this takes one or two batches at once.
CLOSED_PAGES = ClosedPageCollection(delay_s=10.0)


def release_session(document: Any, roots: Callable[[], Iterable[Any]]) -> int:
    """Free one ended session (see `free_page`), stop counting it, and have it collected."""
    try:
        closed = free_page(document, roots())
    finally:
        SESSIONS.release()
        CLOSED_PAGES.schedule()
    LOG.debug("session released: %d widgets closed", closed)
    return closed


def on_session_end(roots: Callable[[], Iterable[Any]]) -> None:
    """Count the current session, and release it when its tab closes (or its link drops)."""
    import panel as pn

    document = pn.state.curdoc
    if document is None:
        return
    SESSIONS.open()

    def released(_context: Any) -> None:
        release_session(document, roots)

    pn.state.on_session_destroyed(released)


@lru_cache(maxsize=1)
def c_library() -> Any:
    """The C library, loaded once (finding it runs a program); OSError or TypeError if none."""
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def trim_memory() -> None:
    """Give freed heap memory back to the system (glibc only; elsewhere nothing happens)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        c_library().malloc_trim(0)


def process_rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux /proc), or NaN where it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")
