"""Flat jagged collections (converters.flat) against awkward-array, and chunk ranges."""

from __future__ import annotations

from itertools import pairwise

import awkward as ak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converters.flat import (
    Objects,
    concatenate,
    first_true,
    offsets_from_counts,
    ragged_arange,
    unpack,
)
from converters.read import MAX_CHUNK_FACTOR, chunk_ranges

PROPERTY = settings(max_examples=150, deadline=None, database=None)
COUNTS = st.one_of(
    st.just([]),
    st.lists(st.just(0), min_size=1, max_size=4),
    st.lists(st.integers(0, 6), max_size=8),
)


@st.composite
def collections(draw: st.DrawFn, events: int | None = None) -> Objects:
    """A collection with a global row number and distinct float keys `x`."""
    if events is None:
        counts = draw(COUNTS)
    else:
        counts = draw(st.lists(st.integers(0, 6), min_size=events, max_size=events))
    size = sum(counts)
    keys = np.array(draw(st.permutations(range(size))), dtype=np.float64) - size / 2
    columns = {"row": np.arange(size, dtype=np.int64), "x": keys}
    return Objects.from_counts(np.array(counts, dtype=np.int64), columns)


@st.composite
def collection_pairs(draw: st.DrawFn) -> tuple[Objects, Objects]:
    """Two collections over the same events."""
    events = draw(st.integers(0, 8))
    return draw(collections(events)), draw(collections(events))


def booleans(data: st.DataObject, size: int) -> np.ndarray:
    """A drawn boolean array of the given length."""
    return np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=bool)


def jagged(objects: Objects) -> ak.Array:
    """The collection as an awkward array of records, one list per event."""
    return ak.unflatten(ak.zip(dict(objects.columns)), np.diff(objects.offsets))


def assert_same(objects: Objects, expected: ak.Array) -> None:
    """The collection holds exactly the events and objects of the awkward array."""
    assert objects.offsets.dtype == np.int64 and objects.offsets[0] == 0
    assert all(len(column) == objects.size for column in objects.columns.values())
    assert ak.to_list(jagged(objects)) == ak.to_list(expected)


# --- helpers ---------------------------------------------------------------------------------


@PROPERTY
@given(counts=COUNTS)
def test_offsets_from_counts(counts: list[int]) -> None:
    """Offsets equal those of the awkward lists of these sizes."""
    counts_array = np.array(counts, dtype=np.int64)
    expected = ak.unflatten(np.zeros(sum(counts)), counts_array).layout.offsets
    offsets = offsets_from_counts(counts_array)
    assert offsets.dtype == np.int64
    np.testing.assert_array_equal(offsets, np.asarray(expected))


@PROPERTY
@given(segments=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 6)), max_size=8))
def test_ragged_arange(segments: list[tuple[int, int]]) -> None:
    """Concatenated ranges start .. start + count - 1, in order."""
    starts = np.array([start for start, _ in segments], dtype=np.int64)
    counts = np.array([count for _, count in segments], dtype=np.int64)
    expected = [start + k for start, count in segments for k in range(count)]
    assert ragged_arange(starts, counts).tolist() == expected


@PROPERTY
@given(counts=COUNTS, data=st.data())
def test_first_true(counts: list[int], data: st.DataObject) -> None:
    """The first true position of every segment, -1 where there is none."""
    counts_array = np.array(counts, dtype=np.int64)
    mask = booleans(data, sum(counts))
    segment = np.repeat(np.arange(len(counts)), counts_array)
    lists = ak.unflatten(mask, counts_array)
    firsts = ak.firsts(ak.local_index(lists)[lists]) + offsets_from_counts(counts_array)[:-1]
    expected = ak.to_numpy(ak.fill_none(firsts, -1))
    np.testing.assert_array_equal(first_true(mask, segment, len(counts)), expected)


def test_first_true_without_true_values() -> None:
    """Segments with no true value, empty or not, get -1."""
    mask = np.array([False, False, True, False, True, False])
    segment = np.array([0, 0, 2, 2, 2, 4])
    assert first_true(mask, segment, 5).tolist() == [-1, -1, 2, -1, -1]


@PROPERTY
@given(counts=COUNTS, data=st.data())
def test_unpack_sliced(counts: list[int], data: st.DataObject) -> None:
    """A sliced jagged array unpacks to offsets from 0 and only its own content."""
    skip = data.draw(st.integers(0, len(counts)))
    values = np.arange(sum(counts), dtype=np.float32)
    array = ak.unflatten(values, np.array(counts, dtype=np.int64))[skip:]
    levels, content = unpack(array)
    expected = np.concatenate([[0], np.cumsum(counts[skip:], dtype=np.int64)])
    assert len(levels) == 1 and levels[0].dtype == np.int64
    np.testing.assert_array_equal(levels[0], expected)
    np.testing.assert_array_equal(content, values[sum(counts[:skip]) :])


def test_unpack_offsets_not_from_zero() -> None:
    """A slice whose offsets start past 0 unpacks as if packed."""
    array = ak.Array([[1, 2], [3], [], [4, 5, 6], [7], [8, 9]])[3:]
    assert array.layout.offsets[0] == 3
    levels, content = unpack(array)
    assert [level.tolist() for level in levels] == [[0, 3, 4, 6]]
    assert content.tolist() == [4, 5, 6, 7, 8, 9]


def test_unpack_doubly_jagged_records() -> None:
    """Two list levels of records unpack to two offsets arrays and a dict of fields."""
    array = ak.Array(
        [
            [[{"a": 1, "b": 1.5}], []],
            [],
            [[{"a": 2, "b": 2.5}, {"a": 3, "b": 3.5}], [{"a": 4, "b": 4.5}]],
            [[{"a": 5, "b": 5.5}]],
        ]
    )
    levels, content = unpack(array[1:])
    assert [level.tolist() for level in levels] == [[0, 0, 2, 3], [0, 2, 3, 4]]
    assert {name: values.tolist() for name, values in content.items()} == {
        "a": [2, 3, 4, 5],
        "b": [2.5, 3.5, 4.5, 5.5],
    }


def test_unpack_inner_slice() -> None:
    """An inner slice (an awkward ListArray) unpacks to packed offsets."""
    array = ak.Array([[[1, 2, 3], [4]], [], [[5, 6], [], [7]]])[:, 1:]
    levels, content = unpack(array)
    assert [level.tolist() for level in levels] == [[0, 1, 1, 3], [0, 1, 1, 2]]
    assert content.tolist() == [4, 7]


# --- Objects ---------------------------------------------------------------------------------


@PROPERTY
@given(objects=collections())
def test_counts_event_local_index(objects: Objects) -> None:
    """Per-event counts, each object's event and position match awkward."""
    lists = jagged(objects)
    event = ak.broadcast_arrays(np.arange(len(lists)), lists.row)[0]
    assert objects.events == len(lists) and objects.size == len(objects["row"])
    np.testing.assert_array_equal(objects.counts, ak.to_numpy(ak.num(lists)))
    np.testing.assert_array_equal(objects.event, ak.to_numpy(ak.flatten(event)))
    np.testing.assert_array_equal(
        objects.local_index, ak.to_numpy(ak.flatten(ak.local_index(lists)))
    )


@PROPERTY
@given(objects=collections(), data=st.data())
def test_take_events_mask(objects: Objects, data: st.DataObject) -> None:
    """Taking events by a boolean mask equals awkward masking."""
    mask = booleans(data, objects.events)
    assert_same(objects.take_events(mask), jagged(objects)[mask])


@PROPERTY
@given(objects=collections(), data=st.data())
def test_take_events_positions(objects: Objects, data: st.DataObject) -> None:
    """Taking events by integer positions (negative too, repeated, any order) = awkward indexing."""
    position = st.integers(-objects.events, max(objects.events - 1, 0))
    drawn = data.draw(st.lists(position, max_size=10 if objects.events else 0))
    positions = np.array(drawn, dtype=np.int64)
    assert_same(objects.take_events(positions), jagged(objects)[positions])


@PROPERTY
@given(objects=collections(), data=st.data())
def test_where(objects: Objects, data: st.DataObject) -> None:
    """Keeping objects by a row mask equals jagged boolean masking."""
    keep = booleans(data, objects.size)
    assert_same(objects.where(keep), jagged(objects)[ak.unflatten(keep, objects.counts)])


@PROPERTY
@given(objects=collections())
def test_sorted_by(objects: Objects) -> None:
    """Sorting by decreasing key within events equals awkward's descending argsort."""
    lists = jagged(objects)
    assert_same(objects.sorted_by(objects["x"]), lists[ak.argsort(lists.x, ascending=False)])


def test_sorted_by_unsigned_key() -> None:
    """Unsigned integer keys sort by value, not by their wrapped-around negatives."""
    objects = Objects.from_counts(np.array([2]), {"key": np.array([0, 5], dtype=np.uint32)})
    assert objects.sorted_by(objects["key"])["key"].tolist() == [5, 0]


@PROPERTY
@given(objects=collections(), count=st.integers(0, 4))
def test_leading(objects: Objects, count: int) -> None:
    """The leading values table equals awkward's clipped padding filled with NaN."""
    padded = ak.pad_none(jagged(objects).x, count, clip=True)
    expected = ak.to_numpy(ak.fill_none(padded, np.nan))
    table = objects.leading("x", count)
    assert table.shape == (objects.events, count)
    np.testing.assert_array_equal(table, expected)


@PROPERTY
@given(objects=collections(), count=st.integers(0, 4))
def test_first(objects: Objects, count: int) -> None:
    """Each event's first objects equal awkward's slice [:, :count]."""
    assert_same(objects.first(count), jagged(objects)[:, :count])


@PROPERTY
@given(objects=collections(), data=st.data())
def test_sum_and_count(objects: Objects, data: st.DataObject) -> None:
    """Per-event sums and masked counts equal awkward's reductions."""
    lists = jagged(objects)
    mask = booleans(data, objects.size)
    np.testing.assert_allclose(objects.sum(objects["x"]), ak.to_numpy(ak.sum(lists.x, axis=1)))
    expected = ak.to_numpy(ak.sum(ak.unflatten(mask, objects.counts), axis=1))
    np.testing.assert_array_equal(objects.count(mask), expected)


@PROPERTY
@given(objects=collections())
def test_pairs(objects: Objects) -> None:
    """Pairs within events equal awkward's combinations, in the same order."""
    combinations = ak.argcombinations(jagged(objects), 2)
    starts = objects.offsets[:-1]
    first, second = objects.pairs()
    np.testing.assert_array_equal(first, ak.to_numpy(ak.flatten(combinations["0"] + starts)))
    np.testing.assert_array_equal(second, ak.to_numpy(ak.flatten(combinations["1"] + starts)))


@PROPERTY
@given(objects=collection_pairs())
def test_pairs_with(objects: tuple[Objects, Objects]) -> None:
    """Pairs across two collections equal awkward's nested cartesian product, flattened."""
    mine, theirs = objects
    product = ak.argcartesian([jagged(mine), jagged(theirs)], nested=True)
    rows_mine, rows_theirs = mine.pairs_with(theirs)
    expected_mine = ak.ravel(product["0"] + mine.offsets[:-1])
    expected_theirs = ak.ravel(product["1"] + theirs.offsets[:-1])
    np.testing.assert_array_equal(rows_mine, ak.to_numpy(expected_mine))
    np.testing.assert_array_equal(rows_theirs, ak.to_numpy(expected_theirs))


@PROPERTY
@given(objects=collection_pairs())
def test_concatenate(objects: tuple[Objects, Objects]) -> None:
    """Concatenating two collections equals awkward's concatenation along the object axis."""
    first, second = objects
    expected = ak.concatenate([jagged(first), jagged(second)], axis=1)
    assert_same(concatenate([first, second]), expected)


def test_concatenate_keeps_shared_columns() -> None:
    """Columns that not every part has are dropped."""
    first = Objects.from_counts(np.array([1, 0]), {"pt": np.array([5.0]), "q": np.array([1])})
    second = Objects.from_counts(np.array([1, 1]), {"pt": np.array([7.0, 3.0])})
    merged = concatenate([first, second])
    assert list(merged.columns) == ["pt"]
    assert merged.offsets.tolist() == [0, 2, 3]
    assert merged["pt"].tolist() == [5.0, 7.0, 3.0]


def test_empty_and_with_columns() -> None:
    """An empty collection has no objects in any event; with_columns adds to the same rows."""
    empty = Objects.empty(3, ["pt"])
    assert empty.counts.tolist() == [0, 0, 0] and empty.size == 0
    assert "pt" in empty and "eta" not in empty and len(empty["pt"]) == 0
    wider = empty.with_columns(eta=np.zeros(0))
    assert set(wider.columns) == {"pt", "eta"} and wider.offsets is empty.offsets


# --- chunk ranges ----------------------------------------------------------------------------


@st.composite
def chunk_inputs(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    """Cluster boundaries of a tree, a [start, stop) range inside it and a target size."""
    entries = draw(st.integers(0, 400))
    inner = draw(st.sets(st.integers(1, max(entries - 1, 1)), max_size=12))
    boundaries = np.array(sorted({0, entries} | {b for b in inner if b < entries}), dtype=np.int64)
    start = draw(st.integers(0, entries))
    stop = draw(st.integers(start, entries))
    return boundaries, start, stop, draw(st.integers(1, 40))


def cluster_around(boundaries: np.ndarray, entry: int) -> tuple[int, int]:
    """The cluster [low, high) that holds an entry."""
    position = int(np.searchsorted(boundaries, entry, side="right"))
    return int(boundaries[position - 1]), int(boundaries[position])


@PROPERTY
@given(inputs=chunk_inputs())
def test_chunk_ranges_cover(inputs: tuple[np.ndarray, int, int, int]) -> None:
    """The ranges cover [start, stop) exactly, in order, without gaps or empty ranges."""
    boundaries, start, stop, target = inputs
    ranges = chunk_ranges(boundaries, start, stop, target)
    points = [start, *(high for _, high in ranges)]
    assert [low for low, _ in ranges] == points[:-1]
    assert points[-1] == stop
    assert all(low < high for low, high in ranges)


@PROPERTY
@given(inputs=chunk_inputs())
def test_chunk_ranges_sizes(inputs: tuple[np.ndarray, int, int, int]) -> None:
    """Every range but the last has at least `target` entries; none has over the maximum."""
    boundaries, start, stop, target = inputs
    sizes = [high - low for low, high in chunk_ranges(boundaries, start, stop, target)]
    assert all(size >= target for size in sizes[:-1])
    assert all(size <= MAX_CHUNK_FACTOR * target for size in sizes)


@PROPERTY
@given(inputs=chunk_inputs())
def test_chunk_ranges_cut_on_boundaries(inputs: tuple[np.ndarray, int, int, int]) -> None:
    """A cut off a cluster boundary splits a span longer than MAX_CHUNK_FACTOR x target."""
    boundaries, start, stop, target = inputs
    ranges = chunk_ranges(boundaries, start, stop, target)
    for (low, cut), _ in pairwise(ranges):
        if cut in boundaries:
            continue
        _, high = cluster_around(boundaries, cut)
        assert cut - low == target
        assert min(high, stop) - low > MAX_CHUNK_FACTOR * target


@pytest.mark.parametrize(
    ("boundaries", "start", "stop", "target", "expected"),
    [
        ([0, 100, 200, 300], 50, 250, 50, [(50, 100), (100, 200), (200, 250)]),
        ([0, 100, 200, 300], 50, 250, 60, [(50, 200), (200, 250)]),
        ([0, 100, 200, 300], 120, 180, 10, [(120, 130), (130, 140), (140, 180)]),
        ([0, 10, 20, 30, 40], 0, 40, 15, [(0, 20), (20, 40)]),
        ([0, 100], 0, 100, 20, [(0, 20), (20, 100)]),
        ([0, 100], 0, 100, 15, [(0, 15), (15, 30), (30, 45), (45, 100)]),
        ([0, 100], 30, 30, 10, []),
        ([0, 95, 100], 0, 100, 20, [(0, 20), (20, 95), (95, 100)]),
    ],
)
def test_chunk_ranges_examples(
    boundaries: list[int], start: int, stop: int, target: int, expected: list[tuple[int, int]]
) -> None:
    """Ranges for start and stop inside clusters, small clusters merged and long ones cut."""
    assert chunk_ranges(np.array(boundaries), start, stop, target) == expected
