"""The masterclass card of a student's page and the teacher's page, without a browser."""

from __future__ import annotations

import pytest

from app.config import AppConfig
from app.masterclass.setup import class_store, masterclass
from app.masterclass.teacher import TeacherPage, teacher_tab
from app.work import PageWork


@pytest.fixture
def config(tmp_path) -> AppConfig:
    """Settings with the class records in a fresh folder."""
    return AppConfig(class_dir=tmp_path)


def display_on(config: AppConfig, event: str = "3000279"):
    """An event display session (no browser) on a bundled event."""
    from app.display.offline import enable_offline_widgets

    enable_offline_widgets()
    from app.display.view import EventDisplay

    return EventDisplay(config, file="toy_events.json", event=event)


def test_without_a_class_the_card_says_so_and_joins_nobody(config):
    display = display_on(config)
    card = display.recorder
    assert "No class is open yet" in card.status.object
    card.join("Ada")
    assert card.student is None and "No class is open" in card.alert.object


def test_a_student_saves_the_muon_pair_and_the_teacher_sees_it(config):
    store = class_store(config)
    store.start_class("3B")
    display = display_on(config)
    card = display.recorder
    card.look_for_classes()
    card.join("  <b>Ada</b> ")
    assert card.student is not None and card.student.name == "<b>Ada</b>"
    assert "&lt;b&gt;Ada&lt;/b&gt;" in card.status.object  # a name is shown as text only
    display.focus_object("Tracks/MuonSpectrometerTrackParticles", 0, add=True)
    display.focus_object("Tracks/MuonSpectrometerTrackParticles", 1, add=True)
    card.save()
    assert "Choose what this event is" in card.alert.object
    card.category.value = "mumu"
    card.save()
    (record,) = store.class_records("3B")
    assert (record.event, record.category, record.charge) == ("3000279", "mumu", 0)
    assert record.mass_gev == pytest.approx(74.19, abs=0.01)
    assert record.objects == ("AnalysisMuons:0", "AnalysisMuons:1")
    assert "Saved event 3000279 (74.19 GeV, 2 objects)" in card.saved_note.object
    assert card.table.object.count("record-row") == 1
    assert sum(card.source.data["count"]) == 1
    assert b"3000279,mumu,74.187" in card._csv().getvalue()

    display.step(1)
    assert card.category.value == "" and card.saved_note.object == ""
    display.step(-1)
    assert card.category.value == "mumu" and "Already saved" in card.saved_note.object

    teacher = TeacherPage(store, card.masterclass, PageWork())
    assert teacher.class_select.value == "3B"
    assert "data-testid='class-total'>1<" in teacher.state.object
    assert "&lt;b&gt;Ada&lt;/b&gt;" in teacher.progress.object
    assert sum(teacher.plots["mumu"][1].data["count"]) == 1
    assert teacher.plots["mumu"][0].title.text == "μ μ (1 event)"
    assert b"<b>Ada</b>" in teacher._csv().getvalue()


def test_the_teacher_closes_clears_and_starts_classes(config):
    store = class_store(config)
    teacher = TeacherPage(store, masterclass(config), PageWork())
    assert "No class yet" in teacher.state.object
    teacher.start("")
    assert "type a class name" in teacher.alert.object
    teacher.start("Physics 2")
    assert teacher.class_select.value == "Physics 2" and "is open" in teacher.state.object
    student = store.join("Physics 2", "Bo")
    store.save_record(student, "f.json", "1", "2", "wenu", None, 1, [])
    teacher.refresh()
    assert "W+ / W−: 1 / 0" in teacher.counts.object
    teacher.clear()
    assert "Tick &#x27;yes" in teacher.alert.object and len(store.class_records("Physics 2")) == 1
    teacher.confirm_clear.value = True
    teacher.clear()
    assert store.class_records("Physics 2") == [] and "Deleted the 1 records" in teacher.note.object
    teacher.close()
    assert "closed" in teacher.state.object and store.open_classes() == []


def test_the_teacher_page_needs_the_key(config):
    store = class_store(config)
    refused = teacher_tab(store, masterclass(config), "guess", PageWork())
    assert "not the teacher key" in refused.objects[0].object
    allowed = teacher_tab(store, masterclass(config), store.teacher_key(), PageWork())
    assert "teacher page" in allowed.objects[0].object


def test_a_server_that_cannot_keep_records_says_so_on_the_card(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    display = display_on(AppConfig(class_dir=blocked))
    assert "Class records are off on this server" in display.recorder.panel.object
    assert "cannot make the class folder" in display.recorder.panel.object
