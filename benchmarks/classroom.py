"""A class at once: N users open the app, step through 20 events and re-bin a histogram with a cut.

Each user is a client of the Bokeh websocket protocol (what the page itself speaks): it opens a
session, changes widget values in its copy of the page as a student would, and times how long
the server takes to send back the resulting change. The users are spread over several client
processes, as every student has a browser of their own. Opening a page is timed twice: until
this client has built the page's models, and, as "(arrived)", until the server's page had
arrived and its JSON was read, before the models were built (a browser builds them on the
student's own computer, where these clients share the server's CPUs). A histogram link's first
plot is filled off the server's event loop and follows its page: "histogram plotted" times the
link until then. The server runs as `eventlab serve` in its own process on a loopback port; its
memory (resident, summed over its processes) is read from /proc before, with every session open,
and after they closed, and the traffic between the users and the server from the loopback
interface's counters. Like browsers, the users offer to compress the page's messages.

    python benchmarks/classroom.py [--users 30] [--ramp 30] [--think 2] [--num-procs 2]
                                   [--client-procs 6]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing
import os
import pkgutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from app.sessions import CLOSED_PAGES, process_rss_mb  # noqa: E402

ACTION_TIMEOUT_S = 30.0
RELEASE_WAIT_S = 60.0
HEALTH_ANSWERS = 8  # /health answers in a row that must report no open session
CUT = "n_leptons >= 2 & lep1_pt > 25"
BINS = 24
ACTIONS = ("open", "next event", "histogram page", "histogram plotted", "cut", "re-bin")
ARRIVED = " (arrived)"  # an opening timed until the page's document arrived, before it was built


class ActionFailed(Exception):
    """A user action whose answer did not arrive in time."""


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, num_procs: int) -> subprocess.Popen:
    """`eventlab serve` on 127.0.0.1:`port`, waiting until /health answers."""
    command = [sys.executable, "-m", "app.cli", "serve", "--address", "127.0.0.1"]
    command += ["--port", str(port), "--num-procs", str(num_procs)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


def process_stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); OSError if gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_pids(root: int) -> list[int]:
    """The server process and its worker processes."""
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(process_stat(entry.name)[1])
            except OSError:
                continue
            if parent == root:
                pids.append(int(entry.name))
    return pids


def server_memory_mb(root: int) -> float:
    """Resident memory of the server's processes, summed, in MB."""
    return sum(process_rss_mb(pid) for pid in server_pids(root))


def server_cpu_seconds(root: int) -> float:
    """CPU time (user + system) the server's processes have used so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in server_pids(root):
        with contextlib.suppress(OSError):
            fields = process_stat(pid)
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def loopback_bytes() -> int:
    """Bytes sent over this machine's loopback interface so far, by anything (Linux; else 0)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/dev").read_text().splitlines():
            name, _, counters = line.partition(":")
            if name.strip() == "lo":
                return int(counters.split()[0])
    return 0


def load_client_models() -> None:
    """Make every model class the page uses known to this client (Panel loads them lazily)."""
    from app.display.offline import enable_offline_widgets

    enable_offline_widgets()
    import panel.models

    for module in pkgutil.iter_modules(panel.models.__path__):
        try:
            importlib.import_module(f"panel.models.{module.name}")
        except ImportError:
            continue
    import ipywidgets_bokeh.widget  # noqa: F401

    from app.display.bridge import browser_bridge
    from app.display.collection_list import collection_list
    from app.display.detector_list import detector_list
    from app.display.object_table import object_table_class

    browser_bridge(lambda _action: None).get_root()  # registers the page's own models
    collection_list().get_root()
    detector_list([]).get_root()
    object_table_class()().get_root()


def offer_compression() -> None:
    """Make this process's Bokeh clients offer to deflate messages, as every browser does."""
    import functools

    import bokeh.client.connection as connection
    from tornado.websocket import websocket_connect

    connection.websocket_connect = functools.partial(websocket_connect, compression_options={})


def open_session(url: str, arguments: dict[str, str] | None = None) -> tuple[Any, float]:
    """Open a page as a browser does: pull the session, then say the document is ready.

    Returns the session and when (perf_counter) the server's document had arrived and its JSON
    was read, before this client built its models from it (a browser builds its own).
    Browsers send every websocket frame at once (TCP_NODELAY), so this client does too; see also
    `offer_compression`.
    Panel holds back some updates (HoloViews plot refreshes among them, which retry on every tick)
    until the page reports `document_ready`; a client that never does keeps the server busy.
    """
    from bokeh.client import ClientSession
    from bokeh.client.util import websocket_url_for_server_url
    from bokeh.events import DocumentReady

    session = ClientSession(websocket_url=websocket_url_for_server_url(url), arguments=arguments)
    session.connect()
    connection = session._connection
    connection._socket._socket.protocol.set_nodelay(True)  # the tornado websocket
    arrivals: list[float] = []
    ask = connection._send_message_wait_for_reply

    def ask_and_note_arrival(message: Any) -> Any:
        reply = ask(message)
        arrivals.append(time.perf_counter())
        return reply

    connection._send_message_wait_for_reply = ask_and_note_arrival
    try:
        session.pull()
    finally:
        connection._send_message_wait_for_reply = ask
    session.document.callbacks.send_event(DocumentReady())
    return session, arrivals[-1]


def find_model(document: Any, test: Callable[[Any], bool], what: str) -> Any:
    """The first model of `document` passing `test`."""
    for model in document.models:
        if test(model):
            return model
    raise ActionFailed(f"no {what} in the page")


def wait_for(session: Any, condition: Callable[[], bool], what: str) -> None:
    """Take in the server's changes until `condition()` holds; give up (closing) after a while.

    The public `force_roundtrip` drops the changes that arrive while it waits for its reply, so
    this runs the client's loop the way `loop_until_closed` does, with a condition.
    """
    connection = session._connection
    timer = connection.io_loop.call_later(ACTION_TIMEOUT_S, connection.close, "timed out")
    try:
        connection._loop_until(lambda: condition() or not connection.connected)
    finally:
        connection.io_loop.remove_timeout(timer)
    if not condition():
        raise ActionFailed(f"{what}: no answer within {ACTION_TIMEOUT_S:.0f} s")


class User:
    """One simulated student: a session of the app and the time each action took."""

    def __init__(
        self,
        url: str,
        events: int,
        timings: dict[str, list[float]],
        delay: float = 0.0,
        think: float = 0.0,
    ) -> None:
        self.url = url
        self.delay = delay
        self.think = think
        self.events = events
        self.timings = timings
        self.session: Any = None
        self.histogram_session: Any = None

    def timed(self, action: str, run: Callable[[], None]) -> None:
        """Run one action and record how long it took."""
        started = time.perf_counter()
        run()
        self.timings[action].append(time.perf_counter() - started)

    def open_page(self, action: str, arguments: dict[str, str] | None = None) -> Any:
        """Open a page, timed until it is built here and, as `action (arrived)`, until it came."""
        started = time.perf_counter()
        session, arrived = open_session(self.url, arguments)
        self.timings[action].append(time.perf_counter() - started)
        self.timings[action + ARRIVED].append(arrived - started)
        return session

    def open(self) -> None:
        """Open the page (the server builds this user's session)."""
        self.session = self.open_page("open")

    def step_events(self) -> None:
        """Choose the next event in the event list, `events` times."""
        document = self.session.document
        events = find_model(document, lambda m: type(m).__name__ == "SingleSelect", "event list")
        label = find_model(
            document, lambda m: "event-number" in str(getattr(m, "text", "")), "event label"
        )
        count = len(events.options)
        for step in range(1, self.events + 1):
            position = step % count
            option = events.options[position]
            wanted = f"({position + 1} of {count})"

            def change(option: Any = option, wanted: str = wanted) -> None:
                events.value = option[0] if isinstance(option, list | tuple) else option
                wait_for(self.session, lambda: wanted in label.text, "next event")

            self.timed("next event", change)
            time.sleep(self.think)

    def histogram(self) -> None:
        """Open a histogram link (it opens on the Histograms tab), type a cut, then re-bin."""

        started = time.perf_counter()
        session = self.histogram_session = self.open_page("histogram page", {"h_bins": "50"})
        document = session.document
        link = find_model(
            document, lambda m: getattr(m, "title", None) == "Link to this plot", "link box"
        )
        # The first plot is filled off the event loop and follows the page.
        wait_for(session, lambda: "h_bins=50" in link.value, "histogram plotted")
        self.timings["histogram plotted"].append(time.perf_counter() - started)
        cut = find_model(
            document, lambda m: str(getattr(m, "title", "")).startswith("Cut"), "cut box"
        )
        bins = find_model(document, lambda m: getattr(m, "title", None) == "Bins", "bins box")
        encoded = f"h_cut={quote_plus(CUT)}"

        def type_cut() -> None:
            cut.value = CUT
            wait_for(session, lambda: encoded in link.value, "cut")

        def rebin() -> None:
            bins.value = BINS
            wait_for(session, lambda: f"h_bins={BINS}&" in link.value, "re-bin")

        self.timed("cut", type_cut)
        self.timed("re-bin", rebin)

    def close(self) -> None:
        """Close this user's pages."""
        for session in (self.session, self.histogram_session):
            if session is not None:
                session.close()

    def run(self, errors: list[str], opened: Any) -> None:
        """Open, step through the events and make a histogram; errors are counted, not raised."""
        try:
            time.sleep(self.delay)
            self.open()
            self.step_events()
            self.histogram()
        except Exception as error:  # a benchmark counts failures, it does not stop at one
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            with contextlib.suppress(threading.BrokenBarrierError):
                opened.wait(timeout=600)


@dataclass
class GroupResult:
    """What one client process measured for its users."""

    timings: dict[str, list[float]]
    errors: list[str]
    cpu_seconds: float


def user_groups(url: str, args: argparse.Namespace) -> list[list[User]]:
    """The users, dealt round-robin to the client processes; a group shares one timings table."""
    groups = []
    for first in range(args.client_procs):
        timings: dict[str, list[float]] = defaultdict(list)
        arrivals = (args.ramp * n / args.users for n in range(first, args.users, args.client_procs))
        groups.append([User(url, args.events, timings, delay, args.think) for delay in arrivals])
    return groups


def run_group(users: list[User], opened: Any, finished: Any, results: Any) -> None:
    """Run some users in this process, each in a thread; close their pages when told to."""
    errors: list[str] = []
    cpu_before = time.process_time()
    threads = [threading.Thread(target=user.run, args=(errors, opened)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_used = time.process_time() - cpu_before
    finished.wait(timeout=900)
    for user in users:
        user.close()
    timings = {action: list(values) for action, values in users[0].timings.items()}
    results.put(GroupResult(timings, errors, cpu_used))


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def merged(outcomes: list[GroupResult]) -> tuple[dict[str, list[float]], list[str]]:
    """The timings and errors of every client process together."""
    timings: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        for action, values in outcome.timings.items():
            timings[action] += values
    return timings, [message for outcome in outcomes for message in outcome.errors]


def wait_for_release(url: str, pid: int) -> tuple[float, int]:
    """Wait until no session is open and closed pages are collected; memory, sessions left."""
    import json

    deadline = time.monotonic() + RELEASE_WAIT_S
    answers: list[int] = []
    # Each answer sums every worker's last heartbeat (up to 1 s old): wait for a run of zeros.
    while time.monotonic() < deadline and answers[-HEALTH_ANSWERS:] != [0] * HEALTH_ANSWERS:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            answers.append(json.loads(response.read())["sessions"])
        time.sleep(0.2 if answers[-1] == 0 else 1.0)
    if answers and answers[-1] == 0:
        time.sleep(CLOSED_PAGES.delay_s + 1.0)
    return server_memory_mb(pid), max(answers[-HEALTH_ANSWERS:], default=-1)


def main(argv: list[str] | None = None) -> int:
    """Run the classroom benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30, help="simultaneous users (default 30)")
    parser.add_argument("--events", type=int, default=20, help="events each user steps through")
    parser.add_argument("--num-procs", type=int, default=1, help="server processes (default 1)")
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="seconds over which users arrive (default 0)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a user looks at each event before the next click (default 1)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=6,
        help="processes the simulated users are spread over (default 6)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.client_procs <= args.users:
        parser.error("--client-procs must be between 1 and --users")
    if not 1 <= args.users <= 200 or not 1 <= args.events <= 500 or not 0 <= args.ramp <= 600:
        parser.error("--users must be 1-200, --events 1-500 and --ramp 0-600")
    if not 0 <= args.think <= 60:
        parser.error("--think must be 0-60 seconds")

    load_client_models()
    offer_compression()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.num_procs)
    try:
        time.sleep(2.0)
        baseline = server_memory_mb(server.pid)
        cpu_before = server_cpu_seconds(server.pid)
        traffic_before = loopback_bytes()
        # Each student has a browser of their own: the users run in several client processes,
        # so that one client's Python lock does not queue every other user's answers.
        context = multiprocessing.get_context("fork")
        opened, finished = context.Barrier(args.users + 1), context.Event()
        results = context.Queue()
        clients = [
            context.Process(target=run_group, args=(group, opened, finished, results))
            for group in user_groups(f"{url}/", args)
        ]
        started = time.perf_counter()
        for client in clients:
            client.start()
        opened.wait(timeout=900)
        elapsed = time.perf_counter() - started
        loaded = server_memory_mb(server.pid)
        cpu_used = server_cpu_seconds(server.pid) - cpu_before
        traffic = loopback_bytes() - traffic_before
        finished.set()
        outcomes = [results.get(timeout=120) for _ in clients]
        for client in clients:
            client.join(timeout=30)
        timings, errors = merged(outcomes)
        client_cpu = sum(outcome.cpu_seconds for outcome in outcomes)
        released, left = wait_for_release(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"{args.users} users arriving over {args.ramp:g} s, {args.events} events each"
        f" ({args.think:g} s looking at each) in {len(clients)} client processes, server "
        f"with {args.num_procs} process(es), {os.cpu_count()} CPUs, {elapsed:.1f} s in all"
    )
    print(f"{'action':<24} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in (name for action in ACTIONS for name in (action, action + ARRIVED)):
        values = timings.get(row, [])
        if values:
            print(
                f"{row:<24} {len(values):>6} {1e3 * statistics.median(values):>8.0f} "
                f"{1e3 * percentile(values, 0.95):>8.0f} {1e3 * max(values):>8.0f}"
            )
    print(
        f"server CPU: {cpu_used:.1f} s in all, {100 * cpu_used / elapsed:.0f} % of one CPU"
        f" over the run; the simulated users: {client_cpu:.1f} s,"
        f" {100 * client_cpu / elapsed:.0f} %"
    )
    print(
        f"network: {traffic / 1e6:.1f} MB over the loopback interface, all of this machine's"
        f" (with TCP headers): {traffic / 1e6 / args.users:.2f} MB per user"
    )
    print(f"errors: {len(errors)}")
    for message in sorted(set(errors))[:5]:
        print(f"  {message}")
    per_session = (loaded - baseline) / args.users
    print(
        f"server memory (RSS): {baseline:.0f} MB before, {loaded:.0f} MB with {args.users} "
        f"sessions ({per_session:.1f} MB each), {released:.0f} MB after they closed "
        f"({loaded - released:.0f} MB given back; sessions still open: {left})"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
