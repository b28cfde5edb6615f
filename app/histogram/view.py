"""The "Histograms" tab: widgets wired to the pure functions of the histogram lab."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import panel as pn
import pyarrow as pa

from app.config import AppConfig
from app.histogram.catalog import is_safe_name, list_data_files, open_data_file
from app.histogram.cut_builder_view import CutBuilder
from app.histogram.data import DATA_SUFFIXES, JAGGED_VIEWS, Dataset, missing_problems, read_dataset
from app.histogram.drawing import LivePlot
from app.histogram.errors import DatasetError
from app.histogram.evaluation import Evaluator
from app.histogram.exercise_view import exercise_markdown, exercise_problems_html, question_row
from app.histogram.exercises import Exercise, Step, discover_exercises
from app.histogram.figure import PlotData, bins_table
from app.histogram.fit_report import fit_html, verdict_html
from app.histogram.fitting import BACKGROUNDS, SIGNALS, Z_WIDTH, FitResult
from app.histogram.links import settings_from_query, settings_query
from app.histogram.plotting import PlotOutcome, compute_plot, dataset_name, quoted
from app.histogram.settings import Overlay, PlotSettings
from app.histogram.tables import dataset_info_html, list_html, missing_html, statistics_html
from app.histogram.units import column_unit
from app.memory import SessionMemory
from app.safe_html import alert_pane, markdown_html, show_alert, text_html
from app.uploads import upload_box, upload_refusal
from app.work import PageWork
from converters.errors import EventLabError
from converters.expressions import FUNCTION_HELP, ExpressionError, parse

NO_CHOICE = ""
MAX_OVERLAYS = 8
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
        self.settings = PlotSettings()  # what is plotted: widgets, links and steps set it
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
        self.combine_select = pn.widgets.MultiChoice(
            label="Add datasets to this histogram (summed)",
            options={},
            sizing_mode="stretch_width",
        )
        self.combine_stack = pn.widgets.Checkbox(label="Stack by dataset", value=False)
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
        self.luminosity_input = pn.widgets.FloatInput(
            label="Normalise simulation to luminosity (fb⁻¹)",
            value=None,
            start=0,
            placeholder="e.g. 10 (2020 ntuples) or 36.6 (2025)",
            sizing_mode="stretch_width",
        )
        self.fix_width = pn.widgets.Checkbox(
            label=f"Fix the width at the Z's, {Z_WIDTH} GeV (Breit-Wigner, Voigtian)", value=False
        )
        self.suggested_range_button = pn.widgets.Button(
            label="Fit the suggested range", width=200, visible=False
        )
        # The verdict again beside the fit's controls (the full table is under the plot).
        self.fit_verdict = pn.pane.HTML("", sizing_mode="stretch_width", visible=False)
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
        # The same message beside the boxes the student types in (the banner is by the plot).
        self.input_error = alert_pane("danger", sizing_mode="stretch_width")
        self.cut_builder = CutBuilder(self._write_cut, lambda: self.x_input.value)
        self.notice_alert = alert_pane("warning", sizing_mode="stretch_width")
        self.plot_pane = pn.pane.Bokeh(None, sizing_mode="stretch_width", min_height=470)
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
                self.combine_select,
                self.combine_stack,
                self.luminosity_input,
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
                self.input_error,
                title="Variable and cuts",
                sizing_mode="stretch_width",
            ),
            self.cut_builder.layout,
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
                self.fit_verdict,
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
            # The plot and its messages stay in view while the controls beside them scroll.
            styles={"position": "sticky", "top": "0px", "align-self": "flex-start"},
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
        for widget in (self.combine_select, self.combine_stack, self.luminosity_input):
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
            self.combine_select.options = options
            kept = [key for key in self.combine_select.value if key in options.values()]
            self.combine_select.value = kept

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
            # A variable the new dataset has keeps the binning chosen for it.
            if not can_plot(current, evaluator):
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
        self.cut_builder.show_for(evaluator.names)
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
        if len(self.settings.overlays) >= MAX_OVERLAYS:
            self._show_error(f"at most {MAX_OVERLAYS} selections can be added to one plot")
            return
        dataset = self.dataset_select.value
        cut = self.cut_input.value.strip()
        label = f"{dataset_name(dataset)}: {cut or 'all events'}"
        overlay = Overlay(dataset, cut, self.weight_select.value, label, style)
        self.settings = self.settings.replace(overlays=(*self.settings.overlays, overlay))
        self.refresh()

    def _on_clear_overlays(self, event) -> None:
        self.settings = self.settings.replace(overlays=())
        self.refresh()

    # --- refreshing the plot -----------------------------------------------------------------

    def refresh(self, auto_range: bool = False) -> None:
        """Re-fill and redraw from the widgets, off the event loop; problems go to the alert."""
        if self._quiet:
            return
        self._plot(self._read_widgets(auto_range))

    def _read_widgets(self, auto_range: bool) -> PlotSettings:
        """The settings as the widgets show them (the student's changes)."""
        return self.settings.replace(
            dataset=self.dataset_select.value,
            x=self.x_input.value.strip(),
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
            fixed_width=Z_WIDTH if self.fix_width.value else None,
            combine=tuple(self.combine_select.value),
            combine_mode="stack" if self.combine_stack.value else "sum",
            luminosity=self.luminosity_input.value or None,
        )

    def _show_settings(self, settings: PlotSettings) -> PlotSettings:
        """Set the widgets to `settings` without redrawing; returns them as the page can show
        them (a weight the dataset does not have is dropped)."""
        if settings.weight not in self.weight_select.options.values():
            settings = settings.replace(weight=NO_CHOICE)
        if settings.stack not in self.stack_select.options.values():
            settings = settings.replace(stack=NO_CHOICE)
        available = self.dataset_select.options.values()
        combine = tuple(key for key in settings.combine if key in available)
        settings = settings.replace(combine=combine)
        with self._quietly():
            self.x_input.value = settings.x
            if settings.x in self.variable_select.options.values():
                self.variable_select.value = settings.x
            self.cut_input.value = settings.cut
            self.weight_select.value = settings.weight
            self.stack_select.value = settings.stack
            self.bins_input.value = settings.bins
            if settings.low is not None and settings.high is not None:
                self.low_input.value, self.high_input.value = settings.low, settings.high
            self.auto_range.value = settings.auto_range
            self.logy.value = settings.logy
            self.density.value = settings.density
            self.fit_select.value = settings.fit
            self.background_select.value = settings.background
            self.fit_low.value, self.fit_high.value = settings.fit_range
            self.fix_width.value = settings.fixed_width is not None
            self.combine_select.value = list(settings.combine)
            self.combine_stack.value = settings.combine_mode == "stack"
            self.luminosity_input.value = settings.luminosity
        return settings

    def _apply(self, settings: PlotSettings) -> None:
        """Show and plot settings set by a link or an exercise step."""
        self._plot(self._show_settings(settings))

    def _plot(self, settings: PlotSettings) -> None:
        """Make `settings` the state and compute their plot off the event loop."""
        self.settings = settings
        self.work.run(lambda: self._compute(settings), self._show, self._fail)

    def _compute(self, settings: PlotSettings) -> tuple[PlotOutcome, str]:
        """The plot of some settings (no widget touched): datasets, stack, overlays, fit; and
        its statistics table with the empty values of the columns in use."""
        outcome = compute_plot(settings, self._evaluator)
        evaluator = self._evaluator(settings.dataset)
        used = [evaluator.missing(name) for name in outcome.columns_used]
        notes = list_html(outcome.notes)
        return outcome, statistics_html(outcome.statistics) + notes + missing_html(used)

    def _show(self, computed: tuple[PlotOutcome, str]) -> None:
        """On the event loop: show a computed plot, its tables and the binning it used."""
        outcome, statistics = computed
        binning = outcome.binning
        self.settings = self.settings.replace(bins=binning.bins, low=binning.low, high=binning.high)
        with self._quietly():
            self.bins_input.value = binning.bins
            self.low_input.value = binning.low
            self.high_input.value = binning.high
        self.plot, self.fit = outcome.plot, outcome.fit
        element = self.live.element(self.plot, in_place=pn.state.loaded)
        if element is not None:
            self.plot_pane.object = element
        self.stats_pane.object = statistics
        self.fit_pane.object = fit_html(self.fit)
        self.fit_pane.visible = self.fit is not None
        self.fit_verdict.object = verdict_html(self.fit)
        self.fit_verdict.visible = bool(self.fit_verdict.object)
        self.suggested_range_button.visible = bool(self.fit and self.fit.suggested_range)
        self.overlay_list.object = list_html(overlay.label for overlay in self.settings.overlays)
        self.link_text.value = self._link()
        self.error_alert.visible = self.input_error.visible = False
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

    def _link(self) -> str:
        """A link that reopens this dataset, these expressions and this binning."""
        kind, _, name = self.settings.dataset.partition(":")
        query = settings_query(self.settings.link(name if kind == "file" else None))
        return f"{page_address()}?{query}"

    def _open_link(self, link) -> None:
        """The first plot of the page: the dataset's first variable, then what the link sets."""
        self._choose_variable(self.evaluator)
        current = self._read_widgets(auto_range=link.range is None)
        self._apply(current.with_link(link))

    # --- exercises ---------------------------------------------------------------------------

    def _on_exercise(self, event) -> None:
        """Open an exercise: load its dataset and its first step."""
        self.exercise = next((e for e in self.exercises if e.id == event.new), None)
        self.questions.objects = []
        self._pending_step = None
        self.error_alert.visible = self.input_error.visible = False  # the previous file's message
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
        """Set the page to a step's suggested dataset, expressions, binning and fit."""
        if self.dataset_select.value != key or key not in self.evaluators:
            with self._quietly():
                self.dataset_select.value = key
            self._load_dataset(key, then=lambda: self._apply(self.settings.with_step(step, key)))
        else:
            self._apply(self.settings.with_step(step, key))

    # --- messages and exports ----------------------------------------------------------------

    def _show_error(self, message: str) -> None:
        """An error above the plot (its first line as text, an expression and caret below), and
        beside the expression boxes."""
        first, _, rest = message.partition("\n")
        show_alert(self.error_alert, first, rest)
        show_alert(self.input_error, first, rest)

    def _write_cut(self, cut: str) -> None:
        """The cut builder's expression, into the cut box (which redraws)."""
        self.cut_input.value = cut

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


def can_plot(text: str, evaluator: Evaluator) -> bool:
    """Whether an expression reads only names the dataset has (a list column alone too)."""
    if not text or text in evaluator.dataset.jagged_columns:
        return bool(text)
    try:
        parse(text, evaluator.names)
    except ExpressionError:
        return False
    return True


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
