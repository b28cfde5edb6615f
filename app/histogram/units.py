"""Units of columns known by their name: pt/e/m/met in GeV, eta without unit, phi in rad."""

from __future__ import annotations

import re

# Looked up for each underscore-separated token of a name, last token first, digits removed,
# so that "lep1_pt", "pt1", "Muon_pt", "m_ll" and "met_phi" all resolve.
TOKEN_UNITS: dict[str, str] = {
    "pt": "GeV",
    "e": "GeV",
    "energy": "GeV",
    "et": "GeV",
    "m": "GeV",
    "mass": "GeV",
    "met": "GeV",
    "mt": "GeV",
    "px": "GeV",
    "py": "GeV",
    "pz": "GeV",
    "p": "GeV",
    "ht": "GeV",
    "sumet": "GeV",
    "eta": "",
    "y": "",
    "phi": "rad",
    "q": "",
    "charge": "",
    "n": "",
    "btag": "",
    "flavour": "",
    "weight": "",
}

# Functions whose result carries an energy unit whatever the arguments are called.
GEV_FUNCTIONS = ("inv_mass", "inv_mass_e", "mt")


def column_unit(name: str) -> str | None:
    """The unit of a column by its name ("" for dimensionless), or None when unknown."""
    tokens = [re.sub(r"\d+", "", token).lower() for token in name.split("_")]
    for token in reversed(tokens):
        if token in TOKEN_UNITS:
            return TOKEN_UNITS[token]
    return None


def expression_unit(text: str) -> str | None:
    """The unit of an expression: that of a bare column, GeV for mass helpers, else None."""
    stripped = text.strip()
    if re.fullmatch(r"[A-Za-z_]\w*", stripped):
        return column_unit(stripped)
    if any(re.fullmatch(rf"{name}\s*\(.*\)", stripped, re.S) for name in GEV_FUNCTIONS):
        return "GeV"
    return None


def axis_label(text: str) -> str:
    """An axis title for an expression, with its unit in brackets when known and not empty."""
    unit = expression_unit(text)
    return f"{text.strip()} [{unit}]" if unit else text.strip()
