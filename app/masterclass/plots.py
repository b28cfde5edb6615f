"""Small Bokeh histograms of recorded masses, updated in place (only the counts travel)."""

from __future__ import annotations

from typing import Any

import numpy as np

BAR_COLOUR = "#3b6fd4"


def mass_figure(title: str, width: int = 300, height: int = 180) -> tuple[Any, Any]:
    """An empty mass histogram (a Bokeh figure) and its data source."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    source = ColumnDataSource({"left": [], "right": [], "count": []})
    plot = figure(
        title=title,
        width=width,
        height=height,
        toolbar_location=None,
        tools="hover",
        tooltips=[("mass", "@left{0} to @right{0} GeV"), ("events", "@count")],
        x_axis_label="mass (GeV)",
        y_axis_label="events",
    )
    plot.quad(
        left="left",
        right="right",
        bottom=0,
        top="count",
        source=source,
        fill_color=BAR_COLOUR,
        line_color=BAR_COLOUR,
        fill_alpha=0.6,
    )
    plot.y_range.start = 0
    plot.title.text_font_size = "12px"
    return plot, source


def show_histogram(source: Any, counts: np.ndarray, edges: np.ndarray) -> None:
    """Put counts over bin edges into a histogram's data source."""
    source.data = {
        "left": edges[:-1].tolist(),
        "right": edges[1:].tolist(),
        "count": np.asarray(counts).tolist(),
    }
