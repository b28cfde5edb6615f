"""The whole toy sample in memory: truth generation followed by detector reconstruction."""

from __future__ import annotations

import numpy as np

from sample_events.reconstruction import RecoEvents, reconstruct
from sample_events.truth import TruthEvents, generate_truth

DEFAULT_EVENTS = 3000
DEFAULT_SEED = 20240613


def simulate(
    n_events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED
) -> tuple[TruthEvents, RecoEvents]:
    """Truth and reconstructed events; the same arguments always give the same events."""
    if n_events < 1:
        raise ValueError(f"n_events must be positive, not {n_events}")
    rng = np.random.Generator(np.random.PCG64(seed))
    truth = generate_truth(rng, n_events)
    return truth, reconstruct(rng, truth)
