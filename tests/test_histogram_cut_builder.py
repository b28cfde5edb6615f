"""The cut builder writes expressions over each dataset's own columns; messages sit where the
student looks; an exercise question names its unit once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bokeh.document import Document

from app.config import AppConfig
from app.histogram.cut_builder import CutChoices, build_cut
from app.histogram.data import read_dataset
from app.histogram.evaluation import Evaluator
from app.histogram.exercise_view import question_text
from app.histogram.exercises import Question
from app.histogram.view import HistogramLab
from sample_events.ntuple_writer import write_education_ntuple

TOY = "sample_events/data/toy_events.parquet"
DIMUON_MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"
EVERYTHING = CutChoices(
    leptons="2",
    flavour="muons",
    charge="opposite",
    min_jets=1,
    min_bjets=0,
    min_met=20,
    mass_window=(80, 100),
)


def test_the_toy_columns_get_every_condition():
    names = Evaluator(read_dataset(Path(TOY), "toy.parquet")).names
    cut = build_cut(EVERYTHING, names)
    assert cut == (
        "n_leptons == 2 & n_muons >= 1 & n_electrons == 0 & lep1_charge * lep2_charge < 0 & "
        "n_jets >= 1 & n_bjets >= 0 & met > 20 & m_ll > 80 & m_ll < 100"
    )


def test_the_education_ntuple_uses_its_jagged_lepton_branches(tmp_path):
    path = write_education_ntuple(tmp_path / "ntuple.root", 400, 5)
    evaluator = Evaluator(read_dataset(path, "ntuple.root"))
    cut = build_cut(CutChoices(leptons="at least 2", flavour="electron and muon"), evaluator.names)
    assert cut == "lep_n >= 2 & abs(lep_type_1) + abs(lep_type_2) == 24"
    chosen = evaluator.mask(cut)
    types = np.abs(evaluator.values("lep_type_1")) + np.abs(evaluator.values("lep_type_2"))
    assert np.all(types[chosen] == 24) and chosen.any()


def test_the_cms_csv_window_applies_to_the_plotted_mass(cms_zmumu_csv):
    names = Evaluator(read_dataset(cms_zmumu_csv, cms_zmumu_csv.name)).names
    cut = build_cut(
        CutChoices(charge="opposite", leptons="2", mass_window=(80, 100)), names, DIMUON_MASS
    )
    assert cut == f"Q1 * Q2 < 0 & ({DIMUON_MASS}) > 80 & ({DIMUON_MASS}) < 100"


def test_the_page_writes_the_cut_into_the_box(cms_zmumu_csv, tmp_path):
    (tmp_path / cms_zmumu_csv.name).write_bytes(cms_zmumu_csv.read_bytes())
    lab = HistogramLab(AppConfig(data_dirs=(tmp_path,)))
    lab.layout.get_root(Document())
    lab.x_input.value = DIMUON_MASS
    assert lab.cut_builder.leptons.disabled and not lab.cut_builder.charge.disabled
    lab.cut_builder.charge.value = "opposite"
    lab.cut_builder.mass_low.value, lab.cut_builder.mass_high.value = 80.0, 100.0
    lab.cut_builder.button.clicks += 1
    assert lab.cut_input.value.startswith("Q1 * Q2 < 0 & (inv_mass(")
    assert lab.settings.cut == lab.cut_input.value
    entries = sum(layer.histogram.entries for layer in lab.plot.layers)
    assert 7_000 < entries < 9_500


def test_an_error_shows_by_the_plot_and_by_the_boxes(tmp_path):
    (tmp_path / "small.csv").write_text("pt1,pt2\n10,20\n30,40\n")
    lab = HistogramLab(AppConfig(data_dirs=(tmp_path,)))
    lab.layout.get_root(Document())
    lab.cut_input.value = "pt3 > 1"
    assert lab.error_alert.visible and lab.input_error.visible
    assert "pt3" in lab.input_error.object
    lab.cut_input.value = "pt1 > 1"
    assert not lab.error_alert.visible and not lab.input_error.visible


@pytest.mark.parametrize(
    ("text", "unit", "shown"),
    [
        ("Where is the peak (GeV)?", "GeV", "Where is the peak (GeV)?"),
        ("Where is the peak?", "GeV", "Where is the peak? (GeV)"),
        ("How many events?", "", "How many events?"),
    ],
)
def test_a_question_names_its_unit_once(text, unit, shown):
    assert question_text(Question(id="q", text=text, answer=1.0, tolerance=0.1, unit=unit)) == shown
