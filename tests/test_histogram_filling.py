"""Filling histograms, their statistics, automatic binning and the expression cache."""

from __future__ import annotations

import numpy as np
import pytest

from app.histogram.data import read_dataset
from app.histogram.errors import BinningError, ExpressionInputError
from app.histogram.evaluation import Evaluator
from app.histogram.filling import (
    PARALLEL_MIN_ROWS,
    Binning,
    auto_binning,
    fill,
    make_selection,
    nice_range,
    summary,
)


def test_fill_matches_numpy_and_counts_flows():
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 10_000)
    histogram = fill(make_selection(values, None, None, values.size), Binning(20, -1, 1))
    expected, _ = np.histogram(values, 20, (-1, 1))
    np.testing.assert_array_equal(histogram.counts, expected)
    np.testing.assert_array_equal(histogram.errors, np.sqrt(expected))
    assert histogram.underflow == np.count_nonzero(values < -1)
    assert histogram.overflow == np.count_nonzero(values >= 1)


def test_threaded_fill_of_a_large_array_is_exact():
    values = np.random.default_rng(2).uniform(0, 10, 2_000_000)
    histogram = fill(make_selection(values, None, None, values.size), Binning(10, 0, 10))
    np.testing.assert_array_equal(histogram.counts, np.histogram(values, 10, (0, 10))[0])


def test_masked_weighted_fill_in_parallel_blocks_matches_numpy():
    rng = np.random.default_rng(4)
    rows = 3 * PARALLEL_MIN_ROWS // 2 + 17  # several threads, blocks and a ragged last block
    values = rng.normal(0, 2, rows)
    values[rng.uniform(size=rows) < 0.01] = np.nan
    weights = rng.uniform(0.5, 1.5, rows)
    weights[::1000] = np.inf
    mask = rng.uniform(size=rows) < 0.4
    selection = make_selection(values, mask, weights, rows)
    histogram = fill(selection, Binning(30, -3, 3))
    kept = mask & np.isfinite(values) & np.isfinite(weights)
    x, w = values[kept], weights[kept]
    np.testing.assert_allclose(histogram.counts, np.histogram(x, 30, (-3, 3), weights=w)[0])
    np.testing.assert_allclose(histogram.variances, np.histogram(x, 30, (-3, 3), weights=w**2)[0])
    np.testing.assert_array_equal(selection.values, x)
    np.testing.assert_array_equal(selection.weights, w)
    numbers = summary(selection, histogram)
    assert numbers["entries"] == x.size
    assert numbers["no_value"] == np.count_nonzero(mask) - x.size > 0
    assert numbers["sum_of_weights"] == pytest.approx(w.sum())
    assert numbers["mean"] == pytest.approx(np.average(x, weights=w))
    assert numbers["std"] == pytest.approx(np.sqrt(np.cov(x, aweights=w, ddof=0)))
    assert histogram.underflow == pytest.approx(w[x < -3].sum())


def test_weighted_fill_has_sum_of_squared_weights_as_variance():
    values = np.array([0.5, 0.5, 1.5])
    weights = np.array([2.0, 3.0, 0.5])
    histogram = fill(make_selection(values, None, weights, 3), Binning(2, 0, 2))
    np.testing.assert_allclose(histogram.counts, [5.0, 0.5])
    np.testing.assert_allclose(histogram.variances, [13.0, 0.25])


def test_selection_statistics():
    values = np.array([1.0, 2.0, np.nan, 4.0, np.inf, 10.0])
    mask = np.array([True, True, True, True, True, False])
    selection = make_selection(values, mask, None, values.size)
    histogram = fill(selection, Binning(2, 0, 3))
    numbers = summary(selection, histogram)
    assert numbers["rows"] == 6
    assert numbers["selected"] == 5
    assert numbers["selected_fraction"] == pytest.approx(5 / 6)
    assert numbers["no_value"] == 2
    assert numbers["entries"] == 3
    assert numbers["mean"] == pytest.approx(np.mean([1, 2, 4]))
    assert numbers["std"] == pytest.approx(np.std([1, 2, 4]))
    assert numbers["overflow"] == 1
    assert numbers["underflow"] == 0


def test_weighted_mean_and_std():
    values = np.array([1.0, 3.0])
    weights = np.array([1.0, 3.0])
    histogram = fill(make_selection(values, None, weights, 2), Binning(2, 0, 2))
    assert histogram.mean == pytest.approx(2.5)
    assert histogram.std == pytest.approx(np.sqrt(np.cov(values, aweights=weights, ddof=0)))
    assert histogram.sum_weights == 4


@pytest.mark.parametrize(
    ("bins", "low", "high"), [(0, 0, 1), (3001, 0, 1), (10, 1, 1), (10, 2, 1), (10, 0, np.inf)]
)
def test_bad_binning_is_refused(bins, low, high):
    with pytest.raises(BinningError):
        Binning(bins, low, high)


def test_auto_binning_of_counts_gives_one_bin_per_value():
    binning = auto_binning(np.array([0.0, 1, 2, 2, 3, 5]))
    assert (binning.bins, binning.low, binning.high) == (6, -0.5, 5.5)


def test_auto_binning_of_a_mass_is_rounded_and_not_negative():
    values = np.random.default_rng(3).normal(91, 3, 100_000)
    binning = auto_binning(values)
    assert binning.low % 1 == 0 and binning.high % 1 == 0
    assert 70 < binning.low < 85 < 97 < binning.high < 110
    assert nice_range(0.3, 97.2) == (0.0, 100.0)


@pytest.fixture
def dimuons():
    text = b"pt1,pt2,Q1,Q2\n30,25,1,-1\n50,10,1,1\n45,44,-1,1\n5,4,-1,1\n"
    return Evaluator(read_dataset(text, "dimuons.csv"))


def test_cut_selects_rows(dimuons):
    selection = dimuons.selection("pt1", "pt1 > 20 & pt2 > 20 & Q1*Q2 < 0")
    np.testing.assert_allclose(selection.values, [30, 45])
    assert selection.selected == 2 and selection.rows == 4


def test_expressions_are_cached_by_text(dimuons):
    first = dimuons.values("pt1 + pt2")
    assert dimuons.values("  pt1 +  pt2 ") is first
    assert dimuons.mask("Q1 > 0") is dimuons.mask("Q1 > 0")


def test_cut_must_be_a_condition(dimuons):
    with pytest.raises(ExpressionInputError, match="must be a condition"):
        dimuons.mask("pt1 + 1")


def test_expression_error_points_at_the_offending_part(dimuons):
    with pytest.raises(ExpressionInputError) as caught:
        dimuons.selection("pt1", "pt1 > 20 & pt3 > 20")
    message = str(caught.value)
    assert message.startswith("In the cut:")
    lines = message.splitlines()
    caret_line = lines[-1]
    expression_line = lines[-2]
    start = caret_line.index("^")
    assert expression_line[start : start + 3] == "pt3"


def test_derived_column_can_be_kept_and_reused(dimuons):
    dimuons.add_column("ht", "pt1 + pt2")
    assert "ht" in dimuons.names
    np.testing.assert_allclose(dimuons.selection("ht", "ht >= 60").values, [60, 89])
    with pytest.raises(ExpressionInputError, match="already a column"):
        dimuons.add_column("pt1", "pt2")
    with pytest.raises(ExpressionInputError, match="cannot be a column name"):
        dimuons.add_column("2x", "pt2")


def test_all_elements_of_a_list_column_follow_the_event_cut(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"Muon_pt": pa.array([[50.0, 30.0], [], [20.0, 5.0, 1.0]]), "MET": [10.0, 20.0, 30.0]}
    )
    pq.write_table(table, tmp_path / "nano.parquet")
    evaluator = Evaluator(read_dataset(tmp_path / "nano.parquet", "nano.parquet"))
    np.testing.assert_allclose(evaluator.selection("Muon_pt", "MET > 15").values, [20, 5, 1])
    np.testing.assert_allclose(evaluator.selection("Muon_pt_1", "Muon_pt_n >= 2").values, [50, 20])
    with pytest.raises(ExpressionInputError, match=r"unknown name .Muon_pt.; did you mean"):
        evaluator.selection("MET", "Muon_pt > 3")


def test_a_new_cut_evaluates_only_the_cut(dimuons, monkeypatch):
    evaluated = []
    evaluate = Evaluator._evaluate

    def counting(self, text, role):
        evaluated.append(text)
        return evaluate(self, text, role)

    monkeypatch.setattr(Evaluator, "_evaluate", counting)
    binning = Binning(4, 0, 100)
    first = dimuons.histogram("pt1 + pt2", binning, "Q1 > 0")
    second = dimuons.histogram("pt1 + pt2", binning, "Q2 > 0")
    assert evaluated == ["Q1 > 0", "pt1 + pt2", "Q2 > 0"]
    assert dimuons.histogram("pt1 + pt2", binning, " Q1 >  0") is first
    assert first.counts.tolist() == [0, 0, 2, 0] and second.counts.tolist() == [1, 0, 1, 1]


def test_a_changed_condition_of_a_cut_is_the_only_one_evaluated(dimuons, monkeypatch):
    evaluated = []
    evaluate = Evaluator._evaluate

    def counting(self, text, role):
        evaluated.append(text.strip())
        return evaluate(self, text, role)

    monkeypatch.setattr(Evaluator, "_evaluate", counting)
    first = dimuons.mask("pt1 > 20 & pt2 > 20 & Q1*Q2 < 0")
    second = dimuons.mask("pt1 > 20 & pt2 > 5 && Q1*Q2 < 0")
    assert evaluated == ["pt1 > 20", "pt2 > 20", "Q1*Q2 < 0", "pt2 > 5"]
    assert first.tolist() == [True, False, True, False]
    assert second.tolist() == [True, False, True, False]
    assert dimuons.mask("Q1*Q2 < 0").tolist() == [True, False, True, True]


@pytest.mark.parametrize(
    ("cut", "kept"),
    [
        ("pt1 > 40 & pt2 > 20 | Q1 < 0", [False, False, True, True]),  # & before |
        ("(pt1 > 40 & pt2 > 20) | Q1 < 0", [False, False, True, True]),
        ("pt1 > 40 & (pt2 > 20 | Q1 > 0)", [False, True, True, False]),
        ("pt1 > 40 and pt2 > 20 or Q1 < 0", [False, False, True, True]),
        ("~(pt1 > 40) & Q2 < 0", [True, False, False, False]),
        ("pt2 - 10 & pt1 > 20", [True, False, True, False]),  # a number: true when not zero
    ],
)
def test_a_cut_split_at_its_ands_keeps_what_the_whole_cut_means(dimuons, cut, kept):
    assert dimuons.mask(cut).tolist() == kept
    fresh = Evaluator(dimuons.dataset)
    assert fresh._evaluate(cut, "cut").astype(bool).tolist() == kept


def test_a_mistake_in_one_condition_points_into_the_whole_cut(dimuons):
    with pytest.raises(ExpressionInputError) as caught:
        dimuons.mask("pt1 > 20 & pt2 > 20 & pt3 < 0")
    expression_line, caret_line = str(caught.value).splitlines()[-2:]
    assert expression_line.strip() == "pt1 > 20 & pt2 > 20 & pt3 < 0"
    start = caret_line.index("^")
    assert expression_line[start : start + 3] == "pt3"
    with pytest.raises(ExpressionInputError, match="syntax error"):
        dimuons.mask("pt1 > 20 &")
