"""Detector response: resolutions, acceptance and thresholds applied to flat particle columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GEV = 1000.0

ELECTRON_MAX_ETA = 2.47
PHOTON_MAX_ETA = 2.47
MUON_MAX_ETA = 2.7
TRACKER_MAX_ETA = 2.5
JET_MAX_ETA = 4.5
CALORIMETER_MAX_ETA = 4.9
LEPTON_MIN_PT = 7 * GEV
PHOTON_MIN_PT = 20 * GEV
JET_MIN_PT = 20 * GEV

EGAMMA_RESOLUTION = (0.10, 0.007)  # sigma/E = a/sqrt(E/GeV) (+) b
JET_RESOLUTION = (0.50, 0.03)
MUON_PT_RESOLUTION = 0.02
STANDALONE_MUON_PT_RESOLUTION = 0.04
TRACK_ANGLE_RESOLUTION = 5e-4  # rad, on eta and phi of lepton tracks
JET_ANGLE_RESOLUTION = 0.02


@dataclass(frozen=True)
class Kinematics:
    """pt, eta, phi, energy columns of flat objects (MeV)."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray

    def select(self, mask: np.ndarray) -> Kinematics:
        """The objects where `mask` is true (or at the given indices)."""
        return Kinematics(self.pt[mask], self.eta[mask], self.phi[mask], self.energy[mask])


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuth folded into [-pi, pi)."""
    return (phi + np.pi) % (2.0 * np.pi) - np.pi


def calorimeter_resolution(energy: np.ndarray, stochastic: float, constant: float) -> np.ndarray:
    """Relative energy resolution a/sqrt(E/GeV) (+) b."""
    return np.hypot(stochastic / np.sqrt(np.maximum(energy, 1.0) / GEV), constant)


def smear_energy(
    rng: np.random.Generator, energy: np.ndarray, resolution: tuple[float, float]
) -> np.ndarray:
    """Calorimeter energies: Gaussian smearing with the given resolution, kept positive."""
    sigma = calorimeter_resolution(energy, *resolution)
    return energy * np.maximum(1.0 + sigma * rng.standard_normal(len(energy)), 0.05)


def smear_angles(
    rng: np.random.Generator, eta: np.ndarray, phi: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Directions measured with Gaussian resolution `sigma` on eta and phi."""
    n = len(eta)
    return eta + sigma * rng.standard_normal(n), wrap_phi(phi + sigma * rng.standard_normal(n))


def measure_electrons(rng: np.random.Generator, truth: Kinematics) -> Kinematics:
    """Electrons: energy from the cluster, direction from the track."""
    energy = smear_energy(rng, truth.energy, EGAMMA_RESOLUTION)
    eta, phi = smear_angles(rng, truth.eta, truth.phi, TRACK_ANGLE_RESOLUTION)
    return Kinematics(energy / np.cosh(eta), eta, phi, energy)


def measure_photons(rng: np.random.Generator, truth: Kinematics) -> Kinematics:
    """Photons: energy and direction from the cluster."""
    energy = smear_energy(rng, truth.energy, EGAMMA_RESOLUTION)
    eta, phi = smear_angles(rng, truth.eta, truth.phi, 2 * TRACK_ANGLE_RESOLUTION)
    return Kinematics(energy / np.cosh(eta), eta, phi, energy)


def measure_muons(rng: np.random.Generator, truth: Kinematics) -> Kinematics:
    """Muons: pT from the combined fit, or from the spectrometer alone beyond the tracker."""
    resolution = np.where(
        np.abs(truth.eta) < TRACKER_MAX_ETA, MUON_PT_RESOLUTION, STANDALONE_MUON_PT_RESOLUTION
    )
    pt = truth.pt * (1.0 + resolution * rng.standard_normal(len(truth.pt)))
    eta, phi = smear_angles(rng, truth.eta, truth.phi, TRACK_ANGLE_RESOLUTION)
    return Kinematics(pt, eta, phi, pt * np.cosh(eta))


def measure_jets(rng: np.random.Generator, truth: Kinematics) -> Kinematics:
    """Jets: calorimeter energy resolution and a coarse direction."""
    energy = smear_energy(rng, truth.energy, JET_RESOLUTION)
    eta, phi = smear_angles(rng, truth.eta, truth.phi, JET_ANGLE_RESOLUTION)
    return Kinematics(truth.pt * energy / truth.energy, eta, phi, energy)


def accepted(objects: Kinematics, max_eta: float, min_pt: float) -> np.ndarray:
    """Mask of objects inside |eta| < max_eta and above pT > min_pt."""
    return (np.abs(objects.eta) < max_eta) & (objects.pt > min_pt)


def jet_mass(rng: np.random.Generator, pt: np.ndarray) -> np.ndarray:
    """Anti-kt R=0.4 jet masses, about 12 % of the jet pT with a broad spread."""
    return pt * rng.gamma(4.0, 0.03, len(pt))
