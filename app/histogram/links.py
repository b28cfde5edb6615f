"""Links that reopen a plot: its settings in the URL query, read back with validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import parse_qs, urlencode

from app.histogram.catalog import is_safe_name
from app.histogram.evaluation import MAX_EXPRESSION_LENGTH
from app.histogram.filling import MAX_BINS
from app.histogram.fitting import BACKGROUNDS, SIGNALS

# Query keys carry a prefix so that they cannot clash with those of the app's other tabs.
PREFIX = "h_"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
MAX_ADDED = 8
MAX_LUMINOSITY = 1e6


@dataclass(frozen=True)
class LinkSettings:
    """The settings a link carries; None means "not given" (keep the current value)."""

    dataset: str | None = None
    x: str | None = None
    cut: str | None = None
    weight: str | None = None
    bins: int | None = None
    range: tuple[float, float] | None = None
    logy: bool | None = None
    density: bool | None = None
    fit: str | None = None
    background: str | None = None
    fit_range: tuple[float, float] | None = None
    fix_width: bool | None = None
    add: tuple[str, ...] | None = None  # more data files filling the same histogram
    stack_files: bool | None = None
    lumi: float | None = None  # fb^-1


def settings_query(settings: LinkSettings) -> str:
    """The URL query string (without "?") of the given settings."""
    pairs = []
    for item in fields(settings):
        value = getattr(settings, item.name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            text = ",".join(value)
        elif isinstance(value, tuple):
            text = ",".join(f"{v:.10g}" for v in value)
        else:
            text = str(value)
        pairs.append((PREFIX + item.name, text))
    return urlencode(pairs)


def settings_from_query(query: str | Mapping[str, str]) -> tuple[LinkSettings, list[str]]:
    """Settings read from a URL query, and one message per value that was refused."""
    if isinstance(query, str):
        parsed = parse_qs(query.lstrip("?"), keep_blank_values=True, max_num_fields=100)
        values = {key: items[-1] for key, items in parsed.items()}
    else:
        values = {str(key): str(value) for key, value in query.items()}
    problems: list[str] = []
    found: dict[str, object] = {}
    for item in fields(LinkSettings):
        key = PREFIX + item.name
        if key not in values:
            continue
        try:
            found[item.name] = READERS[item.name](values[key])
        except ValueError as error:
            problems.append(f"the link's {item.name} was ignored: {error}")
    return LinkSettings(**found), problems


def read_dataset_name(text: str) -> str:
    """A plain data file name."""
    if not is_safe_name(text):
        raise ValueError("not a plain file name")
    return text


def read_dataset_names(text: str) -> tuple[str, ...]:
    """Plain data file names, comma-separated (at most MAX_ADDED)."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if len(names) > MAX_ADDED:
        raise ValueError(f"at most {MAX_ADDED} files can be added")
    return tuple(read_dataset_name(name) for name in names)


def read_expression(text: str) -> str:
    """An expression of reasonable length (it is parsed later, never run)."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
    if any(not character.isprintable() for character in text):
        raise ValueError("contains control characters")
    return text.strip()


def read_bins(text: str) -> int:
    """A number of bins in the allowed span."""
    bins = int(text)
    if not 1 <= bins <= MAX_BINS:
        raise ValueError(f"must be between 1 and {MAX_BINS}")
    return bins


def read_range(text: str) -> tuple[float, float]:
    """Two increasing finite numbers "low,high"."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("must be two numbers low,high")
    low, high = float(parts[0]), float(parts[1])
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError("must be two finite numbers, low below high")
    return low, high


def read_luminosity(text: str) -> float:
    """A positive luminosity in fb^-1."""
    value = float(text)
    if not (math.isfinite(value) and 0 < value <= MAX_LUMINOSITY):
        raise ValueError(f"must be a luminosity above 0 and at most {MAX_LUMINOSITY:g} fb^-1")
    return value


def read_flag(text: str) -> bool:
    """A true/false switch."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("must be 1 or 0")


def read_choice(choices: Mapping[str, str]):
    """A reader accepting one of the keys of `choices`."""

    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return read


READERS = {
    "dataset": read_dataset_name,
    "x": read_expression,
    "cut": read_expression,
    "weight": read_expression,
    "bins": read_bins,
    "range": read_range,
    "logy": read_flag,
    "density": read_flag,
    "fit": read_choice({"none": "", **SIGNALS}),
    "background": read_choice(BACKGROUNDS),
    "fit_range": read_range,
    "fix_width": read_flag,
    "add": read_dataset_names,
    "stack_files": read_flag,
    "lumi": read_luminosity,
}
