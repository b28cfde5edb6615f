"""The cut builder's menus on the page: choices in, an expression written into the cut box."""

from __future__ import annotations

from collections.abc import Callable, Collection

import panel as pn

from app.histogram.cut_builder import (
    CHARGE_CHOICES,
    FLAVOUR_CHOICES,
    LEPTON_CHOICES,
    CutChoices,
    available_menus,
    build_cut,
)


class CutBuilder:
    """Menus for lepton number, flavour, charge, jets, b-jets, MET and a mass window."""

    def __init__(self, write: Callable[[str], None], plotted: Callable[[], str]) -> None:
        self.write = write
        self.plotted = plotted  # the plotted expression, for a mass window without a mass column
        self.names: Collection[str] = ()
        self.leptons = pn.widgets.Select(label="Leptons", options=list(LEPTON_CHOICES), width=135)
        self.flavour = pn.widgets.Select(label="Flavour", options=list(FLAVOUR_CHOICES), width=135)
        self.charge = pn.widgets.Select(label="Charges", options=list(CHARGE_CHOICES), width=135)
        self.jets = pn.widgets.IntInput(label="Jets at least", value=None, start=0, width=135)
        self.bjets = pn.widgets.IntInput(label="b-jets at least", value=None, start=0, width=135)
        self.met = pn.widgets.FloatInput(label="MET above (GeV)", value=None, start=0, width=135)
        self.mass_low = pn.widgets.FloatInput(label="Mass from (GeV)", value=None, width=135)
        self.mass_high = pn.widgets.FloatInput(label="Mass to (GeV)", value=None, width=135)
        self.button = pn.widgets.Button(label="Write the cut", width=135)
        self.button.on_click(lambda event: self.write(self.cut()))
        self.layout = pn.Card(
            pn.pane.Markdown(
                "Choose, then press the button: the cut appears in the box above, written in "
                "the expression language.",
                margin=(0, 10),
            ),
            pn.Row(self.leptons, self.flavour),
            pn.Row(self.charge, self.met),
            pn.Row(self.jets, self.bjets),
            pn.Row(self.mass_low, self.mass_high),
            self.button,
            title="Cut builder",
            collapsed=True,
            sizing_mode="stretch_width",
        )

    def choices(self) -> CutChoices:
        """What the menus say now."""
        low, high = self.mass_low.value, self.mass_high.value
        window = (low, high) if low is not None and high is not None and low < high else None
        return CutChoices(
            leptons=self.leptons.value,
            flavour=self.flavour.value,
            charge=self.charge.value,
            min_jets=self.jets.value,
            min_bjets=self.bjets.value,
            min_met=self.met.value,
            mass_window=window,
        )

    def cut(self) -> str:
        """The cut of the current choices over the dataset's columns."""
        return build_cut(self.choices(), self.names, self.plotted())

    def show_for(self, names: Collection[str]) -> None:
        """Offer only the menus the dataset has columns for."""
        self.names = names
        menus = available_menus(names)
        for key, widget in (
            ("leptons", self.leptons),
            ("flavour", self.flavour),
            ("charge", self.charge),
            ("jets", self.jets),
            ("bjets", self.bjets),
            ("met", self.met),
        ):
            widget.disabled = menus[key] is None
