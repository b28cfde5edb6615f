"""The generated (truth) content of the whole sample: processes mixed and shuffled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_events.particles import NEUTRINOS, Particles
from sample_events.processes import PROCESSES, initial_state_radiation


@dataclass(frozen=True)
class TruthEvents:
    """Truth particles of all events in file order, with per-event bookkeeping."""

    particles: Particles  # hard process and radiation, grouped by event
    channel: np.ndarray  # invented mcChannelNumber of each event
    serial: np.ndarray  # index of the event among those of its process
    soft_px: np.ndarray  # unclustered recoil, MeV
    soft_py: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.channel)

    def neutrino_sum(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-event px, py of all neutrinos: the true missing transverse momentum."""
        return self.particles.event_sum(self.particles.is_final(*NEUTRINOS), self.n_events)


def process_counts(n_events: int) -> np.ndarray:
    """Events per process: the fractions of PROCESSES, rounded by largest remainder."""
    fractions = np.array([p.fraction for p in PROCESSES])
    exact = n_events * fractions / fractions.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: n_events - counts.sum()]] += 1
    return counts


def generate_truth(rng: np.random.Generator, n_events: int) -> TruthEvents:
    """Generate every process, add radiation, and shuffle so that the processes interleave."""
    counts = process_counts(n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    hard = Particles.concatenate(
        [
            process.generate(rng, int(count)).shifted(int(offset))
            for process, count, offset in zip(PROCESSES, counts, offsets, strict=True)
        ]
    )
    radiation, soft_px, soft_py = initial_state_radiation(rng, hard, n_events)
    channel = np.repeat([p.channel for p in PROCESSES], counts).astype(np.uint32)
    serial = np.concatenate([np.arange(count) for count in counts])
    position = rng.permutation(n_events)  # event i of the generation goes to row position[i]
    order = np.argsort(position)
    particles = Particles.concatenate([hard, radiation]).renumbered(position)
    return TruthEvents(
        particles=particles,
        channel=channel[order],
        serial=serial[order],
        soft_px=soft_px[order],
        soft_py=soft_py[order],
    )
