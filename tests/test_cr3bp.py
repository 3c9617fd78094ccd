"""The planar CR3BP propagator against conservation laws and published solutions."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from moonshot.physics import cr3bp
from moonshot.physics.constants import EARTH_MOON_DISTANCE, MU_EARTH_MOON, R_EARTH, R_MOON

MU = 0.012150585609624  # Earth–Moon, as in JPL's three-body periodic orbit catalogue


@given(x=st.floats(0.3, 0.7), vy=st.floats(0.2, 0.8))
@settings(max_examples=15, deadline=None)
def test_jacobi_constant_is_conserved(x, vy):
    """Along any orbit that hits neither body: a collision orbit passes the singularity of
    the potential, where no integrator conserves the energy (x=0.69921875, vy=0.5 passes
    470 km from the Moon's centre, inside it)."""
    s0 = np.array([x, 0.0, 0.0, vy])
    path = [s0]
    for _ in range(2000):  # the orbit every 0.005 time units (about 33 minutes)
        path.append(cr3bp.propagate(path[-1], 0.005, MU, rtol=1e-12))
    p = np.array(path)
    # twice each body's radius: a grid point can fall either side of the closest approach
    assume(np.hypot(p[:, 0] + MU, p[:, 1]).min() > 2 * R_EARTH / EARTH_MOON_DISTANCE)
    assume(np.hypot(p[:, 0] - 1 + MU, p[:, 1]).min() > 2 * R_MOON / EARTH_MOON_DISTANCE)
    s1 = cr3bp.propagate(s0, 10.0, MU, rtol=1e-12)
    c0, c1 = cr3bp.jacobi(s0, MU), cr3bp.jacobi(s1, MU)
    assert abs(c1 - c0) / abs(c0) <= 1e-9


def test_batch_matches_single_states_and_shapes():
    states = np.array([[0.5, 0.0, 0.0, 0.6], [0.4, 0.1, 0.2, 0.7], [-0.6, 0.0, 0.0, -0.3]])
    batch = cr3bp.propagate(states, 3.0, MU)
    assert batch.shape == (3, 4)
    for i in range(3):
        np.testing.assert_allclose(cr3bp.propagate(states[i], 3.0, MU), batch[i], rtol=0,
                                   atol=1e-13)
    back = cr3bp.propagate(batch, -3.0, MU, rtol=1e-12)
    np.testing.assert_allclose(back, states, atol=1e-8)


def test_kepler_orbit_closes_after_one_period():
    # mu = 0: the secondary is massless and a circular/elliptic orbit about the primary is
    # Keplerian in the inertial frame. Rotating-frame states rotate back by the elapsed angle.
    r_p, e = 0.4, 0.3
    a = r_p / (1 - e)
    v_p = np.sqrt((1 + e) / r_p)  # vis-viva at periapsis, GM = 1
    s0 = np.array([r_p, 0.0, 0.0, v_p - r_p])  # rotating-frame velocity: v - omega x r
    period = 2 * np.pi * a**1.5
    s1 = cr3bp.propagate(s0, period, 0.0, rtol=1e-12)
    c, s = np.cos(period), np.sin(period)
    x, y = c * s1[0] - s * s1[1], s * s1[0] + c * s1[1]
    vx_rot, vy_rot = s1[2] - s1[1], s1[3] + s1[0]  # inertial velocity in rotating axes
    vx, vy = c * vx_rot - s * vy_rot, s * vx_rot + c * vy_rot
    np.testing.assert_allclose([x, y, vx, vy], [r_p, 0.0, 0.0, v_p], atol=1e-9)


def test_published_arenstorf_orbit_closes():
    # The Arenstorf orbit: a periodic solution of the restricted three-body problem with
    # mu = 0.012277471, published in Hairer, Norsett & Wanner, "Solving Ordinary Differential
    # Equations I" (2nd ed., 1993), eq. (0.1)-(0.2), same rotating-frame convention as ours.
    mu = 0.012277471
    s0 = np.array([0.994, 0.0, 0.0, -2.00158510637908252240537862224])
    period = 17.0652165601579625588917206249
    s1 = cr3bp.propagate(s0, period, mu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s1, s0, atol=1e-6)
    # Half-way it has not closed: the check is not vacuous.
    half = cr3bp.propagate(s0, period / 2, mu, rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(half[:2] - s0[:2]) > 0.5


def test_lagrange_points_match_published_values():
    # Earth-Moon collinear points for mu = 0.01215 as tabulated by Koon, Lo, Marsden & Ross,
    # "Dynamical Systems, the Three-Body Problem and Space Mission Design" (2011), ch. 2:
    # L1 x = 0.83692, L2 x = 1.15568, L3 x = -1.00506.
    lp = cr3bp.lagrange_points(MU)
    np.testing.assert_allclose(lp[:3, 0], [0.83692, 1.15568, -1.00506], atol=1e-5)
    np.testing.assert_allclose(lp[3], [0.5 - MU, np.sqrt(3) / 2])
    # Equilibria: a body at rest there stays (the effective force vanishes).
    rest = np.column_stack([lp, np.zeros((5, 2))])
    np.testing.assert_allclose(cr3bp.propagate(rest, 0.5, MU, rtol=1e-12)[:, :2], lp,
                               atol=1e-8)
    assert abs(MU_EARTH_MOON - MU) < 2e-7  # our constants give the same mass ratio


def test_bad_input_is_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        cr3bp.propagate(np.zeros(3), 1.0, MU)
    with pytest.raises(ValueError, match="NaN"):
        cr3bp.propagate([np.nan, 0, 0, 0], 1.0, MU)
    with pytest.raises(ValueError, match="mu"):
        cr3bp.propagate([0.5, 0, 0, 0.5], 1.0, 0.7)
