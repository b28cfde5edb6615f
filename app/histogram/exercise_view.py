"""The exercise column of the histogram lab: step text, questions with answer boxes."""

from __future__ import annotations

import re

import panel as pn

from app.histogram.exercises import Exercise, check_answer
from app.histogram.tables import list_html
from app.safe_html import markdown_html, text_html


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


def question_text(question) -> str:
    """The question with its unit in brackets, unless its text already names the unit."""
    unit = question.unit.strip() if question.unit else ""
    if not unit or re.search(rf"(?<!\w){re.escape(unit)}(?!\w)", question.text):
        return question.text
    return f"{question.text} ({unit})"


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
    return pn.Column(
        pn.pane.HTML(
            markdown_html(f"**Q:** {question_text(question)}"), sizing_mode="stretch_width"
        ),
        pn.Row(answer, button),
        verdict,
        sizing_mode="stretch_width",
    )
