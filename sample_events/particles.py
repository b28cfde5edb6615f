"""A flat table of generated (truth) particles: one row per particle, tagged with its event."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import vector

FINAL = 1  # a stable particle that reaches the detector
DECAYED = 2  # an intermediate resonance (Z, W, H, top), kept as the record of the decay

ELECTRON, MUON, PHOTON, GLUON = 11, 13, 22, 21
NEUTRINOS = (12, 14, 16)
BOTTOM, CHARM = 5, 4
Z_BOSON, W_BOSON, HIGGS, TOP = 23, 24, 25, 6


@dataclass(frozen=True)
class Particles:
    """Particles of many events as parallel numpy columns (MeV)."""

    event: np.ndarray
    pdg: np.ndarray
    status: np.ndarray
    hadronic: np.ndarray  # a decayed resonance whose decay products are quarks
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    @classmethod
    def from_p4(
        cls,
        event: np.ndarray,
        pdg: np.ndarray | int,
        p4: vector.MomentumNumpy4D,
        status: int = FINAL,
        hadronic: np.ndarray | bool = False,
    ) -> Particles:
        """Rows for four-momenta `p4` of the given events and PDG ids."""
        n = len(event)
        return cls(
            event=np.asarray(event, dtype=np.int64),
            pdg=np.broadcast_to(np.asarray(pdg, dtype=np.int32), (n,)).copy(),
            status=np.full(n, status, dtype=np.int8),
            hadronic=np.broadcast_to(np.asarray(hadronic, dtype=bool), (n,)).copy(),
            px=np.asarray(p4.px, dtype=np.float64),
            py=np.asarray(p4.py, dtype=np.float64),
            pz=np.asarray(p4.pz, dtype=np.float64),
            e=np.asarray(p4.E, dtype=np.float64),
        )

    @classmethod
    def concatenate(cls, parts: list[Particles]) -> Particles:
        """All rows of `parts`, in order."""
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def __len__(self) -> int:
        return len(self.event)

    def select(self, mask: np.ndarray) -> Particles:
        """The rows where `mask` is true (or at the given indices)."""
        return Particles(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def shifted(self, offset: int) -> Particles:
        """The same rows with event indices moved by `offset`."""
        return Particles(
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "event"},
            event=self.event + offset,
        )

    def renumbered(self, new_index: np.ndarray) -> Particles:
        """The rows with event i renamed new_index[i], sorted by the new event index (stable)."""
        renamed = Particles(
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "event"},
            event=new_index[self.event],
        )
        return renamed.select(np.argsort(renamed.event, kind="stable"))

    @property
    def p4(self) -> vector.MomentumNumpy4D:
        """The four-momenta as a vector array."""
        return vector.array({"px": self.px, "py": self.py, "pz": self.pz, "E": self.e})

    @property
    def charge(self) -> np.ndarray:
        """Electric charge of leptons (e-, mu- have positive PDG ids and charge -1); 0 otherwise."""
        lepton = np.isin(np.abs(self.pdg), (ELECTRON, MUON))
        return np.where(lepton, -np.sign(self.pdg), 0).astype(np.int8)

    def is_final(self, *pdg_abs: int) -> np.ndarray:
        """Mask of final-state rows whose |PDG id| is one of `pdg_abs`."""
        return (self.status == FINAL) & np.isin(np.abs(self.pdg), pdg_abs)

    def event_sum(self, mask: np.ndarray, n_events: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-event sums of px and py over the rows in `mask`."""
        event = self.event[mask]
        return (
            np.bincount(event, weights=self.px[mask], minlength=n_events),
            np.bincount(event, weights=self.py[mask], minlength=n_events),
        )
