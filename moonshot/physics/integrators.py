"""Compiled Dormand–Prince 5(4) integrator shared by the gravity models.

One adaptive embedded Runge–Kutta step (Dormand & Prince 1980, "A family of embedded
Runge-Kutta formulae", J. Comp. Appl. Math. 6(1); the tableau of Hairer, Nørsett & Wanner,
"Solving Ordinary Differential Equations I", Table 5.2). The fifth-order solution is propagated
(local extrapolation) and the last stage is reused as the first of the next step (FSAL).

Models are chosen by an integer so that one compiled kernel serves all of them without
first-class functions (which numba's on-disk cache handles poorly):

* ``EARTH_MOON``: Earth-centred, non-rotating planar frame, km and s. State
  ``[x, y, vx, vy, mx, my, mvx, mvy]``: the rocket and the Moon. The Moon moves on the exact
  two-body (Keplerian) orbit relative to the Earth; the rocket feels both bodies plus the
  indirect term (the Earth's own acceleration towards the Moon). Parameters ``[GM_earth,
  GM_moon, GM_sun, sun_distance, sun_rate]``. With ``GM_sun > 0`` the state has a ninth
  entry, the Sun's polar angle (the Sun circles the Earth at ``sun_distance`` with angular
  rate ``sun_rate``), and the rocket and the Moon both feel the Sun's tidal acceleration
  (its pull on them minus its pull on the Earth): a four-body world. With ``GM_sun = 0`` the
  equations, and the numbers, are the three-body ones.
* ``CR3BP``: planar circular restricted three-body problem in the rotating, nondimensional,
  barycentric frame (primary of mass 1-mu at (-mu, 0), secondary of mass mu at (1-mu, 0)).
  State ``[x, y, vx, vy]``, parameters ``[mu]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EARTH_MOON = 0
CR3BP = 1

# Dormand–Prince 5(4) tableau.
C2, C3, C4, C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
A21 = 1.0 / 5.0
A31, A32 = 3.0 / 40.0, 9.0 / 40.0
A41, A42, A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
A51, A52, A53, A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
A61, A62, A63, A64, A65 = (
    9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0)
B1, B3, B4, B5, B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
# Error coefficients: fifth-order weights minus fourth-order weights.
E1, E3, E4, E5, E6, E7 = (
    71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0)

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 5.0


@njit(cache=True)
def rhs(model: int, y: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    """Time derivative of ``y`` under ``model`` with parameters ``p``, written into ``out``."""
    if model == EARTH_MOON:
        gm_e = p[0]
        gm_m = p[1]
        rx, ry, mx, my = y[0], y[1], y[4], y[5]
        r2 = rx * rx + ry * ry
        ir3 = 1.0 / (r2 * math.sqrt(r2))
        dx, dy = rx - mx, ry - my
        d2 = dx * dx + dy * dy
        id3 = 1.0 / (d2 * math.sqrt(d2))
        m2 = mx * mx + my * my
        im3 = 1.0 / (m2 * math.sqrt(m2))
        out[0] = y[2]
        out[1] = y[3]
        out[2] = -gm_e * rx * ir3 - gm_m * (dx * id3 + mx * im3)
        out[3] = -gm_e * ry * ir3 - gm_m * (dy * id3 + my * im3)
        out[4] = y[6]
        out[5] = y[7]
        gm_t = gm_e + gm_m
        out[6] = -gm_t * mx * im3
        out[7] = -gm_t * my * im3
        if p.shape[0] > 2 and p[2] > 0.0:
            gm_s, big_r = p[2], p[3]
            sx, sy = big_r * math.cos(y[8]), big_r * math.sin(y[8])
            is3 = 1.0 / (big_r * big_r * big_r)
            for b in range(2):  # the rocket (0) and the Moon (4)
                bx, by = y[4 * b], y[4 * b + 1]
                qx, qy = sx - bx, sy - by
                q2 = qx * qx + qy * qy
                iq3 = 1.0 / (q2 * math.sqrt(q2))
                out[4 * b + 2] += gm_s * (qx * iq3 - sx * is3)
                out[4 * b + 3] += gm_s * (qy * iq3 - sy * is3)
            out[8] = p[4]
    else:
        mu = p[0]
        x, yy, vx, vy = y[0], y[1], y[2], y[3]
        x1 = x + mu
        x2 = x - 1.0 + mu
        r1s = x1 * x1 + yy * yy
        r2s = x2 * x2 + yy * yy
        g1 = (1.0 - mu) / (r1s * math.sqrt(r1s))
        g2 = mu / (r2s * math.sqrt(r2s))
        out[0] = vx
        out[1] = vy
        out[2] = 2.0 * vy + x - g1 * x1 - g2 * x2
        out[3] = -2.0 * vx + yy - g1 * yy - g2 * yy


@njit(cache=True)
def dopri_step(model: int, p: np.ndarray, n: int, y: np.ndarray, f0: np.ndarray, h: float,
               k: np.ndarray, ynew: np.ndarray, fnew: np.ndarray, rtol: float,
               atol: np.ndarray) -> float:
    """Attempt one step of size ``h`` from ``y`` (derivative ``f0``).

    Writes the fifth-order solution into ``ynew`` and its derivative into ``fnew`` (FSAL) and
    returns the RMS error norm scaled by ``atol[i] + rtol * max(|y_i|, |ynew_i|)``; the step is
    acceptable when the norm is <= 1. ``k`` is a (6, n) work array.
    """
    tmp = k[5]
    for i in range(n):
        tmp[i] = y[i] + h * A21 * f0[i]
    rhs(model, tmp, p, k[0])
    for i in range(n):
        tmp[i] = y[i] + h * (A31 * f0[i] + A32 * k[0, i])
    rhs(model, tmp, p, k[1])
    for i in range(n):
        tmp[i] = y[i] + h * (A41 * f0[i] + A42 * k[0, i] + A43 * k[1, i])
    rhs(model, tmp, p, k[2])
    for i in range(n):
        tmp[i] = y[i] + h * (A51 * f0[i] + A52 * k[0, i] + A53 * k[1, i] + A54 * k[2, i])
    rhs(model, tmp, p, k[3])
    for i in range(n):
        tmp[i] = y[i] + h * (A61 * f0[i] + A62 * k[0, i] + A63 * k[1, i] + A64 * k[2, i]
                             + A65 * k[3, i])
    rhs(model, tmp, p, k[4])
    for i in range(n):
        ynew[i] = y[i] + h * (B1 * f0[i] + B3 * k[1, i] + B4 * k[2, i] + B5 * k[3, i]
                              + B6 * k[4, i])
    rhs(model, ynew, p, fnew)
    acc = 0.0
    for i in range(n):
        e = h * (E1 * f0[i] + E3 * k[1, i] + E4 * k[2, i] + E5 * k[3, i] + E6 * k[4, i]
                 + E7 * fnew[i])
        sc = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
        acc += (e / sc) ** 2
    return math.sqrt(acc / n)


@njit(cache=True)
def next_step_size(h: float, err: float) -> float:
    """Standard step-size update for a fifth-order pair (Hairer I, II.4)."""
    if err == 0.0:
        return h * MAX_FACTOR
    fac = SAFETY * err ** -0.2
    return h * min(MAX_FACTOR, max(MIN_FACTOR, fac))


@njit(cache=True)
def integrate_to(model: int, p: np.ndarray, n: int, y: np.ndarray, t_end: float, h0: float,
                 rtol: float, atol: np.ndarray, k: np.ndarray, ynew: np.ndarray, f0: np.ndarray,
                 fnew: np.ndarray) -> int:
    """Advance ``y`` (in place) from t=0 to ``t_end`` (either sign); returns the steps taken."""
    if t_end == 0.0:
        return 0
    sgn = 1.0 if t_end > 0 else -1.0
    h = sgn * min(abs(h0), abs(t_end))
    t = 0.0
    rhs(model, y, p, f0)
    steps = 0
    while sgn * (t_end - t) > 0.0:
        if sgn * (t + h - t_end) > 0.0:
            h = t_end - t
        err = dopri_step(model, p, n, y, f0, h, k, ynew, fnew, rtol, atol)
        if err <= 1.0:
            t += h
            for i in range(n):
                y[i] = ynew[i]
                f0[i] = fnew[i]
            steps += 1
        h = next_step_size(h, err)
        if abs(h) < 1e-14 * max(1.0, abs(t)):
            raise RuntimeError("step size underflow (singularity?)")
    return steps
