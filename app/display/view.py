"""The "Event display" tab: one `EventDisplay` per browser session, wiring widgets to the scene."""

from __future__ import annotations

import io
import logging
import math
import random
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import param

from app.config import AppConfig
from app.display import events as event_files
from app.display import root_files
from app.display.bridge import SCENE_CLASS, UPLOAD_CLASS, browser_bridge
from app.display.camera import DEFAULT_VIEW, VIEW_DIRECTIONS
from app.display.collection_list import collection_list
from app.display.controls import legend_html
from app.display.detector_list import detector_list
from app.display.lego_view import LegoView
from app.display.object_table import object_table
from app.display.objects3d import DrawnLayer, EventDrawing, EventObjects, detector_systems
from app.display.offline import local_widget_pane
from app.display.scene import EventScene, Layer, build_scene
from app.display.selection import Selection
from app.display.stage import CANVAS_SIZE, Stage
from app.display.style import object_colors, with_own_colors
from app.file_cache import once_per_version
from app.masterclass.setup import student_card
from app.masterclass.student import EventChoice
from app.memory import SessionMemory
from app.safe_html import alert_pane, show_alert
from app.uploads import upload_box, upload_refusal
from app.work import PageWork
from converters.errors import EventLabError

LOG = logging.getLogger(__name__)
# Far larger than the framed view and would crowd the event: starts hidden (one click shows it).
HIDDEN_SYSTEMS = ("muon system",)
VIEWS = tuple(VIEW_DIRECTIONS)  # each framed to the detector by `preset_view`
NO_PICK = (0.0, 0.0, 0.0)  # the picker's point after a click that hits nothing
JSON_SUFFIXES = (".json", ".json.gz", ".gz")
UPLOAD_SUFFIXES = (".json", ".gz", ".root")
HELP = (
    "**Drag** to rotate, **scroll** to zoom, **right-drag** to pan. **Click** an object for its "
    "properties; **shift-click** (or *Add*) to add it to the invariant mass. Keys: **←/→** "
    "previous/next event, **r** random."
)


# A bundled event file, parsed once per process and version (read-only for the sessions).
read_bundled_file = once_per_version(maxsize=8)(event_files.read_event_file)


class EventDisplay:
    """The event display of one browser session: its own widgets, 3D objects and state."""

    def __init__(
        self,
        config: AppConfig,
        file: str | None = None,
        event: str | None = None,
        memory: SessionMemory | None = None,
    ):
        import panel as pn

        self.config = config
        self.memory = memory or SessionMemory(config.session_memory_bytes)
        self.work = PageWork(config.action_seconds, pn.state.curdoc)
        self.drawing = EventDrawing()
        self.rng = random.Random()
        self.bundled = event_files.list_event_files(config.data_dirs)
        self.uploaded: dict[str, event_files.EventFile] = {}
        self.file: event_files.EventFile | root_files.RootEventFile | None = None
        self._converted: tuple[Any, int, dict] | None = None  # (file, position, event) to show
        self.position = 0
        self.scene: EventScene | None = None
        self.objects = EventObjects()
        self.selection = Selection()
        self._scene_serial = 0  # counts the scenes shown (a redraw of the same one may be skipped)
        self._drawn_signature: tuple | None = None
        self._updating = False
        self.stage = Stage(HIDDEN_SYSTEMS)
        self.stage.picker.observe(self._on_pick, names=["point"])
        self._build_widgets()
        self.selection.param.watch(self._on_selection, ["focus", "chosen", "picked_part"])
        self.panel = self._layout()
        with pn.io.hold():
            self._open_initial(file, event)

    # ------------------------------------------------------------------ building
    def _build_widgets(self) -> None:
        """The Panel widgets of the three columns."""
        import panel as pn

        self.alert = alert_pane("danger", width=CANVAS_SIZE[0])
        self.file_select = pn.widgets.Select(label="Event file", options=[], width=280)
        self.file_select.param.watch(self._on_file_select, "value")
        self.upload = upload_box(
            self.config.max_upload_mb,
            UPLOAD_SUFFIXES,
            width=280,
            height=90,
            css_classes=[UPLOAD_CLASS],
        )
        self.upload.param.watch(self._on_upload, "value")
        self.upload.param.watch(self._on_refused_upload, "refused")
        self.previous_button = pn.widgets.Button(label="◀ Previous", width=88)
        self.next_button = pn.widgets.Button(label="Next ▶", width=88, color="primary")
        self.random_button = pn.widgets.Button(label="Random", width=80)
        self.previous_button.on_click(lambda _event: self.step(-1))
        self.next_button.on_click(lambda _event: self.step(1))
        self.random_button.on_click(lambda _event: self.random_event())
        self.jump = pn.widgets.TextInput(
            label="Go to event number", placeholder="event number, then Enter", width=280
        )
        self.jump.param.watch(self._on_jump, "value")
        self.position_label = pn.pane.HTML("", width=280, margin=(0, 10))
        self.event_list = pn.widgets.Select(label="Events", options={}, size=12, width=280)
        self.event_list.param.watch(self._on_list, "value")
        self.metadata = pn.pane.HTML("", width=280)
        self.bridge = browser_bridge(self._on_browser_action)

        self.view_buttons = pn.widgets.RadioButtonGroup(options=list(VIEWS), value=DEFAULT_VIEW)
        self.view_buttons.param.watch(lambda event: self.stage.set_view(event.new), "value")
        self.reset_button = pn.widgets.Button(label="Reset view", width=95)
        self.reset_button.on_click(lambda _event: self.reset_view())
        self.color_mode = pn.widgets.RadioButtonGroup(
            label="Colour tracks by", options=["charge", "collection"], value="charge"
        )
        self.color_mode.param.watch(lambda _event: self.redraw(), "value")
        self.download = pn.widgets.FileDownload(
            callback=self._event_download,
            filename="event.json",
            label="Download event (JSON)",
            width=190,
        )
        self.screenshot_button = pn.widgets.Button(label="Screenshot (PNG)", width=140)
        self.screenshot_button.on_click(lambda _event: self.take_screenshot())
        self.canvas = local_widget_pane(
            self.stage.renderer,
            prefix=self.config.prefix,
            width=CANVAS_SIZE[0],
            height=CANVAS_SIZE[1],
            css_classes=[SCENE_CLASS],
            margin=(5, 10),
        )
        self.notes = pn.pane.HTML("", width=CANVAS_SIZE[0], styles={"color": "#666"})

        self.info = pn.pane.HTML(self._info_html(), width=310)
        self.add_button = pn.widgets.Button(label="Add to invariant mass", width=170, disabled=True)
        self.add_button.on_click(lambda _event: self.add_focus_to_selection())
        self.clear_button = pn.widgets.Button(label="Clear", width=70)
        self.clear_button.on_click(lambda _event: self.clear_selection())
        self.selection_view = pn.pane.HTML(self._selection_html(), width=310)
        self.recorder = student_card(
            self.config,
            self.event_choice,
            PageWork(self.config.action_seconds, pn.state.curdoc),
            page_args(),
        )
        self.collection_list = collection_list(margin=(0, 5))
        self.collection_list.on_change(self._on_collection_change)
        self.lego = LegoView(self.focus_object)
        self.object_table = object_table(margin=(5, 10), width=CANVAS_SIZE[0] - 10)
        self.object_table.on_pick(self._focus_row, self.selection.choose)
        systems = detector_systems()
        self.detector_list = detector_list(
            (
                (name, systems[name], group.visible, materials[0].opacity if materials else 0.1)
                for name, (group, materials) in self.stage.detector.items()
            ),
            margin=(0, 5),
        )
        self.detector_list.on_change(
            self.stage.set_detector_visible, self.stage.set_detector_opacity
        )
        self.detector_card = pn.Card(
            self.detector_list, title="Detector", width=320, collapsed=True, margin=(10, 5)
        )

    def _layout(self) -> Any:
        """The three columns of the tab."""
        import panel as pn

        left = pn.Column(
            self.file_select,
            pn.pane.HTML(
                "<small>Open your own file: Phoenix JSON (.json, .json.gz), ATLAS PHYSLITE or "
                f"an ATLAS education ntuple (.root), up to {self.config.max_upload_mb:g} MB."
                "</small>",
                width=280,
            ),
            self.upload,
            pn.Row(self.previous_button, self.next_button, self.random_button, margin=(5, 5)),
            self.position_label,
            self.jump,
            self.event_list,
            pn.pane.HTML("<b>This event</b>", margin=(10, 10, 0, 10)),
            self.metadata,
            width=310,
        )
        toolbar = pn.Row(
            self.view_buttons,
            self.reset_button,
            pn.pane.HTML("<span style='line-height:32px'>Tracks by</span>", margin=(5, 2, 5, 12)),
            self.color_mode,
            margin=(0, 5),
        )
        center = pn.Column(
            self.alert,
            toolbar,
            self.canvas,
            self.lego.panel,
            self.object_table,
            pn.Row(self.download, self.screenshot_button, margin=(0, 5)),
            pn.pane.HTML(legend_html(), width=CANVAS_SIZE[0]),
            pn.pane.Markdown(HELP, width=CANVAS_SIZE[0], styles={"font-size": "12px"}),
            self.notes,
            self.bridge,
            width=CANVAS_SIZE[0] + 30,
        )
        right = pn.Column(
            pn.pane.HTML("<b>Selected object</b>", margin=(5, 10, 0, 10)),
            self.info,
            pn.pane.HTML("<b>Invariant mass</b>", margin=(10, 10, 0, 10)),
            self.selection_view,
            pn.Row(self.add_button, self.clear_button, margin=(0, 5)),
            pn.Card(self.recorder.panel, title="Masterclass", width=320, margin=(10, 5)),
            pn.Card(self.collection_list, title="Physics objects", width=320, margin=(10, 5)),
            self.detector_card,
            width=340,
        )
        return pn.Row(left, center, right, margin=0)

    # ------------------------------------------------------------------ files and events
    def _open_initial(self, file: str | None, event: str | None) -> None:
        """Open the file and event the URL asks for, or the first bundled file."""
        self._refresh_file_options()
        if any(map(root_files.is_root_name, self.bundled)):
            root_files.preload()  # the first student to open a ROOT file does not wait for it
        if not self.bundled:
            folders = ", ".join(str(path) for path in self.config.data_dirs)
            self.fail(f"No event files found in the data folders ({folders}). Open your own file.")
            return
        name = file if file else next(iter(self.bundled))
        try:
            self.open_bundled(name, then=(lambda: self.go_to_number(event)) if event else None)
        except EventLabError as error:
            if name != next(iter(self.bundled)):
                self.open_bundled(next(iter(self.bundled)))
            self.fail(str(error))  # after opening the default file, which clears alerts

    def _refresh_file_options(self) -> None:
        """File choices: the bundled files, then this session's uploads."""
        options = {name: name for name in self.bundled}
        options |= {f"{name} (your file)": name for name in self.uploaded}
        self._updating = True
        try:
            self.file_select.options = options
        finally:
            self._updating = False

    def open_bundled(self, name: str, then: Callable[[], Any] | None = None) -> None:
        """Open a bundled file by name (only names found in the data folders are accepted).

        A ROOT file's event list is read off the event loop; `then()` runs once it is shown.
        """
        path = event_files.resolve_event_file(name, self.config.data_dirs)
        if root_files.is_root_name(path.name):
            self._open_root(path, then)
            return
        self.set_file(read_bundled_file(path))
        if then is not None:
            then()

    def _open_root(self, path: Path, then: Callable[[], Any] | None) -> None:
        """Open a data-folder ROOT file in a worker thread, then show its first event.

        Not in the page the server builds before its workers fork (it has no browser session):
        converting an event starts polars' threads, and a process running them must not fork.
        """
        import panel as pn

        document = pn.state.curdoc
        if document is not None and getattr(document, "session_context", None) is None:
            return

        def opened(file: root_files.RootEventFile) -> None:
            self.panel.loading = False
            self.set_file(file)
            if then is not None:
                then()

        def refused(error: EventLabError) -> None:
            self.panel.loading = False
            if self.file is None:
                self._open_default()
            self._show_file_in_menu()
            self.fail(str(error))

        self.panel.loading = True
        self.work.run(lambda: root_files.open_data_file(path), opened, refused, replaceable=False)

    def set_file(self, file: event_files.EventFile, position: int = 0) -> None:
        """Show `file`, at event `position`."""
        self.file = file
        rows = enumerate(zip(file.numbers, file.summaries, strict=True))
        labels = {f"{index + 1}. #{number}: {summary}": index for index, (number, summary) in rows}
        self._updating = True
        try:
            self.file_select.value = file.name
            self.event_list.options = labels
        finally:
            self._updating = False
        self.show(position)

    def show(self, position: int) -> None:
        """Draw event number `position` (0-based) of the current file."""
        import panel as pn

        if self.file is None or not len(self.file):
            return
        position %= len(self.file)
        key = self.file.keys[position]
        event = self._event_at(position)
        if event is None:
            return  # being converted: shown when ready
        try:
            scene = build_scene(event)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            LOG.exception("event %s of %s cannot be drawn", key, self.file.name)
            self.clear_event()  # nothing of the previous event stays under this file's name
            self.fail(f"Event {key} of {self.file.name} cannot be drawn: {error}")
            return
        self.position = position
        self.scene = scene
        self._scene_serial += 1
        with param.parameterized.discard_events(self.selection):
            self.selection.reset(scene, event)
        with pn.io.hold():
            self._sync_collection_controls()
        # The new event's arrays go out first, in messages of their own: the browser draws the
        # event while the table and panels (one larger page update) are still on their way.
        self._draw_3d(self._drawn_layers()[0])
        if self._scene_serial > 1:  # the page is in the browser already (not being built)
            send_widget_messages_now()
        with pn.io.hold():
            self.object_table.show(scene.layers, self._hidden_keys())
            self._on_selection()  # once, also when nothing was picked before
            self._show_event_text(key, event)
            self.recorder.event_shown()
            self.clear_alert()

    def _event_at(self, position: int) -> dict | None:
        """The event at `position`: parsed now, or (ROOT) converted in a worker thread.

        None when a conversion was started: `show(position)` runs again once it is ready. A
        newer request replaces one still waiting, so stepping quickly converts only the last.
        """
        file = self.file
        assert file is not None
        if not getattr(file, "converts", False):
            return file.event(position)
        ready = self._converted
        if ready is not None and ready[0] is file and ready[1] == position:
            self._converted = None
            return ready[2]

        def converted(event: dict) -> None:
            if self.file is file:
                self._converted = (file, position, event)
                self.show(position)

        def refused(error: EventLabError) -> None:
            if self.file is file:
                self.clear_event()
                self.fail(str(error))

        self.work.run(lambda: file.event(position), converted, refused)
        return None

    def clear_event(self) -> None:
        """Draw no event and say so (after an event that cannot be drawn)."""
        self.scene = EventScene(layers=[], notes=[])
        self._scene_serial += 1
        self.object_table.show(self.scene.layers, self._hidden_keys())
        with param.parameterized.discard_events(self.selection):
            self.selection.reset(self.scene)
        self._on_selection()  # panels empty, the scene redrawn without objects
        self.metadata.object = ""
        self.notes.object = ""
        self.position_label.object = "<div style='font-size:15px;color:#666'>No event shown</div>"
        self.recorder.event_shown()

    def _show_file_in_menu(self) -> None:
        """The file menu back on the file whose event is shown (after a file was refused)."""
        self._updating = True
        try:
            self.file_select.value = self.file.name if self.file else None
        finally:
            self._updating = False

    def _show_event_text(self, key: str, event: dict) -> None:
        """Metadata, list position, labels and URL of the shown event."""
        import panel as pn

        assert self.file is not None
        number = event_files.event_number(key, event)
        rows = "".join(
            f"<tr><td style='color:#666;padding-right:10px'>{escape(name)}</td>"
            f"<td>{escape(value)}</td></tr>"
            for name, value in event_files.event_metadata(key, event).items()
        )
        self.metadata.object = f"<table style='font-size:13px'>{rows}</table>"
        self.position_label.object = (
            f"<div style='font-size:15px'>Event <b data-testid='event-number'>{escape(number)}</b> "
            f"<span style='color:#666'>({self.position + 1} of {len(self.file)})</span>"
            "</div>"
        )
        self._updating = True
        try:
            self.event_list.value = self.position
        finally:
            self._updating = False
        self.notes.object = "<br>".join(map(escape, self.scene.notes)) if self.scene else ""
        self.info.object = self._info_html()
        self.selection_view.object = self._selection_html()
        self.add_button.disabled = True
        if self.file.name in self.bundled and pn.state.location is not None:
            pn.state.location.update_query(file=self.file.name, event=number)

    def step(self, offset: int) -> None:
        """Previous (-1) or next (+1) event, wrapping around."""
        self.show(self.position + offset)

    def random_event(self) -> None:
        """A random other event of the file."""
        if self.file and len(self.file) > 1:
            offset = self.rng.randrange(1, len(self.file))
            self.show((self.position + offset) % len(self.file))

    def go_to_number(self, text: str) -> bool:
        """Show the event whose number (or key) is `text`; alert when there is none."""
        assert self.file is not None
        wanted = text.strip().lstrip("#")
        position = self.file.position_of(wanted)
        if position is None:
            self.fail(f"No event number {event_files.shorten(wanted)} in {self.file.name}.")
            return False
        self.show(position)
        return True

    # ------------------------------------------------------------------ drawing
    def _sync_collection_controls(self) -> None:
        """A row in the collection list for each collection of the shown event (rows are kept)."""
        assert self.scene is not None
        self._updating = True  # the start-up choices of new rows are not a student's change
        try:
            self.collection_list.add(self.scene.layers)
        finally:
            self._updating = False

    def _layer_mask(self, layer: Layer) -> np.ndarray:
        """Objects of `layer` passing its cut."""
        return layer.passing(self.collection_list.cut(layer.key))

    def _colors(self, layer: Layer) -> np.ndarray:
        """Colours of the objects of `layer` in the current colour mode."""
        assert self.scene is not None
        track_keys = [other.key for other in self.scene.layers if other.kind == "track"]
        order = track_keys.index(layer.key) if layer.key in track_keys else 0
        colors = object_colors(layer.kind, layer.props["charge"], self.color_mode.value, order)
        return with_own_colors(colors, layer.colors)

    def _highlighted(self, key: str) -> frozenset[int]:
        """Objects of layer `key` drawn highlighted (selected or focused)."""
        return self.selection.highlighted(key)

    def _hidden_keys(self) -> list[str]:
        """Layers of the shown event not drawn (their collection is switched off)."""
        layers = self.scene.layers if self.scene else []
        return [layer.key for layer in layers if not self.collection_list.is_shown(layer.key)]

    def _on_collection_change(self) -> None:
        """A collection toggle or cut moved."""
        if not self._updating:
            self.redraw()

    def redraw(self) -> None:
        """Draw the shown collections again: 3D objects, counts, table marks and the η-φ view."""
        if self.scene is None:
            return
        drawn, counts, flat = self._drawn_layers()
        self._draw_3d(drawn)
        self.collection_list.show_counts(counts)
        self.object_table.show_hidden(self._hidden_keys())
        focus = [self.selection.focus] if self.selection.focus is not None else []
        self.lego.show(flat, [*self.selection.chosen, *focus])

    def _drawn_layers(self) -> tuple[list[DrawnLayer], dict[str, str], list]:
        """The layers to draw (only shown objects), each collection's count, (layer, mask)s."""
        assert self.scene is not None
        drawn, counts, flat = [], {}, []
        for layer in self.scene.layers:
            mask = self._layer_mask(layer)
            shown = self.collection_list.is_shown(layer.key)
            if layer.size:
                counts[layer.key] = f"{int(mask.sum())} / {layer.size}" if shown else "hidden"
            if shown:  # hidden ones cost nothing until shown
                flat.append((layer, mask))
                shown = layer.restricted(mask)
                drawn.append(DrawnLayer(shown, self._colors(layer), self._highlighted(layer.key)))
        return drawn, counts, flat

    def _draw_3d(self, drawn: list[DrawnLayer]) -> None:
        """The 3D objects of `drawn` (not sent again when the same scene is drawn the same way)."""
        signature = (self._scene_serial, *map(drawn_signature, drawn))
        if signature == self._drawn_signature:
            return
        self._drawn_signature = signature
        self.objects = self.drawing.update(drawn)
        self.stage.show(self.objects.visual, self.objects.pickable)

    # ------------------------------------------------------------------ views
    def reset_view(self) -> None:
        """Back to the default 3D view."""
        if self.view_buttons.value != DEFAULT_VIEW:
            self.view_buttons.value = DEFAULT_VIEW
        else:
            self.stage.set_view(DEFAULT_VIEW)

    # ------------------------------------------------------------------ picking and mass
    def _on_pick(self, change: Any) -> None:
        """A click in the 3D view: show the object under it; shift adds it to the selection."""
        if tuple(change.new) == NO_PICK:
            return
        # The page only reports a pick that differs from the last: forget this one, so that
        # clicking the same spot again is reported too.
        picker = self.stage.picker
        picker.point = NO_PICK
        if self.stage.just_dragged():
            return
        picked = self.resolve_pick(picker.object, picker.index, picker.faceIndex)
        if picked is None:
            return
        modifiers = list(picker.modifiers or [])
        self.focus_object(*picked, add=bool(modifiers and modifiers[0]))

    def resolve_pick(self, obj: Any, index: int | None, face: int | None) -> tuple[str, int] | None:
        """The (layer key, object index) a picked three.js object and element stand for."""
        pick = self.objects.picks.get(obj.model_id) if obj is not None else None
        if pick is None:
            return None
        return pick.resolve(face if pick.by_face else index)

    @property
    def focus(self) -> tuple[str, int] | None:
        """The physics object in the info panel."""
        return self.selection.focus

    @focus.setter
    def focus(self, value: tuple[str, int] | None) -> None:
        self.selection.param.update(focus=value, picked_part=None)

    def _focus_row(self, item: tuple[str, int]) -> None:
        """A row of the object table clicked: that object in the info panel and highlighted."""
        if self.selection.exists(item):
            self.focus = item

    def focus_object(self, key: str, index: int, add: bool = False) -> None:
        """Show the properties of the physics object a picked element belongs to (and add it)."""
        if self.scene is not None:
            self.selection.pick(key, index, add)

    def add_focus_to_selection(self) -> None:
        """Add the object in the info panel to the invariant-mass selection."""
        self.selection.add_focus()

    def clear_selection(self) -> None:
        """Empty the invariant-mass selection."""
        self.selection.clear()

    def _on_selection(self, *_events: Any) -> None:
        """The focus or the chosen objects changed: panels and highlights follow."""
        import panel as pn

        with pn.io.hold():
            self.info.object = self._info_html()
            self.selection_view.object = self._selection_html()
            self.add_button.disabled = not self.selection.focus_addable()
            self.object_table.follow(self.selection.focus, self.selection.chosen)
            self.redraw()

    def _info_html(self) -> str:
        """The info panel: the focused object's properties."""
        info = self.selection.focus_info()
        if not info:
            return "<span style='color:#666'>Click an object in the 3D view or the table.</span>"
        rows = "".join(
            f"<tr><td style='color:#666;padding-right:12px'>{escape(str(name))}</td>"
            f"<td>{escape(str(value))}</td></tr>"
            for name, value in info.items()
        )
        return f"<table data-testid='object-info' style='font-size:13px'>{rows}</table>"

    def _selection_html(self) -> str:
        """The selection panel: the chosen objects and their invariant mass."""
        lines = self.selection.chosen_lines()
        if not lines:
            return (
                "<span style='color:#666'>Shift-click leptons or photons (or tick them in the "
                "table) to combine them (Z → two leptons, H → two photons or four "
                "leptons).</span>"
            )
        mass = self.selection.mass_gev()
        mass_text = f"{mass:.2f} GeV" if math.isfinite(mass) else "unknown"
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        return (
            f"<ul style='margin:2px 0;padding-left:18px;font-size:13px'>{items}</ul>"
            f"<div style='font-size:15px'>Mass of {len(lines)} object"
            f"{'s' if len(lines) != 1 else ''}: <b data-testid='mass'>{mass_text}</b></div>"
        )

    def event_choice(self) -> EventChoice | None:
        """The shown event and the objects chosen for the mass (what a record keeps)."""
        if self.file is None or not len(self.file):
            return None
        key = self.file.keys[self.position]
        metadata = event_files.event_metadata(key, self.file.event(self.position))
        mass = self.selection.mass_gev()
        return EventChoice(
            self.file.name,
            metadata["Run"],
            metadata["Event"],
            mass if math.isfinite(mass) else None,
            self.selection.total_charge(),
            tuple(self.selection.chosen_labels()),
        )

    # ------------------------------------------------------------------ downloads and messages
    def _event_download(self) -> io.BytesIO:
        """The shown event as a Phoenix JSON file (named when asked for: renaming costs)."""
        assert self.file is not None
        key = self.file.keys[self.position]
        self.download.filename = f"{self._download_stem()}.json"
        return io.BytesIO(event_files.event_json_bytes(key, self.file.event(self.position)))

    def _download_stem(self) -> str:
        """Name (without extension) of files saved from the shown event: FILE-event-NUMBER."""
        if self.file is None or not len(self.file):
            return "eventlab"
        number = self.file.numbers[self.position]
        return f"{Path(self.file.name).name.split('.')[0]}-event-{number}"

    def take_screenshot(self) -> None:
        """Save the 3D view as a PNG in the browser."""
        self.bridge.screenshot(f"{self._download_stem()}.png")

    def _on_browser_action(self, action: str) -> None:
        """Keyboard shortcuts and screenshot results from the browser."""
        if action == "next":
            self.step(1)
        elif action == "previous":
            self.step(-1)
        elif action == "random":
            self.random_event()
        elif action == "screenshot-failed":
            self.fail("The screenshot failed: the 3D view is not drawn yet.")

    def fail(self, message: str) -> None:
        """Show an error message above the 3D view (as text: it may quote a link or a file)."""
        show_alert(self.alert, message)

    def clear_alert(self) -> None:
        """Hide the error message."""
        self.alert.visible = False

    # ------------------------------------------------------------------ widget callbacks
    def _on_file_select(self, event: Any) -> None:
        """Another file chosen in the file menu."""
        if self._updating or event.new is None or (self.file and event.new == self.file.name):
            return
        try:
            if event.new in self.uploaded:
                self.set_file(self.uploaded[event.new])
            else:
                self.open_bundled(event.new)
        except EventLabError as error:
            self._show_file_in_menu()
            self.fail(str(error))

    def _on_list(self, event: Any) -> None:
        """An event chosen in the event list."""
        if not self._updating and event.new is not None and event.new != self.position:
            self.show(int(event.new))

    def _on_jump(self, event: Any) -> None:
        """An event number typed in the jump box."""
        if event.new and event.new.strip() and self.file is not None:
            self.go_to_number(event.new)

    def _on_upload(self, event: Any) -> None:
        """A file dropped or chosen by the user: read it off the event loop (ROOT converted)."""
        if not event.new:
            return
        name, content = list(event.new.items())[-1]
        self.upload.value = {}  # the page keeps no second copy
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        safe_name = Path(name).name or "upload"
        owner = ("upload", safe_name)
        self.uploaded.pop(safe_name, None)  # a file of the same name is replaced
        self.memory.release(owner)
        self._refresh_file_options()

        def read() -> event_files.EventFile | root_files.RootEventFile:
            room = self.memory.room_for(owner)
            file = read_upload(name, data, self.config.max_upload_bytes, room, self.memory)
            self.memory.hold(owner, file.nbytes, file.name)
            return file

        def opened(file: event_files.EventFile) -> None:
            self.panel.loading = False
            self.uploaded[file.name] = file
            self._refresh_file_options()
            self.set_file(file)

        def refused(error: EventLabError) -> None:
            self.panel.loading = False
            self.bridge.clear_upload(str(error))  # the box must not say "Upload complete"
            if self.file is not None and self.file.name == safe_name not in self.bundled:
                self._open_default()  # the shown file was the one this upload was to replace
            self._show_file_in_menu()
            self.fail(str(error))

        self.panel.loading = True
        self.work.run(read, opened, refused, replaceable=False)

    def _on_refused_upload(self, event: Any) -> None:
        """A file larger than the upload limit was dropped while it arrived."""
        if event.new:
            message = upload_refusal(event.new, self.config.max_upload_mb)
            self.bridge.clear_upload(message)
            self.fail(message)

    def _open_default(self) -> None:
        """Show the first Phoenix JSON file of the menu, or no event when there is none."""
        for name in self.bundled:
            if root_files.is_root_name(name):
                continue
            try:
                self.open_bundled(name)
                return
            except EventLabError:
                continue
        self.file = None
        self.clear_event()


def drawn_signature(item: DrawnLayer) -> tuple:
    """What decides how one layer is drawn: its shown elements, colours and highlights."""
    layer = item.layer
    owners = (layer.segment_owner, layer.triangle_owner, layer.point_owner, item.colors)
    return (layer.key, *(array.tobytes() for array in owners), tuple(sorted(item.selected)))


def send_widget_messages_now() -> None:
    """Send the page's queued 3D widget messages now, in one message (Panel sends them one by
    one on the next tick, after the page's other changes)."""
    import panel as pn

    try:
        from panel.io.ipywidget import _get_kernel
    except ImportError:  # another Panel: its own schedule stands
        return
    document = pn.state.curdoc
    if document is None or getattr(document, "session_context", None) is None:
        return
    session = getattr(_get_kernel(doc=document), "session", None)
    if getattr(session, "_queue", None) and hasattr(session, "_dispatch"):
        with pn.io.unlocked():  # written to the socket now, not by a coroutine scheduled later
            session._dispatch()  # the queue is emptied: the next-tick dispatch finds nothing left


def page_args() -> dict:
    """The query of the page's address (empty outside a browser session)."""
    import panel as pn

    try:
        return dict(pn.state.session_args or {})
    except (AttributeError, RuntimeError):
        return {}


def read_upload(
    name: str,
    data: bytes,
    max_bytes: int,
    room: int | None = None,
    memory: SessionMemory | None = None,
) -> event_files.EventFile | root_files.RootEventFile:
    """An uploaded file as events: Phoenix JSON as it is, ROOT read through an event index.

    `room`: the memory the page has left for it; a JSON text larger than that is refused.
    `memory`: the page's memory, where a ROOT upload counts its bytes and decoded clusters.
    """
    safe_name = Path(name).name or "upload"
    if len(data) > max_bytes:
        raise event_files.EventFileError(
            f"{safe_name} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        )
    lower = safe_name.lower()
    if lower.endswith(JSON_SUFFIXES):
        if room is None or room >= event_files.MAX_UNPACKED_BYTES:
            return event_files.parse_event_bytes(data, safe_name)
        limit = f"your page may still keep in the server's memory ({room / 2**20:.0f} MB)"
        return event_files.parse_event_bytes(data, safe_name, max_text=room, limit=limit)
    if root_files.is_root_name(lower):
        if memory is None:
            memory = SessionMemory(event_files.MAX_UNPACKED_BYTES if room is None else room)
        return root_files.open_upload(safe_name, data, memory, ("upload", safe_name))
    raise event_files.EventFileError(
        f"{safe_name}: EventLab opens Phoenix event files (.json, .json.gz), ATLAS PHYSLITE "
        "files and ATLAS education ntuples (.root)"
    )
