"""Shared fixtures: the real reference data, a running app, and a headless browser."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_LOG_TAIL = 6000  # characters of each running server's output shown with a failed test
RUNNING_SERVERS: list[subprocess.Popen] = []


def pytest_configure(config) -> None:
    """Servers and pages under test keep class records (and the teacher key) in a folder of
    the test run, never in the user's own data folder."""
    config.eventlab_data_home = tempfile.mkdtemp(prefix="eventlab-tests-")
    os.environ["XDG_DATA_HOME"] = config.eventlab_data_home


def pytest_unconfigure(config) -> None:
    """Remove the test run's data folder."""
    folder = getattr(config, "eventlab_data_home", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def shared_file(relative: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference file {path} is absent (../shared/data is not beside the project)")
    return path


@pytest.fixture(scope="session")
def physlite_example() -> Path:
    """The real ATLAS PHYSLITE example file (100 simulated ttbar events)."""
    return shared_file("physlite/PHYSLITE_example.root")


@pytest.fixture(scope="session")
def cms_zmumu_csv() -> Path:
    """The real CMS 2011 dimuon CSV of the classic classroom Z-peak exercise."""
    return shared_file("cms-csv/Zmumu_Run2011A.csv")


@pytest.fixture(scope="session")
def phoenix_example() -> Path:
    """The HSF Phoenix example event file (ATLAS calibration event)."""
    return shared_file("phoenix/ATLAS_calibration.json")


def eventlab(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The eventlab command as a user runs it (from the project folder unless `cwd` is given)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or PROJECT_ROOT,
        timeout=300,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    """Block until `url` answers 200, or fail with the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{server_output(process)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the app did not answer {url} within {timeout:.0f} s")


def start_app(*extra_args: str) -> tuple[subprocess.Popen, str]:
    """Start `eventlab serve` on a free loopback port; return the process and its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--address", "127.0.0.1"]
    command += ["--port", str(port), *extra_args]
    # The server's output goes to a file: a pipe nobody reads would block the server once full.
    log = tempfile.NamedTemporaryFile("w+", prefix="eventlab-server-", suffix=".log")  # noqa: SIM115 (closed by stop_app)
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    process.log = log
    RUNNING_SERVERS.append(process)
    base_url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base_url}/health", process)
    return process, base_url


def server_output(process: subprocess.Popen) -> str:
    """What a server started by `start_app` has printed so far."""
    log = getattr(process, "log", None)
    if log is None:
        return ""
    log.flush()
    with open(log.name, encoding="utf-8", errors="replace") as text:
        return text.read()


def stop_app(process: subprocess.Popen) -> None:
    """Stop a server started by `start_app`."""
    if process in RUNNING_SERVERS:
        RUNNING_SERVERS.remove(process)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log = getattr(process, "log", None)
    if log is not None:
        log.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of what each server it may have used printed meanwhile."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and RUNNING_SERVERS:
        for process in RUNNING_SERVERS:
            tail = server_output(process)[-SERVER_LOG_TAIL:]
            report.sections.append((f"eventlab server, pid {process.pid}", tail))


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Base URL of the app served the README's way on the bundled samples."""
    process, base_url = start_app()
    yield base_url
    stop_app(process)


def find_chromium() -> str:
    """Path of a Chromium binary; fail with the install hint when there is none."""
    for candidate in (os.environ.get("EVENTLAB_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and shutil.which(candidate):
            return candidate
    pytest.fail("no Chromium found for the browser tests: install it (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class OffsiteRequests(list):
    """URLs the page asked for outside this machine."""

    def record(self, request) -> None:
        """Remember `request` if it leaves localhost."""
        host = urlparse(request.url).hostname or ""
        if request.url.startswith(("http://", "https://", "ws://", "wss://")) and (
            host not in LOCAL_HOSTS
        ):
            self.append(request.url)


@pytest.fixture
def page(browser):
    """A fresh browser page whose requests leaving localhost are in `page.offsite_requests`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    new_page = context.new_page()
    offsite = OffsiteRequests()
    new_page.on("request", offsite.record)
    new_page.offsite_requests = offsite
    yield new_page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where browser tests write screenshots for people to look at."""
    directory = PROJECT_ROOT / "tests" / "screenshots"
    directory.mkdir(exist_ok=True)
    return directory


@contextmanager
def dask_client(workers: int = 2) -> Iterator:
    """A client of a real local Dask cluster of single-threaded worker processes, all started."""
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    with cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers, timeout=60)
        yield client
