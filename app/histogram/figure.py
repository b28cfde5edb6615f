"""What a histogram plot shows, as plain arrays: shared by the page and the PNG export."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.histogram.filling import FilledHistogram
from app.histogram.fitting import SIGNALS, FitResult

STYLES = ("bars", "points", "step", "stack")
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
DATA_COLOUR = "#000000"
FIT_COLOUR = "#d62728"
# Names of the simulated processes of the bundled toy sample, by MC channel number.
CATEGORY_NAMES: dict[str, dict[int, str]] = {
    "mc_channel": {
        999001: "Z → ee",
        999002: "Z → μμ",
        999003: "H → 4ℓ",
        999004: "H → γγ",
        999005: "W → ℓν",
        999006: "tt̄",
    }
}


def category_label(column: str, value: float) -> str:
    """A legend label for one value of a category column (process names where known)."""
    number = int(value) if float(value).is_integer() else value
    known = CATEGORY_NAMES.get(column, {})
    return known.get(number, f"{column} = {number}")


@dataclass(frozen=True)
class Layer:
    """One histogram on the plot, with its legend label and how it is drawn."""

    label: str
    histogram: FilledHistogram
    style: str = "bars"
    colour: str = PALETTE[0]


@dataclass(frozen=True)
class DrawnLayer:
    """A layer's heights as drawn: scaled, stacked, and floored for a log axis."""

    layer: Layer
    bottom: np.ndarray
    top: np.ndarray
    errors: np.ndarray

    scale: float = 1.0  # the factor of unit area, 1 without it

    @property
    def contents(self) -> np.ndarray:
        """The layer's own contents, as drawn (scaled; not floored nor stacked)."""
        return self.layer.histogram.counts * self.scale


@dataclass(frozen=True)
class PlotData:
    """Everything a plot shows: layers, axis titles, scales and an optional fitted curve."""

    layers: tuple[Layer, ...]
    x_label: str
    logy: bool = False
    density: bool = False
    fit: FitResult | None = None
    fit_layer: int = 0
    title: str = ""
    ratio: bool = False  # a data/simulation panel below: the points layer over the stack

    def ratio_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Bin centres, data / simulation and its uncertainty (from the data), or None."""
        points = [layer for layer in self.layers if layer.style == "points"]
        total = self.stack_total()
        if not self.ratio or not points or total.size == 0:
            return None
        data = points[0].histogram
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total > 0, data.counts / total, np.nan)
            error = np.where(total > 0, data.errors / total, np.nan)
        return data.centres, ratio, error

    @property
    def y_label(self) -> str:
        """The vertical axis title."""
        if self.density:
            return "Fraction per unit (unit area)"
        widths = self.layers[0].histogram.widths if self.layers else np.array([1.0])
        unit = self.x_label.rsplit("[", 1)[1].rstrip("]") if self.x_label.endswith("]") else ""
        width = f"{widths[0]:.3g}{' ' + unit if unit else ''}"
        weighted = any(layer.style == "stack" for layer in self.layers)
        return f"{'Weighted events' if weighted else 'Entries'} / {width}"

    @property
    def has_legend(self) -> bool:
        """A legend is shown for several layers or a fitted curve."""
        return len(self.layers) > 1 or self.fit is not None

    @property
    def structure(self) -> tuple:
        """What changes the plot's layout (not just its numbers): layers, legend, x axis, fit,
        ratio panel (the vertical scale changes in place)."""
        # Legend labels are fixed when a plot is built; without a legend they do not matter.
        legend = len(self.layers) > 1 or self.fit is not None
        return (
            tuple(
                (layer.label if legend else "", layer.style, layer.colour) for layer in self.layers
            ),
            self.x_label,
            self.title,
            None if self.fit is None else (self.fit.signal, self.fit.background),
            self.ratio,
        )

    @property
    def fit_label(self) -> str:
        """Legend label of the fitted curve."""
        if self.fit is None:
            return ""
        background = "" if self.fit.background == "none" else f" + {self.fit.background}"
        return f"fit: {SIGNALS[self.fit.signal]}{background}"

    def drawn_layers(self) -> list[DrawnLayer]:
        """The layers with their drawn heights (unit area, stacks on top of each other)."""
        stack_total = self.stack_total()
        stack_scale = stack_normalisation(self.layers, stack_total, self.density)
        floor = self.log_floor()
        drawn = []
        below = None
        for layer in self.layers:
            histogram = layer.histogram
            if layer.style == "stack":
                scale = stack_scale
                bottom = np.full(histogram.counts.shape, floor) if below is None else below
                top = bottom + histogram.counts * scale
                below = top
            else:
                scale = histogram.normalisation(self.density)
                bottom = np.full(histogram.counts.shape, floor)
                top = np.maximum(histogram.counts * scale, floor)
            drawn.append(DrawnLayer(layer, bottom, top, histogram.errors * scale, scale))
        return drawn

    def stack_total(self) -> np.ndarray:
        """Contents of all stacked layers added up (empty when nothing is stacked)."""
        stacked = [layer.histogram.counts for layer in self.layers if layer.style == "stack"]
        return np.sum(stacked, axis=0) if stacked else np.zeros(0)

    def fit_curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The fitted curve, in the same units as the fitted layer is drawn."""
        if self.fit is None or not self.layers:
            return None
        fitted = self.layers[self.fit_layer]
        if fitted.style == "stack":
            scale = stack_normalisation(self.layers, self.stack_total(), self.density)
        else:
            scale = fitted.histogram.normalisation(self.density)
        return self.fit.curve_x, self.fit.curve_y * scale

    def log_floor(self) -> float:
        """Where bars start on a log axis (half the smallest positive content), else 0."""
        if not self.logy:
            return 0.0
        positive = [
            layer.histogram.counts[layer.histogram.counts > 0]
            * layer.histogram.normalisation(self.density)
            for layer in self.layers
        ]
        smallest = min((float(values.min()) for values in positive if values.size), default=1.0)
        return 0.5 * smallest


def stack_normalisation(layers: tuple[Layer, ...], total: np.ndarray, density: bool) -> float:
    """The factor that gives the whole stack unit area (1 without density or stack)."""
    if not density or total.size == 0:
        return 1.0
    widths = next(layer.histogram.widths for layer in layers if layer.style == "stack")
    area = float(np.sum(total * widths))
    return 1.0 / area if area > 0 else 1.0


def bins_table(plot: PlotData) -> str:
    """CSV text of the bin edges and, for every layer, contents and uncertainties."""
    if not plot.layers:
        return ""
    edges = plot.layers[0].histogram.edges
    header = ["low_edge", "high_edge"]
    columns = [edges[:-1], edges[1:]]
    for layer in plot.layers:
        name = csv_field(layer.label)
        header += [f"{name} content", f"{name} uncertainty"]
        columns += [layer.histogram.counts, layer.histogram.errors]
    lines = [",".join(header)]
    lines += [",".join(f"{value:.10g}" for value in row) for row in zip(*columns, strict=True)]
    return "\n".join(lines) + "\n"


def csv_field(text: str) -> str:
    """Text safe inside a CSV header cell: no commas, quotes, line breaks or formula start."""
    cleaned = " ".join(text.replace(",", ";").replace('"', "'").split())
    return f"'{cleaned}" if cleaned.startswith(("=", "+", "-", "@")) else cleaned
