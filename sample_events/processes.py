"""Hard processes of the toy sample: each makes the truth particles of n events (MeV)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import vector

from sample_events import physics as ph
from sample_events.particles import (
    BOTTOM,
    CHARM,
    DECAYED,
    ELECTRON,
    FINAL,
    GLUON,
    HIGGS,
    MUON,
    PHOTON,
    TOP,
    W_BOSON,
    Z_BOSON,
    Particles,
)

GEV = ph.GEV
W_PLUS_FRACTION = 0.58  # W+ / (W+ + W-) at 13 TeV, roughly
TTBAR_DILEPTON_FRACTION = 0.3  # of the generated ttbar events; the rest are lepton+jets
CHARM_FRACTION = 0.5  # W -> c s versus W -> u d
H4L_MODES = np.array([0.25, 0.25, 0.5])  # 4e, 4mu, 2e2mu


@dataclass(frozen=True)
class Process:
    """One simulated process: its name, invented MC channel number, share and generator."""

    name: str
    channel: int
    fraction: float
    description: str
    generate: Callable[[np.random.Generator, int], Particles]


def _lepton_mass(flavour: np.ndarray | int) -> np.ndarray:
    """Mass of the charged lepton of |PDG id| 11 or 13."""
    return np.where(np.asarray(flavour) == ELECTRON, ph.ELECTRON_MASS, ph.MUON_MASS)


def _random_flavour(rng: np.random.Generator, n: int) -> np.ndarray:
    """Electron or muon with equal probability."""
    return np.where(rng.uniform(size=n) < 0.5, ELECTRON, MUON)


def _lepton_pair(
    rng: np.random.Generator, boson: vector.MomentumNumpy4D, flavour: np.ndarray, cos_theta
) -> Particles:
    """The l- and l+ of a neutral boson decay, for events 0..n-1."""
    events = np.arange(len(boson))
    mass = _lepton_mass(flavour)
    minus, plus = ph.two_body_decay(rng, boson, mass, mass, cos_theta)
    return Particles.concatenate(
        [Particles.from_p4(events, flavour, minus), Particles.from_p4(events, -flavour, plus)]
    )


def z_to_leptons(rng: np.random.Generator, n: int, flavour: int) -> Particles:
    """Drell-Yan Z -> l l with 66 < m_ll < 116 GeV."""
    mass = ph.breit_wigner_mass(rng, n, ph.Z_MASS, ph.Z_WIDTH, 66 * GEV, 116 * GEV)
    z = ph.resonance(rng, mass, pt_scale=10 * GEV, plateau=2.0, spread=0.8)
    leptons = _lepton_pair(rng, z, np.full(n, flavour), ph.vector_boson_cos_theta(rng, n))
    return Particles.concatenate([Particles.from_p4(np.arange(n), Z_BOSON, z, DECAYED), leptons])


def _higgs(rng: np.random.Generator, n: int) -> vector.MomentumNumpy4D:
    """Gluon-fusion Higgs bosons (narrow line shape, harder pT than the Z)."""
    window = 0.1 * GEV
    mass = ph.breit_wigner_mass(
        rng, n, ph.H_MASS, ph.H_WIDTH, ph.H_MASS - window, ph.H_MASS + window
    )
    return ph.resonance(rng, mass, pt_scale=30 * GEV, plateau=1.2, spread=0.9)


def higgs_to_four_leptons(rng: np.random.Generator, n: int) -> Particles:
    """H -> Z Z* -> 4l in the 4e, 4mu and 2e2mu modes."""
    events = np.arange(n)
    higgs = _higgs(rng, n)
    m1, m2 = ph.zz_star_masses(rng, n)
    z1, z2 = ph.two_body_decay(rng, higgs, m1, m2, ph.isotropic_cos_theta(rng, n))
    mode = rng.choice(3, size=n, p=H4L_MODES)
    electrons_first = rng.uniform(size=n) < 0.5
    flavour1 = np.where(mode == 0, ELECTRON, np.where(mode == 1, MUON, 0))
    flavour2 = flavour1.copy()
    mixed = mode == 2
    flavour1[mixed] = np.where(electrons_first[mixed], ELECTRON, MUON)
    flavour2[mixed] = np.where(electrons_first[mixed], MUON, ELECTRON)
    return Particles.concatenate(
        [
            Particles.from_p4(events, HIGGS, higgs, DECAYED),
            Particles.from_p4(events, Z_BOSON, z1, DECAYED),
            Particles.from_p4(events, Z_BOSON, z2, DECAYED),
            _lepton_pair(rng, z1, flavour1, ph.isotropic_cos_theta(rng, n)),
            _lepton_pair(rng, z2, flavour2, ph.isotropic_cos_theta(rng, n)),
        ]
    )


def higgs_to_photons(rng: np.random.Generator, n: int) -> Particles:
    """H -> gamma gamma."""
    events = np.arange(n)
    higgs = _higgs(rng, n)
    first, second = ph.two_body_decay(rng, higgs, 0.0, 0.0, ph.isotropic_cos_theta(rng, n))
    return Particles.concatenate(
        [
            Particles.from_p4(events, HIGGS, higgs, DECAYED),
            Particles.from_p4(events, PHOTON, first),
            Particles.from_p4(events, PHOTON, second),
        ]
    )


def w_decay(
    rng: np.random.Generator,
    w: vector.MomentumNumpy4D,
    charge: np.ndarray,
    hadronic: np.ndarray,
    cos_theta: np.ndarray,
) -> Particles:
    """W -> l nu (e or mu) or W -> q q' (u d or c s), per event, for events 0..n-1."""
    n = len(w)
    events = np.arange(n)
    flavour = _random_flavour(rng, n)
    up_type = np.where(rng.uniform(size=n) < CHARM_FRACTION, CHARM, 2)
    down_type = np.where(up_type == CHARM, 3, 1)
    # W+ -> l+ nu or u dbar; W- -> l- nubar or d ubar: the first daughter carries the charge.
    first_pdg = np.where(hadronic, charge * up_type, -charge * flavour)
    second_pdg = np.where(hadronic, -charge * down_type, charge * (flavour + 1))
    first_mass = np.where(
        hadronic, np.where(up_type == CHARM, ph.C_QUARK_MASS, 0.0), _lepton_mass(flavour)
    )
    first, second = ph.two_body_decay(rng, w, first_mass, 0.0, cos_theta)
    return Particles.concatenate(
        [Particles.from_p4(events, first_pdg, first), Particles.from_p4(events, second_pdg, second)]
    )


def w_to_lepton_neutrino(rng: np.random.Generator, n: int) -> Particles:
    """Inclusive W -> e nu and W -> mu nu, W+ and W-."""
    charge = np.where(rng.uniform(size=n) < W_PLUS_FRACTION, 1, -1)
    mass = ph.breit_wigner_mass(rng, n, ph.W_MASS, ph.W_WIDTH, 50 * GEV, 150 * GEV)
    w = ph.resonance(rng, mass, pt_scale=10 * GEV, plateau=2.0, spread=0.8)
    leptons = w_decay(rng, w, charge, np.zeros(n, bool), ph.vector_boson_cos_theta(rng, n))
    return Particles.concatenate(
        [Particles.from_p4(np.arange(n), charge * W_BOSON, w, DECAYED), leptons]
    )


def _top_decay(
    rng: np.random.Generator, top: vector.MomentumNumpy4D, sign: int, hadronic: np.ndarray
) -> Particles:
    """t -> W+ b (sign +1) or tbar -> W- bbar (sign -1), with the W decayed."""
    n = len(top)
    events = np.arange(n)
    w_mass = ph.breit_wigner_mass(
        rng, n, ph.W_MASS, ph.W_WIDTH, 50 * GEV, np.asarray(top.mass) - ph.B_QUARK_MASS - GEV
    )
    w, b = ph.two_body_decay(rng, top, w_mass, ph.B_QUARK_MASS, ph.isotropic_cos_theta(rng, n))
    charge = np.full(n, sign)
    return Particles.concatenate(
        [
            Particles.from_p4(events, sign * TOP, top, DECAYED, hadronic),
            Particles.from_p4(events, sign * W_BOSON, w, DECAYED, hadronic),
            Particles.from_p4(events, sign * BOTTOM, b),
            w_decay(rng, w, charge, hadronic, ph.isotropic_cos_theta(rng, n)),
        ]
    )


def top_pairs(rng: np.random.Generator, n: int) -> Particles:
    """ttbar in the lepton+jets and dilepton (e, mu) modes; spin correlations are ignored."""
    window = 15 * GEV
    low, high = ph.TOP_MASS - window, ph.TOP_MASS + window
    top_mass = ph.breit_wigner_mass(rng, n, ph.TOP_MASS, ph.TOP_WIDTH, low, high)
    antitop_mass = ph.breit_wigner_mass(rng, n, ph.TOP_MASS, ph.TOP_WIDTH, low, high)
    pair_mass = top_mass + antitop_mass + rng.gamma(1.6, 90 * GEV, n)
    system = ph.resonance(rng, pair_mass, pt_scale=50 * GEV, plateau=0.6, spread=0.7)
    top, antitop = ph.two_body_decay(
        rng, system, top_mass, antitop_mass, ph.isotropic_cos_theta(rng, n)
    )
    dilepton = rng.uniform(size=n) < TTBAR_DILEPTON_FRACTION
    top_hadronic = rng.uniform(size=n) < 0.5
    return Particles.concatenate(
        [
            _top_decay(rng, top, +1, ~dilepton & top_hadronic),
            _top_decay(rng, antitop, -1, ~dilepton & ~top_hadronic),
        ]
    )


def initial_state_radiation(
    rng: np.random.Generator, hard: Particles, n_events: int
) -> tuple[Particles, np.ndarray, np.ndarray]:
    """Jets and unclustered soft activity that balance the hard system in the transverse plane.

    Returns the radiated partons and the px, py of the soft recoil left outside any jet.
    """
    hard_px, hard_py = hard.event_sum(hard.status == FINAL, n_events)
    recoil_px, recoil_py = -hard_px, -hard_py
    recoil_pt = np.hypot(recoil_px, recoil_py)
    # A hard recoil always makes at least one jet; softer ones may stay unclustered.
    hard_recoil = recoil_pt > 20 * GEV
    n_jets = np.minimum(hard_recoil + rng.poisson(0.2 + recoil_pt / (60 * GEV)), 4)
    jet_share = np.where(n_jets > 0, rng.uniform(0.85, 0.97, n_events), 0.0)
    event = np.repeat(np.arange(n_events), n_jets)
    kick = rng.normal(0.0, 8 * GEV, (2, len(event)))
    per_event = np.maximum(n_jets, 1)
    # The random kicks cancel within each event, so the jets sum to jet_share * recoil.
    kick_x = kick[0] - (np.bincount(event, weights=kick[0], minlength=n_events) / per_event)[event]
    kick_y = kick[1] - (np.bincount(event, weights=kick[1], minlength=n_events) / per_event)[event]
    px = (jet_share * recoil_px / per_event)[event] + kick_x
    py = (jet_share * recoil_py / per_event)[event] + kick_y
    eta = np.clip(rng.uniform(-2.5, 2.5, len(event)) + rng.normal(0.0, 0.8, len(event)), -4.4, 4.4)
    pt = np.hypot(px, py)
    p4 = vector.array({"px": px, "py": py, "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta)})
    pdg = np.where(rng.uniform(size=len(event)) < 0.7, GLUON, rng.integers(1, 4, len(event)))
    soft_share = 1.0 - jet_share
    return Particles.from_p4(event, pdg, p4), soft_share * recoil_px, soft_share * recoil_py


PROCESSES: tuple[Process, ...] = (
    Process("Zee", 999001, 0.20, "Z -> e e", partial(z_to_leptons, flavour=ELECTRON)),
    Process("Zmumu", 999002, 0.25, "Z -> mu mu", partial(z_to_leptons, flavour=MUON)),
    Process("H4l", 999003, 0.10, "H -> Z Z* -> 4l (4e, 4mu, 2e2mu)", higgs_to_four_leptons),
    Process("Hyy", 999004, 0.10, "H -> gamma gamma", higgs_to_photons),
    Process("Wlnu", 999005, 0.20, "W -> e nu, W -> mu nu", w_to_lepton_neutrino),
    Process("ttbar", 999006, 0.15, "ttbar, lepton+jets and dilepton", top_pairs),
)
