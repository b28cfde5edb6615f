"""The class store: classes, students and records in SQLite, safe for many writers at once."""

from __future__ import annotations

import csv
import io
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.masterclass.categories import CategoryFileError, load_masterclass
from app.masterclass.results import category_counts, mass_histogram, w_ratio
from app.masterclass.store import STORE_FILE, ClassStore, ClassStoreError, records_csv

WRITERS = 30
RECORDS_EACH = 20


def write_records(folder: str, number: int) -> None:
    """One student's page: join, then save records one by one (in its own process)."""
    store = ClassStore(Path(folder))
    student = store.join("3B", f"student {number}")
    for event in range(RECORDS_EACH):
        store.save_record(
            student, "toy_events.json", "284500", str(event), "mumu", 90.0 + number, -1, ["m:0"]
        )


def test_bundled_masterclass_has_the_masterclass_categories():
    masterclass = load_masterclass()
    labels = [item.label for item in masterclass.categories]
    assert labels == ["e e", "μ μ", "e μ", "γ γ", "4 leptons", "W → e ν", "W → μ ν", "background"]
    assert [item.key for item in masterclass.categories if item.charged] == ["wenu", "wmunu"]


def test_a_teachers_own_categories_are_read_and_checked(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text(
        "title: J/psi\ncategories:\n  - {key: jpsi, label: J/ψ}\n  - {key: bg, label: other}\n"
    )
    assert [item.key for item in load_masterclass(own).categories] == ["jpsi", "bg"]
    own.write_text("categories:\n  - {key: a, label: x}\n  - {key: a, label: y}\n")
    with pytest.raises(CategoryFileError, match="'a' is used twice"):
        load_masterclass(own)
    own.write_text("categories: [1, 2\n")
    with pytest.raises(CategoryFileError, match="not valid YAML"):
        load_masterclass(own)
    own.write_text("!!python/object:os.system {}\n")
    with pytest.raises(CategoryFileError):
        load_masterclass(own)


def test_thirty_students_saving_at_once_lose_nothing(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("3B")
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(target=write_records, args=(str(tmp_path), n)) for n in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS
    records = store.class_records("3B")
    assert len(records) == WRITERS * RECORDS_EACH
    assert len(store.progress("3B")) == WRITERS
    assert {count for _, count, _ in store.progress("3B")} == {RECORDS_EACH}
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_restart_keeps_classes_students_records_and_the_teacher_key(tmp_path):
    store = ClassStore(tmp_path)
    key = store.teacher_key()
    store.start_class("Physics 1")
    ada = store.join("Physics 1", "  Ada   Lovelace ")
    store.save_record(ada, "f.json", "1", "7", "ee", 91.2, 0, ["Electrons/AnalysisElectrons:0"])
    again = ClassStore(tmp_path)
    assert again.teacher_key() == key and again.is_teacher_key(key)
    assert not again.is_teacher_key("wrong") and not again.is_teacher_key("")
    assert [info.name for info in again.open_classes()] == ["Physics 1"]
    same = again.join("Physics 1", "Ada Lovelace")
    assert same == ada
    (record,) = again.student_records(same)
    assert (record.category, record.mass_gev, record.objects) == (
        "ee",
        91.2,
        ("Electrons/AnalysisElectrons:0",),
    )


def test_saving_an_event_again_replaces_its_record(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    student = store.join("c", "Bo")
    store.save_record(student, "f.json", "1", "7", "ee", 91.2, 0, [])
    store.save_record(student, "f.json", "1", "7", "mumu", 88.0, 0, [])
    assert [(r.category, r.mass_gev) for r in store.student_records(student)] == [("mumu", 88.0)]
    store.delete_record(student, "f.json", "1", "7")
    assert store.student_records(student) == []


def test_students_see_only_their_own_records(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    one, two = store.join("c", "One"), store.join("c", "Two")
    store.save_record(one, "f.json", "1", "7", "ee", 91.0, 0, [])
    store.save_record(two, "f.json", "1", "8", "mumu", 89.0, 0, [])
    assert [r.event for r in store.student_records(one)] == ["7"]
    assert [r.student for r in store.class_records("c")] == ["One", "Two"]


def test_a_closed_class_takes_no_records_until_reopened(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    student = store.join("c", "Bo")
    store.close_class("c")
    with pytest.raises(ClassStoreError, match="closed"):
        store.save_record(student, "f.json", "1", "7", "ee", 91.2, 0, [])
    with pytest.raises(ClassStoreError, match="closed"):
        store.join("c", "Late")
    assert store.open_classes() == []
    store.start_class("c")
    store.save_record(student, "f.json", "1", "7", "ee", 91.2, 0, [])
    assert store.clear_class("c") == 1
    assert store.class_records("c") == []


def test_names_are_checked(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    with pytest.raises(ClassStoreError, match="type a name"):
        store.join("c", "   ")
    with pytest.raises(ClassStoreError, match="at most 40"):
        store.join("c", "x" * 41)
    with pytest.raises(ClassStoreError, match="no class called"):
        store.join("nope", "Bo")
    with pytest.raises(ClassStoreError, match="type a class name"):
        store.start_class("")


def test_a_file_that_is_not_a_store_gives_one_clear_message(tmp_path):
    (tmp_path / STORE_FILE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(ClassStoreError, match="not a usable class store"):
        ClassStore(tmp_path)


def test_csv_export_has_every_record_and_defuses_formulas(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    student = store.join("c", "=HYPERLINK(1)")
    store.save_record(student, "f.json", "1", "7", "ee", 91.2345, 0, ["a", "b"])
    rows = list(csv.DictReader(io.StringIO(records_csv(store.class_records("c"), "c").decode())))
    assert rows[0]["student"] == "'=HYPERLINK(1)"
    assert (rows[0]["mass_gev"], rows[0]["objects"], rows[0]["category"]) == (
        "91.234",
        "a b",
        "ee",
    )


def test_counts_per_category_give_the_w_ratio_and_masses_fill_a_histogram(tmp_path):
    store = ClassStore(tmp_path)
    store.start_class("c")
    student = store.join("c", "Bo")
    verdicts = [("wenu", 1), ("wenu", 1), ("wmunu", -1), ("mumu", 0), ("wmunu", 1)]
    for number, (category, charge) in enumerate(verdicts):
        mass = 90.0 if category == "mumu" else None
        store.save_record(student, "f.json", "1", str(number), category, mass, charge, [])
    masterclass = load_masterclass()
    counts = {count.key: count for count in category_counts(store.class_records("c"), masterclass)}
    assert (counts["wenu"].total, counts["wenu"].plus, counts["wmunu"].minus) == (2, 2, 1)
    assert w_ratio(list(counts.values()), masterclass) == (3, 1, 3.0)
    histogram, edges = mass_histogram(store.class_records("c"))
    assert histogram.sum() == 1 and histogram[np.searchsorted(edges, 90.0, "right") - 1] == 1


def test_serve_with_a_broken_masterclass_file_stops_with_one_line(tmp_path):
    from conftest import eventlab

    broken = tmp_path / "mine.yaml"
    broken.write_text("categories:\n  - {key: 'no spaces allowed', label: x}\n")
    done = eventlab("serve", "--class-dir", tmp_path, "--masterclass", broken, "--port", "1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "eventlab serve: error: mine.yaml: category 1 needs a key of letters, digits, '_', '+' "
        "or '-' (at most 24)"
    )
    assert "Traceback" not in done.stderr


def test_serve_with_a_class_folder_that_is_a_file_stops_with_one_line(tmp_path):
    from conftest import eventlab

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    done = eventlab("serve", "--class-dir", not_a_folder, "--port", "1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot make the class folder" in done.stderr.strip().splitlines()[-1]


def test_an_unusable_default_folder_turns_records_off_but_the_server_starts(
    tmp_path, monkeypatch, capsys
):
    from app.config import AppConfig
    from app.server import announce_masterclass

    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocked))
    announce_masterclass(AppConfig(), None, "http://127.0.0.1:5006/")
    assert "masterclass records are off" in capsys.readouterr().err
    with pytest.raises(ClassStoreError, match="cannot make the class folder"):
        announce_masterclass(AppConfig(), "3B", "http://127.0.0.1:5006/")
