"""Peak fits (Gaussian, Breit-Wigner, Voigtian, Crystal Ball, optional background) by binned
likelihood, with an honest verdict: a parameter at its limit or a poor chi2 makes a fit not valid,
and a fit range much wider than the peak gets a suggested range."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL
from scipy.special import voigt_profile
from scipy.stats import chi2 as chi2_distribution

from app.histogram.errors import FitError
from app.histogram.filling import FilledHistogram

SIGNALS = {
    "gauss": "Gaussian",
    "bw": "Breit-Wigner",
    "voigt": "Voigtian (Breit-Wigner ⊗ Gaussian)",
    "cb": "Crystal Ball",
}
Z_WIDTH = 2.4952  # GeV, the Particle Data Group's Z width
# A fit is reported as poor below this chi2 probability.
MIN_P_VALUE = 1e-3
# A parameter this close to a limit (as a fraction of the room it has) sits at the limit.
AT_LIMIT = 1e-3
# A fit range this many times wider than the peak's full width at half maximum is "much wider";
# the suggestion is the peak +- this many widths (a Gaussian core; shapes with tails get more).
WIDE_RANGE = 8.0
SUGGESTED_WIDTHS = {"gauss": 1.0, "bw": 3.0, "voigt": 3.0, "cb": 3.0}
# Grid steps per (half width + resolution) for the Voigtian's numerical cumulative distribution.
VOIGT_STEPS = 12
VOIGT_POINTS = (2_001, 40_001)
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


def voigt_cdf(
    x: np.ndarray, mass: float, width: float, sigma: float, low: float, high: float
) -> np.ndarray:
    """Cumulative distribution (up to a constant) of a Breit-Wigner of full width `width`
    convolved with a Gaussian of `sigma`, integrated on a fine grid over [low, high]."""
    scale = 0.5 * width + sigma
    points = int(np.clip((high - low) / scale * VOIGT_STEPS, *VOIGT_POINTS))
    grid = np.linspace(low, high, points)
    density = voigt_profile(grid - mass, sigma, 0.5 * width)
    steps = 0.5 * (density[1:] + density[:-1]) * np.diff(grid)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    return np.interp(np.asarray(x, dtype=np.float64), grid, cumulative)


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
    problems: tuple[str, ...] = ()
    suggested_range: tuple[float, float] | None = None
    fixed: tuple[str, ...] = ()

    @property
    def p_value(self) -> float:
        """The chi2 probability of the fit (NaN without degrees of freedom)."""
        return float(chi2_distribution.sf(self.chi2, self.ndf)) if self.ndf else math.nan

    @property
    def reason(self) -> str:
        """Why the fit is not valid, in one sentence ("" when it is)."""
        return "; ".join(self.problems)

    @property
    def advice(self) -> str:
        """The suggested fit range as a sentence, or ""."""
        if self.suggested_range is None:
            return ""
        low, high = self.suggested_range
        return (
            f"the fit range {self.low:g} to {self.high:g} is much wider than the peak: "
            f"try fitting from {low:g} to {high:g}"
        )

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
            "reason": self.reason or None,
            "problems": list(self.problems),
            "chi2": self.chi2,
            "ndf": self.ndf,
            "p_value": self.p_value,
            "suggested_range": None if self.suggested_range is None else list(self.suggested_range),
            "parameters": {
                p.name: {
                    "value": p.value,
                    "error": p.error,
                    "unit": p.unit,
                    "fixed": p.name in self.fixed,
                }
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
        return {
            "gauss": ("sigma",),
            "bw": ("width",),
            "voigt": ("width", "sigma"),
            "cb": ("sigma", "alpha", "n"),
        }[self.signal]

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
        if self.signal == "voigt":
            return lambda x, *shape: voigt_cdf(x, *shape, self.low, self.high)
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
    fixed_width: float | None = None,
) -> FitResult:
    """Fit a peak to the bins inside `fit_range` by an extended binned likelihood (iminuit);
    `fixed_width` holds a Breit-Wigner's or Voigtian's width (e.g. Z_WIDTH) fixed."""
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
    if fixed_width is not None:
        if "width" not in model.parameter_names:
            raise FitError(f"a {SIGNALS[signal]} has no width to fix: use bw or voigt")
        if not (math.isfinite(fixed_width) and fixed_width > 0):
            raise FitError(f"the width to fix must be positive, got {fixed_width:g}")
        minuit.values["width"] = fixed_width
        minuit.fixed["width"] = True
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
    problems = fit_problems(minuit, chi2, ndf)
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
        valid=not problems,
        curve_x=curve_x,
        curve_y=curve_y,
        problems=problems,
        suggested_range=suggested_range(histogram, edges, counts, signal),
        fixed=tuple(p.name for p in minuit.params if p.is_fixed),
    )


def fit_problems(minuit: Minuit, chi2: float, ndf: int) -> tuple[str, ...]:
    """What makes a fit untrustworthy, each in words: no convergence, a parameter at a limit,
    a chi2 too large for its degrees of freedom, nothing left to test the shape with."""
    problems = []
    if not minuit.valid:
        problems.append("the fit did not converge")
    for parameter in minuit.params:
        limit = parameter_at_limit(parameter)
        if limit is not None:
            problems.append(
                f"{parameter.name} = {parameter.value:.6g} sits at its limit {limit:g}, so it "
                "and its error mean nothing: change the range or the shape"
            )
    if ndf == 0:
        problems.append("no degrees of freedom are left: use more bins")
    elif chi2_distribution.sf(chi2, ndf) < MIN_P_VALUE:
        problems.append(
            f"χ²/ndf = {chi2 / ndf:.2f} is too large for {ndf} degrees of freedom: the shape "
            "does not describe the data"
        )
    return tuple(problems)


def parameter_at_limit(parameter) -> float | None:
    """The limit a free parameter sits at, or None."""
    if parameter.is_fixed:
        return None
    low = parameter.lower_limit if parameter.has_lower_limit else None
    high = parameter.upper_limit if parameter.has_upper_limit else None
    span = (high - low) if low is not None and high is not None else None
    if span is None:
        span = max(abs(parameter.value), parameter.error, 1.0)
    for limit in (low, high):
        if limit is not None and abs(parameter.value - limit) <= AT_LIMIT * span:
            return float(limit)
    return None


def peak_width(centres: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """The highest bin's centre and the full width at half maximum of the peak around it."""
    top = int(np.argmax(counts))
    half = counts[top] / 2
    below = np.flatnonzero(counts[:top] < half)
    above = np.flatnonzero(counts[top:] < half)
    first = int(below[-1]) + 1 if below.size else 0
    last = top + int(above[0]) - 1 if above.size else counts.size - 1
    bin_width = float(centres[1] - centres[0]) if centres.size > 1 else 0.0
    return float(centres[top]), float(centres[last] - centres[first]) + bin_width


def suggested_range(
    histogram: FilledHistogram, edges: np.ndarray, counts: np.ndarray, signal: str
) -> tuple[float, float] | None:
    """A fit range around the peak when the given one is much wider than it, else None."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    peak, fwhm = peak_width(centres, counts)
    if fwhm <= 0 or edges[-1] - edges[0] <= WIDE_RANGE * fwhm:
        return None
    reach = SUGGESTED_WIDTHS[signal] * fwhm
    low = max(float(histogram.edges[0]), peak - reach)
    high = min(float(histogram.edges[-1]), peak + reach)
    return float(f"{low:.3g}"), float(f"{high:.3g}")


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
    if model.signal == "voigt":  # share the observed width between the two
        start |= {"sigma": 0.5 * sigma, "width": 0.5 * fwhm}
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
