"""The teacher's page: start, close or clear a class; its combined results, live.

Opened with the teacher key (`?teacher=KEY`, printed by `eventlab serve`). Every few seconds it
reads the class's records from the store (in the page's work queue) and redraws what changed:
the counts per category with the W+/W- ratio, each student's progress, and one mass histogram
per category.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.masterclass.categories import Masterclass
from app.masterclass.plots import mass_figure, show_histogram
from app.masterclass.results import CategoryCount, category_counts, mass_histogram, w_ratio
from app.masterclass.store import ClassInfo, ClassStore, Record, records_csv
from app.safe_html import alert_pane, show_alert, text_html
from app.work import PageWork
from converters.errors import EventLabError

REFRESH_MS = 2000
PLOT_SIZE = (300, 190)


@dataclass(frozen=True)
class ClassView:
    """What the teacher page shows of one class, read in one go."""

    info: ClassInfo | None
    records: list[Record]
    progress: list[tuple[str, int, float | None]]

    @property
    def signature(self) -> tuple:
        """Changes whenever anything shown changes (to skip redraws that change nothing)."""
        last = max((record.saved for record in self.records), default=0.0)
        closed = self.info.closed if self.info else None
        return (len(self.records), last, closed, tuple(self.progress))


def read_class(store: ClassStore, name: str) -> ClassView:
    """A class's state, records and progress."""
    return ClassView(store.find_class(name), store.class_records(name), store.progress(name))


class TeacherPage:
    """The teacher tab of one page."""

    def __init__(self, store: ClassStore, masterclass: Masterclass, work: PageWork):
        import panel as pn

        self.store = store
        self.masterclass = masterclass
        self.work = work
        self._signature: tuple | None = None
        self.alert = alert_pane("danger", width=640)
        self.note = alert_pane("success", width=640)
        self.new_name = pn.widgets.TextInput(
            label="New class", placeholder="class name, e.g. 3B-2026", width=260
        )
        self.start_button = pn.widgets.Button(label="Start class", color="primary")
        self.start_button.on_click(lambda _event: self.start(self.new_name.value))
        self.class_select = pn.widgets.Select(label="Class", options=[], width=260)
        self.class_select.param.watch(lambda _event: self.refresh(force=True), "value")
        self.close_button = pn.widgets.Button(label="Close class", color="warning")
        self.close_button.on_click(lambda _event: self.close())
        self.reopen_button = pn.widgets.Button(label="Reopen class")
        self.reopen_button.on_click(lambda _event: self.start(self.class_select.value or ""))
        self.confirm_clear = pn.widgets.Checkbox(label="yes, delete all its records", value=False)
        self.clear_button = pn.widgets.Button(label="Clear records", color="danger")
        self.clear_button.on_click(lambda _event: self.clear())
        self.download = pn.widgets.FileDownload(
            callback=self._csv, filename="class-records.csv", label="Export everything (CSV)"
        )
        self.state = pn.pane.HTML("", width=640)
        self.counts = pn.pane.HTML("", width=420)
        self.progress = pn.pane.HTML("", width=300)
        self.plots = {}
        cells = []
        for item in masterclass.categories:
            plot, source = mass_figure(item.label, *PLOT_SIZE)
            self.plots[item.key] = (plot, source)
            cells.append(pn.pane.Bokeh(plot))
        self.panel = pn.Column(
            pn.pane.HTML(
                f"<h3 style='margin:4px 0'>{text_html(masterclass.title)}: teacher page</h3>"
                "<span style='color:#666'>Keep this address to yourself: it holds the teacher "
                "key. Students open the same server without it and join with their name.</span>",
                width=900,
            ),
            self.alert,
            self.note,
            pn.Row(self.new_name, self.start_button),
            pn.Row(self.class_select, self.close_button, self.reopen_button, self.download),
            pn.Row(self.confirm_clear, self.clear_button),
            self.state,
            pn.Row(self.counts, self.progress),
            pn.pane.HTML("<b>Masses by category (the whole class)</b>", margin=(10, 10, 0, 10)),
            pn.GridBox(*cells, ncols=3),
            margin=10,
        )
        self._list_classes()
        if pn.state.curdoc is not None and self.work.document is not None:
            self.callback = pn.state.add_periodic_callback(self.refresh, REFRESH_MS)
        self.refresh(force=True)

    # ------------------------------------------------------------------ actions
    def _list_classes(self, chosen: str | None = None) -> None:
        """Every class in the store, open ones first."""
        open_names = [info.name for info in self.store.open_classes()]
        others = [name for name in self.store.class_names() if name not in open_names]
        names = open_names + others
        current = chosen or self.class_select.value
        self.class_select.options = names
        if names:
            self.class_select.value = current if current in names else names[0]

    def start(self, name: str) -> None:
        """Start (or reopen) a class."""
        try:
            info = self.store.start_class(name)
        except EventLabError as error:
            self.fail(str(error))
            return
        self.alert.visible = False
        show_alert(self.note, f"Class {info.name} is open: students can join it now.")
        self.new_name.value = ""
        self._list_classes(info.name)
        self.refresh(force=True)

    def close(self) -> None:
        """Close the chosen class (no more records; everything kept)."""
        name = self.class_select.value
        if name:
            self.store.close_class(name)
            show_alert(self.note, f"Class {name} is closed: its records are kept.")
            self.refresh(force=True)

    def clear(self) -> None:
        """Delete the chosen class's records, once confirmed."""
        name = self.class_select.value
        if not name:
            return
        if not self.confirm_clear.value:
            self.fail("Tick 'yes, delete all its records' first: clearing cannot be undone.")
            return
        deleted = self.store.clear_class(name)
        self.confirm_clear.value = False
        self.alert.visible = False
        show_alert(self.note, f"Deleted the {deleted} records of class {name}.")
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Read the chosen class again (off the event loop) and show what changed."""
        name = self.class_select.value
        if not name:
            self.state.object = "<span style='color:#666'>No class yet: start one above.</span>"
            return
        if force:
            self._signature = None
        self.work.run(
            lambda: read_class(self.store, name),
            self.show,
            lambda error: self.fail(str(error)),
        )

    def show(self, view: ClassView) -> None:
        """Show a class's counts, progress and histograms (nothing when nothing changed)."""
        if view.signature == self._signature:
            return
        self._signature = view.signature
        info = view.info
        if info is None:
            return
        state = "open: students can join and save" if info.open else "closed: nothing is saved"
        self.state.object = (
            f"<div data-testid='class-state'>Class <b>{text_html(info.name)}</b> is {state}. "
            f"<b data-testid='class-total'>{len(view.records)}</b> "
            f"{plural(len(view.records), 'event')} recorded by {len(view.progress)} "
            f"{plural(len(view.progress), 'student')}.</div>"
        )
        self.close_button.disabled = not info.open
        self.reopen_button.disabled = info.open
        counts = category_counts(view.records, self.masterclass)
        self.counts.object = counts_table(counts, *w_ratio(counts, self.masterclass))
        self.progress.object = progress_table(view.progress)
        for key, (_plot, source) in self.plots.items():
            chosen = [record for record in view.records if record.category == key]
            show_histogram(source, *mass_histogram(chosen))
        for key, (plot, _source) in self.plots.items():
            total = next((count.total for count in counts if count.key == key), 0)
            plot.title.text = f"{self.masterclass.label(key)} ({total} {plural(total, 'event')})"

    def _csv(self) -> io.BytesIO:
        """Every record of the chosen class as CSV."""
        name = self.class_select.value or ""
        self.download.filename = f"class-{name or 'records'}.csv"
        return io.BytesIO(records_csv(self.store.class_records(name), name))

    def fail(self, message: str) -> None:
        """Show a message at the top."""
        self.note.visible = False
        show_alert(self.alert, message)


def counts_table(counts: Sequence[CategoryCount], plus: int, minus: int, ratio: float) -> str:
    """Events per category (W+ and W- apart where it counts) and the W+/W- ratio."""
    rows = "".join(
        f"<tr data-testid='count-row' data-category='{text_html(count.key)}'>"
        f"<td style='padding:1px 8px'>{text_html(count.label)}</td>"
        f"<td style='padding:1px 8px;text-align:right'>{count.total}</td>"
        f"<td style='padding:1px 8px;color:#666'>"
        f"{f'+ {count.plus}, − {count.minus}' if count.plus or count.minus else ''}</td></tr>"
        for count in counts
    )
    ratio_text = f"{ratio:.2f}" if math.isfinite(ratio) else "–"
    return (
        "<b>Events per category</b><table style='font-size:13px'>"
        "<tr style='color:#666'><td style='padding:1px 8px'>category</td>"
        "<td style='padding:1px 8px'>events</td><td style='padding:1px 8px'>charge</td></tr>"
        f"{rows}</table><div style='margin-top:4px'>W+ / W−: {plus} / {minus} = "
        f"<b data-testid='w-ratio'>{ratio_text}</b></div>"
    )


def progress_table(progress: Sequence[tuple[str, int, float | None]]) -> str:
    """Events saved per student and when the last one was saved."""
    if not progress:
        return "<b>Students</b><div style='color:#666'>Nobody has joined yet.</div>"
    now = time.time()
    rows = "".join(
        f"<tr data-testid='progress-row'><td style='padding:1px 8px'>{text_html(name)}</td>"
        f"<td style='padding:1px 8px;text-align:right'>{count}</td>"
        f"<td style='padding:1px 8px;color:#666'>{ago(now, last)}</td></tr>"
        for name, count, last in progress
    )
    return (
        "<b>Students</b><table style='font-size:13px'><tr style='color:#666'>"
        "<td style='padding:1px 8px'>name</td><td style='padding:1px 8px'>events</td>"
        f"<td style='padding:1px 8px'>last saved</td></tr>{rows}</table>"
    )


def plural(count: int, word: str) -> str:
    """'event' or 'events' as `count` needs."""
    return word if count == 1 else f"{word}s"


def ago(now: float, then: float | None) -> str:
    """'12 s ago', '3 min ago' or '' for never."""
    if then is None:
        return ""
    seconds = max(0, int(now - then))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def teacher_tab(store: ClassStore, masterclass: Masterclass, key: str | None, work: Any) -> Any:
    """The teacher page, or a message when the key is not the teacher's."""
    import panel as pn

    if not store.is_teacher_key(key):
        pane = alert_pane("danger", width=640)
        show_alert(
            pane,
            "This is not the teacher key of this server. The key is printed in the terminal "
            "where `eventlab serve` runs.",
        )
        return pn.Column(pane, margin=10)
    return TeacherPage(store, masterclass, work).panel
