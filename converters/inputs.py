"""The inputs named on the command line: paths, globs, URLs and `@files.txt` lists of them.

A list file holds one path or URL a line, as `cernopendata-client get-file-locations` prints
them; blank lines and lines starting with `#` are skipped, and a relative path in a list is
taken relative to the folder of the list. A glob (`data/*.root`) stands for the files it
matches, sorted by name; a URL is passed on as it is.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from converters.errors import EventLabError

GLOB_CHARACTERS = set("*?[")


def is_url(source: str) -> bool:
    """Whether `source` is a remote address rather than a local path."""
    return "://" in source and not source.startswith("file://")


def is_glob(name: str) -> bool:
    """Whether a local name is a pattern rather than a file name."""
    return not is_url(name) and bool(GLOB_CHARACTERS & set(name)) and not os.path.exists(name)


def list_file_entries(name: str) -> list[str]:
    """The paths and URLs of one `@files.txt` list, relative paths made relative to its folder."""
    path = Path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventLabError(f"@{name}: no such file list") from None
    except IsADirectoryError:
        raise EventLabError(f"@{name}: is a folder, not a file list") from None
    except (OSError, UnicodeDecodeError):
        raise EventLabError(f"@{name}: cannot be read as a text file of paths and URLs") from None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not is_url(line) and not os.path.isabs(line):
            line = os.path.join(path.parent, line) if str(path.parent) != "." else line
        entries.append(line)
    if not entries:
        raise EventLabError(f"@{name}: the file list names no file")
    return entries


def expand_inputs(names: Iterable[str], lists: bool = True) -> list[str]:
    """Every input file the command-line names stand for, in the order given.

    The lines of a list are expanded as names are, except that they are not lists themselves.
    """
    expanded: list[str] = []
    for name in names:
        if lists and name.startswith("@") and len(name) > 1:
            expanded += expand_inputs(list_file_entries(name[1:]), lists=False)
        elif is_glob(name):
            matches = sorted(glob.glob(name))
            if not matches:
                raise EventLabError(f"{name}: no file matches this pattern")
            expanded += matches
        else:
            expanded.append(name)
    if not expanded:
        raise EventLabError("no input file given")
    return expanded
