"""Text from outside (links, file names, file contents, exercise files) made safe for the page.

Two ways in, and no other: `text_html` shows any text as text, and `markdown_html` renders the
Markdown of an exercise file through an allowlist (no raw HTML, no scripts or event handlers, no
images, no link that leaves the server). Panes that show outside text are HTML panes fed by one
of the two; Panel's Markdown panes pass raw HTML through, so they only ever hold our own text.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

# What exercise Markdown may produce. Everything else is dropped (its text kept).
MARKDOWN_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "sub", "sup",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
# A link target of this server: a relative path or an anchor. Not a scheme ("javascript:",
# "https:") and nothing a browser reads as another host ("//host", "/\\host", "\\\\host").
SAME_SERVER_URL = re.compile(
    r"^(?![/\\]{2})(?![A-Za-z][A-Za-z0-9+.-]*:)[A-Za-z0-9_.~!$&'()*+,;=@%/?#-]*$"
)
ALERT_STYLES = {
    "danger": {"color": "#842029", "background-color": "#f8d7da", "border-color": "#f5c2c7"},
    "warning": {"color": "#664d03", "background-color": "#fff3cd", "border-color": "#ffecb5"},
    "info": {"color": "#055160", "background-color": "#cff4fc", "border-color": "#b6effb"},
    "success": {"color": "#0f5132", "background-color": "#d1e7dd", "border-color": "#badbcc"},
}
ALERT_BOX = {"padding": "0.6rem 1rem", "border": "1px solid", "border-radius": "4px"}


def text_html(text: Any) -> str:
    """Any value as HTML that shows exactly its text (line breaks kept)."""
    return html.escape(str(text)).replace("\n", "<br>")


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """The Markdown parser: CommonMark with tables, raw HTML off, images shown as their text."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

    def image_as_text(renderer, tokens, index, options, env) -> str:
        alt = "".join(child.content for child in tokens[index].children or [])
        return html.escape(f"[image: {alt}]" if alt else "[image]")

    parser.add_render_rule("image", image_as_text)
    return parser


def same_server_only(tag: str, attribute: str, value: str) -> str | None:
    """Keep a link only when it stays on this server."""
    if attribute == "href" and not SAME_SERVER_URL.match(value.strip()):
        return None
    return value


def markdown_html(source: str) -> str:
    """Exercise Markdown as HTML through the allowlist."""
    import nh3

    rendered = _markdown().render(str(source))
    return nh3.clean(
        rendered,
        tags=MARKDOWN_TAGS,
        attributes=MARKDOWN_ATTRIBUTES,
        attribute_filter=same_server_only,
        url_schemes=set(),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def alert_pane(alert_type: str = "danger", **params: Any) -> Any:
    """An alert box (Panel HTML pane) for messages; fill it with `show_alert`."""
    import panel as pn

    styles = ALERT_BOX | ALERT_STYLES[alert_type] | params.pop("styles", {})
    params.setdefault("visible", False)
    return pn.pane.HTML("", styles=styles, css_classes=["eventlab-alert"], **params)


def show_alert(pane: Any, message: str, detail: str = "") -> None:
    """Show `message` as text in an alert box; `detail` below it in a fixed-width block."""
    text = text_html(message)
    if detail:
        text += f"<pre style='margin:4px 0 0 0'>{html.escape(detail)}</pre>"
    pane.object = text
    pane.visible = True
