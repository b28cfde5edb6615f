"""`eventlab convert` and `eventlab columns` as a user runs them: messages, exit codes, files."""

import json
import subprocess

import pyarrow.parquet as pq
import pytest
from conftest import eventlab


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit with one clear line and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_convert_writes_phoenix_json_and_a_summary(physlite_example, tmp_path):
    output = tmp_path / "first.json"
    result = eventlab("convert", physlite_example, "--events", "0:5", "-o", output)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(output.read_text())) == 5
    assert "5 events from 1 file(s)" in result.stdout
    assert "CaloCalTopoClusters" in result.stderr  # the missing collection is warned about


def test_convert_by_event_number_and_selection(physlite_example, tmp_path):
    output = tmp_path / "chosen.json.gz"
    result = eventlab("convert", physlite_example, "--event-numbers", "7608691", "-o", output)
    assert result.returncode == 0, result.stderr
    selected = tmp_path / "selected.json"
    result = eventlab("convert", physlite_example, "--select", "n_leptons >= 2", "-o", selected)
    assert result.returncode == 0, result.stderr
    assert all(
        len(e["Electrons"]["AnalysisElectrons"]) + len(e["Muons"]["AnalysisMuons"]) >= 2
        for e in json.loads(selected.read_text()).values()
    )


def test_columns_writes_one_row_per_event(physlite_example, tmp_path):
    output = tmp_path / "columns.parquet"
    result = eventlab("columns", physlite_example, "-o", output, "--max-jets", "6")
    assert result.returncode == 0, result.stderr
    table = pq.read_table(output)
    assert table.num_rows == 100
    assert "jet6_pt" in table.column_names


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda tmp: tmp / "absent.root", "no such file"),
        (
            lambda tmp: (tmp / "text.root").write_text("not root" * 100) and tmp / "text.root",
            "not a ROOT file",
        ),
        (lambda tmp: tmp, "is a folder"),
    ],
)
def test_bad_inputs_fail_with_one_clear_line(tmp_path, make_input, message):
    output = tmp_path / "out.json"
    result = eventlab("convert", make_input(tmp_path), "-o", output)
    assert_clean_error(result, message)
    assert not output.exists()


def test_bad_selections_fail_clearly(physlite_example, tmp_path):
    output = tmp_path / "out.json"
    result = eventlab("convert", physlite_example, "--select", "n_jets >", "-o", output)
    assert_clean_error(result, "n_jets >")
    result = eventlab("convert", physlite_example, "--select", "__import__('os')", "-o", output)
    assert_clean_error(result)
    result = eventlab("convert", physlite_example, "--select", "n_jets > 999", "-o", output)
    assert_clean_error(result, "no event passes")
    result = eventlab("convert", physlite_example, "--events", "abc", "-o", output)
    assert_clean_error(result, "--events")
    result = eventlab("columns", physlite_example, "-o", tmp_path / "out.txt")
    assert_clean_error(result, ".parquet or .csv")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_fails_clearly(tmp_path):
    result = eventlab("convert", "http://127.0.0.1:9/missing.root", "-o", tmp_path / "o.json")
    assert_clean_error(result, "cannot open the URL")
