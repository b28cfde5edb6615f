"""Dataset folders made on a real Dask LocalCluster in the histogram lab and `eventlab hist`: one
dataset, read lazily, and filled where the parts are on Dask workers."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import PROJECT_ROOT, dask_client, eventlab

from app.histogram.catalog import list_data_files, open_data_file
from app.histogram.data import read_dataset
from app.histogram.errors import DatasetError, ExpressionInputError
from app.histogram.evaluation import Evaluator
from app.histogram.folder_columns import FolderDataset
from app.histogram.part_fills import PartsEvaluator
from app.histogram.plotting import compute_plot
from app.histogram.settings import PlotSettings
from converters.cluster import DaskRunner
from converters.dataset import write_dataset
from converters.parts import ColumnsJob
from converters.pipeline import write_columns

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"
LIMITS = {"max_leptons": 4, "max_jets": 4, "max_photons": 2}
Z_PEAK = ("--x", "m_ll", "--cut", "n_leptons >= 2", "--bins", "30", "--range", "60,120")


@pytest.fixture(scope="module")
def runner():
    """A runner on a local cluster of 2 single-threaded worker processes."""
    with dask_client() as client:
        yield DaskRunner(client, "on 2 test workers")


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory, runner):
    """A data folder holding a dataset folder written by the cluster (6 parts) and the same rows
    written by one process as one parquet file."""
    folder = tmp_path_factory.mktemp("data")
    inputs = [str(TOY), str(TOY_RNTUPLE)]
    write_dataset(inputs, folder / "toy_dataset", ColumnsJob(limits=LIMITS), runner, 500)
    write_columns(inputs, folder / "toy_single.parquet")
    return folder


def test_a_dataset_folder_reads_as_one_dataset_lazily(data_folder, monkeypatch):
    single = read_dataset(data_folder / "toy_single.parquet", "toy_single.parquet")
    read_columns = []
    original = FolderDataset.arrow_column

    def recording(self, name):
        read_columns.append(name)
        return original(self, name)

    monkeypatch.setattr(FolderDataset, "arrow_column", recording)
    dataset = read_dataset(data_folder / "toy_dataset", "toy_dataset")
    assert isinstance(dataset, FolderDataset)
    assert dataset.n_rows == single.n_rows == 6000
    assert dataset.names == single.names
    assert dataset.metadata["dataset folder"] == "6 parquet parts"
    assert read_columns == []  # opening reads only the parts' footers
    ours = Evaluator(dataset).selection("m_ll", "n_leptons >= 2 & met > 10", "weight")
    theirs = Evaluator(single).selection("m_ll", "n_leptons >= 2 & met > 10", "weight")
    np.testing.assert_array_equal(ours.values, theirs.values)
    np.testing.assert_array_equal(ours.weights, theirs.weights)
    assert sorted(read_columns) == ["m_ll", "met", "n_leptons", "weight"]


def test_a_folder_of_parts_with_list_columns_gives_their_views(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "lists"
    folder.mkdir()
    rows = [[[1.0, 2.0], []], [[3.0], [4.0, 5.0, 6.0]]]
    for index, pt in enumerate(rows):
        table = pa.table({"pt": pa.array(pt, pa.list_(pa.float32())), "n": [len(v) for v in pt]})
        pq.write_table(table, folder / f"part-{index}.parquet")
    dataset = read_dataset(folder, "lists")
    assert dataset.jagged_columns == ["pt"]
    np.testing.assert_array_equal(dataset.column("pt_1"), [1.0, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(dataset.column("pt_n"), [2, 0, 1, 3])
    np.testing.assert_array_equal(dataset.elements("pt")[0], [1, 2, 3, 4, 5, 6])


def test_the_lab_lists_and_opens_dataset_folders_of_its_data_folders(data_folder, tmp_path):
    listed = {item.name: item for item in list_data_files((data_folder,))}
    assert {"toy_dataset", "toy_single.parquet"} <= set(listed)
    parts = sorted((data_folder / "toy_dataset").glob("part-*.parquet"))
    assert listed["toy_dataset"].size == sum(path.stat().st_size for path in parts)
    assert open_data_file("toy_dataset", (data_folder,)).n_rows == 6000
    # A dataset folder that leads out of the data folder is neither listed nor opened.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(data_folder / "toy_dataset", tmp_path / "outside")
    os.symlink(tmp_path / "outside", other / "linked_dataset")
    assert list_data_files((other,)) == []
    with pytest.raises(DatasetError, match="linked_dataset is not a CSV"):
        open_data_file("linked_dataset", (other,))
    # A part inside a listed folder that links out is not read as one of its parts.
    inside = other / "inside_dataset"
    shutil.copytree(data_folder / "toy_dataset", inside)
    os.symlink(data_folder / "toy_single.parquet", inside / "part-99999-0000.parquet")
    assert open_data_file("inside_dataset", (other,)).n_rows == 6000


def test_an_incomplete_dataset_says_so(data_folder, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(data_folder / "toy_dataset", folder)
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["status"] = "incomplete"
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    removed = folder / "part-00001-0002.parquet"
    rows_removed = read_dataset(removed, removed.name).n_rows
    removed.unlink()
    dataset = read_dataset(folder, "partial")
    assert dataset.n_rows == 6000 - rows_removed
    assert dataset.metadata["dataset folder"].startswith("5 of 6 parquet parts: incomplete")
    assert dataset.incomplete
    notes = hist_json(folder, "--x", "met")["notes"]
    assert notes == [f"partial: {dataset.metadata['dataset folder']}"]


def test_a_folder_without_parts_is_refused_in_words(tmp_path):
    with pytest.raises(DatasetError, match="a folder without parquet parts"):
        read_dataset(tmp_path, tmp_path.name)
    result = eventlab("hist", tmp_path, "--x", "met")
    assert result.returncode == 2
    assert "a folder without parquet parts" in result.stderr
    assert "Traceback" not in result.stderr


def test_parts_evaluator_on_the_cluster_equals_one_process(data_folder, runner):
    settings = PlotSettings(
        dataset="folder", x="m_ll", cut="n_leptons >= 2", weight="weight", bins=30, fit="gauss"
    )
    dataset = read_dataset(data_folder / "toy_dataset", "toy_dataset")
    single = read_dataset(data_folder / "toy_single.parquet", "toy_single.parquet")
    on_parts = compute_plot(settings, {"folder": PartsEvaluator(dataset, runner)}.__getitem__)
    alone = compute_plot(settings, {"folder": Evaluator(single)}.__getitem__)
    assert on_parts.binning == alone.binning  # 6,000 rows: every value is in the sample
    np.testing.assert_allclose(on_parts.histogram.counts, alone.histogram.counts, rtol=1e-12)
    np.testing.assert_allclose(on_parts.histogram.variances, alone.histogram.variances, rtol=1e-12)
    ours, theirs = on_parts.statistics[0][1], alone.statistics[0][1]
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-12), key
    fitted = {p.name: p.value for p in on_parts.fit.parameters}
    for parameter in alone.fit.parameters:
        assert fitted[parameter.name] == pytest.approx(parameter.value, rel=1e-6), parameter.name
    with pytest.raises(ExpressionInputError, match="The cut must be a condition"):
        compute_plot(
            settings.replace(cut="met"), {"folder": PartsEvaluator(dataset, runner)}.__getitem__
        )


def hist_json(*args) -> dict:
    result = eventlab("hist", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hist_fills_the_parts_on_workers_like_one_process(data_folder):
    alone = hist_json(data_folder / "toy_single.parquet", *Z_PEAK, "--fit", "bw")
    folder = hist_json(data_folder / "toy_dataset", *Z_PEAK, "--fit", "bw")
    parallel = hist_json(data_folder / "toy_dataset", *Z_PEAK, "--fit", "bw", "--workers", "2")
    for other in (folder, parallel):
        assert other["bins"]["counts"] == alone["bins"]["counts"]
        assert other["bins"]["errors"] == alone["bins"]["errors"]
        for key, value in alone["statistics"].items():
            assert other["statistics"][key] == pytest.approx(value, rel=1e-12), key
        assert other["fit"]["parameters"]["mass"]["value"] == pytest.approx(
            alone["fit"]["parameters"]["mass"]["value"], rel=1e-6
        )


def test_hist_on_workers_names_mistakes_once(data_folder):
    result = eventlab("hist", data_folder / "toy_dataset", "--x", "mett", "--workers", "2")
    assert result.returncode == 2
    assert "unknown name 'mett'; did you mean met?" in result.stderr
    assert "Traceback" not in result.stderr
    result = eventlab("hist", data_folder / "toy_single.parquet", "--x", "met", "--workers", "2")
    assert result.returncode == 2
    assert "fill the parts of dataset folders" in result.stderr


def test_hist_on_a_running_scheduler_fills_there(data_folder, runner):
    address = runner.client.scheduler.address
    alone = hist_json(data_folder / "toy_single.parquet", *Z_PEAK)
    remote = hist_json(data_folder / "toy_dataset", *Z_PEAK, "--scheduler", address)
    assert remote["bins"]["counts"] == alone["bins"]["counts"]
    assert remote["statistics"]["selected"] == alone["statistics"]["selected"]
    result = eventlab(
        "hist", data_folder / "toy_dataset", "--x", "met", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert "cannot reach a Dask scheduler there" in result.stderr
