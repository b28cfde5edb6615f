"""`convert` on a real Dask LocalCluster of 2 worker processes: Phoenix JSON parts per chunk with
the manifest, reruns and named failures of `columns`, joined into the file one process writes."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from conftest import PROJECT_ROOT, dask_client, eventlab

from converters.cluster import DaskRunner
from converters.dataset import write_dataset, write_joined_file
from converters.errors import EventLabError
from converters.manifest import MANIFEST_NAME, part_files
from converters.parts import DisplayJob
from converters.pipeline import write_display_json
from converters.selection import Selection

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"
CHUNK = 500  # entries per part: 3 parts per 3000-event toy file
# The RNTuple twin holds the same events: the joined file must rename them as one process does.
INPUTS = [str(TOY), str(TOY_RNTUPLE)]


@pytest.fixture(scope="module")
def runner():
    """A runner on a local cluster of 2 single-threaded worker processes."""
    with dask_client() as client:
        yield DaskRunner(client, "on 2 test workers")


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    """The display file of both inputs as one process writes it."""
    output = tmp_path_factory.mktemp("single") / "single.json"
    write_display_json(INPUTS, output)
    return output


def test_json_parts_on_the_cluster_join_into_the_single_process_file(
    runner, single_process, tmp_path
):
    folder = tmp_path / "events"
    summary = write_dataset(INPUTS, folder, DisplayJob(), runner, CHUNK)
    assert (summary.parts, summary.events) == (6, 6000)
    parts = part_files(folder, ".json")
    assert [path.name for path in parts][:2] == ["part-00000-0000.json", "part-00000-0001.json"]
    each = [json.loads(path.read_text()) for path in parts]
    assert sum(len(events) for events in each) == 6000
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["status"] == "complete"
    assert manifest["job"]["output"] == "event display JSON"
    joined = tmp_path / "joined.json"
    DisplayJob().join(parts, joined)
    assert joined.read_bytes() == single_process.read_bytes()
    expected = json.loads(single_process.read_text())
    assert sum(1 for key in expected if "#" in key) == 3000  # the twin's events, renamed


def test_a_selection_on_the_cluster_gives_the_events_one_process_keeps(runner, tmp_path):
    selection = Selection(expression="n_muons >= 2")
    single = tmp_path / "single.json.gz"
    write_display_json(INPUTS, single, selection)
    joined = tmp_path / "joined.json.gz"
    summary = write_joined_file(INPUTS, joined, DisplayJob(selection), runner, CHUNK)
    assert summary.events == len(json.loads(gzip.decompress(single.read_bytes())))
    assert gzip.decompress(joined.read_bytes()) == gzip.decompress(single.read_bytes())
    assert not list(tmp_path.glob(".joined.json.gz*"))  # the parts folder is gone


def test_a_rerun_does_only_missing_parts_and_a_bad_input_is_named(runner, tmp_path):
    broken = tmp_path / "broken.root"
    broken.write_bytes(TOY.read_bytes()[:400_000])  # truncated
    mixed = [str(TOY), str(broken)]
    folder = tmp_path / "events"
    with pytest.raises(EventLabError) as failure:
        write_dataset(mixed, folder, DisplayJob(), runner, CHUNK)
    message = str(failure.value)
    assert message.startswith("1 input(s) or part(s) failed (3,000 events written")
    assert f"{broken}: the file ends after 400 kB" in message and "Traceback" not in message
    done = {path.name: path.stat().st_mtime_ns for path in part_files(folder, ".json")}
    assert len(done) == 3
    shutil.copy(TOY, broken)
    summary = write_dataset(mixed, folder, DisplayJob(), runner, CHUNK)
    assert (summary.parts, summary.parts_before, summary.events) == (6, 3, 6000)
    for name, mtime in done.items():
        assert (folder / name).stat().st_mtime_ns == mtime  # not written again
    # Another command's parts are not mixed in.
    with pytest.raises(EventLabError, match="holds a dataset made from other inputs or options"):
        write_dataset(mixed, folder, DisplayJob(Selection(expression="met > 1")), runner, CHUNK)


def test_convert_with_workers_on_the_command_line(single_process, tmp_path):
    joined = tmp_path / "joined.json"
    result = eventlab("convert", *INPUTS, "-o", joined, "--workers", "2", "--chunk-entries", CHUNK)
    assert result.returncode == 0, result.stderr
    assert "6,000 events from 2 file(s) in 6 parts" in result.stdout
    assert "on 2 local Dask workers" in result.stdout
    assert joined.read_bytes() == single_process.read_bytes()
    result = eventlab("convert", *INPUTS, "-o", tmp_path / "events.txt", "--workers", "2")
    assert result.returncode == 2
    assert "must end in .json or .json.gz, or name a folder" in result.stderr
