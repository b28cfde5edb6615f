"""A chunk goes to the worker that opened its input, which keeps it open: no file opened twice.

Opening a PHYSLITE file reads the metadata of all its branches (about 45 ms for the real example),
so a chunk computed elsewhere than where its input was opened pays that again.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence

import pytest
from conftest import PROJECT_ROOT, dask_client

from converters import open_inputs
from converters.cluster import DaskRunner, LocalRunner
from converters.dataset import shared_out, write_dataset
from converters.parts import ColumnsJob

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
CHUNK = 500  # entries per part: 3 parts per 3,000-entry toy file
LIMITS = {"max_leptons": 4, "max_jets": 4, "max_photons": 2}


def test_tasks_keep_their_place_up_to_an_equal_share_of_the_workers():
    places = ["a", "a", "a", "b", None, "a"]
    assert shared_out(places, workers=2) == ["a", "a", "a", "b", None, None]
    assert shared_out(places, workers=1) == places
    assert shared_out([], workers=2) == []


class RecordingRunner(LocalRunner):
    """Runs in this process, as if each input had been opened on a worker of its own kind."""

    def __init__(self, openers: list[str]):
        super().__init__()
        self.openers = openers
        self.asked: list[list[str | None]] = []
        self.workers = len(set(openers))

    def run(self, function: Callable, arguments: Sequence[tuple], progress=False, places=None):
        """Run as LocalRunner does, noting the places asked for."""
        self.asked.append(list(places or [None] * len(arguments)))
        yield from super().run(function, arguments, progress)
        if function.__name__ == "input_layout":
            self.ran_on = list(self.openers)


@pytest.fixture()
def inputs(tmp_path):
    """Four copies of the toy PHYSLITE file (3,000 entries each)."""
    names = []
    for index in range(4):
        shutil.copy(TOY, tmp_path / f"toy{index}.root")
        names.append(str(tmp_path / f"toy{index}.root"))
    return names


def test_each_chunk_is_asked_for_where_its_input_was_opened(inputs, tmp_path):
    runner = RecordingRunner(["w1", "w2", "w1", "w2"])
    summary = write_dataset(inputs, tmp_path / "out", ColumnsJob(limits=LIMITS), runner, CHUNK)
    layouts, parts = runner.asked
    assert layouts == [None] * 4  # nothing is open anywhere before the inputs are opened
    assert summary.parts == len(parts) == 12
    # The inputs opened last come first: their files are the surest to be open still.
    assert parts == ["w2"] * 3 + ["w1"] * 3 + ["w2"] * 3 + ["w1"] * 3


def test_a_worker_that_opened_more_inputs_gets_no_more_than_its_share(inputs, tmp_path):
    runner = RecordingRunner(["w1", "w1", "w1", "w2"])
    write_dataset(inputs, tmp_path / "out", ColumnsJob(limits=LIMITS), runner, CHUNK)
    # Six of the twelve chunks for w1; the chunks of the input it opened first go anywhere.
    assert runner.asked[1] == ["w2"] * 3 + ["w1"] * 6 + [None] * 3


def worker_address(index: int) -> str:
    """The address of the worker running this task."""
    from distributed import get_worker

    return get_worker().address


def test_the_dask_runner_runs_each_task_at_its_place_and_says_where():
    with dask_client() as client:
        first, second = sorted(client.scheduler_info()["workers"])
        runner = DaskRunner(client, "on 2 test workers")
        places = [first, second, second, first, first, first, second, second, None]
        outcomes = list(
            runner.run(
                worker_address,
                [(index,) for index in range(len(places))],
                places=places,
            )
        )
        where = {position: result for position, result, _ in outcomes}
        assert [where[index] for index in range(8)] == places[:8]
        assert runner.ran_on == [where[index] for index in range(len(places))]
        assert runner.ran_on[8] in (first, second)


def test_a_run_opens_each_input_once(inputs, tmp_path, monkeypatch):
    opened = []

    class CountedSource(open_inputs.EventSource):
        def __init__(self, name, **options):
            opened.append(name)
            super().__init__(name, **options)

    monkeypatch.setattr(open_inputs, "EventSource", CountedSource)
    more = inputs + [str(shutil.copy(TOY, tmp_path / f"more{index}.root")) for index in range(2)]
    summary = write_dataset(more, tmp_path / "out", ColumnsJob(limits=LIMITS), LocalRunner(), CHUNK)
    assert summary.parts == 18
    assert sorted(opened) == sorted(more)  # to plan its chunks, then kept for them


def test_threads_share_the_kept_sources_and_a_replaced_file_is_opened_anew(tmp_path):
    path = str(shutil.copy(TOY, tmp_path / "toy.root"))
    # While one is in use, another is opened; both are kept afterwards.
    with open_inputs.borrowed_source(path) as first, open_inputs.borrowed_source(path) as second:
        assert second is not first
    seen = []
    thread = threading.Thread(target=lambda: seen.append(borrow_and_return(path)))
    thread.start()
    thread.join()
    assert seen[0] in (first, second)  # another thread takes one that is kept
    os.utime(path, ns=(0, 0))  # the file replaced under the same name
    assert borrow_and_return(path) not in (first, second)


def test_a_source_that_failed_is_not_kept(tmp_path):
    path = str(shutil.copy(TOY, tmp_path / "toy.root"))
    with pytest.raises(RuntimeError), open_inputs.borrowed_source(path) as failed:
        raise RuntimeError("a damaged basket")
    assert borrow_and_return(path) is not failed


def borrow_and_return(path: str):
    """The source a chunk of `path` would work with now."""
    with open_inputs.borrowed_source(path) as source:
        return source
