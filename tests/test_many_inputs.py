"""Many inputs for `columns` and `convert --select`: paths, globs, URLs and @lists of them."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_ROOT, eventlab
from test_rntuple import assert_same_columns

from converters.errors import EventLabError
from converters.inputs import expand_inputs

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"


@pytest.fixture()
def inputs(tmp_path):
    """Two copies of the toy file (TTree) and its RNTuple twin in one folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(TOY, folder / "a.root")
    shutil.copy(TOY, folder / "b.root")
    shutil.copy(TOY_RNTUPLE, folder / "c_rntuple.root")
    return folder


def test_globs_lists_and_urls_expand_in_order(inputs, tmp_path):
    listing = inputs / "files.txt"
    listing.write_text(
        "# from get-file-locations\n\nb.root\nhttps://example.org/x.root\n  *_rntuple.root  \n"
    )
    assert expand_inputs([str(inputs / "*.root")]) == [
        str(inputs / name) for name in ("a.root", "b.root", "c_rntuple.root")
    ]
    assert expand_inputs([f"@{listing}", str(inputs / "a.root")]) == [
        str(inputs / "b.root"),
        "https://example.org/x.root",
        str(inputs / "c_rntuple.root"),
        str(inputs / "a.root"),
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["missing/*.root"], "missing/*.root: no file matches this pattern"),
        (["@nowhere.txt"], "@nowhere.txt: no such file list"),
    ],
)
def test_bad_names_say_what_is_wrong(names, message):
    with pytest.raises(EventLabError, match=message.replace("*", r"\*")):
        expand_inputs(names)


def test_an_empty_list_is_refused(tmp_path):
    listing = tmp_path / "empty.txt"
    listing.write_text("# nothing yet\n")
    with pytest.raises(EventLabError, match="names no file"):
        expand_inputs([f"@{listing}"])


def test_columns_over_a_list_and_a_glob(inputs, tmp_path):
    (inputs / "files.txt").write_text("a.root\nc_rntuple.root\n")
    single = tmp_path / "single.parquet"
    assert eventlab("columns", TOY, "-o", single).returncode == 0
    rows = pq.read_table(single).num_rows
    listed = tmp_path / "listed.parquet"
    result = eventlab("columns", f"@{inputs / 'files.txt'}", "-o", listed)
    assert result.returncode == 0, result.stderr
    assert "from 2 file(s)" in result.stdout
    table = pq.read_table(listed)
    assert table.num_rows == 2 * rows
    # The TTree and its RNTuple twin give the same rows.
    assert_same_columns(table.slice(0, rows), table.slice(rows, rows))
    globbed = tmp_path / "globbed.csv"
    result = eventlab("columns", inputs / "*.root", "-o", globbed)
    assert result.returncode == 0, result.stderr
    assert len(globbed.read_text().splitlines()) == 3 * rows + 1


def test_convert_select_over_a_glob(inputs, tmp_path):
    output = tmp_path / "selected.json"
    result = eventlab("convert", inputs / "[ab].root", "--select", "n_muons >= 2", "-o", output)
    assert result.returncode == 0, result.stderr
    assert "from 2 file(s)" in result.stdout
    events = json.loads(output.read_text())
    assert events and all(len(e["Muons"]["AnalysisMuons"]) >= 2 for e in events.values())
    repeated = [key for key in events if "#" in key]  # the second copy's keys made unique
    assert len(repeated) == len(events) // 2


def test_a_pattern_matching_nothing_is_one_line(tmp_path):
    result = eventlab("columns", tmp_path / "*.root", "-o", tmp_path / "c.parquet")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("*.root: no file matches this pattern")
