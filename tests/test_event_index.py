"""The ROOT event index of the display: event list up front, events converted on demand."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.display.events import event_summary
from converters import InputFileError, convert_events
from converters.event_index import EventIndex
from converters.summary import summary_lines
from sample_events import make
from sample_events.ntuple_writer import write_education_events
from sample_events.physlite_writer import write_physlite, write_physlite_rntuple
from sample_events.simulation import simulate

TOY = make.DATA_DIR / make.ROOT_NAME
TWIN = make.DATA_DIR / make.RNTUPLE_NAME


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """2400 toy events in clusters of 300 (TTree and RNTuple), and as an education ntuple."""
    folder = tmp_path_factory.mktemp("index")
    _, events = simulate(2400, seed=21)
    return {
        "tree": write_physlite(folder / "tree.root", events, cluster_entries=300),
        "rntuple": write_physlite_rntuple(folder / "ntuple.root", events, cluster_entries=300),
        "education": write_education_events(folder / "education.root", events),
        "one cluster": write_physlite(folder / "single.root", events),
    }


def assert_index_matches_convert(index: EventIndex, path, entries) -> None:
    """Keys, summaries and the chosen events are those of `convert` (and the display's words)."""
    converted = convert_events(path)
    keys = list(converted)
    assert index.keys == keys
    lines = index.summaries()
    assert lines == [event_summary(converted[key]) for key in keys]
    for entry in entries:
        assert index.event(entry) == converted[keys[entry]]
        assert index.summary(entry) == lines[entry]
        assert index.entry(keys[entry]) == entry


def test_summary_lines_follow_the_display_wording():
    assert summary_lines([0, 2, 0, 0], [2, 0, 0, 0], [0, 1, 0, 0], [1, 4, 0, 0]) == [
        "2 mu, 1 jet",
        "2 e, 1 photon, 4 jets",
        "no physics objects",
        "no physics objects",
    ]
    # MET rounds as Python's format does (half to even), and NaN means no MET.
    assert summary_lines([0] * 3, [0] * 3, [0] * 3, [0] * 3, [40.5, 41.5, np.nan]) == [
        "MET 40 GeV",
        "MET 42 GeV",
        "no physics objects",
    ]
    assert summary_lines([0], [0], [0], [0], [np.nan], [5], [3]) == ["5 tracks, 3 clusters"]
    assert summary_lines([1], [0], [0], [0], [np.nan], [5], [3]) == ["1 e"]
    for met in (0.4999, 12.5, 13.5, 99.5001):
        assert summary_lines([0], [0], [0], [0], [met])[0] == f"MET {met:.0f} GeV"


def test_toy_file_and_its_rntuple_twin():
    for path in (TOY, TWIN):
        index = EventIndex(path)
        assert len(index) == 3000
        assert_index_matches_convert(index, path, [0, 1, 1234, 2999])


def test_real_example(physlite_example):
    index = EventIndex(physlite_example)
    assert_index_matches_convert(index, physlite_example, range(100))
    assert "CaloCalTopoClusters" in index.skipped


def test_education_ntuple(files):
    index = EventIndex(files["education"])
    assert_index_matches_convert(index, files["education"], [0, 7, 2399])


@pytest.mark.parametrize("layout", ["tree", "rntuple"])
def test_an_event_reads_only_its_cluster(files, layout):
    path = files[layout]
    index = EventIndex(path)
    size = path.stat().st_size
    assert index.bytes_read < size / 2  # the summaries need only a few collections
    before = index.bytes_read
    index.event(1000)
    # One cluster of eight; uproot 5.7 also reads the next one for an RNTuple range that ends
    # on a cluster boundary (its stop cluster is found with searchsorted(..., side="right")).
    clusters = 1 if layout == "tree" else 2
    assert 0 < index.bytes_read - before < size * (clusters + 0.6) / 8
    before = index.bytes_read
    index.event(1050)  # the same cluster: decoded already
    assert index.bytes_read == before
    assert index.span(1000) == index.span(1050) == (900, 1200)


def test_the_cache_of_decoded_clusters_is_bounded(files):
    index = EventIndex(files["tree"], cached_clusters=2)
    for entry in (0, 400, 700, 1000, 1300):
        index.event(entry)
    assert len(index._cache) == 2
    # The index itself is a few small arrays per event, not the events.
    columns = index.columns
    held = sum(getattr(columns, name).nbytes for name in ("event", "run", "electrons", "met_gev"))
    assert held < 2400 * 40


def test_long_clusters_are_read_in_windows(files):
    index = EventIndex(files["one cluster"], max_cluster_entries=500)
    assert index.span(1700) == (1500, 2000)
    assert index.span(2399) == (2000, 2400)
    converted = convert_events(files["one cluster"], slice(1700, 1701))
    assert index.event(1700) == next(iter(converted.values()))


def test_many_sessions_can_share_one_index(files):
    index = EventIndex(files["rntuple"], cached_clusters=2)
    entries = np.random.default_rng(3).integers(0, len(index), 48)
    expected = {int(entry): EventIndex(files["rntuple"]).event(int(entry)) for entry in entries}
    results, errors = {}, []

    def work(chunk):
        try:
            for entry in chunk:
                results[int(entry)] = index.event(int(entry))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(part,)) for part in np.array_split(entries, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == expected


def test_bad_requests_and_bad_files_are_plain_errors(files, tmp_path):
    index = EventIndex(files["tree"])
    with pytest.raises(InputFileError, match="no entry 2400"):
        index.event(2400)
    with pytest.raises(InputFileError, match="no event"):
        index.entry("1-2")
    number = int(index.columns.event[5])
    assert index.entry(str(number)) == 5
    broken = tmp_path / "cut.root"
    broken.write_bytes(files["tree"].read_bytes()[:100_000])
    with pytest.raises(InputFileError, match="it is truncated"):
        EventIndex(broken)
