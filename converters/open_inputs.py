"""Inputs kept open between the chunks one process computes.

Opening a PHYSLITE file makes uproot read the metadata of all its branches: 45-65 ms for the real
example's 170, about a third of a 5,000-entry chunk's work. A process (a Dask worker, or the
command itself) keeps the inputs it opened, so that the next chunk of the same file, which the
scheduler sends to the same worker, starts at once. A source is used by one thread at a time: a
thread borrows it and gives it back when its chunk is done, so the threads of a worker share them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from converters.read import EventSource, columns_plan

# Sources kept per process: each holds its branches' metadata (1.7 MB for the real example, so
# about 55 MB in all; more for files with more branches) and a file handle or connection.
KEPT_SOURCES = 32

Key = tuple[str, Callable, tuple[int, int] | None]
_idle: OrderedDict[Key, list[EventSource]] = OrderedDict()
_lock = threading.Lock()


def stamp(name: str) -> tuple[int, int] | None:
    """A local file's modification time and size (a file replaced under its name is new)."""
    try:
        status = os.stat(name)
    except (OSError, ValueError):  # a URL, or a file that is gone (opening it will say so)
        return None
    return status.st_mtime_ns, status.st_size


@contextmanager
def borrowed_source(name: str, planner: Callable = columns_plan) -> Iterator[EventSource]:
    """The input opened with `planner`'s branches: one this process keeps, or opened now.

    Given back for the next chunk when the work with it ends well; a source that failed is let go.
    """
    key = (name, planner, stamp(name))
    with _lock:
        waiting = _idle.get(key)
        source = waiting.pop() if waiting else None
        if waiting is not None and not waiting:
            del _idle[key]
    if source is None:
        source = EventSource(name, planner=planner)
    yield source
    keep(key, source)


def keep(key: Key, source: EventSource) -> None:
    """Keep `source` for the next chunk, letting the longest unused go past KEPT_SOURCES."""
    with _lock:
        _idle.setdefault(key, []).append(source)
        _idle.move_to_end(key)
        while sum(map(len, _idle.values())) > KEPT_SOURCES:
            oldest = next(iter(_idle))
            _idle[oldest].pop(0)
            if not _idle[oldest]:
                del _idle[oldest]
