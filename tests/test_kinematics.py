"""The numpy kinematics of the converters agree with the `vector` library."""

from __future__ import annotations

import numpy as np
import vector

from converters.flat import Objects
from converters.kinematics import energy, near_any, pair_mass, summed_mass


def random_objects(seed: int = 3, events: int = 400) -> Objects:
    """Objects with realistic pT (MeV), eta, phi and masses, 0-6 per event."""
    generator = np.random.default_rng(seed)
    counts = generator.integers(0, 7, events)
    size = int(counts.sum())
    return Objects.from_counts(
        counts,
        {
            "pt": generator.exponential(30_000.0, size).astype(np.float32),
            "eta": generator.uniform(-4.0, 4.0, size).astype(np.float32),
            "phi": generator.uniform(-np.pi, np.pi, size).astype(np.float32),
            "m": generator.choice([0.0, 105.658, 4_000.0], size).astype(np.float32),
        },
    )


def as_vectors(objects: Objects):
    return vector.array(
        {k: np.asarray(objects[k], np.float64) for k in ("pt", "eta", "phi")}
        | {"mass": np.asarray(objects["m"], np.float64)}
    )


def test_energies_and_masses_equal_vector():
    # Masses of (nearly) massless sums are rounding: within 0.05 MeV of vector's.
    objects = random_objects()
    vectors = as_vectors(objects)
    np.testing.assert_allclose(energy(objects), vectors.energy, rtol=1e-12)
    first, second = objects.pairs()
    np.testing.assert_allclose(
        pair_mass(objects, first, second),
        (vectors[first] + vectors[second]).mass,
        rtol=1e-9,
        atol=1e-6,
    )
    total = vector.array(
        {name: objects.sum(getattr(vectors, name)) for name in ("px", "py", "pz", "E")}
    )
    np.testing.assert_allclose(summed_mass(objects), total.mass, rtol=1e-9, atol=0.05)


def test_overlap_removal_equals_vector_delta_r():
    jets, others = random_objects(4), random_objects(5)
    rows = np.flatnonzero(jets["pt"] > 20_000.0)
    near = near_any(jets, rows, others, 0.4)
    mine, theirs = jets.pairs_with(others)
    close = as_vectors(jets)[mine].deltaR(as_vectors(others)[theirs]) < 0.4
    expected = np.bincount(mine[close], minlength=jets.size) > 0
    np.testing.assert_array_equal(near, expected[rows])
    assert near.any() and not near.all()
