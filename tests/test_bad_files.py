"""Damaged, truncated and wrong files: one plain line each, exit code 2, no output file.

The damaged files are real copies of the real PHYSLITE example and of the RNTuple twin of the
toy sample, truncated or with bytes overwritten in their middle.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import uproot
from conftest import eventlab

from converters import InputFileError, columns_table, convert_events
from sample_events import make

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TWIN = make.DATA_DIR / make.RNTUPLE_NAME
INTERNALS = ("Chunk", "TBasket", "FSSpecSource", "fNbytes", "Deserialization", "Traceback")


def damaged(
    source: Path, target: Path, at: int | None = None, size: int = 400, fill: bytes = b"\x55"
) -> Path:
    """A copy of `source` with `size` bytes overwritten at `at`, or cut off at `size` bytes."""
    data = bytearray(source.read_bytes())
    if at is None:
        data = data[:size]
    else:
        data[at : at + size] = fill * size
    target.write_bytes(bytes(data))
    return target


def basket_offset(path: Path, branch: str) -> int:
    """Where the first basket of a branch of the example's CollectionTree starts."""
    with uproot.open(path) as file:
        return int(file["CollectionTree"][branch].member("fBasketSeek")[0])


def assert_one_plain_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2, a single line on stderr holding `fragments`, no library internals."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in INTERNALS:
        assert word not in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["convert", "columns"])
def test_truncated_example_says_how_much_is_missing(physlite_example, tmp_path, command):
    broken = damaged(physlite_example, tmp_path / "cut.root", size=800_000)
    output = tmp_path / ("out.json" if command == "convert" else "out.parquet")
    result = eventlab(command, broken, "-o", output)
    line = assert_one_plain_line(
        result,
        "the file ends after 800 kB but its header says 1.64 MB: it is truncated;"
        " download it again",
    )
    assert line.startswith(f"eventlab {command}: error: {broken}: ")
    assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.root"]


def test_a_few_missing_bytes_at_the_end_are_found_too(physlite_example, tmp_path):
    size = physlite_example.stat().st_size
    broken = damaged(physlite_example, tmp_path / "short.root", size=size - 100)
    with pytest.raises(InputFileError, match=f"ends after {size - 100:,} bytes but its header"):
        convert_events(broken)
    head = damaged(physlite_example, tmp_path / "head.root", size=50)
    with pytest.raises(InputFileError, match="ends after 50 bytes, inside its header"):
        convert_events(head)


@pytest.mark.parametrize(
    ("offset_in_basket", "kind"),
    [(200, "its compressed data do not unpack"), (0, "its data are garbled")],
)
def test_damaged_middle_names_the_branch_in_one_line(
    physlite_example, tmp_path, offset_in_basket, kind
):
    at = basket_offset(physlite_example, "AnalysisJetsAuxDyn.pt") + offset_in_basket
    broken = damaged(physlite_example, tmp_path / "damaged.root", at=at, size=40)
    output = tmp_path / "out.json"
    result = eventlab("convert", broken, "-o", output)
    assert_one_plain_line(
        result,
        "the file is damaged: branch AnalysisJetsAuxDyn.pt cannot be read for entries 0-99",
        kind,
        "download it again",
    )
    assert not output.exists()


@pytest.mark.parametrize(
    ("fill", "message"),
    [(b"\x00", "lists nothing although it holds 1.64 MB"), (b"\x55", "cannot be read")],
)
def test_damaged_table_of_contents(physlite_example, tmp_path, fill, message):
    broken = damaged(physlite_example, tmp_path / "keys.root", at=100, size=300, fill=fill)
    with pytest.raises(
        InputFileError, match=f"the file is damaged: its table of contents {message}"
    ):
        convert_events(broken)


def test_truncated_rntuple(tmp_path):
    broken = damaged(TWIN, tmp_path / "cut.root", size=800_000)
    expected = f"header says {TWIN.stat().st_size / 1e6:.2f} MB: it is truncated"
    result = eventlab("columns", broken, "-o", tmp_path / "out.parquet")
    assert_one_plain_line(result, "the file ends after 800 kB but its", expected)


def test_damaged_rntuple_page_names_the_field(tmp_path):
    broken = damaged(TWIN, tmp_path / "page.root", at=TWIN.stat().st_size // 2)
    result = eventlab("convert", broken, "-o", tmp_path / "out.json")
    assert_one_plain_line(result, "the file is damaged: field ", "of the RNTuple 'EventData'")


@pytest.mark.parametrize(
    ("part", "holds"), [("header", "its fields"), ("footer", "its clusters and pages")]
)
def test_damaged_rntuple_header_or_footer(tmp_path, part, holds):
    with uproot.open(TWIN) as file:
        anchor = file["EventData"]
        at = int(anchor.member(f"fSeek{part.title()}")) + 20
    broken = damaged(TWIN, tmp_path / f"{part}.root", at=at, size=40)
    result = eventlab("convert", broken, "-o", tmp_path / "out.json")
    assert_one_plain_line(
        result,
        f"the file is damaged: the {part} of the RNTuple 'EventData'",
        f"(the description of {holds}) cannot be read; download it again",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"run,event,pt\n1,2,3\n" * 50, "not a ROOT file: it is a text file"),
        (b'{"1-2": {"Jets": {}}}', "not a ROOT file: it is a JSON file"),
        (b"PAR1" + bytes(200), "not a ROOT file: it is a parquet file"),
        (b"\x89HDF\r\n\x1a\n" + bytes(500), "not a ROOT file: it is an HDF5 file"),
        (b"<!DOCTYPE html><html>" + b" " * 500, "an HTML or XML page"),
        (bytes(range(256)) * 4, "not a ROOT file (no ROOT signature at its start)"),
    ],
)
def test_wrong_formats_say_what_they_are(tmp_path, content, message):
    path = tmp_path / "input.root"
    path.write_bytes(content)
    result = eventlab("convert", path, "-o", tmp_path / "out.json")
    assert_one_plain_line(result, message)


def test_python_api_raises_the_same_plain_errors(physlite_example, tmp_path):
    broken = damaged(physlite_example, tmp_path / "cut.root", size=800_000)
    for function in (convert_events, columns_table):
        with pytest.raises(InputFileError) as caught:
            function(broken)
        assert "\n" not in str(caught.value)
        assert "it is truncated; download it again" in str(caught.value)
