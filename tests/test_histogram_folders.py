"""Data folders of `eventlab serve`: a teacher's folder adds to the bundled samples."""

from __future__ import annotations

import pytest
from bokeh.document import Document

from app.cli import build_parser
from app.config import BUNDLED_DATA_DIR
from app.histogram.view import HistogramLab
from app.server import build_config


def lab_for(*options: str) -> HistogramLab:
    """A histogram lab of a server started with these options."""
    config = build_config(build_parser().parse_args(["serve", *options]))
    lab = HistogramLab(config)
    lab.layout.get_root(Document())
    return lab


def test_a_data_folder_adds_to_the_bundled_samples(tmp_path):
    (tmp_path / "class.csv").write_text("pt1,pt2\n10,20\n30,40\n")
    lab = lab_for("--data-dir", str(tmp_path))
    assert {"class.csv", "toy_events.parquet"} <= set(lab.files)
    lab.exercise_select.value = "z_to_mumu"  # a bundled exercise on a bundled file
    assert not lab.error_alert.visible
    assert lab.dataset_select.value == "file:toy_events.parquet"
    assert lab.cut_input.value == "n_muons == 2"


def test_no_samples_leaves_the_bundled_files_out(tmp_path):
    (tmp_path / "class.csv").write_text("pt1,pt2\n10,20\n30,40\n")
    config = build_config(
        build_parser().parse_args(["serve", "--no-samples", "--data-dir", str(tmp_path)])
    )
    assert config.data_dirs == (tmp_path.resolve(),)
    assert BUNDLED_DATA_DIR.resolve() not in config.data_dirs
    lab = HistogramLab(config)
    assert set(lab.files) == {"class.csv"}


def test_serve_help_says_what_the_folders_hold(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "besides the bundled samples" in text
    assert "CSV/parquet/ROOT column files" in text and "Phoenix event files" in text
    assert "--no-samples" in text
