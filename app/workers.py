"""Serving from several processes (`--num-procs`): what every worker needs, and each one's status.

Bokeh's `Server(num_procs=N)` forks N workers that share one listening socket, so the page's
HTML, each of its scripts and its websocket may each be answered by a different worker. Two things
a worker otherwise learns only while it renders a page's HTML itself:

- where each Bokeh extension's files are (`bokeh.embed.bundle.extension_dirs`, filled while a
  page's scripts are bundled): a worker that has not rendered a page yet answers 404 for
  `/static/extensions/ipywidgets_bokeh/ipywidgets_bokeh.js`, and the 3D view never draws;
- that the page's stylesheets come from this server (Panel's `dist_url`, set on the session's
  document while its HTML is rendered): a session that a websocket opened in another worker
  points every stylesheet built afterwards at Panel's CDN.

Each worker also writes its pid, open pages and a heartbeat into memory all workers share, so that
`/health`, answered by whichever worker accepts the request, reports every one of them.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

from app.sessions import SESSIONS

HEARTBEAT_MS = 1_000
# A worker whose event loop has not written its heartbeat for this long is reported as not
# responding (busy with one long action, or stopped): its students' pages do not answer either.
STALE_AFTER_S = 5.0
FIELDS = ("pid", "sessions", "connected", "beat")


def register_static_extensions() -> dict[str, Path]:
    """Tell Bokeh where every loaded extension's files are, as bundling a page would.

    Run before the workers fork, so that each of them (and any worker restarted later) serves
    `/static/extensions/NAME/...` before it has rendered a page of its own.
    """
    from bokeh.embed.bundle import bundle_for_objs_and_resources, extension_dirs
    from bokeh.resources import Resources

    bundle_for_objs_and_resources(None, Resources(mode="server", root_url="/"))
    return dict(extension_dirs)


def serve_stylesheets_locally(document: Any) -> None:
    """Make the stylesheets of this session's page come from this server, not Panel's CDN.

    Panel decides this (the document's `dist_url`) only while rendering the page's HTML, which a
    session opened by a websocket in another worker never went through. Same rule as Panel's.
    """
    from panel.io.resources import LOCAL_DIST
    from panel.io.state import set_curdoc, state

    with set_curdoc(document):
        relative = state.rel_path
    document.template_variables["dist_url"] = f"{relative}/{LOCAL_DIST}" if relative else LOCAL_DIST


def worker_count(num_procs: int) -> int:
    """How many worker processes `num_procs` starts (0: one per CPU, as Tornado counts them)."""
    from tornado.process import cpu_count

    return num_procs if num_procs > 0 else cpu_count()


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerBoard:
    """One row per worker (pid, open pages, connected pages, heartbeat) in shared memory.

    Made before the workers fork; each worker writes only its own row (Tornado's task id, which a
    restarted worker inherits), so no lock is needed, and none could be left held by a worker
    killed while writing. A reader may see a row half-updated, which only shifts a count by one
    beat.
    """

    def __init__(self, workers: int) -> None:
        from multiprocessing.sharedctypes import RawArray

        self.workers = workers
        self._cells = RawArray(ctypes.c_double, workers * len(FIELDS))
        self._server_context: Any = None  # this worker's, once its server runs
        self._heartbeat: Any = None

    @staticmethod
    def own_row() -> int:
        """This worker's row: its Tornado task id (0 when the server runs in one process)."""
        from tornado.process import task_id

        return task_id() or 0

    def start(self, server_context: Any) -> None:
        """Write this worker's row now and every second after (in the worker, once it runs)."""
        from tornado.ioloop import PeriodicCallback

        self._server_context = server_context
        self.beat()
        self._heartbeat = PeriodicCallback(self.beat, HEARTBEAT_MS)
        self._heartbeat.start()

    def beat(self) -> None:
        """Record this worker's open and connected pages, and that its event loop runs."""
        context = self._server_context
        connected = connected_pages(context) if context is not None else 0
        self.write(self.own_row(), os.getpid(), SESSIONS.active, connected, time.monotonic())

    def write(self, row: int, pid: int, sessions: int, connected: int, beat: float) -> None:
        """Set one worker's row."""
        base = row * len(FIELDS)
        self._cells[base : base + len(FIELDS)] = [pid, sessions, connected, beat]

    def rows(self) -> list[dict[str, Any]]:
        """Every worker's last record and its state: ok, starting, down or not responding."""
        now = time.monotonic()
        rows = []
        for index in range(self.workers):
            values = self._cells[index * len(FIELDS) : (index + 1) * len(FIELDS)]
            row = dict(zip(FIELDS, values, strict=True))
            pid = int(row["pid"])
            if pid == 0:
                state = "starting"
            elif not process_alive(pid):
                state = "down"
            elif now - row["beat"] > STALE_AFTER_S:
                state = "not responding"
            else:
                state = "ok"
            rows.append(
                {
                    "pid": pid,
                    "state": state,
                    "sessions": int(row["sessions"]),
                    "connected": int(row["connected"]),
                }
            )
        return rows


def connected_pages(server_context: Any) -> int:
    """Sessions of this worker with an open websocket (a page that is shown somewhere)."""
    return sum(1 for session in server_context.sessions if session.connection_count > 0)


def status_handler(board: WorkerBoard) -> Any:
    """A Bokeh application handler that starts `board`'s heartbeat in each worker."""
    from bokeh.application.handlers.lifecycle import LifecycleHandler

    class WorkerStatusHandler(LifecycleHandler):
        """Runs in the worker, after the fork, once its server has started."""

        def on_server_loaded(self, server_context: Any) -> None:
            board.start(server_context)

    return WorkerStatusHandler()


def health_status(board: WorkerBoard, event_files: int) -> dict[str, Any]:
    """The /health answer: overall state, event files, and every worker's row (this one's fresh)."""
    board.beat()
    workers = board.rows()
    healthy = all(worker["state"] == "ok" for worker in workers)
    return {
        "status": "ok" if healthy else "degraded",
        "event_files": event_files,
        "sessions": sum(worker["sessions"] for worker in workers),
        "connected": sum(worker["connected"] for worker in workers),
        "workers": workers,
    }
