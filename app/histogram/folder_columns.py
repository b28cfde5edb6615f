"""Dataset folders of parquet parts (`eventlab columns -o FOLDER`) as one histogram-lab dataset.

Opening a folder reads only its parts' footers (row counts and columns); a column is read from
every part, in the parts' order, when an expression first uses it. The manifest beside the parts
says whether the run that writes them has finished.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from app.data_folders import files_inside
from app.histogram.arrow_columns import plain_table
from app.histogram.data import (
    PARQUET_SUFFIXES,
    Dataset,
    check_column_count,
    is_list_type,
    is_numeric_type,
    names_text,
    readable_metadata,
)
from app.histogram.errors import DatasetError
from converters.manifest import MANIFEST_NAME


@dataclass
class FolderDataset(Dataset):
    """A dataset whose `table` holds only the columns' types; values are read from the parts."""

    parts: tuple[Path, ...] = ()
    schema: pa.Schema | None = None  # the parts' columns as stored
    rows: int = 0
    incomplete: bool = False  # its manifest says parts are still missing
    _reading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n_rows(self) -> int:
        """Rows of all parts."""
        return self.rows

    def arrow_column(self, name: str) -> pa.ChunkedArray:
        """One column read from every part (list columns are kept: their views share them)."""
        key = (self._token, "parts", name)
        cached = self._arrays.get(key)
        if cached is not None:
            return cached
        with self._reading:
            column = self._read(name)
        if is_list_type(column.type):
            self._arrays.put(key, column, column.nbytes)
        return column

    def _read(self, name: str) -> pa.ChunkedArray:
        """The column `name` of every part, as the lab takes it."""
        import pyarrow.dataset as pa_dataset

        try:
            parts = pa_dataset.dataset(
                [str(path) for path in self.parts], schema=self.schema, format="parquet"
            )
            table = plain_table(parts.to_table(columns=[name]))
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(
                f"{self.name}: column {name} cannot be read from its parts ({error}); "
                "a part may have been removed or damaged since the folder was opened"
            ) from None
        return table.column(name)


def dataset_parts(folder: Path) -> list[Path]:
    """The parquet parts of a dataset folder in the order of their rows (files inside only)."""
    return list(files_inside(folder, PARQUET_SUFFIXES))


def read_folder_dataset(folder: Path, name: str) -> FolderDataset:
    """A dataset folder as one dataset: columns and row counts from the parts' footers."""
    parts = dataset_parts(folder)
    if not parts:
        raise DatasetError(
            f"{name} is a folder without parquet parts; give a column file, or a dataset "
            "folder made by `eventlab columns ... -o FOLDER`"
        )
    dataset = read_parts_dataset(parts, name)
    planned = missing_parts(folder)
    dataset.incomplete = planned is not None
    dataset.metadata["dataset folder"] = parts_note(len(parts), planned)
    return dataset


def read_parts_dataset(parts: list[Path], name: str) -> FolderDataset:
    """Parquet files read as one lazy dataset, their rows in the order given."""
    schemas, rows = [], 0
    for path in parts:
        try:
            footer = pq.ParquetFile(path).metadata
            schemas.append(footer.schema.to_arrow_schema())
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(
                f"{name}: the part {path.name} is not readable parquet ({error})"
            ) from None
        rows += footer.num_rows
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, TypeError) as error:
        raise DatasetError(f"{name}: the parts have different columns ({error})") from None
    check_column_count(len(schema), name)
    if rows == 0:
        raise DatasetError(f"{name} has no rows")
    plain = plain_table(schema.empty_table()).schema
    usable = [
        f
        for f in plain
        if f.name in schema.names and (is_numeric_type(f.type) or is_list_type(f.type))
    ]
    ignored = tuple(f.name for f in plain if f not in usable)
    if not usable:
        raise DatasetError(f"{name} has no numeric column (columns: {names_text(ignored)})")
    return FolderDataset(
        name=name,
        table=pa.schema(usable).empty_table(),
        metadata=readable_metadata(schemas[0].metadata or {}),
        ignored=ignored,
        parts=tuple(parts),
        schema=schema,
        rows=rows,
    )


def missing_parts(folder: Path) -> int | None:
    """The number of parts planned when the folder's manifest says some are still missing
    (0 when it does not say how many), else None."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("status") != "incomplete":
        return None
    listed = manifest.get("parts")
    return len(listed) if isinstance(listed, list) else 0


def parts_note(present: int, planned: int | None) -> str:
    """How many parts the folder holds, and how many are planned if some are still missing."""
    if planned is None:
        return f"{present:,} parquet part{'s' if present != 1 else ''}"
    of = f" of {planned:,}" if planned else ""
    return (
        f"{present:,}{of} parquet parts: incomplete (the run that writes it has not "
        "finished, or some parts failed: the same command again completes it)"
    )
