"""Planar circular restricted three-body problem (CR3BP), vectorized.

Rotating, nondimensional, barycentric frame: the primary (mass 1-mu) sits at (-mu, 0), the
secondary (mass mu) at (1-mu, 0), and the frame turns counterclockwise at unit angular rate.
Units: the primaries' distance is 1, their orbital period is 2*pi, the total mass is 1.
States are ``[x, y, vx, vy]`` with velocities relative to the rotating frame.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from .integrators import CR3BP, integrate_to


def _as_states(states: ArrayLike) -> tuple[np.ndarray, bool]:
    s = np.asarray(states, dtype=np.float64)
    single = s.ndim == 1
    s = np.atleast_2d(s)
    if s.ndim != 2 or s.shape[1] != 4:
        raise ValueError(f"states must have shape (4,) or (N, 4), got {np.shape(states)}")
    if not np.all(np.isfinite(s)):
        raise ValueError("states contain NaN or infinite values")
    return s, single


def _check_mu(mu: float) -> float:
    mu = float(mu)
    if not 0.0 <= mu <= 0.5:
        raise ValueError(f"mu must lie in [0, 0.5] (mass ratio of the secondary), got {mu}")
    return mu


@njit(cache=True)
def _propagate_batch(states: np.ndarray, duration: float, mu: float, rtol: float,
                     atol: float) -> np.ndarray:
    n_traj = states.shape[0]
    out = states.copy()
    p = np.array([mu])
    atol_v = np.full(4, atol)
    k = np.empty((6, 4))
    ynew = np.empty(4)
    f0 = np.empty(4)
    fnew = np.empty(4)
    y = np.empty(4)
    for j in range(n_traj):
        for i in range(4):
            y[i] = out[j, i]
        # Each trajectory picks its own step sizes, starting from a small trial step.
        integrate_to(CR3BP, p, 4, y, duration, 1e-3, rtol, atol_v, k, ynew, f0, fnew)
        for i in range(4):
            out[j, i] = y[i]
    return out


def propagate(states: ArrayLike, duration: float, mu: float, rtol: float = 1e-10,
              atol: float = 1e-12) -> np.ndarray:
    """Propagate CR3BP states by ``duration`` (nondimensional time; negative runs backwards).

    :param states: ``(N, 4)`` array of ``[x, y, vx, vy]`` or a single ``(4,)`` state.
    :param duration: time to advance, in units where the primaries' period is 2*pi.
    :param mu: mass ratio of the secondary, in [0, 0.5] (Earth–Moon: ~0.01215).
    :param rtol: relative tolerance of the adaptive Dormand–Prince 5(4) integrator.
    :param atol: absolute tolerance.
    :return: the states after ``duration``, same shape as ``states``.
    """
    s, single = _as_states(states)
    mu = _check_mu(mu)
    duration = float(duration)
    if not np.isfinite(duration):
        raise ValueError(f"duration must be finite, got {duration}")
    if not (0 < rtol < 1 and atol > 0):
        raise ValueError(f"need 0 < rtol < 1 and atol > 0, got rtol={rtol}, atol={atol}")
    out = _propagate_batch(s, duration, mu, float(rtol), float(atol))
    return out[0] if single else out


def jacobi(states: ArrayLike, mu: float) -> np.ndarray:
    """Jacobi constant C = 2U - v^2 with U = (x^2+y^2)/2 + (1-mu)/r1 + mu/r2 (conserved)."""
    s, single = _as_states(states)
    mu = _check_mu(mu)
    x, y, vx, vy = s.T
    r1 = np.hypot(x + mu, y)
    r2 = np.hypot(x - 1 + mu, y)
    c = x**2 + y**2 + 2 * (1 - mu) / r1 + 2 * mu / r2 - (vx**2 + vy**2)
    return c[0] if single else c


def lagrange_points(mu: float) -> np.ndarray:
    """Positions ``(5, 2)`` of L1..L5 in the rotating frame (collinear ones by Newton's method)."""
    mu = _check_mu(mu)

    def dux(x: float) -> float:  # dU/dx on the x axis
        r1 = x + mu
        r2 = x - 1 + mu
        return x - (1 - mu) * r1 / abs(r1) ** 3 - mu * r2 / abs(r2) ** 3

    def solve(x: float) -> float:
        for _ in range(100):
            h = 1e-7
            d = (dux(x + h) - dux(x - h)) / (2 * h)
            step = dux(x) / d
            x -= step
            if abs(step) < 1e-15:
                break
        return x

    hill = (mu / 3) ** (1 / 3)
    l1 = solve(1 - mu - hill)
    l2 = solve(1 - mu + hill)
    l3 = solve(-1 - 5 * mu / 12)
    h3 = np.sqrt(3) / 2
    return np.array([[l1, 0], [l2, 0], [l3, 0], [0.5 - mu, h3], [0.5 - mu, -h3]])
