"""Peak fits (Gaussian, Breit-Wigner, Crystal Ball, optional background) by binned likelihood."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL

from app.histogram.errors import FitError
from app.histogram.filling import FilledHistogram

SIGNALS = {"gauss": "Gaussian", "bw": "Breit-Wigner", "cb": "Crystal Ball"}
BACKGROUNDS = {"none": "no background", "linear": "linear", "exp": "exponential"}
MIN_FIT_BINS = 5
CURVE_POINTS = 400
SQRT_HALF_PI = math.sqrt(math.pi / 2)
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(values: np.ndarray) -> np.ndarray:
    """The error function, element-wise (few hundred bin edges: a ufunc of math.erf suffices)."""
    return _erf(np.asarray(values, dtype=np.float64)).astype(np.float64)


def gauss_cdf(x: np.ndarray, mass: float, sigma: float) -> np.ndarray:
    """Cumulative distribution of a Gaussian."""
    return 0.5 * (1.0 + erf((x - mass) / (sigma * math.sqrt(2.0))))


def breit_wigner_cdf(x: np.ndarray, mass: float, width: float) -> np.ndarray:
    """Cumulative distribution of a (non-relativistic) Breit-Wigner of full width `width`."""
    return 0.5 + np.arctan((x - mass) / (0.5 * width)) / math.pi


def crystal_ball_cdf(
    x: np.ndarray, mass: float, sigma: float, alpha: float, n: float
) -> np.ndarray:
    """Cumulative distribution of a Crystal Ball: Gaussian core, power-law tail on the low side."""
    t = (np.asarray(x, dtype=np.float64) - mass) / sigma
    tail_total = (n / alpha) * math.exp(-0.5 * alpha * alpha) / (n - 1.0)
    total = tail_total + SQRT_HALF_PI * (1.0 + math.erf(alpha / math.sqrt(2.0)))
    in_tail = t <= -alpha
    b = n / alpha - alpha
    # Written as a ratio below one, (n/alpha) / (b - t), so that large n cannot overflow.
    ratio = (n / alpha) / np.where(in_tail, b - t, n / alpha)
    tail = (n / alpha) * math.exp(-0.5 * alpha * alpha) * ratio ** (n - 1.0) / (n - 1.0)
    core = tail_total + SQRT_HALF_PI * (erf(t / math.sqrt(2.0)) + math.erf(alpha / math.sqrt(2.0)))
    return np.where(in_tail, tail, core) / total


def linear_cdf(x: np.ndarray, low: float, high: float, slope: float) -> np.ndarray:
    """Cumulative distribution on [low, high] of a density 1 + slope * u, u from -1 to 1."""
    width = high - low
    centre = 0.5 * (low + high)
    return (x - low) / width + slope * ((x - centre) ** 2 - (0.5 * width) ** 2) / width**2


def exponential_cdf(x: np.ndarray, low: float, high: float, decay: float) -> np.ndarray:
    """Cumulative distribution on [low, high] of a density proportional to exp(decay * x)."""
    width = high - low
    if abs(decay * width) < 1e-9:
        return (x - low) / width
    return np.expm1(decay * (x - low)) / math.expm1(decay * width)


@dataclass(frozen=True)
class FitParameter:
    """One fitted parameter with its uncertainty."""

    name: str
    value: float
    error: float
    unit: str = ""


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, goodness of fit, and the curve to draw over the histogram."""

    signal: str
    background: str
    low: float
    high: float
    parameters: tuple[FitParameter, ...]
    chi2: float
    ndf: int
    valid: bool
    curve_x: np.ndarray
    curve_y: np.ndarray

    def parameter(self, name: str) -> FitParameter:
        """A parameter by name."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def as_dict(self) -> dict:
        """The result as plain numbers (for JSON)."""
        return {
            "model": self.signal,
            "background": self.background,
            "range": [self.low, self.high],
            "valid": self.valid,
            "chi2": self.chi2,
            "ndf": self.ndf,
            "parameters": {
                p.name: {"value": p.value, "error": p.error, "unit": p.unit}
                for p in self.parameters
            },
        }


@dataclass(frozen=True)
class PeakModel:
    """A signal shape plus a background, as cumulative expected counts at bin edges."""

    signal: str
    background: str
    low: float
    high: float

    @property
    def shape_names(self) -> tuple[str, ...]:
        """Names of the signal shape parameters after the mass."""
        return {"gauss": ("sigma",), "bw": ("width",), "cb": ("sigma", "alpha", "n")}[self.signal]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """All parameter names, in the order of `cumulative`."""
        names = ("n_signal", "mass", *self.shape_names)
        if self.background == "linear":
            names += ("n_background", "slope")
        elif self.background == "exp":
            names += ("n_background", "decay")
        return names

    def signal_cdf(self) -> Callable[..., np.ndarray]:
        """The signal's cumulative distribution function."""
        return {"gauss": gauss_cdf, "bw": breit_wigner_cdf, "cb": crystal_ball_cdf}[self.signal]

    def cumulative(self, x: np.ndarray, *params: float) -> np.ndarray:
        """Expected counts below each x: the yields times shapes normalised to the fit range."""
        n_shape = 2 + len(self.shape_names)
        n_signal, *shape = params[:n_shape]
        cdf = self.signal_cdf()
        at_low, at_high = cdf(np.array([self.low, self.high]), *shape)
        inside = max(at_high - at_low, 1e-300)
        result = n_signal * (cdf(x, *shape) - at_low) / inside
        if self.background == "linear":
            result = result + params[n_shape] * linear_cdf(x, self.low, self.high, params[-1])
        elif self.background == "exp":
            result = result + params[n_shape] * exponential_cdf(x, self.low, self.high, params[-1])
        return result


def fit_peak(
    histogram: FilledHistogram,
    signal: str = "gauss",
    background: str = "none",
    fit_range: tuple[float, float] | None = None,
    weighted: bool = False,
) -> FitResult:
    """Fit a peak to the bins inside `fit_range` by an extended binned likelihood (iminuit)."""
    if signal not in SIGNALS:
        raise FitError(f"unknown peak shape {signal!r}; choose one of {', '.join(SIGNALS)}")
    if background not in BACKGROUNDS:
        choices = ", ".join(BACKGROUNDS)
        raise FitError(f"unknown background {background!r}; choose one of {choices}")
    edges, counts, variances = bins_in_range(histogram, fit_range)
    if counts.size < MIN_FIT_BINS:
        raise FitError(
            f"the fit range holds {counts.size} bins; at least {MIN_FIT_BINS} are needed: "
            "widen the range or use more bins"
        )
    total = float(counts.sum())
    if total <= 0 or np.count_nonzero(counts) < 3:
        raise FitError("the fit range holds too few entries to fit a peak")
    low, high = float(edges[0]), float(edges[-1])
    model = PeakModel(signal, background, low, high)
    minuit = configured_minuit(model, edges, counts, variances if weighted else None)
    try:
        with np.errstate(all="ignore"):
            minuit.migrad()
            if minuit.valid:
                minuit.hesse()
    except (ArithmeticError, ValueError) as error:
        message = f"the fit failed numerically ({error}); try another range or peak shape"
        raise FitError(message) from None
    values = np.array(minuit.values)
    expected = np.diff(model.cumulative(edges, *values))
    chi2, ndf = pearson_chi2(counts, variances if weighted else expected, expected, len(values))
    curve_x, curve_y = fitted_curve(model, values, float(np.mean(np.diff(histogram.edges))))
    return FitResult(
        signal=signal,
        background=background,
        low=low,
        high=high,
        parameters=tuple(
            FitParameter(name, float(minuit.values[name]), float(minuit.errors[name]))
            for name in model.parameter_names
        ),
        chi2=chi2,
        ndf=ndf,
        valid=bool(minuit.valid),
        curve_x=curve_x,
        curve_y=curve_y,
    )


def bins_in_range(
    histogram: FilledHistogram, fit_range: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges, contents and variances of the bins whose centres lie in the fit range."""
    if fit_range is None:
        return histogram.edges, histogram.counts, histogram.variances
    low, high = fit_range
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise FitError(f"the fit range must go upwards, got {low:g} to {high:g}")
    centres = histogram.centres
    inside = np.flatnonzero((centres >= low) & (centres <= high))
    if inside.size == 0:
        raise FitError(f"no bin lies in the fit range {low:g} to {high:g}")
    first, last = int(inside[0]), int(inside[-1])
    return (
        histogram.edges[first : last + 2],
        histogram.counts[first : last + 1],
        histogram.variances[first : last + 1],
    )


def configured_minuit(
    model: PeakModel, edges: np.ndarray, counts: np.ndarray, variances: np.ndarray | None
) -> Minuit:
    """A Minuit minimiser of the binned likelihood, with starting values read off the bins."""
    data = counts if variances is None else np.stack([counts, variances], axis=-1)
    cost = ExtendedBinnedNLL(data, edges, model.cumulative, name=model.parameter_names)
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = float(edges[-1] - edges[0])
    total = float(counts.sum())
    peak = float(centres[int(np.argmax(counts))])
    half = counts >= 0.5 * counts.max()
    fwhm = max(float(centres[half].max() - centres[half].min()), float(edges[1] - edges[0]))
    sigma = fwhm / 2.355
    start = {"n_signal": 0.8 * total, "mass": peak, "sigma": sigma, "width": fwhm}
    start |= {"alpha": 1.5, "n": 5.0, "n_background": 0.2 * total, "slope": 0.0, "decay": 0.0}
    minuit = Minuit(cost, *(start[name] for name in model.parameter_names))
    minuit.limits["n_signal"] = (0, None)
    minuit.limits["mass"] = (float(edges[0]), float(edges[-1]))
    for name in ("sigma", "width"):
        if name in model.parameter_names:
            minuit.limits[name] = (1e-3 * float(edges[1] - edges[0]), width)
    if model.signal == "cb":
        minuit.limits["alpha"] = (0.05, 10.0)
        minuit.limits["n"] = (1.05, 200.0)
    if model.background != "none":
        minuit.limits["n_background"] = (0, None)
    if model.background == "linear":
        minuit.limits["slope"] = (-1.0, 1.0)
    if model.background == "exp":
        minuit.limits["decay"] = (-50.0 / width, 50.0 / width)
    return minuit


def pearson_chi2(
    counts: np.ndarray, variances: np.ndarray, expected: np.ndarray, n_parameters: int
) -> tuple[float, int]:
    """Chi-square of the bins with a positive variance, and the degrees of freedom."""
    used = variances > 0
    chi2 = float(np.sum((counts[used] - expected[used]) ** 2 / variances[used]))
    return chi2, max(int(np.count_nonzero(used)) - n_parameters, 0)


def fitted_curve(
    model: PeakModel, values: np.ndarray, bin_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """The fitted density in counts per bin, sampled finely across the fit range."""
    fine = np.linspace(model.low, model.high, CURVE_POINTS + 1)
    density = np.diff(model.cumulative(fine, *values)) / np.diff(fine)
    return 0.5 * (fine[:-1] + fine[1:]), density * bin_width


def units_for(result: FitResult, unit: str) -> FitResult:
    """The same result with the variable's unit attached to the parameters that carry it."""
    carrying = {"mass", "sigma", "width"}
    inverse = {"decay"}
    parameters = tuple(
        FitParameter(
            p.name,
            p.value,
            p.error,
            unit if p.name in carrying else (f"1/{unit}" if p.name in inverse and unit else ""),
        )
        for p in result.parameters
    )
    return dataclasses.replace(result, parameters=parameters)
