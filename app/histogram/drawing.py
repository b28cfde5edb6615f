"""HoloViews (Bokeh) elements of a histogram plot, and a live plot that updates in place."""

from __future__ import annotations

import holoviews as hv
import numpy as np
from holoviews.streams import Pipe

from app.histogram.figure import DATA_COLOUR, FIT_COLOUR, DrawnLayer, PlotData

hv.extension("bokeh", logo=False)

BIN_TOOLTIPS = [("bin", "@x0{0.[000]} to @x1{0.[000]}"), ("content", "@count{0.[000]}")]
BIN_TOOLTIPS += [("uncertainty", "± @error{0.[000]}")]
POINT_TOOLTIPS = [("bin", "@low{0.[000]} to @high{0.[000]}"), ("content", "@count{0.[000]}")]
POINT_TOOLTIPS += [("uncertainty", "± @error{0.[000]}")]
PLOT_HEIGHT = 460
RATIO_HEIGHT = 170
PLOT_MIN_WIDTH = 520
# Element groups by drawing style: their options are set once per plot, not once per update,
# and colours travel as a data column, so that a change of cut only replaces numbers.
GROUPS = {"bars": "Bars", "stack": "Stack", "step": "Step", "points": "Points"}


def static_options() -> list:
    """Options of every element group, applied once when a plot is built."""
    rectangles = {"tools": ["hover"], "hover_tooltips": BIN_TOOLTIPS, "framewise": True}
    return [
        hv.opts.Rectangles(
            "Bars", fill_color="colour", line_color="colour", fill_alpha=0.55, **rectangles
        ),
        hv.opts.Rectangles(
            "Stack", fill_color="colour", line_color="colour", fill_alpha=0.85, **rectangles
        ),
        hv.opts.Rectangles("Step", fill_alpha=0.0, line_color="colour", line_width=2, **rectangles),
        hv.opts.Scatter(
            "Points",
            color="colour",
            size=6,
            tools=["hover"],
            hover_tooltips=POINT_TOOLTIPS,
            framewise=True,
        ),
        hv.opts.ErrorBars(color=DATA_COLOUR, line_width=1, framewise=True),
        hv.opts.Curve("Fit", color=FIT_COLOUR, line_width=2.5, framewise=True),
    ]


def layer_elements(drawn: DrawnLayer, legend: bool) -> list[hv.Element]:
    """The elements that draw one layer: bars, points with error bars, or a step outline."""
    layer = drawn.layer
    # A constant label when there is no legend lets the plot update in place as cuts change.
    label = layer.label if legend else "selection"
    group = GROUPS[layer.style]
    edges = layer.histogram.edges
    low, high = edges[:-1], edges[1:]
    centres = 0.5 * (low + high)
    colours = np.full(low.shape, layer.colour)
    count = drawn.heights
    if layer.style == "points":
        points = hv.Scatter(
            (centres, drawn.top, low, high, count, drawn.errors, colours),
            kdims=["x"],
            vdims=["y", "low", "high", "count", "error", "colour"],
            group=group,
            label=label,
        )
        return [error_bars(centres, drawn.top, drawn.errors), points]
    rectangles = hv.Rectangles(
        (low, drawn.bottom, high, drawn.top, count, drawn.errors, colours),
        vdims=["count", "error", "colour"],
        group=group,
        label=label,
    )
    if layer.style == "bars":
        return [rectangles, error_bars(centres, drawn.top, drawn.errors)]
    return [rectangles]


def error_bars(x: np.ndarray, y: np.ndarray, errors: np.ndarray) -> hv.ErrorBars:
    """Vertical uncertainty bars (sqrt(N) for counts)."""
    return hv.ErrorBars((x, y, errors), kdims=["x"], vdims=["y", "yerror"])


def overlay(plot: PlotData) -> hv.Overlay:
    """The whole plot: every layer, then the fitted curve, with axis titles and scales."""
    elements: list[hv.Element] = []
    legend = plot.has_legend
    for drawn in plot.drawn_layers():
        elements += layer_elements(drawn, legend)
    curve = plot.fit_curve()
    if curve is not None:
        elements.append(
            hv.Curve(curve, kdims=["x"], vdims=["y"], group="Fit", label=plot.fit_label)
        )
    if not elements:
        elements.append(hv.Curve([], kdims=["x"], vdims=["y"]))
    return hv.Overlay(elements).opts(ylabel=plot.y_label)


def styled(plot: PlotData, element: hv.DynamicMap) -> hv.DynamicMap:
    """Apply the options fixed for the life of a plot: groups, axes, scale, legend, size."""
    return element.opts(
        *static_options(),
        hv.opts.Overlay(
            xlabel=plot.x_label,
            logy=plot.logy,
            title=plot.title,
            legend_position="top_right",
            show_legend=plot.has_legend,
            ylim=(None, None) if plot.logy else (0, None),
            padding=(0, (0, 0.06)),
            responsive=True,
            min_width=PLOT_MIN_WIDTH,
            height=PLOT_HEIGHT,
            framewise=True,
            toolbar="above",
            default_tools=["save", "pan", "wheel_zoom", "box_zoom", "reset"],
            fontscale=1.1,
        ),
    )


def ratio_overlay(plot: PlotData) -> hv.Overlay:
    """The data / simulation panel: points with the data's uncertainty around a line at 1."""
    values = plot.ratio_values()
    x, ratio, error = values if values is not None else (np.zeros(0),) * 3
    shown = np.isfinite(ratio)
    x, ratio, error = x[shown], ratio[shown], error[shown]
    return hv.Overlay(
        [
            hv.HLine(1.0, group="Unity"),
            hv.ErrorBars((x, ratio, error), kdims=["x"], vdims=["y", "yerror"]),
            hv.Scatter((x, ratio), kdims=["x"], vdims=["y"], group="Ratio"),
        ]
    )


def styled_ratio(plot: PlotData, element: hv.DynamicMap) -> hv.DynamicMap:
    """Options of the ratio panel, fixed for the life of a plot."""
    return element.opts(
        hv.opts.HLine("Unity", color="#777777", line_dash="dashed", line_width=1),
        hv.opts.Scatter("Ratio", color=DATA_COLOUR, size=5, framewise=True),
        hv.opts.ErrorBars(color=DATA_COLOUR, line_width=1, framewise=True),
        hv.opts.Overlay(
            xlabel=plot.x_label,
            ylabel="data / simulation",
            responsive=True,
            min_width=PLOT_MIN_WIDTH,
            height=RATIO_HEIGHT,
            framewise=True,
            show_legend=False,
            toolbar=None,
            fontscale=1.0,
        ),
    )


class LivePlot:
    """A plot whose numbers update in place while its layout stays, rebuilt when it changes."""

    def __init__(self) -> None:
        self._pipe: Pipe | None = None
        self._ratio_pipe: Pipe | None = None
        self._structure: tuple | None = None

    def element(self, plot: PlotData, in_place: bool = True) -> hv.DynamicMap | None:
        """Show `plot`: None when the current element was updated, else a new element to show.

        Pass in_place=False until the page has reported it is loaded: HoloViews retries an in-place
        refresh on every tick until then, so a client that never reports would keep a CPU busy.
        """
        if in_place and self._pipe is not None and plot.structure == self._structure:
            self._pipe.send(plot)
            if self._ratio_pipe is not None:
                self._ratio_pipe.send(plot)
            return None
        self._structure = plot.structure
        self._pipe = Pipe(data=plot)
        main = styled(plot, hv.DynamicMap(draw_piped, streams=[self._pipe]))
        if not plot.ratio:
            self._ratio_pipe = None
            return main
        self._ratio_pipe = Pipe(data=plot)
        ratio = styled_ratio(plot, hv.DynamicMap(draw_ratio, streams=[self._ratio_pipe]))
        return (main + ratio).cols(1)


def draw_piped(data: PlotData) -> hv.Overlay:
    """The DynamicMap callback: a Pipe hands over its latest data as `data`."""
    return overlay(data)


def draw_ratio(data: PlotData) -> hv.Overlay:
    """The ratio panel's DynamicMap callback."""
    return ratio_overlay(data)
