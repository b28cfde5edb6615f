"""Event kinematics in MeV: resonance line shapes, production spectra and two-body decays."""

from __future__ import annotations

import numpy as np
import vector

GEV = 1000.0

Z_MASS, Z_WIDTH = 91.1876 * GEV, 2.4952 * GEV
W_MASS, W_WIDTH = 80.379 * GEV, 2.085 * GEV
H_MASS, H_WIDTH = 125.0 * GEV, 4.1e-3 * GEV
TOP_MASS, TOP_WIDTH = 172.5 * GEV, 1.42 * GEV
ELECTRON_MASS = 0.51099895
MUON_MASS = 105.6583755
B_QUARK_MASS = 4.8 * GEV
C_QUARK_MASS = 1.5 * GEV

# Generated lower edge of the off-shell Z* in H -> ZZ*; the photon propagator is not modelled.
ZSTAR_MIN_MASS = 4.0 * GEV
_ZZ_GRID_STEP = 0.1 * GEV


def breit_wigner_mass(
    rng: np.random.Generator,
    n: int,
    mass: float,
    width: float,
    low: float | np.ndarray,
    high: float | np.ndarray,
) -> np.ndarray:
    """Masses from a relativistic Breit-Wigner 1/((s - M^2)^2 + M^2 G^2) in s, cut to a window."""
    scale = mass * width
    lower = np.arctan((np.square(low) - mass**2) / scale)
    upper = np.arctan((np.square(high) - mass**2) / scale)
    s = mass**2 + scale * np.tan(rng.uniform(lower, upper, n))
    return np.sqrt(s)


def transverse_momentum(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Boson pT with dN/dpT ~ pT / (pT^2 + scale^2)^2.5: a soft peak at scale/2, a pT^-4 tail."""
    power = 2.5
    u = rng.uniform(0.0, 1.0, n)
    return scale * np.sqrt(np.power(1.0 - u, 1.0 / (1.0 - power)) - 1.0)


def rapidity(rng: np.random.Generator, n: int, plateau: float, spread: float) -> np.ndarray:
    """Rapidity with a flat plateau of half-width `plateau` and Gaussian shoulders."""
    return rng.uniform(-plateau, plateau, n) + rng.normal(0.0, spread, n)


def resonance(
    rng: np.random.Generator, mass: np.ndarray, pt_scale: float, plateau: float, spread: float
) -> vector.MomentumNumpy4D:
    """Lab four-momenta of resonances of the given masses, with sampled pT, rapidity and phi."""
    n = len(mass)
    pt = transverse_momentum(rng, n, pt_scale)
    y = rapidity(rng, n, plateau, spread)
    phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.hypot(mass, pt)
    return vector.array(
        {
            "px": pt * np.cos(phi),
            "py": pt * np.sin(phi),
            "pz": mt * np.sinh(y),
            "E": mt * np.cosh(y),
        }
    )


def isotropic_cos_theta(rng: np.random.Generator, n: int) -> np.ndarray:
    """cos(theta) of an isotropic decay (spin 0, or unpolarised)."""
    return rng.uniform(-1.0, 1.0, n)


def vector_boson_cos_theta(rng: np.random.Generator, n: int) -> np.ndarray:
    """cos(theta) distributed as 1 + cos^2(theta), the q-qbar -> V -> l l angular shape."""
    # Inverse CDF: c^3 + 3c + 4 - 8u = 0 has one real root (Cardano).
    q = 4.0 - 8.0 * rng.uniform(0.0, 1.0, n)
    root = np.sqrt(q * q / 4.0 + 1.0)
    return np.cbrt(-q / 2.0 + root) + np.cbrt(-q / 2.0 - root)


def breakup_momentum(parent_mass: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Daughter momentum in the rest frame of a two-body decay."""
    plus = np.square(parent_mass) - np.square(m1 + m2)
    minus = np.square(parent_mass) - np.square(m1 - m2)
    return np.sqrt(np.clip(plus * minus, 0.0, None)) / (2.0 * parent_mass)


def two_body_decay(
    rng: np.random.Generator,
    parent: vector.MomentumNumpy4D,
    m1: np.ndarray | float,
    m2: np.ndarray | float,
    cos_theta: np.ndarray,
) -> tuple[vector.MomentumNumpy4D, vector.MomentumNumpy4D]:
    """Decay each parent in its rest frame at polar angle `cos_theta`, then boost to the lab."""
    n = len(parent)
    m1 = np.broadcast_to(np.asarray(m1, dtype=np.float64), (n,))
    m2 = np.broadcast_to(np.asarray(m2, dtype=np.float64), (n,))
    p = breakup_momentum(np.asarray(parent.mass), m1, m2)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin_theta = np.sqrt(1.0 - np.square(cos_theta))
    px, py, pz = p * sin_theta * np.cos(phi), p * sin_theta * np.sin(phi), p * cos_theta
    first = vector.array({"px": px, "py": py, "pz": pz, "E": np.hypot(p, m1)})
    second = vector.array({"px": -px, "py": -py, "pz": -pz, "E": np.hypot(p, m2)})
    return first.boost_p4(parent), second.boost_p4(parent)


def _zz_star_density(m1: np.ndarray, m2: np.ndarray, higgs_mass: float) -> np.ndarray:
    """Unnormalised H -> Z Z* density in (m1, m2): propagators, phase space, matrix element."""

    def propagator(m: np.ndarray) -> np.ndarray:
        return 2.0 * m / (np.square(m * m - Z_MASS**2) + (Z_MASS * Z_WIDTH) ** 2)

    dot = (higgs_mass**2 - m1 * m1 - m2 * m2) / 2.0
    matrix_element = 2.0 * np.square(m1 * m2) + np.square(dot)
    phase_space = breakup_momentum(np.full_like(m1, higgs_mass), m1, m2)
    return propagator(m1) * propagator(m2) * phase_space * matrix_element


def zz_star_masses(
    rng: np.random.Generator, n: int, higgs_mass: float = H_MASS
) -> tuple[np.ndarray, np.ndarray]:
    """Masses of the two Z bosons of H -> ZZ* drawn from the exact 2D density on a fine grid."""
    edges = np.arange(ZSTAR_MIN_MASS, higgs_mass - ZSTAR_MIN_MASS + _ZZ_GRID_STEP, _ZZ_GRID_STEP)
    centres = 0.5 * (edges[1:] + edges[:-1])
    m1, m2 = np.meshgrid(centres, centres, indexing="ij")
    # Keep whole cells two steps inside the kinematic limit, so that a Higgs a few widths
    # lighter than nominal can still decay into the sampled pair.
    inside = m1 + m2 + 2.0 * _ZZ_GRID_STEP < higgs_mass
    density = np.where(inside, _zz_star_density(m1, m2, higgs_mass), 0.0).ravel()
    cells = rng.choice(density.size, size=n, p=density / density.sum())
    row, column = np.divmod(cells, len(centres))
    jitter = rng.uniform(0.0, _ZZ_GRID_STEP, (2, n))
    first = edges[row] + jitter[0]
    second = edges[column] + jitter[1]
    return first, second
