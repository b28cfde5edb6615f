"""Outside text reaches the page as text, and exercise Markdown only through the allowlist.

The payloads are valid for the parsers they target: quoted attributes (which Markdown passes as
raw HTML), SVG event handlers, iframes with srcdoc, `javascript:` links and off-site images.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.safe_html import markdown_html, text_html

PAYLOADS = [
    '<img src="x" onerror="window.__xss=1">',
    "<img src='x' onerror='window.__xss=1'>",
    '<svg onload="window.__xss=1"></svg>',
    '<svg><animate onbegin="window.__xss=1" attributeName="x" dur="1s"/></svg>',
    '<iframe srcdoc="&lt;script&gt;parent.__xss=1&lt;/script&gt;"></iframe>',
    "<script>window.__xss=1</script>",
    '<a href="javascript:window.__xss=1">click</a>',
    "[click](javascript:window.__xss=1)",
    "[click](JaVaScRiPt:window.__xss=1)",
    "[click](&#106;avascript:window.__xss=1)",
    '<div style="background:url(http://evil.example/x.png)">x</div>',
    "![tracker](http://evil.example/pixel.png)",
    "![tracker](//evil.example/pixel.png)",
    "[off site](https://evil.example/)",
    "[off site](//evil.example/)",
    "[off site](/\\evil.example/)",
    '<details open ontoggle="window.__xss=1"><summary>x</summary></details>',
    '<form action="http://evil.example"><button>go</button></form>',
]


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html_text: str) -> list[tuple[str, dict[str, str | None]]]:
    """The tags of an HTML fragment."""
    parser = Elements()
    parser.feed(html_text)
    parser.close()
    return parser.tags


def assert_inert(html_text: str) -> None:
    """No script, no event handler, no embedded document, nothing loaded from elsewhere."""
    for tag, attributes in elements(html_text):
        assert tag not in {"script", "iframe", "svg", "img", "object", "embed", "form", "style"}
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in {"src", "srcdoc", "style", "action", "formaction"}, (tag, name)
            if name == "href":
                target = (value or "").strip().lower()
                assert ":" not in target.split("/")[0], target
                assert not target.startswith(("//", "/\\", "\\")), target


@pytest.mark.parametrize("payload", PAYLOADS)
def test_text_is_shown_as_text(payload):
    shown = text_html(payload)
    assert elements(shown) == []
    assert "&lt;" in shown or "<" not in payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_exercise_markdown_keeps_nothing_active(payload):
    assert_inert(markdown_html(f"Step one. {payload} Then plot m_ll."))
    assert_inert(markdown_html(payload))


def test_exercise_markdown_keeps_what_teachers_write():
    source = (
        "## The Z peak\n\nPlot **m_ll** from `60` to *120* GeV:\n\n"
        "1. cut `Q1*Q2 < 0`\n2. fit\n\n| bin | count |\n|---|---|\n| 1 | 2 |\n\n"
        "See [the data card](#data) or [the file](data/z.csv)."
    )
    rendered = markdown_html(source)
    tags = [tag for tag, _ in elements(rendered)]
    for expected in ("h2", "strong", "code", "em", "ol", "li", "table", "td", "a"):
        assert expected in tags
    assert 'href="#data"' in rendered and 'href="data/z.csv"' in rendered


def test_an_image_is_shown_as_its_description():
    assert "[image: tracker]" in markdown_html("![tracker](http://evil.example/pixel.png)")


def test_multi_line_text_keeps_its_lines():
    assert text_html("first\nsecond <b>") == "first<br>second &lt;b&gt;"
