"""The "Histograms" tab: widgets wired to the pure functions of the histogram lab."""

from __future__ import annotations

import html
import io
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import panel as pn
import pyarrow as pa

from app.config import AppConfig
from app.histogram.catalog import is_safe_name, list_data_files, open_data_file
from app.histogram.data import (
    DATA_SUFFIXES,
    JAGGED_VIEWS,
    Dataset,
    MissingValues,
    missing_note,
    missing_problems,
    read_dataset,
)
from app.histogram.drawing import LivePlot
from app.histogram.errors import DatasetError, ExpressionInputError
from app.histogram.evaluation import Evaluator
from app.histogram.exercises import Exercise, Step, check_answer, discover_exercises
from app.histogram.figure import DATA_COLOUR, PALETTE, Layer, PlotData, bins_table, category_label
from app.histogram.filling import Binning, FilledHistogram, Selection, auto_binning, summary
from app.histogram.fit_report import fit_html
from app.histogram.fitting import BACKGROUNDS, SIGNALS, Z_WIDTH, FitResult, fit_peak, units_for
from app.histogram.links import LinkSettings, settings_from_query, settings_query
from app.histogram.tables import table_html
from app.histogram.units import axis_label, column_unit, expression_unit
from app.memory import SessionMemory
from app.safe_html import alert_pane, markdown_html, show_alert, text_html
from app.uploads import upload_box, upload_refusal
from app.work import PageWork
from converters.errors import EventLabError
from converters.expressions import FUNCTION_HELP

NO_CHOICE = ""
MAX_CATEGORIES = 12
MAX_OVERLAYS = 8
MAX_NAMES_SHOWN = 8  # column names written out in a message; the rest are counted
PREFERRED_DATASET = "toy_events.parquet"
CONTROL_WIDTH = 320
EXERCISE_WIDTH = 340
EXERCISE_HINT = (
    "Choose an exercise for step-by-step instructions: each step sets up a suggested plot "
    "and asks questions you can check here."
)
OPERATOR_HELP = """
Write expressions with column names, numbers and
`+ - * / **`, comparisons `> >= < <= == !=`, and `&` (and), `|` (or), `~` (not).
Names that are not plain words go in backticks. Lepton masses in GeV: e 0.000511, μ 0.1057.
"""


@dataclass(frozen=True)
class Overlay:
    """A selection added to the plot: a dataset and cut drawn with the current variable."""

    dataset: str
    cut: str
    weight: str
    label: str
    style: str


@dataclass(frozen=True)
class PlotRequest:
    """The settings of one redraw, read from the widgets on the event loop."""

    dataset: str
    x: str
    cut: str
    weight: str
    stack: str
    bins: int
    low: float | None
    high: float | None
    auto_range: bool
    logy: bool
    density: bool
    fit: str
    background: str
    fit_range: tuple[float | None, float | None]
    overlays: tuple[Overlay, ...]
    fixed_width: float | None = None


@dataclass(frozen=True)
class PlotOutcome:
    """What a redraw computed off the event loop, ready to be shown."""

    plot: PlotData
    binning: Binning
    statistics: str
    fit: FitResult | None
    started: float


def histogram_tab(config: AppConfig, memory: SessionMemory | None = None) -> pn.viewable.Viewable:
    """The histogram lab of one browser session."""
    return HistogramLab(config, memory).layout


def exercise_folders(config: AppConfig) -> tuple[Path, ...]:
    """Where exercises are looked for: the bundled ones, then `exercises/` of each data folder."""
    from app.histogram.exercises import BUNDLED_EXERCISES

    return (BUNDLED_EXERCISES, *(folder / "exercises" for folder in config.data_dirs))


class HistogramLab:
    """One session's histogram lab: datasets, expressions, plot, fit and exercises."""

    def __init__(self, config: AppConfig, memory: SessionMemory | None = None) -> None:
        self.config = config
        self.memory = memory or SessionMemory(config.session_memory_bytes)
        self.work = PageWork(config.action_seconds, pn.state.curdoc)
        self.files = {item.name: item for item in list_data_files(config.data_dirs)}
        self.uploads: dict[str, Dataset] = {}
        self.evaluators: dict[str, Evaluator] = {}
        self.overlays: list[Overlay] = []
        self.live = LivePlot()
        self.plot: PlotData | None = None
        self.fit: FitResult | None = None
        self.last_refresh_ms = 0.0
        self._quiet = False
        self._pending_step: Step | None = None
        self.exercises, self.exercise_problems = discover_exercises(exercise_folders(config))
        self.exercise: Exercise | None = None
        self.step_index = 0
        self._build_widgets()
        self._build_layout()
        self._watch()
        self._start()

    # --- widgets and layout ----------------------------------------------------------------

    def _build_widgets(self) -> None:
        """Create every widget and output pane."""
        self.dataset_select = pn.widgets.Select(
            label="Dataset", options={}, sizing_mode="stretch_width"
        )
        self.upload = upload_box(
            self.config.max_upload_mb, DATA_SUFFIXES, sizing_mode="stretch_width", height=80
        )
        self.dataset_info = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.variable_select = pn.widgets.Select(
            label="Variable", options={}, sizing_mode="stretch_width"
        )
        self.x_input = pn.widgets.TextInput(
            label="Plot (variable or expression)",
            placeholder="inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)",
            sizing_mode="stretch_width",
        )
        self.keep_name = pn.widgets.TextInput(placeholder="new column name", width=150)
        self.keep_button = pn.widgets.Button(label="Keep as column", width=115)
        self.cut_input = pn.widgets.TextInput(
            label="Cut (keep events where it holds)",
            placeholder="e.g. pt1 > 20 & pt2 > 20 & Q1*Q2 < 0",
            sizing_mode="stretch_width",
        )
        self.weight_select = pn.widgets.Select(
            label="Weight", options={}, sizing_mode="stretch_width"
        )
        self.stack_select = pn.widgets.Select(
            label="Stack by (simulated samples)", options={}, sizing_mode="stretch_width"
        )
        self.bins_input = pn.widgets.IntInput(label="Bins", value=50, start=1, end=2000, width=75)
        self.low_input = pn.widgets.FloatInput(label="From", value=0.0, width=95)
        self.high_input = pn.widgets.FloatInput(label="To", value=1.0, width=95)
        self.auto_range = pn.widgets.Checkbox(label="Automatic range", value=True)
        self.logy = pn.widgets.Checkbox(label="Log y", value=False)
        self.density = pn.widgets.Checkbox(label="Normalise to unit area", value=False)
        self.add_line_button = pn.widgets.Button(label="Add to plot as line", width=135)
        self.add_points_button = pn.widgets.Button(label="Add as data points", width=135)
        self.clear_overlays_button = pn.widgets.Button(label="Remove added", width=135)
        self.overlay_list = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.fit_select = pn.widgets.Select(
            label="Fit a peak",
            options={"no fit": NO_CHOICE} | {v: k for k, v in SIGNALS.items()},
            width=135,
        )
        self.background_select = pn.widgets.Select(
            label="Background",
            options={v: k for k, v in BACKGROUNDS.items()},
            value="none",
            width=135,
        )
        self.fit_low = pn.widgets.FloatInput(label="Fit from", value=None, width=100)
        self.fit_high = pn.widgets.FloatInput(label="Fit to", value=None, width=100)
        self.fix_width = pn.widgets.Checkbox(
            label=f"Fix the width at the Z's, {Z_WIDTH} GeV (Breit-Wigner, Voigtian)", value=False
        )
        self.suggested_range_button = pn.widgets.Button(
            label="Fit the suggested range", width=200, visible=False
        )
        self.png_download = pn.widgets.FileDownload(
            callback=self._png_file, filename="histogram.png", label="Download PNG", width=140
        )
        self.csv_download = pn.widgets.FileDownload(
            callback=self._csv_file, filename="histogram.csv", label="Download CSV", width=140
        )
        self.link_text = pn.widgets.TextInput(
            label="Link to this plot", sizing_mode="stretch_width"
        )
        self.error_alert = alert_pane("danger", sizing_mode="stretch_width")
        self.notice_alert = alert_pane("warning", sizing_mode="stretch_width")
        self.plot_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=470)
        self.stats_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.fit_pane = pn.pane.HTML("", sizing_mode="stretch_width", visible=False)
        self.exercise_select = pn.widgets.Select(
            label="Exercise",
            options={"(choose an exercise)": NO_CHOICE} | {e.title: e.id for e in self.exercises},
            sizing_mode="stretch_width",
        )
        self.exercise_text = pn.pane.HTML(text_html(EXERCISE_HINT), sizing_mode="stretch_width")
        self.exercise_problems_pane = pn.pane.HTML(
            exercise_problems_html(self.exercise_problems), sizing_mode="stretch_width"
        )
        self.previous_button = pn.widgets.Button(label="◀ Previous", width=100, disabled=True)
        self.next_button = pn.widgets.Button(label="Next ▶", width=100, disabled=True)
        self.suggested_button = pn.widgets.Button(
            label="Show suggested plot", width=140, disabled=True
        )
        self.questions = pn.Column(sizing_mode="stretch_width")

    def _build_layout(self) -> None:
        """Arrange controls left, plot and tables in the middle, the exercise right."""
        help_lines = "\n".join(
            f"- `{text.split(':', 1)[0]}`: {text.split(':', 1)[1].strip()}"
            for text in FUNCTION_HELP.values()
        )
        controls = pn.Column(
            pn.Card(
                self.dataset_select,
                pn.pane.Markdown("Or upload a CSV, parquet or ROOT file:", margin=(0, 10)),
                self.upload,
                self.dataset_info,
                title="Data",
                sizing_mode="stretch_width",
            ),
            pn.Card(
                self.variable_select,
                self.x_input,
                pn.Row(self.keep_name, self.keep_button),
                self.cut_input,
                self.weight_select,
                self.stack_select,
                title="Variable and cuts",
                sizing_mode="stretch_width",
            ),
            pn.Card(
                pn.Row(self.bins_input, self.low_input, self.high_input),
                self.auto_range,
                pn.Row(self.logy, self.density),
                pn.Row(self.add_line_button, self.add_points_button),
                self.clear_overlays_button,
                self.overlay_list,
                title="Binning and overlays",
                sizing_mode="stretch_width",
            ),
            pn.Card(
                pn.Row(self.fit_select, self.background_select),
                pn.Row(self.fit_low, self.fit_high),
                self.fix_width,
                title="Fit",
                sizing_mode="stretch_width",
            ),
            pn.Card(
                pn.Row(self.png_download, self.csv_download),
                self.link_text,
                pn.pane.Markdown(
                    "The plot's toolbar also saves a PNG. Uploaded files are not part of links.",
                    margin=(0, 10),
                ),
                title="Export",
                sizing_mode="stretch_width",
            ),
            pn.Card(
                pn.pane.Markdown(OPERATOR_HELP + "\n" + help_lines, sizing_mode="stretch_width"),
                title="Expression help",
                collapsed=True,
                sizing_mode="stretch_width",
            ),
            width=CONTROL_WIDTH,
        )
        main = pn.Column(
            self.error_alert,
            self.notice_alert,
            self.plot_pane,
            self.stats_pane,
            self.fit_pane,
            self.suggested_range_button,
            sizing_mode="stretch_width",
        )
        exercise = pn.Column(
            pn.pane.Markdown("### Exercises", margin=(0, 10)),
            self.exercise_select,
            self.exercise_problems_pane,
            self.exercise_text,
            pn.Row(self.previous_button, self.next_button),
            self.suggested_button,
            self.questions,
            width=EXERCISE_WIDTH,
        )
        self.layout = pn.Row(controls, main, exercise, sizing_mode="stretch_width")

    def _watch(self) -> None:
        """Connect widgets to their handlers."""
        self.dataset_select.param.watch(self._on_dataset, "value")
        self.upload.param.watch(self._on_upload, "value")
        self.upload.param.watch(self._on_refused_upload, "refused")
        self.variable_select.param.watch(self._on_variable, "value")
        self.x_input.param.watch(self._on_x, "value")
        for widget in (self.cut_input, self.weight_select, self.stack_select, self.bins_input):
            widget.param.watch(self._on_setting, "value")
        for widget in (self.logy, self.density, self.fit_select, self.background_select):
            widget.param.watch(self._on_setting, "value")
        self.fix_width.param.watch(self._on_setting, "value")
        self.suggested_range_button.on_click(self._on_suggested_range)
        for widget in (self.fit_low, self.fit_high):
            widget.param.watch(self._on_setting, "value")
        for widget in (self.low_input, self.high_input):
            widget.param.watch(self._on_range, "value")
        self.auto_range.param.watch(self._on_auto_range, "value")
        self.keep_button.on_click(self._on_keep)
        self.add_line_button.on_click(lambda event: self._add_overlay("step"))
        self.add_points_button.on_click(lambda event: self._add_overlay("points"))
        self.clear_overlays_button.on_click(self._on_clear_overlays)
        self.exercise_select.param.watch(self._on_exercise, "value")
        self.previous_button.on_click(lambda event: self._go_to_step(self.step_index - 1))
        self.next_button.on_click(lambda event: self._go_to_step(self.step_index + 1))
        self.suggested_button.on_click(lambda event: self._go_to_step(self.step_index))

    def _start(self) -> None:
        """Show the first dataset (or the one a link names) and its first variable."""
        self._update_dataset_options()
        options = list(self.dataset_select.options.values())
        if not options:
            folders = ", ".join(str(folder) for folder in self.config.data_dirs)
            self._show_notice(
                f"No data files were found in {folders}. Upload a CSV, parquet or ROOT file."
            )
            return
        link, problems = settings_from_query(current_query())
        preferred = f"file:{PREFERRED_DATASET}"
        start = preferred if preferred in options else options[0]
        if link.dataset and f"file:{link.dataset}" in options:
            start = f"file:{link.dataset}"
        elif link.dataset:
            problems.append(f"the link's dataset {link.dataset} is not available here")
        with self._quietly():
            self.dataset_select.value = start
        if problems:
            self._show_notice("; ".join(problems))
        self._load_dataset(start, then=lambda: self._open_link(link))

    # --- datasets ----------------------------------------------------------------------------

    def _update_dataset_options(self) -> None:
        """List the data files and this session's uploads."""
        options = {name: f"file:{name}" for name in self.files}
        options |= {f"{name} (uploaded)": f"upload:{name}" for name in self.uploads}
        with self._quietly():
            self.dataset_select.options = options

    def _dataset(self, key: str) -> Dataset:
        """A dataset by its option key: a data-folder file or an upload of this session."""
        kind, _, name = key.partition(":")
        if kind == "upload" and name in self.uploads:
            return self.uploads[name]
        if kind == "file":
            return open_data_file(name, self.config.data_dirs)
        raise DatasetError(f"unknown dataset {name!r}")

    def _evaluator(self, key: str) -> Evaluator:
        """The session's evaluator (expression cache, derived columns) of one dataset.

        Reads the dataset when it is not open yet: call it off the event loop.
        """
        if key not in self.evaluators:
            self.evaluators[key] = Evaluator(self._dataset(key), memory=self.memory)
        return self.evaluators[key]

    @property
    def evaluator(self) -> Evaluator:
        """The evaluator of the selected dataset."""
        return self._evaluator(self.dataset_select.value)

    def _on_dataset(self, event) -> None:
        if self._quiet:
            return
        self._load_dataset(event.new)

    def _load_dataset(self, key: str, then: Callable[[], None] | None = None) -> None:
        """Open a dataset off the event loop, show its columns, then run `then` (by default:
        plot its first variable, or the current one if it has it)."""

        def loaded(evaluator: Evaluator) -> None:
            self._update_column_options(evaluator)
            self._show_dataset_info(evaluator.dataset)
            if then is not None:
                then()
                return
            self._choose_variable(evaluator)
            self.refresh(auto_range=True)

        self.work.run(lambda: self._evaluator(key), loaded, self._fail, replaceable=False)

    def _choose_variable(self, evaluator: Evaluator) -> None:
        """Keep the plotted variable if the dataset has it, else take its first one."""
        with self._quietly():
            current = self.x_input.value.strip()
            if current not in evaluator.names and current.strip("`") not in evaluator.names:
                name = default_variable(evaluator)
                self.variable_select.value = name
                self.x_input.value = as_expression(name, evaluator)
            self.auto_range.value = True

    def _update_column_options(self, evaluator: Evaluator) -> None:
        """Fill the variable, weight and stack-by menus from the dataset's columns."""
        dataset = evaluator.dataset
        variables = {variable_label(name): name for name in dataset.scalar_columns}
        for jagged in dataset.jagged_columns:
            variables[f"{jagged}: all elements"] = jagged
            for suffix, meaning in JAGGED_VIEWS.items():
                variables[f"{jagged}{suffix}: {meaning}"] = jagged + suffix
        variables |= {f"{name} = {text}": name for name, text in evaluator.derived.items()}
        weights = {"(none)": NO_CHOICE} | {name: name for name in dataset.scalar_columns}
        weights |= {name: name for name in evaluator.derived}
        categories = {"(none)": NO_CHOICE} | {
            name: name
            for name in dataset.scalar_columns
            if pa.types.is_integer(dataset.table.schema.field(name).type)
        }
        self.cut_input.placeholder = f"e.g. {example_cut(dataset.scalar_columns)}"
        with self._quietly():
            self.variable_select.options = variables
            self.weight_select.options = weights
            if self.weight_select.value not in weights.values():
                self.weight_select.value = NO_CHOICE
            self.stack_select.options = categories
            if self.stack_select.value not in categories.values():
                self.stack_select.value = NO_CHOICE

    def _show_dataset_info(self, dataset: Dataset) -> None:
        """Rows, columns, the file's own description, notes on its values, and warnings."""
        self.dataset_info.object = dataset_info_html(dataset)
        problems = missing_problems(dataset)
        if problems:
            self._show_notice(problems)
        else:
            self.notice_alert.visible = False

    def _on_upload(self, event) -> None:
        """Read an uploaded file into this session (it is never written to disk)."""
        if not event.new:
            return
        filename, data = list(event.new.items())[-1]
        with self._quietly():
            self.upload.value = {}  # the page keeps no second copy
        name = Path(filename).name if is_safe_name(Path(filename).name) else "upload.csv"
        owner = ("upload", name)
        self.memory.release(owner)  # a file of the same name is replaced

        def read() -> Dataset:
            if len(data) > self.config.max_upload_bytes:
                raise DatasetError(upload_refusal(name, self.config.max_upload_mb))
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            dataset = read_dataset(raw, name, room=partial(self.memory.check, owner, what=name))
            self.memory.hold(owner, dataset.nbytes, name)
            return dataset.for_page(self.memory)

        def opened(dataset: Dataset) -> None:
            self.uploads[name] = dataset
            self.evaluators.pop(f"upload:{name}", None)
            self._update_dataset_options()
            with self._quietly():
                self.dataset_select.value = f"upload:{name}"
            self._load_dataset(f"upload:{name}", then=self._after_upload(name))

        self.uploads.pop(name, None)
        self.evaluators.pop(f"upload:{name}", None)
        self.work.run(read, opened, self._fail, replaceable=False)

    def _on_refused_upload(self, event) -> None:
        """A file larger than the upload limit was dropped while it arrived."""
        if event.new:
            self._show_error(upload_refusal(event.new, self.config.max_upload_mb))

    def _after_upload(self, name: str) -> Callable[[], None] | None:
        """What follows the upload of `name`: the exercise step that waited for it, if any."""
        if self._pending_step is not None and self.exercise and self.exercise.dataset == name:
            return lambda: self._go_to_step(self.step_index)
        return None

    # --- settings ----------------------------------------------------------------------------

    def _on_variable(self, event) -> None:
        if self._quiet or not event.new:
            return
        with self._quietly():
            self.x_input.value = as_expression(event.new, self.evaluator)
            self.auto_range.value = True
        self.refresh(auto_range=True)

    def _on_x(self, event) -> None:
        if self._quiet:
            return
        with self._quietly():
            self.auto_range.value = True
        self.refresh(auto_range=True)

    def _on_setting(self, event) -> None:
        if not self._quiet:
            self.refresh()

    def _on_range(self, event) -> None:
        if self._quiet:
            return
        with self._quietly():
            self.auto_range.value = False
        self.refresh()

    def _on_auto_range(self, event) -> None:
        if not self._quiet and event.new:
            self.refresh(auto_range=True)

    def _on_keep(self, event) -> None:
        """Keep the plotted expression as a new column of this dataset for this session."""
        evaluator = self.evaluator
        name, text = self.keep_name.value.strip(), self.x_input.value

        def kept(_none: None) -> None:
            self._update_column_options(evaluator)
            with self._quietly():
                self.keep_name.value = ""
                self.x_input.value = name
                self.variable_select.value = name
            self.refresh()

        self.work.run(lambda: evaluator.add_column(name, text), kept, self._fail, replaceable=False)

    def _add_overlay(self, style: str) -> None:
        """Add the current dataset and cut to the plot, to compare later selections with it."""
        if len(self.overlays) >= MAX_OVERLAYS:
            self._show_error(f"at most {MAX_OVERLAYS} selections can be added to one plot")
            return
        dataset = self.dataset_select.value
        cut = self.cut_input.value.strip()
        name = dataset.partition(":")[2]
        label = f"{name}: {cut or 'all events'}"
        self.overlays.append(Overlay(dataset, cut, self.weight_select.value, label, style))
        self.refresh()

    def _on_clear_overlays(self, event) -> None:
        self.overlays.clear()
        self.refresh()

    # --- refreshing the plot -----------------------------------------------------------------

    def refresh(self, auto_range: bool = False) -> None:
        """Re-fill and redraw from the widgets, off the event loop; problems go to the alert."""
        if self._quiet:
            return
        try:
            request = self._request(auto_range)
        except EventLabError as error:
            self._show_error(str(error))
            return
        started = time.perf_counter()
        self.work.run(lambda: self._compute(request, started), self._show, self._fail)

    def _request(self, auto_range: bool) -> PlotRequest:
        """The widgets' settings for one redraw."""
        x = self.x_input.value.strip()
        if not x:
            raise ExpressionInputError("choose a variable or type an expression to plot")
        return PlotRequest(
            dataset=self.dataset_select.value,
            x=x,
            cut=self.cut_input.value,
            weight=self.weight_select.value,
            stack=self.stack_select.value,
            bins=self.bins_input.value or 50,
            low=self.low_input.value,
            high=self.high_input.value,
            auto_range=auto_range and self.auto_range.value,
            logy=self.logy.value,
            density=self.density.value,
            fit=self.fit_select.value,
            background=self.background_select.value,
            fit_range=(self.fit_low.value, self.fit_high.value),
            overlays=tuple(self.overlays),
            fixed_width=Z_WIDTH if self.fix_width.value else None,
        )

    def _compute(self, request: PlotRequest, started: float) -> PlotOutcome:
        """Fill the main selection, the stack and the overlays, and fit (no widget touched)."""
        evaluator = self._evaluator(request.dataset)
        x, cut, weight = request.x, request.cut, request.weight
        selection = evaluator.selection(x, cut, weight)
        binning = plot_binning(selection, request)
        histogram = evaluator.histogram(x, binning, cut, weight)
        layers = self._main_layers(evaluator, request, binning, histogram)
        rows = [(layers[0].label if len(layers) == 1 else "all selected", selection, histogram)]
        for number, overlay in enumerate(request.overlays):
            overlay_selection, overlay_histogram = self._overlay_histogram(overlay, x, binning)
            colour = DATA_COLOUR if overlay.style == "points" else PALETTE[(number + 1) % 10]
            layers.append(Layer(overlay.label, overlay_histogram, overlay.style, colour))
            rows.append((overlay.label, overlay_selection, overlay_histogram))
        fit = plot_fit(histogram, selection.weighted, request)
        plot = PlotData(
            layers=tuple(layers),
            x_label=axis_label(x),
            logy=request.logy,
            density=request.density,
            fit=fit,
            fit_layer=0,
        )
        used = [evaluator.missing(name) for name in evaluator.columns_used(x, cut, weight)]
        return PlotOutcome(plot, binning, statistics_html(rows) + missing_html(used), fit, started)

    def _show(self, outcome: PlotOutcome) -> None:
        """On the event loop: show a computed plot, its tables and the binning it used."""
        with self._quietly():
            self.bins_input.value = outcome.binning.bins
            self.low_input.value = outcome.binning.low
            self.high_input.value = outcome.binning.high
        self.plot, self.fit = outcome.plot, outcome.fit
        element = self.live.element(self.plot, in_place=pn.state.loaded)
        if element is not None:
            self.plot_pane.object = element
        self.stats_pane.object = outcome.statistics
        self.fit_pane.object = fit_html(self.fit)
        self.fit_pane.visible = self.fit is not None
        self.suggested_range_button.visible = bool(self.fit and self.fit.suggested_range)
        self.overlay_list.object = list_html(overlay.label for overlay in self.overlays)
        self.link_text.value = self._link()
        self.error_alert.visible = False
        self.last_refresh_ms = 1e3 * (time.perf_counter() - outcome.started)

    def _on_suggested_range(self, event: object = None) -> None:
        """Fit again over the range the last fit suggested."""
        if self.fit is None or self.fit.suggested_range is None:
            return
        low, high = self.fit.suggested_range
        with self._quietly():
            self.fit_low.value = low
        self.fit_high.value = high

    def _fail(self, error: EventLabError) -> None:
        """An action that could not be done: say why above the plot."""
        self._show_error(str(error))

    def _main_layers(
        self,
        evaluator: Evaluator,
        request: PlotRequest,
        binning: Binning,
        histogram: FilledHistogram,
    ) -> list[Layer]:
        """The main selection as one histogram, or split into stacked categories."""
        column, x, cut, weight = request.stack, request.x, request.cut, request.weight
        label = cut.strip() or "all events"
        if request.overlays:
            label = f"{request.dataset.partition(':')[2]}: {label}"
        if not column:
            return [Layer(label, histogram, "bars", PALETTE[0])]
        values = evaluator.values(column)
        categories = np.unique(values[np.isfinite(values)])
        if categories.size > MAX_CATEGORIES:
            raise DatasetError(
                f"{column} has {categories.size} different values; stacking needs at most "
                f"{MAX_CATEGORIES}"
            )
        layers = []
        for number, category in enumerate(categories):
            condition = f"{quoted(column)} == {category:.17g}"
            category_cut = f"({cut}) & {condition}" if cut.strip() else condition
            part = evaluator.histogram(x, binning, category_cut, weight)
            layers.append(
                Layer(category_label(column, category), part, "stack", PALETTE[number % 10])
            )
        return layers

    def _overlay_histogram(
        self, overlay: Overlay, x: str, binning: Binning
    ) -> tuple[Selection, FilledHistogram]:
        """The selection and histogram of an added dataset/cut with the current variable."""
        try:
            evaluator = self._evaluator(overlay.dataset)
            selection = evaluator.selection(x, overlay.cut, overlay.weight)
            return selection, evaluator.histogram(x, binning, overlay.cut, overlay.weight)
        except EventLabError as error:
            raise ExpressionInputError(f"Added selection '{overlay.label}': {error}") from None

    def _link(self) -> str:
        """A link that reopens this dataset, these expressions and this binning."""
        kind, _, name = self.dataset_select.value.partition(":")
        settings = LinkSettings(
            dataset=name if kind == "file" else None,
            x=self.x_input.value,
            cut=self.cut_input.value,
            weight=self.weight_select.value,
            bins=self.bins_input.value,
            range=(self.low_input.value, self.high_input.value),
            logy=self.logy.value,
            density=self.density.value,
            fit=self.fit_select.value or None,
            background=self.background_select.value if self.fit_select.value else None,
        )
        return f"{page_address()}?{settings_query(settings)}"

    def _open_link(self, link: LinkSettings) -> None:
        """The first plot of the page: the dataset's first variable, then what the link sets."""
        self._choose_variable(self.evaluator)
        self._apply_link(link)
        if link == LinkSettings(dataset=link.dataset):
            self.refresh(auto_range=True)

    def _apply_link(self, link: LinkSettings) -> None:
        """Apply the (already validated) settings of a link; expressions are checked on use."""
        with self._quietly():
            if link.x is not None:
                self.x_input.value = link.x
                if link.x in self.variable_select.options.values():
                    self.variable_select.value = link.x
            if link.cut is not None:
                self.cut_input.value = link.cut
            if link.weight is not None and link.weight in self.weight_select.options.values():
                self.weight_select.value = link.weight
            if link.bins is not None:
                self.bins_input.value = link.bins
            if link.range is not None:
                self.auto_range.value = False
                self.low_input.value, self.high_input.value = link.range
            if link.logy is not None:
                self.logy.value = link.logy
            if link.density is not None:
                self.density.value = link.density
            if link.fit is not None:
                self.fit_select.value = "" if link.fit == "none" else link.fit
            if link.background is not None:
                self.background_select.value = link.background
        if link != LinkSettings(dataset=link.dataset):
            self.refresh(auto_range=link.range is None)

    # --- exercises ---------------------------------------------------------------------------

    def _on_exercise(self, event) -> None:
        """Open an exercise: load its dataset and its first step."""
        self.exercise = next((e for e in self.exercises if e.id == event.new), None)
        self.questions.objects = []
        self._pending_step = None
        self.error_alert.visible = False  # a message about the previous exercise's file
        if self.exercise is None:
            self.exercise_text.object = text_html(EXERCISE_HINT)
            for button in (self.previous_button, self.next_button, self.suggested_button):
                button.disabled = True
            return
        self._go_to_step(0)

    def _go_to_step(self, index: int) -> None:
        """Show a step of the open exercise and apply its suggested plot."""
        exercise = self.exercise
        if exercise is None:
            return
        self.step_index = max(0, min(index, len(exercise.steps) - 1))
        step = exercise.steps[self.step_index]
        self.previous_button.disabled = self.step_index == 0
        self.next_button.disabled = self.step_index == len(exercise.steps) - 1
        self.suggested_button.disabled = False
        self.exercise_text.object = markdown_html(exercise_markdown(exercise, self.step_index))
        self.questions.objects = [question_row(q) for q in step.questions]
        key = self._exercise_dataset_key(exercise.dataset)
        if key is None:
            self._pending_step = step
            source = exercise.source or "Ask your teacher where to find it."
            self._show_error(
                f"This exercise needs the file {exercise.dataset}, which is not here yet. {source}"
            )
            return
        self._pending_step = None
        self._apply_step(key, step)

    def _exercise_dataset_key(self, name: str) -> str | None:
        """The option key of an exercise's dataset: an upload of that name, else a data file."""
        if name in self.uploads:
            return f"upload:{name}"
        if name in self.files:
            return f"file:{name}"
        return None

    def _apply_step(self, key: str, step: Step) -> None:
        """Set the widgets to a step's suggested dataset, expressions, binning and fit."""
        if self.dataset_select.value != key or key not in self.evaluators:
            with self._quietly():
                self.dataset_select.value = key
            self._load_dataset(key, then=lambda: self._set_step(step))
        else:
            self._set_step(step)

    def _set_step(self, step: Step) -> None:
        """The widgets of a step, once its dataset is open, and its plot."""
        self.overlays.clear()
        with self._quietly():
            if step.x:
                self.x_input.value = step.x
                if step.x in self.variable_select.options.values():
                    self.variable_select.value = step.x
            self.cut_input.value = step.cut
            options = self.weight_select.options.values()
            self.weight_select.value = step.weight if step.weight in options else NO_CHOICE
            self.stack_select.value = NO_CHOICE
            self.logy.value = step.logy
            self.density.value = step.density
            self.fit_select.value = step.fit
            self.background_select.value = step.background
            self.fit_low.value = step.fit_range[0] if step.fit_range else None
            self.fit_high.value = step.fit_range[1] if step.fit_range else None
            if step.bins:
                self.bins_input.value = step.bins
            self.auto_range.value = step.range is None
            if step.range:
                self.low_input.value, self.high_input.value = step.range
        self.refresh(auto_range=step.range is None)

    # --- messages and exports ----------------------------------------------------------------

    def _show_error(self, message: str) -> None:
        """An error above the plot: its first line as text, an expression and caret below."""
        first, _, rest = message.partition("\n")
        show_alert(self.error_alert, first, rest)

    def _show_notice(self, message: str) -> None:
        """A warning above the plot."""
        show_alert(self.notice_alert, message)

    def _png_file(self) -> io.BytesIO | None:
        """The current plot as PNG, drawn on the server."""
        from app.histogram.png import png_bytes

        if self.plot is None:
            return None
        return io.BytesIO(png_bytes(self.plot))

    def _csv_file(self) -> io.BytesIO | None:
        """Bin edges and contents of every layer as CSV."""
        if self.plot is None:
            return None
        return io.BytesIO(bins_table(self.plot).encode("utf-8"))

    class _Quiet:
        """Context in which widget changes do not trigger a refresh."""

        def __init__(self, lab: HistogramLab) -> None:
            self.lab = lab
            self.previous = False

        def __enter__(self) -> None:
            self.previous, self.lab._quiet = self.lab._quiet, True

        def __exit__(self, *exc) -> None:
            self.lab._quiet = self.previous

    def _quietly(self) -> HistogramLab._Quiet:
        return HistogramLab._Quiet(self)


# --- small helpers -------------------------------------------------------------------------------


def current_query() -> str:
    """The query string of the page this session was opened with ("" outside a server)."""
    location = pn.state.location
    return (location.search or "") if location is not None else ""


def page_address() -> str:
    """The page's address without its query (a relative one outside a server)."""
    location = pn.state.location
    if location is None or not location.href:
        return ""
    return location.href.split("?", 1)[0].split("#", 1)[0]


def default_variable(evaluator: Evaluator) -> str:
    """The first variable to show: a mass or momentum if there is one, else the first column."""
    names = evaluator.dataset.names
    for preferred in ("m_ll", "mass", "pt1", "lep1_pt"):
        if preferred in names:
            return preferred
    measured = [n for n in names if column_unit(n) == "GeV"]
    return (measured or names)[0]


def example_cut(names: list[str]) -> str:
    """An example cut on a dataset's own columns: a momentum (or another quantity in GeV)
    above 20, and at least two of something counted."""
    measured = [name for name in names if column_unit(name) == "GeV"]
    momenta = [name for name in measured if "pt" in name.lower()]
    # Lepton counts first: the usual dilepton selections start with them.
    counts = sorted((name for name in names if name.startswith("n_")), key=lambda n: "lep" not in n)
    parts = [f"{quoted((momenta or measured or names)[0])} > 20"] if names else []
    if counts:
        parts.append(f"{quoted(counts[0])} >= 2")
    return " & ".join(parts)


def variable_label(name: str) -> str:
    """A menu label for a column: its name and unit."""
    unit = column_unit(name)
    return f"{name} [{unit}]" if unit else name


def as_expression(name: str, evaluator: Evaluator) -> str:
    """A variable menu's choice as the plot box shows it: a list column as it is (all its
    elements), any other name quoted when it is not a plain word."""
    return name if name in evaluator.dataset.jagged_columns else quoted(name)


def quoted(name: str) -> str:
    """A column name as an expression can use it (backticks when not a plain word)."""
    return name if name.isidentifier() else f"`{name}`"


def plot_binning(selection: Selection, request: PlotRequest) -> Binning:
    """The binning a request asks for, or an automatic one from the selected values."""
    if request.auto_range:
        binning = auto_binning(selection.values)
        if not is_integer_binning(binning):
            binning = Binning(request.bins, binning.low, binning.high)
        return binning
    if request.low is None or request.high is None:
        raise DatasetError("type both ends of the range, or tick Automatic range")
    return Binning(request.bins, float(request.low), float(request.high))


def plot_fit(histogram: FilledHistogram, weighted: bool, request: PlotRequest) -> FitResult | None:
    """The fit of the main histogram when a peak shape is chosen (a failed fit is reported)."""
    if not request.fit:
        return None
    low, high = request.fit_range
    low = histogram.edges[0] if low is None else low
    high = histogram.edges[-1] if high is None else high
    fixed = request.fixed_width if request.fit in ("bw", "voigt") else None
    result = fit_peak(histogram, request.fit, request.background, (low, high), weighted, fixed)
    return units_for(result, expression_unit(request.x) or "")


def is_integer_binning(binning: Binning) -> bool:
    """True for the one-bin-per-whole-number binning chosen for counts."""
    return binning.low % 1 == 0.5 and binning.bins == binning.high - binning.low


def dataset_info_html(dataset: Dataset) -> str:
    """The data card: rows and columns, the file's own description, notes on its values."""
    meta = dataset.metadata
    parts = [
        f"<p style='margin:4px 0'><b>{dataset.n_rows:,}</b> rows, "
        f"<b>{len(dataset.table.column_names):,}</b> columns</p>"
    ]
    described = [f"<i>{text_html(key)}</i>: {text_html(text)}" for key, text in meta.items()]
    if described:
        parts.append(list_html_items(described))
    if dataset.ignored:
        shown = ", ".join(dataset.ignored[:MAX_NAMES_SHOWN])
        more = len(dataset.ignored) - MAX_NAMES_SHOWN
        shown += f" and {more:,} more" if more > 0 else ""
        note = text_html(f"Text columns are not plotted: {shown}.")
        parts.append(f"<p style='margin:4px 0'>{note}</p>")
    parts.append(missing_note(dataset))
    return "".join(parts)


def list_html(lines: Iterable[str]) -> str:
    """Lines of text as a bulleted list."""
    return list_html_items(text_html(line) for line in lines)


def list_html_items(items: Iterable[str]) -> str:
    """Items that are already HTML as a bulleted list ("" for none)."""
    rows = "".join(f"<li>{item}</li>" for item in items)
    return f"<ul style='margin:2px 0;padding-left:18px'>{rows}</ul>" if rows else ""


def number_text(value: float) -> str:
    """A statistic for a table."""
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.5g}"


def statistics_html(rows: list[tuple[str, Selection, FilledHistogram]]) -> str:
    """A table of entries, selected fraction, mean, std and flows, one row per selection."""
    header = (
        "<tr><th>selection</th><th>entries</th><th>selected</th><th>mean</th><th>std</th>"
        "<th>underflow</th><th>overflow</th><th>no value</th></tr>"
    )
    body = []
    for label, selection, histogram in rows:
        numbers = summary(selection, histogram)
        weighted = selection.weighted
        entries = number_text(numbers["entries"])
        if weighted:
            entries += f" (Σw {number_text(numbers['sum_of_weights'])})"
        body.append(
            f"<tr><td>{html.escape(label)}</td><td>{entries}</td>"
            f"<td>{100 * numbers['selected_fraction']:.1f} %</td>"
            f"<td>{number_text(numbers['mean'])}</td><td>{number_text(numbers['std'])}</td>"
            f"<td>{number_text(numbers['underflow'])}</td>"
            f"<td>{number_text(numbers['overflow'])}</td>"
            f"<td>{number_text(numbers['no_value'])}</td></tr>"
        )
    return table_html("Statistics", header + "".join(body))


def missing_html(columns: list[MissingValues]) -> str:
    """A line under the statistics on the empty or infinite values of the columns in use."""
    incomplete = [column for column in columns if column.missing or column.infinite]
    if not incomplete:
        return ""
    described = "; ".join(html.escape(column.describe()) for column in incomplete)
    return (
        "<p style='font-size:12px;color:#555;margin:4px 0 0 0'>"
        f"Columns in use — {described}. Empty values are not plotted (see <i>no value</i>); "
        "in a cut, <code>&gt;</code>, <code>&lt;</code> or <code>==</code> on an empty value "
        "is false.</p>"
    )


def exercise_problems_html(problems: list[str]) -> str:
    """The exercise files that could not be read, each with its mistake, for the teacher."""
    if not problems:
        return ""
    count = f"{len(problems)} exercise file" + ("s" if len(problems) != 1 else "")
    return (
        "<div style='font-size:12px;color:#842029'>"
        f"{count} of the data folders could not be used:{list_html(problems)}</div>"
    )


def exercise_markdown(exercise: Exercise, index: int) -> str:
    """The text of one step of an exercise."""
    step = exercise.steps[index]
    title = f": {step.title}" if step.title else ""
    parts = [f"**{exercise.title}**", exercise.summary]
    parts.append(f"#### Step {index + 1} of {len(exercise.steps)}{title}")
    parts.append(step.instructions)
    if exercise.source and index == 0:
        parts.append(f"*About the data:* {exercise.source}")
    return "\n\n".join(part for part in parts if part)


def question_row(question) -> pn.Column:
    """A question with an answer box, a Check button and the verdict."""
    answer = pn.widgets.TextInput(placeholder="your answer", width=150)
    button = pn.widgets.Button(label="Check", width=80)
    verdict = pn.pane.HTML("", sizing_mode="stretch_width")

    def check(event) -> None:
        result = check_answer(question, answer.value)
        mark = "✅" if result.correct else "❌"
        verdict.object = text_html(f"{mark} {result.message}")

    button.on_click(check)
    answer.param.watch(check, "value")
    unit = f" ({question.unit})" if question.unit else ""
    return pn.Column(
        pn.pane.HTML(markdown_html(f"**Q:** {question.text}{unit}"), sizing_mode="stretch_width"),
        pn.Row(answer, button),
        verdict,
        sizing_mode="stretch_width",
    )
