"""Errors of the histogram lab, each meant to be shown to the user as one clear message."""

from __future__ import annotations

from converters.errors import EventLabError, InputFileError, SelectionError


class DatasetError(InputFileError):
    """A column file that cannot be used: unreadable, empty, not numeric, too large."""


class ExpressionInputError(SelectionError):
    """An expression (variable, cut or weight) that does not parse or evaluate."""


class BinningError(EventLabError):
    """A number of bins or a range that cannot make a histogram."""


class FitError(EventLabError):
    """A fit that cannot be started or did not converge."""


class ExerciseError(EventLabError):
    """An exercise file that does not follow the exercise format."""


class OutputError(EventLabError):
    """An output file (PNG, CSV) that cannot be written."""
