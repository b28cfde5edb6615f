"""Small HTML tables of the histogram lab (statistics, fits), styled alike."""

from __future__ import annotations

import html


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
