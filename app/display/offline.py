"""Everything the 3D view needs in the browser, served by our own server (no CDN, no internet).

The browser side of Panel's ipywidgets support loads third-party widget modules as AMD files from
`{cdn}/{package}@{version}/dist/index`, and asks `{cdn}/{package}@{version}/package.json` for the
versions of their dependencies. We answer those URLs from the files the pythreejs wheel installs,
and point the model's `cdn` at our route.
"""

from __future__ import annotations

import json
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

WIDGET_ROUTE = "/widget-modules"
# package@version/rest: what the widget loader asks for below WIDGET_ROUTE.
WIDGET_PATTERN = (
    WIDGET_ROUTE + r"/((?:@[^/@]+/)?[^/@]+)@([^/]+)/(package\.json|dist/index(?:\.js)?)"
)
FONT_AWESOME_CDN_MARKERS = ("font-awesome", "fontawesome")
# pythreejs's browser side answers every array the server sends with the attribute's new
# `version` (three.js's count of uploads to the GPU, which nothing on the server reads): it sets
# it on the model, and syncs it back as a property three.js changed. Each answer is a message to
# the server, handled there, and two kernel status messages back: an event switch cost one per
# changed array. The module is served without both (version stays a browser-side count).
VERSION_ECHO = b',this.set({version:this.obj.version},"pushFromThree")'
VERSION_SYNC = (
    b"delete this.property_converters.array}",
    b"delete this.property_converters.array,delete this.property_converters.version}",
)
LOG = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def pythreejs_files() -> dict[str, Path]:
    """The installed pythreejs browser files: widget module, three.js and package.json."""
    import pythreejs

    package_dir = Path(pythreejs.__file__).resolve().parent
    files = {
        "index": package_dir / "static" / "index.js",
        "three": package_dir / "static" / "three.js",
        "package": package_dir / "labextension" / "package.json",
    }
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"pythreejs is installed without its browser files: {missing}")
    return files


@lru_cache(maxsize=1)
def widget_modules() -> dict[str, dict[str, Any]]:
    """Module name -> {file, package.json text}: the modules our pages may load."""
    files = pythreejs_files()
    package = json.loads(files["package"].read_text(encoding="utf-8"))
    three_version = package.get("dependencies", {}).get("three", "latest")
    three_package = {"name": "three", "version": three_version.lstrip("^~"), "dependencies": {}}
    return {
        package["name"]: {
            "file": files["index"],
            "package": json.dumps(package),
            "patch": without_version_echo,
        },
        "three": {"file": files["three"], "package": json.dumps(three_package)},
    }


def widget_cdn(prefix: str = "") -> str:
    """The `cdn` value for the ipywidgets model: our own route, below the server prefix."""
    return under_prefix(prefix, WIDGET_ROUTE)


def under_prefix(prefix: str, route: str) -> str:
    """A server route ("/name") as the browser sees it when the app is served below `prefix`."""
    prefix = prefix.strip("/")
    return f"/{prefix}{route}" if prefix else route


def widget_module_handler():
    """A tornado handler class that serves the widget modules of `widget_modules()`."""
    from tornado.web import HTTPError, RequestHandler

    class WidgetModuleHandler(RequestHandler):
        """GET {route}/{module}@{version}/dist/index or .../package.json."""

        def get(self, module: str, _version: str, rest: str) -> None:
            entry = widget_modules().get(module)
            if entry is None:
                raise HTTPError(404, f"no such widget module: {module}")
            self.set_header("Cache-Control", "public, max-age=86400")
            if rest == "package.json":
                self.set_header("Content-Type", "application/json")
                self.write(entry["package"])
                return
            self.set_header("Content-Type", "application/javascript; charset=utf-8")
            self.write(_file_bytes(entry["file"], entry.get("patch")))

    return WidgetModuleHandler


@lru_cache(maxsize=4)
def _file_bytes(path: Path, patch: Any = None) -> bytes:
    """The bytes of a (large, unchanging) module file, read (and patched) once per process."""
    content = path.read_bytes()
    return patch(content) if patch is not None else content


def without_version_echo(module: bytes) -> bytes:
    """The pythreejs module without its answers to array updates (see VERSION_ECHO)."""
    if VERSION_ECHO not in module or VERSION_SYNC[0] not in module:
        LOG.warning("pythreejs module of an unknown build: served as it is (arrays are echoed)")
        return module
    return module.replace(VERSION_ECHO, b"").replace(*VERSION_SYNC)


def widget_routes() -> list[tuple[str, type]]:
    """The extra tornado routes the server needs for offline widgets."""
    return [(WIDGET_PATTERN, widget_module_handler())]


def enable_offline_widgets() -> None:
    """Load Panel's ipywidgets support (before ipywidgets_bokeh!) and keep its CSS local."""
    # One browser per widget: echoing every browser update back to it only doubles the traffic.
    os.environ.setdefault("JUPYTER_WIDGETS_ECHO", "0")
    import panel as pn

    pn.extension("ipywidgets")
    from panel.io.resources import CSS_URLS

    # Panel adds font-awesome from a CDN for ipywidgets; it also ships the same files itself.
    pn.config.css_files = [
        css for css in pn.config.css_files if not _is_font_awesome(css) or not _is_url(css)
    ]
    from ipywidgets_bokeh.widget import IPyWidget

    # A CDN_DIST url is rewritten to Panel's own static route when resources are served locally.
    IPyWidget.__css__ = [CSS_URLS["font-awesome"]]


def _is_font_awesome(url: str) -> bool:
    """Whether `url` is a font-awesome stylesheet."""
    return any(marker in url for marker in FONT_AWESOME_CDN_MARKERS)


def _is_url(text: str) -> bool:
    """Whether `text` is an absolute http(s) URL."""
    return re.match(r"^https?://", text) is not None


@lru_cache(maxsize=1)
def _local_pane_class() -> type:
    """The IPyWidget pane class whose Bokeh model loads widget modules from our route."""
    import panel as pn
    import param

    class LocalIPyWidget(pn.pane.IPyWidget):
        """An ipywidget pane; `cdn` goes to the Bokeh model (where the widget JS comes from)."""

        cdn = param.String(default=WIDGET_ROUTE, doc="URL the widget modules are loaded from.")

    return LocalIPyWidget


def local_widget_pane(widget: Any, prefix: str = "", **params: Any):
    """A Panel pane showing an ipywidget whose JS modules come from our own server."""
    return _local_pane_class()(widget, cdn=widget_cdn(prefix), **params)
