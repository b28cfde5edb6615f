"""The lab's Bokeh figure: new numbers go into its data sources, a new layout builds it anew."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.models import LogScale, LogTicker, Range1d

from app.histogram.drawing import LivePlot, y_range
from app.histogram.figure import Layer, PlotData
from app.histogram.filling import Binning, fill, make_selection

RNG = np.random.default_rng(3)
MASSES = RNG.normal(91.2, 3.0, 5000)


def plot_of(values: np.ndarray, bins: int = 40, **options) -> PlotData:
    """A one-layer plot of `values` between 70 and 110."""
    histogram = fill(make_selection(values, None, None, values.size), Binning(bins, 70.0, 110.0))
    layers = options.pop("layers", None) or (Layer("all events", histogram),)
    return PlotData(layers=layers, x_label="m [GeV]", **options)


def test_a_new_cut_replaces_the_numbers_of_the_same_figure():
    live = LivePlot()
    first = live.element(plot_of(MASSES))
    assert first is not None
    source = live.figures.layers[0]
    assert source.data["top"].sum() == pytest.approx(np.sum((MASSES > 70) & (MASSES < 110)))
    narrower = MASSES[np.abs(MASSES - 91.2) < 3]
    assert live.element(plot_of(narrower, bins=20)) is None  # updated in place
    assert live.figures.layers[0] is source and source.data["low"].size == 20
    assert source.data["top"].sum() == narrower.size
    assert first.y_range.end == pytest.approx(1.06 * max(source.data["error_high"]))
    assert first.yaxis[0].axis_label == "Entries / 2 GeV"


def test_the_log_scale_switches_in_place_with_bars_from_a_floor():
    live = LivePlot()
    shown = live.element(plot_of(MASSES))
    assert live.element(plot_of(MASSES, logy=True)) is None
    assert isinstance(shown.y_scale, LogScale) and isinstance(shown.yaxis[0].ticker, LogTicker)
    data = live.figures.layers[0].data
    floor = 0.5 * data["count"][data["count"] > 0].min()
    assert np.all(data["bottom"] == floor) and shown.y_range.start == floor
    assert np.all(data["error_low"] >= floor)
    assert np.array_equal(data["count"], plot_of(MASSES).layers[0].histogram.counts)
    live.element(plot_of(MASSES))
    assert not isinstance(shown.y_scale, LogScale) and shown.y_range.start == 0


def test_a_new_layout_builds_a_new_figure_and_an_empty_plot_draws():
    live = LivePlot()
    first = live.element(plot_of(MASSES))
    histogram = live.figures.layers[0]
    two = plot_of(MASSES, layers=(Layer("a", fill_of(MASSES)), Layer("b", fill_of(MASSES[:10]))))
    second = live.element(two)
    assert second is not None and second is not first
    assert [item.label.value for item in second.legend[0].items] == ["a", "b"]
    assert live.figures.layers[0] is not histogram
    empty = live.element(PlotData(layers=(), x_label="x"))
    assert isinstance(empty.x_range, Range1d) and (empty.x_range.start, empty.x_range.end) == (0, 1)


def test_the_axes_follow_the_binning_and_reset_returns_to_them():
    plot = plot_of(MASSES)
    live = LivePlot()
    shown = live.element(plot)
    low, high = y_range(plot, plot.drawn_layers())
    assert (shown.y_range.reset_start, shown.y_range.reset_end) == (low, high)
    assert (shown.x_range.start, shown.x_range.end) == (70.0, 110.0)


def plot_in(values: np.ndarray, low: float, high: float) -> PlotData:
    """A one-layer plot of `values` in 40 bins between `low` and `high`."""
    histogram = fill(make_selection(values, None, None, values.size), Binning(40, low, high))
    return PlotData(layers=(Layer("all events", histogram),), x_label="m [GeV]")


def test_a_students_zoom_stays_through_a_new_cut_until_the_range_changes():
    live = LivePlot()
    shown = live.element(plot_of(MASSES))
    shown.x_range.update(start=85.0, end=97.0)  # as the page reports a wheel zoom
    shown.y_range.update(start=0.0, end=300.0)
    narrower = MASSES[np.abs(MASSES - 91.2) < 4]
    assert live.element(plot_of(narrower)) is None
    assert (shown.x_range.start, shown.x_range.end) == (85.0, 97.0)
    assert (shown.y_range.start, shown.y_range.end) == (0.0, 300.0)
    new_y = y_range(plot_of(narrower), plot_of(narrower).drawn_layers())
    assert (shown.y_range.reset_start, shown.y_range.reset_end) == new_y  # Reset: the new plot
    assert (shown.x_range.reset_start, shown.x_range.reset_end) == (70.0, 110.0)
    live.element(plot_of(narrower, logy=True))  # another scale: the vertical zoom goes
    assert (shown.x_range.start, shown.x_range.end) == (85.0, 97.0)
    assert shown.y_range.end != 300.0
    live.element(plot_in(MASSES, 60.0, 120.0))  # another range: the zoom goes
    assert (shown.x_range.start, shown.x_range.end) == (60.0, 120.0)


def test_without_a_zoom_the_axes_follow_each_new_plot():
    live = LivePlot()
    shown = live.element(plot_of(MASSES))
    narrower = MASSES[np.abs(MASSES - 91.2) < 1]
    live.element(plot_of(narrower))
    assert (shown.y_range.start, shown.y_range.end) == y_range(
        plot_of(narrower), plot_of(narrower).drawn_layers()
    )


def fill_of(values: np.ndarray):
    """The histogram of `values` in the plots' binning."""
    return fill(make_selection(values, None, None, values.size), Binning(40, 70.0, 110.0))
