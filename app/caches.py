"""A least-recently-used cache bounded by the total size of what it holds."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class SizeBoundedCache:
    """Least-recently-used items up to a total size in bytes (the newest is always kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> Any | None:
        """The cached item, marked as just used, or None."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key][0]

    def put(self, key: Hashable, item: Any, size: int) -> None:
        """Keep an item; evict the least recently used ones beyond the size limit."""
        if key in self._items:
            self._bytes -= self._items.pop(key)[1]
        self._items[key] = (item, size)
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._items) > 1:
            self._bytes -= self._items.popitem(last=False)[1][1]

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
        self._bytes = 0
