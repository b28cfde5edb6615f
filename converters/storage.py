"""Where the events of an input sit: a TTree or an RNTuple, behind one small interface.

The rest of the converters ask an EventStore for arrays by name over entry ranges and for the
entries where its clusters start; only this module knows how each layout is read with uproot.
Every problem becomes one InputFileError in the user's words (see converters/file_problems.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import awkward as ak
import numpy as np
import uproot

from converters.errors import InputFileError
from converters.file_problems import (
    DOWNLOAD_AGAIN,
    describe_open_error,
    describe_read_error,
    human_size,
    not_root_reason,
    size_problem,
)
from converters.first_values import first_of_lists, tree_first_values
from converters.flat import unpack
from converters.inputs import is_url
from converters.schema import (
    NTUPLE_TREES,
    PHYSLITE_RNTUPLE,
    PHYSLITE_TREE,
    RNTUPLE_NAMING,
    TTREE_NAMING,
    Naming,
)

RNTUPLE_CLASS = "ROOT::RNTuple"
EMPTY_FILE_BYTES = 10_000  # a ROOT file with objects in it is larger than this
URL_TIMEOUT = 30  # seconds


def open_file(source: str) -> uproot.ReadOnlyFile:
    """The ROOT file at `source`, checked to be whole."""
    if not is_url(source):
        if not os.path.exists(source):
            raise InputFileError(f"{source}: no such file")
        if os.path.isdir(source):
            raise InputFileError(f"{source}: is a folder, not a ROOT file")
        reason = not_root_reason(source)
        if reason:
            raise InputFileError(f"{source}: {reason}")
    # No array cache: callers read each range once or keep what they need themselves.
    options = {"timeout": URL_TIMEOUT} if is_url(source) else {}
    try:
        root_file = uproot.reading.ReadOnlyFile(source, array_cache=None, **options)
    except Exception as error:
        raise describe_open_error(source, error) from None
    problem = size_problem(root_file)
    if problem:
        raise InputFileError(f"{source}: {problem}")
    return root_file


class EventStore:
    """The events of one file, read by name over entry ranges; a TTree or an RNTuple."""

    layout = ""
    naming: Naming

    def __init__(self, source: str, root_file: uproot.ReadOnlyFile, name: str, file_format: str):
        self.source = source
        self.file = root_file
        self.name = name
        self.format = file_format  # "physlite" or "ntuple"

    @property
    def unit(self) -> float:
        """Factor from the file's energy unit to MeV."""
        return NTUPLE_TREES.get(self.name, 1.0) if self.format == "ntuple" else 1.0

    @property
    def bytes_read(self) -> int:
        """Bytes fetched from the file (or URL) so far."""
        return int(self.file.source.num_requested_bytes)

    @property
    def num_entries(self) -> int:
        """Number of events."""
        raise NotImplementedError

    @property
    def names(self) -> set[str]:
        """Every branch or field name the store can read."""
        raise NotImplementedError

    def cluster_starts(self, names: Sequence[str]) -> np.ndarray:
        """Entries where the stored blocks of all `names` start together, with 0 and the end."""
        raise NotImplementedError

    def _arrays(self, names: list[str], start: int, stop: int) -> dict[str, ak.Array]:
        raise NotImplementedError

    def arrays(self, names: Sequence[str], start: int, stop: int) -> dict[str, ak.Array]:
        """The arrays of `names` for entries [start, stop)."""
        names = list(dict.fromkeys(names))
        try:
            return self._arrays(names, start, stop)
        except InputFileError:
            raise
        except Exception as error:
            culprit = self.failing_name(names, start, stop)
            raise describe_read_error(self, culprit, start, stop, error) from None

    def first_values(self, name: str, start: int, stop: int, default: float) -> np.ndarray:
        """The first value of the list `name` holds per entry (float64; `default` if empty).

        A branch with one value per entry gives those values as they are."""
        try:
            return self._first_values(name, start, stop, default)
        except InputFileError:
            raise
        except Exception as error:
            raise describe_read_error(self, name, start, stop, error) from None

    def _first_values(self, name: str, start: int, stop: int, default: float) -> np.ndarray:
        # Generic path: the whole lists are read, then their first values kept.
        levels, values = unpack(self._arrays([name], start, stop)[name])
        if not levels:  # one value per entry already
            return np.asarray(values)
        return first_of_lists(levels[0], values, default)

    def failing_name(self, names: list[str], start: int, stop: int) -> str | None:
        """The first of `names` that cannot be read alone (to name it in the message)."""
        for name in names:
            try:
                self._arrays([name], start, stop)
            except Exception:
                return name
        return None


class TreeStore(EventStore):
    """Events in a TTree: one branch per variable, baskets per branch."""

    layout = "TTree"
    naming = TTREE_NAMING

    def __init__(self, source, root_file, name, file_format, tree: uproot.TTree):
        super().__init__(source, root_file, name, file_format)
        self.tree = tree
        paths = tree.keys(recursive=True)
        self._names = set(paths) | {path.rsplit("/", 1)[-1] for path in paths}

    @property
    def num_entries(self) -> int:
        return int(self.tree.num_entries)

    @property
    def names(self) -> set[str]:
        return self._names

    def cluster_starts(self, names: Sequence[str]) -> np.ndarray:
        common: set[int] | None = None
        for name in names:
            offsets = {int(entry) for entry in self.tree[name].entry_offsets}
            common = offsets if common is None else common & offsets
        return np.array(sorted((common or set()) | {0, self.num_entries}), dtype=np.int64)

    def _arrays(self, names, start, stop):
        return self.tree.arrays(names, entry_start=start, entry_stop=stop, how=dict)

    def _first_values(self, name, start, stop, default):
        firsts = tree_first_values(self.tree, name, start, stop, default)
        return firsts if firsts is not None else super()._first_values(name, start, stop, default)


class RNTupleStore(EventStore):
    """Events in an RNTuple: one field per variable (records for links), pages per cluster."""

    layout = "RNTuple"
    naming = RNTUPLE_NAMING

    def __init__(self, source, root_file, name, file_format, ntuple):
        super().__init__(source, root_file, name, file_format)
        self.ntuple = ntuple
        for part, holds in (("header", "its fields"), ("footer", "its clusters and pages")):
            try:
                getattr(ntuple, part)
            except Exception as error:
                what = f"the {part} of the RNTuple {name!r} (the description of {holds})"
                raise describe_open_error(source, error, what) from None
        self._names = set(ntuple.keys(recursive=True))
        self._top = set(ntuple.keys(recursive=False))

    @property
    def num_entries(self) -> int:
        return int(self.ntuple.num_entries)

    @property
    def names(self) -> set[str]:
        return self._names

    def cluster_starts(self, names: Sequence[str]) -> np.ndarray:
        starts = {int(cluster.num_first_entry) for cluster in self.ntuple.cluster_summaries}
        return np.array(sorted(starts | {0, self.num_entries}), dtype=np.int64)

    def path(self, name: str) -> tuple[str, list[str]]:
        """The top-level field holding `name`, and the sub-field path below it."""
        if name in self._top:
            return name, []
        top = max((field for field in self._top if name.startswith(field + ".")), key=len)
        return top, name[len(top) + 1 :].split(".")

    def _arrays(self, names, start, stop):
        read = self.ntuple.arrays(names, entry_start=start, entry_stop=stop, how=dict)
        result = {}
        for name in names:
            top, below = self.path(name)
            value = read[top]
            for part in below:
                value = value[part]
            result[name] = value
        return result


def find_events(source: str, root_file: uproot.ReadOnlyFile) -> EventStore:
    """The PHYSLITE or education-ntuple events of an open file, as TTree or RNTuple."""
    try:
        directory = root_file.root_directory
        classes = {key.split(";")[0]: name for key, name in directory.classnames().items()}
    except Exception as error:
        raise describe_open_error(source, error) from None
    if not classes and root_file.fEND > EMPTY_FILE_BYTES:
        raise InputFileError(
            f"{source}: the file is damaged: its table of contents lists nothing although it"
            f" holds {human_size(root_file.fEND)}; {DOWNLOAD_AGAIN}"
        )
    candidates = [(PHYSLITE_TREE, "physlite"), (PHYSLITE_RNTUPLE, "physlite")]
    candidates += [(name, "ntuple") for name in NTUPLE_TREES]
    for name, file_format in candidates:
        if name in classes:
            store = load_store(source, root_file, name, classes[name], file_format)
            if store is not None:
                return store
    raise InputFileError(
        f"{source}: neither PHYSLITE (a '{PHYSLITE_TREE}' TTree or '{PHYSLITE_RNTUPLE}' RNTuple)"
        f" nor an education ntuple ('analysis' or 'mini' tree); the file holds {contents(classes)}"
    )


def load_store(
    source: str, root_file: uproot.ReadOnlyFile, name: str, class_name: str, file_format: str
) -> EventStore | None:
    """The store of the object `name`, None when it is neither a TTree nor an RNTuple."""
    is_rntuple = class_name == RNTUPLE_CLASS
    what = f"the RNTuple {name!r}" if is_rntuple else f"the {class_name} {name!r}"
    try:
        stored = root_file.root_directory[name]
        if is_rntuple:
            return RNTupleStore(source, root_file, name, file_format, stored)
        if isinstance(stored, uproot.TTree):
            return TreeStore(source, root_file, name, file_format, stored)
    except InputFileError:
        raise
    except Exception as error:
        raise describe_open_error(source, error, what) from None
    return None


def contents(classes: dict[str, str], shown: int = 5) -> str:
    """What a file holds, naming at most `shown` objects."""
    if not classes:
        return "nothing"
    names = [f"{name} ({kind.removeprefix('ROOT::')})" for name, kind in sorted(classes.items())]
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def open_store(source: str) -> EventStore:
    """Open `source` and find its events."""
    return find_events(source, open_file(source))
