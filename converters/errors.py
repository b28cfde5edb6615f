"""Errors meant for the user: their message is shown as it is, without a traceback."""


class EventLabError(Exception):
    """A problem with what the user asked for or gave (a file, an option, an expression)."""


class InputFileError(EventLabError):
    """An input file that cannot be found, opened or read as the expected format."""


class SelectionError(EventLabError):
    """An event selection that is malformed or selects nothing."""
