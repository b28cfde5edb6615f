"""The size-bounded cache shared by the histogram lab and the static file compression."""

from __future__ import annotations

from app.caches import SizeBoundedCache


def test_least_recently_used_items_go_first_beyond_the_size_limit():
    cache = SizeBoundedCache(max_bytes=10)
    cache.put("a", "A", 5)
    cache.put("b", "B", 5)
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("c", "C", 3)
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C"
    cache.put("a", "A2", 1)  # replacing an item counts its new size only
    cache.put("d", "D", 7)
    assert cache.get("c") is None and cache.get("a") == "A2" and cache.get("d") == "D"


def test_the_newest_item_is_kept_even_alone_over_the_limit():
    cache = SizeBoundedCache(max_bytes=10)
    cache.put("a", "A", 4)
    cache.put("huge", "H", 11)
    assert cache.get("huge") == "H" and cache.get("a") is None
    cache.clear()
    assert cache.get("huge") is None
