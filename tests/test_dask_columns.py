"""`columns` on a real Dask LocalCluster of 2 worker processes: same rows, lost workers, reruns,
bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import uproot
from conftest import PROJECT_ROOT, dask_client
from test_rntuple import assert_same_columns

from converters.cluster import DaskRunner
from converters.dataset import write_dataset
from converters.errors import EventLabError
from converters.manifest import MANIFEST_NAME, part_files
from converters.parts import ColumnsJob
from converters.pipeline import columns_table

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"
CHUNK = 500  # entries per part: 3 parts per 3000-event toy file
LIMITS = {"max_leptons": 4, "max_jets": 4, "max_photons": 2}


@pytest.fixture(scope="module")
def client():
    """A local cluster of 2 single-threaded worker processes for the whole module."""
    with dask_client() as client:
        yield client


@pytest.fixture()
def runner(client):
    """The runner on the module's cluster, with both workers up."""
    client.wait_for_workers(2, timeout=60)
    return DaskRunner(client, "on 2 test workers")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Four inputs: the toy TTree and its RNTuple twin, twice each."""
    folder = tmp_path_factory.mktemp("inputs")
    names = []
    for index in range(2):
        for source, kind in ((TOY, "tree"), (TOY_RNTUPLE, "rntuple")):
            target = folder / f"{kind}{index}.root"
            shutil.copy(source, target)
            names.append(str(target))
    return names


@pytest.fixture(scope="module")
def single_process(inputs):
    """The columns of all inputs as one process writes them."""
    return columns_table(inputs)


def read_dataset(folder):
    """The dataset folder as one table, parts in order."""
    return ds.dataset([str(path) for path in part_files(folder)], format="parquet").to_table()


def manifest(folder) -> dict:
    return json.loads((folder / MANIFEST_NAME).read_text())


def test_dataset_equals_the_single_process_output_row_for_row(
    runner, inputs, single_process, tmp_path
):
    folder = tmp_path / "dataset"
    summary = write_dataset(inputs, folder, ColumnsJob(limits=LIMITS), runner, CHUNK)
    assert summary.parts == 12 and summary.parts_before == 0
    assert summary.events == single_process.num_rows == 12_000
    table = read_dataset(folder)
    assert_same_columns(table.replace_schema_metadata(), single_process.replace_schema_metadata())
    written = manifest(folder)
    assert written["status"] == "complete" and written["events"] == 12_000
    assert [part["entries"] for part in written["parts"][:3]] == [
        [0, 500],
        [500, 1000],
        [1000, 3000],
    ]
    assert {part["status"] for part in written["parts"]} == {"done"}


def test_a_worker_killed_mid_run_still_gives_the_complete_output(
    client, runner, inputs, single_process, tmp_path
):
    folder = tmp_path / "dataset"
    outcome = {}

    def run():
        try:
            outcome["summary"] = write_dataset(
                inputs * 2, folder, ColumnsJob(limits=LIMITS), runner, CHUNK
            )
        except Exception as error:  # shown by the assertion below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        busy = [worker for worker, keys in client.processing().items() if keys]
        if busy and len(part_files(folder)) >= 1:
            pids = client.run(os.getpid, workers=[busy[0]])
            killed = pids[busy[0]]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    thread.join(120)
    assert killed is not None, "the run ended before a worker could be killed"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["summary"].parts == 24
    doubled = pq.read_table(folder / part_files(folder)[0].name).num_rows
    assert doubled == 500
    table = read_dataset(folder)
    assert table.num_rows == 2 * single_process.num_rows
    assert_same_columns(
        table.slice(0, single_process.num_rows).replace_schema_metadata(),
        single_process.replace_schema_metadata(),
    )
    assert killed not in client.run(os.getpid).values()  # the worker was really replaced


def test_a_corrupt_input_among_good_ones_is_named_and_the_rest_written(runner, inputs, tmp_path):
    broken = tmp_path / "broken.root"
    broken.write_bytes(TOY.read_bytes()[:400_000])  # truncated
    mixed = [inputs[0], str(broken), inputs[1]]
    folder = tmp_path / "dataset"
    job = ColumnsJob(limits=LIMITS)
    with pytest.raises(EventLabError) as failure:
        write_dataset(mixed, folder, job, runner, CHUNK)
    message = str(failure.value)
    assert message.startswith("1 input(s) or part(s) failed (6,000 events written")
    assert f"{broken}: the file ends after 400 kB" in message and "truncated" in message
    assert "Traceback" not in message
    written = manifest(folder)
    assert written["status"] == "incomplete"
    assert [entry["status"] for entry in written["inputs"]] == ["done", "failed", "done"]
    assert len(part_files(folder)) == 6
    # Once the file is downloaded again, a rerun only does the parts of that input.
    shutil.copy(TOY, broken)
    summary = write_dataset(mixed, folder, job, runner, CHUNK)
    assert (summary.parts, summary.parts_before, summary.events) == (9, 6, 9000)
    assert manifest(folder)["status"] == "complete"


def test_damaged_baskets_fail_the_part_by_name(runner, inputs, tmp_path):
    damaged = tmp_path / "damaged.root"
    data = bytearray(TOY.read_bytes())
    with uproot.open(TOY) as file:
        at = int(file["CollectionTree"]["AnalysisJetsAuxDyn.pt"].member("fBasketSeek")[0])
    data[at + 100 : at + 140] = b"\x55" * 40
    damaged.write_bytes(bytes(data))
    folder = tmp_path / "dataset"
    with pytest.raises(EventLabError) as failure:
        write_dataset([inputs[0], str(damaged)], folder, ColumnsJob(limits=LIMITS), runner, CHUNK)
    message = str(failure.value)
    assert f"{damaged}: the file is damaged: branch AnalysisJetsAuxDyn.pt" in message
    assert "Traceback" not in message and "TBasket" not in message
    written = manifest(folder)
    assert written["status"] == "incomplete"
    assert {part["status"] for part in written["parts"][:3]} == {"done"}
    assert "failed" in {part["status"] for part in written["parts"][3:]}


def cli(*args, **options) -> subprocess.Popen:
    """The eventlab command started in its own process group (to stop it with its workers)."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
        **options,
    )


def test_a_rerun_after_an_interrupted_run_does_only_the_missing_parts(
    inputs, single_process, tmp_path
):
    folder = tmp_path / "dataset"
    many = inputs * 2  # 24 parts
    command = ("columns", *many, "-o", folder, "--workers", "2", "--chunk-entries", CHUNK)
    run = cli(*command)
    deadline = time.monotonic() + 90
    while len(part_files(folder)) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(30)
    done = {path.name: path.stat().st_mtime_ns for path in part_files(folder)}
    assert 3 <= len(done) < 24, "the run was not interrupted in the middle"
    rerun = cli(*command)
    stdout, stderr = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, stderr
    assert f"in 24 parts, {len(done)} done before" in stdout
    assert "on 2 local Dask workers" in stdout
    for name, mtime in done.items():
        assert (folder / name).stat().st_mtime_ns == mtime  # not written again
    assert not list(folder.glob(".part-*"))
    table = read_dataset(folder)
    assert table.num_rows == 2 * single_process.num_rows
    assert_same_columns(
        table.slice(0, single_process.num_rows).replace_schema_metadata(),
        single_process.replace_schema_metadata(),
    )
    assert manifest(folder)["status"] == "complete"


def test_one_output_file_with_workers_equals_the_single_process_file(
    inputs, single_process, tmp_path
):
    parallel = tmp_path / "parallel.parquet"
    run = cli("columns", *inputs, "-o", parallel, "--workers", "2", "--chunk-entries", CHUNK)
    stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr
    assert "12,000 events from 4 file(s) in 12 parts" in stdout
    assert "Traceback" not in stderr
    assert_same_columns(
        pq.read_table(parallel).replace_schema_metadata(), single_process.replace_schema_metadata()
    )
    assert not list(tmp_path.glob(".parallel.parquet*"))  # the parts folder is gone
