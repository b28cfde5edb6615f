"""Requests a page never sends: another host name (DNS rebinding), an address far too long.

DNS rebinding: a request addressed to another name than the server's own is refused.

A hostile site can make its own name resolve to the classroom server. Its pages then send
`Host: evil.example` with a matching `Origin`, which a websocket would accept if only the
origin list were consulted. Tested with a raw websocket handshake and with Chromium told to
resolve evil.example to this machine.
"""

from __future__ import annotations

import base64
import os
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from conftest import CHROMIUM_ARGS, find_chromium

from app.request_guard import MAX_QUERY_VALUE_LENGTH, address_too_long, host_allowed

ALLOWED = ["localhost:5006", "127.0.0.1:5006", "lab-pc.local:5006", "physics.school.example"]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:5006", True),
        ("LOCALHOST:5006", True),
        ("lab-pc.local:5006", True),
        ("physics.school.example", True),  # behind a proxy on port 80
        ("physics.school.example:80", True),
        ("evil.example:5006", False),
        ("localhost:5007", False),
        ("localhost", False),
        ("physics.school.example.evil.example", False),
        ("", False),
    ],
)
def test_host_names_are_checked_with_their_port(host, allowed):
    assert host_allowed(host, ALLOWED) is allowed


def raw_handshake(base_url: str, host: str, path: str = "/ws") -> bytes:
    """The status line of a websocket handshake sent with the given Host and Origin."""
    address = urlparse(base_url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).split(b"\r\n", 1)[0]


def status_for_host(base_url: str, path: str, host: str) -> int:
    """The HTTP status of GET `path` sent with the given Host header."""
    request = urllib.request.Request(base_url + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_websocket_for_another_host_name_is_refused(app_url):
    port = urlparse(app_url).port
    assert b" 403 " in raw_handshake(app_url, f"evil.example:{port}") + b" "
    # the server's own name still gets its websocket (the same handshake, another Host)
    assert b" 101 " in raw_handshake(app_url, f"127.0.0.1:{port}") + b" "


@pytest.mark.parametrize("path", ["/", "/static/js/bokeh.min.js", "/widget-modules/x@1/dist/index"])
def test_pages_and_scripts_for_another_host_name_are_refused(app_url, path):
    port = urlparse(app_url).port
    assert status_for_host(app_url, path, f"evil.example:{port}") == 403


def test_the_health_check_answers_any_name(app_url):
    assert status_for_host(app_url, "/health", "10.0.0.7:8080") == 200


@pytest.mark.browser
def test_a_rebound_name_in_chromium_gets_no_app(app_url):
    # A browser of its own (with the resolver rule), in a thread of its own: the session's
    # browser may hold this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(open_under_a_rebound_name, app_url).result(timeout=180)


def open_under_a_rebound_name(app_url: str) -> None:
    """Chromium resolving evil.example to this machine gets a refusal there, the app here."""
    from playwright.sync_api import sync_playwright

    port = urlparse(app_url).port
    rules = "--host-resolver-rules=MAP evil.example 127.0.0.1"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=find_chromium(), args=[*CHROMIUM_ARGS, rules]
        )
        try:
            page = chromium.new_page()
            sockets: list[str] = []
            page.on("websocket", lambda websocket: sockets.append(websocket.url))
            response = page.goto(f"http://evil.example:{port}/", timeout=60_000)
            assert response is not None and response.status == 403
            assert "does not answer to the name" in page.content()
            page.wait_for_timeout(1000)
            assert sockets == []
            # the same browser reaches the app under the server's own name
            own = page.goto(f"{app_url}/", timeout=60_000)
            assert own is not None and own.status == 200
            page.locator(".eventlab-scene canvas").first.wait_for(timeout=60_000)
        finally:
            chromium.close()


def test_addresses_past_the_bounds_are_too_long():
    assert not address_too_long("/?h_x=" + "x" * 1000 + "&h_cut=" + "y" * 1000)
    assert address_too_long("/?event=" + "9" * (MAX_QUERY_VALUE_LENGTH + 1))
    assert address_too_long("/?" + "&".join(f"a{i}=1" for i in range(200)))
    assert address_too_long("/" + "a" * 20_000)


@pytest.mark.parametrize("length", [5_000, 100_000, 400_000])
def test_a_far_too_long_link_gets_a_message(app_url, length):
    url = f"{app_url}/?file={'a' * length}&event={'9' * length}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=60)
    assert refused.value.code == 414
    assert "too long" in refused.value.read().decode()
    assert status_for_host(app_url, "/health", urlparse(app_url).netloc) == 200
