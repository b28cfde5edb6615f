"""Converters: ATLAS PHYSLITE files and education ntuples to display JSON and flat columns."""

from converters.errors import EventLabError, InputFileError, SelectionError
from converters.pipeline import (
    RunSummary,
    columns_table,
    convert_events,
    write_columns,
    write_display_json,
)
from converters.selection import Selection

__all__ = [
    "EventLabError",
    "InputFileError",
    "RunSummary",
    "Selection",
    "SelectionError",
    "columns_table",
    "convert_events",
    "write_columns",
    "write_display_json",
]
