"""Where the chunks of a run are computed: in this process, or on a Dask distributed cluster.

A runner takes one function and a list of argument tuples and yields, as each task ends, its
position, its result and, when it failed after its retries, the error in the user's words.
After a run, `ran_on` says where each task ended (a worker's address, or None), so that later
tasks can be placed where an earlier one left its files open.
`--workers N` starts a local cluster of N worker processes (0: one per CPU) for the run;
`--scheduler ADDRESS` uses a running one (its workers must have EventLab installed and see the
same input and output paths).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from converters.errors import EventLabError, SelectionError

RETRIES = 1  # a failed task is run once more (on another worker if one is free) before it counts
CONNECT_TIMEOUT = "20s"

Outcome = tuple[int, Any, str | None]


def error_text(error: BaseException) -> str:
    """A task's failure in the user's words (EventLab's own messages as they are)."""
    if isinstance(error, EventLabError):
        return str(error)
    if type(error).__name__ == "KilledWorker":
        return "the worker computing it stopped every time it was tried (out of memory?)"
    return f"{type(error).__name__}: {error}"


class LocalRunner:
    """Runs the tasks one after the other in this process."""

    workers = 1
    where = "in this process"
    prefetch = True  # this process may use a second core to read ahead

    def __init__(self) -> None:
        self.ran_on: list[str | None] = []

    def run(
        self,
        function: Callable,
        arguments: Sequence[tuple],
        progress: bool = False,
        places: Sequence[str | None] | None = None,
    ) -> Iterator[Outcome]:
        """Run every task; a failure is tried once more, then reported (`places` do not apply)."""
        self.ran_on = [None] * len(arguments)
        with tqdm(
            total=len(arguments), unit="parts", delay=2.0, disable=not progress, file=sys.stderr
        ) as bar:
            for index, args in enumerate(arguments):
                for attempt in range(RETRIES + 1):
                    try:
                        result = function(*args)
                    except SelectionError:
                        raise
                    except Exception as error:  # reported with the task's name by the caller
                        if attempt == RETRIES:
                            yield index, None, error_text(error)
                    else:
                        yield index, result, None
                        break
                bar.update(1)


class DaskRunner:
    """Runs the tasks on a Dask distributed cluster, as many at once as it has threads."""

    prefetch = False  # each worker has one core (threads_per_worker=1 for a local cluster)

    def __init__(self, client, where: str):
        self.client = client
        self.where = where
        self.ran_on: list[str | None] = []

    @property
    def workers(self) -> int:
        """Worker processes the cluster has now."""
        return len(self.client.scheduler_info()["workers"])

    def run(
        self,
        function: Callable,
        arguments: Sequence[tuple],
        progress: bool = False,
        places: Sequence[str | None] | None = None,
    ) -> Iterator[Outcome]:
        """Submit every task, then yield each as it ends; a bad --select stops the run.

        A task with a place goes to that worker when it is there and free enough (Dask may still
        run it elsewhere); tasks are started in the order given.
        """
        from distributed import as_completed

        token = uuid.uuid4().hex[:8]
        name = getattr(function, "__name__", "task").replace("_", "-")
        places = places or [None] * len(arguments)
        self.ran_on = [None] * len(arguments)
        futures = [
            self.client.submit(
                function,
                *args,
                key=f"eventlab-{name}-{index}-{token}",
                retries=RETRIES,
                pure=False,
                **placement(place),
            )
            for index, (args, place) in enumerate(zip(arguments, places, strict=True))
        ]
        position = {future.key: index for index, future in enumerate(futures)}
        if progress and futures and sys.stdout.isatty():
            start_progress_bar(futures)
        try:
            for future in as_completed(futures):
                # A result lost with its worker after it finished is computed again elsewhere:
                # exception() and result() wait for that.
                error = None if future.status == "finished" else future.exception()
                if error is None:
                    yield position[future.key], future.result(), None
                elif isinstance(error, SelectionError):
                    raise error
                else:
                    yield position[future.key], None, error_text(error)
            self.ran_on = self.workers_of(futures)
        finally:
            self.client.cancel([future for future in futures if not future.done()])

    def workers_of(self, futures: list) -> list[str | None]:
        """The worker holding each finished future's result (None for the others, or for all
        when the scheduler cannot say: a place is only a preference)."""
        if not futures:
            return []
        try:
            holders = self.client.who_has(futures)
        except Exception:  # the run's results are in; a lost connection shows in the next step
            return [None] * len(futures)
        return [next(iter(holders.get(future.key, ())), None) for future in futures]


def placement(place: str | None) -> dict:
    """Dask's submit options that prefer, without requiring, the worker at `place`."""
    return {} if place is None else {"workers": [place], "allow_other_workers": True}


def start_progress_bar(futures: list) -> None:
    """Dask's text progress bar over the futures, drawn from a background thread."""
    from distributed.diagnostics.progressbar import progress

    thread = threading.Thread(
        target=progress, args=futures, kwargs={"notebook": False}, daemon=True
    )
    thread.start()


def local_cluster_workers(workers: int) -> int:
    """Worker processes for `--workers N` (0: one per CPU)."""
    return workers if workers > 0 else (os.cpu_count() or 1)


@contextmanager
def runner_for(workers: int | None, scheduler: str | None) -> Iterator[LocalRunner | DaskRunner]:
    """The runner the options ask for; a local cluster is stopped again at the end."""
    if workers is None and scheduler is None:
        yield LocalRunner()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EventLabError(
            "--workers and --scheduler need Dask: pip install dask distributed"
        ) from None
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as error:
            raise EventLabError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error})"
            ) from None
        with client:
            yield DaskRunner(client, f"on the Dask cluster at {scheduler}")
        return
    count = local_cluster_workers(workers)
    with (
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # task errors are reported once, by name
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskRunner(client, f"on {count} local Dask worker{'s' if count > 1 else ''}")
