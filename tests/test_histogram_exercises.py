"""Classroom exercises: the bundled files, their expressions on the bundled data, answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import BUNDLED_DATA_DIR
from app.histogram.data import read_dataset
from app.histogram.errors import ExerciseError
from app.histogram.evaluation import Evaluator
from app.histogram.exercises import (
    BUNDLED_EXERCISES,
    Question,
    check_answer,
    discover_exercises,
    load_exercise,
    read_number,
)
from app.histogram.filling import Binning, fill
from app.histogram.fitting import fit_peak

TOY_FILE = BUNDLED_DATA_DIR / "toy_events.parquet"


@pytest.fixture(scope="module")
def bundled():
    exercises, problems = discover_exercises((BUNDLED_EXERCISES,))
    assert problems == []
    return {exercise.id: exercise for exercise in exercises}


def test_required_exercises_are_shipped(bundled):
    titles = " ".join(exercise.title for exercise in bundled.values()).lower()
    for topic in ("z boson in two muons", "higgs boson in four leptons", "transverse mass"):
        assert topic in titles
    on_toy = [e for e in bundled.values() if e.dataset == "toy_events.parquet"]
    assert len(on_toy) >= 3
    cms = [e for e in bundled.values() if e.dataset == "Zmumu_Run2011A.csv"]
    assert len(cms) == 1
    assert "record/545" in cms[0].source


@pytest.fixture(scope="module")
def toy_evaluator():
    if not TOY_FILE.exists():
        pytest.fail(f"the bundled sample {TOY_FILE} is missing")
    return Evaluator(read_dataset(TOY_FILE, TOY_FILE.name))


def evaluate_steps(exercise, evaluator):
    """Fill every step's suggested plot; return (step, selection, fit) triples."""
    results = []
    for step in exercise.steps:
        selection = evaluator.selection(step.x, step.cut, step.weight)
        assert selection.values.size > 0, (exercise.id, step.title)
        low, high = step.range or (float(selection.values.min()), float(selection.values.max()))
        histogram = fill(selection, Binning(step.bins or 50, low, high + 1e-9))
        fit = None
        if step.fit:
            weighted = selection.weights is not None
            fit = fit_peak(histogram, step.fit, step.background, step.fit_range, weighted)
        results.append((step, selection, fit))
    return results


@pytest.mark.parametrize("exercise_id", ["z_to_mumu", "higgs_to_four_leptons", "w_transverse_mass"])
def test_toy_exercises_run_and_their_fits_agree_with_the_answers(
    bundled, toy_evaluator, exercise_id
):
    for step, _, fit in evaluate_steps(bundled[exercise_id], toy_evaluator):
        for question in step.questions:
            if fit is not None and "fit" in question.text.lower():
                mass = fit.parameter("mass").value
                assert abs(mass - question.answer) <= question.tolerance, (step.title, mass)


def test_cms_exercise_runs_on_the_real_file(bundled, cms_zmumu_csv):
    evaluator = Evaluator(read_dataset(cms_zmumu_csv, cms_zmumu_csv.name))
    fits = [fit for _, _, fit in evaluate_steps(bundled["cms_dimuon_csv"], evaluator) if fit]
    assert fits and abs(fits[0].parameter("mass").value - 91.19) < 1.0


def test_a_teacher_adds_an_exercise_in_a_folder(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "title: My exercise\ndataset: data.csv\nsteps:\n"
        "  - instructions: Plot x.\n    x: x\n    range: [0, 10]\n"
        "    questions:\n      - text: Mean?\n        answer: 5\n        tolerance: 0.5\n"
    )
    exercises, problems = discover_exercises((tmp_path, BUNDLED_EXERCISES))
    assert problems == []
    mine = next(e for e in exercises if e.id == "mine")
    assert mine.steps[0].range == (0.0, 10.0)
    assert mine.steps[0].questions[0].answer == 5.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: T\ndataset: d.csv\nsteps: []\n", "'steps' must be a non-empty list"),
        ("title: T\nsteps:\n  - instructions: i\n", "'dataset' is required"),
        ("title: T\ndataset: d.csv\nstep:\n  - instructions: i\n", "unknown key 'step'"),
        ("title: T\ndataset: d.csv\nsteps:\n  - instructions: i\n    fit: landau\n", "'fit'"),
        ("title: T\ndataset: d.csv\nsteps:\n  - instructions: i\n    range: [5, 1]\n", "range"),
        (
            "title: T\ndataset: d.csv\nsteps:\n  - instructions: i\n    questions:\n"
            "      - text: q\n        answer: many\n        tolerance: 1\n",
            "'answer' must be a number",
        ),
        ("title: [unclosed\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ],
)
def test_broken_exercise_files_are_reported(tmp_path, text, message):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ExerciseError, match=message):
        load_exercise(path)
    exercises, problems = discover_exercises((tmp_path,))
    assert exercises == [] and len(problems) == 1 and problems[0].startswith("broken.yaml")


@pytest.mark.parametrize(
    ("answer", "correct"),
    [("91.2", True), ("about 89 GeV", True), ("91,5", True), ("87", False), ("95", False)],
)
def test_answers_are_checked_within_tolerance(answer, correct):
    question = Question("z", "Z mass?", 91.19, 3.0, "GeV", "Look at the peak.")
    result = check_answer(question, answer)
    assert result.correct is correct
    if not correct:
        assert "Hint: Look at the peak." in result.message


def test_an_answer_without_a_number_asks_for_one():
    result = check_answer(Question("z", "Z mass?", 91.19, 3.0), "the peak")
    assert not result.correct and "Type a number" in result.message
    assert read_number("-1.5e2") == -150.0


def test_exercise_folder_listing_ignores_other_files(tmp_path):
    (tmp_path / "readme.txt").write_text("not an exercise")
    assert discover_exercises((tmp_path, Path("/nonexistent"))) == ([], [])
