"""The "Detector" list: every detector group's toggle and opacity in one page component.

A click on a group's name switches it, as in the physics-object list; one browser-side model
replaces a checkbox and a slider per group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

DETECTOR_LIST_JS = Path(__file__).with_name("detector_list.js")


def clean_opacity(value: Any, default: float) -> float:
    """An opacity sent by the page, within [0, 1] (anything but a number keeps `default`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return min(max(float(value), 0.0), 1.0)


@lru_cache(maxsize=1)
def detector_list_class() -> type:
    """The JSComponent class (made on first use: importing panel is slow)."""
    import panel as pn
    import param

    class DetectorList(pn.custom.JSComponent):
        """Per detector group, under its system's heading: a show toggle and an opacity."""

        rows = param.List(default=[], doc="{'name', 'system'} per group, in drawing order.")
        shown = param.Dict(default={}, doc="Whether each group is drawn.")
        opacity = param.Dict(default={}, doc="Each group's surface opacity (0-1).")

        _esm = DETECTOR_LIST_JS

        def on_change(
            self,
            on_toggle: Callable[[str, bool], None],
            on_opacity: Callable[[str, float], None],
        ) -> None:
            """Call `on_toggle(group, shown)` / `on_opacity(group, value)` for what changed."""
            names = {row["name"] for row in self.rows}

            def toggled(event: Any) -> None:
                for name in names:
                    new = event.new.get(name)
                    if isinstance(new, bool) and new != event.old.get(name):
                        on_toggle(name, new)

            def faded(event: Any) -> None:
                for name in names:
                    old = event.old.get(name)
                    new = clean_opacity(event.new.get(name), old if old is not None else 0.0)
                    if new != old:
                        on_opacity(name, new)

            self.param.watch(toggled, "shown")
            self.param.watch(faded, "opacity")

    return DetectorList


def detector_list(groups: Iterable[tuple[str, str, bool, float]], **params: Any) -> Any:
    """The list of `(name, system, shown, opacity)` groups."""
    groups = list(groups)
    return detector_list_class()(
        rows=[{"name": name, "system": system} for name, system, _, _ in groups],
        shown={name: shown for name, _, shown, _ in groups},
        opacity={name: opacity for name, _, _, opacity in groups},
        **params,
    )
