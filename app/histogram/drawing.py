"""Bokeh figures of a histogram plot, and a live plot that updates their data in place.

A change of cut, binning or dataset only replaces the numbers of the figure's data sources (a
few hundred values); the figure itself is built again only when its layout changes (layers,
legend, axis title, log scale, fit, ratio panel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from bokeh.layouts import column
from bokeh.models import (
    BasicTicker,
    BasicTickFormatter,
    ColumnDataSource,
    HoverTool,
    LayoutDOM,
    LinearScale,
    LogScale,
    LogTicker,
    LogTickFormatter,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from app.histogram.figure import DATA_COLOUR, FIT_COLOUR, DrawnLayer, PlotData

BIN_TOOLTIPS = [("bin", "@low{0.[000]} to @high{0.[000]}"), ("content", "@count{0.[000]}")]
BIN_TOOLTIPS += [("uncertainty", "± @error{0.[000]}")]
PLOT_HEIGHT = 460
RATIO_HEIGHT = 170
PLOT_MIN_WIDTH = 520
TOOLS = "save,pan,wheel_zoom,box_zoom,reset"
FILL_ALPHA = {"bars": 0.55, "stack": 0.85, "step": 0.0, "points": 0.0}
# Room above the highest bar: a fraction of the axis (of its decades on a log axis).
TOP_PADDING = 0.06
RATIO_RANGE = (0.0, 2.0)  # the ratio axis when no bin has a ratio


def layer_data(drawn: DrawnLayer) -> dict[str, np.ndarray]:
    """A layer's columns: bin edges and centres, drawn bottom and top, contents, error bars."""
    edges = drawn.layer.histogram.edges
    low, high = edges[:-1], edges[1:]
    top = drawn.top
    return {
        "low": low,
        "high": high,
        "x": 0.5 * (low + high),
        "bottom": drawn.bottom,
        "top": top,
        "count": drawn.contents,
        "error": drawn.errors,
        # An error bar stops where the bars start (0, or the floor of a log axis).
        "error_low": np.maximum(top - drawn.errors, drawn.bottom),
        "error_high": top + drawn.errors,
    }


def fit_data(plot: PlotData) -> dict[str, np.ndarray]:
    """The fitted curve's columns (empty without a fit)."""
    curve = plot.fit_curve()
    x, y = curve if curve is not None else (np.zeros(0), np.zeros(0))
    return {"x": x, "y": y}


def ratio_data(plot: PlotData) -> dict[str, np.ndarray]:
    """The data / simulation points with the data's uncertainty (bins without simulation left
    out)."""
    values = plot.ratio_values()
    x, ratio, error = values if values is not None else (np.zeros(0),) * 3
    shown = np.isfinite(ratio)
    x, ratio, error = x[shown], ratio[shown], error[shown]
    return {"x": x, "y": ratio, "error": error, "y_low": ratio - error, "y_high": ratio + error}


def y_range(plot: PlotData, drawn: list[DrawnLayer]) -> tuple[float, float]:
    """The vertical axis: from 0 (or the log floor) to the highest bar, error bar or curve."""
    tops = [float(np.max(layer.top + layer.errors)) for layer in drawn if layer.top.size]
    curve = plot.fit_curve()
    if curve is not None and curve[1].size:
        tops.append(float(np.max(curve[1])))
    high = max((top for top in tops if math.isfinite(top)), default=1.0)
    if not plot.logy:
        high = high if high > 0 else 1.0
        return 0.0, high * (1 + TOP_PADDING)
    low = plot.log_floor() or 0.5
    high = max(high, 2 * low)
    decades = math.log10(high / low)
    return low, high * 10 ** (TOP_PADDING * decades)


def x_range(plot: PlotData) -> tuple[float, float]:
    """The horizontal axis: the binning's range."""
    if not plot.layers:
        return 0.0, 1.0
    edges = plot.layers[0].histogram.edges
    return float(edges[0]), float(edges[-1])


def ratio_y_range(data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The ratio axis: around 1, wide enough for the points and their uncertainties."""
    low = np.concatenate([data["y_low"], [1.0]])
    high = np.concatenate([data["y_high"], [1.0]])
    low, high = low[np.isfinite(low)], high[np.isfinite(high)]
    if data["y"].size == 0:
        return RATIO_RANGE
    span = max(float(high.max()) - float(low.min()), 0.2)
    return max(float(low.min()) - 0.1 * span, 0.0), float(high.max()) + 0.1 * span


def set_range(target: Range1d, bounds: tuple[float, float], keep_zoom: bool = False) -> None:
    """Move a range, and make its reset go there too (with `keep_zoom`, only its reset)."""
    low, high = bounds
    if keep_zoom:
        target.update(reset_start=low, reset_end=high)
    else:
        target.update(start=low, end=high, reset_start=low, reset_end=high)


def zoomed(target: Range1d, shown: tuple[float, float] | None) -> bool:
    """Whether the student moved a range (zoom or pan in the page) away from what was shown."""
    if shown is None:
        return False
    tolerance = 1e-6 * max(abs(shown[1] - shown[0]), 1e-12)
    return abs(target.start - shown[0]) > tolerance or abs(target.end - shown[1]) > tolerance


def set_scale(chosen: figure, logy: bool) -> None:
    """Make the vertical axis logarithmic or linear, in place (no new figure)."""
    if isinstance(chosen.y_scale, LogScale) == logy:
        return
    chosen.y_scale = LogScale() if logy else LinearScale()
    for axis in chosen.yaxis:
        axis.ticker = LogTicker() if logy else BasicTicker()
        axis.formatter = LogTickFormatter() if logy else BasicTickFormatter()


@dataclass
class Figures:
    """The Bokeh models of one plot layout, and the data sources a new plot updates."""

    root: LayoutDOM
    main: figure
    layers: list[ColumnDataSource]
    fit: ColumnDataSource | None
    ratio_figure: figure | None
    ratio: ColumnDataSource | None
    # The ranges last set here, and the scale: a zoom is kept while the binning's range stays.
    shown_x: tuple[float, float] | None = None
    shown_y: tuple[float, float] | None = None
    shown_logy: bool | None = None

    def update(self, plot: PlotData) -> None:
        """Show `plot`, which has this layout: new numbers, ranges, vertical scale and title.

        A student's zoom or pan stays when only the contents change (a new cut, weight or
        dataset over the same range); Reset goes to the whole new plot.
        """
        drawn = plot.drawn_layers()
        for source, layer in zip(self.layers, drawn, strict=True):
            source.data = layer_data(layer)
        if self.fit is not None:
            self.fit.data = fit_data(plot)
        bounds_x, bounds_y = x_range(plot), y_range(plot, drawn)
        same_range = bounds_x == self.shown_x
        keep_x = same_range and zoomed(self.main.x_range, self.shown_x)
        keep_y = same_range and plot.logy == self.shown_logy
        keep_y = keep_y and zoomed(self.main.y_range, self.shown_y)
        set_scale(self.main, plot.logy)
        set_range(self.main.x_range, bounds_x, keep_x)
        set_range(self.main.y_range, bounds_y, keep_y)
        self.shown_x, self.shown_y, self.shown_logy = bounds_x, bounds_y, plot.logy
        self.main.yaxis.axis_label = plot.y_label
        if self.ratio is not None and self.ratio_figure is not None:
            data = ratio_data(plot)
            self.ratio.data = data
            set_range(self.ratio_figure.y_range, ratio_y_range(data))


def new_figure(plot: PlotData, height: int, x: Range1d | None = None, **options) -> figure:
    """An empty figure of the lab's size, tools and fonts."""
    chosen = figure(
        x_range=x or Range1d(0.0, 1.0),
        y_range=Range1d(0.0, 1.0),
        height=height,
        min_width=PLOT_MIN_WIDTH,
        sizing_mode="stretch_width",
        x_axis_label=plot.x_label,
        **options,
    )
    for axis in (chosen.xaxis, chosen.yaxis):
        axis.axis_label_text_font_size = "14px"
        axis.major_label_text_font_size = "12px"
    chosen.title.text_font_size = "15px"
    chosen.toolbar.logo = None
    return chosen


def layer_glyphs(chosen: figure, drawn: DrawnLayer, legend: bool) -> ColumnDataSource:
    """Draw one layer (bars, stacked bars, outline or points with error bars) from its source."""
    layer = drawn.layer
    source = ColumnDataSource(layer_data(drawn))
    labelled = {"legend_label": layer.label} if legend else {}
    if layer.style == "points":
        hovered = chosen.scatter("x", "top", source=source, size=6, color=layer.colour, **labelled)
    else:
        hovered = chosen.quad(
            left="low",
            right="high",
            bottom="bottom",
            top="top",
            source=source,
            fill_color=layer.colour,
            fill_alpha=FILL_ALPHA[layer.style],
            line_color=layer.colour,
            line_width=2 if layer.style == "step" else 1,
            **labelled,
        )
    if layer.style in ("points", "bars"):
        chosen.segment(
            "x", "error_low", "x", "error_high", source=source, color=DATA_COLOUR, line_width=1
        )
    chosen.add_tools(HoverTool(renderers=[hovered], tooltips=BIN_TOOLTIPS))
    return source


def main_figure(plot: PlotData) -> tuple[figure, list[ColumnDataSource], ColumnDataSource | None]:
    """The histogram figure: every layer, then the fitted curve, with a legend when several."""
    chosen = new_figure(
        plot,
        PLOT_HEIGHT,
        title=plot.title,
        tools=TOOLS,
        toolbar_location="above",
        y_axis_label=plot.y_label,
    )
    legend = plot.has_legend
    sources = [layer_glyphs(chosen, drawn, legend) for drawn in plot.drawn_layers()]
    fit = None
    if plot.fit is not None:
        fit = ColumnDataSource(fit_data(plot))
        chosen.line(
            "x", "y", source=fit, color=FIT_COLOUR, line_width=2.5, legend_label=plot.fit_label
        )
    if legend:
        chosen.legend.location = "top_right"
        chosen.legend.click_policy = "hide"
    return chosen, sources, fit


def ratio_figure(plot: PlotData, x: Range1d) -> tuple[figure, ColumnDataSource]:
    """The data / simulation panel under the plot, sharing its horizontal axis."""
    chosen = new_figure(
        plot, RATIO_HEIGHT, x=x, toolbar_location=None, y_axis_label="data / simulation"
    )
    chosen.add_layout(
        Span(location=1.0, dimension="width", line_color="#777777", line_dash="dashed")
    )
    source = ColumnDataSource(ratio_data(plot))
    chosen.segment("x", "y_low", "x", "y_high", source=source, color=DATA_COLOUR, line_width=1)
    chosen.scatter("x", "y", source=source, size=5, color=DATA_COLOUR)
    return chosen, source


def build(plot: PlotData) -> Figures:
    """The Bokeh models of `plot`, filled with its numbers."""
    main, sources, fit = main_figure(plot)
    if not plot.ratio:
        figures = Figures(main, main, sources, fit, None, None)
    else:
        below, ratio = ratio_figure(plot, main.x_range)
        main.xaxis.axis_label = None
        root = column(main, below, sizing_mode="stretch_width")
        figures = Figures(root, main, sources, fit, below, ratio)
    figures.update(plot)
    return figures


class LivePlot:
    """A plot whose numbers update in place while its layout stays, rebuilt when it changes."""

    def __init__(self) -> None:
        self.figures: Figures | None = None
        self._structure: tuple | None = None

    def element(self, plot: PlotData, in_place: bool = True) -> LayoutDOM | None:
        """Show `plot`: None when the current figure was updated, else a new figure to show.

        Pass in_place=False until the page has reported it is loaded, so that its first figure
        is the one the page shows.
        """
        if in_place and self.figures is not None and plot.structure == self._structure:
            self.figures.update(plot)
            return None
        self._structure = plot.structure
        self.figures = build(plot)
        return self.figures.root
