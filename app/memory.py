"""What one browser page may keep in the server's memory: a budget shared by its two tabs.

Uploads and kept columns are held for as long as the page lives; caches take what is left and
shrink when something needs the room. Everything is dropped with the page (its objects are the
only references), so a closed tab gives its memory back.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Any

from converters.errors import EventLabError

MB = 1024 * 1024


class MemoryLimitError(EventLabError):
    """Something would take more of the server's memory than the page may use."""


class SessionMemory:
    """Bytes held per owner (an upload, a kept column...) and by caches, within one limit.

    What owners hold comes first: holding more makes the page's caches give up room (see
    `app.caches.SizeBoundedCache`). Thread-safe.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit = int(limit_bytes)
        self._held: dict[Hashable, int] = {}
        self._caches: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes held now, caches included."""
        with self._lock:
            return sum(self._held.values()) + sum(cache.nbytes for cache in self._caches)

    def add_cache(self, cache: Any) -> None:
        """Count a cache (anything with `nbytes` and `shrink()`) in this page's memory."""
        with self._lock:
            self._caches.add(cache)

    def room_for(self, owner: Hashable) -> int:
        """How many bytes `owner` (or a cache) may hold, counting what it holds already."""
        with self._lock:
            held = sum(size for key, size in self._held.items() if key != owner)
            if owner in self._caches:
                held += sum(cache.nbytes for cache in self._caches if cache is not owner)
        return max(self.limit - held, 0)

    def check(self, owner: Hashable, nbytes: int, what: str) -> None:
        """Refuse (MemoryLimitError) when `owner` holding `nbytes` would pass the limit."""
        room = self.room_for(owner)
        if nbytes > room:
            raise MemoryLimitError(over_budget_message(what, nbytes, self.limit, room))

    def hold(self, owner: Hashable, nbytes: int, what: str) -> None:
        """Record that `owner` now holds `nbytes` (after `check`); caches make room for it."""
        self.check(owner, nbytes, what)
        with self._lock:
            if nbytes > 0:
                self._held[owner] = int(nbytes)
            else:
                self._held.pop(owner, None)
            caches = list(self._caches)
        for cache in caches:
            cache.shrink()

    def release(self, owner: Hashable) -> None:
        """`owner` holds nothing any more."""
        with self._lock:
            self._held.pop(owner, None)


def over_budget_message(what: str, nbytes: int, limit: int, room: int) -> str:
    """The refusal a student reads: how much, what the page may use, and what to do."""
    taken = limit - room
    kept = f" ({taken / MB:.0f} MB of it already taken by your other files)" if taken else ""
    return (
        f"{what} would need about {nbytes / MB:,.0f} MB of the server's memory, more than one "
        f"page may use: {limit / MB:.0f} MB{kept}. Open a smaller file, or reload the page to "
        "start afresh; your teacher can raise the limit (eventlab serve --session-memory-mb)."
    )
