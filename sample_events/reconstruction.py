"""Reconstructed events: truth particles turned into PHYSLITE-like collections (MeV, mm)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from converters.flat import Objects
from sample_events import detector as det
from sample_events.flavour_tagging import tagger_outputs
from sample_events.particles import (
    BOTTOM,
    CHARM,
    DECAYED,
    ELECTRON,
    FINAL,
    MUON,
    NEUTRINOS,
    PHOTON,
    TOP,
    Particles,
)
from sample_events.physics import ELECTRON_MASS
from sample_events.tracks import (
    CHARGED_FRACTION,
    Tracks,
    inner_detector_pt,
    jet_tracks,
    prompt_impact,
    soft_tracks,
)
from sample_events.truth import TruthEvents

GEV = 1000.0
RUN_NUMBER = 284500
EVENTS_PER_LUMIBLOCK = 100
BEAM_SPOT = (-0.5, -0.5, 0.0)  # mm, the Run-2 simulation beam spot
BEAM_SPOT_SIGMA = (0.01, 0.01, 35.0)  # mm
PILEUP_VERTICES_MEAN = 4.0
PRIMARY_VERTEX, PILEUP_VERTEX = 1, 3
MUON_COMBINED, MUON_STANDALONE = 0, 1
SOFT_CLUSTER_SOURCE, SOFT_TRACK_SOURCE = 69664, 81952
BENDING = 0.45 * GEV  # rad * MeV: azimuth turned by a 2 T field over 1.5 m is q * BENDING / pT
MUON_CALORIMETER_LOSS = 3 * GEV
FAKE_TAU_RATE = 0.06  # share of central jets also reconstructed as tau candidates
LARGE_R_MIN_PT = 250 * GEV
INVALID_LINK = -1


@dataclass(frozen=True)
class RecoEvents:
    """Every collection of the sample as jagged awkward records, in file order."""

    run_number: np.ndarray
    event_number: np.ndarray
    lumi_block: np.ndarray
    channel: np.ndarray
    electrons: ak.Array
    muons: ak.Array
    photons: ak.Array
    jets: ak.Array
    btagging: ak.Array
    taus: ak.Array
    large_r_jets: ak.Array
    indet_tracks: ak.Array
    gsf_tracks: ak.Array
    combined_tracks: ak.Array
    extrapolated_tracks: ak.Array
    spectrometer_tracks: ak.Array
    egamma_clusters: ak.Array
    vertices: ak.Array
    met_core: ak.Array
    true_met_x: np.ndarray  # sum of the neutrinos, for checks; not a PHYSLITE branch
    true_met_y: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.event_number)

    def missing_et(self) -> tuple[np.ndarray, np.ndarray]:
        """Missing px, py from the objects and the track soft term (MET_Core mpx is -sum)."""
        mpx = np.asarray(self.met_core.mpx[:, 1], dtype=np.float64)
        mpy = np.asarray(self.met_core.mpy[:, 1], dtype=np.float64)
        for objects in (self.electrons, self.muons, self.photons, self.jets):
            mpx = mpx - np.asarray(ak.sum(objects.pt * np.cos(objects.phi), axis=1))
            mpy = mpy - np.asarray(ak.sum(objects.pt * np.sin(objects.phi), axis=1))
        return mpx, mpy


def _by_event_and_pt(event: np.ndarray, columns: dict[str, np.ndarray], n_events: int) -> Objects:
    """Objects of one kind grouped by event and, inside an event, ordered by decreasing pT."""
    order = np.lexsort((-columns["pt"], event))
    counts = np.bincount(event, minlength=n_events)
    return Objects.from_counts(counts, {name: column[order] for name, column in columns.items()})


def _local_rank(event: np.ndarray, mask: np.ndarray, n_events: int) -> np.ndarray:
    """For rows grouped by event: how many rows of the same event before this one are in mask."""
    before = np.cumsum(mask) - mask
    first_row = np.cumsum(np.bincount(event, minlength=n_events)) - np.bincount(
        event, minlength=n_events
    )
    return before - before[first_row[event]] if len(event) else before


def _jagged(event: np.ndarray, n_events: int, columns: dict[str, np.ndarray]) -> ak.Array:
    """Flat columns grouped by event into one jagged record array."""
    counts = np.bincount(event, minlength=n_events)
    return ak.unflatten(ak.zip(columns, depth_limit=1), counts)


def _track_record(tracks: Tracks, n_events: int, **extra: np.ndarray) -> ak.Array:
    """Perigee parameters of tracks as a jagged record array."""
    columns = {
        "d0": tracks.d0,
        "z0": tracks.z0,
        "phi": tracks.phi,
        "theta": tracks.theta,
        "qOverP": tracks.qOverP,
        **extra,
    }
    return _jagged(tracks.event, n_events, columns)


def _vertices(rng: np.random.Generator, n_events: int) -> tuple[ak.Array, np.ndarray]:
    """The primary vertex and a few pile-up vertices per event, and the primary z."""
    counts = 1 + rng.poisson(PILEUP_VERTICES_MEAN, n_events)
    event = np.repeat(np.arange(n_events), counts)
    position = {
        axis: centre + sigma * rng.standard_normal(len(event))
        for axis, centre, sigma in zip("xyz", BEAM_SPOT, BEAM_SPOT_SIGMA, strict=True)
    }
    first = np.cumsum(counts) - counts
    vertex_type = np.full(len(event), PILEUP_VERTEX, dtype=np.int16)
    vertex_type[first] = PRIMARY_VERTEX
    vertices = _jagged(event, n_events, {**position, "vertexType": vertex_type})
    return vertices, position["z"][first]


def _soft_targets(
    final: Particles, truth_kin: det.Kinematics, reconstructed: np.ndarray, truth: TruthEvents
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Soft momentum seen by tracks and by clusters: recoil plus visible particles not kept."""
    visible = ~np.isin(np.abs(final.pdg), NEUTRINOS)
    lost = visible & ~reconstructed
    in_calorimeter = lost & (np.abs(truth_kin.eta) < det.CALORIMETER_MAX_ETA)
    in_tracker = (
        lost & (np.abs(truth_kin.eta) < det.TRACKER_MAX_ETA) & (np.abs(final.pdg) != PHOTON)
    )
    n = truth.n_events
    cluster_x, cluster_y = final.event_sum(in_calorimeter, n)
    # Tracks see only the charged part of a lost jet; its neutral part is missed.
    hadron = ~np.isin(np.abs(final.pdg), (ELECTRON, MUON))
    weight = np.where(hadron, CHARGED_FRACTION, 1.0)[in_tracker]
    event = final.event[in_tracker]
    track_x = np.bincount(event, weights=weight * final.px[in_tracker], minlength=n)
    track_y = np.bincount(event, weights=weight * final.py[in_tracker], minlength=n)
    return (
        truth.soft_px + track_x,
        truth.soft_py + track_y,
        truth.soft_px + cluster_x,
        truth.soft_py + cluster_y,
    )


def _met_core(
    rng: np.random.Generator,
    soft: Tracks,
    cluster_x: np.ndarray,
    cluster_y: np.ndarray,
    n_events: int,
) -> ak.Array:
    """SoftClusCore and PVSoftTrkCore terms (mpx = minus the soft momentum sum)."""
    px, py = soft.pt * np.cos(soft.phi), soft.pt * np.sin(soft.phi)
    track_x = np.bincount(soft.event, weights=px, minlength=n_events)
    track_y = np.bincount(soft.event, weights=py, minlength=n_events)
    track_sumet = np.bincount(soft.event, weights=soft.pt, minlength=n_events)
    # Clusters see the same soft activity with a coarser scale, plus neutral pile-up energy.
    scale = 1.0 + 0.1 * rng.standard_normal(n_events)
    noise = 2 * GEV * rng.standard_normal((2, n_events))
    cluster_sumet = 1.5 * track_sumet + rng.gamma(3.0, 8 * GEV, n_events)
    columns = {
        "mpx": np.stack([-(cluster_x * scale + noise[0]), -track_x], axis=1).ravel(),
        "mpy": np.stack([-(cluster_y * scale + noise[1]), -track_y], axis=1).ravel(),
        "sumet": np.stack([cluster_sumet, track_sumet], axis=1).ravel(),
        "source": np.tile(
            np.array([SOFT_CLUSTER_SOURCE, SOFT_TRACK_SOURCE], dtype=np.uint64), n_events
        ),
    }
    return _jagged(np.repeat(np.arange(n_events), 2), n_events, columns)


def _kinematics(particles: Particles) -> det.Kinematics:
    """pt, eta, phi, E of particles."""
    p4 = particles.p4
    return det.Kinematics(
        np.asarray(p4.pt), np.asarray(p4.eta), np.asarray(p4.phi), np.asarray(p4.E)
    )


def reconstruct(rng: np.random.Generator, truth: TruthEvents) -> RecoEvents:
    """Measure every final-state particle and build all collections and soft terms."""
    n = truth.n_events
    final = truth.particles.select(truth.particles.status == FINAL)
    kin = _kinematics(final)
    charge = final.charge.astype(np.float64)
    vertices, vertex_z = _vertices(rng, n)
    reconstructed = np.zeros(len(final), bool)

    def measured(
        pdg_mask: np.ndarray,
        measure: Callable[[np.random.Generator, det.Kinematics], det.Kinematics],
        max_eta: float,
        min_pt: float,
    ) -> tuple[np.ndarray, det.Kinematics]:
        """Rows of the particles in `pdg_mask` that are reconstructed, and their measurement."""
        rows = np.flatnonzero(pdg_mask)
        objects = measure(rng, kin.select(rows))
        keep = det.accepted(objects, max_eta, min_pt)
        reconstructed[rows[keep]] = True
        return rows[keep], objects.select(keep)

    e_rows, e_kin = measured(
        final.is_final(ELECTRON), det.measure_electrons, det.ELECTRON_MAX_ETA, det.LEPTON_MIN_PT
    )
    mu_rows, mu_kin = measured(
        final.is_final(MUON), det.measure_muons, det.MUON_MAX_ETA, det.LEPTON_MIN_PT
    )
    ph_rows, ph_kin = measured(
        final.is_final(PHOTON), det.measure_photons, det.PHOTON_MAX_ETA, det.PHOTON_MIN_PT
    )
    # Electrons and photons beyond the electron-photon acceptance still make jets.
    forward_egamma = final.is_final(ELECTRON, PHOTON) & ~reconstructed
    forward_egamma &= np.abs(kin.eta) >= det.ELECTRON_MAX_ETA
    jet_rows, jet_kin = measured(
        final.is_final(1, 2, 3, CHARM, BOTTOM, 21) | forward_egamma,
        det.measure_jets,
        det.JET_MAX_ETA,
        det.JET_MIN_PT,
    )

    electrons = _by_event_and_pt(
        final.event[e_rows],
        {
            "pt": e_kin.pt,
            "eta": e_kin.eta,
            "phi": e_kin.phi,
            "energy": e_kin.energy,
            "charge": charge[e_rows],
            "true_pt": kin.pt[e_rows],
        },
        n,
    )
    muons = _by_event_and_pt(
        final.event[mu_rows],
        {
            "pt": mu_kin.pt,
            "eta": mu_kin.eta,
            "phi": mu_kin.phi,
            "charge": charge[mu_rows],
            "true_pt": kin.pt[mu_rows],
        },
        n,
    )
    photons = _by_event_and_pt(
        final.event[ph_rows],
        {"pt": ph_kin.pt, "eta": ph_kin.eta, "phi": ph_kin.phi, "energy": ph_kin.energy},
        n,
    )
    jets = _by_event_and_pt(
        final.event[jet_rows],
        {
            "pt": jet_kin.pt,
            "eta": jet_kin.eta,
            "phi": jet_kin.phi,
            "m": det.jet_mass(rng, jet_kin.pt),
            "flavour": np.where(
                np.isin(np.abs(final.pdg[jet_rows]), (BOTTOM, CHARM)),
                np.abs(final.pdg[jet_rows]),
                0,
            ),
        },
        n,
    )

    n_electrons = electrons.counts
    electron_index = electrons.local_index
    electron_tracks = _electron_tracks(rng, electrons, vertex_z)
    muon_part = _muon_parts(rng, muons, n_electrons, vertex_z, n)
    jet_part = jet_tracks(
        rng, jets.event, jets["pt"], jets["eta"], jets["phi"], jets["flavour"] == BOTTOM, vertex_z
    )
    track_x, track_y, cluster_x, cluster_y = _soft_targets(final, kin, reconstructed, truth)
    soft = soft_tracks(rng, track_x, track_y, vertex_z)
    indet = Tracks.concatenate([electron_tracks["indet"], muon_part["indet"], jet_part, soft])
    true_met_x, true_met_y = truth.neutrino_sum()

    return RecoEvents(
        run_number=np.full(n, RUN_NUMBER, dtype=np.uint32),
        event_number=((truth.channel - 999000) * 1_000_000 + truth.serial + 1).astype(np.uint64),
        lumi_block=(1 + truth.serial // EVENTS_PER_LUMIBLOCK).astype(np.uint32),
        channel=truth.channel.astype(np.uint32),
        electrons=_jagged(
            electrons.event,
            n,
            {
                "pt": electrons["pt"],
                "eta": electrons["eta"],
                "phi": electrons["phi"],
                "m": np.full(electrons.size, ELECTRON_MASS),
                "charge": electrons["charge"],
                "trackParticleLinks": electron_index,
                "caloClusterLinks": electron_index,
            },
        ),
        muons=muon_part["muons"],
        photons=_jagged(
            photons.event,
            n,
            {
                "pt": photons["pt"],
                "eta": photons["eta"],
                "phi": photons["phi"],
                "m": np.zeros(photons.size),
                "caloClusterLinks": n_electrons[photons.event] + photons.local_index,
            },
        ),
        jets=_jagged(
            jets.event,
            n,
            {
                "pt": jets["pt"],
                "eta": jets["eta"],
                "phi": jets["phi"],
                "m": jets["m"],
                "btaggingLink": jets.local_index,
                "HadronConeExclTruthLabelID": jets["flavour"].astype(np.int32),
            },
        ),
        btagging=_jagged(jets.event, n, tagger_outputs(rng, jets["flavour"], jets["eta"])),
        taus=_fake_taus(rng, jets, n),
        large_r_jets=_large_r_jets(rng, truth.particles, n),
        indet_tracks=_track_record(indet, n),
        gsf_tracks=_track_record(electron_tracks["gsf"], n, originalTrackParticle=electron_index),
        combined_tracks=_track_record(muon_part["combined"], n),
        extrapolated_tracks=_track_record(muon_part["extrapolated"], n),
        spectrometer_tracks=_track_record(muon_part["spectrometer"], n),
        egamma_clusters=_egamma_clusters(rng, electrons, photons, n),
        vertices=vertices,
        met_core=_met_core(rng, soft, cluster_x, cluster_y, n),
        true_met_x=true_met_x,
        true_met_y=true_met_y,
    )


def _electron_tracks(
    rng: np.random.Generator, electrons: Objects, vertex_z: np.ndarray
) -> dict[str, Tracks]:
    """The GSF track of each electron and its original inner-detector track."""
    event, eta, phi, charge = (
        electrons.event,
        electrons["eta"],
        electrons["phi"],
        electrons["charge"],
    )
    gsf_pt = inner_detector_pt(rng, electrons["true_pt"])
    # The original track is fitted without bremsstrahlung recovery: it loses momentum.
    brem = 1.0 - np.abs(0.08 * rng.standard_normal(len(event)))
    indet_pt = inner_detector_pt(rng, electrons["true_pt"] * brem)
    d0, z0 = prompt_impact(rng, event, vertex_z)
    return {
        "gsf": Tracks.from_kinematics(event, gsf_pt, eta, phi, charge, d0, z0),
        "indet": Tracks.from_kinematics(event, indet_pt, eta, phi, charge, d0, z0),
    }


def _muon_parts(
    rng: np.random.Generator,
    muons: Objects,
    n_electrons: np.ndarray,
    vertex_z: np.ndarray,
    n_events: int,
) -> dict[str, ak.Array | Tracks]:
    """Muons with their links, and their inner-detector, combined and spectrometer tracks."""
    event, eta, phi, charge = muons.event, muons["eta"], muons["phi"], muons["charge"]
    n = len(event)
    combined = np.abs(eta) < det.TRACKER_MAX_ETA
    combined_rank = _local_rank(event, combined, n_events)
    local = muons.local_index
    d0, z0 = prompt_impact(rng, event, vertex_z)
    indet_pt = inner_detector_pt(rng, muons["true_pt"])
    # A standalone muon is its extrapolated spectrometer track.
    extrapolated_pt = np.where(
        combined,
        muons["true_pt"] * (1.0 + det.STANDALONE_MUON_PT_RESOLUTION * rng.standard_normal(n)),
        muons["pt"],
    )
    pt = muons["pt"]
    spectrometer_p = np.maximum(
        muons["true_pt"] * np.cosh(eta)
        - MUON_CALORIMETER_LOSS * (1.0 + 0.1 * rng.standard_normal(n)),
        GEV,
    )
    ms_d0 = 0.5 * rng.standard_normal(n)
    ms_z0 = vertex_z[event] + 10.0 * rng.standard_normal(n)
    muon_record = _jagged(
        event,
        n_events,
        {
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "charge": charge,
            "muonType": np.where(combined, MUON_COMBINED, MUON_STANDALONE).astype(np.uint16),
            "inDetTrackParticleLink": np.where(
                combined, n_electrons[event] + combined_rank, INVALID_LINK
            ),
            "combinedTrackParticleLink": np.where(combined, combined_rank, INVALID_LINK),
            "extrapolatedMuonSpectrometerTrackParticleLink": local,
            "muonSpectrometerTrackParticleLink": local,
        },
    )
    c = combined
    return {
        "muons": muon_record,
        "indet": Tracks.from_kinematics(
            event[c], indet_pt[c], eta[c], phi[c], charge[c], d0[c], z0[c]
        ),
        "combined": Tracks.from_kinematics(
            event[c], pt[c], eta[c], phi[c], charge[c], d0[c], z0[c]
        ),
        "extrapolated": Tracks.from_kinematics(
            event, extrapolated_pt, eta, phi, charge, 5 * d0, z0 + rng.standard_normal(n)
        ),
        "spectrometer": Tracks.from_kinematics(
            event, spectrometer_p / np.cosh(eta), eta, phi, charge, ms_d0, ms_z0
        ),
    }


def _egamma_clusters(
    rng: np.random.Generator, electrons: Objects, photons: Objects, n_events: int
) -> ak.Array:
    """One cluster per electron (first) and per photon (after), as in PHYSLITE."""
    # An electron's cluster sits where its bending track reaches the calorimeter.
    bend = -electrons["charge"] * BENDING / electrons["pt"]
    noise = 0.002 * rng.standard_normal((2, electrons.size))
    columns = {
        "calE": np.concatenate([electrons["energy"], photons["energy"]]),
        "calEta": np.concatenate([electrons["eta"] + noise[0], photons["eta"]]),
        "calPhi": det.wrap_phi(
            np.concatenate([electrons["phi"] + bend + noise[1], photons["phi"]])
        ),
    }
    event = np.concatenate([electrons.event, photons.event])
    order = np.argsort(event, kind="stable")
    return _jagged(event[order], n_events, {k: v[order] for k, v in columns.items()})


def _fake_taus(rng: np.random.Generator, jets: Objects, n_events: int) -> ak.Array:
    """Tau candidates seeded by a few central jets (no true taus are generated)."""
    central = np.abs(jets["eta"]) < det.TRACKER_MAX_ETA
    chosen = central & (rng.uniform(size=jets.size) < FAKE_TAU_RATE)
    n = int(chosen.sum())
    return _jagged(
        jets.event[chosen],
        n_events,
        {
            "pt": 0.9 * jets["pt"][chosen],
            "eta": jets["eta"][chosen],
            "phi": jets["phi"][chosen],
            "m": rng.uniform(0.3 * GEV, 1.5 * GEV, n),
            "charge": rng.choice(np.array([-1.0, 1.0]), n),
        },
    )


def _large_r_jets(rng: np.random.Generator, particles: Particles, n_events: int) -> ak.Array:
    """Large-R jets of boosted hadronically decaying top quarks."""
    tops = particles.select((particles.status == DECAYED) & (np.abs(particles.pdg) == TOP))
    tops = tops.select(tops.hadronic)
    kin = _kinematics(tops)
    n = len(tops)
    pt = kin.pt * (1.0 + 0.05 * rng.standard_normal(n))
    eta, phi = det.smear_angles(rng, kin.eta, kin.phi, det.JET_ANGLE_RESOLUTION)
    mass = np.asarray(tops.p4.mass) * (1.0 + 0.08 * rng.standard_normal(n))
    keep = (pt > LARGE_R_MIN_PT) & (np.abs(eta) < 2.0)
    large = _by_event_and_pt(
        tops.event[keep],
        {"pt": pt[keep], "eta": eta[keep], "phi": phi[keep], "m": mass[keep]},
        n_events,
    )
    return _jagged(large.event, n_events, large.columns)
