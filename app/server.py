"""`eventlab serve`: the web app (event display and histogram lab) on a Panel/Bokeh server.

Importing this module stays cheap: Panel, pythreejs and the tabs load inside the handler.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from app.config import (
    BUNDLED_DATA_DIR,
    DEFAULT_ACTION_SECONDS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_SESSION_MEMORY_MB,
    AppConfig,
)
from app.connection_notice import show_notice_when_connection_lost
from app.memory import SessionMemory
from app.sessions import (
    c_library,
    free_page,
    freeze_after_this_change,
    freeze_live_objects,
    on_session_end,
)
from app.workers import (
    WorkerBoard,
    health_status,
    register_static_extensions,
    serve_stylesheets_locally,
    status_handler,
    worker_count,
)
from converters.errors import EventLabError

DEFAULT_PORT = 5006
DEFAULT_ADDRESS = "127.0.0.1"
ORIGIN_ENV = "EVENTLAB_ALLOW_WEBSOCKET_ORIGIN"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
HEALTH_ROUTE = "/health"
MAX_QUERY_LENGTH = 200
HISTOGRAM_LINK_PREFIX = "h_"  # query keys of a histogram link (app/histogram/links.py)
TAB_TITLES = ("Event display", "Histograms")
HISTOGRAM_TAB = 1
TEACHER_TAB_TITLE = "Class (teacher)"
TEACHER_QUERY = "teacher"
# The largest message a page may send. Uploads travel in chunks of 1 MB (app/uploads.py), and
# nothing else a page sends comes near that; Bokeh parses a message whole before anything of
# ours sees it, so a small bound keeps a hostile message from costing much memory.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Request headers (the address with its query among them) up to this size get an answer: a
# link that is far too long shows a message instead of a dropped connection (Tornado: 64 KB).
MAX_HEADER_BYTES = 1024 * 1024
# A closed tab's session is freed this long after its websocket closed (checked this often).
SESSION_LINGER_MS = 15_000
SESSION_CHECK_MS = 5_000
# Browsers offer to deflate websocket messages. At the fastest level the display page (about
# 1 MB of JSON, mostly base64 arrays) leaves as about 0.3 MB for about 8 ms of CPU, and each
# event switch shrinks alike: a class shares one classroom network.
WEBSOCKET_COMPRESSION_LEVEL = 1
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent ends
LOG = logging.getLogger(__name__)


class ServeOptionError(EventLabError):
    """An `eventlab serve` option that cannot work (bad port, missing folder...)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="start the web app (event display and histogram lab)",
        description=(
            "Start the EventLab web app. Everything it needs (pythreejs and three.js included) "
            "is served by this server, so it works without internet. For a classroom, listen on "
            "the network (--address 0.0.0.0) and allow the address students type "
            "(--allow-websocket-origin HOST:PORT)."
        ),
    )
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"address to listen on (default {DEFAULT_ADDRESS}; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default: $PORT if set, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=None,
        metavar="HOST[:PORT]",
        help=(
            "host (as browsers see it) allowed to open the app's websocket; repeatable "
            f"(default: ${ORIGIN_ENV}, comma-separated, else only this machine)"
        ),
    )
    parser.add_argument(
        "--num-procs",
        type=int,
        default=1,
        help="worker processes (default 1; 0 = one per CPU)",
    )
    parser.add_argument(
        "--data-dir",
        action="append",
        type=Path,
        default=None,
        metavar="FOLDER",
        help=(
            "folder of files to offer besides the bundled samples; repeatable: Phoenix event "
            "files (.json, .json.gz) for the display, CSV/parquet/ROOT column files and "
            "dataset folders (eventlab columns -o FOLDER) for the histogram lab, and "
            "teachers' exercises in its exercises/ subfolder"
        ),
    )
    parser.add_argument(
        "--no-samples",
        action="store_true",
        help=f"leave out the bundled samples ({BUNDLED_DATA_DIR}): offer only the --data-dir "
        "folders",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest file a user may open from the browser, in MB (default "
        f"{DEFAULT_MAX_UPLOAD_MB:g})",
    )
    parser.add_argument(
        "--session-memory-mb",
        type=float,
        default=DEFAULT_SESSION_MEMORY_MB,
        help="server memory one page may keep for its uploads, kept columns and caches, in MB "
        f"(default {DEFAULT_SESSION_MEMORY_MB:g}: 30 pages fit in a 2 GB server)",
    )
    parser.add_argument(
        "--action-seconds",
        type=float,
        default=DEFAULT_ACTION_SECONDS,
        help="longest a page's action (reading a file, filling a histogram) may take before it "
        f"is stopped, in seconds (default {DEFAULT_ACTION_SECONDS:g})",
    )
    parser.add_argument("--prefix", default="", help="URL prefix to serve the app under")
    parser.add_argument(
        "--class",
        dest="class_name",
        default=None,
        metavar="NAME",
        help="open the masterclass class NAME at start (made if new): students join it with "
        "their name; the teacher page's address is printed",
    )
    parser.add_argument(
        "--class-dir",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="folder of the masterclass records (an SQLite file; default "
        "~/.local/share/eventlab, or $XDG_DATA_HOME/eventlab)",
    )
    parser.add_argument(
        "--masterclass",
        type=Path,
        default=None,
        metavar="FILE.yaml",
        help="the masterclass categories students sort events into (default: the bundled "
        "Z-path and W-path list, app/masterclass/categories.yaml)",
    )
    parser.add_argument(
        "--show",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="open a browser tab once the server runs (default: no)",
    )
    parser.set_defaults(func=serve)
    return parser


def resolve_port(port: int | None, environ: dict[str, str] | None = None) -> int:
    """The port to listen on: the option, else $PORT, else the default."""
    environ = os.environ if environ is None else environ
    if port is None:
        text = environ.get("PORT", "").strip()
        if not text:
            return DEFAULT_PORT
        if not text.isdigit():
            raise ServeOptionError(f"$PORT must be a number, got {text!r}")
        port = int(text)
    if not 0 < port < 65536:
        raise ServeOptionError(f"port must be between 1 and 65535, got {port}")
    return port


def resolve_origins(
    given: list[str] | None, address: str, port: int, environ: dict[str, str] | None = None
) -> list[str]:
    """Websocket origins to accept: the options, else $EVENTLAB_ALLOW_WEBSOCKET_ORIGIN, else local.

    Never '*': any web page could then drive a student's session from another site.
    """
    environ = os.environ if environ is None else environ
    origins = list(given or [])
    if not origins:
        origins = [item.strip() for item in environ.get(ORIGIN_ENV, "").split(",") if item.strip()]
    if "*" in origins:
        raise ServeOptionError(
            "--allow-websocket-origin '*' would let any web site use the app: name the hosts"
        )
    if not origins:
        origins = local_origins(port)
        if address not in LOOPBACK:
            print(
                f"eventlab serve: listening on {address}, but only browsers on this machine can "
                f"connect; add --allow-websocket-origin HOST:{port} (or set ${ORIGIN_ENV})",
                file=sys.stderr,
            )
    return origins


def local_origins(port: int) -> list[str]:
    """The names of this machine as a browser on it writes them, with the port."""
    return [f"localhost:{port}", f"127.0.0.1:{port}"]


def resolve_data_dirs(given: list[Path] | None, samples: bool = True) -> tuple[Path, ...]:
    """The data folders, checked to exist: the given ones (first wins a file name), then the
    bundled samples unless left out."""
    folders = [Path(folder).expanduser().resolve() for folder in given or []]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise ServeOptionError(f"data folder not found: {', '.join(missing)}")
    if not samples and not folders:
        raise ServeOptionError("--no-samples leaves no data folder: add --data-dir FOLDER")
    bundled = BUNDLED_DATA_DIR.resolve()
    if samples and bundled not in folders:
        folders.append(bundled)
    return tuple(folders)


def build_config(args: argparse.Namespace) -> AppConfig:
    """The app settings from the command-line options."""
    for option in ("max_upload_mb", "session_memory_mb", "action_seconds"):
        value = getattr(args, option)
        if not value > 0:
            raise ServeOptionError(f"--{option.replace('_', '-')} must be positive, got {value:g}")
    if args.num_procs < 0:
        raise ServeOptionError(f"--num-procs must be 0 or more, got {args.num_procs}")
    prefix = args.prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ServeOptionError(f"--prefix {args.prefix!r} is not a plain URL path")
    return AppConfig(
        data_dirs=resolve_data_dirs(args.data_dir, not args.no_samples),
        max_upload_mb=float(args.max_upload_mb),
        session_memory_mb=float(args.session_memory_mb),
        action_seconds=float(args.action_seconds),
        prefix=prefix,
        class_dir=args.class_dir,
        masterclass_file=args.masterclass,
    )


def health_handler(config: AppConfig, board: WorkerBoard) -> tuple[type, dict[str, Any]]:
    """A tornado handler answering GET /health with 200 and a small JSON status."""
    from tornado.web import RequestHandler

    from app.display.events import list_event_files

    class HealthHandler(RequestHandler):
        """GET /health: the server is up, can see its event files, and how each worker is."""

        def get(self) -> None:
            files = list_event_files(config.data_dirs)
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.write(json.dumps(health_status(board, len(files))))

    return HealthHandler, {}


def query_value(args: dict[str, list[bytes]], name: str) -> str | None:
    """One URL query parameter as text (first value, trimmed), or None."""
    values = args.get(name) or []
    if not values:
        return None
    text = values[0].decode("utf-8", errors="replace").strip()
    return text[:MAX_QUERY_LENGTH] or None


def opens_on_histograms(args: dict[str, list[bytes]]) -> bool:
    """Whether the page was opened with a histogram link (its keys start with "h_")."""
    return any(key.startswith(HISTOGRAM_LINK_PREFIX) for key in args)


def histogram_panel(config: AppConfig, memory: SessionMemory | None = None) -> Any:
    """The histogram lab tab; a clear message if it cannot be built."""
    import panel as pn

    try:
        from app.histogram.view import histogram_tab

        return histogram_tab(config, memory)
    except ImportError as error:
        LOG.exception("the histogram lab cannot be loaded")
        return pn.pane.Alert(
            f"The histogram lab is not available in this installation: {error}",
            alert_type="warning",
        )


def display_panel(
    config: AppConfig, args: dict, displays: list, memory: SessionMemory | None = None
) -> Any:
    """The event display tab, showing the file and event the page address asks for."""
    from app.display.view import EventDisplay

    file, event = query_value(args, "file"), query_value(args, "event")
    display = EventDisplay(config, file=file, event=event, memory=memory)
    displays.append(display)
    return display.panel


def teacher_panel(config: AppConfig, key: str | None) -> Any:
    """The teacher's page of the masterclass (a message when the key is wrong)."""
    import panel as pn

    from app.masterclass.setup import class_store, masterclass
    from app.masterclass.store import ClassStoreError
    from app.masterclass.teacher import teacher_tab
    from app.safe_html import alert_pane, show_alert
    from app.work import PageWork

    try:
        store = class_store(config)
    except ClassStoreError as error:
        pane = alert_pane("danger", width=640)
        show_alert(pane, f"Class records are off on this server: {error}")
        return pn.Column(pane, margin=10)
    work = PageWork(config.action_seconds, pn.state.curdoc)
    return teacher_tab(store, masterclass(config), key, work)


def display_widgets(displays: list) -> list[Any]:
    """The root widgets of a page's event displays (closing them frees the rest)."""
    return [
        widget
        for display in displays
        for widget in (*display.stage.widgets(), *display.drawing.all())
    ]


def warm_up(config: AppConfig) -> None:
    """Build a throwaway page of each tab, so that the first students do not wait for imports.

    Run before the worker processes fork (they share what it loaded). The pages are built
    outside Bokeh's application, which would refuse to fork once its app code had run.
    """
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    document = Document()
    displays: list = []
    with set_curdoc(document):
        for tab in (display_panel(config, {}, displays), histogram_panel(config)):
            tab.get_root(document)
    free_page(document, display_widgets(displays))


def forget_event_loop() -> None:
    """Close this thread's event loop (building a page made one): each worker starts its own."""
    with contextlib.suppress(RuntimeError):
        asyncio.get_event_loop_policy().get_event_loop().close()
    asyncio.set_event_loop(None)


def create_app(config: AppConfig) -> Any:
    """The page of one browser session: Tabs "Event display" and "Histograms".

    A tab is built when it is first shown, so opening a page costs only the tab it opens on.
    """
    import panel as pn

    from app.uploads import paint_upload_boxes_when_used

    args = pn.state.session_args if pn.state.curdoc is not None else {}
    if pn.state.curdoc is not None:
        serve_stylesheets_locally(pn.state.curdoc)
        show_notice_when_connection_lost(pn.state.curdoc)
        paint_upload_boxes_when_used(pn.state.curdoc)
    displays: list = []
    memory = SessionMemory(config.session_memory_bytes)  # shared by the page's two tabs
    on_session_end(lambda: display_widgets(displays))
    builders = [
        lambda: display_panel(config, args, displays, memory),
        lambda: histogram_panel(config, memory),
    ]
    titles = list(TAB_TITLES)
    active = HISTOGRAM_TAB if opens_on_histograms(args) else 0
    if TEACHER_QUERY in args:  # the teacher page opens on its own tab
        key = query_value(args, TEACHER_QUERY)
        builders.append(lambda: teacher_panel(config, key))
        titles.append(TEACHER_TAB_TITLE)
        active = len(titles) - 1
    tabs = pn.Tabs(
        *[(title, pn.Column(sizing_mode="stretch_width")) for title in titles],
        active=active,
        dynamic=True,
        sizing_mode="stretch_width",
    )

    def fill(index: int) -> None:
        holder = tabs.objects[index]
        if not holder.objects:
            holder.objects = [builders[index]()]
            if pn.state.curdoc is not None:
                freeze_after_this_change(pn.state.curdoc)

    fill(tabs.active)
    tabs.param.watch(lambda event: fill(event.new), "active")
    return tabs


def die_with_parent() -> None:
    """Make this (forked worker) process end when the server's main process ends.

    Otherwise stopping the main process (as platforms do, with SIGTERM) would leave its workers
    serving on. Linux only; elsewhere the workers have to be stopped with their process group.
    """
    with contextlib.suppress(OSError, AttributeError, TypeError):
        c_library().prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def skip_document_checks() -> None:
    """Do not run Bokeh's integrity checks on every new page's document.

    They are aids for writing layouts (warnings such as an empty column, which the tab that is
    not built yet is) and cost 10-40 ms of each page open; Bokeh documents this switch for speed.
    The tests build pages without it, so the checks still run there.
    """
    from bokeh.settings import settings

    settings.perform_document_validation.set_value(False)


def start_server(
    config: AppConfig,
    port: int,
    address: str = DEFAULT_ADDRESS,
    origins: list[str] | None = None,
    show: bool = False,
    num_procs: int = 1,
    threaded: bool = False,
) -> Any:
    """Start the app server (blocking, or in a thread when `threaded`, for benchmarks)."""
    from app.display.offline import enable_offline_widgets, under_prefix, widget_routes
    from app.page_websocket import install_page_websocket
    from app.request_guard import guard_requests, log_request
    from app.static_compression import static_gzip

    enable_offline_widgets()  # before anything imports ipywidgets_bokeh
    import panel as pn
    from panel.io.application import build_applications

    install_page_websocket()
    skip_document_checks()
    warm_up(config)
    register_static_extensions()  # before the workers fork
    freeze_live_objects()
    if num_procs != 1:
        forget_event_loop()
        # Workers start with everything frozen, so also what the server built since: no full
        # pass visits (and so copies) the memory they share with this process until closed pages
        # are collected.
        os.register_at_fork(before=freeze_live_objects, after_in_child=die_with_parent)
    board = WorkerBoard(worker_count(num_procs))
    applications = build_applications({"/": lambda: create_app(config)}, title="EventLab")
    applications["/"].add(status_handler(board))
    handler, handler_args = health_handler(config, board)
    origins = origins or local_origins(port)

    def build() -> Any:
        server = pn.serve(
            applications,
            port=port,
            address=address,
            websocket_origin=origins,
            show=show,
            num_procs=num_procs,
            prefix=config.prefix,
            extra_patterns=[(HEALTH_ROUTE, handler, handler_args), *widget_routes()],
            websocket_max_message_size=MAX_MESSAGE_BYTES,
            websocket_compression_level=WEBSOCKET_COMPRESSION_LEVEL,
            transforms=[static_gzip(config.prefix)],
            unused_session_lifetime_milliseconds=SESSION_LINGER_MS,
            check_unused_sessions_milliseconds=SESSION_CHECK_MS,
            http_server_kwargs={"max_header_size": MAX_HEADER_BYTES},
            log_function=log_request,
            start=False,
        )
        # Bokeh has forked the workers by now: each process guards its own application.
        guard_requests(server._tornado, origins, [under_prefix(config.prefix, HEALTH_ROUTE)])
        return server

    if threaded:
        return serve_in_thread(build)
    server = build()
    run_server(server)
    return server


def serve_in_thread(build: Callable[[], Any]) -> Any:
    """Build and run a server in a thread with its own event loop; return it once it listens."""
    built: Future = Future()

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            server = build()
        except BaseException as error:
            built.set_exception(error)
            return
        built.set_result(server)
        run_server(server)

    threading.Thread(target=run, daemon=True, name="eventlab-server").start()
    return built.result(timeout=300)


def run_server(server: Any) -> None:
    """Serve until the event loop is stopped."""
    server.start()
    with contextlib.suppress(RuntimeError):
        server.io_loop.start()


def announce_masterclass(config: AppConfig, class_name: str | None, base: str) -> None:
    """Open the class asked for, and print the teacher page's address (it holds the key)."""
    from app.masterclass.setup import class_dir, class_store, masterclass
    from app.masterclass.store import ClassStoreError

    masterclass(config)  # a broken categories file stops the start with its message
    try:
        store = class_store(config)
    except ClassStoreError as error:
        if config.class_dir is not None or class_name is not None:
            raise  # asked for: a folder that cannot hold records stops the start
        print(
            f"EventLab: masterclass records are off ({error}); give a folder with --class-dir",
            file=sys.stderr,
        )
        return
    if class_name is not None:
        info = store.start_class(class_name)
        print(
            f"EventLab: class {info.name!r} is open: students join it on the page", file=sys.stderr
        )
    separator = "&" if "?" in base else "?"
    print(
        f"EventLab: teacher page {base}{separator}{TEACHER_QUERY}={store.teacher_key()} "
        f"(class records in {class_dir(config)})",
        file=sys.stderr,
    )


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted."""
    config = build_config(args)
    port = resolve_port(args.port)
    origins = resolve_origins(args.allow_websocket_origin, args.address, port)
    base = f"http://{args.address}:{port}/{config.prefix}"
    print(f"EventLab: {base}", file=sys.stderr)
    announce_masterclass(config, args.class_name, base)
    start_server(config, port, args.address, origins, args.show, args.num_procs)
    return 0
