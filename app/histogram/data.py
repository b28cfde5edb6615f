"""Column files (CSV, parquet; ROOT in root_columns.py, dataset folders in folder_columns.py)
read into datasets of float64 columns."""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.caches import SizeBoundedCache
from app.histogram.arrow_columns import plain_table
from app.histogram.errors import DatasetError
from app.memory import MB, SessionMemory

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
ROOT_SUFFIXES = (".root",)
DATA_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES + ROOT_SUFFIXES
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 20
MAX_COLUMNS = 10_000  # NanoAOD files have about 1,600
DELIMITERS = ",;\t| "
# Suffixes of the per-event views offered for each list (jagged) column.
JAGGED_VIEWS = {"_1": "leading element", "_2": "sub-leading element", "_n": "number of elements"}
# Columns with empty values written out in the data card (the others are in a collapsed list).
MISSING_SHOWN = 1
# What reading takes per value: a CSV cell becomes 8 bytes; parquet values by physical type.
CSV_VALUE_BYTES = 8
PHYSICAL_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}
# float64 conversions of the data folders' files, kept once per server process for every page
# (an upload's conversions count for its page instead).
SHARED_CONVERSION_BYTES = 512 * MB
SHARED_CONVERSIONS = SizeBoundedCache(SHARED_CONVERSION_BYTES)
NAMES_SHOWN = 5  # column names written out in a message
MISSING_LISTED = 50  # ... and at most this many in the collapsed list
# Schema metadata written by pandas or Arrow themselves, not meant for people.
TECHNICAL_METADATA = ("pandas", "ARROW:", "org.apache")


@dataclass(frozen=True)
class MissingValues:
    """How many values of one column are absent (null or NaN) or infinite, out of how many."""

    column: str
    missing: int
    infinite: int
    total: int
    of_what: str = "rows"

    @property
    def is_problem(self) -> bool:
        """True for values that are likely a mistake: infinite ones, or a column with none."""
        return self.infinite > 0 or (self.total > 0 and self.missing == self.total)

    def describe(self) -> str:
        """E.g. "lep1_pt: 447 of 3,000 rows have no value"."""
        parts = []
        if self.missing:
            parts.append(f"{self.missing:,} of {self.total:,} {self.of_what} have no value")
        if self.infinite:
            parts.append(f"{self.infinite:,} of {self.total:,} {self.of_what} are infinite")
        return f"{self.column}: {', '.join(parts) or 'every value is finite'}"


@dataclass
class Dataset:
    """A table of per-event numeric columns, converted to float64 numpy arrays on first use.

    Conversions are kept in a bounded cache: of the files shared by every page, at most
    SHARED_CONVERSION_BYTES in all; of an upload, within its page's memory (see `for_page`).
    """

    name: str
    table: pa.Table
    metadata: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    missing: tuple[MissingValues, ...] = ()
    _arrays: SizeBoundedCache = field(default=SHARED_CONVERSIONS, repr=False)
    # Part of this dataset's keys in a shared cache (an object, so never reused as an id may be).
    _token: object = field(default_factory=object, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def for_page(self, memory: SessionMemory) -> Dataset:
        """This dataset with its conversions kept within a page's memory (for an upload)."""
        self._arrays = SizeBoundedCache(SHARED_CONVERSION_BYTES, memory)
        return self

    @property
    def n_rows(self) -> int:
        """Number of rows (events)."""
        return self.table.num_rows

    @property
    def nbytes(self) -> int:
        """The memory the dataset holds besides its conversions."""
        return self.table.nbytes

    def arrow_column(self, name: str) -> pa.ChunkedArray:
        """One column as Arrow holds it (a file format may read it only now)."""
        return self.table.column(name)

    @property
    def scalar_columns(self) -> list[str]:
        """Names of the columns with one number per row."""
        return [f.name for f in self.table.schema if not is_list_type(f.type)]

    @property
    def jagged_columns(self) -> list[str]:
        """Names of the list columns (several numbers per row, e.g. `Muon_pt`)."""
        return [f.name for f in self.table.schema if is_list_type(f.type)]

    @property
    def names(self) -> list[str]:
        """Every name an expression may use: scalar columns and the views of list columns."""
        views = [jagged + suffix for jagged in self.jagged_columns for suffix in JAGGED_VIEWS]
        return self.scalar_columns + views

    def column(self, name: str) -> np.ndarray:
        """The read-only float64 array of a scalar column or of a view of a list column."""
        with self._lock:
            array = self._arrays.get((self._token, name))
            if array is None:
                array = self._convert(name)
                array.flags.writeable = False
                self._arrays.put((self._token, name), array, array.nbytes)
            return array

    def elements(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """All elements of a list column flattened, and the number of elements of each row."""
        if name not in self.jagged_columns:
            raise DatasetError(f"{name!r} is not a list column of {self.name}")
        chunked = self.arrow_column(name)
        values = pc.list_flatten(chunked)
        counts = pc.fill_null(pc.list_value_length(chunked), 0)
        return to_float64(values), counts.to_numpy().astype(np.int64)

    def _convert(self, name: str) -> np.ndarray:
        """Convert one column or list view to float64 (nulls become NaN)."""
        if name in self.table.column_names and name not in self.jagged_columns:
            return to_float64(self.arrow_column(name))
        for jagged in self.jagged_columns:
            suffix = name[len(jagged) :]
            if name.startswith(jagged) and suffix in JAGGED_VIEWS:
                return jagged_view(*self.elements(jagged), suffix)
        raise DatasetError(f"{self.name} has no column {name!r}")


def is_list_type(data_type: pa.DataType) -> bool:
    """True for list columns of numbers."""
    list_like = pa.types.is_list(data_type) or pa.types.is_large_list(data_type)
    return list_like and is_numeric_type(data_type.value_type)


def is_numeric_type(data_type: pa.DataType) -> bool:
    """True for integer, floating point, decimal and boolean columns, and for columns whose
    every value is empty (they read as NaN, and are reported)."""
    return (
        pa.types.is_null(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_decimal(data_type)
    )


def to_float64(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A float64 numpy array of an Arrow column; nulls become NaN."""
    if not pa.types.is_float64(values.type):
        values = pc.cast(values, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values.to_numpy(zero_copy_only=False)


def jagged_view(values: np.ndarray, counts: np.ndarray, suffix: str) -> np.ndarray:
    """The leading (`_1`) or sub-leading (`_2`) element of each row, or the count (`_n`)."""
    if suffix == "_n":
        return counts.astype(np.float64)
    index = int(suffix[1:]) - 1
    starts = np.cumsum(counts) - counts
    result = np.full(counts.shape, np.nan)
    present = counts > index
    result[present] = values[starts[present] + index]
    return result


def read_dataset(
    source: Path | bytes, name: str, room: Callable[[int], None] | None = None
) -> Dataset:
    """Read a CSV, parquet or ROOT file (a path, or the bytes of an upload), or a dataset folder
    of parquet parts, and validate it.

    `room(nbytes)`, when given, is asked before the table is built with the memory it will take
    (from the parquet metadata, or rows x columns of a CSV file), and refuses by raising.
    """
    if isinstance(source, Path) and source.is_dir():
        from app.histogram.folder_columns import read_folder_dataset

        return read_folder_dataset(source, name)
    suffix = Path(name).suffix.lower()
    if suffix in ROOT_SUFFIXES:
        from app.histogram.root_columns import read_root_dataset

        return read_root_dataset(source, name)
    if suffix not in DATA_SUFFIXES:
        allowed = ", ".join(DATA_SUFFIXES)
        raise DatasetError(f"{name}: unsupported file type {suffix or '(none)'}; use {allowed}")
    if isinstance(source, bytes):
        data = source
    elif suffix in PARQUET_SUFFIXES and source.is_file() and source.stat().st_size > 0:
        table, metadata = read_parquet_table(source, name, room)
        return validated_dataset(table, name, metadata)
    else:
        data = read_bytes(source)
    if not data.strip():
        raise DatasetError(f"{name} is empty")
    if suffix in PARQUET_SUFFIXES:
        table, metadata = read_parquet_table(io.BytesIO(data), name, room)
    else:
        table, metadata = read_csv_table(data, name, room), {}
    return validated_dataset(table, name, metadata)


def read_bytes(path: Path) -> bytes:
    """The bytes of a file, or a clear error."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not a file") from None
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror}") from None


def read_parquet_table(
    source: Path | io.BytesIO, name: str, room: Callable[[int], None] | None = None
) -> tuple[pa.Table, dict[str, str]]:
    """A parquet table (from a path, memory-mapped, or a buffer) and its readable metadata."""
    try:
        parquet = pq.ParquetFile(source, memory_map=isinstance(source, Path))
        check_column_count(parquet.metadata.num_columns, name)
        if room is not None:
            room(parquet_table_bytes(parquet.metadata))
        table = parquet.read(use_threads=True)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{name} is not a readable parquet file ({error})") from None
    return table, readable_metadata(table.schema.metadata or {})


def check_column_count(columns: int, name: str) -> None:
    """Refuse a file with more columns than the lab can list."""
    if columns > MAX_COLUMNS:
        raise DatasetError(
            f"{name} has {columns:,} columns; the histogram lab takes files of at most "
            f"{MAX_COLUMNS:,} (keep the columns you need)"
        )


def parquet_table_bytes(metadata: pq.FileMetaData) -> int:
    """About the memory a parquet file's table takes once read: its values unpacked."""
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            width = PHYSICAL_WIDTHS.get(chunk.physical_type, 0)
            total += max(chunk.total_uncompressed_size, chunk.num_values * width)
    return total


def readable_metadata(raw: dict[bytes, bytes]) -> dict[str, str]:
    """Schema metadata meant for people (e.g. dataset and note), without technical entries."""
    result: dict[str, str] = {}
    for key_bytes, value_bytes in raw.items():
        key = key_bytes.decode("utf-8", "replace")
        if key.startswith(TECHNICAL_METADATA):
            continue
        value = value_bytes.decode("utf-8", "replace")
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = value
        if isinstance(decoded, dict):
            result.update({str(k): str(v) for k, v in decoded.items()})
        else:
            result[key] = str(decoded)
    return result


def read_csv_table(data: bytes, name: str, room: Callable[[int], None] | None = None) -> pa.Table:
    """Parse CSV bytes with a header row; the delimiter is sniffed from the first lines."""
    sample = decoded_sample(data, name)
    delimiter = sniff_delimiter(sample)
    end = data.find(b"\n")
    header = data[: end if end >= 0 else len(data)]
    columns = header.count(delimiter.encode()) + 1  # (a quoted name may hold one: an upper bound)
    check_column_count(columns, name)
    if room is not None:
        room(CSV_VALUE_BYTES * (data.count(b"\n") + 1) * columns)
    try:
        return pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(use_threads=True),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
        )
    except pa.ArrowInvalid as error:
        raise DatasetError(csv_error_message(str(error), data, name)) from None


def decoded_sample(data: bytes, name: str) -> str:
    """The start of a file as text, or an error when it is not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DatasetError(f"{name} is UTF-16 text; save it as UTF-8 CSV")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(data[:SNIFF_BYTES], final=len(data) <= SNIFF_BYTES).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{name} is not UTF-8 text (line {line}); save it as UTF-8 CSV"
        ) from None


def sniff_delimiter(sample: str) -> str:
    """The field delimiter of CSV text: the first candidate (, ; tab | space) that splits every
    line of the sample into the same number of fields (quotes respected), else the standard
    sniffer's guess, else the header's commonest candidate."""
    lines = [line for line in sample.splitlines() if line.strip()][:SNIFF_LINES]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may end in the middle of a row
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        if len(counts) == 1 and counts.pop() > 1:
            return delimiter
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def csv_error_message(arrow_message: str, data: bytes, name: str) -> str:
    """A reader's message for an Arrow CSV error, with the line number of a ragged row."""
    ragged = re.search(r"Expected (\d+) columns, got (\d+): (.*)", arrow_message, re.S)
    if ragged:
        expected, got, row = ragged.groups()
        line = line_of(data, row.strip().encode("utf-8", "replace"))
        where = f"line {line}" if line else "a row"
        return f"{name}: {where} has {got} fields but the header has {expected} (ragged rows)"
    if "Empty CSV file" in arrow_message:
        return f"{name} is empty"
    return f"{name} cannot be read as CSV: {arrow_message.removeprefix('CSV parse error: ')}"


def line_of(data: bytes, row: bytes) -> int | None:
    """The 1-based line number where `row` starts in `data`, if found."""
    if not row:
        return None
    position = data.find(b"\n" + row)
    return data[: position + 1].count(b"\n") + 1 if position >= 0 else None


def validated_dataset(table: pa.Table, name: str, metadata: dict[str, str]) -> Dataset:
    """Keep numeric and list columns, reject tables that cannot make histograms."""
    if table.num_columns == 0:
        raise DatasetError(f"{name} is empty")
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    if binary:
        raise DatasetError(
            f"{name}: column {binary[0]!r} holds text that is not UTF-8; save the file as UTF-8"
        )
    if table.num_rows == 0:
        raise DatasetError(f"{name} has a header row but no data rows")
    table = plain_table(table)
    fields = list(table.schema)
    usable = [f.name for f in fields if is_numeric_type(f.type) or is_list_type(f.type)]
    ignored = tuple(f.name for f in fields if not (is_numeric_type(f.type) or is_list_type(f.type)))
    if not usable:
        raise DatasetError(f"{name} has no numeric column (columns: {names_text(ignored)})")
    duplicated = sorted(n for n, count in Counter(usable).items() if count > 1)
    if duplicated:
        raise DatasetError(f"{name}: column names appear twice: {names_text(duplicated)}")
    numeric = table.select(usable)
    return Dataset(
        name=name,
        table=numeric,
        metadata=metadata,
        ignored=ignored,
        missing=tuple(count_missing(numeric)),
    )


def names_text(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """A few column names for a message, and how many more there are."""
    listed = ", ".join(names[:shown])
    return f"{listed} and {len(names) - shown:,} more" if len(names) > shown else listed


def count_missing(table: pa.Table) -> Iterable[MissingValues]:
    """For every column with absent or infinite values, how many there are."""
    for column_name in table.column_names:
        column = table.column(column_name)
        of_what = "rows"
        if is_list_type(column.type):
            column, of_what = pc.list_flatten(column), "values"
        missing = column.null_count
        infinite = 0
        if pa.types.is_floating(column.type):
            missing += pc.sum(pc.is_nan(column)).as_py() or 0
            infinite = pc.sum(pc.is_inf(column)).as_py() or 0
        if missing or infinite:
            yield MissingValues(column_name, int(missing), int(infinite), len(column), of_what)


def count_missing_values(column: str, values: np.ndarray, of_what: str = "rows") -> MissingValues:
    """How many values of a float array are absent (NaN) or infinite."""
    infinite = int(np.count_nonzero(np.isinf(values)))
    missing = int(values.size - np.count_nonzero(np.isfinite(values))) - infinite
    return MissingValues(column, missing, infinite, values.size, of_what)


def missing_note(dataset: Dataset) -> str:
    """A short note (HTML) about columns with empty values, the first few written out and
    the rest in a collapsed list; "" when every value is there."""
    entries = [entry for entry in dataset.missing if entry.missing]
    if not entries:
        return ""
    shown = html.escape("; ".join(entry.describe() for entry in entries[:MISSING_SHOWN]))
    note = (
        "<p style='margin:4px 0'>Empty values (an object the event does not have) are left out "
        f"of histograms and counted as <i>no value</i>. {shown}.</p>"
    )
    rest = entries[MISSING_SHOWN:]
    if not rest:
        return note
    items = "".join(f"<li>{html.escape(entry.describe())}</li>" for entry in rest[:MISSING_LISTED])
    if len(rest) > MISSING_LISTED:
        items += f"<li>and {len(rest) - MISSING_LISTED:,} more</li>"
    return (
        f"{note}<details><summary>Other columns with empty values ({len(rest):,})</summary>"
        f"<ul>{items}</ul></details>"
    )


def missing_problems(dataset: Dataset) -> str:
    """A warning about infinite values and columns with no value at all, or "" if none."""
    problems = [entry for entry in dataset.missing if entry.is_problem]
    if not problems:
        return ""
    listed = "; ".join(entry.describe() for entry in problems[:MISSING_SHOWN])
    more = len(problems) - MISSING_SHOWN
    tail = f" and {more} more" if more > 0 else ""
    return (
        f"Check these columns: {listed}{tail}. Infinite values and empty values are left out "
        "of histograms and counted under 'no value' in the statistics."
    )
