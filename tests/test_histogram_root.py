"""NanoAOD and ROOT ntuples in the histogram lab and `eventlab hist`.

No real NanoAOD file is among the reference data, so the NanoAOD-shaped files here are built from
the real CMS 2011 dimuons (Zmumu_Run2011A.csv): an awkward-written parquet file with Arrow
extension types and about 1,600 columns, and a ROOT `Events` tree (nMuon, Muon_pt[nMuon], ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import uproot
from bokeh.document import Document

from app.cli import main
from app.config import AppConfig
from app.histogram.catalog import list_data_files
from app.histogram.data import read_dataset
from app.histogram.errors import DatasetError
from app.histogram.evaluation import Evaluator
from app.histogram.view import HistogramLab
from sample_events.ntuple_writer import write_education_ntuple

MUON_FIELDS = ("pt", "eta", "phi", "Q", "dxy", "iso")
EXTRA_COLUMNS = 1_600
NANO_MASS = (
    "inv_mass(Muon_pt_1, Muon_eta_1, Muon_phi_1, 0.1057, Muon_pt_2, Muon_eta_2, Muon_phi_2, 0.1057)"
)


def cms_muons(csv_path: Path) -> tuple[dict[str, np.ndarray], ak.Array]:
    """The real CMS dimuon events as NanoAOD has them: event columns and a jagged Muon record."""
    table = pa_csv.read_csv(csv_path)
    columns = {name: table.column(name).to_numpy() for name in table.column_names}
    n = table.num_rows
    muon = {}
    for field in MUON_FIELDS:
        pair = np.stack([columns[f"{field}1"], columns[f"{field}2"]], axis=1).ravel()
        muon[field] = ak.unflatten(pair.astype(np.float32), np.full(n, 2))
    events = {"run": columns["Run"].astype(np.int32), "event": columns["Event"].astype(np.int64)}
    return events, ak.zip(muon)


@pytest.fixture(scope="module")
def nano_parquet(cms_zmumu_csv, tmp_path_factory) -> Path:
    """A NanoAOD-like parquet file written through awkward's Arrow extension types."""
    events, muon = cms_muons(cms_zmumu_csv)
    n = len(muon)
    rng = np.random.default_rng(3)
    fields = dict(events)
    fields["nMuon"] = ak.num(muon).to_numpy().astype(np.uint32)
    for name in MUON_FIELDS:
        fields[f"Muon_{name}"] = muon[name]
    for index in range(EXTRA_COLUMNS):
        if index % 2:
            fields[f"Extra_{index}"] = ak.unflatten(rng.normal(size=2 * n).astype(np.float32), 2)
        else:
            fields[f"Extra_{index}"] = rng.normal(size=n)
    fields["Jet"] = ak.zip({"pt": muon.pt * 1.5, "eta": muon.eta})  # a record column
    array = ak.zip(fields, depth_limit=1)
    path = tmp_path_factory.mktemp("nano") / "nano.parquet"
    pq.write_table(ak.to_arrow_table(array, extensionarray=True), path)
    return path


@pytest.fixture(scope="module")
def nano_root(cms_zmumu_csv, tmp_path_factory) -> Path:
    """A NanoAOD-shaped ROOT file: tree Events, nMuon and Muon_pt[nMuon] ... (uproot's naming)."""
    events, muon = cms_muons(cms_zmumu_csv)
    path = tmp_path_factory.mktemp("nanoroot") / "nano.root"
    with uproot.recreate(path) as out:
        out.mktree("Events", {**events, "Muon": muon, "fixed": np.zeros((len(muon), 3))})
    return path


@pytest.fixture(scope="module")
def mini_ntuple(tmp_path_factory) -> Path:
    """A 2020-style education ntuple: tree `mini`, MeV, lep_n and lep_pt[lep_n]."""
    rng = np.random.default_rng(5)
    n = 500
    lep_n = rng.integers(0, 4, n)
    lep = ak.zip(
        {"pt": ak.unflatten(rng.exponential(30_000, lep_n.sum()).astype(np.float32), lep_n)}
    )
    path = tmp_path_factory.mktemp("mini") / "mc_361106.Zee.root"
    with uproot.recreate(path) as out:
        out.mktree(
            "mini",
            {"mcWeight": np.ones(n, np.float32), "lep": lep},
            counter_name=lambda counted: f"{counted}_n",
        )
    return path


def record_reads(dataset) -> list[str]:
    """Make the dataset's tree record each branch it is asked for; return that record."""
    asked: list[str] = []
    tree = dataset.tree

    class Recording:
        def __getitem__(self, name):
            asked.append(name)
            return tree[name]

    dataset.tree = Recording()
    return asked


def test_an_awkward_nanoaod_parquet_file_opens_with_its_jagged_columns(nano_parquet):
    dataset = read_dataset(nano_parquet, nano_parquet.name)
    assert dataset.n_rows == 10_583
    assert len(dataset.table.column_names) > EXTRA_COLUMNS
    assert {"Muon_pt", "Jet_pt", "Extra_1"} <= set(dataset.jagged_columns)
    assert {"Muon_pt_1", "Muon_pt_2", "Muon_pt_n", "Jet_eta_1", "nMuon"} <= set(dataset.names)
    selection = Evaluator(dataset).selection(NANO_MASS, "Muon_Q_1 * Muon_Q_2 < 0")
    peak = selection.values[(selection.values > 80) & (selection.values < 100)]
    assert 90 < np.median(peak) < 92
    assert Evaluator(dataset).selection("Muon_pt").values.size == 2 * 10_583


def test_messages_name_a_handful_of_columns(nano_parquet, capsys):
    assert main(["hist", str(nano_parquet), "--x", "Muon_ptt_1"]) == 2
    error = capsys.readouterr().err
    assert "Muon_pt_1" in error and len(error) < 600
    assert error.count("Extra_") <= 5


def test_eventlab_hist_on_the_nanoaod_parquet_file(nano_parquet, capsys):
    argv = ["hist", str(nano_parquet), "--x", "Muon_pt", "--bins", "10", "--range", "0,100"]
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["statistics"]["entries"] > 2 * 10_000


def test_a_nanoaod_root_tree_reads_only_the_branches_used(nano_root, capsys):
    dataset = read_dataset(nano_root, nano_root.name)
    assert dataset.metadata["tree"] == "Events" and dataset.n_rows == 10_583
    assert {"nMuon", "Muon_pt_1", "Muon_pt_n", "Muon_Q_2"} <= set(dataset.names)
    assert "fixed" in dataset.ignored  # a fixed-size array per event is not a column
    asked = record_reads(dataset)
    selection = Evaluator(dataset).selection(NANO_MASS, "Muon_Q_1 * Muon_Q_2 < 0")
    assert sorted(set(asked)) == ["Muon_Q", "Muon_eta", "Muon_phi", "Muon_pt"]
    peak = selection.values[(selection.values > 80) & (selection.values < 100)]
    assert 90 < np.median(peak) < 92
    argv = ["hist", str(nano_root), "--x", NANO_MASS, "--range", "60,120", "--bins", "60"]
    assert main([*argv, "--cut", "nMuon == 2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["statistics"]["rows"] == 10_583


def test_education_ntuples_of_both_releases(mini_ntuple, tmp_path, capsys):
    mini = read_dataset(mini_ntuple, mini_ntuple.name)
    assert mini.metadata["tree"] == "mini"
    counts = Evaluator(mini).values("lep_pt_n")
    assert counts.sum() == mini.elements("lep_pt")[0].size
    analysis_path = write_education_ntuple(tmp_path / "analysis.root", 300, 4)
    analysis = read_dataset(analysis_path, "analysis.root")
    assert analysis.metadata["tree"] == "analysis"
    assert main(["hist", str(analysis_path), "--x", "lep_pt_1", "--cut", "lep_n >= 1"]) == 0
    assert "selected" in capsys.readouterr().out


def test_physlite_and_broken_root_files_are_refused_in_one_line(physlite_example, tmp_path):
    with pytest.raises(DatasetError, match=r"PHYSLITE file .*eventlab columns"):
        read_dataset(physlite_example, physlite_example.name)
    (tmp_path / "notes.root").write_text("not a root file")
    with pytest.raises(DatasetError, match=r"notes\.root: not a ROOT file"):
        read_dataset(tmp_path / "notes.root", "notes.root")
    with pytest.raises(DatasetError, match="not a ROOT file"):
        read_dataset(b"PAR1....", "upload.root")


def test_the_page_offers_root_ntuples_and_not_physlite(nano_root, physlite_example, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "nano.root").write_bytes(nano_root.read_bytes())
    (folder / "physlite.root").write_bytes(physlite_example.read_bytes())
    assert [item.name for item in list_data_files((folder,))] == ["nano.root"]
    lab = HistogramLab(AppConfig(data_dirs=(folder,)))
    lab.layout.get_root(Document())
    lab.dataset_select.value = "file:nano.root"
    lab.x_input.value = "Muon_pt_1"
    assert not lab.error_alert.visible
    assert lab.plot.layers[0].histogram.counts.sum() > 10_000
    assert lab.variable_select.options["Muon_pt: all elements"] == "Muon_pt"
    assert lab.variable_select.options["Muon_pt_n: number of elements"] == "Muon_pt_n"
    lab.upload.value = {"upload.root": nano_root.read_bytes()}
    assert lab.dataset_select.value == "upload:upload.root"
    lab.x_input.value = "Muon_eta_2"
    assert not lab.error_alert.visible
    assert lab.plot.layers[0].histogram.counts.sum() > 10_000
