"""What a student has picked: the focused physics object and the objects added to the mass.

A click on a line or box that belongs to a physics object (one of a muon's four tracks, an
electron's track or cluster, a photon's cluster) stands for that physics object: the info panel
and the invariant mass always use the object's own four-momentum, never a track's. Which track
and cluster belongs to which object comes from the event's Phoenix links ("LinkedTracks",
"LinkedClusters": "COLLECTION:INDEX").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import param

from app.display.events import collections
from app.display.physics import can_add_to_mass, invariant_mass, object_info
from app.display.scene import EventScene, Layer

# Link fields of Phoenix compound objects, and the Phoenix type they point into.
LINK_TYPES = {"LinkedTracks": "Tracks", "LinkedClusters": "CaloClusters"}
# Compound types whose objects own the tracks and clusters they link to (first claim wins).
OWNER_TYPES = ("Muons", "Electrons", "Photons")
ObjectKey = tuple[str, int]  # (layer key, object index)


def owners_of(event: Mapping[str, Any], scene: EventScene) -> dict[ObjectKey, ObjectKey]:
    """(track or cluster layer, index) -> (physics object layer, index), from the event's links."""
    present = {layer.key: layer.size for layer in scene.layers}
    owners: dict[ObjectKey, ObjectKey] = {}
    for type_name in OWNER_TYPES:
        for name, items in collections(event, type_name).items():
            owner_key = f"{type_name}/{name}"
            if owner_key not in present:
                continue
            for index, item in enumerate(items):
                for part in linked_parts(item):
                    if part[0] in present and part[1] < present[part[0]]:
                        owners.setdefault(part, (owner_key, index))
    # A refitted track links to the track it was made from (GSF -> inner detector): same owner.
    for name, items in collections(event, "Tracks").items():
        for index, item in enumerate(items):
            owner = owners.get((f"Tracks/{name}", index))
            for part in linked_parts(item) if owner is not None else ():
                if part[0] in present and part[1] < present[part[0]]:
                    owners.setdefault(part, owner)
    return owners


def linked_parts(item: Any) -> list[ObjectKey]:
    """(layer key, index) of every track and cluster one Phoenix object links to."""
    if not isinstance(item, Mapping):
        return []
    parts = []
    for field, type_name in LINK_TYPES.items():
        links = item.get(field)
        for link in links if isinstance(links, list) else ():
            if isinstance(link, str) and ":" in link:
                collection, _, position = link.rpartition(":")
                if position.isdigit():
                    parts.append((f"{type_name}/{collection}", int(position)))
    return parts


class Selection(param.Parameterized):
    """The shown event's picked objects: explicit state that the panels and the 3D view follow."""

    focus = param.Parameter(default=None, doc="(layer key, index) of the object in the info panel")
    picked_part = param.Parameter(
        default=None, doc="(layer key, index) of the line or box clicked for the focused object"
    )
    chosen = param.List(default=[], doc="(layer key, index) of the objects added to the mass")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scene: EventScene | None = None
        self.owners: dict[ObjectKey, ObjectKey] = {}

    def reset(self, scene: EventScene | None, event: Mapping[str, Any] | None = None) -> None:
        """A new event: nothing picked, and the new event's tracks and clusters mapped to owners."""
        self.scene = scene
        self.owners = owners_of(event, scene) if scene is not None and event else {}
        self.param.update(focus=None, picked_part=None, chosen=[])

    def physics_object(self, key: str, index: int) -> ObjectKey:
        """The physics object a line or box belongs to (itself when it belongs to none)."""
        return self.owners.get((key, index), (key, index))

    def parts_of(self, owner: ObjectKey) -> list[ObjectKey]:
        """The tracks and clusters that belong to a physics object."""
        return [part for part, own in self.owners.items() if own == owner]

    def layer(self, key: str) -> Layer:
        """The shown event's layer `key`."""
        assert self.scene is not None
        return self.scene.layer(key)

    def can_add(self, item: ObjectKey) -> bool:
        """Whether an object has what the invariant mass needs."""
        return self.exists(item) and can_add_to_mass(self.layer(item[0]), item[1])

    def pick(self, key: str, index: int, add: bool = False) -> ObjectKey:
        """A click on element `index` of layer `key`: focus its physics object (and add it)."""
        target = self.physics_object(key, index)
        chosen = list(self.chosen)
        if add and self.can_add(target) and target not in chosen:
            chosen.append(target)
        part = (key, index) if target != (key, index) else None
        self.param.update(focus=target, picked_part=part, chosen=chosen)
        return target

    def set_chosen(self, item: ObjectKey, wanted: bool) -> None:
        """Add an object to the mass or take it out."""
        chosen = [other for other in self.chosen if other != item]
        if wanted and self.can_add(item):
            chosen.append(item)
        if chosen != self.chosen:
            self.chosen = chosen

    def choose(self, items: list[ObjectKey]) -> None:
        """Make `items` the chosen objects (those without a four-momentum left out)."""
        chosen = []
        for item in items:
            if item not in chosen and self.can_add(item):
                chosen.append(item)
        if chosen != self.chosen:
            self.chosen = chosen

    def exists(self, item: ObjectKey) -> bool:
        """Whether an object is in the shown event."""
        if self.scene is None:
            return False
        layers = {layer.key: layer.size for layer in self.scene.layers}
        return item[0] in layers and 0 <= item[1] < layers[item[0]]

    def add_focus(self) -> None:
        """Add the focused object to the mass."""
        if self.focus is not None:
            self.set_chosen(self.focus, True)

    def clear(self) -> None:
        """Empty the mass selection."""
        self.chosen = []

    def highlighted(self, key: str) -> frozenset[int]:
        """Objects of layer `key` drawn highlighted: the chosen ones and the focused one."""
        marked = {index for layer_key, index in self.chosen if layer_key == key}
        if self.focus is not None and self.focus[0] == key:
            marked.add(self.focus[1])
        return frozenset(marked)

    def focus_addable(self) -> bool:
        """Whether the focused object can still be added to the mass."""
        return self.focus is not None and self.can_add(self.focus) and self.focus not in self.chosen

    def focus_info(self) -> dict[str, str]:
        """The focused object's properties (and which of its parts was clicked)."""
        if self.focus is None or self.scene is None:
            return {}
        info = object_info(self.layer(self.focus[0]), self.focus[1])
        if self.picked_part is not None:
            part = self.layer(self.picked_part[0])
            info["Clicked"] = f"its {part.kind} in {part.collection}"
        return info

    def mass_gev(self) -> float:
        """Invariant mass of the chosen objects in GeV (NaN when empty or unknown)."""
        if not self.chosen or self.scene is None:
            return math.nan
        layers = [self.layer(key) for key, _ in self.chosen]
        return invariant_mass(layers, [index for _, index in self.chosen])

    def total_charge(self) -> int | None:
        """Sum of the chosen objects' charges (None when one has no charge)."""
        if not self.chosen or self.scene is None:
            return None
        charges = [float(self.layer(key).props["charge"][index]) for key, index in self.chosen]
        return int(sum(charges)) if all(math.isfinite(value) for value in charges) else None

    def chosen_lines(self) -> list[str]:
        """One line per chosen object, e.g. 'muon (AnalysisMuons), pT 26.04 GeV'."""
        lines = []
        for key, index in self.chosen:
            layer = self.layer(key)
            info = object_info(layer, index)
            lines.append(f"{info['Type']} ({layer.collection}), pT {info.get('pT', '?')}")
        return lines

    def chosen_labels(self) -> list[str]:
        """The chosen objects as 'COLLECTION:INDEX' (as Phoenix links write them)."""
        return [f"{self.layer(key).collection}:{index}" for key, index in self.chosen]
