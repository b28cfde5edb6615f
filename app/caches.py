"""A least-recently-used cache bounded by the total size of what it holds."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from app.memory import SessionMemory


class SizeBoundedCache:
    """Least-recently-used items up to a total size in bytes (the newest is always kept).

    With a page's `memory`, the cache also keeps within what the page has left, and records
    there what it holds: uploads come first, the cache makes room.
    """

    def __init__(self, max_bytes: int, memory: SessionMemory | None = None) -> None:
        self.max_bytes = max_bytes
        self.memory = memory
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()
        if memory is not None:
            memory.add_cache(self)

    @property
    def nbytes(self) -> int:
        """The total size of the items held."""
        return self._bytes

    def limit(self) -> int:
        """The size the cache may fill now."""
        if self.memory is None:
            return self.max_bytes
        return min(self.max_bytes, self.memory.room_for(self))

    def get(self, key: Hashable) -> Any | None:
        """The cached item, marked as just used, or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, item: Any, size: int) -> None:
        """Keep an item; evict the least recently used ones beyond the size limit."""
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (item, size)
            self._bytes += size
            self._shrink_to(self.limit())

    def shrink(self) -> None:
        """Evict what no longer fits (the page's memory was taken by something else)."""
        with self._lock:
            self._shrink_to(self.limit())

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _shrink_to(self, limit: int) -> None:
        """Evict least recently used items until the rest fits `limit` (one item is kept)."""
        while self._bytes > limit and len(self._items) > 1:
            self._bytes -= self._items.popitem(last=False)[1][1]
