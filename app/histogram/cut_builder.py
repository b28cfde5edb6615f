"""A cut built from menus (leptons, flavour, charge, jets, b-jets, MET, mass window), written as
an expression of the dataset's own columns, so that students see the expression language.

Each quantity is looked for under the names the usual files give it: our columns, the education
ntuples' jagged `lep_*` branches, NanoAOD, the CMS dimuon CSV. A menu whose quantity the dataset
does not have is left out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

# Candidate columns of each quantity, the first one present wins.
LEPTON_COUNTS = ("n_leptons", "lep_n", "lep_pt_n", "nLepton")
ELECTRON_MUON_COUNTS = (("n_electrons", "n_muons"), ("nElectron", "nMuon"))
LEADING_FLAVOURS = (("lep1_flavour", "lep2_flavour"), ("lep_type_1", "lep_type_2"))
LEADING_CHARGES = (
    ("lep1_charge", "lep2_charge"),
    ("lep_charge_1", "lep_charge_2"),
    ("Muon_charge_1", "Muon_charge_2"),
    ("Q1", "Q2"),
)
JET_COUNTS = ("n_jets", "jet_n", "jet_pt_n", "nJet")
BJET_COUNTS = ("n_bjets", "n_btags", "nBJet")
MISSING_ET = ("met", "met_et", "MET_pt", "MET_et", "PuppiMET_pt")
MASSES = ("m_ll", "mass", "M", "m_4l", "m_yy")

LEPTON_CHOICES = ("any", "1", "2", "at least 2", "3", "4", "at least 4")
FLAVOUR_CHOICES = ("any", "electrons", "muons", "electron and muon")
CHARGE_CHOICES = ("any", "opposite", "same")
ELECTRON, MUON = 11, 13


@dataclass(frozen=True)
class CutChoices:
    """What the menus say; "any" (or None) leaves a quantity free."""

    leptons: str = "any"
    flavour: str = "any"
    charge: str = "any"
    min_jets: int | None = None
    min_bjets: int | None = None
    min_met: float | None = None
    mass_window: tuple[float, float] | None = None


def first_present(candidates: tuple, names: Collection[str]):
    """The first candidate (a name or a tuple of names) whose names all exist, else None."""
    for candidate in candidates:
        wanted = candidate if isinstance(candidate, tuple) else (candidate,)
        if all(name in names for name in wanted):
            return candidate
    return None


def available_menus(names: Collection[str]) -> dict[str, str | tuple | None]:
    """The column (or columns) each menu writes its condition with, None when absent."""
    return {
        "leptons": first_present(LEPTON_COUNTS, names),
        "flavour": first_present(ELECTRON_MUON_COUNTS, names)
        or first_present(LEADING_FLAVOURS, names),
        "charge": first_present(LEADING_CHARGES, names),
        "jets": first_present(JET_COUNTS, names),
        "bjets": first_present(BJET_COUNTS, names),
        "met": first_present(MISSING_ET, names),
        "mass": first_present(MASSES, names),
    }


def lepton_condition(column: str, choice: str) -> str:
    """E.g. `n_leptons == 2` or `n_leptons >= 4`."""
    if choice.startswith("at least "):
        return f"{column} >= {choice.removeprefix('at least ')}"
    return f"{column} == {choice}"


def flavour_condition(columns: tuple[str, str], choice: str) -> str:
    """Electrons only, muons only, or one of each: from counts, or the two leading leptons."""
    first, second = columns
    if first in {pair[0] for pair in ELECTRON_MUON_COUNTS}:
        electrons, muons = columns
        return {
            "electrons": f"{electrons} >= 1 & {muons} == 0",
            "muons": f"{muons} >= 1 & {electrons} == 0",
            "electron and muon": f"{electrons} >= 1 & {muons} >= 1",
        }[choice]
    if choice == "electron and muon":
        return f"abs({first}) + abs({second}) == {ELECTRON + MUON}"
    code = ELECTRON if choice == "electrons" else MUON
    return f"abs({first}) == {code} & abs({second}) == {code}"


def build_cut(choices: CutChoices, names: Collection[str], plotted: str = "") -> str:
    """The cut expression of the menus' choices over the dataset's columns ("" for none); a mass
    window without a mass column applies to the plotted expression (e.g. an `inv_mass(...)`)."""
    menus = available_menus(names)
    if menus["mass"] is None and plotted.strip():
        menus["mass"] = plotted.strip() if plotted.strip() in names else f"({plotted.strip()})"
    parts = []
    if choices.leptons != "any" and menus["leptons"]:
        parts.append(lepton_condition(menus["leptons"], choices.leptons))
    if choices.flavour != "any" and menus["flavour"]:
        parts.append(flavour_condition(menus["flavour"], choices.flavour))
    if choices.charge != "any" and menus["charge"]:
        first, second = menus["charge"]
        parts.append(f"{first} * {second} {'<' if choices.charge == 'opposite' else '>'} 0")
    if choices.min_jets is not None and menus["jets"]:
        parts.append(f"{menus['jets']} >= {choices.min_jets}")
    if choices.min_bjets is not None and menus["bjets"]:
        parts.append(f"{menus['bjets']} >= {choices.min_bjets}")
    if choices.min_met is not None and menus["met"]:
        parts.append(f"{menus['met']} > {choices.min_met:g}")
    if choices.mass_window is not None and menus["mass"]:
        low, high = choices.mass_window
        parts.append(f"{menus['mass']} > {low:g} & {menus['mass']} < {high:g}")
    return " & ".join(parts)
