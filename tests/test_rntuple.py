"""PHYSLITE stored as an RNTuple reads exactly like the same events stored as a TTree."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

from converters import Selection, columns_table, convert_events
from converters.read import EventSource
from sample_events import make
from sample_events.physlite_writer import RNTUPLE_NAME, write_physlite, write_physlite_rntuple
from sample_events.simulation import DEFAULT_EVENTS, DEFAULT_SEED, simulate

TWIN = make.DATA_DIR / make.RNTUPLE_NAME
TREE = make.DATA_DIR / make.ROOT_NAME


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    """The same 1200 toy events as a TTree and an RNTuple, both in clusters of 250 entries."""
    folder = tmp_path_factory.mktemp("twins")
    _, events = simulate(1200, seed=5)
    tree = write_physlite(folder / "tree.root", events, cluster_entries=250)
    ntuple = write_physlite_rntuple(folder / "ntuple.root", events, cluster_entries=250)
    return tree, ntuple


def assert_same_columns(first, second) -> None:
    """Two column tables equal field by field (NaN equal to NaN), with the same types."""
    assert first.schema == second.schema
    for name in first.column_names:
        a = first[name].to_numpy(zero_copy_only=False)
        b = second[name].to_numpy(zero_copy_only=False)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def test_the_bundled_twin_is_an_rntuple_with_atlas_field_names():
    with uproot.open(TWIN) as file:
        assert file.classnames() == {f"{RNTUPLE_NAME};1": "ROOT::RNTuple"}
        ntuple = file[RNTUPLE_NAME]
        assert ntuple.num_entries == DEFAULT_EVENTS
        names = set(ntuple.keys())
        for name in (
            "EventInfoAuxDyn:eventNumber",
            "EventInfoAuxDyn:runNumber",
            "AnalysisMuonsAuxDyn:pt",
            "AnalysisMuonsAuxDyn:inDetTrackParticleLink",
            "AnalysisElectronsAuxDyn:trackParticleLinks",
            "InDetTrackParticlesAuxDyn:qOverP",
        ):
            assert name in names
        assert not any("." in name.split(":")[0] for name in names if ":" in name)
        links = ntuple["AnalysisMuonsAuxDyn:inDetTrackParticleLink"].array()
        assert links.fields == ["m_persKey", "m_persIndex"]
        assert str(ak.type(links.m_persIndex)).endswith("var * uint32")
        # Electrons keep a list of links per object, as real files do.
        assert ntuple["AnalysisElectronsAuxDyn:trackParticleLinks"].array().ndim == 3
        _, events = simulate(DEFAULT_EVENTS, DEFAULT_SEED)
        numbers = ntuple["EventInfoAuxDyn:eventNumber"].array(library="np")
        assert np.array_equal(numbers, events.event_number)


def test_convert_gives_the_same_events_from_both_layouts():
    from_tree = convert_events(TREE, slice(0, 400))
    from_ntuple = convert_events(TWIN, slice(0, 400))
    assert list(from_tree) == list(from_ntuple)
    for key, event in from_tree.items():
        other = from_ntuple[key]
        assert set(event) == set(other)
        for type_name, collections in event.items():
            if isinstance(collections, dict):
                assert set(collections) == set(other[type_name]), (key, type_name)
                for name, objects in collections.items():
                    assert objects == other[type_name][name], (key, type_name, name)
            else:
                assert collections == other[type_name]
    # The links really are resolved, not empty on both sides.
    linked = [m["LinkedTracks"] for e in from_ntuple.values() for m in e["Muons"]["AnalysisMuons"]]
    assert sum(len(tracks) for tracks in linked) > 100
    electrons = [e for ev in from_ntuple.values() for e in ev["Electrons"]["AnalysisElectrons"]]
    assert all(e["LinkedClusters"] for e in electrons)


def test_columns_are_the_same_from_both_layouts():
    assert_same_columns(columns_table(TREE), columns_table(TWIN))


def test_clustered_twins_agree_and_are_read_cluster_by_cluster(clustered):
    tree, ntuple = clustered
    assert_same_columns(columns_table(tree), columns_table(ntuple))
    selection = Selection(ranges=((510, 530),))
    assert convert_events(tree, selection) == convert_events(ntuple, selection)
    for path in clustered:
        source = EventSource(str(path))
        assert source.cluster_boundaries().tolist() == [0, 250, 500, 750, 1000, 1200]
    assert EventSource(str(ntuple)).store.layout == "RNTuple"


def test_event_numbers_select_the_same_events(clustered):
    tree, ntuple = clustered
    numbers = EventSource(str(tree)).event_numbers()[[3, 777, 1199]]
    wanted = Selection(event_numbers=frozenset(int(n) for n in numbers))
    events = convert_events(ntuple, wanted)
    assert sorted(e["event number"] for e in events.values()) == sorted(numbers.tolist())
    assert events == convert_events(tree, wanted)


def test_static_event_info_record_and_older_split_tree_branches(tmp_path):
    """`EventInfoAux:` as one record field (RNTuple) and `EventInfoAux.eventNumber` (TTree)."""
    numbers = np.array([11, 12, 13], dtype=np.uint64)
    runs = np.array([7, 7, 7], dtype=np.uint32)
    pt = ak.Array([[30_000.0], [], [45_000.0, 25_000.0]])
    eta = ak.Array([[0.5], [], [-1.0, 2.0]])
    ntuple_path = tmp_path / "static.root"
    with uproot.recreate(ntuple_path) as out:
        out.mkrntuple(
            "EventData",
            {
                "EventInfoAux:": ak.zip({"runNumber": runs, "eventNumber": numbers}),
                "AnalysisJetsAuxDyn:pt": pt,
                "AnalysisJetsAuxDyn:eta": eta,
                "AnalysisJetsAuxDyn:phi": eta,
                "AnalysisJetsAuxDyn:m": eta * 0,
            },
        )
    tree_path = tmp_path / "split.root"
    with uproot.recreate(tree_path) as out:
        out.mktree(
            "CollectionTree",
            {
                "EventInfoAux.runNumber": runs,
                "EventInfoAux.eventNumber": numbers,
                "AnalysisJetsAuxDyn.pt": pt,
                "AnalysisJetsAuxDyn.eta": eta,
                "AnalysisJetsAuxDyn.phi": eta,
                "AnalysisJetsAuxDyn.m": eta * 0,
            },
            counter_name=lambda name: "n" + name.replace(".", "_"),
        )
    for path in (ntuple_path, tree_path):
        events = convert_events(path)
        assert list(events) == ["7-11", "7-12", "7-13"]
        assert [len(e["Jets"]["AnalysisJets"]) for e in events.values()] == [1, 0, 2]
        table = columns_table(path)
        assert table["event"].to_pylist() == [11, 12, 13]
        assert table["n_jets"].to_pylist() == [1, 0, 2]
    assert json.dumps(convert_events(ntuple_path)) == json.dumps(convert_events(tree_path))


def test_an_rntuple_that_is_not_physlite_is_named_as_such(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as out:
        out.mkrntuple("EventData", {"x": np.arange(4)})
    from converters import InputFileError

    with pytest.raises(InputFileError) as caught:
        convert_events(path)
    message = str(caught.value)
    assert "RNTuple 'EventData' has no EventInfoAuxDyn:eventNumber" in message
    assert "\n" not in message
