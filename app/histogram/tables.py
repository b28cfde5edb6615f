"""HTML of the histogram lab's panes: the data card, statistics and fit tables, lists."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

from app.histogram.data import Dataset, MissingValues, missing_note
from app.safe_html import text_html

MAX_NAMES_SHOWN = 8  # column names written out in a message; the rest are counted


def table_html(title: str, rows: str) -> str:
    """A small styled table with a caption."""
    return (
        "<table style='border-collapse:collapse;font-size:13px' class='histogram-table'>"
        f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>"
        f"{rows}</table>"
        "<style>.histogram-table td,.histogram-table th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}"
        ".histogram-table td:first-child,.histogram-table th:first-child{text-align:left}</style>"
    )


def dataset_info_html(dataset: Dataset) -> str:
    """The data card: rows and columns, the file's own description, notes on its values."""
    meta = dataset.metadata
    parts = [
        f"<p style='margin:4px 0'><b>{dataset.n_rows:,}</b> rows, "
        f"<b>{len(dataset.table.column_names):,}</b> columns</p>"
    ]
    described = [f"<i>{text_html(key)}</i>: {text_html(text)}" for key, text in meta.items()]
    if described:
        parts.append(list_html_items(described))
    if dataset.ignored:
        shown = ", ".join(dataset.ignored[:MAX_NAMES_SHOWN])
        more = len(dataset.ignored) - MAX_NAMES_SHOWN
        shown += f" and {more:,} more" if more > 0 else ""
        note = text_html(f"Text columns are not plotted: {shown}.")
        parts.append(f"<p style='margin:4px 0'>{note}</p>")
    parts.append(missing_note(dataset))
    return "".join(parts)


def list_html(lines: Iterable[str]) -> str:
    """Lines of text as a bulleted list."""
    return list_html_items(text_html(line) for line in lines)


def list_html_items(items: Iterable[str]) -> str:
    """Items that are already HTML as a bulleted list ("" for none)."""
    rows = "".join(f"<li>{item}</li>" for item in items)
    return f"<ul style='margin:2px 0;padding-left:18px'>{rows}</ul>" if rows else ""


def number_text(value: float) -> str:
    """A statistic for a table."""
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.5g}"


def statistics_html(rows: Iterable[tuple[str, dict, bool]]) -> str:
    """A table of entries, selected fraction, mean, std and flows, one row per selection
    (its label, its numbers from `summary`, and whether its entries are weighted)."""
    header = (
        "<tr><th>selection</th><th>entries</th><th>selected</th><th>mean</th><th>std</th>"
        "<th>underflow</th><th>overflow</th><th>no value</th></tr>"
    )
    body = []
    for label, numbers, weighted in rows:
        entries = number_text(numbers["entries"])
        if weighted:
            entries += f" (Σw {number_text(numbers['sum_of_weights'])})"
        body.append(
            f"<tr><td>{html.escape(label)}</td><td>{entries}</td>"
            f"<td>{100 * numbers['selected_fraction']:.1f} %</td>"
            f"<td>{number_text(numbers['mean'])}</td><td>{number_text(numbers['std'])}</td>"
            f"<td>{number_text(numbers['underflow'])}</td>"
            f"<td>{number_text(numbers['overflow'])}</td>"
            f"<td>{number_text(numbers['no_value'])}</td></tr>"
        )
    return table_html("Statistics", header + "".join(body))


def missing_html(columns: list[MissingValues]) -> str:
    """A line under the statistics on the empty or infinite values of the columns in use."""
    incomplete = [column for column in columns if column.missing or column.infinite]
    if not incomplete:
        return ""
    described = "; ".join(html.escape(column.describe()) for column in incomplete)
    return (
        "<p style='font-size:12px;color:#555;margin:4px 0 0 0'>"
        f"Columns in use — {described}. Empty values are not plotted (see <i>no value</i>); "
        "in a cut, <code>&gt;</code>, <code>&lt;</code> or <code>==</code> on an empty value "
        "is false.</p>"
    )
