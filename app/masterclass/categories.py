"""The masterclass categories students sort events into, read from a YAML file (no code in it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from converters.errors import EventLabError

BUNDLED_CATEGORIES = Path(__file__).with_name("categories.yaml")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_+-]{1,24}$")
MAX_LABEL = 40
MAX_CATEGORIES = 30
MAX_FILE_BYTES = 64 * 1024


class CategoryFileError(EventLabError):
    """A masterclass file that cannot be used."""


@dataclass(frozen=True)
class Category:
    """One category: its key in records and CSV files, the label students read."""

    key: str
    label: str
    charged: bool = False


@dataclass(frozen=True)
class Masterclass:
    """A masterclass: its title and its categories, in the order students see them."""

    title: str
    categories: tuple[Category, ...]

    def label(self, key: str) -> str:
        """The label of category `key` (the key itself for one no longer listed)."""
        return next((item.label for item in self.categories if item.key == key), key)

    def category(self, key: str) -> Category | None:
        """The category called `key`, if listed."""
        return next((item for item in self.categories if item.key == key), None)


def load_masterclass(path: Path | None = None) -> Masterclass:
    """The masterclass of a YAML file (the bundled one when `path` is None)."""
    path = Path(path) if path is not None else BUNDLED_CATEGORIES
    name = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CategoryFileError(f"{name} is larger than a masterclass file can be (64 kB)")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CategoryFileError(f"cannot read {name}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CategoryFileError(f"{name} is not a text file (it is not UTF-8)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CategoryFileError(f"{name} is not valid YAML{where}") from None
    return masterclass_from(data, name)


def masterclass_from(data: object, name: str) -> Masterclass:
    """A masterclass from parsed YAML, checked field by field."""
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise CategoryFileError(f"{name}: expected a 'categories' list (see the bundled file)")
    items = data["categories"]
    if not 0 < len(items) <= MAX_CATEGORIES:
        raise CategoryFileError(f"{name}: give between 1 and {MAX_CATEGORIES} categories")
    categories = [category_from(item, number, name) for number, item in enumerate(items, 1)]
    keys = [item.key for item in categories]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise CategoryFileError(f"{name}: category key {repeated[0]!r} is used twice")
    title = str(data.get("title") or "Masterclass")[: MAX_LABEL * 2]
    return Masterclass(title, tuple(categories))


def category_from(item: object, number: int, name: str) -> Category:
    """One category entry: {key, label, charged}."""
    if not isinstance(item, dict):
        raise CategoryFileError(f"{name}: category {number} must have a key and a label")
    key, label = str(item.get("key", "")).strip(), str(item.get("label", "")).strip()
    if not KEY_PATTERN.match(key):
        raise CategoryFileError(
            f"{name}: category {number} needs a key of letters, digits, '_', '+' or '-' "
            "(at most 24)"
        )
    if not label or len(label) > MAX_LABEL:
        raise CategoryFileError(
            f"{name}: category {key!r} needs a label of at most {MAX_LABEL} characters"
        )
    return Category(key, label, bool(item.get("charged", False)))
