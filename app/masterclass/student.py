"""The student's masterclass card: join a class, classify the shown event, save it with its mass.

A student sees only their own records (a table, a histogram of their masses, a CSV file); the
class's combined results are on the teacher's page. Saving and reading go through the page's
work queue (app/work.py): the store may wait briefly while another page writes.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.masterclass.categories import Masterclass
from app.masterclass.plots import mass_figure, show_histogram
from app.masterclass.results import mass_histogram
from app.masterclass.store import ClassStore, Record, Student, records_csv
from app.safe_html import alert_pane, show_alert, text_html
from app.work import PageWork
from converters.errors import EventLabError

CARD_WIDTH = 320
RECORDS_SHOWN = 30
NO_CLASS = "No class is open yet. When your teacher has started one, press <i>Look for classes</i>."


@dataclass(frozen=True)
class EventChoice:
    """What a student is looking at: the event and the objects chosen for the mass."""

    event_file: str
    run: str
    event: str
    mass_gev: float | None
    charge: int | None
    objects: tuple[str, ...]

    @property
    def described(self) -> str:
        """One line for messages, e.g. 'event 3000279 (74.19 GeV, 2 objects)'."""
        mass = "no mass" if self.mass_gev is None else f"{self.mass_gev:.2f} GeV"
        return f"event {self.event} ({mass}, {len(self.objects)} objects)"


def finite_or_none(value: float) -> float | None:
    """A mass to store: None when it is unknown."""
    return float(value) if value is not None and math.isfinite(value) else None


class StudentCard:
    """The masterclass card of one page (one student)."""

    def __init__(
        self,
        store: ClassStore,
        masterclass: Masterclass,
        current: Callable[[], EventChoice | None],
        work: PageWork,
        args: dict | None = None,
    ):
        import panel as pn

        self.store = store
        self.masterclass = masterclass
        self.current = current
        self.work = work
        self.student: Student | None = None
        self.class_name = ""
        self.records: list[Record] = []
        self.alert = alert_pane("danger", width=CARD_WIDTH - 20)
        self.status = pn.pane.HTML("", width=CARD_WIDTH - 20)
        self.class_select = pn.widgets.Select(label="Class", options=[], width=CARD_WIDTH - 30)
        self.name_input = pn.widgets.TextInput(
            label="Your name", placeholder="your name, then Join", width=CARD_WIDTH - 30
        )
        self.join_button = pn.widgets.Button(label="Join", color="primary", width=80)
        self.join_button.on_click(lambda _event: self.join(self.name_input.value))
        self.look_button = pn.widgets.Button(label="Look for classes", width=140)
        self.look_button.on_click(lambda _event: self.look_for_classes())
        self.join_box = pn.Column(
            self.class_select,
            self.name_input,
            pn.Row(self.join_button, self.look_button, margin=0),
            margin=0,
        )
        labels = {item.label: item.key for item in masterclass.categories}
        self.category = pn.widgets.Select(
            label="This event is", options={"(choose)": "", **labels}, width=CARD_WIDTH - 30
        )
        self.save_button = pn.widgets.Button(label="Save this event", color="success", width=140)
        self.save_button.on_click(lambda _event: self.save())
        self.saved_note = pn.pane.HTML("", width=CARD_WIDTH - 20)
        self.table = pn.pane.HTML("", width=CARD_WIDTH - 20)
        self.plot, self.source = mass_figure("My masses", width=CARD_WIDTH - 20, height=170)
        self.download = pn.widgets.FileDownload(
            callback=self._csv, filename="my-records.csv", label="My records (CSV)", width=150
        )
        self.record_box = pn.Column(
            self.category,
            pn.Row(self.save_button, margin=0),
            self.saved_note,
            self.table,
            pn.pane.Bokeh(self.plot),
            self.download,
            margin=0,
            visible=False,
        )
        self.panel = pn.Column(self.alert, self.status, self.join_box, self.record_box, margin=0)
        self.look_for_classes()
        self._join_from_link(args or {})

    # ------------------------------------------------------------------ joining
    def look_for_classes(self) -> None:
        """Offer the open classes (a message when there is none)."""
        names = [info.name for info in self.store.open_classes()]
        self.class_select.options = names
        self.class_select.visible = len(names) > 1
        self.join_button.disabled = not names
        if not names:
            self.status.object = f"<span style='color:#666'>{NO_CLASS}</span>"
        elif self.student is None:
            self.status.object = (
                f"Class <b>{text_html(names[0])}</b>"
                if len(names) == 1
                else "Choose your class, then type your name."
            )

    def _join_from_link(self, args: dict) -> None:
        """A page reopened with ?class=...&student=... joins again (the records are kept)."""
        name, class_name = (self._arg(args, key) for key in ("student", "class"))
        if name and class_name in self.class_select.options:
            self.class_select.value = class_name
            self.join(name)

    @staticmethod
    def _arg(args: dict, key: str) -> str:
        """One URL query value as text."""
        values = args.get(key) or [b""]
        value = values[0]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def join(self, name: str) -> None:
        """Join the chosen class as `name`."""
        import panel as pn

        options = self.class_select.options
        class_name = self.class_select.value or (options[0] if options else "")
        if not class_name:
            self.fail("No class is open yet: wait for your teacher to start one.")
            return
        try:
            self.student = self.store.join(class_name, name)
        except EventLabError as error:
            self.fail(str(error))
            return
        self.class_name = class_name
        self.alert.visible = False
        self.join_box.visible = False
        self.record_box.visible = True
        self.status.object = (
            f"You are <b data-testid='student-name'>{text_html(self.student.name)}</b> "
            f"in class <b>{text_html(class_name)}</b>."
        )
        self.download.filename = f"records-{safe_file_part(self.student.name)}.csv"
        if pn.state.location is not None:
            pn.state.location.update_query(**{"class": class_name, "student": self.student.name})
        self.refresh()

    # ------------------------------------------------------------------ recording
    def save(self) -> None:
        """Save the shown event with the chosen category and the mass of the chosen objects."""
        choice = self.current()
        category = self.category.value
        if self.student is None:
            self.fail("Join your class first.")
            return
        if choice is None:
            self.fail("Open an event first.")
            return
        if not category:
            self.fail("Choose what this event is before saving it.")
            return
        student = self.student

        def write() -> list[Record]:
            self.store.save_record(
                student,
                choice.event_file,
                choice.run,
                choice.event,
                category,
                choice.mass_gev,
                choice.charge,
                choice.objects,
            )
            return self.store.student_records(student)

        def saved(records: list[Record]) -> None:
            import panel as pn

            with pn.io.hold():  # the note and the table it speaks of reach the page together
                self.alert.visible = False
                self.saved_note.object = (
                    f"<span data-testid='saved-note' style='color:#0f5132'>Saved "
                    f"{text_html(choice.described)} as "
                    f"{text_html(self.masterclass.label(category))}.</span>"
                )
                self.show_records(records)

        self.work.run(write, saved, lambda error: self.fail(str(error)), replaceable=False)

    def refresh(self) -> None:
        """Read this student's records again."""
        student = self.student
        if student is not None:

            def shown(records: list[Record]) -> None:
                self.show_records(records)
                self.event_shown()

            self.work.run(
                lambda: self.store.student_records(student),
                shown,
                lambda error: self.fail(str(error)),
            )

    def event_shown(self) -> None:
        """Another event is on the screen: say whether it is already recorded."""
        choice = self.current()
        if self.student is None or choice is None:
            return
        known = next((r for r in self.records if same_event(r, choice)), None)
        self.saved_note.object = (
            ""
            if known is None
            else f"<span style='color:#666'>Already saved as "
            f"{text_html(self.masterclass.label(known.category))}; saving again replaces it."
            "</span>"
        )
        offered = [key for key in self.category.options.values() if key]
        self.category.value = known.category if known and known.category in offered else ""

    def show_records(self, records: Sequence[Record]) -> None:
        """The student's records table and mass histogram."""
        self.records = list(records)
        show_histogram(self.source, *mass_histogram(self.records))
        self.table.object = records_table(self.records, self.masterclass)

    def _csv(self) -> io.BytesIO:
        """The student's own records as CSV."""
        if self.student is None:
            return io.BytesIO(b"")
        records = self.store.student_records(self.student)
        return io.BytesIO(records_csv(records, self.class_name))

    def fail(self, message: str) -> None:
        """Show a message in the card."""
        show_alert(self.alert, message)


class UnavailableCard:
    """The masterclass card when the server cannot keep records: it says why."""

    def __init__(self, reason: str):
        import panel as pn

        self.panel = pn.pane.HTML(
            f"<span style='color:#666'>Class records are off on this server: "
            f"{text_html(reason)}.</span>",
            width=CARD_WIDTH - 20,
        )

    def event_shown(self) -> None:
        """Nothing to follow."""


def same_event(record: Record, choice: EventChoice) -> bool:
    """Whether a record is of the event shown."""
    return (record.event_file, record.run, record.event) == (
        choice.event_file,
        choice.run,
        choice.event,
    )


def safe_file_part(text: str) -> str:
    """A name reduced to characters safe in a file name."""
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
    return kept[:40] or "student"


def records_table(records: Sequence[Record], masterclass: Masterclass) -> str:
    """The student's records (newest first) as an HTML table; every value shown as text."""
    if not records:
        return "<span style='color:#666'>No events saved yet.</span>"
    rows = []
    for record in reversed(records[-RECORDS_SHOWN:]):
        mass = "" if record.mass_gev is None else f"{record.mass_gev:.1f}"
        saved = time.strftime("%H:%M", time.localtime(record.saved))
        cells = (record.event, masterclass.label(record.category), mass, saved)
        rows.append(
            "<tr data-testid='record-row'>"
            + "".join(f"<td style='padding:1px 6px'>{text_html(cell)}</td>" for cell in cells)
            + "</tr>"
        )
    more = len(records) - RECORDS_SHOWN
    footer = f"<div style='color:#666'>and {more} older (in the CSV)</div>" if more > 0 else ""
    return (
        f"<div style='font-size:12px'><b>My events ({len(records)})</b>"
        "<table style='font-size:12px'><tr style='color:#666'><td style='padding:1px 6px'>"
        "event</td><td style='padding:1px 6px'>category</td><td style='padding:1px 6px'>"
        "GeV</td><td style='padding:1px 6px'>saved</td></tr>"
        + "".join(rows)
        + f"</table>{footer}</div>"
    )
