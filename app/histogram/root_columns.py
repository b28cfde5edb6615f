"""ROOT ntuples as histogram-lab datasets: each branch read with uproot when an expression uses it.

Read: flat and jagged TTrees of numbers such as NanoAOD's `Events`, the 2020 education ntuples
(`mini`) and the 2025 release (`analysis`). Branches of numbers are scalar columns, variable-length
ones (`Muon_pt[nMuon]`, `std::vector<float>`) list columns with the usual `_1`, `_2`, `_n` views;
other branches (strings, objects, fixed-size arrays) are left out and listed as ignored.
"""

from __future__ import annotations

import functools
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import uproot

from app.histogram.data import Dataset, names_text
from app.histogram.errors import DatasetError
from converters.errors import InputFileError
from converters.file_problems import ROOT_MAGIC, damage_kind, describe_open_error
from converters.storage import open_file

# Trees of per-event columns, in the order they are looked for: NanoAOD, 2020 and 2025 ntuples.
COLUMN_TREES = ("Events", "mini", "analysis")
# Event-data formats whose objects need the converters before they make columns.
PHYSLITE_OBJECTS = ("CollectionTree", "EventData")


@dataclass
class RootDataset(Dataset):
    """A dataset whose columns are branches of a TTree, read (and converted) on first use."""

    tree: Any = None
    entries: int = 0
    held: int = 0  # the bytes of an upload, which the opened file keeps
    _reading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n_rows(self) -> int:
        """Number of entries (events) of the tree."""
        return self.entries

    @property
    def nbytes(self) -> int:
        """An upload's bytes; branches read live in the conversion cache."""
        return self.held

    def arrow_column(self, name: str) -> pa.ChunkedArray:
        """One branch read from the file as an Arrow column (a large list for a jagged one)."""
        key = (self._token, "branch", name)
        cached = self._arrays.get(key)
        if cached is not None:
            return cached
        with self._reading:
            try:
                if pa.types.is_large_list(self.table.schema.field(name).type):
                    array = ak.to_arrow(
                        self.tree[name].array(library="ak"),
                        extensionarray=False,
                        list_to32=False,
                    )
                else:
                    array = pa.array(np.asarray(self.tree[name].array(library="np")))
            except (OSError, ValueError, KeyError, RuntimeError, AssertionError) as error:
                raise DatasetError(
                    f"{self.name}: the file is damaged: branch {name} cannot be read "
                    f"({damage_kind(error)}); download it again"
                ) from None
        column = pa.chunked_array([array])
        self._arrays.put(key, column, column.nbytes)
        return column


def read_root_dataset(source: Path | bytes, name: str) -> RootDataset:
    """Open a ROOT file (a path, or an upload's bytes) and describe its tree of columns."""
    root_file = open_root(source, name)
    tree_name, tree = column_tree(root_file, name)
    fields, ignored = [], []
    for branch in tree.branches:
        data_type = branch_type(branch)
        if data_type is None:
            ignored.append(branch.name)
        else:
            fields.append(pa.field(branch.name, data_type))
    if not fields:
        raise DatasetError(
            f"{name}: the tree {tree_name!r} has no branch of numbers "
            f"(branches: {names_text(ignored)})"
        )
    if tree.num_entries == 0:
        raise DatasetError(f"{name}: the tree {tree_name!r} has no entries")
    metadata = {"tree": tree_name}
    if tree.title:
        metadata["title"] = str(tree.title)
    return RootDataset(
        name=name,
        table=pa.schema(fields).empty_table(),
        metadata=metadata,
        ignored=tuple(ignored),
        tree=tree,
        entries=int(tree.num_entries),
        held=len(source) if isinstance(source, bytes) else 0,
    )


@functools.lru_cache(maxsize=256)
def holds_column_tree(path: str, mtime_ns: int, size: int) -> bool:
    """Whether a ROOT file has a tree of columns (cached per path, modification time, size)."""
    del mtime_ns, size  # part of the cache key only
    try:
        column_tree(open_root(Path(path), Path(path).name), Path(path).name)
    except DatasetError:
        return False
    return True


def open_root(source: Path | bytes, name: str) -> Any:
    """The opened ROOT file, or one plain line saying why it cannot be."""
    if isinstance(source, Path):
        try:
            return open_file(str(source)).root_directory
        except InputFileError as error:
            raise DatasetError(str(error).replace(str(source), name, 1)) from None
    if not source.startswith(ROOT_MAGIC):
        raise DatasetError(f"{name}: not a ROOT file (it does not start with the ROOT signature)")
    try:
        return uproot.open(io.BytesIO(source), array_cache=None)
    except Exception as error:  # uproot raises many kinds for a damaged header
        raise DatasetError(str(describe_open_error(name, error))) from None


def column_tree(root_file: Any, name: str) -> tuple[str, Any]:
    """The tree of per-event columns: a known name, else the only (or largest) TTree."""
    try:
        classes = {key.split(";")[0]: kind for key, kind in root_file.classnames().items()}
    except Exception as error:  # a damaged table of contents
        raise DatasetError(str(describe_open_error(name, error))) from None
    trees = [key for key, kind in classes.items() if kind == "TTree" and "/" not in key]
    for wanted in COLUMN_TREES:
        if wanted in trees:
            return wanted, root_file[wanted]
    physlite = [key for key in PHYSLITE_OBJECTS if key in classes]
    if physlite:
        raise DatasetError(
            f"{name} is a PHYSLITE file (objects, not columns): make per-event columns with "
            f"`eventlab columns {name} -o columns.parquet` and open that"
        )
    if not trees:
        what = names_text(sorted(classes)) or "nothing"
        raise DatasetError(f"{name} holds no TTree of columns (it holds: {what})")
    largest = max(trees, key=lambda key: root_file[key].num_entries)
    return largest, root_file[largest]


def branch_type(branch: Any) -> pa.DataType | None:
    """The Arrow type of a branch of numbers (a large list for a jagged one), else None."""
    interpretation = branch.interpretation
    if isinstance(interpretation, uproot.AsJagged):
        content = number_type(interpretation.content)
        return None if content is None else pa.large_list(content)
    return number_type(interpretation)


def number_type(interpretation: Any) -> pa.DataType | None:
    """The Arrow type of one number per entry, else None."""
    if not isinstance(interpretation, uproot.interpretation.numerical.Numerical):
        return None
    dtype = np.dtype(interpretation.to_dtype)
    if dtype.shape or dtype.kind not in "biuf":
        return None
    return pa.from_numpy_dtype(dtype.newbyteorder("="))
