"""A fit's result as people read it: a table for the page, lines for the command line."""

from __future__ import annotations

from app.histogram.fitting import BACKGROUNDS, SIGNALS, FitResult
from app.histogram.tables import table_html
from app.safe_html import text_html


def quality_text(result: FitResult) -> str:
    """E.g. "χ²/ndf = 30.2 / 14 = 2.16 (p = 0.0072)"."""
    text = f"χ²/ndf = {result.chi2:.1f} / {result.ndf}"
    if result.ndf:
        text += f" = {result.chi2 / result.ndf:.2f} (p = {result.p_value:.2g})"
    return text


def value_text(result: FitResult, name: str, value: float, error: float) -> str:
    """A parameter's value with its error, or "(fixed)"."""
    if name in result.fixed:
        return f"{value:.5g} (fixed)"
    return f"{value:.5g} ± {error:.2g}"


def fit_html(result: FitResult | None) -> str:
    """A table of fitted parameters with uncertainties, chi2/ndf, and the verdict."""
    if result is None:
        return ""
    rows = "".join(
        f"<tr><td>{text_html(p.name)}</td>"
        f"<td>{text_html(value_text(result, p.name, p.value, p.error))}</td>"
        f"<td>{text_html(p.unit)}</td></tr>"
        for p in result.parameters
    )
    rows += f"<tr><td colspan='3'>{text_html(quality_text(result))}</td></tr>"
    title = f"Fit: {SIGNALS[result.signal]}, {BACKGROUNDS[result.background]}"
    table = table_html(title, "<tr><th>parameter</th><th>value</th><th>unit</th></tr>" + rows)
    return table + verdict_html(result)


def verdict_html(result: FitResult | None) -> str:
    """Whether the fit is valid (and why not), and its advice on the range; "" when all is well."""
    if result is None:
        return ""
    notes = []
    if not result.valid:
        notes.append(
            "<p class='fit-verdict' style='color:#a94442;margin:4px 0'><b>Not a valid fit:</b> "
            f"{text_html(result.reason)}.</p>"
        )
    if result.advice:
        notes.append(
            f"<p class='fit-advice' style='margin:4px 0'>{text_html(result.advice.capitalize())}."
            "</p>"
        )
    return "".join(notes)


def fit_lines(result: FitResult) -> list[str]:
    """The fit as lines of the `eventlab hist` report."""
    verdict = "" if result.valid else "  NOT VALID"
    lines = [
        f"  fit {result.signal} + {result.background} in [{result.low:g}, {result.high:g}]: "
        f"{quality_text(result)}{verdict}"
    ]
    for parameter in result.parameters:
        unit = f" {parameter.unit}" if parameter.unit else ""
        shown = value_text(result, parameter.name, parameter.value, parameter.error)
        lines.append(f"    {parameter.name:<13} {shown}{unit}")
    lines.extend(f"    not valid: {problem}" for problem in result.problems)
    if result.advice:
        lines.append(f"    advice: {result.advice}")
    return lines
