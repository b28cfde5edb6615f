"""Event display timings: page load to first drawn frame, and the cost of an event switch.

Runs the app in this process (so the server-side time of each switch can be measured around
`EventDisplay.show`, for ROOT files around the conversion of the event in its worker thread,
and the CPU of the serving threads) and drives it with headless Chromium, which reports when the
click's pointer went down and when the canvas was last drawn. Prints one table per event file:
the bundled samples, the real PHYSLITE example (converted first) when ../shared is present, and a
10,000-event toy PHYSLITE ROOT file in 1000-entry clusters, with the time from choosing it in the
file menu to its event list being shown.

    python benchmarks/display.py [--switches 15]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from app.config import BUNDLED_DATA_DIR, AppConfig  # noqa: E402

PHYSLITE_EXAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "physlite" / "PHYSLITE_example.root"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--no-first-run",
]
# Records when WebGL first draws anything, when the pointer went down on a button, when each
# frame was drawn and when each websocket message arrived or left (ms since navigation start).
TIMING_SCRIPT = """
window.__firstDraw = null;
window.__down = null;
window.__draws = [];
window.__sent = 0;
document.addEventListener('pointerdown', () => { window.__down = performance.now(); }, true);
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  const send = socket.send.bind(socket);
  socket.send = (data) => { window.__sent += 1; return send(data); };
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, NativeWebSocket);
for (const proto of [WebGLRenderingContext.prototype, WebGL2RenderingContext.prototype]) {
  for (const name of ["drawArrays", "drawElements"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      const now = performance.now();
      if (window.__firstDraw === null) window.__firstDraw = now;
      const draws = window.__draws;
      if (!draws.length || now - draws[draws.length - 1] > 8) draws.push(now);
      return original.apply(this, args);
    };
  }
}
"""
QUIET_S = 0.6  # a switch is over when no websocket frame arrived for this long


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def thread_cpu_seconds(thread: threading.Thread) -> float:
    """CPU time used so far by one thread of this process (Linux)."""
    fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_threads() -> list[threading.Thread]:
    """The threads of this process that serve the app (all but the browser-driving one)."""
    return [thread for thread in threading.enumerate() if thread is not threading.main_thread()]


class TimedCalls(list):
    """Durations (s) of the timed calls, and in `cpu` the calling thread's CPU time of each."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []

    def clear(self) -> None:
        super().clear()
        self.cpu.clear()


def record_switch_times() -> TimedCalls:
    """Wrap EventDisplay.show and the conversion of ROOT events so every call's duration (s)
    lands in the returned list."""
    from app.display.root_files import RootEventFile
    from app.display.view import EventDisplay

    durations = TimedCalls()

    def timing(original):
        def timed(*args):
            start, cpu = time.perf_counter(), time.thread_time()
            result = original(*args)
            durations.append(time.perf_counter() - start)
            durations.cpu.append(time.thread_time() - cpu)
            return result

        return timed

    EventDisplay.show = timing(EventDisplay.show)
    RootEventFile.event = timing(RootEventFile.event)
    return durations


def big_root_file(folder: Path, events: int = 10_000) -> str:
    """A toy PHYSLITE file of `events` events in 1000-entry clusters, in `folder`."""
    from sample_events.physlite_writer import write_physlite
    from sample_events.simulation import simulate

    _, simulated = simulate(events, seed=3)
    write_physlite(folder / "big_toy_physlite.root", simulated, cluster_entries=1000)
    return "big_toy_physlite.root"


def menu_open_seconds(page, name: str, count: int) -> float:
    """Seconds from choosing `name` in the file menu to its event list being shown."""
    start = time.monotonic()
    page.locator("select").first.select_option(name)
    page.get_by_text(f"of {count})").first.wait_for(timeout=60_000)
    return time.monotonic() - start


def real_example_folder(folder: Path) -> Path | None:
    """The PHYSLITE example converted to a Phoenix file in `folder` (None when absent)."""
    if not PHYSLITE_EXAMPLE.exists():
        return None
    from converters import convert_events

    events = convert_events(str(PHYSLITE_EXAMPLE))
    (folder / "physlite_example.json").write_text(json.dumps(events))
    return folder


def measure(
    base_url: str, file_name: str, switches: int, durations: TimedCalls, count: int = 0
) -> dict:
    """Drive one page: first-frame time, then `switches` clicks on Next (and, for a file of
    `count` events, the time to open it from the file menu first)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(TIMING_SCRIPT)
        frames: list[tuple[float, int]] = []

        def on_socket(socket_) -> None:
            socket_.on("framereceived", lambda data: frames.append((time.monotonic(), len(data))))

        page.on("websocket", on_socket)
        page.goto(f"{base_url}/" if count else f"{base_url}/?file={file_name}")
        page.wait_for_function("window.__firstDraw !== null", timeout=60_000)
        first_draw_ms = page.evaluate("window.__firstDraw")
        page.wait_for_timeout(1500)
        opened = menu_open_seconds(page, file_name, count) if count else None
        page.wait_for_timeout(1500)
        sent, client, drawn, messages, replies, server, server_cpu = [], [], [], [], [], [], []
        threads = server_threads()
        cpu_before = sum(map(thread_cpu_seconds, threads))
        for _ in range(switches):
            frames.clear()
            durations.clear()
            page.evaluate("window.__draws = []; window.__sent = 0")
            start = time.monotonic()
            page.locator("button:has-text('Next')").first.click()
            while not frames or time.monotonic() - frames[-1][0] < QUIET_S:
                page.wait_for_timeout(20)  # (lets Playwright deliver the websocket events)
                if time.monotonic() - start > 20:
                    break
            sent.append(sum(size for _, size in frames))
            messages.append(len(frames))
            client.append(frames[-1][0] - start if frames else float("nan"))
            server.append(sum(durations) * 1000.0)
            server_cpu.append(sum(durations.cpu) * 1000.0)
            down, draws, answers = page.evaluate("[window.__down, window.__draws, window.__sent]")
            drawn.append(draws[-1] - down if draws else float("nan"))
            replies.append(answers)
        cpu = sum(map(thread_cpu_seconds, threads)) - cpu_before
        browser.close()
    return {
        "first_frame_s": first_draw_ms / 1000.0,
        "menu_open_s": opened,
        "server_ms": server,
        "server_call_cpu_ms": server_cpu,
        "server_cpu_ms": 1000.0 * cpu / switches,
        "bytes": sent,
        "frames": messages,
        "browser_frames": replies,
        "client_ms": [c * 1000.0 for c in client],
        "drawn_ms": drawn,
    }


def report(label: str, result: dict) -> None:
    """Print one file's figures."""
    server, sent, client = result["server_ms"], result["bytes"], result["client_ms"]
    print(f"\n{label}")
    print(f"  page load -> first drawn frame : {result['first_frame_s']:.2f} s   (target < 3 s)")
    if result["menu_open_s"] is not None:
        print(f"  file menu -> event list shown  : {result['menu_open_s']:.2f} s   (target < 3 s)")
    print(
        f"  event switch, server time      : median {statistics.median(server):.1f} ms, "
        f"max {max(server):.1f} ms over {len(server)} switches   (target < 100 ms)"
    )
    print(
        f"  event switch, its CPU time     : median "
        f"{statistics.median(result['server_call_cpu_ms']):.1f} ms (the serving thread's, "
        "without what other threads took from it)"
    )
    print(
        f"  event switch, bytes sent       : median {statistics.median(sent) / 1024:.1f} KiB, "
        f"max {max(sent) / 1024:.1f} KiB"
    )
    print(
        f"  event switch, server CPU       : {result['server_cpu_ms']:.0f} ms per switch "
        "(all of the server's work, the browser's answers included)"
    )
    print(
        f"  event switch, frames           : median {statistics.median(result['frames']):.0f} "
        f"to the browser, {statistics.median(result['browser_frames']):.0f} back"
    )
    print(
        f"  event switch, click -> drawn   : median {statistics.median(result['drawn_ms']):.0f} "
        f"ms, max {max(result['drawn_ms']):.0f} ms   (target < 150 ms; the new event's last frame)"
    )
    print(f"  event switch, click -> last msg: median {statistics.median(client):.0f} ms")


def main() -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=15, help="event switches per file")
    parser.add_argument(
        "--bundled-only", action="store_true", help="only the bundled toy events (a quick run)"
    )
    args = parser.parse_args()

    from app.server import start_server

    with tempfile.TemporaryDirectory(prefix="eventlab-bench-") as folder:
        real = None if args.bundled_only else real_example_folder(Path(folder))
        big = None if args.bundled_only else big_root_file(Path(folder))
        data_dirs = (BUNDLED_DATA_DIR, Path(folder))
        config = AppConfig(data_dirs=data_dirs)
        port = free_port()
        durations = record_switch_times()
        server = start_server(config, port, threaded=True)
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base_url}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        files = ["toy_events.json"] + (["physlite_example.json"] if real else [])
        for name in files:
            report(name, measure(base_url, name, args.switches, durations))
        if big is not None:  # opened on the bundled file, then the ROOT file chosen in the menu
            result = measure(base_url, big, args.switches, durations, count=10_000)
            report(f"{big} (10,000 events, converted one at a time)", result)
        if not real and not args.bundled_only:
            print(f"\n(skipped the real example: {PHYSLITE_EXAMPLE} is absent)")
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
