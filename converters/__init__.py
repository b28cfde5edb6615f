"""Converters: ATLAS PHYSLITE files and education ntuples to display JSON and flat columns.

The public functions are imported on first use, so that `converters.errors` and the other small
modules stay cheap to import.
"""

from importlib import import_module

PUBLIC = {
    "EventLabError": "converters.errors",
    "InputFileError": "converters.errors",
    "SelectionError": "converters.errors",
    "Selection": "converters.selection",
    "RunSummary": "converters.pipeline",
    "columns_table": "converters.pipeline",
    "convert_events": "converters.pipeline",
    "write_columns": "converters.pipeline",
    "write_display_json": "converters.pipeline",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str):
    """Import a public name from the module that holds it."""
    if name not in PUBLIC:
        raise AttributeError(f"module 'converters' has no attribute {name!r}")
    return getattr(import_module(PUBLIC[name]), name)
