"""ROOT files in the display: the event list from an `EventIndex`, each event converted when shown.

A PHYSLITE (TTree or RNTuple) or education-ntuple file is never converted whole: opening it
reads the event numbers and what the one-line summaries need (about 50 bytes per event), and an
event is converted from the cluster of entries that holds it when it is shown. A data-folder
file's index is shared by the sessions of a process; an upload's index reads the upload's bytes
in the session's memory, and counts them, its index and its decoded clusters there.

The conversion uses polars, whose thread pool must not be running when the server forks its
workers: indexes are only made for pages, never while the server starts.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.display.events import EventFileError
from app.file_cache import once_per_version
from app.memory import MemoryLimitError, SessionMemory, over_budget_message
from converters.errors import EventLabError

if TYPE_CHECKING:  # importing the index imports polars: only pages that open a ROOT file do
    from converters.event_index import EventIndex

ROOT_SUFFIXES = (".root",)
ROOT_MAGIC = b"root"
UPLOAD_CACHED_CLUSTERS = 2  # an upload's decoded clusters count in its page's memory


class EntryTexts(Sequence[str]):
    """A text per entry (keys, event numbers), made when asked for rather than kept."""

    def __init__(self, length: int, one: Callable[[int], str], every: Callable[[], list[str]]):
        self._length, self._one, self._every = length, one, every

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return self._every()[position]
        if position < 0:
            position += self._length
        if not 0 <= position < self._length:
            raise IndexError(position)
        return self._one(position)

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())


class RootEventFile:
    """A ROOT file as the display shows it: what an `EventFile` offers, events converted on demand.

    `kept`: for an upload, the page's memory and the owner its bytes are counted under; the
    decoded clusters are counted there too, each time an event is read.
    """

    converts = True  # events are converted when shown, which takes a worker thread

    def __init__(
        self,
        name: str,
        index: EventIndex,
        data_bytes: int = 0,
        kept: tuple[SessionMemory, Hashable] | None = None,
    ):
        self.name = name
        self.index = index
        self.data_bytes = data_bytes
        self.kept = kept
        count = len(index)
        self.keys = EntryTexts(count, index.key, lambda: index.keys)
        self.numbers = EntryTexts(count, self._number, self._all_numbers)
        # The event shown: saving or downloading it then costs the event loop no conversion.
        self._last: tuple[int, dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def summaries(self) -> list[str]:
        """The one-line summary of every event, in file order."""
        return self.index.summaries()

    @property
    def nbytes(self) -> int:
        """What this file holds in its page's memory (nothing but its index when shared)."""
        if self.kept is None:
            return 0
        return self.data_bytes + self.index.nbytes + self.index.cached_nbytes

    def event(self, position: int) -> dict[str, Any]:
        """The Phoenix event at `position`, converted from the file (the last one is kept)."""
        last = self._last
        if last is not None and last[0] == position:
            return last[1]
        try:
            event = self.index.event(position)
        except EventLabError as error:
            raise EventFileError(str(error)) from None
        if self.kept is not None:
            memory, owner = self.kept
            try:
                memory.hold(owner, self.nbytes, self.name)
            except MemoryLimitError:  # no room for the clusters kept: read them again instead
                self.index.forget_clusters()
                memory.hold(owner, self.nbytes, self.name)
        self._last = (position, event)
        return event

    def position_of(self, wanted: str) -> int | None:
        """The entry whose key ("RUN-EVENT") or event number is `wanted`, if any."""
        try:
            return self.index.entry(wanted)
        except EventLabError:
            return None

    def _number(self, position: int) -> str:
        """The event number of one entry."""
        return str(int(self.index.columns.event[position]))

    def _all_numbers(self) -> list[str]:
        """Every event number, in file order."""
        return self.index.columns.event.astype(str).tolist()


def preload() -> None:
    """Import the ROOT reading ahead (in the server's warm-up page, which the workers share).

    Not the conversion: it imports polars, which must not be running when the workers fork.
    """
    import converters.file_problems
    import converters.read
    import converters.storage  # noqa: F401


def is_root_name(name: str) -> bool:
    """Whether a file name is that of a ROOT file."""
    return name.lower().endswith(ROOT_SUFFIXES)


def _shared_index(path: Path) -> EventIndex:
    """The index of a data-folder file, made once per process and version of the file."""
    from converters.event_index import EventIndex

    try:
        return EventIndex(path)
    except EventLabError as error:  # the message names the file, not the server's folders
        raise EventFileError(str(error).replace(str(path), path.name)) from None


shared_index = once_per_version(maxsize=8)(_shared_index)


def open_data_file(path: Path) -> RootEventFile:
    """A ROOT file of the data folders, its index shared by every page of the process."""
    try:
        return RootEventFile(path.name, shared_index(path))
    except OSError as error:
        raise EventFileError(f"cannot open {path.name}: {error.strerror or error}") from None


def open_upload(name: str, data: bytes, memory: SessionMemory, owner: Hashable) -> RootEventFile:
    """An uploaded ROOT file, read from its bytes in memory (never written to disk)."""
    import uproot

    from converters.event_index import EventIndex
    from converters.file_problems import describe_open_error, truncated
    from converters.storage import find_events

    if not data.startswith(ROOT_MAGIC):
        raise EventFileError(f"{name} is not a ROOT file")
    room = memory.room_for(owner)
    if len(data) > room:
        raise EventFileError(over_budget_message(name, len(data), memory.limit, room))
    try:
        root_file = uproot.reading.ReadOnlyFile(io.BytesIO(data), array_cache=None)
    except Exception as error:
        raise EventFileError(str(describe_open_error(name, error))) from None
    if len(data) < int(root_file.fEND):  # the header says how long the whole file is
        raise EventFileError(f"{name}: {truncated(len(data), int(root_file.fEND))}")
    try:
        store = find_events(name, root_file)
        index = EventIndex(name, cached_clusters=UPLOAD_CACHED_CLUSTERS, store=store)
    except EventLabError as error:
        raise EventFileError(str(error)) from None
    file = RootEventFile(name, index, len(data), kept=(memory, owner))
    if file.nbytes > room:
        raise EventFileError(over_budget_message(name, file.nbytes, memory.limit, room))
    return file
