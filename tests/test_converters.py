"""Converters end to end on the real PHYSLITE example file, and the Phoenix format they write."""

import json
from pathlib import Path

import awkward as ak
import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot

from converters import (
    InputFileError,
    Selection,
    SelectionError,
    columns_table,
    convert_events,
    write_columns,
    write_display_json,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "converters" / "phoenix_schema.json").read_text())


@pytest.fixture(scope="module")
def real_events(physlite_example):
    """Every event of the real example file as Phoenix dicts."""
    return convert_events(physlite_example)


@pytest.fixture(scope="module")
def real_tree(physlite_example):
    """The example file's CollectionTree, read directly with uproot."""
    return uproot.open(physlite_example)["CollectionTree"]


def test_all_100_events_with_the_files_event_numbers(real_events, real_tree):
    numbers = real_tree["EventInfoAuxDyn.eventNumber"].array(library="np")
    runs = real_tree["EventInfoAuxDyn.runNumber"].array(library="np")
    assert len(real_events) == 100
    assert [e["event number"] for e in real_events.values()] == numbers.tolist()
    assert list(real_events) == [f"{r}-{n}" for r, n in zip(runs, numbers, strict=True)]
    first = next(iter(real_events.values()))
    assert first["mcChannelNumber"] == real_tree["EventInfoAuxDyn.mcChannelNumber"].array()[0]
    assert "lumiBlock" in first


def test_output_follows_the_phoenix_format(real_events, phoenix_example):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert list(validator.iter_errors(real_events)) == []
    # The schema accepts Phoenix's own example file and rejects broken events.
    assert list(validator.iter_errors(json.loads(phoenix_example.read_text()))) == []
    broken = {"e": {"event number": 1, "Tracks": {"T": [{"dparams": [1, 2]}]}}}
    assert list(validator.iter_errors(broken))


def test_every_collection_type_is_written(real_events):
    types = {
        "Tracks": {
            "InDetTrackParticles",
            "GSFTrackParticles",
            "CombinedMuonTrackParticles",
            "ExtrapolatedMuonTrackParticles",
            "MuonSpectrometerTrackParticles",
        },
        "Jets": {"AnalysisJets", "AnalysisLargeRJets", "AnalysisTauJets"},
        "Electrons": {"AnalysisElectrons"},
        "Muons": {"AnalysisMuons"},
        "Photons": {"AnalysisPhotons"},
        "CaloClusters": {"egammaClusters"},
        "Vertices": {"PrimaryVertices"},
        "MissingEnergy": {"MET"},
    }
    event = next(iter(real_events.values()))
    for type_name, names in types.items():
        assert set(event[type_name]) == names


def test_tracks_match_the_files_perigee_parameters(real_events, real_tree):
    d0 = real_tree["InDetTrackParticlesAuxDyn.d0"].array()
    qop = real_tree["InDetTrackParticlesAuxDyn.qOverP"].array()
    theta = real_tree["InDetTrackParticlesAuxDyn.theta"].array()
    tracks = list(real_events.values())[3]["Tracks"]["InDetTrackParticles"]
    assert len(tracks) == len(d0[3])
    for index, track in enumerate(tracks):
        assert track["dparams"][0] == pytest.approx(d0[3][index], abs=1e-3)
        assert track["dparams"][4] == pytest.approx(qop[3][index], rel=1e-4)
        assert track["pT"] == pytest.approx(abs(np.sin(theta[3][index]) / qop[3][index]), abs=1)
        assert track["charge"] == np.sign(qop[3][index])
        radius = np.hypot(*np.array(track["pos"])[:, :2].T)
        assert radius.max() <= 1100.1
        assert len(track["pos"]) >= 2


def test_muons_are_linked_to_their_tracks(real_events, real_tree):
    links = real_tree["AnalysisMuonsAuxDyn.inDetTrackParticleLink.m_persIndex"].array()
    muon_types = real_tree["AnalysisMuonsAuxDyn.muonType"].array()
    checked = 0
    for index, event in enumerate(real_events.values()):
        muons = event["Muons"]["AnalysisMuons"]
        for muon, link, muon_type in zip(muons, links[index], muon_types[index], strict=True):
            inner = f"InDetTrackParticles:{link}"
            if muon_type == 0:  # combined muons keep their inner-detector track
                assert inner in muon["LinkedTracks"]
            for linked in muon["LinkedTracks"]:
                name, position = linked.split(":")
                track = event["Tracks"][name][int(position)]
                if name in ("InDetTrackParticles", "CombinedMuonTrackParticles"):
                    assert track["eta"] == pytest.approx(muon["eta"], abs=0.01)
                    assert track["charge"] == muon["charge"]
                    checked += 1
            assert muon["pdgId"] == -13 * muon["charge"]
    assert checked >= 8


def test_electrons_link_gsf_tracks_and_clusters(real_events):
    linked = 0
    for event in real_events.values():
        for electron in event["Electrons"]["AnalysisElectrons"]:
            for link in electron["LinkedTracks"]:
                name, index = link.split(":")
                assert name == "GSFTrackParticles"
                assert event["Tracks"][name][int(index)]["eta"] == pytest.approx(
                    electron["eta"], abs=0.05
                )
                linked += 1
            for link in electron["LinkedClusters"]:
                name, index = link.split(":")
                cluster = event["CaloClusters"][name][int(index)]
                # The cluster's eta is seen from the detector centre, the electron's from its
                # vertex: they differ by up to ~0.1 for vertices far along z.
                assert cluster["eta"] == pytest.approx(electron["eta"], abs=0.15)
                # The track bends by about 0.45 / pT[GeV] rad before reaching the calorimeter.
                bending = 0.5 / (electron["pT"] / 1000) + 0.05
                assert cluster["phi"] == pytest.approx(electron["phi"], abs=bending)
    assert linked > 10


def test_units_stay_mev_and_mm(real_events, real_tree):
    pt = real_tree["AnalysisJetsAuxDyn.pt"].array()
    jets = next(iter(real_events.values()))["Jets"]["AnalysisJets"]
    assert jets[0]["pT"] == pytest.approx(pt[0][0], abs=1)
    assert jets[0]["coneR"] == 0.4
    assert jets[0]["energy"] >= jets[0]["pT"]
    vertex = next(iter(real_events.values()))["Vertices"]["PrimaryVertices"][0]
    assert vertex["primary"] is True
    assert abs(vertex["z"]) < 300  # mm


def test_missing_energy_is_labelled_approximate(real_events):
    met = list(real_events.values())[1]["MissingEnergy"]["MET"][0]
    assert "approximate" in met["note"]
    assert met["et"] == pytest.approx(np.hypot(met["etx"], met["ety"]), abs=1)


def test_display_json_is_compact_and_can_be_gzipped(physlite_example, tmp_path):
    plain = tmp_path / "events.json"
    packed = tmp_path / "events.json.gz"
    write_display_json(physlite_example, plain, slice(0, 10))
    write_display_json(physlite_example, packed, slice(0, 10))
    text = plain.read_text()
    assert len(json.loads(text)) == 10
    assert len(text) / 10 < 40_000
    assert packed.stat().st_size < plain.stat().st_size / 2
    # No float noise: positions to 0.1 mm.
    event = next(iter(json.loads(text).values()))
    for point in event["Tracks"]["InDetTrackParticles"][0]["pos"]:
        assert all(round(value, 1) == value for value in point)


def test_selection_by_entries_numbers_and_expression(physlite_example):
    assert len(convert_events(physlite_example, slice(10, 15))) == 5
    wanted = Selection(event_numbers=frozenset({7608287, 7608963}))
    events = convert_events(physlite_example, wanted)
    assert sorted(e["event number"] for e in events.values()) == [7608287, 7608963]
    table = columns_table(physlite_example)
    expected = int(np.sum(table["n_jets"].to_numpy() >= 8))
    selected = convert_events(physlite_example, Selection(expression="n_jets >= 8"))
    assert len(selected) == expected
    capped = convert_events(physlite_example, Selection(expression="n_jets >= 2", max_events=3))
    assert len(capped) == 3


def test_selection_errors_are_clear(physlite_example, tmp_path):
    with pytest.raises(SelectionError, match="no event passes"):
        convert_events(physlite_example, Selection(expression="n_jets > 1000"))
    with pytest.raises(SelectionError, match="event numbers"):
        convert_events(physlite_example, Selection(event_numbers=frozenset({1})))
    output = tmp_path / "out.json"
    with pytest.raises(SelectionError):
        write_display_json(physlite_example, output, Selection(expression="n_jets > 1000"))
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_columns_of_the_real_file(physlite_example, tmp_path):
    output = tmp_path / "columns.parquet"
    summary = write_columns(physlite_example, output, metadata={"dataset": "example"})
    table = pq.read_table(output)
    assert summary.events == table.num_rows == 100
    assert table.schema.metadata[b"dataset"] == b"example"
    for name in ("run", "event", "mc_channel", "weight", "n_muons", "lep1_pt", "jet4_e", "met"):
        assert name in table.column_names
    for name in ("m_ll", "m_4l", "m_yy", "mt_w", "photon2_eta", "n_bjets"):
        assert name in table.column_names
    lep1 = table["lep1_pt"].to_numpy()
    lep2 = table["lep2_pt"].to_numpy()
    both = ~np.isnan(lep2)
    assert np.all(lep1[both] >= lep2[both])
    assert np.nanmin(lep1) > 7  # GeV
    assert np.all(table["n_jets"].to_numpy() >= 0)
    csv_output = tmp_path / "columns.csv"
    write_columns(physlite_example, csv_output, slice(0, 7))
    assert len(csv_output.read_text().strip().splitlines()) == 8


def test_leading_objects_are_the_highest_pt_ones(physlite_example, real_tree):
    """jet1..4 and photon1..2 are ordered by pT, not by the order the file stores them in."""
    table = columns_table(physlite_example, metadata=None, max_jets=6)
    pt = real_tree["AnalysisJetsAuxDyn.pt"].array()
    eta = real_tree["AnalysisJetsAuxDyn.eta"].array()
    accepted = pt[(pt > 20_000) & (abs(eta) < 4.5)]
    stored_out_of_order = ak.any(accepted[:, 1:] > accepted[:, :-1], axis=1)
    assert int(ak.sum(stored_out_of_order)) == 29  # of the 100 events of the example
    expected = ak.to_numpy(
        ak.fill_none(ak.pad_none(ak.sort(accepted, ascending=False), 6, clip=True), np.nan)
    )
    listed = np.stack([table[f"jet{i}_pt"].to_numpy() for i in range(1, 7)], axis=1)
    np.testing.assert_allclose(listed, expected / 1000, rtol=1e-6)
    photon_pt = real_tree["AnalysisPhotonsAuxDyn.pt"].array()
    photon_eta = real_tree["AnalysisPhotonsAuxDyn.eta"].array()
    photons = photon_pt[(photon_pt > 10_000) & (abs(photon_eta) < 2.37)]
    leading = ak.to_numpy(ak.fill_none(ak.max(photons, axis=1), np.nan)) / 1000
    np.testing.assert_allclose(table["photon1_pt"].to_numpy(), leading, rtol=1e-6)
    for prefix, count in (("jet", 6), ("photon", 2), ("lep", 4)):
        values = np.stack([table[f"{prefix}{i}_pt"].to_numpy() for i in range(1, count + 1)], 1)
        both = ~np.isnan(values[:, 1:])
        assert np.all(values[:, :-1][both] >= values[:, 1:][both])
    # The b-tag and energy of a listed jet are those of the same jet.
    e = table["jet1_e"].to_numpy()
    assert np.all(e[~np.isnan(e)] >= table["jet1_pt"].to_numpy()[~np.isnan(e)])


def test_bad_inputs_get_clear_messages(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        convert_events(tmp_path / "missing.root")
    text_file = tmp_path / "notes.root"
    text_file.write_text("hello, this is not ROOT\n" * 50)
    with pytest.raises(InputFileError, match="not a ROOT file"):
        convert_events(text_file)
    other = tmp_path / "other.root"
    with uproot.recreate(other) as handle:
        handle["something"] = {"x": np.arange(3)}
    with pytest.raises(InputFileError, match=r"neither PHYSLITE .* the file holds something"):
        convert_events(other)


def test_truncated_file_fails_cleanly_without_output(physlite_example, tmp_path):
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(physlite_example.read_bytes()[:800_000])
    output = tmp_path / "out.json"
    with pytest.raises(InputFileError):
        write_display_json(truncated, output)
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["truncated.root"]


@pytest.fixture(scope="module")
def education_ntuple(tmp_path_factory):
    """A small ATLAS education ntuple (tree `analysis`, GeV) from the toy recipe."""
    from sample_events.ntuple_writer import write_education_ntuple

    return write_education_ntuple(tmp_path_factory.mktemp("ntuple") / "ntuple.root", 400, 11)


def test_education_ntuples_convert_to_display_json(education_ntuple):
    tree = uproot.open(education_ntuple)["analysis"]
    events = convert_events(education_ntuple)
    assert len(events) == tree.num_entries
    lep_type = tree["lep_type"].array()
    lep_pt = tree["lep_pt"].array()
    for index, event in enumerate(list(events.values())[:50]):
        muons = event["Muons"]["AnalysisMuons"]
        assert len(muons) == int(np.sum(lep_type[index] == 13))
        for muon in muons:
            name, position = muon["LinkedTracks"][0].split(":")
            track = event["Tracks"][name][int(position)]
            assert track["pT"] == pytest.approx(muon["pT"], rel=1e-3)
            assert track["charge"] == muon["charge"]
        leptons_mev = sorted(float(pt) * 1000 for pt in lep_pt[index])
        drawn = sorted(
            lepton["pT"]
            for kind in ("Electrons", "Muons")
            for lepton in next(iter(event[kind].values()))
        )
        assert drawn == pytest.approx(leptons_mev, abs=1)
        met = event["MissingEnergy"]["MET"][0]
        assert met["et"] == pytest.approx(float(tree["met"].array()[index]) * 1000, abs=1)


def test_education_ntuples_give_the_same_columns(education_ntuple):
    table = columns_table(education_ntuple)
    assert table.num_rows == 400
    m_ll = table["m_ll"].to_numpy()
    assert np.nanmedian(m_ll[(m_ll > 70) & (m_ll < 110)]) == pytest.approx(91.2, abs=1.5)
    assert "n_bjets" in table.column_names
