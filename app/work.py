"""A page's heavy work (reading uploads, evaluating expressions, filling) off the event loop.

The server's event loop serves every page of its process: a long computation on it would freeze
them all. Each page runs its heavy actions one at a time in a small pool of threads shared by the
process (numpy, Arrow and the decompressors release the interpreter's lock while they work), and
applies the result back on the event loop. An action has a time budget: the work checks
`check_time` between chunks and stops with a clear message once the budget is spent. A request
that arrives while another runs replaces any request still waiting, and the running one stops at
its next check: only the newest settings matter (uploads are never replaced, only queued).

A worker thread never touches the page's document: it hands the result to the event loop
(Tornado's `add_callback`, safe from any thread), which then runs it as a document callback.
Bokeh allows `add_next_tick_callback` from other threads, but Panel, while it renders a page,
holds the document and then puts back the events it had before: a callback added by another
thread in that moment was lost, and the page never showed its first plot.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from tornado.ioloop import IOLoop

from converters.errors import EventLabError

LOG = logging.getLogger(__name__)
DEFAULT_ACTION_SECONDS = 10.0
WORKER_THREADS = 4
SERVER_FAULT = "something went wrong on the server; try again"
Result = TypeVar("Result")


class TimeLimitError(EventLabError):
    """An action took longer than its time budget and was stopped."""


class Superseded(Exception):
    """A newer request replaced the one running: its work is dropped without a message."""


@dataclass
class Budget:
    """The time an action may take, and whether a newer request replaced it."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    replaced: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Stop the work (raise) when it was replaced or its time is spent."""
        if self.replaced.is_set():
            raise Superseded
        if time.monotonic() - self.started > self.seconds:
            raise TimeLimitError(
                f"this took longer than {self.seconds:g} s and was stopped, so that the server "
                "stays quick for everyone; plot something simpler, or use a smaller file"
            )


CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def check_time() -> None:
    """Between chunks of heavy work: stop when the running action's budget is spent."""
    budget = CURRENT.get()
    if budget is not None:
        budget.check()


def seconds_allowed() -> float | None:
    """The running action's time budget in seconds (None outside one)."""
    budget = CURRENT.get()
    return None if budget is None else budget.seconds


def pool() -> ThreadPoolExecutor:
    """The process's worker threads (made on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="eventlab-work")
        return _POOL


def forget_pool() -> None:
    """In a forked worker: the parent's threads did not come along, so make a pool anew."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=forget_pool)


@dataclass
class Job(Generic[Result]):
    """One requested action: the work, and what to do with its result or its error."""

    compute: Callable[[], Result]
    apply: Callable[[Result], None]
    fail: Callable[[EventLabError], None]
    budget: Budget
    replaceable: bool = True


class PageWork:
    """The heavy actions of one page, one at a time, newest first (see the module docstring).

    Without a browser session (`document` None or not served: tests, the command line, the
    server's warm-up page) an action runs at once. Made on the event loop's thread (a page is
    built there), it delivers on that loop.
    """

    def __init__(self, seconds: float = DEFAULT_ACTION_SECONDS, document: Any = None) -> None:
        self.seconds = seconds
        served = document is not None and getattr(document, "session_context", None) is not None
        self.document = document if served else None
        self.loop = IOLoop.current() if served else None
        self._running: Job | None = None
        self._waiting: deque[Job] = deque()
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """Whether an action is running or waiting."""
        with self._lock:
            return self._running is not None or bool(self._waiting)

    def run(
        self,
        compute: Callable[[], Result],
        apply: Callable[[Result], None],
        fail: Callable[[EventLabError], None],
        replaceable: bool = True,
    ) -> None:
        """Compute off the event loop, then `apply(result)` (or `fail(error)`) on it.

        A `replaceable` action (a redraw) gives way to a newer one; others (an upload) queue.
        """
        job = Job(compute, apply, fail, Budget(self.seconds), replaceable)
        if self.document is None:
            self._run_here(job)
            return
        with self._lock:
            if self._running is None:
                self._running = job
            else:
                if replaceable:
                    kept = [waiting for waiting in self._waiting if not waiting.replaceable]
                    self._waiting = deque(kept)
                    if self._running.replaceable:
                        self._running.budget.replaced.set()
                self._waiting.append(job)
                return
        self._start(job)

    def _run_here(self, job: Job) -> None:
        """Run a job in this thread (no event loop to keep free)."""
        outcome = self._compute(job)
        self._deliver(job, outcome)

    def _start(self, job: Job) -> None:
        """Hand a job to the worker threads."""
        job.budget.started = time.monotonic()
        pool().submit(self._work, job)

    def _work(self, job: Job) -> None:
        """In a worker thread: compute, then hand the outcome to the event loop."""
        outcome = self._compute(job)
        try:
            self.loop.add_callback(self._hand_over, job, outcome)
        except RuntimeError:  # the loop is closed: the server is stopping
            LOG.debug("a page's result came after its event loop closed")

    def _hand_over(self, job: Job, outcome: tuple[bool, Any]) -> None:
        """On the event loop: finish the job as a callback of the page's document (under the
        document's lock, so its changes reach the browser)."""
        try:
            self.document.add_next_tick_callback(partial(self._finish, job, outcome))
        except RuntimeError:  # the page was closed meanwhile: nobody waits for the result
            LOG.debug("a page's result came after the page closed")

    @staticmethod
    def _compute(job: Job) -> tuple[bool, Any]:
        """(True, result), (False, error), or (False, None) when the job was replaced."""
        token = CURRENT.set(job.budget)
        try:
            return True, job.compute()
        except Superseded:
            return False, None
        except EventLabError as error:
            return False, error
        except Exception:  # a page must never end in a traceback
            LOG.exception("a page's action failed")
            return False, EventLabError(SERVER_FAULT)
        finally:
            CURRENT.reset(token)

    def _finish(self, job: Job, outcome: tuple[bool, Any]) -> None:
        """On the event loop: deliver a finished job, then start the one waiting, if any."""
        with self._lock:
            following = self._waiting.popleft() if self._waiting else None
            self._running = following
        try:
            self._deliver(job, outcome)  # a replaced job delivers nothing
        finally:
            if following is not None:
                self._start(following)

    @staticmethod
    def _deliver(job: Job, outcome: tuple[bool, Any]) -> None:
        """Apply a result, or report an error (a replaced job reports nothing)."""
        succeeded, value = outcome
        try:
            if succeeded:
                job.apply(value)
            elif value is not None:
                job.fail(value)
        except EventLabError as error:
            job.fail(error)
        except Exception:  # the page goes on, and the student reads a message
            LOG.exception("a page's action failed while showing its result")
            job.fail(EventLabError(SERVER_FAULT))
