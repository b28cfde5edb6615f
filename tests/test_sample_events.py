"""The bundled toy sample: determinism, the PHYSLITE schema, physics content and links."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from sample_events import make, physics
from sample_events.flavour_tagging import WORKING_POINTS, discriminant
from sample_events.ntuple_writer import write_education_events, write_education_ntuple
from sample_events.physlite_writer import COLLECTIONS, TREE_NAME, write_physlite
from sample_events.processes import PROCESSES
from sample_events.simulation import DEFAULT_EVENTS, DEFAULT_SEED, simulate
from sample_events.truth import process_counts

GEV = 1000.0
PHYSICS_EVENTS = 1500
CHANNEL = {p.name: p.channel for p in PROCESSES}
MAX_COMMITTED_BYTES = 3_000_000
LINK_MEMBERS = (".m_persKey", ".m_persIndex")


def read_tree(path: Path) -> ak.Array:
    """Every branch of the PHYSLITE tree of `path`."""
    with uproot.open(path) as file:
        return file[TREE_NAME].arrays()


@pytest.fixture(scope="module")
def physics_file(tmp_path_factory) -> Path:
    """A toy PHYSLITE file large enough for the physics checks."""
    _, events = simulate(PHYSICS_EVENTS, seed=11)
    return write_physlite(tmp_path_factory.mktemp("toy") / "toy.root", events)


@pytest.fixture(scope="module")
def tree(physics_file) -> ak.Array:
    """The branches of `physics_file`."""
    return read_tree(physics_file)


def p4(tree: ak.Array, collection: str, mass: float | None = None) -> ak.Array:
    """Four-vectors of a collection of the tree (MeV)."""
    pt = tree[f"{collection}.pt"]
    m = tree[f"{collection}.m"] if mass is None else ak.full_like(pt, mass)
    fields = {"pt": pt, "eta": tree[f"{collection}.eta"], "phi": tree[f"{collection}.phi"]}
    return vector.zip({**fields, "mass": m})


def dilepton_mass(leptons: ak.Array) -> np.ndarray:
    """Mass (GeV) of the two leading leptons in events that have at least two."""
    two = leptons[ak.num(leptons) >= 2]
    return ak.to_numpy((two[:, 0] + two[:, 1]).mass) / GEV


def half_iqr(values: np.ndarray) -> float:
    """Half the interquartile range: Gamma/2 for a Breit-Wigner."""
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return (q3 - q1) / 2.0


def missing_et(tree: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Missing px, py (MeV) from the objects of the file and its track soft term."""
    mpx = ak.to_numpy(tree["MET_Core_AnalysisMETAuxDyn.mpx"][:, 1]).astype(np.float64)
    mpy = ak.to_numpy(tree["MET_Core_AnalysisMETAuxDyn.mpy"][:, 1]).astype(np.float64)
    for name in ("Electrons", "Muons", "Photons", "Jets"):
        pt, phi = tree[f"Analysis{name}AuxDyn.pt"], tree[f"Analysis{name}AuxDyn.phi"]
        mpx -= ak.to_numpy(ak.sum(pt * np.cos(phi), axis=1))
        mpy -= ak.to_numpy(ak.sum(pt * np.sin(phi), axis=1))
    return mpx, mpy


def linked(tree: ak.Array, collection: str, link: str, target: str, field: str) -> ak.Array:
    """`field` of the `target` object each object of `collection` links to (valid links only)."""
    index = tree[f"{collection}.{link}.m_persIndex"]
    key = tree[f"{collection}.{link}.m_persKey"]
    valid = key != 0
    return tree[f"{target}.{field}"][ak.values_astype(index[valid], np.int64)], valid


def delta_phi(a, b):
    """Azimuthal difference folded into [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


# --- determinism and layout -------------------------------------------------------------


def test_same_seed_gives_identical_arrays_and_other_seeds_differ(tmp_path):
    first = write_physlite(tmp_path / "a.root", simulate(300, seed=5)[1])
    second = write_physlite(tmp_path / "b.root", simulate(300, seed=5)[1])
    other = write_physlite(tmp_path / "c.root", simulate(300, seed=6)[1])
    a, b, c = read_tree(first), read_tree(second), read_tree(other)
    assert a.fields == b.fields
    for name in a.fields:
        assert ak.array_equal(a[name], b[name]), name
    assert not ak.array_equal(a["AnalysisJetsAuxDyn.pt"], c["AnalysisJetsAuxDyn.pt"])


def test_every_written_branch_exists_in_the_real_file(physics_file, physlite_example):
    with uproot.open(physlite_example) as real_file:
        real = {key.split("/")[-1] for key in real_file[TREE_NAME].keys(recursive=True)}
    with uproot.open(physics_file) as toy_file:
        toy = toy_file[TREE_NAME]
        names = toy.keys()
        data = [name for name in names if "." in name]
        counters = [name for name in names if "." not in name]
        # Lists of links (vector<vector<ElementLink>>) are written as one link per object,
        # split like the real single links: the real file names the link, not its members.
        missing = [
            name
            for name in data
            if name not in real
            and not (name.endswith(LINK_MEMBERS) and name.rsplit(".", 1)[0] in real)
        ]
        assert missing == []
        # The only extra branches are the counters uproot writes for jagged branches.
        for name in counters:
            assert name.startswith("n") and toy[name].typename == "int32_t", name
    for spec in COLLECTIONS:
        assert f"{spec.branch}.{spec.values[0]}" in data


def test_links_read_back_as_jagged_uint32(tree, physics_file):
    with uproot.open(physics_file) as file:
        arrays = file[TREE_NAME].arrays(["AnalysisElectronsAuxDyn.trackParticleLinks.m_persIndex"])
    index = arrays["AnalysisElectronsAuxDyn.trackParticleLinks.m_persIndex"]
    assert ak.array_equal(ak.num(index), ak.num(tree["AnalysisElectronsAuxDyn.pt"]))
    assert str(ak.type(index).content.content) == "uint32"
    keys = ak.flatten(tree["AnalysisElectronsAuxDyn.trackParticleLinks.m_persKey"])
    assert len(keys) > 0 and np.all(ak.to_numpy(keys) != 0)


def test_event_info(tree):
    n = len(tree)
    assert np.all(tree["EventInfoAuxDyn.runNumber"] == 284500)
    assert len(np.unique(ak.to_numpy(tree["EventInfoAuxDyn.eventNumber"]))) == n
    channel = ak.to_numpy(tree["EventInfoAuxDyn.mcChannelNumber"])
    counts = {c: int(np.sum(channel == c)) for c in CHANNEL.values()}
    assert list(counts.values()) == process_counts(n).tolist()
    # Shuffled: the process changes between most consecutive events.
    assert np.mean(channel[1:] != channel[:-1]) > 0.6
    weights = tree["EventInfoAuxDyn.mcEventWeights"]
    assert np.all(ak.num(weights) >= 1) and np.all(weights[:, 0] == 1.0)
    assert np.all(tree["EventInfoAuxDyn.lumiBlock"] >= 1)


def test_process_counts_follow_the_fractions():
    counts = process_counts(DEFAULT_EVENTS)
    assert counts.sum() == DEFAULT_EVENTS
    expected = [p.fraction * DEFAULT_EVENTS for p in PROCESSES]
    assert np.allclose(counts, expected, atol=1)
    assert process_counts(7).sum() == 7


def test_met_core_has_the_two_soft_terms_in_order(tree):
    source = tree["MET_Core_AnalysisMETAuxDyn.source"]
    assert np.all(ak.num(source) == 2)
    assert np.all(source[:, 0] == 69664) and np.all(source[:, 1] == 81952)
    track_term = np.hypot(
        tree["MET_Core_AnalysisMETAuxDyn.mpx"][:, 1], tree["MET_Core_AnalysisMETAuxDyn.mpy"][:, 1]
    )
    assert 1 * GEV < np.median(track_term) < 12 * GEV
    assert np.all(tree["MET_Core_AnalysisMETAuxDyn.sumet"] > 0)


def test_vertices_and_impact_parameters(tree):
    vertex_type = tree["PrimaryVerticesAuxDyn.vertexType"]
    assert np.all(vertex_type[:, 0] == 1)
    assert np.all(ak.flatten(vertex_type[:, 1:]) == 3)
    pv_z = ak.to_numpy(tree["PrimaryVerticesAuxDyn.z"][:, 0])
    assert 28.0 < np.std(pv_z) < 42.0
    assert np.std(ak.to_numpy(tree["PrimaryVerticesAuxDyn.x"][:, 0])) < 0.05
    muon_z0, _ = linked(
        tree, "AnalysisMuonsAuxDyn", "inDetTrackParticleLink", "InDetTrackParticlesAuxDyn", "z0"
    )
    assert np.all(np.abs(ak.flatten(muon_z0 - pv_z)) < 1.0)
    assert np.median(np.abs(ak.flatten(tree["GSFTrackParticlesAuxDyn.d0"]))) < 0.05


# --- physics ------------------------------------------------------------------------------


def test_breit_wigner_sampler_has_the_z_mass_and_width():
    constants = (physics.Z_MASS, physics.Z_WIDTH, physics.W_MASS, physics.W_WIDTH, physics.H_MASS)
    assert constants == pytest.approx((91187.6, 2495.2, 80379.0, 2085.0, 125000.0), rel=1e-12)
    rng = np.random.default_rng(1)
    mass = physics.breit_wigner_mass(rng, 400_000, 91187.6, 2495.2, 40 * GEV, 140 * GEV)
    assert np.median(mass) == pytest.approx(91187.6, abs=0.03 * GEV)
    # Half the interquartile range of a Breit-Wigner is half its width.
    assert half_iqr(mass) == pytest.approx(2495.2 / 2, rel=0.05)


def test_two_body_decay_conserves_four_momentum():
    rng = np.random.default_rng(2)
    parent = physics.resonance(rng, np.full(1000, physics.W_MASS), 20 * GEV, 2.0, 0.8)
    first, second = physics.two_body_decay(
        rng, parent, physics.MUON_MASS, 0.0, physics.vector_boson_cos_theta(rng, 1000)
    )
    total = first + second
    for component in ("px", "py", "pz", "E"):
        assert np.allclose(getattr(total, component), getattr(parent, component), atol=1e-3)
    assert np.allclose(first.mass, physics.MUON_MASS, rtol=1e-3)


def test_zz_star_masses_respect_the_higgs_mass():
    m1, m2 = physics.zz_star_masses(np.random.default_rng(3), 20_000)
    assert np.all(m1 + m2 < physics.H_MASS)
    assert np.median(np.maximum(m1, m2)) == pytest.approx(89 * GEV, abs=2 * GEV)
    assert 15 * GEV < np.median(np.minimum(m1, m2)) < 35 * GEV


@pytest.mark.parametrize(
    ("process", "collection", "mass"),
    [
        ("Zee", "AnalysisElectronsAuxDyn", None),
        ("Zmumu", "AnalysisMuonsAuxDyn", physics.MUON_MASS),
    ],
)
def test_z_peak(tree, process, collection, mass):
    events = tree[tree["EventInfoAuxDyn.mcChannelNumber"] == CHANNEL[process]]
    leptons = p4(events, collection, mass)
    charge = events[f"{collection}.charge"]
    opposite = ak.num(leptons) == 2
    opposite = opposite & (ak.sum(charge, axis=1) == 0)
    m = dilepton_mass(leptons[opposite])
    assert len(m) > 0.5 * len(events)
    assert np.median(m) == pytest.approx(91.19, abs=0.6)
    # Gamma/2 = 1.25 GeV widened by the lepton resolution.
    assert 1.1 < half_iqr(m) < 2.5


def test_higgs_to_four_leptons_mass(tree):
    events = tree[tree["EventInfoAuxDyn.mcChannelNumber"] == CHANNEL["H4l"]]
    electrons = p4(events, "AnalysisElectronsAuxDyn")
    muons = p4(events, "AnalysisMuonsAuxDyn", physics.MUON_MASS)
    leptons = ak.concatenate([electrons, muons], axis=1)
    four = leptons[ak.num(leptons) == 4]
    m4l = ak.to_numpy((four[:, 0] + four[:, 1] + four[:, 2] + four[:, 3]).mass) / GEV
    assert len(m4l) > 0.3 * len(events)
    assert np.median(m4l) == pytest.approx(125.0, abs=1.0)
    assert half_iqr(m4l) < 2.5


def test_higgs_to_photons_mass(tree):
    events = tree[tree["EventInfoAuxDyn.mcChannelNumber"] == CHANNEL["Hyy"]]
    photons = p4(events, "AnalysisPhotonsAuxDyn")
    myy = dilepton_mass(photons)
    assert len(myy) > 0.6 * len(events)
    assert np.median(myy) == pytest.approx(125.0, abs=1.0)
    assert np.all(ak.flatten(events["AnalysisPhotonsAuxDyn.pt"]) > 20 * GEV)


def test_w_transverse_mass_has_its_edge_near_the_w_mass(tree):
    mpx, mpy = missing_et(tree)
    is_w = ak.to_numpy(tree["EventInfoAuxDyn.mcChannelNumber"] == CHANNEL["Wlnu"])
    leptons = ak.concatenate(
        [p4(tree, "AnalysisElectronsAuxDyn"), p4(tree, "AnalysisMuonsAuxDyn", physics.MUON_MASS)],
        axis=1,
    )
    one = is_w & ak.to_numpy(ak.num(leptons) == 1)
    lepton = leptons[one][:, 0]
    met, met_phi = np.hypot(mpx[one], mpy[one]), np.arctan2(mpy[one], mpx[one])
    mt = np.sqrt(2 * ak.to_numpy(lepton.pt) * met * (1 - np.cos(lepton.phi - met_phi))) / GEV
    assert len(mt) > 0.5 * is_w.sum()
    # The Jacobian edge: most events sit just below m_W, few above it.
    assert 72.0 < np.quantile(mt, 0.9) < 86.0
    assert np.mean(mt > 100.0) < 0.03
    assert 55.0 < np.median(mt) < 75.0


def test_missing_et_is_what_the_neutrinos_carry():
    truth, events = simulate(PHYSICS_EVENTS, seed=12)
    mpx, mpy = events.missing_et()
    true_x, true_y = truth.neutrino_sum()
    mismatch = np.hypot(mpx - true_x, mpy - true_y) / GEV
    neutrinos = np.hypot(true_x, true_y) / GEV
    is_w = events.channel == CHANNEL["Wlnu"]
    is_z = np.isin(events.channel, (CHANNEL["Zee"], CHANNEL["Zmumu"]))
    assert np.median(neutrinos[is_w]) > 25.0 and np.all(neutrinos[is_z] == 0.0)
    assert np.median(mismatch[is_w]) < 5.0
    assert np.median(mismatch[is_z]) < 5.0
    assert np.median(mismatch[events.channel == CHANNEL["ttbar"]]) < 15.0
    assert np.corrcoef(np.hypot(mpx, mpy)[is_w], neutrinos[is_w])[0, 1] > 0.8


def test_ttbar_has_b_tagged_jets_and_missing_energy(tree):
    events = tree[tree["EventInfoAuxDyn.mcChannelNumber"] == CHANNEL["ttbar"]]
    assert np.mean(ak.num(events["AnalysisJetsAuxDyn.pt"]) >= 2) > 0.9
    label = ak.flatten(events["AnalysisJetsAuxDyn.HadronConeExclTruthLabelID"])
    central = np.abs(ak.flatten(events["AnalysisJetsAuxDyn.eta"])) < 2.5
    d = discriminant(
        *(ak.flatten(events[f"BTagging_AntiKt4EMPFlowAuxDyn.DL1dv01_p{f}"]) for f in "bcu")
    )
    tagged = ak.to_numpy(d > WORKING_POINTS[77])
    assert 0.68 < np.mean(tagged[central & (label == 5)]) < 0.86
    assert np.mean(tagged[central & (label == 0)]) < 0.03


# --- tracks, clusters and links -----------------------------------------------------------


def test_muon_tracks_are_consistent_helices(tree):
    muons = "AnalysisMuonsAuxDyn"
    q_over_p, valid = linked(
        tree, muons, "combinedTrackParticleLink", "CombinedMuonTrackParticlesAuxDyn", "qOverP"
    )
    theta, _ = linked(
        tree, muons, "combinedTrackParticleLink", "CombinedMuonTrackParticlesAuxDyn", "theta"
    )
    phi, _ = linked(
        tree, muons, "combinedTrackParticleLink", "CombinedMuonTrackParticlesAuxDyn", "phi"
    )
    pt = tree[f"{muons}.pt"][valid]
    assert len(ak.flatten(pt)) > 100
    assert np.allclose(ak.flatten(np.sin(theta) / np.abs(q_over_p)), ak.flatten(pt), rtol=1e-4)
    assert np.all(ak.flatten(np.sign(q_over_p) == tree[f"{muons}.charge"][valid]))
    eta_from_theta = -np.log(np.tan(theta / 2))
    assert np.allclose(
        ak.flatten(eta_from_theta), ak.flatten(tree[f"{muons}.eta"][valid]), atol=1e-4
    )
    assert np.allclose(ak.flatten(delta_phi(phi, tree[f"{muons}.phi"][valid])), 0.0, atol=1e-4)
    # The inner-detector track of the same muon: same direction, pT within its resolution.
    id_phi, id_valid = linked(
        tree, muons, "inDetTrackParticleLink", "InDetTrackParticlesAuxDyn", "phi"
    )
    assert ak.array_equal(id_valid, valid)
    assert np.allclose(ak.flatten(delta_phi(id_phi, tree[f"{muons}.phi"][valid])), 0.0, atol=1e-4)
    standalone = tree[f"{muons}.muonType"][~valid]
    assert np.all(ak.flatten(standalone) == 1)


def test_electron_tracks_and_clusters_point_at_their_electron(tree):
    electrons = "AnalysisElectronsAuxDyn"
    gsf = "GSFTrackParticlesAuxDyn"
    q_over_p, valid = linked(tree, electrons, "trackParticleLinks", gsf, "qOverP")
    theta, _ = linked(tree, electrons, "trackParticleLinks", gsf, "theta")
    phi, _ = linked(tree, electrons, "trackParticleLinks", gsf, "phi")
    assert np.all(ak.flatten(valid))
    pt = ak.to_numpy(ak.flatten(tree[f"{electrons}.pt"]))
    track_pt = ak.to_numpy(ak.flatten(np.sin(theta) / np.abs(q_over_p)))
    relative = np.abs(track_pt / pt - 1)
    assert np.median(relative) < 0.05 and np.quantile(relative, 0.99) < 0.25
    assert np.all(ak.flatten(np.sign(q_over_p) == tree[f"{electrons}.charge"]))
    eta = ak.flatten(-np.log(np.tan(theta / 2)))
    assert np.allclose(eta, ak.flatten(tree[f"{electrons}.eta"]), atol=1e-4)
    assert np.allclose(ak.flatten(delta_phi(phi, tree[f"{electrons}.phi"])), 0.0, atol=1e-4)
    # GSF track -> original inner-detector track: the same direction.
    indet_theta, _ = linked(
        tree, gsf, "originalTrackParticle", "InDetTrackParticlesAuxDyn", "theta"
    )
    assert np.allclose(ak.flatten(indet_theta), ak.flatten(tree[f"{gsf}.theta"]), atol=1e-5)
    # Cluster: same eta within the calorimeter granularity, energy matching the electron.
    cal_eta, _ = linked(tree, electrons, "caloClusterLinks", "egammaClustersAuxDyn", "calEta")
    cal_e, _ = linked(tree, electrons, "caloClusterLinks", "egammaClustersAuxDyn", "calE")
    assert np.all(np.abs(ak.flatten(cal_eta - tree[f"{electrons}.eta"])) < 0.02)
    energy = tree[f"{electrons}.pt"] * np.cosh(tree[f"{electrons}.eta"])
    assert np.allclose(ak.flatten(cal_e), ak.flatten(energy), rtol=1e-4)


def test_photon_clusters_and_jet_btagging_links(tree):
    photons = "AnalysisPhotonsAuxDyn"
    cal_phi, valid = linked(tree, photons, "caloClusterLinks", "egammaClustersAuxDyn", "calPhi")
    assert np.all(ak.flatten(valid))
    assert np.allclose(ak.flatten(delta_phi(cal_phi, tree[f"{photons}.phi"])), 0.0, atol=1e-5)
    n_electrons = ak.num(tree["AnalysisElectronsAuxDyn.pt"])
    first = tree[f"{photons}.caloClusterLinks.m_persIndex"][ak.num(tree[f"{photons}.pt"]) > 0][:, 0]
    assert np.all(first == n_electrons[ak.num(tree[f"{photons}.pt"]) > 0])
    index = tree["AnalysisJetsAuxDyn.btaggingLink.m_persIndex"]
    assert ak.array_equal(index, ak.local_index(tree["AnalysisJetsAuxDyn.pt"]), dtype_exact=False)
    assert ak.array_equal(ak.num(tree["BTagging_AntiKt4EMPFlowAuxDyn.DL1dv01_pb"]), ak.num(index))
    total = sum(tree[f"BTagging_AntiKt4EMPFlowAuxDyn.DL1dv01_p{f}"] for f in "bcu")
    assert np.allclose(ak.flatten(total), 1.0, atol=1e-5)


def test_objects_pass_acceptance_and_thresholds(tree):
    cuts = {
        "AnalysisElectronsAuxDyn": (2.47, 7 * GEV),
        "AnalysisMuonsAuxDyn": (2.7, 7 * GEV),
        "AnalysisPhotonsAuxDyn": (2.47, 20 * GEV),
        "AnalysisJetsAuxDyn": (4.5, 20 * GEV),
    }
    for collection, (max_eta, min_pt) in cuts.items():
        pt = ak.flatten(tree[f"{collection}.pt"])
        assert np.all(pt > min_pt), collection
        assert np.all(np.abs(ak.flatten(tree[f"{collection}.eta"])) < max_eta), collection
        # Sorted by decreasing pT inside every event.
        assert ak.all(tree[f"{collection}.pt"][:, 1:] <= tree[f"{collection}.pt"][:, :-1])


# --- education ntuple and the recipe ------------------------------------------------------


def test_education_ntuple_matches_the_physlite_content(tmp_path):
    _, events = simulate(300, seed=21)
    path = write_education_events(tmp_path / "edu.root", events)
    with uproot.open(path) as file:
        ntuple = file["analysis"].arrays()
    expected = {
        "lep_n", "lep_pt", "lep_eta", "lep_phi", "lep_e", "lep_charge", "lep_type",
        "jet_n", "jet_pt", "jet_eta", "jet_phi", "jet_e", "jet_btag_quantile",
        "photon_n", "photon_pt", "photon_eta", "photon_phi", "photon_e",
        "met", "met_phi", "runNumber", "eventNumber", "channelNumber", "mcWeight",
    }  # fmt: skip
    assert expected <= set(ntuple.fields)
    assert np.all(ntuple.lep_n == ak.num(ntuple.lep_pt))
    lepton_pt = ak.concatenate([events.electrons.pt, events.muons.pt], axis=1) / GEV
    assert np.allclose(
        ak.flatten(ak.sort(ntuple.lep_pt, axis=1)),
        ak.flatten(ak.sort(lepton_pt, axis=1)),
        rtol=1e-6,
    )
    assert set(np.unique(ak.flatten(ntuple.lep_type))) <= {11, 13}
    assert set(np.unique(ak.flatten(ntuple.jet_btag_quantile))) <= {1, 2, 3, 4, 5}
    mpx, mpy = events.missing_et()
    assert np.allclose(ntuple.met, np.hypot(mpx, mpy) / GEV, rtol=1e-5)
    assert np.all(ntuple.eventNumber == events.event_number.astype(np.int64))
    assert np.all(ak.flatten(ntuple.lep_e) >= ak.flatten(ntuple.lep_pt))


def test_write_education_ntuple_is_deterministic(tmp_path):
    first = write_education_ntuple(tmp_path / "a.root", 300, 4)
    second = write_education_ntuple(tmp_path / "b.root", 300, 4)
    with uproot.open(first) as a_file, uproot.open(second) as b_file:
        a, b = a_file["analysis"].arrays(), b_file["analysis"].arrays()
    for name in a.fields:
        assert ak.array_equal(a[name], b[name]), name


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken(events):
        raise RuntimeError("cannot build the tree")

    monkeypatch.setattr("sample_events.physlite_writer.physlite_tree", broken)
    with pytest.raises(RuntimeError):
        write_physlite(tmp_path / "toy.root", simulate(300, seed=1)[1])
    assert list(tmp_path.iterdir()) == []


def test_recipe_root_only(tmp_path, capsys):
    assert make.main(["--output-dir", str(tmp_path), "--events", "300", "--root-only"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [make.ROOT_NAME, make.RNTUPLE_NAME]
    assert "300 events" in capsys.readouterr().out


def test_recipe_writes_the_display_json_and_columns(tmp_path):
    written = make.make(tmp_path, n_events=300, seed=3)
    assert {p.name for p in written.values()} == {
        make.ROOT_NAME,
        make.RNTUPLE_NAME,
        make.JSON_NAME,
        make.PARQUET_NAME,
    }
    display = json.loads((tmp_path / make.JSON_NAME).read_text())
    assert 0 < len(display) <= 200
    first = next(iter(display.values()))
    assert first["note"] == make.TOY_LABEL["note"]


def test_committed_sample_is_what_the_recipe_makes():
    path = make.DATA_DIR / make.ROOT_NAME
    assert path.exists(), "run `python -m sample_events.make` to create the bundled sample"
    assert path.stat().st_size <= MAX_COMMITTED_BYTES
    committed = read_tree(path)
    _, events = simulate(DEFAULT_EVENTS, DEFAULT_SEED)
    assert len(committed) == DEFAULT_EVENTS
    assert np.all(committed["EventInfoAuxDyn.eventNumber"] == events.event_number)
    assert np.allclose(
        ak.flatten(committed["AnalysisElectronsAuxDyn.pt"]),
        ak.flatten(events.electrons.pt),
        rtol=1e-6,
    )
