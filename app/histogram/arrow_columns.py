"""Arrow columns as the histogram lab takes them: plain storage types, records split into columns.

Files written by awkward (`ak.to_parquet`, NanoAOD converted with coffea) carry Arrow extension
types; once awkward is imported in the process, pyarrow reads every column as such a type, which
is neither a number nor a list to the lab. Records (`Muon: list<struct<pt, eta>>`) become one
column per field (`Muon_pt`, `Muon_eta`), as NanoAOD names them in ROOT.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa


def plain_table(table: pa.Table) -> pa.Table:
    """The table with extension types replaced by their storage and record fields split out."""
    if not any(needs_work(field.type) for field in table.schema):
        return table
    names: list[str] = []
    columns: list[pa.ChunkedArray] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        chunks = [plain_array(chunk) for chunk in column.chunks]
        plain_type = plain_array_type(column.type)
        for part_name, part in split_records(name, pa.chunked_array(chunks, plain_type)):
            names.append(part_name)
            columns.append(part)
    return pa.Table.from_arrays(columns, names=names, metadata=table.schema.metadata)


def needs_work(data_type: pa.DataType) -> bool:
    """Whether a type holds an extension type or a record anywhere inside."""
    if isinstance(data_type, pa.ExtensionType) or pa.types.is_struct(data_type):
        return True
    if is_list_like(data_type):
        return needs_work(data_type.value_type)
    return False


def is_list_like(data_type: pa.DataType) -> bool:
    """List, large list or fixed-size list types."""
    return (
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
    )


def plain_array_type(data_type: pa.DataType) -> pa.DataType:
    """The type with every extension type replaced by its storage type."""
    if isinstance(data_type, pa.ExtensionType):
        return plain_array_type(data_type.storage_type)
    if pa.types.is_large_list(data_type):
        return pa.large_list(plain_array_type(data_type.value_type))
    if pa.types.is_list(data_type) or pa.types.is_fixed_size_list(data_type):
        return pa.large_list(plain_array_type(data_type.value_type))
    if pa.types.is_struct(data_type):
        fields = [data_type.field(i) for i in range(data_type.num_fields)]
        return pa.struct([pa.field(f.name, plain_array_type(f.type)) for f in fields])
    return data_type


def plain_array(array: pa.Array) -> pa.Array:
    """The array with every extension type replaced by its storage (lists become large lists)."""
    if isinstance(array, pa.ExtensionArray):
        return plain_array(array.storage)
    if isinstance(array, pa.FixedSizeListArray):
        size = array.type.list_size
        offsets = pa.array(range(0, (len(array) + 1) * size, size), pa.int64())
        values = array.values.slice(array.offset * size, len(array) * size)
        return pa.LargeListArray.from_arrays(offsets, plain_array(values), mask=array.is_null())
    if isinstance(array, pa.ListArray | pa.LargeListArray):
        offsets = array.offsets.cast(pa.int64())
        mask = array.is_null() if array.null_count else None
        return pa.LargeListArray.from_arrays(offsets, plain_array(array.values), mask=mask)
    if isinstance(array, pa.StructArray):
        fields = [array.type.field(i) for i in range(array.type.num_fields)]
        children = [plain_array(array.field(i)) for i in range(len(fields))]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, names=[f.name for f in fields], mask=mask)
    return array


def split_records(name: str, column: pa.ChunkedArray) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """A column, or for a record (or a list of records) one column per field, named NAME_FIELD."""
    data_type = column.type
    if pa.types.is_struct(data_type):
        for index in range(data_type.num_fields):
            child = pa.chunked_array(
                [struct_field(chunk, index) for chunk in column.chunks],
                data_type.field(index).type,
            )
            yield from split_records(f"{name}_{data_type.field(index).name}", child)
        return
    if pa.types.is_large_list(data_type) and pa.types.is_struct(data_type.value_type):
        record = data_type.value_type
        for index in range(record.num_fields):
            chunks = [list_of_field(chunk, index) for chunk in column.chunks]
            child = pa.chunked_array(chunks, pa.large_list(record.field(index).type))
            yield from split_records(f"{name}_{record.field(index).name}", child)
        return
    yield name, column


def struct_field(chunk: pa.StructArray, index: int) -> pa.Array:
    """One field of a record array, null where the record is null."""
    return chunk.flatten()[index]


def list_of_field(chunk: pa.LargeListArray, index: int) -> pa.LargeListArray:
    """The lists of one field of a list-of-records array."""
    mask = chunk.is_null() if chunk.null_count else None
    values = chunk.values.flatten()[index]
    return pa.LargeListArray.from_arrays(chunk.offsets, values, mask=mask)
