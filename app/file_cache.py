"""Files parsed once per process and version: every session lists and reads the same ones."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

Parsed = TypeVar("Parsed")


def once_per_version(
    maxsize: int,
) -> Callable[[Callable[[Path], Parsed]], Callable[[Path], Parsed]]:
    """Make `parse(path)` reuse its result while the file keeps its modification time and size.

    The result is shared by every session, so it must be treated as read-only. Errors are not
    kept (the next call tries again); OSError if the file cannot be looked at. At most `maxsize`
    versions are kept.
    """

    def decorate(parse: Callable[[Path], Parsed]) -> Callable[[Path], Parsed]:
        @lru_cache(maxsize=maxsize)
        def parsed(path: Path, _mtime: int, _size: int) -> Parsed:
            return parse(path)

        def read(path: Path) -> Parsed:
            stat = path.stat()
            return parsed(path, stat.st_mtime_ns, stat.st_size)

        read.__doc__ = parse.__doc__
        return read

    return decorate
