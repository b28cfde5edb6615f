"""The class store: classes, their students and the events they recorded, in one SQLite file.

SQLite in WAL mode lets every page (and every worker process) read while one writes; each
change is one short transaction, so 30 students saving at once only wait a few milliseconds
for each other, and a server restart or a closed tab loses nothing. Nothing leaves the machine.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import os
import re
import secrets
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from converters.errors import EventLabError

STORE_FILE = "masterclass.sqlite3"
BUSY_TIMEOUT_S = 30.0
MAX_NAME = 40
MAX_TEXT = 200
MAX_OBJECTS = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    closed REAL
);
CREATE TABLE IF NOT EXISTS students (
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    joined REAL NOT NULL,
    UNIQUE (class_id, name)
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    event_file TEXT NOT NULL,
    run TEXT NOT NULL,
    event TEXT NOT NULL,
    category TEXT NOT NULL,
    mass_gev REAL,
    charge INTEGER,
    objects TEXT NOT NULL,
    saved REAL NOT NULL,
    UNIQUE (student_id, event_file, run, event)
);
CREATE INDEX IF NOT EXISTS records_by_student ON records (student_id);
"""
CSV_COLUMNS = (
    "class", "student", "event_file", "run", "event", "category", "mass_gev", "charge",
    "objects", "saved_utc",
)  # fmt: skip
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ClassStoreError(EventLabError):
    """Something a teacher or student asked of the class store that cannot be done."""


@dataclass(frozen=True)
class ClassInfo:
    """A class: its name and whether it still takes records."""

    id: int
    name: str
    created: float
    closed: float | None

    @property
    def open(self) -> bool:
        """Whether students can still join and record."""
        return self.closed is None


@dataclass(frozen=True)
class Student:
    """A student of a class (known by name within it)."""

    id: int
    class_id: int
    name: str


@dataclass(frozen=True)
class Record:
    """One event a student classified, with the mass of the objects they chose."""

    event_file: str
    run: str
    event: str
    category: str
    mass_gev: float | None
    charge: int | None
    objects: tuple[str, ...]
    saved: float
    student: str = ""


def default_class_dir() -> Path:
    """Where class records live unless told otherwise: the user's data folder."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "eventlab"


def clean_name(text: str, what: str = "name") -> str:
    """A person's or class's name as typed, checked: 1-40 visible characters."""
    name = unicodedata.normalize("NFC", " ".join(str(text).split()))
    if not name:
        raise ClassStoreError(f"type a {what} first")
    if len(name) > MAX_NAME:
        raise ClassStoreError(f"a {what} can have at most {MAX_NAME} characters")
    if CONTROL.search(name):
        raise ClassStoreError(f"a {what} cannot hold control characters")
    return name


def short_text(value: object) -> str:
    """A file name, run or event number as stored: text, at most 200 characters."""
    return CONTROL.sub("", str(value))[:MAX_TEXT]


class ClassStore:
    """The classes and records in `folder` (made if missing). Safe for threads and processes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ClassStoreError(
                f"cannot make the class folder {self.folder}: {error.strerror or error}"
            ) from None
        self.path = self.folder / STORE_FILE
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            try:
                db.execute("PRAGMA journal_mode=WAL")  # kept by the file: set once
                db.executescript(SCHEMA)
            finally:
                db.close()
        except sqlite3.DatabaseError as error:
            raise ClassStoreError(f"{self.path} is not a usable class store: {error}") from None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one short transaction (committed on success, then closed)."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (sees the last committed state, blocks no writer)."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        try:
            yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ the teacher's key
    def teacher_key(self) -> str:
        """The key of the teacher page (made once, kept across restarts)."""
        with self._connection() as db:
            row = db.execute("SELECT value FROM settings WHERE name='teacher_key'").fetchone()
            if row:
                return row[0]
            key = secrets.token_urlsafe(12)
            db.execute("INSERT INTO settings VALUES ('teacher_key', ?)", (key,))
            return key

    def is_teacher_key(self, given: str | None) -> bool:
        """Whether `given` is the teacher's key (compared in constant time)."""
        return bool(given) and hmac.compare_digest(str(given), self.teacher_key())

    # ------------------------------------------------------------------ classes
    def start_class(self, name: str) -> ClassInfo:
        """Open class `name`: made if new, reopened if it was closed."""
        name = clean_name(name, "class name")
        with self._connection() as db:
            db.execute(
                "INSERT INTO classes (name, created) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET closed=NULL",
                (name, time.time()),
            )
        found = self.find_class(name)
        assert found is not None
        return found

    def find_class(self, name: str) -> ClassInfo | None:
        """The class called `name`, if there is one."""
        with self._reading() as db:
            row = db.execute(
                "SELECT id, name, created, closed FROM classes WHERE name=?", (name,)
            ).fetchone()
        return ClassInfo(*row) if row else None

    def open_classes(self) -> list[ClassInfo]:
        """The classes taking records, newest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT id, name, created, closed FROM classes WHERE closed IS NULL "
                "ORDER BY created DESC, id DESC"
            ).fetchall()
        return [ClassInfo(*row) for row in rows]

    def class_names(self) -> list[str]:
        """Every class's name, newest first."""
        with self._reading() as db:
            rows = db.execute("SELECT name FROM classes ORDER BY created DESC, id DESC").fetchall()
        return [row[0] for row in rows]

    def close_class(self, name: str) -> None:
        """Stop a class taking records (they stay, to be looked at and exported)."""
        with self._connection() as db:
            db.execute("UPDATE classes SET closed=? WHERE name=?", (time.time(), name))

    def clear_class(self, name: str) -> int:
        """Delete every record of a class (its students stay); the number deleted."""
        with self._connection() as db:
            cursor = db.execute(
                "DELETE FROM records WHERE student_id IN (SELECT s.id FROM students s "
                "JOIN classes c ON c.id = s.class_id WHERE c.name=?)",
                (name,),
            )
            return cursor.rowcount

    # ------------------------------------------------------------------ students and records
    def join(self, class_name: str, student_name: str) -> Student:
        """Student `student_name` in an open class (the same student when the name returns)."""
        name = clean_name(student_name)
        with self._connection() as db:
            found = db.execute(
                "SELECT id, closed FROM classes WHERE name=?", (class_name,)
            ).fetchone()
            if found is None:
                raise ClassStoreError(f"there is no class called {class_name!r}")
            if found[1] is not None:
                raise ClassStoreError(f"the class {class_name!r} is closed")
            db.execute(
                "INSERT INTO students (class_id, name, joined) VALUES (?, ?, ?) "
                "ON CONFLICT(class_id, name) DO NOTHING",
                (found[0], name, time.time()),
            )
            row = db.execute(
                "SELECT id FROM students WHERE class_id=? AND name=?", (found[0], name)
            ).fetchone()
        return Student(row[0], found[0], name)

    def save_record(
        self,
        student: Student,
        event_file: str,
        run: str,
        event: str,
        category: str,
        mass_gev: float | None,
        charge: int | None,
        objects: Sequence[str],
    ) -> None:
        """Save a student's verdict on one event (saving the same event again replaces it)."""
        if mass_gev is not None and not (mass_gev == mass_gev and 0 <= mass_gev < 1e7):
            mass_gev = None
        with self._connection() as db:
            closed = db.execute(
                "SELECT closed FROM classes WHERE id=?", (student.class_id,)
            ).fetchone()
            if closed is None:
                raise ClassStoreError("your class no longer exists; join a class again")
            if closed[0] is not None:
                raise ClassStoreError("your class is closed: the teacher stopped the recording")
            db.execute(
                "INSERT INTO records (student_id, event_file, run, event, category, mass_gev, "
                "charge, objects, saved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(student_id, event_file, run, event) DO UPDATE SET "
                "category=excluded.category, mass_gev=excluded.mass_gev, "
                "charge=excluded.charge, objects=excluded.objects, saved=excluded.saved",
                (
                    student.id,
                    short_text(event_file),
                    short_text(run),
                    short_text(event),
                    short_text(category),
                    mass_gev,
                    charge,
                    json.dumps([short_text(item) for item in objects[:MAX_OBJECTS]]),
                    time.time(),
                ),
            )

    def delete_record(self, student: Student, event_file: str, run: str, event: str) -> None:
        """Remove one of a student's own records."""
        with self._connection() as db:
            db.execute(
                "DELETE FROM records WHERE student_id=? AND event_file=? AND run=? AND event=?",
                (student.id, event_file, run, event),
            )

    def student_records(self, student: Student) -> list[Record]:
        """One student's records, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT event_file, run, event, category, mass_gev, charge, objects, saved "
                "FROM records WHERE student_id=? ORDER BY saved, id",
                (student.id,),
            ).fetchall()
        return [record_of(row, student.name) for row in rows]

    def class_records(self, class_name: str) -> list[Record]:
        """Every record of a class, with the student's name, oldest first (teacher only)."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT r.event_file, r.run, r.event, r.category, r.mass_gev, r.charge, "
                "r.objects, r.saved, s.name FROM records r "
                "JOIN students s ON s.id = r.student_id JOIN classes c ON c.id = s.class_id "
                "WHERE c.name=? ORDER BY r.saved, r.id",
                (class_name,),
            ).fetchall()
        return [record_of(row[:8], row[8]) for row in rows]

    def progress(self, class_name: str) -> list[tuple[str, int, float | None]]:
        """Per student of a class: name, records saved, time of the last one."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT s.name, COUNT(r.id), MAX(r.saved) FROM students s "
                "JOIN classes c ON c.id = s.class_id LEFT JOIN records r ON r.student_id = s.id "
                "WHERE c.name=? GROUP BY s.id ORDER BY s.name COLLATE NOCASE",
                (class_name,),
            ).fetchall()
        return [(name, int(count), last) for name, count, last in rows]


def record_of(row: Sequence, student: str) -> Record:
    """A record from its database row."""
    event_file, run, event, category, mass, charge, objects, saved = row
    return Record(
        event_file, run, event, category, mass, charge, tuple(json.loads(objects)), saved, student
    )


def records_csv(records: Sequence[Record], class_name: str) -> bytes:
    """Records as a CSV file (UTF-8, one row per record)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow(
            [
                csv_safe(class_name),
                csv_safe(record.student),
                csv_safe(record.event_file),
                record.run,
                record.event,
                record.category,
                "" if record.mass_gev is None else f"{record.mass_gev:.3f}",
                "" if record.charge is None else record.charge,
                " ".join(record.objects),
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.saved)),
            ]
        )
    return out.getvalue().encode("utf-8")


def csv_safe(text: str) -> str:
    """Text that a spreadsheet will not read as a formula (a name typed as '=...')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
