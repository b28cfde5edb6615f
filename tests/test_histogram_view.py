"""The Histograms tab without a browser: widgets wired to filling, fitting, links, exercises."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bokeh.document import Document

from app.config import AppConfig
from app.histogram.links import LinkSettings, settings_from_query, settings_query
from app.histogram.view import HistogramLab

N_ROWS = 20_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data folder with a toy-like parquet file: a Z peak, a Higgs peak, weights, NaNs."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(7)
    channel = rng.choice([999002, 999003], N_ROWS, p=[0.8, 0.2])
    mass = np.where(channel == 999003, rng.normal(125, 2, N_ROWS), rng.normal(91.2, 2.5, N_ROWS))
    table = pa.table(
        {
            "mc_channel": pa.array(channel, pa.int32()),
            "weight": rng.uniform(0.5, 1.5, N_ROWS),
            "n_muons": pa.array(rng.integers(0, 3, N_ROWS), pa.int16()),
            "m_ll": mass,
            "lep1_pt": rng.exponential(40, N_ROWS),
            "lep3_pt": np.where(rng.uniform(size=N_ROWS) < 0.5, np.nan, 20.0),
        }
    ).replace_schema_metadata({"dataset": "test sample", "note": "made by the tests"})
    pq.write_table(table, folder / "toy_events.parquet")
    (folder / "small.csv").write_text("pt1,pt2\n10,20\n30,40\n")
    return folder


@pytest.fixture
def lab(data_dir):
    lab = HistogramLab(AppConfig(data_dirs=(data_dir,), max_upload_mb=0.001))
    lab.layout.get_root(Document())  # attach, as a served session does
    return lab


def shown_counts(lab) -> float:
    return float(lab.plot.layers[0].histogram.counts.sum())


def test_opens_the_bundled_sample_with_its_description(lab):
    assert lab.dataset_select.value == "file:toy_events.parquet"
    assert lab.x_input.value == "m_ll"
    assert "test sample" in lab.dataset_info.object
    assert not lab.notice_alert.visible
    assert lab.cut_input.placeholder == "e.g. lep1_pt > 20 & n_muons >= 2"
    assert "Choose an exercise" in lab.exercise_text.object
    assert "m_ll [GeV]" in lab.variable_select.options
    assert lab.plot is not None and lab.plot.x_label == "m_ll [GeV]"
    assert not lab.error_alert.visible
    assert "Statistics" in lab.stats_pane.object


def test_empty_values_are_a_note_and_counted_for_the_columns_in_use(lab, data_dir):
    table = pq.read_table(data_dir / "toy_events.parquet")
    empty = int(np.isnan(table.column("lep3_pt").to_numpy()).sum())
    assert 0 < empty < N_ROWS
    described = f"lep3_pt: {empty:,} of {N_ROWS:,} rows have no value"
    assert described in lab.dataset_info.object
    assert "Columns in use" not in lab.stats_pane.object
    lab.x_input.value = "lep3_pt * 2"
    assert described in lab.stats_pane.object
    assert f"<td>{empty:,}</td></tr>" in lab.stats_pane.object  # the "no value" column
    lab.x_input.value = "m_ll"
    lab.cut_input.value = "lep3_pt > 10"
    assert described in lab.stats_pane.object
    assert not lab.notice_alert.visible


def test_infinite_values_are_a_warning(lab):
    lab.upload.value = {"inf.csv": b"a,b\n1,inf\n2,3\n"}
    assert lab.notice_alert.visible
    assert "b: 1 of 2 rows are infinite" in lab.notice_alert.object


def test_cut_bins_and_range_change_the_plot(lab):
    total = shown_counts(lab)
    lab.cut_input.value = "mc_channel == 999003"
    assert shown_counts(lab) < 0.5 * total
    lab.bins_input.value = 17
    assert lab.plot.layers[0].histogram.counts.size == 17
    lab.low_input.value = 110.0
    lab.high_input.value = 140.0
    assert not lab.auto_range.value
    assert lab.plot.layers[0].histogram.edges[0] == 110.0
    assert "999003" in lab.link_text.value and "h_bins=17" in lab.link_text.value


def test_bad_cut_shows_an_alert_with_a_caret(lab):
    lab.cut_input.value = "m_ll > 80 & nope > 1"
    assert lab.error_alert.visible
    assert "nope" in lab.error_alert.object and "^" in lab.error_alert.object
    lab.cut_input.value = "m_ll > 80"
    assert not lab.error_alert.visible


def test_fit_table_and_curve(lab):
    lab.low_input.value, lab.high_input.value = 70.0, 110.0
    lab.fit_select.value = "gauss"
    assert lab.fit is not None and abs(lab.fit.parameter("mass").value - 91.2) < 0.2
    assert "mass" in lab.fit_pane.object and "χ²/ndf" in lab.fit_pane.object
    assert lab.plot.fit_curve() is not None and lab.fit_pane.visible
    lab.fit_select.value = ""
    assert not lab.fit_pane.visible


def test_stack_by_channel_with_weights(lab):
    lab.weight_select.value = "weight"
    lab.stack_select.value = "mc_channel"
    styles = [layer.style for layer in lab.plot.layers]
    assert styles == ["stack", "stack"]
    assert {layer.label for layer in lab.plot.layers} == {"Z → μμ", "H → 4ℓ"}


def test_overlays_and_csv_export(lab):
    lab.cut_input.value = "n_muons == 0"
    lab._add_overlay("step")
    lab.cut_input.value = "n_muons == 2"
    labels = [layer.label for layer in lab.plot.layers]
    assert labels == ["toy_events.parquet: n_muons == 2", "toy_events.parquet: n_muons == 0"]
    csv = lab._csv_file().getvalue().decode()
    assert csv.splitlines()[0].startswith("low_edge,high_edge,toy_events.parquet: n_muons == 2")
    assert lab._png_file().getvalue().startswith(b"\x89PNG")


def test_keep_derived_column(lab):
    lab.x_input.value = "m_ll * 2"
    lab.keep_name.value = "double_m"
    lab.keep_button.clicks += 1
    assert lab.x_input.value == "double_m"
    assert "double_m" in lab.variable_select.options.values()
    lab.cut_input.value = "double_m > 200"
    assert not lab.error_alert.visible


def test_upload_over_the_limit_is_refused(lab):
    lab.upload.value = {"big.csv": b"a\n" + b"1\n" * 2000}
    assert lab.error_alert.visible and "upload limit" in lab.error_alert.object


def test_upload_of_a_bad_file_is_explained(data_dir):
    lab = HistogramLab(AppConfig(data_dirs=(data_dir,)))
    lab.upload.value = {"../../evil.csv": b"a,b\n1,2\n3\n"}
    assert lab.error_alert.visible and "ragged" in lab.error_alert.object
    lab.upload.value = {"good.csv": b"a;b\n1;2\n3;4\n"}
    assert lab.dataset_select.value == "upload:good.csv"
    assert not lab.error_alert.visible


def test_exercise_loads_dataset_and_step(lab, data_dir):
    lab.exercise_select.value = "z_to_mumu"
    assert lab.exercise is not None and "Step 1 of" in lab.exercise_text.object
    assert lab.cut_input.value == "n_muons == 2"
    lab.next_button.clicks += 1
    assert lab.x_input.value.startswith("inv_mass(")
    answer_row = lab.questions.objects[0]
    answer_box = answer_row.objects[1].objects[0]
    answer_box.value = "91"
    assert "Correct" in answer_row.objects[2].object


def test_exercise_with_a_missing_file_says_where_to_get_it(lab):
    lab.exercise_select.value = "cms_dimuon_csv"
    assert lab.error_alert.visible
    assert "Zmumu_Run2011A.csv" in lab.error_alert.object
    assert "545" in lab.error_alert.object
    lab.exercise_select.value = ""  # no exercise: the message about its file goes
    assert not lab.error_alert.visible


def test_a_broken_exercise_file_is_listed_with_its_mistake(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir(parents=True)
    (exercises / "broken.yaml").write_text("title: Half written\nsteps: [\n")
    lab = HistogramLab(AppConfig(data_dirs=(tmp_path,)))
    shown = lab.exercise_problems_pane.object
    assert "1 exercise file" in shown and "broken.yaml" in shown


def test_link_round_trip_and_untrusted_values():
    settings = LinkSettings(dataset="toy_events.parquet", x="m_ll", cut="a > 1 & b < 2", bins=40)
    settings = LinkSettings(**{**settings.__dict__, "range": (60.0, 120.0), "logy": True})
    parsed, problems = settings_from_query("?" + settings_query(settings))
    assert parsed == settings and problems == []
    hostile = "h_dataset=../../etc/passwd&h_bins=99999&h_range=5,1&h_logy=maybe&h_fit=exec"
    parsed, problems = settings_from_query(hostile)
    assert parsed == LinkSettings()
    assert len(problems) == 5


def test_link_reopens_the_plot(data_dir, monkeypatch):
    query = settings_query(
        LinkSettings(dataset="small.csv", x="pt1 + pt2", cut="pt1 > 15", bins=4, range=(0, 100))
    )

    class Location:
        search = "?" + query
        href = "http://host/app?" + query

    fake_state = type("S", (), {"location": Location, "loaded": True, "curdoc": None})
    monkeypatch.setattr("app.histogram.view.pn.state", fake_state)
    lab = HistogramLab(AppConfig(data_dirs=(data_dir,)))
    assert lab.dataset_select.value == "file:small.csv"
    assert lab.plot.layers[0].histogram.counts.tolist() == [0, 0, 1, 0]
    assert lab.link_text.value.startswith("http://host/app?h_dataset=small.csv")
