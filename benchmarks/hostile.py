"""A class at work while one more student attacks the server: do the others notice?

30 simulated students work as in `benchmarks/classroom.py` (open the app, step through events,
open a histogram link, type a cut, re-bin). Meanwhile one more client of the page's websocket
protocol, as a hostile student would, uploads bombs (a gzip file unpacking to 40 MB of `{},`,
a CSV with 100,000 columns, a small zstd parquet file of 3 x 20 million rows, files sent in
chunks past the upload limit) and submits the heaviest expressions over a 3-million-row file of
the data folder: one refused for its cost, one just within the time budget. Plain HTTP attacks
go alongside: a DNS-rebinding handshake and a link far too long.

Printed: each attack with its outcome and how long the server took to answer it; the other
students' p50/p95 per action and their errors, and those of `/health` asked every 0.25 s; the
server's memory before, at its peak and after everyone left; and the server's CPU.

    python benchmarks/hostile.py [--users 30] [--ramp 30] [--think 2] [--num-procs 2]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import html
import io
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import classroom

from app.config import BUNDLED_DATA_DIR

HEAVY_ROWS = 3_000_000
FOUR = "inv_mass(pt1,eta1,phi1,0,pt2,eta2,phi2,0,pt1,eta2,phi1,0,pt2,eta1,phi2,0)"
COSTLIEST = "+".join([FOUR] * 12)  # four-object masses: one such froze a process for 44 s
WITHIN_BUDGET = " + ".join(["inv_mass(pt1, eta1, phi1, 0.1, pt2, eta2, phi2, 0.1)"] * 8)
CHUNK = 1024 * 1024
ANSWER_TIMEOUT_S = 60.0


def heavy_folder(folder: Path) -> Path:
    """A data folder with a teacher's 3-million-row column file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(11)
    names = [f"{kind}{i}" for kind in ("pt", "eta", "phi") for i in (1, 2)]
    table = pa.table({name: rng.uniform(1, 50, HEAVY_ROWS) for name in names})
    pq.write_table(table, folder / "teacher_big.parquet")
    return folder


def bombs() -> dict[str, bytes]:
    """The files the attacker uploads, by name."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    bomb = b'{"1": {"Jets": {"J": [' + b"{}," * 14_000_000 + b"{}]}}}"
    files = {"bomb.json.gz": gzip.compress(bomb)}
    header = ",".join(f"c{i}" for i in range(100_000))
    files["wide.csv"] = (header + "\n" + ",".join("1" for _ in range(100_000)) + "\n").encode()
    buffer = io.BytesIO()
    zeros = pa.table({name: np.zeros(20_000_000, dtype=np.float32) for name in "abc"})
    pq.write_table(zeros, buffer, compression="zstd")
    files["rows.parquet"] = buffer.getvalue()
    files["endless.json"] = b" " * (200 * CHUNK)  # chunks past the upload limit
    return files


def start_server(port: int, num_procs: int, folder: Path) -> subprocess.Popen:
    """`eventlab serve` with the bundled samples and the heavy folder."""
    command = [sys.executable, "-m", "app.cli", "serve", "--address", "127.0.0.1"]
    command += ["--port", str(port), "--num-procs", str(num_procs)]
    command += ["--data-dir", str(BUNDLED_DATA_DIR), "--data-dir", str(folder)]
    process = subprocess.Popen(
        command, cwd=classroom.PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2),
        ):
            return process
        time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start within 180 s")


def alert_texts(document: Any) -> str:
    """The text of the page's alert boxes (where refusals are shown), as a student reads it."""
    texts = []
    for model in document.models:
        if "eventlab-alert" in (getattr(model, "css_classes", None) or []):
            shown = html.unescape(html.unescape(str(getattr(model, "text", ""))))
            texts.append(re.sub(r"<[^>]+>", " ", shown).strip())
    return " | ".join(text for text in texts if text)


def upload(session: Any, dropper: Any, name: str, data: bytes) -> None:
    """Send a file to a FileDropper as its browser side does: in 1 MB chunks."""
    from panel.models.file_dropper import UploadEvent

    class ChunkEvent(UploadEvent):
        """An upload chunk as the browser sends it (the data travels with the event)."""

        def event_values(self) -> dict[str, Any]:
            return {**super().event_values(), "data": self.data}

    chunks = max(1, -(-len(data) // CHUNK))
    for index in range(chunks):
        part = data[index * CHUNK : (index + 1) * CHUNK]
        fields = {"chunk": index + 1, "total_chunks": chunks, "data": part, "name": name}
        event = ChunkEvent(dropper, data={**fields, "type": "application/octet-stream"})
        session.document.callbacks.send_event(event)


class Attacker:
    """The hostile student: one page of each tab, driven through the websocket protocol."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outcomes: list[tuple[str, str, float]] = []

    def record(self, attack: str, run: Callable[[], str]) -> None:
        """Run one attack, and keep its outcome and duration."""
        started = time.perf_counter()
        try:
            outcome = run()
        except Exception as error:  # an attack that breaks the client is an outcome too
            outcome = f"client error: {type(error).__name__}: {error}"
        self.outcomes.append((attack, outcome[:160], time.perf_counter() - started))

    def run(self, uploads: dict[str, bytes]) -> None:
        """Every attack, one after another (each upload on a page of its own)."""
        for name, menu in (("bomb.json.gz", "Event file"), ("endless.json", "Event file"),
                           ("wide.csv", "Dataset"), ("rows.parquet", "Dataset")):  # fmt: skip
            self.record(f"upload {name}", self.uploading(name, uploads[name], menu))
        lab, _ = classroom.open_session(self.url, {"h_bins": "50"})
        dataset = classroom.find_model(
            lab.document, lambda m: getattr(m, "title", None) == "Dataset", "dataset menu"
        )
        self.record("open the 3M-row file", lambda: self.choose(lab, dataset))
        box = classroom.find_model(
            lab.document,
            lambda m: getattr(m, "title", None) == "Plot (variable or expression)",
            "plot box",
        )
        costliest = f"expression of {len(COSTLIEST)} characters"
        self.record(costliest, lambda: self.type(lab, box, COSTLIEST))
        self.record("heaviest accepted expression", lambda: self.type(lab, box, WITHIN_BUDGET))
        lab.close()

    def uploading(self, name: str, data: bytes, menu_title: str) -> Callable[[], str]:
        """The attack of uploading one file on a page of its own: what the page says then."""

        def attack() -> str:
            arguments = {"h_bins": "50"} if menu_title == "Dataset" else None
            session, _ = classroom.open_session(self.url, arguments)
            try:
                document = session.document
                dropper = classroom.find_model(
                    document, lambda m: type(m).__name__ == "FileDropper", "upload box"
                )
                menu = classroom.find_model(
                    document, lambda m: getattr(m, "title", None) == menu_title, "menu"
                )
                before = alert_texts(document)
                upload(session, dropper, name, data)
                classroom.wait_for(
                    session,
                    lambda: alert_texts(document) != before or name in str(menu.options),
                    name,
                )
                return "accepted" if name in str(menu.options) else alert_texts(document)
            finally:
                session.close()

        return attack

    def choose(self, session: Any, menu: Any) -> str:
        """Pick the teacher's big dataset; wait until the plot's link names it."""
        link = classroom.find_model(
            session.document, lambda m: getattr(m, "title", None) == "Link to this plot", "link"
        )
        menu.value = "file:teacher_big.parquet"
        classroom.wait_for(session, lambda: "teacher_big" in link.value, "dataset")
        return "opened"

    def type(self, session: Any, box: Any, text: str) -> str:
        """Type an expression; wait for the plot (the link changes) or a refusal."""
        link = classroom.find_model(
            session.document, lambda m: getattr(m, "title", None) == "Link to this plot", "link"
        )
        before_link, before_alert = link.value, alert_texts(session.document)
        box.value = text
        classroom.wait_for(
            session,
            lambda: link.value != before_link or alert_texts(session.document) != before_alert,
            "expression",
        )
        return alert_texts(session.document) if link.value == before_link else "plotted"


def http_attacks(url: str, port: int) -> list[tuple[str, str, float]]:
    """A rebinding handshake and a far too long link."""
    outcomes = []
    started = time.perf_counter()
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request.encode())
        status = connection.recv(200).split(b"\r\n", 1)[0].decode()
    outcomes.append(("websocket for Host evil.example", status, time.perf_counter() - started))
    started = time.perf_counter()
    try:
        urllib.request.urlopen(f"{url}/?file={'a' * 100_000}", timeout=30)
        status = "200"
    except urllib.error.HTTPError as error:
        status = f"{error.code} {error.read()[:60].decode()}"
    outcomes.append(("link of 100,000 characters", status, time.perf_counter() - started))
    return outcomes


def attacker_process(url: str, port: int, delay: float, results: Any) -> None:
    """The attacker, in a process of its own, starting once the class is at work."""
    classroom.load_client_models()
    classroom.offer_compression()
    time.sleep(delay)
    attacker = Attacker(url)
    attacker.run(bombs())
    results.put(attacker.outcomes + http_attacks(url.rstrip("/"), port))


def sample_memory(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Keep the server's highest memory in `peak[0]`, sampled every 0.2 s."""
    while not stop.is_set():
        peak[0] = max(peak[0], classroom.server_memory_mb(pid))
        stop.wait(0.2)


def probe_health(url: str, stop: threading.Event, answers: list[float]) -> None:
    """Time the server's /health answer every 0.25 s into `answers` (seconds)."""
    while not stop.is_set():
        started = time.perf_counter()
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}health", timeout=30).read()
            answers.append(time.perf_counter() - started)
        stop.wait(0.25)


def main(argv: list[str] | None = None) -> int:
    """Run the class and the attacker; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--ramp", type=float, default=30.0)
    parser.add_argument("--think", type=float, default=2.0)
    parser.add_argument("--num-procs", type=int, default=2)
    parser.add_argument("--client-procs", type=int, default=6)
    args = parser.parse_args(argv)

    classroom.load_client_models()
    classroom.offer_compression()
    port = classroom.free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="eventlab-hostile-") as folder:
        server = start_server(port, args.num_procs, heavy_folder(Path(folder)))
        try:
            time.sleep(2.0)
            baseline = classroom.server_memory_mb(server.pid)
            cpu_before = classroom.server_cpu_seconds(server.pid)
            peak, stop = [baseline], threading.Event()
            sampler = threading.Thread(target=sample_memory, args=(server.pid, stop, peak))
            sampler.start()
            health_answers: list[float] = []
            prober = threading.Thread(target=probe_health, args=(url, stop, health_answers))
            prober.start()
            context = multiprocessing.get_context("fork")
            opened, finished = context.Barrier(args.users + 1), context.Event()
            results, attacks = context.Queue(), context.Queue()
            clients = [
                context.Process(target=classroom.run_group, args=(group, opened, finished, results))
                for group in classroom.user_groups(url, args)
            ]
            attacker = context.Process(
                target=attacker_process, args=(url, port, args.ramp / 2, attacks)
            )
            started = time.perf_counter()
            for client in [*clients, attacker]:
                client.start()
            opened.wait(timeout=1800)
            outcomes = attacks.get(timeout=1800)
            elapsed = time.perf_counter() - started
            cpu_used = classroom.server_cpu_seconds(server.pid) - cpu_before
            finished.set()
            groups = [results.get(timeout=120) for _ in clients]
            for client in [*clients, attacker]:
                client.join(timeout=30)
            released, left = classroom.wait_for_release(url.rstrip("/"), server.pid)
            stop.set()
            sampler.join()
            prober.join()
            crashed = server.poll() is not None
        finally:
            server.terminate()
            server.wait(timeout=30)

    timings, errors = classroom.merged(groups)
    print(
        f"{args.users} students arriving over {args.ramp:g} s and one attacker, server with "
        f"{args.num_procs} process(es), {os.cpu_count()} CPUs, {elapsed:.0f} s in all"
    )
    print("attacks:")
    for attack, outcome, seconds in outcomes:
        print(f"  {attack:<36} {seconds:6.2f} s  {outcome}")
    print(f"{'the others: action':<24} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    timings["health check"] = health_answers
    for row in [*classroom.ACTIONS, "health check"]:
        values = timings.get(row, [])
        if values:
            print(
                f"{row:<24} {len(values):>6} {1e3 * statistics.median(values):>8.0f} "
                f"{1e3 * classroom.percentile(values, 0.95):>8.0f} {1e3 * max(values):>8.0f}"
            )
    print(f"errors of the others: {len(errors)}; server crashed: {'yes' if crashed else 'no'}")
    for message in sorted(set(errors))[:5]:
        print(f"  {message}")
    print(
        f"server memory (RSS): {baseline:.0f} MB before, {peak[0]:.0f} MB at the peak, "
        f"{released:.0f} MB after everyone left (sessions still open: {left}); "
        f"CPU {cpu_used:.0f} s"
    )
    return 1 if errors or crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
