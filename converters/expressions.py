"""A safe expression language for cuts and derived quantities over per-event columns.

Expressions look like Python arithmetic: ``pt1 > 20 & pt2 > 20 & Q1*Q2 < 0`` or
``inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)``. They are parsed with Python's
``ast`` module and only a whitelist of node types is accepted; nothing is ever run as code.
Each accepted node becomes a small numpy closure, so evaluation is vectorised over all events.

Departures from Python, on purpose:

* ``&``, ``|``, ``~`` (and ``&&``, ``||``, ``!``) are the logical and/or/not, with the same low
  precedence as ``and``/``or``/``not``, so ``pt1 > 20 & pt2 > 20`` means what it reads.
* every number is a float64; True and False are booleans; a boolean used in arithmetic counts as
  0 or 1, a number used as a condition is true when it is not zero.
* a column whose name is not a plain word is written in backticks: ```Muons.pt` > 20``.
* a column name hides a constant of the same name (a column called ``e`` wins over Euler's e).
"""

from __future__ import annotations

import ast
import difflib
import functools
import keyword
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike

from converters.errors import EventLabError
from converters.vectors import vector_module

MAX_LENGTH = 2000
MAX_NODES = 400
MAX_DEPTH = 40

# Rows per block in the physics helpers: vector's numpy backend works on record arrays, which
# are much faster when a block of them stays in the CPU cache.
_BLOCK_ROWS = 1 << 16
# How much of a long expression the caret display shows around the offending part.
_DISPLAY_WIDTH = 76

# Python's parser warns about odd literals like `1and`; the user sees our errors instead.
_PARSER_FILENAME = "<eventlab expression>"
warnings.filterwarnings("ignore", category=Warning, module=re.escape(_PARSER_FILENAME))

Value = Any  # a numpy array, or a numpy scalar that broadcasts over the events
Program = Callable[[Mapping[str, np.ndarray]], Value]


class ExpressionError(EventLabError):
    """An expression that cannot be parsed or evaluated, with the place of the problem."""

    def __init__(
        self, message: str, expression: str = "", offset: int | None = None, length: int = 1
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.offset = offset
        self.length = max(1, length) if offset is not None else 0

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None, int]]:
        return type(self), (self.message, self.expression, self.offset, self.length)

    def __str__(self) -> str:
        if not self.expression:
            return self.message
        text, caret = caret_lines(self.expression, self.offset, self.length)
        lines = [self.message, f"    {text}"]
        if caret:
            lines.append(f"    {caret}")
        return "\n".join(lines)


def caret_lines(expression: str, offset: int | None, length: int) -> tuple[str, str]:
    """The expression on one line (cut around the offset when long) and a caret line under it."""
    text = "".join(" " if ch.isspace() or not ch.isprintable() else ch for ch in expression)
    if offset is None:
        if len(text) > _DISPLAY_WIDTH:
            text = text[: _DISPLAY_WIDTH - 1] + "…"
        return text, ""
    offset = min(max(offset, 0), len(text))
    length = max(1, min(length, len(text) - offset)) if offset < len(text) else 1
    start = 0
    if len(text) > _DISPLAY_WIDTH:
        start = min(max(0, offset - _DISPLAY_WIDTH // 3), len(text) - _DISPLAY_WIDTH + 2)
        start = max(start, 0)
    end = min(len(text), start + _DISPLAY_WIDTH - (2 if start else 1))
    shown = text[start:end]
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    caret_start = offset - start + len(prefix)
    caret_length = max(1, min(length, end - offset)) if offset < end else 1
    return prefix + shown + suffix, " " * caret_start + "^" * caret_length


# --- functions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Function:
    """A callable of the language: its implementation, allowed argument counts and help."""

    impl: Callable[..., Value]
    counts: range | tuple[int, ...]
    signature: str
    help: str
    cost: float = 3.0  # about how many nanoseconds per row and argument it takes


def _number(value: Value) -> Value:
    """Booleans count as 0 and 1 in arithmetic; numbers pass through."""
    return value.astype(np.float64) if value.dtype == np.bool_ else value


def _condition(value: Value) -> Value:
    """Numbers used as a condition are true when not zero; booleans pass through."""
    return value if value.dtype == np.bool_ else value != 0


def _unary(ufunc: np.ufunc) -> Callable[[Value], Value]:
    """A one-argument numeric function."""
    return lambda x: ufunc(_number(x))


def _binary(ufunc: np.ufunc) -> Callable[[Value, Value], Value]:
    """A two-argument numeric function."""
    return lambda x, y: ufunc(_number(x), _number(y))


def _elementwise_reduce(ufunc: np.ufunc) -> Callable[..., Value]:
    """min/max over any number of arguments, event by event (NaN wins, as in numpy)."""
    return lambda *args: functools.reduce(ufunc, (_number(a) for a in args))


def _where(condition: Value, if_true: Value, if_false: Value) -> Value:
    """Pick `if_true` where the condition holds, else `if_false`."""
    if if_true.dtype != if_false.dtype:
        if_true, if_false = _number(if_true), _number(if_false)
    return np.where(_condition(condition), if_true, if_false)


def _clip(x: Value, low: Value, high: Value) -> Value:
    """Limit x to [low, high]."""
    return np.clip(_number(x), _number(low), _number(high))


def _by_blocks(compute: Callable[..., np.ndarray], args: Sequence[Value]) -> np.ndarray:
    """Run a vector computation on contiguous blocks of rows of the broadcast arguments."""
    arrays = np.broadcast_arrays(*(np.atleast_1d(_number(a)) for a in args))
    rows = len(arrays[0])
    out = np.empty(rows, dtype=np.float64)
    for start in range(0, rows, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, rows)
        out[start:stop] = compute(*(a[start:stop] for a in arrays))
    return out


def _sum_mass(coordinates: tuple[str, str, str, str]) -> Callable[..., np.ndarray]:
    """Invariant mass of the sum of 2-4 four-vectors given 4 coordinates per object."""

    def compute(*values: np.ndarray) -> np.ndarray:
        vector = vector_module()
        total = None
        for first in range(0, len(values), 4):
            momentum = vector.array(dict(zip(coordinates, values[first : first + 4], strict=True)))
            # Cartesian coordinates make the sum a plain addition (much faster in vector).
            momentum = momentum.to_xyzt()
            total = momentum if total is None else total + momentum
        return total.mass

    return lambda *args: _by_blocks(compute, args)


def _transverse_mass_block(
    pt1: np.ndarray, phi1: np.ndarray, pt2: np.ndarray, phi2: np.ndarray
) -> np.ndarray:
    """mT of two massless objects: sqrt((pT1 + pT2)² - |pT1 + pT2 (as vectors)|²)."""
    vector = vector_module()
    first = vector.array({"pt": pt1, "phi": phi1})
    second = vector.array({"pt": pt2, "phi": phi2})
    total = first.to_xy() + second.to_xy()
    # The triangle inequality makes this >= 0; a negative value can only be rounding.
    return np.sqrt(np.maximum((first.pt + second.pt) ** 2 - total.pt2, 0.0))


def _delta_r_block(
    eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray
) -> np.ndarray:
    """Angular distance sqrt(d_eta² + d_phi²) of two directions."""
    vector = vector_module()
    ones = np.ones_like(eta1)
    first = vector.array({"rho": ones, "eta": eta1, "phi": phi1})
    second = vector.array({"rho": ones, "eta": eta2, "phi": phi2})
    return first.deltaR(second)


def _delta_phi_block(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """phi1 - phi2 wrapped into [-pi, pi)."""
    vector = vector_module()
    ones = np.ones_like(phi1)
    return vector.array({"rho": ones, "phi": phi1}).deltaphi(
        vector.array({"rho": ones, "phi": phi2})
    )


# Measured nanoseconds per row of the slower numpy functions (the others take about 3).
_UFUNC_COST = {
    **dict.fromkeys(("sin", "cos", "tan", "arcsin", "arccos", "arctan"), 25.0),
    **dict.fromkeys(("sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh"), 25.0),
    **dict.fromkeys(("exp", "log", "log10", "log2"), 10.0),
}
# Nanoseconds per row of an operator (+, >, &...) on float64 columns.
_OPERATOR_COST = 5.0
_ONE = (1,)
_TWO = (2,)
_THREE = (3,)
_MANY = range(2, MAX_NODES + 1)
_OBJECTS = (8, 12, 16)


def _math_functions() -> dict[str, _Function]:
    """Elementwise mathematics, mostly straight numpy ufuncs."""
    one = {
        "abs": (np.absolute, "absolute value"),
        "sqrt": (np.sqrt, "square root (NaN below zero)"),
        "exp": (np.exp, "e to the power x"),
        "log": (np.log, "natural logarithm (NaN below zero, -inf at zero)"),
        "log10": (np.log10, "base-10 logarithm"),
        "log2": (np.log2, "base-2 logarithm"),
        "sin": (np.sin, "sine of an angle in radians"),
        "cos": (np.cos, "cosine of an angle in radians"),
        "tan": (np.tan, "tangent of an angle in radians"),
        "arcsin": (np.arcsin, "inverse sine, in radians"),
        "arccos": (np.arccos, "inverse cosine, in radians"),
        "arctan": (np.arctan, "inverse tangent, in radians"),
        "sinh": (np.sinh, "hyperbolic sine"),
        "cosh": (np.cosh, "hyperbolic cosine"),
        "tanh": (np.tanh, "hyperbolic tangent"),
        "arcsinh": (np.arcsinh, "inverse hyperbolic sine"),
        "arccosh": (np.arccosh, "inverse hyperbolic cosine"),
        "arctanh": (np.arctanh, "inverse hyperbolic tangent"),
        "floor": (np.floor, "largest whole number not above x"),
        "ceil": (np.ceil, "smallest whole number not below x"),
        "sign": (np.sign, "-1, 0 or +1 following the sign of x"),
        "isnan": (np.isnan, "true where x is NaN (not a number)"),
        "isinf": (np.isinf, "true where x is +inf or -inf"),
        "isfinite": (np.isfinite, "true where x is neither NaN nor infinite"),
    }
    functions = {
        name: _Function(_unary(ufunc), _ONE, f"{name}(x)", text, _UFUNC_COST.get(name, 3.0))
        for name, (ufunc, text) in one.items()
    }
    functions["arctan2"] = _Function(
        _binary(np.arctan2), _TWO, "arctan2(y, x)", "angle of the point (x, y), in [-pi, pi]"
    )
    functions["hypot"] = _Function(
        _binary(np.hypot), _TWO, "hypot(x, y)", "sqrt(x² + y²) without overflow"
    )
    functions["min"] = _Function(
        _elementwise_reduce(np.minimum), _MANY, "min(a, b, ...)", "smallest argument, per event"
    )
    functions["max"] = _Function(
        _elementwise_reduce(np.maximum), _MANY, "max(a, b, ...)", "largest argument, per event"
    )
    functions["where"] = _Function(
        _where, _THREE, "where(condition, a, b)", "a where the condition holds, else b"
    )
    functions["clip"] = _Function(_clip, _THREE, "clip(x, low, high)", "x limited to [low, high]")
    return functions


def _physics_functions() -> dict[str, _Function]:
    """Kinematics helpers built on scikit-hep vector; units follow the inputs (GeV in, GeV out)."""
    return {
        "inv_mass": _Function(
            _sum_mass(("pt", "eta", "phi", "mass")),
            _OBJECTS,
            "inv_mass(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2[, ...])",
            "invariant mass of 2 to 4 objects given as pt, eta, phi, mass each",
            cost=45.0,
        ),
        "inv_mass_e": _Function(
            _sum_mass(("E", "px", "py", "pz")),
            _OBJECTS,
            "inv_mass_e(E1, px1, py1, pz1, E2, px2, py2, pz2[, ...])",
            "invariant mass of 2 to 4 objects given as E, px, py, pz each",
            cost=15.0,
        ),
        "mt": _Function(
            lambda *args: _by_blocks(_transverse_mass_block, args),
            (4,),
            "mt(pt1, phi1, pt2, phi2)",
            "transverse mass of two massless objects, e.g. a lepton and the missing ET",
            cost=65.0,
        ),
        "delta_r": _Function(
            lambda *args: _by_blocks(_delta_r_block, args),
            (4,),
            "delta_r(eta1, phi1, eta2, phi2)",
            "angular distance sqrt(d_eta² + d_phi²) between two objects",
            cost=20.0,
        ),
        "delta_phi": _Function(
            lambda *args: _by_blocks(_delta_phi_block, args),
            _TWO,
            "delta_phi(phi1, phi2)",
            "phi1 - phi2 wrapped into [-pi, pi]",
            cost=50.0,
        ),
    }


_ALIASES = {
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "atan2": "arctan2",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
}


def _all_functions() -> dict[str, _Function]:
    """Every function of the language, aliases included."""
    functions = _math_functions() | _physics_functions()
    for alias, target in _ALIASES.items():
        original = functions[target]
        signature = alias + original.signature[len(target) :]
        functions[alias] = _Function(
            original.impl,
            original.counts,
            signature,
            f"same as {target}: {original.help}",
            original.cost,
        )
    return dict(sorted(functions.items()))


_FUNCTIONS = _all_functions()

FUNCTION_HELP: dict[str, str] = {name: f"{f.signature}: {f.help}" for name, f in _FUNCTIONS.items()}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


def function_names() -> list[str]:
    """Names of every function of the language, sorted, for help texts and autocompletion."""
    return list(_FUNCTIONS)


def _arity_text(counts: range | tuple[int, ...]) -> str:
    """'1 argument', '2 or more arguments', '8, 12 or 16 arguments'."""
    if isinstance(counts, range):
        return f"{counts.start} or more arguments"
    if len(counts) == 1:
        return f"{counts[0]} argument{'s' if counts[0] != 1 else ''}"
    return f"{', '.join(map(str, counts[:-1]))} or {counts[-1]} arguments"


# --- turning user text into something Python's parser reads ------------------------------------

# Logical operators people type, written as the Python keywords of the same meaning; the spaces
# keep the keywords apart from the neighbouring names.
_LOGICAL_SPELLINGS = (
    ("&&", " and "),
    ("||", " or "),
    ("&", " and "),
    ("|", " or "),
    ("~", " not "),
)


@dataclass(frozen=True)
class _Prepared:
    """The text given to Python's parser and, per character, the span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    quoted: Mapping[str, str]  # placeholder identifier -> column name written in backticks

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the user's expression behind characters [start, end) of the text."""
        if not self.text:
            return 0, 0
        start = min(max(start, 0), len(self.text) - 1)
        end = min(max(end, start + 1), len(self.text))
        return self.starts[start], self.ends[end - 1]

    def char_index(self, byte_offset: int) -> int:
        """Character index of a UTF-8 byte offset into the text (ast offsets are in bytes)."""
        if self.text.isascii():
            return byte_offset
        encoded = self.text.encode("utf-8", "surrogatepass")
        return len(encoded[:byte_offset].decode("utf-8", "ignore"))


def _fail(message: str, expression: str, span: tuple[int, int] | None = None) -> ExpressionError:
    """An ExpressionError pointing at span [start, end) of the expression."""
    if span is None:
        return ExpressionError(message, expression)
    return ExpressionError(message, expression, span[0], span[1] - span[0])


def _prepare(expression: str) -> _Prepared:
    """Rewrite logical operators and backtick names; newlines become spaces, offsets are kept."""
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    quoted: dict[str, str] = {}
    prefix = "_q"
    while prefix in expression:
        prefix += "q"

    def emit(text: str, start: int, end: int) -> None:
        pieces.append(text)
        starts.extend([start] * len(text))
        ends.extend([end] * len(text))

    index = 0
    while index < len(expression):
        char = expression[index]
        if char == "`":
            close = expression.find("`", index + 1)
            if close < 0:
                raise _fail("this backtick is never closed", expression, (index, index + 1))
            name = expression[index + 1 : close]
            if not name:
                raise _fail("empty column name in backticks", expression, (index, close + 1))
            placeholder = f"{prefix}{len(quoted)}"
            quoted[placeholder] = name
            emit(f" {placeholder} ", index, close + 1)
            index = close + 1
            continue
        if char == "!" and not expression.startswith("!=", index):
            emit(" not ", index, index + 1)
            index += 1
            continue
        for spelling, replacement in _LOGICAL_SPELLINGS:
            if expression.startswith(spelling, index):
                emit(replacement, index, index + len(spelling))
                index += len(spelling)
                break
        else:
            emit(" " if char in "\r\n" else char, index, index + 1)
            index += 1
    text = "".join(pieces)
    indent = len(text) - len(text.lstrip())  # Python's parser refuses leading spaces
    return _Prepared(text[indent:], tuple(starts[indent:]), tuple(ends[indent:]), quoted)


def _check_brackets(prepared: _Prepared, expression: str) -> None:
    """Refuse deep bracket nesting before Python's parser (which recurses) sees it."""
    depth = 0
    for position, char in enumerate(prepared.text):
        if char in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(
                    f"the expression is nested too deeply: over {MAX_DEPTH} levels of brackets",
                    expression,
                    prepared.span(position, position + 1),
                )
        elif char in ")]}":
            depth -= 1


def _syntax_message(error: SyntaxError, culprit: str) -> str:
    """Python's syntax error message, adjusted to this language."""
    message = error.msg or "invalid syntax"
    if culprit == "=":
        return "'=' is not a comparison: use '==' to test equality"
    message = message.replace(
        "Maybe you meant '==' or ':=' instead of '='?", "Use '==' to compare."
    )
    if message == "invalid syntax":
        message = "invalid syntax here"
    if culprit in ("~", "!", "not"):
        example = f"({culprit}{' ' if culprit == 'not' else ''}b)"
        message += f"; '{culprit}' negates a whole condition: in arithmetic, write {example}"
    elif culprit in ("&", "|", "&&", "||"):
        message += f"; '{culprit}' needs a condition on each side"
    return f"syntax error: {message}"


def _parse_tree(prepared: _Prepared, expression: str) -> ast.Expression:
    """Python's parser on the prepared text; its failures become ExpressionError."""
    try:
        return ast.parse(prepared.text, filename=_PARSER_FILENAME, mode="eval")
    except SyntaxError as error:
        text = prepared.text
        if error.offset is None or error.offset < 1 or error.lineno != 1:
            start = len(text.rstrip())
        else:
            start = min(error.offset - 1, len(text))
        end = error.end_offset - 1 if error.end_offset and error.end_offset - 1 > start else start
        if start >= len(text.rstrip()):
            span = (len(expression.rstrip()), len(expression.rstrip()) + 1)
        else:
            span = prepared.span(start, max(end, start + 1))
        culprit = expression[span[0] : span[1]]
        if culprit == "=" and expression[span[0] - 1 : span[0]] in "<>!=":
            culprit = ""
        if "null bytes" in str(error.msg):
            raise _fail("the expression contains a NUL character", expression) from None
        raise _fail(_syntax_message(error, culprit), expression, span) from None
    except (RecursionError, MemoryError):
        raise _fail("the expression is too complex to read", expression) from None
    except ValueError:  # e.g. unpaired surrogates, which UTF-8 cannot encode
        raise _fail(
            "the expression contains characters that are not valid text", expression
        ) from None


def _check_tree(
    tree: ast.Expression, node_span: Callable[[ast.AST], tuple[int, int]], expression: str
) -> None:
    """Bound the cost: at most MAX_NODES parts and MAX_DEPTH levels (walked without recursion)."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _fail(
                f"the expression is too long: more than {MAX_NODES} parts",
                expression,
                node_span(node),
            )
        if depth > MAX_DEPTH:
            raise _fail(
                f"the expression is nested too deeply: more than {MAX_DEPTH} levels "
                "(each operator of a chain like a + b + c adds one)",
                expression,
                node_span(node),
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if _counts(child))


def _counts(node: ast.AST) -> bool:
    """Whether a node is a part of the expression (not an operator or context marker)."""
    return not isinstance(
        node, ast.expr_context | ast.operator | ast.cmpop | ast.boolop | ast.unaryop
    )


# --- compiling the tree into numpy closures ------------------------------------------------------

_BINARY: dict[type, np.ufunc] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_BINARY_REFUSED: dict[type, tuple[str, str]] = {
    ast.BitXor: ("^", "'^' is not supported: write x**2 for a power, 'a != b' for exclusive or"),
    ast.MatMult: ("@", "'@' (matrix product) is not supported"),
    ast.LShift: ("<<", "bit shifts are not supported"),
    ast.RShift: (">>", "bit shifts are not supported"),
    ast.BitAnd: ("&", "bitwise and is not supported"),
    ast.BitOr: ("|", "bitwise or is not supported"),
}
_COMPARE: dict[type, np.ufunc] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_COMPARE_REFUSED: dict[type, tuple[str, str]] = {
    ast.In: ("in", "'in' is not supported"),
    ast.NotIn: ("not in", "'not in' is not supported"),
    ast.Is: ("is", "'is' is not supported: use '==' to compare"),
    ast.IsNot: ("is not", "'is not' is not supported: use '!=' to compare"),
}
_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access with '.' is not allowed",
    ast.Subscript: "indexing with [...] is not allowed: each column holds one value per event",
    ast.Slice: "indexing with [...] is not allowed: each column holds one value per event",
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed: commas only separate the arguments of a function",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.NamedExpr: "assignment with ':=' is not allowed",
    ast.IfExp: "'a if condition else b' is not supported: write where(condition, a, b)",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}


class _Compiler:
    """Checks every node against the whitelist and builds one closure per node."""

    def __init__(self, expression: str, prepared: _Prepared, columns: frozenset[str]) -> None:
        self.expression = expression
        self.prepared = prepared
        self.columns = columns
        self.used: dict[str, tuple[int, int]] = {}  # column -> span of its first use
        self.cost = 0.0  # nanoseconds per row, roughly

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Where a node is in the user's expression."""
        start = self.prepared.char_index(node.col_offset)
        end = self.prepared.char_index(node.end_col_offset or node.col_offset + 1)
        return self.prepared.span(start, end)

    def fail(self, message: str, node: ast.AST) -> ExpressionError:
        """An error pointing at a node."""
        return _fail(message, self.expression, self.span(node))

    def fail_between(self, message: str, left: ast.AST, right: ast.AST, symbol: str):
        """An error pointing at the operator symbol written between two operands."""
        start, _ = self.span(left)
        _, left_end = self.span(left)
        right_start, _ = self.span(right)
        found = self.expression.find(symbol, left_end, right_start)
        if found < 0:
            return _fail(message, self.expression, (start, self.span(right)[1]))
        return _fail(message, self.expression, (found, found + len(symbol)))

    def compile(self, node: ast.AST) -> Program:
        """The closure computing a node, or ExpressionError when the node is not allowed."""
        handler = self._HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node)
        if isinstance(node, ast.Attribute):
            raise self.fail(self._attribute_message(node), node)
        raise self.fail(_REFUSED.get(type(node), "this kind of expression is not allowed"), node)

    def _attribute_message(self, node: ast.Attribute) -> str:
        """The refusal of '.', with a hint when the dotted text is a column name."""
        dotted = self.expression[slice(*self.span(node))]
        if dotted in self.columns:
            return f"attribute access with '.' is not allowed; for the column, write `{dotted}`"
        return _REFUSED[ast.Attribute]

    def constant(self, node: ast.Constant) -> Program:
        """A number or True/False, as a numpy float64 or bool."""
        value = node.value
        if isinstance(value, bool):
            result: Value = np.bool_(value)
        elif isinstance(value, int | float):
            try:
                result = np.float64(value)
            except OverflowError:
                result = np.float64(math.inf)
            if math.isinf(result):
                raise self.fail("this number is too large for float64 (write inf if meant)", node)
        elif isinstance(value, str | bytes):
            raise self.fail(
                "text in quotes is not allowed; write a column whose name is not a plain word "
                "in backticks, like `Muons.pt`",
                node,
            )
        elif isinstance(value, complex):
            raise self.fail("complex numbers are not supported", node)
        else:
            raise self.fail(f"'{self.expression[slice(*self.span(node))]}' is not allowed", node)
        return lambda columns: result

    def name(self, node: ast.Name) -> Program:
        """A column, or one of the constants."""
        identifier = node.id
        column = self.prepared.quoted.get(identifier)
        if column is None and identifier.startswith("__") and identifier.endswith("__"):
            raise self.fail(
                f"names with double underscores like '{identifier}' are not allowed", node
            )
        if column is None and identifier in self.columns:
            column = identifier
        if column is not None:
            if column not in self.columns:
                raise self.fail(self._unknown_message(column, quoted=True), node)
            self.used.setdefault(column, self.span(node))
            return lambda columns: columns[column]
        if identifier in CONSTANTS:
            constant = np.float64(CONSTANTS[identifier])
            return lambda columns: constant
        if identifier in _FUNCTIONS:
            raise self.fail(f"'{identifier}' is a function: call it as {identifier}(...)", node)
        raise self.fail(self._unknown_message(identifier, quoted=False), node)

    def _unknown_message(self, name: str, quoted: bool) -> str:
        """'unknown name ...; did you mean ...?' with the closest column or constant names."""
        candidates = sorted(self.columns) if quoted else [*sorted(self.columns), *CONSTANTS]
        folded = [c for c in candidates if c.lower() == name.lower()]
        close = folded or difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        what = f"unknown column '{name}'" if quoted else f"unknown name '{name}'"
        if close:
            return f"{what}; did you mean {' or '.join(_show_name(c) for c in close)}?"
        if not self.columns:
            return f"{what}: there are no columns"
        listed = sorted(self.columns)
        shown = ", ".join(_show_name(c) for c in listed[:12])
        more = f" and {len(listed) - 12} more" if len(listed) > 12 else ""
        return f"{what}; the columns are {shown}{more}"

    def unary(self, node: ast.UnaryOp) -> Program:
        """-x, +x, not x (and ~x, which is read as not x)."""
        operand = self.compile(node.operand)
        self.cost += _OPERATOR_COST
        if isinstance(node.op, ast.USub):
            return lambda columns: np.negative(_number(operand(columns)))
        if isinstance(node.op, ast.UAdd):
            return lambda columns: _number(operand(columns))
        return lambda columns: np.logical_not(operand(columns))

    def binary(self, node: ast.BinOp) -> Program:
        """Arithmetic between two operands."""
        refused = _BINARY_REFUSED.get(type(node.op))
        if refused is not None:
            raise self.fail_between(refused[1], node.left, node.right, refused[0])
        ufunc = _BINARY[type(node.op)]
        left, right = self.compile(node.left), self.compile(node.right)
        self.cost += _OPERATOR_COST
        return lambda columns: ufunc(_number(left(columns)), _number(right(columns)))

    def boolean(self, node: ast.BoolOp) -> Program:
        """and / or over two or more operands, event by event."""
        ufunc = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        operands = [self.compile(value) for value in node.values]
        self.cost += _OPERATOR_COST * (len(operands) - 1)
        return lambda columns: functools.reduce(ufunc, (op(columns) for op in operands))

    def compare(self, node: ast.Compare) -> Program:
        """Comparisons, chained ones meaning each pair holds: 0 < x < 5."""
        operands = [node.left, *node.comparators]
        pairs = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            refused = _COMPARE_REFUSED.get(type(op))
            if refused is not None:
                raise self.fail_between(refused[1], left, right, refused[0])
            pairs.append(_COMPARE[type(op)])
        programs = [self.compile(operand) for operand in operands]
        self.cost += _OPERATOR_COST * (2 * len(pairs) - 1)

        def run(columns: Mapping[str, np.ndarray]) -> Value:
            values = [program(columns) for program in programs]
            tests = (ufunc(a, b) for ufunc, a, b in zip(pairs, values, values[1:], strict=False))
            return functools.reduce(np.logical_and, tests)

        return run

    def call(self, node: ast.Call) -> Program:
        """A function of the language called by name with positional arguments."""
        if isinstance(node.func, ast.Attribute):
            raise self.fail(self._attribute_message(node.func), node.func)
        if not isinstance(node.func, ast.Name):
            raise self.fail("only functions called by their name are allowed", node.func)
        name = node.func.id
        if name.startswith("__") and name.endswith("__"):
            raise self.fail(
                f"names with double underscores like '{name}' are not allowed", node.func
            )
        function = _FUNCTIONS.get(name)
        if function is None:
            raise self.fail(self._unknown_function_message(name), node.func)
        if node.keywords:
            keyword_node = node.keywords[0]
            raise self.fail(
                f"keyword arguments are not allowed: pass the arguments of {name} by position",
                keyword_node,
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.fail(_REFUSED[ast.Starred], argument)
        if len(node.args) not in function.counts:
            raise self.fail(
                f"{name} takes {_arity_text(function.counts)}, got {len(node.args)}: "
                f"{function.signature}",
                node,
            )
        arguments = [self.compile(argument) for argument in node.args]
        self.cost += function.cost * len(arguments)
        impl = function.impl
        return lambda columns: impl(*(argument(columns) for argument in arguments))

    def _unknown_function_message(self, name: str) -> str:
        """'unknown function ...' with close function names, or a hint when it is a column."""
        if name in self.columns or name in CONSTANTS:
            return f"'{name}' is not a function; a '*' may be missing before the '('"
        close = difflib.get_close_matches(name, list(_FUNCTIONS), n=3, cutoff=0.6)
        if close:
            return f"unknown function '{name}'; did you mean {' or '.join(close)}?"
        return f"unknown function '{name}'; the functions are {', '.join(_FUNCTIONS)}"

    _HANDLERS: ClassVar[dict[type, Callable[[_Compiler, Any], Program]]] = {
        ast.Constant: constant,
        ast.Name: name,
        ast.UnaryOp: unary,
        ast.BinOp: binary,
        ast.BoolOp: boolean,
        ast.Compare: compare,
        ast.Call: call,
    }


def _show_name(name: str) -> str:
    """A column name as it is written in an expression (backticks when not a plain word)."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return f"`{name}`"


# --- columns ------------------------------------------------------------------------------------


def _column_array(name: str, value: Any) -> np.ndarray:
    """One column as a 1-D float64 (or bool) numpy array, without copying when possible."""
    if isinstance(value, pa.ChunkedArray):
        value = value.chunk(0) if value.num_chunks == 1 else value.combine_chunks()
    if isinstance(value, pa.Array):
        return _arrow_column(name, value)
    try:
        array = np.asarray(value)
        if array.dtype == object:
            array = np.asarray(value, dtype=np.float64)  # None becomes NaN
    except (TypeError, ValueError):
        raise ExpressionError(
            f"column '{name}' is not a flat list of numbers (one value per event)"
        ) from None
    if array.ndim != 1:
        raise ExpressionError(
            f"column '{name}' must hold one value per event, not an array of shape {array.shape}"
        )
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind in "iuf":
        return array.astype(np.float64, copy=False)
    raise ExpressionError(f"column '{name}' holds {array.dtype} values, not numbers")


def _arrow_column(name: str, array: pa.Array) -> np.ndarray:
    """An Arrow array as numpy: nulls become NaN (numbers) or False (booleans)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.dictionary_decode(), kind.value_type
    if pa.types.is_boolean(kind):
        if array.null_count:
            array = pc.fill_null(array, False)
        return array.to_numpy(zero_copy_only=False)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        if kind != pa.float64():
            array = array.cast(pa.float64())
        if array.null_count:
            array = pc.fill_null(array, math.nan)
        return array.to_numpy(zero_copy_only=True)
    raise ExpressionError(f"column '{name}' holds {kind} values, not numbers")


# --- the public objects -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed, validated expression: immutable, reusable on any columns with the same names."""

    source: str
    names: frozenset[str]
    _program: Program = field(repr=False, compare=False)
    _spans: Mapping[str, tuple[int, int]] = field(repr=False, compare=False)
    cost: float = field(default=0.0, compare=False)  # about how many nanoseconds per row

    def evaluate(self, columns: Mapping[str, np.ndarray | pa.Array | list]) -> np.ndarray:
        """One value per event (float64, or bool for conditions); scalars broadcast."""
        columns = _as_mapping(columns)
        arrays: dict[str, np.ndarray] = {}
        length, first = None, ""
        for name in sorted(self.names, key=lambda n: self._spans[n]):
            if name not in columns:
                raise _fail(f"column '{name}' is not in the data", self.source, self._spans[name])
            try:
                array = _column_array(name, columns[name])
            except ExpressionError as error:
                raise _fail(error.message, self.source, self._spans[name]) from None
            if length is None:
                length, first = len(array), name
            elif len(array) != length:
                raise _fail(
                    f"columns '{first}' ({length} values) and '{name}' ({len(array)} values) "
                    "have different lengths",
                    self.source,
                    self._spans[name],
                )
            arrays[name] = array
        if length is None:
            length = _common_length(columns, self.source)
        with np.errstate(all="ignore"):
            result = np.asarray(self._program(arrays))
        if result.shape != (length,):
            return np.array(np.broadcast_to(result, (length,)))
        if any(np.may_share_memory(result, array) for array in arrays.values()):
            return result.copy()  # never hand out the caller's own buffer
        return result


def _as_mapping(columns: Mapping[str, ArrayLike] | pa.Table | pa.RecordBatch) -> Mapping:
    """Columns by name; an Arrow table or record batch is read as its columns."""
    if isinstance(columns, pa.Table | pa.RecordBatch):
        return dict(zip(columns.column_names, columns.columns, strict=True))
    return columns


def _common_length(columns: Mapping[str, ArrayLike], source: str) -> int:
    """The number of events when the expression uses no column: that of the given columns."""
    lengths = {len(value) for value in columns.values()}
    if not lengths:
        raise ExpressionError("no columns were given, so the number of events is unknown", source)
    if len(lengths) > 1:
        raise ExpressionError(f"the columns have different lengths: {sorted(lengths)}", source)
    return lengths.pop()


def parse(expression: str, names: Iterable[str]) -> Expression:
    """Validate an expression over the given column names, or raise ExpressionError."""
    if not isinstance(expression, str):
        raise TypeError(f"an expression is text, not {type(expression).__name__}")
    if isinstance(names, str):
        raise TypeError("names must be a collection of column names, not one string")
    return _parse(expression, frozenset(names))


@functools.lru_cache(maxsize=256)
def _parse(expression: str, columns: frozenset[str]) -> Expression:
    """parse() for hashable arguments; Expressions are immutable, so caching them is safe."""
    if len(expression) > MAX_LENGTH:
        raise _fail(
            f"the expression is too long: {len(expression)} characters, at most {MAX_LENGTH}",
            expression,
            (MAX_LENGTH, len(expression)),
        )
    if not expression.strip():
        raise ExpressionError("the expression is empty", expression)
    prepared = _prepare(expression)
    _check_brackets(prepared, expression)
    tree = _parse_tree(prepared, expression)
    compiler = _Compiler(expression, prepared, columns)
    _check_tree(tree, compiler.span, expression)
    program = compiler.compile(tree.body)
    return Expression(
        expression, frozenset(compiler.used), program, dict(compiler.used), compiler.cost
    )


def evaluate(expression: str, columns: Mapping[str, ArrayLike]) -> np.ndarray:
    """Parse an expression over the given columns and evaluate it."""
    columns = _as_mapping(columns)
    return parse(expression, columns.keys()).evaluate(columns)
