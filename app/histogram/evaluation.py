"""Expressions evaluated over a dataset, with derived columns and a cache keyed by their text."""

from __future__ import annotations

import keyword
import re

import numpy as np

from app.caches import SizeBoundedCache
from app.histogram.data import Dataset, MissingValues, count_missing_values
from app.histogram.errors import ExpressionInputError
from app.histogram.filling import Binning, FilledHistogram, Selection, fill, make_selection
from app.memory import SessionMemory
from app.work import TimeLimitError, check_time, seconds_allowed
from converters.expressions import Expression, ExpressionError, parse

MAX_EXPRESSION_LENGTH = 1000
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
# What a cached histogram is counted as besides its arrays, so that many small ones add up.
HISTOGRAM_BYTES = 4096
VALUE_BYTES = 8  # a float64 value per row
CHUNK_ROWS = 1 << 18  # rows evaluated at once
OR_WORD = re.compile(r"\bor\b")
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class Evaluator:
    """Evaluates variable, cut and weight expressions over one dataset for one user session."""

    def __init__(
        self,
        dataset: Dataset,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        memory: SessionMemory | None = None,
    ) -> None:
        self.dataset = dataset
        self.derived: dict[str, str] = {}
        self._missing: dict[str, MissingValues] = {}
        self._cache = SizeBoundedCache(max_bytes, memory)

    @property
    def names(self) -> list[str]:
        """Every name an expression may use, derived columns included."""
        return [*self.dataset.names, *self.derived]

    def values(self, text: str, role: str = "variable") -> np.ndarray:
        """The float64 value of an expression for every row."""
        key = ("values", normalised(text))
        cached = self._cache.get(key)
        if cached is None:
            result = self._evaluate(text, role)
            if result.dtype == np.bool_:
                result = result.astype(np.float64)
            cached = np.ascontiguousarray(result, dtype=np.float64)
            self._cache.put(key, cached, cached.nbytes)
        return cached

    def mask(self, text: str) -> np.ndarray | None:
        """The rows passing a cut (None when the cut is empty: every row passes).

        A cut of several conditions joined by & keeps each condition's rows, so that changing
        one of them evaluates only that one and combines the others' kept rows.
        """
        if not text.strip():
            return None
        key = ("mask", normalised(text))
        cached = self._cache.get(key)
        if cached is None:
            terms = cut_terms(text)
            if len(terms) > 1:
                self._parsed(text, "cut")  # its mistakes are shown in the whole cut
                cached = self._term_mask(terms[0]).copy()
                for term in terms[1:]:
                    np.logical_and(cached, self._term_mask(term), out=cached)
            else:
                cached = self._condition(text)
            self._cache.put(key, cached, cached.nbytes)
        return cached

    def _condition(self, text: str) -> np.ndarray:
        """A cut's value for every row, which must be true or false."""
        result = self._evaluate(text, "cut")
        if result.dtype != np.bool_:
            raise ExpressionInputError(
                f"The cut must be a condition such as `pt1 > 20`, but `{text.strip()}` "
                "gives numbers; compare it with something (>, <, ==) or combine with & and |"
            )
        return np.ascontiguousarray(result)

    def _term_mask(self, term: str) -> np.ndarray:
        """The rows one condition of a cut keeps (a number joined by & counts as true when not
        zero, as in the whole cut)."""
        key = ("mask", normalised(term))
        cached = self._cache.get(key)
        if cached is None:
            cached = np.ascontiguousarray(self._evaluate(term, "cut"))
            if cached.dtype != np.bool_:
                cached = cached != 0
            self._cache.put(key, cached, cached.nbytes)
        return cached

    def selection(self, x: str, cut: str = "", weight: str = "") -> Selection:
        """Selected finite values of `x` (all elements for a bare list column) with statistics."""
        key = ("selection", normalised(x), normalised(cut), normalised(weight))
        cached = self._cache.get(key)
        if cached is None:
            cached, size = self._select(x, cut, weight)
            self._cache.put(key, cached, size)
        return cached

    def histogram(
        self, x: str, binning: Binning, cut: str = "", weight: str = ""
    ) -> FilledHistogram:
        """The histogram of a selection, kept so that a change of style (log axis, unit area,
        fit) does not fill it again."""
        key = ("histogram", normalised(x), normalised(cut), normalised(weight), binning)
        cached = self._cache.get(key)
        if cached is None:
            cached = fill(self.selection(x, cut, weight), binning)
            self._cache.put(key, cached, HISTOGRAM_BYTES + 3 * cached.counts.nbytes)
        return cached

    def columns_used(self, *texts: str) -> list[str]:
        """The dataset columns that expressions read (through kept columns too), in order."""
        used: dict[str, None] = {}
        for text in (text.strip() for text in texts):
            if not text:
                continue
            if text in self.dataset.jagged_columns:
                used[text] = None
                continue
            try:
                names = parse(text, self.names).names
            except ExpressionError:
                continue
            for name in sorted(names, key=text.find):
                inner = self.columns_used(self.derived[name]) if name in self.derived else [name]
                used |= dict.fromkeys(inner)
        return list(used)

    def missing(self, name: str) -> MissingValues:
        """How many values of a dataset column (or of a list column's elements) are absent or
        infinite."""
        if name not in self._missing:
            if name in self.dataset.jagged_columns:
                values = self.dataset.elements(name)[0]
                self._missing[name] = count_missing_values(name, values, "values")
            else:
                self._missing[name] = count_missing_values(name, self.dataset.column(name))
        return self._missing[name]

    def add_column(self, name: str, text: str) -> None:
        """Keep a derived quantity as a new column that later expressions can use."""
        name = name.strip()
        if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name):
            raise ExpressionInputError(
                f"{name!r} cannot be a column name: use letters, digits and _ (not first a digit)"
            )
        if name in self.names:
            raise ExpressionInputError(f"there is already a column named {name!r}")
        self.values(text)
        self.derived[name] = text.strip()

    def _select(self, x: str, cut: str, weight: str) -> tuple[Selection, int]:
        """The selection of `x` under `cut`, weighted by `weight` when given, and the bytes it
        keeps alive: its mask (which may leave the cache before it), or a list column's arrays."""
        mask = self.mask(cut)
        weights = self.values(weight, "weight") if weight.strip() else None
        if x.strip() not in self.dataset.jagged_columns:
            selection = make_selection(self.values(x), mask, weights, self.dataset.n_rows)
            return selection, 0 if mask is None else mask.nbytes
        values, counts = self.dataset.elements(x.strip())
        if mask is not None:
            mask = np.repeat(mask, counts)
        if weights is not None:
            weights = np.repeat(weights, counts)
        own = [array.nbytes for array in (values, mask, weights) if array is not None]
        return make_selection(values, mask, weights, int(counts.sum())), sum(own)

    def _evaluate(self, text: str, role: str) -> np.ndarray:
        """Parse and evaluate one expression; errors say which field and where."""
        expression = self._parsed(text, role)
        columns = {name: self._column(name) for name in expression.names}
        if not columns:  # a constant: the row count comes from a zero-copy stand-in
            columns = {"": np.broadcast_to(np.float64(0), (self.dataset.n_rows,))}
        try:
            return evaluate_in_chunks(expression, columns, self.dataset.n_rows)
        except ExpressionError as error:
            raise ExpressionInputError(f"In the {role}:\n{error}") from None

    def _parsed(self, text: str, role: str) -> Expression:
        """An expression checked for length, list columns, mistakes and cost."""
        expression = self.parsed(text, role)
        self._check_cost(expression, role)
        return expression

    def parsed(self, text: str, role: str) -> Expression:
        """One expression parsed over this dataset's names; errors say which field and where."""
        text = text.strip()
        if not text:
            raise ExpressionInputError(f"the {role} expression is empty")
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise ExpressionInputError(
                f"the {role} expression is longer than {MAX_EXPRESSION_LENGTH} characters"
            )
        if text in self.dataset.jagged_columns:
            raise ExpressionInputError(
                f"{text} has several values per event: use {text}_1 (leading), {text}_2 "
                f"(sub-leading) or {text}_n (count) in a {role}; {text} alone is only "
                "allowed as the variable, to plot all elements"
            )
        try:
            return parse(text, self.names)
        except ExpressionError as error:
            raise ExpressionInputError(f"In the {role}:\n{error}") from None

    def _check_cost(self, expression: Expression, role: str) -> None:
        """Refuse, before any work, an expression that would take too long or too much memory."""
        rows = self.dataset.n_rows
        allowed = seconds_allowed()
        estimate = expression.cost * rows / 1e9
        if allowed is not None and estimate > allowed:
            raise TimeLimitError(
                f"the {role} would take about {estimate:.0f} s on {rows:,} rows, more than the "
                f"{allowed:g} s an action may take here; simplify it, or use a smaller file"
            )
        memory = self._cache.memory
        if memory is not None:
            memory.check(self._cache, VALUE_BYTES * rows, f"The {role} over {rows:,} rows")

    def _column(self, name: str) -> np.ndarray:
        """A dataset column, or a derived column evaluated from its expression."""
        if name in self.derived:
            return self.values(self.derived[name])
        return self.dataset.column(name)


def evaluate_in_chunks(
    expression: Expression, columns: dict[str, np.ndarray], rows: int
) -> np.ndarray:
    """An expression's value for every row, computed a chunk of rows at a time.

    Chunks bound the temporary arrays of a long expression, and let the action's time budget be
    checked between them.
    """
    result: np.ndarray | None = None
    for start in range(0, max(rows, 1), CHUNK_ROWS):
        check_time()
        stop = min(start + CHUNK_ROWS, rows)
        part = np.asarray(expression.evaluate({k: v[start:stop] for k, v in columns.items()}))
        if part.ndim == 0:
            part = np.full(stop - start, part[()])
        if part.shape != (stop - start,):
            raise ExpressionInputError(
                f"`{expression.source.strip()}` does not give one value per event"
            )
        if result is None:
            result = np.empty(rows, dtype=part.dtype)
        result[start:stop] = part
    assert result is not None
    return result


def cut_terms(text: str) -> list[str]:
    """The conditions a cut joins with & (or &&) outside brackets and backticks; the whole cut
    alone when it also has an "or", whose lower precedence would change what the terms mean."""
    terms, depth, start, quoted, index = [], 0, 0, False, 0
    while index < len(text):
        char = text[index]
        if char == "`":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and char == "|":
            return [text]
        elif not quoted and depth == 0 and char == "&":
            terms.append(text[start:index])
            index += 2 if text.startswith("&&", index) else 1
            start = index
            continue
        index += 1
    terms.append(text[start:])
    if len(terms) > 1 and (any(not term.strip() for term in terms) or OR_WORD.search(text)):
        return [text]
    return terms


def normalised(text: str) -> str:
    """Expression text as a cache key: surrounding and repeated whitespace do not matter."""
    return " ".join(text.split())
