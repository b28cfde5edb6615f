"""Fits that say what they are: the Voigtian on the real CMS Z peak, parameters at their limits,
poor chi2, and a suggested range when the fit range is much wider than the peak."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from bokeh.document import Document

from app.cli import main
from app.config import AppConfig
from app.histogram.data import read_dataset
from app.histogram.evaluation import Evaluator
from app.histogram.filling import Binning, fill, make_selection
from app.histogram.fit_report import fit_html
from app.histogram.fitting import Z_WIDTH, fit_peak, voigt_cdf
from app.histogram.view import HistogramLab

DIMUON_MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"


@pytest.fixture(scope="module")
def z_peak(cms_zmumu_csv):
    """The real CMS 2011 opposite-charge dimuon mass, 60-120 GeV in 1 GeV bins."""
    evaluator = Evaluator(read_dataset(cms_zmumu_csv, cms_zmumu_csv.name))
    return evaluator.histogram(DIMUON_MASS, Binning(60, 60, 120), "Q1*Q2 < 0")


def test_the_voigtian_cdf_is_a_normalised_convolution():
    x = np.linspace(0, 200, 5)
    cdf = voigt_cdf(x, 100.0, 2.5, 1.5, 0.0, 200.0)
    assert cdf[0] == 0 and cdf[-1] == pytest.approx(1 - 2 * 1.25 / (np.pi * 100), rel=1e-3)
    assert cdf[2] == pytest.approx(cdf[-1] / 2, rel=1e-6)


def test_the_voigtian_recovers_width_and_resolution():
    rng = np.random.default_rng(21)
    values = 91.2 + 1.25 * rng.standard_cauchy(300_000) + rng.normal(0, 1.5, 300_000)
    histogram = fill(make_selection(values, None, None, values.size), Binning(80, 71, 111))
    result = fit_peak(histogram, "voigt", "none", (76, 106))
    assert result.valid, result.reason
    assert result.parameter("width").value == pytest.approx(2.5, rel=0.06)
    assert result.parameter("sigma").value == pytest.approx(1.5, rel=0.06)
    assert result.parameter("mass").value == pytest.approx(91.2, abs=0.03)


def test_the_voigtian_on_the_real_z_gives_the_z_width(z_peak):
    breit_wigner = fit_peak(z_peak, "bw", "exp", (80, 100))
    voigtian = fit_peak(z_peak, "voigt", "exp", (80, 100))
    assert voigtian.valid, voigtian.reason
    assert breit_wigner.parameter("width").value > 3.3  # resolution read as width
    assert 2.0 < voigtian.parameter("width").value < 3.2
    assert 0.8 < voigtian.parameter("sigma").value < 1.6
    assert 90.5 < voigtian.parameter("mass").value < 91.3
    fixed = fit_peak(z_peak, "voigt", "exp", (80, 100), fixed_width=Z_WIDTH)
    assert fixed.parameter("width").value == Z_WIDTH and fixed.fixed == ("width",)
    assert "2.4952 (fixed)" in fit_html(fixed)


def test_a_parameter_at_its_limit_makes_the_fit_not_valid(z_peak):
    result = fit_peak(z_peak, "bw", "linear")
    assert result.parameter("slope").value == pytest.approx(-1, abs=1e-3)
    assert not result.valid
    assert any("slope" in problem and "limit" in problem for problem in result.problems)
    assert "Not a valid fit" in fit_html(result) and "slope" in fit_html(result)


def test_a_wide_gaussian_fit_is_not_valid_and_gets_a_suggested_range(z_peak):
    result = fit_peak(z_peak, "gauss", "none")
    assert result.parameter("mass").value == pytest.approx(88.4, abs=0.2)  # the sample mean
    assert not result.valid and "χ²/ndf" in result.reason
    low, high = result.suggested_range
    assert 84 < low < 90 < 92 < high < 98
    narrow = fit_peak(z_peak, "gauss", "none", (low, high))
    assert narrow.suggested_range is None
    assert abs(narrow.parameter("mass").value - 90.8) < 0.3


def test_eventlab_hist_json_says_whether_a_fit_is_valid(cms_zmumu_csv, capsys):
    argv = ["hist", str(cms_zmumu_csv), "--x", DIMUON_MASS, "--cut", "Q1*Q2 < 0"]
    argv += ["--bins", "60", "--range", "60,120", "--json"]
    assert main([*argv, "--fit", "bw", "--background", "linear"]) == 0
    fit = json.loads(capsys.readouterr().out)["fit"]
    assert fit["valid"] is False and "slope" in fit["reason"]
    assert main([*argv, "--fit", "voigt", "--background", "exp", "--fit-range", "80,100"]) == 0
    fit = json.loads(capsys.readouterr().out)["fit"]
    assert fit["valid"] is True and fit["reason"] is None and 0.001 < fit["p_value"] <= 1
    assert main([*argv, "--fit", "voigt", "--fix-width"]) == 0
    fit = json.loads(capsys.readouterr().out)["fit"]
    assert fit["parameters"]["width"] == {
        "value": Z_WIDTH,
        "error": fit["parameters"]["width"]["error"],
        "unit": "GeV",
        "fixed": True,
    }
    assert fit["suggested_range"] is not None
    assert main([*argv[:-1], "--fit", "gauss", "--fix-width"]) == 2
    assert "--fix-width needs --fit bw or --fit voigt" in capsys.readouterr().err


def test_the_page_reports_the_verdict_and_offers_the_suggested_range(cms_zmumu_csv, tmp_path):
    shutil.copy(cms_zmumu_csv, tmp_path / cms_zmumu_csv.name)
    lab = HistogramLab(AppConfig(data_dirs=(tmp_path,)))
    lab.layout.get_root(Document())
    lab.dataset_select.value = f"file:{cms_zmumu_csv.name}"
    lab.x_input.value = DIMUON_MASS
    lab.cut_input.value = "Q1*Q2 < 0"
    lab.auto_range.value = False
    lab.bins_input.value = 60
    lab.low_input.value, lab.high_input.value = 60.0, 120.0
    lab.fit_select.value = "gauss"
    assert lab.fit is not None and not lab.fit.valid
    assert "Not a valid fit" in lab.fit_pane.object
    assert lab.fit_verdict.visible and "Not a valid fit" in lab.fit_verdict.object
    assert lab.suggested_range_button.visible
    lab.suggested_range_button.clicks += 1
    assert (lab.fit.low, lab.fit.high) != (60, 120)
    assert lab.fit_low.value == lab.fit.low or lab.fit_low.value < lab.fit.low + 1
    lab.fit_select.value = "voigt"
    lab.fix_width.value = True
    assert lab.fit.parameter("width").value == Z_WIDTH
