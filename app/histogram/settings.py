"""The state of one histogram: what the page shows, links carry, exercise steps and the command
line set. One frozen object, replaced as a whole; everything else reads it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.histogram.exercises import Step
from app.histogram.fitting import Z_WIDTH
from app.histogram.links import LinkSettings

COMBINE_MODES = ("sum", "stack")


@dataclass(frozen=True)
class Overlay:
    """A selection added to the plot: a dataset and cut drawn with the current variable."""

    dataset: str
    cut: str
    weight: str
    label: str
    style: str


@dataclass(frozen=True)
class PlotSettings:
    """Dataset, expressions, binning, style, fit and added selections of one plot.

    `dataset` and `combine` are dataset keys (`file:NAME`, `upload:NAME` on the page, paths on
    the command line); the datasets in `combine` fill the same histogram as `dataset`, summed or
    stacked by dataset (`combine_mode`).
    """

    dataset: str = ""
    x: str = ""
    cut: str = ""
    weight: str = ""
    stack: str = ""
    bins: int = 50
    low: float | None = None
    high: float | None = None
    auto_range: bool = True
    logy: bool = False
    density: bool = False
    fit: str = ""
    background: str = "none"
    fit_range: tuple[float | None, float | None] = (None, None)
    fixed_width: float | None = None  # a Breit-Wigner's or Voigtian's width held fixed
    overlays: tuple[Overlay, ...] = ()
    combine: tuple[str, ...] = ()
    combine_mode: str = "sum"
    luminosity: float | None = None  # fb^-1: simulation scaled to it, data drawn over it

    def replace(self, **changes: object) -> PlotSettings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset that fills the main histogram, the chosen one first."""
        return (self.dataset, *(key for key in self.combine if key != self.dataset))

    @property
    def width_held(self) -> float | None:
        """The width the chosen fit holds fixed, if it has a width."""
        return self.fixed_width if self.fit in ("bw", "voigt") else None

    def with_link(self, link: LinkSettings) -> PlotSettings:
        """These settings with what a (validated) link gives; the rest is kept."""
        changes: dict[str, object] = {}
        for name in ("x", "cut", "bins", "logy", "density", "background", "weight"):
            value = getattr(link, name)
            if value is not None:
                changes[name] = value
        if link.range is not None:
            changes |= {"low": link.range[0], "high": link.range[1], "auto_range": False}
        if link.fit is not None:
            changes["fit"] = "" if link.fit == "none" else link.fit
        if link.fit_range is not None:
            changes["fit_range"] = link.fit_range
        if link.add is not None:
            changes["combine"] = tuple(f"file:{name}" for name in link.add)
        if link.stack_files is not None:
            changes["combine_mode"] = "stack" if link.stack_files else "sum"
        if link.lumi is not None:
            changes["luminosity"] = link.lumi
        if link.fix_width is not None:
            changes["fixed_width"] = Z_WIDTH if link.fix_width else None
        return self.replace(**changes)

    def with_step(self, step: Step, dataset: str) -> PlotSettings:
        """The settings an exercise step suggests, on its dataset (added selections go)."""
        changes: dict[str, object] = {
            "dataset": dataset,
            "cut": step.cut,
            "weight": step.weight,
            "stack": "",
            "logy": step.logy,
            "density": step.density,
            "fit": step.fit,
            "background": step.background,
            "fit_range": step.fit_range or (None, None),
            "auto_range": step.range is None,
            "overlays": (),
            "combine": (),
        }
        if step.x:
            changes["x"] = step.x
        if step.bins:
            changes["bins"] = step.bins
        if step.range:
            changes["low"], changes["high"] = step.range
        return self.replace(**changes)

    def link(self, file_name: str | None) -> LinkSettings:
        """The link of these settings (`file_name`: the data file, None for an upload)."""
        low, high = self.fit_range
        return LinkSettings(
            dataset=file_name,
            x=self.x,
            cut=self.cut,
            weight=self.weight,
            bins=self.bins,
            range=None if self.low is None or self.high is None else (self.low, self.high),
            logy=self.logy,
            density=self.density,
            fit=self.fit or None,
            background=self.background if self.fit else None,
            fit_range=None if low is None or high is None or low >= high else (low, high),
            fix_width=True if self.width_held is not None else None,
            add=tuple(
                name for kind, _, name in (k.partition(":") for k in self.combine) if kind == "file"
            )
            or None,
            stack_files=True if self.combine and self.combine_mode == "stack" else None,
            lumi=self.luminosity,
        )
