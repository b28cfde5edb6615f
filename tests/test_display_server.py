"""`eventlab serve` options, and the offline widget route, without starting a server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser, main
from app.config import BUNDLED_DATA_DIR, AppConfig
from app.display import offline
from app.page_websocket import install_page_websocket
from app.server import (
    DEFAULT_PORT,
    ServeOptionError,
    build_config,
    query_value,
    resolve_origins,
    resolve_port,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_server_module_stays_cheap():
    code = "import app.cli, sys; print(sorted({'panel', 'pythreejs', 'bokeh'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_serve_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.address, args.port, args.num_procs) == ("127.0.0.1", None, 1)
    assert args.show is False and args.allow_websocket_origin is None and args.prefix == ""
    config = build_config(args)
    assert config.data_dirs == (BUNDLED_DATA_DIR.resolve(),)
    assert config == AppConfig(data_dirs=config.data_dirs)  # the documented defaults
    assert (config.max_upload_mb, config.session_memory_mb, config.action_seconds) == (32, 32, 10)


@pytest.mark.parametrize("option", ["--max-upload-mb", "--session-memory-mb", "--action-seconds"])
def test_page_limits_must_be_positive(option):
    with pytest.raises(ServeOptionError, match=f"{option} must be positive"):
        build_config(build_parser().parse_args(["serve", option, "0"]))


def test_serve_options(tmp_path):
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "8080",
            "--allow-websocket-origin",
            "lab.school.org",
            "--allow-websocket-origin",
            "10.0.0.5:8080",
            "--data-dir",
            str(tmp_path),
            "--max-upload-mb",
            "5",
            "--prefix",
            "/eventlab/",
            "--show",
            "--num-procs",
            "2",
        ]
    )
    config = build_config(args)
    assert args.show is True and args.num_procs == 2
    assert config.data_dirs == (tmp_path.resolve(), BUNDLED_DATA_DIR.resolve())
    assert config.max_upload_bytes == 5 * 1024 * 1024
    assert config.prefix == "eventlab"
    origins = resolve_origins(args.allow_websocket_origin, "0.0.0.0", 8080, environ={})
    assert origins == ["lab.school.org", "10.0.0.5:8080"]


def test_port_comes_from_the_option_then_the_environment():
    assert resolve_port(None, environ={}) == DEFAULT_PORT
    assert resolve_port(None, environ={"PORT": "31337"}) == 31337
    assert resolve_port(8000, environ={"PORT": "31337"}) == 8000
    with pytest.raises(ServeOptionError, match=r"\$PORT must be a number"):
        resolve_port(None, environ={"PORT": "eighty"})
    with pytest.raises(ServeOptionError, match="between 1 and 65535"):
        resolve_port(70000, environ={})


def test_websocket_origins_are_never_a_wildcard(capsys):
    assert resolve_origins(None, "127.0.0.1", 5006, environ={}) == [
        "localhost:5006",
        "127.0.0.1:5006",
    ]
    assert capsys.readouterr().err == ""
    env = {"EVENTLAB_ALLOW_WEBSOCKET_ORIGIN": "a.org, b.org:80"}
    assert resolve_origins(None, "0.0.0.0", 5006, environ=env) == ["a.org", "b.org:80"]
    with pytest.raises(ServeOptionError, match="any web site"):
        resolve_origins(["*"], "0.0.0.0", 5006, environ={})
    resolve_origins(None, "0.0.0.0", 5006, environ={})
    assert "only browsers on this machine" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--data-dir", "/no/such/folder"], "data folder not found: /no/such/folder"),
        (["--no-samples"], "--no-samples leaves no data folder"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be positive"),
        (["--num-procs", "-1"], "--num-procs must be 0 or more"),
        (["--prefix", "a/../b"], "is not a plain URL path"),
        (["--port", "0"], "port must be between 1 and 65535"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, options, message):
    assert main(["serve", *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith("eventlab serve: error: ") and message in error
    assert error.count("\n") == 1


def test_query_values():
    args = {"file": [b" toy_events.json "], "event": [b""], "x": []}
    assert query_value(args, "file") == "toy_events.json"
    assert query_value(args, "event") is None
    assert query_value(args, "x") is None and query_value(args, "missing") is None
    assert len(query_value({"event": [b"9" * 1000]}, "event")) == 200


def test_widget_routes_match_what_the_loader_asks_for():
    pattern = re.compile(offline.WIDGET_PATTERN + "$")
    asked = {
        "/widget-modules/jupyter-threejs@^2.4.1/dist/index": ("jupyter-threejs", "dist/index"),
        "/widget-modules/jupyter-threejs@^2.4.1/package.json": (
            "jupyter-threejs",
            "package.json",
        ),
        "/widget-modules/three@^0.97.0/dist/index": ("three", "dist/index"),
        "/widget-modules/@scope/pkg@1.0.0/dist/index.js": ("@scope/pkg", "dist/index.js"),
    }
    for url, (module, rest) in asked.items():
        match = pattern.match(url)
        assert match is not None, url
        assert (match.group(1), match.group(3)) == (module, rest)
    assert pattern.match("/widget-modules/three@1/../../etc/passwd") is None


def test_widget_modules_come_from_the_installed_pythreejs():
    modules = offline.widget_modules()
    assert set(modules) == {"jupyter-threejs", "three"}
    package = json.loads(modules["jupyter-threejs"]["package"])
    three = json.loads(modules["three"]["package"])
    assert package["dependencies"]["three"].lstrip("^~") == three["version"]
    for entry in modules.values():
        assert entry["file"].is_file() and entry["file"].stat().st_size > 100_000
    assert offline.widget_cdn("") == "/widget-modules"
    assert offline.widget_cdn("/eventlab/") == "/eventlab/widget-modules"


def test_pythreejs_module_is_served_without_its_version_answers():
    entry = offline.widget_modules()["jupyter-threejs"]
    original = entry["file"].read_bytes()
    served = offline._file_bytes(entry["file"], entry["patch"])
    assert offline.VERSION_ECHO in original and offline.VERSION_SYNC[0] in original
    assert b"version:this.obj.version" not in served
    assert served.count(offline.VERSION_SYNC[1]) == original.count(offline.VERSION_SYNC[0]) >= 1
    assert len(original) - len(served) < 2000  # nothing else taken out
    unknown = b"function other(){}"
    assert offline.without_version_echo(unknown) == unknown  # another build: served as it is


def test_page_websocket_sends_every_frame_at_once(monkeypatch):
    from bokeh.server.urls import per_app_patterns

    install_page_websocket()
    install_page_websocket()  # a second call does not wrap the handler again
    handler = dict(per_app_patterns)["/ws"]
    parent = handler.__bases__[0]
    assert handler.sends_at_once and not getattr(parent, "sends_at_once", False)
    delays: list[bool] = []
    monkeypatch.setattr(handler, "set_nodelay", lambda self, value: delays.append(value))
    monkeypatch.setattr(parent, "open", lambda self, *args, **kwargs: "opened")
    assert object.__new__(handler).open() == "opened" and delays == [True]
