"""The column files (and dataset folders) a server may open: those inside its data folders, and
nothing else."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from app.caches import SizeBoundedCache
from app.data_folders import files_inside, folders_inside
from app.histogram.data import DATA_SUFFIXES, ROOT_SUFFIXES, Dataset, read_dataset
from app.histogram.errors import DatasetError
from app.histogram.folder_columns import dataset_parts
from app.histogram.root_columns import holds_column_tree
from converters.manifest import MANIFEST_NAME

MAX_NAME_LENGTH = 200
# The data folders' files kept read, once per server process for every page: the newest one is
# always kept, older ones while all fit (their float64 conversions have a bound of their own).
SHARED_TABLE_BYTES = 512 * 1024 * 1024
SHARED_TABLES = SizeBoundedCache(SHARED_TABLE_BYTES)
_READING = threading.Lock()


@dataclass(frozen=True)
class DataFile:
    """A column file, or a dataset folder of parquet parts, found in a data folder."""

    name: str
    path: Path
    size: int


def list_data_files(folders: tuple[Path, ...]) -> list[DataFile]:
    """The readable column files and dataset folders (`eventlab columns -o FOLDER`, with their
    manifest) directly inside the data folders (first folder wins a name)."""
    found: dict[str, DataFile] = {}
    for folder in folders:
        for path in files_inside(folder, DATA_SUFFIXES):
            if is_safe_name(path.name) and offers_columns(path):
                found.setdefault(path.name, DataFile(path.name, path, path.stat().st_size))
        for path in folders_inside(folder, MANIFEST_NAME):
            parts = dataset_parts(path)  # none in a folder of event-display parts
            if is_safe_name(path.name) and parts:
                size = sum(part.stat().st_size for part in parts)
                found.setdefault(path.name, DataFile(path.name, path, size))
    return sorted(found.values(), key=lambda item: item.name.lower())


def offers_columns(path: Path) -> bool:
    """False for ROOT files without a tree of columns (PHYSLITE: the event display's files)."""
    if not path.name.lower().endswith(ROOT_SUFFIXES):
        return True
    stat = path.stat()
    return holds_column_tree(str(path), stat.st_mtime_ns, stat.st_size)


def is_safe_name(name: str) -> bool:
    """True for a plain file name: no folder part, no parent reference, not hidden."""
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and name not in (".", "..")
        and not name.startswith(".")
        and ":" not in name
    )


def resolve_data_file(name: str, folders: tuple[Path, ...]) -> Path:
    """The path of a data file given by plain name, checked to lie inside a data folder."""
    if not is_safe_name(name):
        raise DatasetError(f"{name!r} is not a plain file name of a data folder")
    for data_file in list_data_files(folders):
        if data_file.name == name:
            return data_file.path
    if not name.lower().endswith(DATA_SUFFIXES):
        raise DatasetError(f"{name} is not a CSV, parquet or ROOT column file nor a dataset folder")
    raise DatasetError(f"no data file named {name!r} in the data folders")


def open_data_file(name: str, folders: tuple[Path, ...]) -> Dataset:
    """Load a data file by plain name; unchanged files are read once and shared read-only (a
    dataset folder changes when a part or its manifest is renamed into it)."""
    path = resolve_data_file(name, folders)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    dataset = SHARED_TABLES.get(key)
    if dataset is None:
        with _READING:  # two pages opening the same file read it once
            dataset = SHARED_TABLES.get(key)
            if dataset is None:
                dataset = read_dataset(path, path.name)
                SHARED_TABLES.put(key, dataset, dataset.nbytes)
    return dataset
