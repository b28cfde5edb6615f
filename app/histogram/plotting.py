"""One plot computed from its settings: fill the datasets, stack, overlay, fit (no widgets).

The page runs `compute_plot` off the event loop; `eventlab hist` runs the same function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.histogram.combining import combined_summary, summed_histogram
from app.histogram.errors import DatasetError, ExpressionInputError
from app.histogram.evaluation import Evaluator
from app.histogram.figure import DATA_COLOUR, PALETTE, Layer, PlotData, category_label
from app.histogram.filling import Binning, FilledHistogram, Selection, auto_binning, summary
from app.histogram.fitting import FitResult, fit_peak, units_for
from app.histogram.luminosity import simulation_weight, weighted_by
from app.histogram.settings import Overlay, PlotSettings
from app.histogram.units import axis_label, expression_unit
from converters.errors import EventLabError

MAX_CATEGORIES = 12
DATA_LABEL = "data"
# One row of the statistics table: its label, the numbers, and whether entries are weighted.
StatisticsRow = tuple[str, dict, bool]


@dataclass(frozen=True)
class Source:
    """One dataset filling the main histogram, with the weight it is filled with."""

    key: str
    evaluator: Evaluator
    weight: str
    is_data: bool = False  # data beside simulation scaled to a luminosity


def source_of(key: str, evaluator: Evaluator, settings: PlotSettings) -> Source:
    """A dataset with its weight: the chosen one, times the luminosity weight of simulation."""
    if not settings.luminosity:
        return Source(key, evaluator, settings.weight)
    factor = simulation_weight(evaluator, settings.luminosity)
    return Source(key, evaluator, weighted_by(settings.weight, factor), is_data=factor is None)


@dataclass(frozen=True)
class PlotOutcome:
    """What a redraw computed, ready to be shown or printed."""

    plot: PlotData
    binning: Binning
    histogram: FilledHistogram
    statistics: tuple[StatisticsRow, ...]
    fit: FitResult | None
    columns_used: tuple[str, ...]
    started: float
    notes: tuple[str, ...] = ()


def compute_plot(
    settings: PlotSettings, evaluator_for: Callable[[str], Evaluator], title: str = ""
) -> PlotOutcome:
    """Fill the main datasets (summed or stacked), the overlays, and fit the main histogram."""
    started = time.perf_counter()
    x, cut, weight = settings.x.strip(), settings.cut, settings.weight
    if not x:
        raise ExpressionInputError("choose a variable or type an expression to plot")
    evaluators = [evaluator_for(key) for key in settings.datasets]
    sources = [
        source_of(key, evaluator, settings)
        for key, evaluator in zip(settings.datasets, evaluators, strict=True)
    ]
    selections = [source.evaluator.selection(x, cut, source.weight) for source in sources]
    binning = plot_binning(selections, settings)
    histograms = [source.evaluator.histogram(x, binning, cut, source.weight) for source in sources]
    data = [h for source, h in zip(sources, histograms, strict=True) if source.is_data]
    histogram = summed_histogram(data if data and len(data) < len(sources) else histograms)
    layers = main_layers(settings, sources, binning, histograms)
    weighted = any(selection.weighted for selection in selections)
    rows = statistics_rows(settings, sources, layers, selections, histograms)
    for number, overlay in enumerate(settings.overlays):
        overlay_selection, overlay_histogram = overlay_fill(evaluator_for, overlay, x, binning)
        colour = DATA_COLOUR if overlay.style == "points" else PALETTE[(number + 1) % 10]
        layers.append(Layer(overlay.label, overlay_histogram, overlay.style, colour))
        numbers = summary(overlay_selection, overlay_histogram)
        rows.append((overlay.label, numbers, overlay_selection.weighted))
    fit = plot_fit(histogram, weighted, settings)
    plot = PlotData(
        layers=tuple(layers),
        x_label=axis_label(x),
        logy=settings.logy,
        density=settings.density,
        fit=fit,
        fit_layer=next((i for i, layer in enumerate(layers) if layer.label == DATA_LABEL), 0),
        title=title,
        ratio=bool(data) and len(data) < len(sources),
    )
    used = evaluators[0].columns_used(x, cut, weight)
    notes = luminosity_notes(settings, sources)
    return PlotOutcome(plot, binning, histogram, tuple(rows), fit, tuple(used), started, notes)


def luminosity_notes(settings: PlotSettings, sources: list[Source]) -> tuple[str, ...]:
    """What the luminosity normalisation did to each dataset, in words."""
    if not settings.luminosity:
        return ()
    notes = []
    for source in sources:
        name = dataset_name(source.key)
        if source.is_data:
            notes.append(f"{name}: data (no cross-section columns), drawn as points")
        else:
            notes.append(
                f"{name}: simulation scaled to {settings.luminosity:g} fb⁻¹ with "
                f"weight {source.weight}"
            )
    return tuple(notes)


def dataset_name(key: str) -> str:
    """The name of a dataset key ("file:NAME", "upload:NAME" on the page, or a path)."""
    kind, _, name = key.partition(":")
    return name if kind in ("file", "upload") else Path(key).name


def main_layers(
    settings: PlotSettings,
    sources: list[Source],
    binning: Binning,
    histograms: list[FilledHistogram],
) -> list[Layer]:
    """The main selection: one histogram (datasets summed), one per dataset stacked, or split
    into stacked categories of a column; with a luminosity, simulation stacked under data."""
    label = settings.cut.strip() or "all events"
    if settings.luminosity and any(source.is_data for source in sources):
        return data_over_simulation(settings, sources, binning, histograms)
    if len(histograms) > 1 and (settings.combine_mode == "stack" or settings.luminosity):
        return [
            Layer(dataset_name(source.key), part, "stack", PALETTE[number % 10])
            for number, (source, part) in enumerate(zip(sources, histograms, strict=True))
        ]
    if len(histograms) > 1:
        label = f"{' + '.join(dataset_name(key) for key in settings.datasets)}: {label}"
    elif settings.overlays:
        label = f"{dataset_name(settings.dataset)}: {label}"
    if settings.stack:
        return category_layers(settings, sources, binning)
    style = "stack" if settings.luminosity else "bars"
    return [Layer(label, summed_histogram(histograms), style, PALETTE[0])]


def data_over_simulation(
    settings: PlotSettings,
    sources: list[Source],
    binning: Binning,
    histograms: list[FilledHistogram],
) -> list[Layer]:
    """Simulated datasets (or their processes) stacked, and the data summed as points."""
    simulated = [source for source in sources if not source.is_data]
    if settings.stack:
        layers = category_layers(settings, simulated, binning)
    else:
        parts = [h for source, h in zip(sources, histograms, strict=True) if not source.is_data]
        layers = [
            Layer(dataset_name(source.key), part, "stack", PALETTE[number % 10])
            for number, (source, part) in enumerate(zip(simulated, parts, strict=True))
        ]
    data = [h for source, h in zip(sources, histograms, strict=True) if source.is_data]
    layers.append(Layer(DATA_LABEL, summed_histogram(data), "points", DATA_COLOUR))
    return layers


def category_layers(settings: PlotSettings, sources: list[Source], binning: Binning) -> list[Layer]:
    """The main selection split by the values of a column (e.g. a simulated process), stacked;
    several datasets add up within each category."""
    column, x, cut = settings.stack, settings.x, settings.cut
    found = [source.evaluator.values(column) for source in sources]
    categories = np.unique(np.concatenate([values[np.isfinite(values)] for values in found]))
    if categories.size > MAX_CATEGORIES:
        raise DatasetError(
            f"{column} has {categories.size} different values; stacking needs at most "
            f"{MAX_CATEGORIES}"
        )
    layers = []
    for number, category in enumerate(categories):
        condition = f"{quoted(column)} == {category:.17g}"
        category_cut = f"({cut}) & {condition}" if cut.strip() else condition
        parts = [
            source.evaluator.histogram(x, binning, category_cut, source.weight)
            for source in sources
        ]
        layers.append(
            Layer(
                category_label(column, category),
                summed_histogram(parts),
                "stack",
                PALETTE[number % 10],
            )
        )
    return layers


def statistics_rows(
    settings: PlotSettings,
    sources: list[Source],
    layers: list[Layer],
    selections: list[Selection],
    histograms: list[FilledHistogram],
) -> list[StatisticsRow]:
    """The statistics of the main selection: per dataset and their sum when combined."""
    weighted = any(selection.weighted for selection in selections)
    if len(selections) == 1:
        label = layers[0].label if len(layers) == 1 else "all selected"
        return [(label, summary(selections[0], histograms[0]), weighted)]
    rows = []
    for source, selection, histogram in zip(sources, selections, histograms, strict=True):
        label = dataset_name(source.key)
        if settings.luminosity:
            label += " (data)" if source.is_data else f" (simulation, {settings.luminosity:g} fb⁻¹)"
        rows.append((label, summary(selection, histogram), selection.weighted))
    if not settings.luminosity:
        rows.append(("all datasets", combined_summary(selections, histograms), weighted))
    return rows


def overlay_fill(
    evaluator_for: Callable[[str], Evaluator], overlay: Overlay, x: str, binning: Binning
) -> tuple[Selection, FilledHistogram]:
    """The selection and histogram of an added dataset/cut with the current variable."""
    try:
        evaluator = evaluator_for(overlay.dataset)
        selection = evaluator.selection(x, overlay.cut, overlay.weight)
        return selection, evaluator.histogram(x, binning, overlay.cut, overlay.weight)
    except EventLabError as error:
        raise ExpressionInputError(f"Added selection '{overlay.label}': {error}") from None


def quoted(name: str) -> str:
    """A column name as an expression can use it (backticks when not a plain word)."""
    return name if name.isidentifier() else f"`{name}`"


def plot_binning(selections: list[Selection], settings: PlotSettings) -> Binning:
    """The binning the settings ask for, or an automatic one from all selected values."""
    if settings.auto_range:
        values = np.concatenate([selection.values for selection in selections])
        binning = auto_binning(values)
        if not is_integer_binning(binning):
            binning = Binning(settings.bins, binning.low, binning.high)
        return binning
    if settings.low is None or settings.high is None:
        raise DatasetError("type both ends of the range, or tick Automatic range")
    return Binning(settings.bins, float(settings.low), float(settings.high))


def plot_fit(
    histogram: FilledHistogram, weighted: bool, settings: PlotSettings
) -> FitResult | None:
    """The fit of the main histogram when a peak shape is chosen (a failed fit is reported)."""
    if not settings.fit:
        return None
    low, high = settings.fit_range
    low = histogram.edges[0] if low is None else low
    high = histogram.edges[-1] if high is None else high
    result = fit_peak(
        histogram, settings.fit, settings.background, (low, high), weighted, settings.width_held
    )
    return units_for(result, expression_unit(settings.x) or "")


def is_integer_binning(binning: Binning) -> bool:
    """True for the one-bin-per-whole-number binning chosen for counts."""
    return binning.low % 1 == 0.5 and binning.bins == binning.high - binning.low
