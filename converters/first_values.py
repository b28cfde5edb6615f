"""The first element of a list per event, read without building the whole jagged array.

PHYSLITE keeps hundreds of MC weights per event (`EventInfoAuxDyn.mcEventWeights`, 319 in the
real example); the columns need only the first. For a TTree branch of `std::vector<number>`
the value sits right after each entry's header in the decompressed basket, so it is picked out
of the basket bytes directly; the rest of the list is never copied into an array.
"""

from __future__ import annotations

import numpy as np
import uproot
from uproot.interpretation.jagged import AsJagged
from uproot.interpretation.numerical import AsDtype


class AsFirstOfList(AsDtype):
    """uproot interpretation: per entry, the first value of a jagged numeric branch (float64)."""

    def __init__(self, jagged: AsJagged, default: float):
        super().__init__(jagged.content.from_dtype, np.dtype(np.float64))
        self._header_bytes = jagged.header_bytes
        self._default = default

    @property
    def cache_key(self) -> str:
        return f"AsFirstOfList({self._from_dtype},{self._header_bytes},{self._default})"

    def basket_array(
        self, data, byte_offsets, basket, branch, context, cursor_offset, library, options
    ):
        """The first value of each entry of one basket, `default` for empty lists."""
        itemsize = self._from_dtype.itemsize
        if byte_offsets is None:  # lists sized by a counter branch, without headers
            byte_offsets = np.zeros(len(basket.counts) + 1, dtype=np.int64)
            np.cumsum(np.multiply(basket.counts, itemsize), out=byte_offsets[1:])
        byte_offsets = np.asarray(byte_offsets, dtype=np.int64)
        starts = byte_offsets[:-1] + self._header_bytes
        present = byte_offsets[1:] - starts >= itemsize
        output = np.full(len(starts), self._default, dtype=np.float64)
        picked = starts[present, np.newaxis] + np.arange(itemsize)
        output[present] = np.asarray(data)[picked].reshape(-1).view(self._from_dtype)
        return output


def first_interpretation(branch, default: float) -> AsFirstOfList | None:
    """The first-value interpretation for a branch of numeric lists, None for other branches."""
    interpretation = branch.interpretation
    if not isinstance(interpretation, AsJagged):
        return None
    content = interpretation.content
    if type(content) is not AsDtype or content.from_dtype.shape != ():
        return None
    return AsFirstOfList(interpretation, default)


def first_of_lists(offsets: np.ndarray, values: np.ndarray, default: float) -> np.ndarray:
    """The first value of every list as float64, `default` for empty lists."""
    present = np.diff(offsets) > 0
    firsts = values[np.where(present, offsets[:-1], 0)] if len(values) else default
    return np.where(present, firsts, default).astype(np.float64)


def tree_first_values(
    tree: uproot.TTree, name: str, start: int, stop: int, default: float
) -> np.ndarray | None:
    """The first value per entry of a TTree list branch, None where the fast path does not fit."""
    interpretation = first_interpretation(tree[name], default)
    if interpretation is None:
        return None
    return tree[name].array(
        interpretation, entry_start=start, entry_stop=stop, library="np", array_cache=None
    )
