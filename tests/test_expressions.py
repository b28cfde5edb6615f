"""The safe expression language: operators, functions, physics helpers, errors and hostile input."""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
import warnings
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from converters.errors import EventLabError
from converters.expressions import (
    CONSTANTS,
    FUNCTION_HELP,
    MAX_DEPTH,
    MAX_LENGTH,
    Expression,
    ExpressionError,
    evaluate,
    function_names,
    parse,
)

MUON_MASS = 0.1057
RNG = np.random.default_rng(20240607)
N = 64
COLUMNS = {
    "a": RNG.normal(0.0, 10.0, N),
    "b": RNG.uniform(-5.0, 5.0, N),
    "c": RNG.uniform(0.1, 3.0, N),
    "flag": RNG.random(N) > 0.5,
}
A, B, C, FLAG = (COLUMNS[k] for k in ("a", "b", "c", "flag"))


def error_of(expression: str, columns: dict | None = None) -> ExpressionError:
    """The ExpressionError that parsing and evaluating an expression raises."""
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, COLUMNS if columns is None else columns)
    return info.value


def evaluation_error(expression: Expression, columns: dict) -> ExpressionError:
    """The ExpressionError that evaluating a parsed expression raises."""
    with pytest.raises(ExpressionError) as info:
        expression.evaluate(columns)
    return info.value


def pointed_at(error: ExpressionError) -> str:
    """The part of the expression the error points at."""
    assert error.offset is not None
    return error.expression[error.offset : error.offset + error.length]


# --- operators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a + b", A + B),
        ("a - b", A - B),
        ("a * b", A * B),
        ("a / b", A / B),
        ("a // b", A // B),
        ("a % b", A % B),
        ("c ** b", C**B),
        ("-a", -A),
        ("+a", A),
        ("2 * a + b / 4 - 1", 2 * A + B / 4 - 1),
        ("-c ** 2", -(C**2)),
        ("(a + b) * c", (A + B) * C),
        ("a / 0", np.where(A > 0, np.inf, -np.inf)),
        ("1_000 + 0x10 + 1e3", np.full(N, 2016.0)),
    ],
)
def test_arithmetic_matches_numpy(expression: str, expected: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        result = evaluate(expression, COLUMNS)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a == b", A == B),
        ("a != b", A != B),
        ("a < b", A < B),
        ("a <= b", A <= B),
        ("a > b", A > B),
        ("a >= b", A >= B),
        ("-1 < b < 1", (B > -1) & (B < 1)),
        ("a < b <= c", (A < B) & (B <= C)),
        ("a > 0 & b > 0", (A > 0) & (B > 0)),
        ("a > 0 | b > 0", (A > 0) | (B > 0)),
        ("a > 0 && b > 0", (A > 0) & (B > 0)),
        ("a > 0 || b > 0", (A > 0) | (B > 0)),
        ("a > 0 and b > 0", (A > 0) & (B > 0)),
        ("a > 0 or b > 0", (A > 0) | (B > 0)),
        ("~(a > 0)", ~(A > 0)),
        ("!(a > 0)", ~(A > 0)),
        ("not a > 0", ~(A > 0)),
        ("~flag", ~FLAG),
        ("flag & a > 0", FLAG & (A > 0)),
        ("a + (~flag) > 0", A + (~FLAG) > 0),
        ("a > 0 | b > 0 & c > 1", (A > 0) | ((B > 0) & (C > 1))),
        ("True", np.ones(N, dtype=bool)),
        ("a > 0 & False", np.zeros(N, dtype=bool)),
    ],
)
def test_comparisons_and_logic_match_numpy(expression: str, expected: np.ndarray) -> None:
    result = evaluate(expression, COLUMNS)
    assert result.dtype == np.bool_
    np.testing.assert_array_equal(result, expected)


def test_logical_operators_bind_looser_than_comparisons() -> None:
    """The classroom cut reads as written, unlike numpy's `pt1 > (20 & pt2) > 20`."""
    columns = {
        "pt1": np.array([25.0, 10.0, 30.0, 30.0]),
        "pt2": np.array([30.0, 40.0, 25.0, 5.0]),
        "Q1": np.array([1.0, -1.0, 1.0, -1.0]),
        "Q2": np.array([-1.0, 1.0, 1.0, 1.0]),
    }
    result = evaluate("pt1 > 20 & pt2 > 20 & Q1*Q2 < 0", columns)
    np.testing.assert_array_equal(result, [True, False, False, False])


def test_booleans_count_as_numbers_in_arithmetic() -> None:
    result = evaluate("(a > 0) + (b > 0) + flag", COLUMNS)
    np.testing.assert_array_equal(result, (A > 0).astype(float) + (B > 0) + FLAG)
    np.testing.assert_array_equal(evaluate("-flag", COLUMNS), -FLAG.astype(float))


def test_numbers_as_conditions_are_true_when_not_zero() -> None:
    columns = {"n": np.array([0.0, 1.0, 2.0, np.nan])}
    np.testing.assert_array_equal(evaluate("n & True", columns), [False, True, True, True])
    np.testing.assert_array_equal(evaluate("where(n, 1, 0)", columns), [0, 1, 1, 1])


@pytest.mark.parametrize(
    ("function", "reference"),
    [
        ("abs", np.abs),
        ("sqrt", np.sqrt),
        ("exp", np.exp),
        ("log", np.log),
        ("log10", np.log10),
        ("log2", np.log2),
        ("sin", np.sin),
        ("cos", np.cos),
        ("tan", np.tan),
        ("arcsin", np.arcsin),
        ("asin", np.arcsin),
        ("arccos", np.arccos),
        ("acos", np.arccos),
        ("arctan", np.arctan),
        ("atan", np.arctan),
        ("sinh", np.sinh),
        ("cosh", np.cosh),
        ("tanh", np.tanh),
        ("arcsinh", np.arcsinh),
        ("asinh", np.arcsinh),
        ("arccosh", np.arccosh),
        ("acosh", np.arccosh),
        ("arctanh", np.arctanh),
        ("atanh", np.arctanh),
        ("floor", np.floor),
        ("ceil", np.ceil),
        ("sign", np.sign),
        ("isnan", np.isnan),
        ("isinf", np.isinf),
        ("isfinite", np.isfinite),
    ],
)
def test_one_argument_functions_match_numpy(function: str, reference: np.ufunc) -> None:
    values = np.array([-2.0, -0.5, 0.0, 0.3, 1.0, 2.5, 100.0, np.nan, np.inf])
    with np.errstate(all="ignore"):
        expected = reference(values)
    result = evaluate(f"{function}(x)", {"x": values})
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("arctan2(b, a)", np.arctan2(B, A)),
        ("atan2(b, a)", np.arctan2(B, A)),
        ("hypot(a, b)", np.hypot(A, B)),
        ("min(a, b)", np.minimum(A, B)),
        ("max(a, b)", np.maximum(A, B)),
        ("min(a, b, c, 0)", np.minimum(np.minimum(np.minimum(A, B), C), 0)),
        ("max(a, b, c)", np.maximum(np.maximum(A, B), C)),
        ("where(flag, a, b)", np.where(FLAG, A, B)),
        ("where(a > b, 1, -1)", np.where(A > B, 1.0, -1.0)),
        ("clip(a, -3, 3)", np.clip(A, -3, 3)),
        ("pi * c", np.pi * C),
        ("e ** c", np.e**C),
    ],
)
def test_other_functions_and_constants(expression: str, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(evaluate(expression, COLUMNS), expected)


def test_min_and_max_propagate_nan() -> None:
    columns = {"x": np.array([1.0, np.nan]), "y": np.array([2.0, 0.0])}
    np.testing.assert_array_equal(evaluate("max(x, y)", columns), [2.0, np.nan])


def test_inf_and_nan_constants() -> None:
    result = evaluate("where(a > 0, a, nan) + 0 * inf * 0", COLUMNS)
    assert np.isnan(result).all()
    assert evaluate("a < inf", COLUMNS).all()


def test_column_named_like_a_constant_wins() -> None:
    columns = {"e": np.array([1.0, 2.0])}
    expression = parse("e * 2", columns)
    assert expression.names == frozenset({"e"})
    np.testing.assert_array_equal(expression.evaluate(columns), [2.0, 4.0])


def test_column_named_like_a_function_is_still_callable() -> None:
    columns = {"max": np.array([1.0, 5.0]), "x": np.array([3.0, 3.0])}
    np.testing.assert_array_equal(evaluate("max(max, x)", columns), [3.0, 5.0])


def test_backticks_name_columns_that_are_not_plain_words() -> None:
    columns = {"Muons.pt": np.array([10.0, 30.0]), "lambda": np.array([1.0, 2.0])}
    expression = parse("`Muons.pt` > 20 & `lambda` > 0", columns)
    assert expression.names == frozenset({"Muons.pt", "lambda"})
    np.testing.assert_array_equal(expression.evaluate(columns), [False, True])


def test_newlines_and_leading_spaces_are_whitespace() -> None:
    np.testing.assert_array_equal(evaluate("  a > 0 &\n   b > 0\n", COLUMNS), (A > 0) & (B > 0))


def test_nan_and_inf_propagate_without_warnings() -> None:
    columns = {"x": np.array([-1.0, 0.0, 4.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate("sqrt(x) + log(x) + 1 / x", columns)
    assert np.isnan(result[0]) and math.isnan(result[1]) and result[2] == pytest.approx(3.636, 1e-3)


# --- physics helpers ----------------------------------------------------------------------------


def test_back_to_back_muons_make_a_z() -> None:
    """Two back-to-back 45.6 GeV muons give 91.2 GeV (91.2002 with the muon mass)."""
    columns = {"pt": np.array([45.6]), "phi": np.array([0.0])}
    massless = evaluate("inv_mass(pt, 0, phi, 0, pt, 0, phi + pi, 0)", columns)
    assert massless[0] == pytest.approx(91.2, rel=1e-12)
    massive = evaluate("inv_mass(pt, 0, phi, 0.1057, pt, 0, phi + pi, 0.1057)", columns)
    assert massive[0] == pytest.approx(2 * math.hypot(45.6, MUON_MASS), rel=1e-12)


def test_inv_mass_back_to_back_in_three_dimensions() -> None:
    """Opposite momenta (eta -> -eta, phi -> phi + pi): the mass is twice the energy."""
    columns = {"eta": np.array([0.0, 1.0, -2.5]), "phi": np.array([0.3, -2.0, 3.0])}
    result = evaluate("inv_mass(40, eta, phi, 0, 40, -eta, phi + pi, 0)", columns)
    np.testing.assert_allclose(result, 2 * 40 * np.cosh(columns["eta"]), rtol=1e-12)


def four_momenta(pt, eta, phi, mass):
    """(E, px, py, pz) from pt, eta, phi, mass: the test's own reference formula."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.sqrt(px**2 + py**2 + pz**2 + mass**2), px, py, pz


@pytest.mark.parametrize("objects", [2, 3, 4])
def test_inv_mass_of_several_objects_matches_reference(objects: int) -> None:
    rng = np.random.default_rng(objects)
    columns, arguments, total = {}, [], np.zeros((4, 200))
    for k in range(1, objects + 1):
        pt, eta = rng.uniform(5, 100, 200), rng.uniform(-2.5, 2.5, 200)
        phi, mass = rng.uniform(-np.pi, np.pi, 200), rng.uniform(0, 5, 200)
        columns |= {f"pt{k}": pt, f"eta{k}": eta, f"phi{k}": phi, f"m{k}": mass}
        arguments.append(f"pt{k}, eta{k}, phi{k}, m{k}")
        total += np.array(four_momenta(pt, eta, phi, mass))
    expected = np.sqrt(total[0] ** 2 - total[1] ** 2 - total[2] ** 2 - total[3] ** 2)
    result = evaluate(f"inv_mass({', '.join(arguments)})", columns)
    np.testing.assert_allclose(result, expected, rtol=1e-9)
    energy_arguments = []
    for k in range(1, objects + 1):
        e, px, py, pz = four_momenta(*(columns[f"{q}{k}"] for q in ("pt", "eta", "phi", "m")))
        columns |= {f"E{k}": e, f"px{k}": px, f"py{k}": py, f"pz{k}": pz}
        energy_arguments.append(f"E{k}, px{k}, py{k}, pz{k}")
    result_e = evaluate(f"inv_mass_e({', '.join(energy_arguments)})", columns)
    np.testing.assert_allclose(result_e, expected, rtol=1e-9)


def test_inv_mass_e_of_two_photons() -> None:
    result = evaluate("inv_mass_e(50, 50, 0, 0, 50, -50, 0, 0)", {"x": np.zeros(3)})
    np.testing.assert_allclose(result, [100.0, 100.0, 100.0])


def test_transverse_mass_of_a_w_like_configuration() -> None:
    """Lepton and neutrino of 40 GeV back to back: mT = 80 GeV, the Jacobian edge."""
    columns = {
        "lep_pt": np.array([40.0, 40.0, 40.0, 35.0]),
        "lep_phi": np.array([0.0, 0.0, 1.0, -2.0]),
        "met": np.array([40.0, 40.0, 30.0, 45.0]),
        "met_phi": np.array([np.pi, 0.0, 1.0 + np.pi / 2, 2.5]),
    }
    result = evaluate("mt(lep_pt, lep_phi, met, met_phi)", columns)
    dphi = columns["lep_phi"] - columns["met_phi"]
    expected = np.sqrt(2 * columns["lep_pt"] * columns["met"] * (1 - np.cos(dphi)))
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    assert result[0] == pytest.approx(80.0) and result[1] == 0.0
    assert result[2] == pytest.approx(math.sqrt(2 * 40 * 30))


def test_delta_phi_wraps_into_minus_pi_to_pi() -> None:
    columns = {"p1": np.array([3.0, 0.1, -3.0, 1.0]), "p2": np.array([-3.0, 0.2, 3.0, 1.0])}
    result = evaluate("delta_phi(p1, p2)", columns)
    np.testing.assert_allclose(result, [6 - 2 * np.pi, -0.1, 2 * np.pi - 6, 0.0], atol=1e-12)
    assert np.all(np.abs(result) <= np.pi)


def test_delta_r() -> None:
    columns = {"eta": np.array([0.0, 2.0]), "phi": np.array([0.1, 3.0])}
    result = evaluate("delta_r(eta, phi, eta + 0.3, phi + 0.4)", columns)
    np.testing.assert_allclose(result, [0.5, 0.5], rtol=1e-12)
    wrapped = evaluate("delta_r(0, 3.0, 0, -3.0)", {"x": np.zeros(1)})
    assert wrapped[0] == pytest.approx(2 * np.pi - 6)


def test_physics_helpers_with_many_rows_use_every_block() -> None:
    """More rows than one evaluation block: every row is computed, none left over."""
    rows = 200_003
    rng = np.random.default_rng(3)
    columns = {"phi1": rng.uniform(-4, 4, rows), "phi2": rng.uniform(-4, 4, rows)}
    result = evaluate("delta_phi(phi1, phi2)", columns)
    expected = np.remainder(columns["phi1"] - columns["phi2"] + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(result, expected, atol=1e-9)


def test_z_peak_in_real_cms_dimuon_data(cms_zmumu_csv) -> None:
    """The classroom exercise: opposite-charge muon pairs of the CMS 2011 data peak at the Z."""
    table = pacsv.read_csv(cms_zmumu_csv)
    mass = evaluate("inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)", table)
    assert len(mass) == table.num_rows == 10_583
    counts, edges = np.histogram(mass, bins=60, range=(60.0, 120.0))
    peak = edges[np.argmax(counts)]
    assert 89.0 <= peak <= 93.0
    selected = evaluate("pt1 > 20 & pt2 > 20 & Q1*Q2 < 0", table)
    columns = {name: table[name].to_numpy() for name in ("pt1", "pt2", "Q1", "Q2")}
    expected = (columns["pt1"] > 20) & (columns["pt2"] > 20) & (columns["Q1"] * columns["Q2"] < 0)
    np.testing.assert_array_equal(selected, expected)
    assert 0 < selected.sum() < len(selected)


# --- columns and results ------------------------------------------------------------------------


def test_arrow_arrays_chunked_arrays_lists_and_tables() -> None:
    expected = np.array([2.0, 4.0, np.nan, 8.0])
    for column in (
        pa.array([1.0, 2.0, None, 4.0]),
        pa.array([1, 2, None, 4], type=pa.int32()),
        pa.chunked_array([[1.0, 2.0], [None, 4.0]]),
        [1, 2, None, 4.0],
        np.array([1, 2, 3, 4], dtype=np.int16),
    ):
        result = evaluate("x * 2", {"x": column})
        if isinstance(column, np.ndarray):
            np.testing.assert_array_equal(result, column * 2.0)
        else:
            np.testing.assert_array_equal(result, expected)
    flags = evaluate("f", {"f": pa.array([True, None, False])})
    np.testing.assert_array_equal(flags, [True, False, False])
    table = pa.table({"x": [1.0, 5.0], "y": [3.0, 3.0]})
    np.testing.assert_array_equal(evaluate("x > y", table), [False, True])
    np.testing.assert_array_equal(parse("x > y", table.column_names).evaluate(table), [False, True])


def test_awkward_dictionary_and_decimal_columns() -> None:
    import decimal

    import awkward as ak

    np.testing.assert_array_equal(evaluate("x * 2", {"x": ak.Array([1.0, 2.0])}), [2.0, 4.0])
    jagged = error_of("x * 2", {"x": ak.Array([[1.0], [2.0, 3.0]])})
    assert "flat list of numbers" in jagged.message and pointed_at(jagged) == "x"
    encoded = pa.array([1.0, 2.0, 1.0]).dictionary_encode()
    np.testing.assert_array_equal(evaluate("x * 2", {"x": encoded}), [2.0, 4.0, 2.0])
    amounts = pa.array([decimal.Decimal("1.5"), None])
    np.testing.assert_array_equal(evaluate("x * 2", {"x": amounts}), [3.0, np.nan])


def test_arrow_float_columns_are_read_without_copying() -> None:
    from converters.expressions import _column_array

    column = pa.array(np.arange(1000, dtype=np.float64))
    array = _column_array("x", column)
    assert array.ctypes.data == column.buffers()[1].address


def test_result_never_aliases_the_input() -> None:
    columns = {"x": np.array([1.0, 2.0])}
    result = evaluate("x", columns)
    result[0] = 99.0
    assert columns["x"][0] == 1.0
    assert evaluate("+x", columns).flags.writeable


def test_scalar_results_broadcast_to_the_column_length() -> None:
    np.testing.assert_array_equal(evaluate("1 + 2", COLUMNS), np.full(N, 3.0))
    np.testing.assert_array_equal(evaluate("pi > 3", COLUMNS), np.ones(N, dtype=bool))
    assert evaluate("delta_phi(0, 1)", COLUMNS).shape == (N,)
    assert evaluate("a * 0 + 1", {"a": np.array([])}).shape == (0,)


def test_expression_is_immutable_reusable_and_knows_its_columns() -> None:
    expression = parse("sqrt(a**2 + b**2) > 3 & pi > 1", COLUMNS)
    assert isinstance(expression, Expression)
    assert expression.source == "sqrt(a**2 + b**2) > 3 & pi > 1"
    assert expression.names == frozenset({"a", "b"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "a"
    other = {"a": np.array([3.0, 0.0]), "b": np.array([4.0, 1.0])}
    np.testing.assert_array_equal(expression.evaluate(other), [True, False])
    np.testing.assert_array_equal(expression.evaluate(COLUMNS), np.hypot(A, B) > 3)
    assert expression == parse("sqrt(a**2 + b**2) > 3 & pi > 1", ["a", "b"])
    assert len({expression, parse(expression.source, ["a", "b", "c"])}) == 1


def test_function_names_and_help() -> None:
    names = function_names()
    assert names == sorted(names)
    required = {"abs", "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "arcsin"}
    required |= {"asin", "arccos", "acos", "arctan", "atan", "arctan2", "atan2", "sinh", "cosh"}
    required |= {"tanh", "arcsinh", "asinh", "arccosh", "acosh", "arctanh", "atanh", "min", "max"}
    required |= {"where", "clip", "isnan", "inv_mass", "inv_mass_e", "mt", "delta_r", "delta_phi"}
    assert required <= set(names)
    assert set(FUNCTION_HELP) == set(names)
    for name, text in FUNCTION_HELP.items():
        assert text.startswith(f"{name}(") and "\n" not in text and len(text) < 160
    assert {"pi", "e"} <= set(CONSTANTS)


# --- errors -------------------------------------------------------------------------------------


def test_error_type_and_caret_rendering() -> None:
    error = error_of("a > 20 & pt3 > 20")
    assert isinstance(error, EventLabError)
    assert (error.offset, error.length) == (9, 3)
    assert "unknown name 'pt3'" in error.message
    message, text, caret = str(error).split("\n")
    assert message == error.message
    assert text.strip() == "a > 20 & pt3 > 20"
    assert text[caret.index("^") : caret.rindex("^") + 1] == "pt3"
    restored = pickle.loads(pickle.dumps(error))
    assert (restored.message, restored.offset, restored.length) == (
        error.message,
        error.offset,
        error.length,
    )


def test_caret_stays_aligned_in_a_long_expression() -> None:
    expression = " * ".join(["a"] * 12) + " + bogus - " + " / ".join(["b"] * 12)
    error = error_of(expression)
    _, text, caret = str(error).split("\n")
    assert text[caret.index("^") : caret.rindex("^") + 1] == "bogus"
    assert len(text) < 90 and "…" in text


def test_unknown_names_suggest_close_matches() -> None:
    columns = {"pt1": [1.0], "pt2": [2.0], "eta1": [0.0], "Muon_pt": [3.0]}
    message = error_of("pt3 > 1", columns).message
    assert "did you mean" in message and "pt1" in message and "pt2" in message
    assert "did you mean Muon_pt" in error_of("muon_pt > 1", columns).message
    message = error_of("zzz > 1", columns).message
    assert "the columns are Muon_pt, eta1, pt1, pt2" in message
    assert "did you mean sqrt" in error_of("sqr(pt1)", columns).message
    assert "'pt1' is not a function" in error_of("pt1(2)", columns).message
    assert "'sqrt' is a function" in error_of("sqrt + 1", columns).message


@pytest.mark.parametrize(
    ("expression", "fragment", "culprit"),
    [
        ("x.__class__", "attribute access", "x.__class__"),
        ("a.real > 1", "attribute access", "a.real"),
        ("a[0]", "indexing", "a[0]"),
        ("lambda: 1", "lambda", "lambda: 1"),
        ("[a for a in b]", "comprehensions", "[a for a in b]"),
        ("max((x for x in a), b)", "comprehensions", "(x for x in a)"),
        ("'text' + a", "text in quotes", "'text'"),
        ("f'{a}'", "f-strings", "f'{a}'"),
        ("max(*a)", "unpacking", "*a"),
        ("clip(a, lo=1, hi=2)", "keyword arguments", "lo=1"),
        ("(y := a)", "':='", "y := a"),
        ("a if b else c", "where(condition, a, b)", "a if b else c"),
        ("(a, b)", "tuples", "(a, b)"),
        ("{a: b}", "dicts", "{a: b}"),
        ("__import__('os')", "double underscores", "__import__"),
        ("a + __builtins__", "double underscores", "__builtins__"),
        ("a ^ 2", "x**2", "^"),
        ("a << 2", "bit shifts", "<<"),
        ("a in b", "'in'", "in"),
        ("a is b", "'=='", "is"),
        ("None", "'None' is not allowed", "None"),
        ("1j * a", "complex", "1j"),
        ("1e400 * a", "too large", "1e400"),
        ("a + 1" + "0" * 400, "too large", "1" + "0" * 400),
        ("sqrt(a, b)", "sqrt takes 1 argument, got 2", "sqrt(a, b)"),
        ("inv_mass(a, b, c, 0, a, b, c)", "8, 12 or 16 arguments, got 7", "inv_mass("),
        ("mt(a, b, c)", "mt takes 4 arguments, got 3", "mt(a, b, c)"),
        ("min(a)", "2 or more arguments", "min(a)"),
        ("where(a, b)", "3 arguments", "where(a, b)"),
        ("a(1)", "not a function", "a"),
        ("a.b()", "attribute access", "a.b"),
        ("(a)(1)", "not a function", "a"),
        ("`nope` > 1", "unknown column 'nope'", "`nope`"),
        ("a = 1", "use '=='", "="),
        ("a > 1 & & b", "syntax error", "&"),
        ("max(a b)", "forgot a comma", "a b"),
        ("a + ~flag", "write (~b)", "~"),
        ("a + not flag", "write (not b)", "not"),
        ("a > 1 | | b", "needs a condition on each side", "|"),
        ("(a + b", "never closed", "("),
        ("a + b)", "unmatched ')'", ")"),
        ("`a", "backtick is never closed", "`"),
        ("`` + a", "empty column name", "``"),
    ],
)
def test_refusals_say_what_and_where(expression: str, fragment: str, culprit: str) -> None:
    error = error_of(expression)
    assert fragment in error.message
    assert pointed_at(error).startswith(culprit)


def test_errors_at_the_end_point_past_the_last_character() -> None:
    error = error_of("a >")
    assert error.offset == 3 and "syntax error" in error.message
    assert str(error).split("\n")[2].index("^") == 4 + 3


def test_empty_and_non_text_expressions() -> None:
    assert error_of("   ").message == "the expression is empty"
    with pytest.raises(TypeError):
        parse(42, ["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse("a", "a")


def test_limits_on_size_depth_and_parts() -> None:
    error = error_of("a + " * 600 + "a")
    assert "too long" in error.message and error.offset == MAX_LENGTH
    error = error_of("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert "nested too deeply" in error.message and error.offset == MAX_DEPTH
    assert evaluate("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH, COLUMNS).shape == (N,)
    assert "nested too deeply" in error_of("-" * 60 + "a").message
    assert "nested too deeply" in error_of(" + ".join(["a"] * 60)).message
    error = error_of(", ".join(["max(a, b, c, a, b, c, a, b, c, a)"] * 40).join(["min(", ")"]))
    assert "more than 400 parts" in error.message


def test_column_problems_at_evaluation() -> None:
    expression = parse("a + bb", ["a", "bb"])
    error = evaluation_error(expression, {"a": [1.0, 2.0]})
    assert "column 'bb' is not in the data" in error.message and pointed_at(error) == "bb"
    error = evaluation_error(expression, {"a": [1.0], "bb": [1.0, 2]})
    assert "different lengths" in error.message and pointed_at(error) == "bb"
    bad_columns = {
        "a": [1.0],
        "bb": pa.array(["x"]),
    }
    error = evaluation_error(expression, bad_columns)
    assert "not numbers" in error.message and pointed_at(error) == "bb"
    for column, fragment in (
        (np.array(["x", "y"]), "not numbers"),
        (np.zeros((2, 2)), "one value per event"),
        ([[1.0, 2.0], [3.0]], "flat list of numbers"),
        (np.array([1 + 2j]), "not numbers"),
    ):
        assert fragment in error_of("x + 1", {"x": column}).message
    assert "no columns were given" in error_of("1 + 1", {}).message


# --- properties ---------------------------------------------------------------------------------

Tree = tuple[str, Callable[[dict], np.ndarray]]

LEAVES: st.SearchStrategy[Tree] = st.one_of(
    st.sampled_from(["x", "y", "z"]).map(lambda n: (n, lambda env, n=n: env[n])),
    st.floats(-50, 50, allow_nan=False).map(lambda v: (f"({v!r})", lambda env, v=v: np.float64(v))),
)
BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}
BINARY |= {"//": np.floor_divide, "%": np.mod}
UNARY = {"sqrt": np.sqrt, "abs": np.abs, "exp": np.exp, "log": np.log, "sin": np.sin}
UNARY |= {"arctan": np.arctan, "tanh": np.tanh, "floor": np.floor}
TWO = {"min": np.minimum, "max": np.maximum, "arctan2": np.arctan2, "hypot": np.hypot}


def _extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    """Bigger trees: binary operators, negation and functions of smaller ones."""

    def binary(args):
        op, (ls, lf), (rs, rf) = args
        return f"({ls} {op} {rs})", lambda env: BINARY[op](lf(env), rf(env))

    def unary(args):
        name, (s, f) = args
        return f"{name}({s})", lambda env: UNARY[name](f(env))

    def two(args):
        name, (ls, lf), (rs, rf) = args
        return f"{name}({ls}, {rs})", lambda env: TWO[name](lf(env), rf(env))

    def negate(args):
        s, f = args
        return f"(-{s})", lambda env: np.negative(f(env))

    return st.one_of(
        st.tuples(st.sampled_from(list(BINARY)), children, children).map(binary),
        st.tuples(st.sampled_from(list(UNARY)), children).map(unary),
        st.tuples(st.sampled_from(list(TWO)), children, children).map(two),
        children.map(negate),
    )


ARITHMETIC = st.recursive(LEAVES, _extend, max_leaves=12)
COLUMN = arrays(np.float64, 8, elements=st.floats(-1e3, 1e3, allow_nan=False))


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(tree=ARITHMETIC, x=COLUMN, y=COLUMN, z=COLUMN)
def test_random_arithmetic_equals_numpy(tree: Tree, x, y, z) -> None:
    source, reference = tree
    env = {"x": x, "y": y, "z": z}
    with np.errstate(all="ignore"):
        expected = np.broadcast_to(reference(env), (8,))
    np.testing.assert_array_equal(evaluate(source, env), expected)


def _conditions(children: st.SearchStrategy) -> st.SearchStrategy:
    """Conditions combined with & | ~ and the words and/or/not."""

    def combine(args):
        op, (ls, lf), (rs, rf) = args
        ufunc = np.logical_and if op in ("&", "and", "&&") else np.logical_or
        return f"({ls} {op} {rs})", lambda env: ufunc(lf(env), rf(env))

    def invert(args):
        word, (s, f) = args
        return f"{word}{s}", lambda env: np.logical_not(f(env))

    ops = ["&", "|", "and", "or", "&&", "||"]
    return st.one_of(
        st.tuples(st.sampled_from(ops), children, children).map(combine),
        st.tuples(st.sampled_from(["~", "not ", "!"]), children).map(invert),
    )


COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
COMPARISONS |= {"==": np.equal, "!=": np.not_equal}


def _comparison(args) -> Tree:
    """One comparison between two leaves."""
    op, (ls, lf), (rs, rf) = args
    return f"{ls} {op} {rs}", lambda env: COMPARISONS[op](lf(env), rf(env))


ATOMS = st.tuples(st.sampled_from(list(COMPARISONS)), LEAVES, LEAVES).map(_comparison)


@settings(max_examples=100, deadline=None, database=None)
@given(tree=st.recursive(ATOMS, _conditions, max_leaves=10), x=COLUMN, y=COLUMN, z=COLUMN)
def test_random_conditions_equal_numpy(tree: Tree, x, y, z) -> None:
    source, reference = tree
    env = {"x": x, "y": y, "z": z}
    np.testing.assert_array_equal(evaluate(source, env), np.broadcast_to(reference(env), (8,)))


TOKENS = [
    *"xyz0123456789.()[]{},:;+-*/%<>=!&|~^@`'\" \n\t_#\\$?",
    *["**", "//", "==", "!=", "<=", "and", "or", "not", "in", "is", "if", "else", "lambda"],
    *["sqrt", "inv_mass", "where", "min", "max", "delta_phi", "mt", "pi", "e", "nan", "inf"],
    *["True", "None", "__class__", "__import__", "1e308", "1e-308", "0x1f", "1j", "9**9", ":="],
    *["é", "\x00", "\ud800", "\u2028", "ﬁ", "𝑥"],
]


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # Python's parser on odd literals
@settings(max_examples=400, deadline=None, database=None)
@given(text=st.one_of(st.text(max_size=60), st.lists(st.sampled_from(TOKENS)).map("".join)))
def test_random_text_only_ever_raises_expression_error(text: str) -> None:
    columns = {"x": np.array([1.0, -2.0, 0.0]), "y": np.array([0.5, 3.0, np.nan]), "z": [1, 2, 3]}
    try:
        result = evaluate(text, columns)
    except ExpressionError as error:
        assert error.message and isinstance(str(error), str)
        assert error.offset is None or 0 <= error.offset <= len(text)
    else:
        assert isinstance(result, np.ndarray) and result.shape == (3,)
        assert result.dtype in (np.float64, np.bool_)


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = [
    "__import__('os')",
    "__import__('os').system('echo owned')",
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: 1",
    "[x for x in y]",
    "'a'*10**9",
    "eval('1')",
    "open('/etc/passwd')",
    "getattr(x, 'y')",
    "(" * 10_000 + "x" + ")" * 10_000,
    "x" * 1_000_000,
    "(" * 999 + "x" + ")" * 999,
    "[" * 1000,
    "-" * 1999 + "x",
    "~" * 1999 + "x",
    "not " * 499 + "x",
    "2**" * 666 + "2",
    "x+" * 999 + "x",
    "1" * 2000,
    "max(" * 400 + "x" + ", x)" * 400,
]


@pytest.mark.parametrize("expression", HOSTILE, ids=lambda s: repr(s[:24]) + f"[{len(s)}]")
def test_hostile_input_is_refused_quickly(expression: str) -> None:
    columns = {"x": np.arange(5.0), "y": np.arange(5.0)}
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, columns)
    assert time.perf_counter() - start < 0.5
    assert info.value.message
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("expression", ["9**9**9**9", "x ** 1e308", "9**9**9 * x"])
def test_huge_powers_are_float_arithmetic_not_big_integers(expression: str) -> None:
    start = time.perf_counter()
    result = evaluate(expression, {"x": np.array([2.0, 1.0, 0.5])})
    assert time.perf_counter() - start < 0.5
    assert np.isinf(result[0]) and result.dtype == np.float64


def test_three_cuts_on_a_million_rows_are_vectorised() -> None:
    rows = 1_000_000
    rng = np.random.default_rng(1)
    columns = {name: rng.normal(20, 10, rows) for name in ("pt1", "pt2", "Q1", "Q2")}
    expression = parse("pt1 > 20 & pt2 > 20 & Q1*Q2 < 0", columns)
    start = time.perf_counter()
    result = expression.evaluate(columns)
    assert time.perf_counter() - start < 1.0
    assert result.sum() == np.sum(
        (columns["pt1"] > 20) & (columns["pt2"] > 20) & (columns["Q1"] * columns["Q2"] < 0)
    )
