"""PNG images of a histogram plot drawn with matplotlib, without a browser."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from app.histogram.errors import OutputError
from app.histogram.figure import DATA_COLOUR, FIT_COLOUR, PlotData

SIZE_INCHES = (8.0, 5.0)
DPI = 120


def draw_figure(plot: PlotData) -> Figure:
    """A matplotlib figure of the plot: the same layers, curve, labels and scales as the page."""
    ratio = plot.ratio_values()
    size = SIZE_INCHES if ratio is None else (SIZE_INCHES[0], SIZE_INCHES[1] * 1.35)
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    if ratio is None:
        axes = figure.add_subplot()
    else:
        axes, lower = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        draw_ratio(lower, ratio, plot.x_label)
    for drawn in plot.drawn_layers():
        layer = drawn.layer
        edges = layer.histogram.edges
        centres = 0.5 * (edges[:-1] + edges[1:])
        if layer.style == "points":
            axes.errorbar(
                centres, drawn.top, yerr=drawn.errors, fmt="o", color=layer.colour,
                markersize=4, label=layer.label,
            )  # fmt: skip
        elif layer.style == "step":
            axes.stairs(drawn.top, edges, color=layer.colour, linewidth=2, label=layer.label)
        else:
            alpha = 0.55 if layer.style == "bars" else 0.85
            axes.stairs(
                drawn.top, edges, baseline=drawn.bottom, fill=True, color=layer.colour,
                alpha=alpha, label=layer.label,
            )  # fmt: skip
            if layer.style == "bars":
                axes.errorbar(
                    centres, drawn.top, yerr=drawn.errors, fmt="none", ecolor=DATA_COLOUR,
                    elinewidth=1,
                )  # fmt: skip
    curve = plot.fit_curve()
    if curve is not None:
        axes.plot(*curve, color=FIT_COLOUR, linewidth=2, label=plot.fit_label)
    if plot.logy:
        axes.set_yscale("log")
    else:
        axes.set_ylim(bottom=0)
    if plot.layers:
        edges = plot.layers[0].histogram.edges
        axes.set_xlim(float(edges[0]), float(edges[-1]))
    if ratio is None:
        axes.set_xlabel(plot.x_label)
    axes.set_ylabel(plot.y_label)
    if plot.title:
        axes.set_title(plot.title)
    if plot.has_legend:
        axes.legend(frameon=False)
    return figure


def draw_ratio(axes, ratio, x_label: str) -> None:
    """The data / simulation panel under the plot."""
    centres, values, errors = ratio
    axes.axhline(1.0, color="#777777", linestyle="--", linewidth=1)
    axes.errorbar(centres, values, yerr=errors, fmt="o", color=DATA_COLOUR, markersize=3)
    axes.set_ylabel("data / sim.")
    axes.set_xlabel(x_label)


def png_bytes(plot: PlotData) -> bytes:
    """The plot as PNG bytes."""
    buffer = io.BytesIO()
    draw_figure(plot).savefig(buffer, format="png")
    return buffer.getvalue()


def write_png(plot: PlotData, path: Path) -> None:
    """Write the plot as a PNG file, atomically (a temporary file renamed at the end)."""
    data = png_bytes(plot)
    folder = path.resolve().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
