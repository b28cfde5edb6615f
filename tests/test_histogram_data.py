"""Reading column files for the histogram lab: formats, validation, list columns, safe names."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.histogram.catalog import list_data_files, open_data_file, resolve_data_file
from app.histogram.data import missing_note, missing_problems, read_dataset
from app.histogram.errors import DatasetError


def test_csv_comma_header_and_numbers():
    dataset = read_dataset(b"pt1,eta1,Q1\n10.5,0.1,-1\n20,1.2,1\n", "a.csv")
    assert dataset.n_rows == 2
    assert dataset.names == ["pt1", "eta1", "Q1"]
    np.testing.assert_allclose(dataset.column("pt1"), [10.5, 20.0])
    assert dataset.column("Q1").dtype == np.float64


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiter_is_sniffed(delimiter):
    text = f"a{delimiter}b\n1{delimiter}2\n3{delimiter}4\n".encode()
    dataset = read_dataset(text, "sniffed.csv")
    np.testing.assert_allclose(dataset.column("b"), [2, 4])


def test_text_columns_are_ignored_and_reported():
    dataset = read_dataset(b"name,x\nalpha,1\nbeta,2\n", "mixed.csv")
    assert dataset.names == ["x"]
    assert dataset.ignored == ("name",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"a,b\n", "header row but no data rows"),
        (b"name,city\nann,paris\n", "no numeric column"),
        (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields but the header has 2"),
        (b"a,b\n1,2\n3\n", "line 3 has 1 fields"),
        (b"a,b\n1,caf\xe9\n", "not UTF-8"),
        (b"\xff\xfea\x00,\x00b\x00\n\x00", "UTF-16"),
    ],
)
def test_bad_csv_gives_a_clear_message(content, message):
    with pytest.raises(DatasetError, match=message):
        read_dataset(content, "bad.csv")


def test_nan_and_inf_are_counted_not_dropped():
    dataset = read_dataset(b"a,b\n1,inf\nnan,2\n,3\n4,-inf\n", "holes.csv")
    counts = {entry.column: (entry.missing, entry.infinite) for entry in dataset.missing}
    assert counts == {"a": (2, 0), "b": (0, 2)}
    assert dataset.n_rows == 4
    assert np.isnan(dataset.column("a")).sum() == 2
    assert "a: 2 of 4 rows have no value" in missing_note(dataset)
    assert "b" not in missing_note(dataset).split("value")[-1]
    assert "b: 2 of 4 rows are infinite" in missing_problems(dataset)
    assert "a:" not in missing_problems(dataset)


def test_empty_values_are_a_note_but_an_empty_column_is_a_problem():
    rows = "".join(f"{i},{i if i % 2 else ''},,{i if i % 3 else ''}\n" for i in range(12))
    dataset = read_dataset(f"n,half,none,two_thirds\n{rows}".encode(), "holes.csv")
    note = missing_note(dataset)
    assert note.startswith("<p style='margin:4px 0'>Empty values")
    assert "half: 6 of 12 rows have no value" in note
    assert "<details><summary>Other columns with empty values (2)</summary>" in note
    assert "<li>two_thirds: 4 of 12 rows have no value</li>" in note
    assert missing_problems(dataset).startswith("Check these columns: none: 12 of 12 rows")
    assert "half" not in missing_problems(dataset)
    assert np.isnan(dataset.column("none")).all() and not dataset.ignored


def test_unsupported_suffix():
    with pytest.raises(DatasetError, match=r"unsupported file type \.json"):
        read_dataset(b"x", "events.json")


def test_not_a_parquet_file():
    with pytest.raises(DatasetError, match="not a readable parquet file"):
        read_dataset(b"a,b\n1,2\n", "fake.parquet")


@pytest.fixture
def nanoaod_like(tmp_path):
    """A parquet file with NanoAOD-style list columns and schema metadata."""
    table = pa.table(
        {
            "nMuon": pa.array([2, 0, 1], pa.int32()),
            "Muon_pt": pa.array([[50.0, 30.0], [], [20.0]], pa.list_(pa.float32())),
            "MET_pt": [10.0, 20.0, 30.0],
        }
    ).replace_schema_metadata({"dataset": "toy", "note": "not real data"})
    path = tmp_path / "nano.parquet"
    pq.write_table(table, path)
    return path


def test_list_columns_offer_leading_subleading_count_and_all(nanoaod_like):
    dataset = read_dataset(nanoaod_like, nanoaod_like.name)
    assert dataset.jagged_columns == ["Muon_pt"]
    assert {"Muon_pt_1", "Muon_pt_2", "Muon_pt_n"} <= set(dataset.names)
    np.testing.assert_allclose(dataset.column("Muon_pt_1"), [50, np.nan, 20])
    np.testing.assert_allclose(dataset.column("Muon_pt_2"), [30, np.nan, np.nan])
    np.testing.assert_allclose(dataset.column("Muon_pt_n"), [2, 0, 1])
    values, counts = dataset.elements("Muon_pt")
    np.testing.assert_allclose(values, [50, 30, 20])
    np.testing.assert_array_equal(counts, [2, 0, 1])
    assert dataset.metadata == {"dataset": "toy", "note": "not real data"}


def test_columns_are_read_only(nanoaod_like):
    dataset = read_dataset(nanoaod_like, nanoaod_like.name)
    with pytest.raises(ValueError):
        dataset.column("MET_pt")[0] = 1.0


def test_catalog_lists_and_opens_only_plain_names(tmp_path, nanoaod_like):
    (tmp_path / "notes.md").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("a\n1\n")
    assert [item.name for item in list_data_files((tmp_path,))] == ["nano.parquet"]
    assert open_data_file("nano.parquet", (tmp_path,)).n_rows == 3
    first = open_data_file("nano.parquet", (tmp_path,))
    assert open_data_file("nano.parquet", (tmp_path,)) is first


def test_shared_files_are_kept_within_a_bound_per_process(tmp_path, monkeypatch):
    from app import caches
    from app.histogram import catalog, data

    rows = np.arange(10_000, dtype=np.float64)
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("x\n" + "\n".join(map(str, rows)) + "\n")
    monkeypatch.setattr(catalog, "SHARED_TABLES", caches.SizeBoundedCache(100_000))
    first = catalog.open_data_file("a.csv", (tmp_path,))
    assert catalog.open_data_file("a.csv", (tmp_path,)) is first
    catalog.open_data_file("b.csv", (tmp_path,))  # 80 kB more: a.csv no longer fits
    assert catalog.open_data_file("a.csv", (tmp_path,)) is not first
    assert catalog.SHARED_TABLES.nbytes <= 100_000

    conversions = caches.SizeBoundedCache(100_000)
    monkeypatch.setattr(data, "SHARED_CONVERSIONS", conversions)
    one, two = (read_dataset(tmp_path / n, n) for n in ("a.csv", "b.csv"))
    one._arrays = two._arrays = conversions  # as every shared file's dataset does
    np.testing.assert_array_equal(one.column("x"), rows)
    np.testing.assert_array_equal(two.column("x"), rows)
    assert conversions.nbytes == rows.nbytes  # one bound for the conversions of all shared files


@pytest.mark.parametrize(
    "name", ["../nano.parquet", "/etc/passwd", "sub/nano.parquet", "..", "a\\b.csv", ".hidden.csv"]
)
def test_catalog_refuses_paths(tmp_path, name):
    (tmp_path / ".hidden.csv").write_text("a\n1\n")
    with pytest.raises(DatasetError, match="not a plain file name"):
        resolve_data_file(name, (tmp_path,))


def test_catalog_refuses_symlink_leaving_the_folder(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    with pytest.raises(DatasetError, match="no data file named"):
        resolve_data_file("link.csv", (folder,))


def test_real_cms_csv(cms_zmumu_csv):
    dataset = read_dataset(cms_zmumu_csv, cms_zmumu_csv.name)
    assert dataset.n_rows == 10583
    assert {"pt1", "eta1", "phi1", "Q1", "pt2", "eta2", "phi2", "Q2"} <= set(dataset.names)
    assert not dataset.missing


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ('"lep pt","lep eta"\n1,2\n3,4\n', ["lep pt", "lep eta"]),
        ('"a ""quoted"" name",b\n1,2\n', ['a "quoted" name', "b"]),
        ("a;b\n1,5;2\n", ["a", "b"]),
    ],
)
def test_quoted_headers_with_spaces_keep_their_delimiter(text, columns):
    dataset = read_dataset(text.encode(), "quoted.csv")
    assert sorted([*dataset.table.column_names, *dataset.ignored]) == sorted(columns)
