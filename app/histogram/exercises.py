"""Classroom exercises: YAML files of steps, suggested plots, questions and expected answers."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.data_folders import files_inside
from app.file_cache import once_per_version
from app.histogram.errors import ExerciseError
from app.histogram.fitting import BACKGROUNDS, SIGNALS

LOG = logging.getLogger(__name__)
BUNDLED_EXERCISES = Path(__file__).resolve().parent / "exercises"
EXERCISE_SUFFIXES = (".yaml", ".yml")
LOGGED: set[tuple[str, int, int]] = set()  # broken exercise file versions already logged
MAX_EXERCISE_BYTES = 256 * 1024
NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?")
STEP_KEYS = {
    "title",
    "instructions",
    "x",
    "cut",
    "weight",
    "bins",
    "range",
    "logy",
    "density",
    "fit",
    "background",
    "fit_range",
    "questions",
}
EXERCISE_KEYS = {"title", "summary", "level", "dataset", "source", "steps"}
QUESTION_KEYS = {"id", "text", "answer", "tolerance", "unit", "hint"}


@dataclass(frozen=True)
class Question:
    """A question with a numeric answer accepted within a tolerance."""

    id: str
    text: str
    answer: float
    tolerance: float
    unit: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Step:
    """One step: what to read and do, the plot it suggests, and its questions."""

    title: str
    instructions: str
    x: str = ""
    cut: str = ""
    weight: str = ""
    bins: int | None = None
    range: tuple[float, float] | None = None
    logy: bool = False
    density: bool = False
    fit: str = ""
    background: str = "none"
    fit_range: tuple[float, float] | None = None
    questions: tuple[Question, ...] = ()


@dataclass(frozen=True)
class Exercise:
    """A classroom exercise on one dataset."""

    id: str
    title: str
    summary: str
    dataset: str
    source: str
    level: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class AnswerCheck:
    """Whether an answer is right, and what to tell the student."""

    correct: bool
    message: str


def discover_exercises(folders: tuple[Path, ...]) -> tuple[list[Exercise], list[str]]:
    """Every exercise in the folders (first folder wins an id), and one line per broken file.

    A broken file is also written to the server's log, once per version of it.
    """
    exercises: dict[str, Exercise] = {}
    problems: list[str] = []
    for folder in folders:
        for path in files_inside(folder, EXERCISE_SUFFIXES):
            try:
                exercise = load_exercise(path)
            except ExerciseError as error:
                problems.append(str(error))
                log_once(path, str(error))
                continue
            exercises.setdefault(exercise.id, exercise)
    return sorted(exercises.values(), key=lambda item: item.title.lower()), problems


def log_once(path: Path, problem: str) -> None:
    """Tell the server's log about a broken exercise file (not again for every page)."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (str(path), 0, 0)
    if key not in LOGGED:
        LOGGED.add(key)
        LOG.warning("exercise file %s cannot be used: %s", path, problem)


def load_exercise(path: Path) -> Exercise:
    """Read and validate one exercise file (once per version of it: every page lists them)."""
    try:
        return read_exercise(path)
    except OSError as error:
        raise ExerciseError(f"{path.name}: cannot be read ({error})") from None


@once_per_version(maxsize=64)
def read_exercise(path: Path) -> Exercise:
    """Read, parse and validate one exercise file."""
    try:
        if path.stat().st_size > MAX_EXERCISE_BYTES:
            raise ExerciseError(f"{path.name}: larger than {MAX_EXERCISE_BYTES // 1024} kB")
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ExerciseError(f"{path.name}: cannot be read ({error})") from None
    except yaml.YAMLError as error:
        raise ExerciseError(f"{path.name}: not valid YAML ({one_line(error)})") from None
    return parse_exercise(document, path.stem, path.name)


def parse_exercise(document: Any, exercise_id: str, where: str) -> Exercise:
    """An exercise from its YAML document, or an error naming the file and the field."""
    fields = mapping(document, where, EXERCISE_KEYS)
    steps = fields.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ExerciseError(f"{where}: 'steps' must be a non-empty list")
    return Exercise(
        id=exercise_id,
        title=text(fields, "title", where, required=True),
        summary=text(fields, "summary", where),
        dataset=text(fields, "dataset", where, required=True),
        source=text(fields, "source", where),
        level=text(fields, "level", where),
        steps=tuple(
            parse_step(step, f"{where}, step {number}") for number, step in enumerate(steps, 1)
        ),
    )


def parse_step(document: Any, where: str) -> Step:
    """One step of an exercise."""
    fields = mapping(document, where, STEP_KEYS)
    fit = text(fields, "fit", where)
    if fit and fit not in SIGNALS:
        raise ExerciseError(f"{where}: 'fit' must be one of {', '.join(SIGNALS)}")
    background = text(fields, "background", where) or "none"
    if background not in BACKGROUNDS:
        raise ExerciseError(f"{where}: 'background' must be one of {', '.join(BACKGROUNDS)}")
    bins = fields.get("bins")
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int) or bins < 1):
        raise ExerciseError(f"{where}: 'bins' must be a positive whole number")
    questions = fields.get("questions") or []
    if not isinstance(questions, list):
        raise ExerciseError(f"{where}: 'questions' must be a list")
    return Step(
        title=text(fields, "title", where),
        instructions=text(fields, "instructions", where, required=True),
        x=text(fields, "x", where),
        cut=text(fields, "cut", where),
        weight=text(fields, "weight", where),
        bins=bins,
        range=number_pair(fields, "range", where),
        logy=flag(fields, "logy", where),
        density=flag(fields, "density", where),
        fit=fit,
        background=background,
        fit_range=number_pair(fields, "fit_range", where),
        questions=tuple(
            parse_question(question, f"{where}, question {number}")
            for number, question in enumerate(questions, 1)
        ),
    )


def parse_question(document: Any, where: str) -> Question:
    """One question with its expected answer."""
    fields = mapping(document, where, QUESTION_KEYS)
    answer = number(fields, "answer", where)
    tolerance = number(fields, "tolerance", where)
    if tolerance < 0:
        raise ExerciseError(f"{where}: 'tolerance' cannot be negative")
    return Question(
        id=text(fields, "id", where) or where.rsplit(" ", 1)[-1],
        text=text(fields, "text", where, required=True),
        answer=answer,
        tolerance=tolerance,
        unit=text(fields, "unit", where),
        hint=text(fields, "hint", where),
    )


def mapping(document: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    """A YAML mapping with only known keys (a typo is an error, not silently ignored)."""
    if not isinstance(document, dict):
        raise ExerciseError(f"{where}: expected a mapping of keys to values")
    unknown = sorted(str(key) for key in document if key not in allowed)
    if unknown:
        raise ExerciseError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )
    return document


def text(fields: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    """A text field (numbers are accepted as text)."""
    value = fields.get(key)
    if value is None or value == "":
        if required:
            raise ExerciseError(f"{where}: '{key}' is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ExerciseError(f"{where}: '{key}' must be text")
    return str(value).strip()


def number(fields: dict[str, Any], key: str, where: str) -> float:
    """A required finite number."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExerciseError(f"{where}: '{key}' must be a number")
    return float(value)


def number_pair(fields: dict[str, Any], key: str, where: str) -> tuple[float, float] | None:
    """An optional [low, high] pair of increasing numbers."""
    value = fields.get(key)
    if value is None:
        return None
    valid = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    )
    if not valid:
        raise ExerciseError(f"{where}: '{key}' must be [low, high] with low below high")
    return float(value[0]), float(value[1])


def flag(fields: dict[str, Any], key: str, where: str) -> bool:
    """An optional true/false field."""
    value = fields.get(key, False)
    if not isinstance(value, bool):
        raise ExerciseError(f"{where}: '{key}' must be true or false")
    return value


def one_line(error: Exception) -> str:
    """An exception message on one line."""
    return " ".join(str(error).split())


def read_number(answer: str) -> float | None:
    """The first number in a student's answer ("91.2", "91,2 GeV", "about 91"), if any."""
    match = NUMBER.search(answer)
    if not match:
        return None
    try:
        return float(match.group().replace(",", "."))
    except ValueError:
        return None


def check_answer(question: Question, answer: str) -> AnswerCheck:
    """Compare a student's answer with the expected one, within the question's tolerance."""
    value = read_number(answer)
    if value is None:
        return AnswerCheck(False, "Type a number, for example 91.2")
    unit = f" {question.unit}" if question.unit else ""
    if abs(value - question.answer) <= question.tolerance:
        return AnswerCheck(
            True, f"Correct: {question.answer:g} ± {question.tolerance:g}{unit} is expected."
        )
    direction = "high" if value > question.answer else "low"
    hint = f" Hint: {question.hint}" if question.hint else ""
    return AnswerCheck(False, f"Not quite: {value:g}{unit} is too {direction}.{hint}")
