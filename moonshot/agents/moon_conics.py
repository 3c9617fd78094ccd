"""The MoonPlanner's own model: a lunar transfer as the two-body problem twice, in closed form.

The abstraction a mission designer starts from (Bate, Mueller & White, *Fundamentals of
Astrodynamics*, ch. 7): outside the Moon's sphere of influence the rocket follows a Kepler
conic around the Earth alone; once inside (radius ``r_soi``) it follows a conic around the
Moon alone, whose periapsis is the predicted closest approach. The Moon moves on its own
Kepler ellipse. Nothing is integrated; each launch costs a few hundred evaluations of
Kepler's equation, against thousands of integration steps of the simulator, and the answer
differs from the real flight by the Moon's pull outside its sphere and the Earth's pull inside
it.

The model is independent of the simulator by construction: it imports none of the env's
dynamics (``moonshot.physics``' integrators and Earth-Moon problem; ``tests/
test_information_rule.py`` enforces it) and knows only Kepler's laws and the published
constants the planner reads from its perception view.

A launch here is a prograde burn (the planner's launches): the burn point is the transfer
conic's perigee.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

#: The search for the sphere-of-influence entry steps along the transfer conic by the time
#: the rocket needs to close the remaining distance at ``MAX_CLOSING_SPEED`` (so it cannot
#: step over the sphere), between ``MIN_STEP`` and ``MAX_STEP`` seconds.
MAX_CLOSING_SPEED = 12.0  # km/s: above any rocket-Moon relative speed of a transfer
MIN_STEP, MAX_STEP = 300.0, 7200.0


@njit(cache=True)
def kepler_eccentric_anomaly(m: float, e: float) -> float:
    """Eccentric anomaly ``E`` with ``E - e sin E = m`` (elliptic, Newton's method)."""
    ecc = m if e < 0.8 else math.pi
    for _ in range(60):
        d = (ecc - e * math.sin(ecc) - m) / (1.0 - e * math.cos(ecc))
        ecc -= d
        if abs(d) < 1e-14:
            break
    return ecc


@njit(cache=True)
def ellipse_state(a: float, e: float, omega: float, gm: float,
                  t: float) -> tuple[float, float, float, float]:
    """Position and velocity ``t`` s after perigee on the ellipse ``a``, ``e`` whose perigee
    points at polar angle ``omega`` (counterclockwise motion)."""
    n = math.sqrt(gm / (a * a * a))
    ecc = kepler_eccentric_anomaly(n * t, e)
    nu = 2.0 * math.atan2(math.sqrt(1.0 + e) * math.sin(0.5 * ecc),
                          math.sqrt(1.0 - e) * math.cos(0.5 * ecc))
    p = a * (1.0 - e * e)
    r = p / (1.0 + e * math.cos(nu))
    s = math.sqrt(gm / p)
    vr = s * e * math.sin(nu)
    vt = s * (1.0 + e * math.cos(nu))
    ang = omega + nu
    c, sn = math.cos(ang), math.sin(ang)
    return r * c, r * sn, vr * c - vt * sn, vr * sn + vt * c


@njit(cache=True)
def body_state_at(a: float, e: float, perigee: float, angle0: float, gm: float,
                  t: float) -> tuple[float, float, float, float]:
    """State of a body on the ellipse ``a``, ``e`` (perigee at polar angle ``perigee``) ``t``
    seconds after it stood at polar angle ``angle0``: back to its time since perigee by
    Kepler's equation, then :func:`ellipse_state`."""
    nu0 = angle0 - perigee
    ecc0 = 2.0 * math.atan2(math.sqrt(1.0 - e) * math.sin(0.5 * nu0),
                            math.sqrt(1.0 + e) * math.cos(0.5 * nu0))
    since_perigee = (ecc0 - e * math.sin(ecc0)) / math.sqrt(gm / (a * a * a))
    return ellipse_state(a, e, perigee, gm, since_perigee + t)


@njit(cache=True)
def periapsis_distance(rx: float, ry: float, vx: float, vy: float, gm: float) -> float:
    """Periapsis distance of the two-body conic through a relative state (``h^2 / gm /
    (1 + e)``, any conic)."""
    r = math.sqrt(rx * rx + ry * ry)
    v2 = vx * vx + vy * vy
    rv = rx * vx + ry * vy
    ex = ((v2 - gm / r) * rx - rv * vx) / gm
    ey = ((v2 - gm / r) * ry - rv * vy) / gm
    hz = rx * vy - ry * vx
    return hz * hz / gm / (1.0 + math.sqrt(ex * ex + ey * ey))


@njit(cache=True)
def _one(r_park, park_angle, coast, dv, moon_a, moon_e, moon_perigee, moon_angle, gm_earth,
         gm_moon, r_soi, t_max, out):
    """Signed predicted miss, closest approach and its time for one launch (into ``out``)."""
    omega = park_angle + math.sqrt(gm_earth / r_park ** 3) * coast  # burn point = perigee
    v_p = math.sqrt(gm_earth / r_park) + dv
    inv_a = 2.0 / r_park - v_p * v_p / gm_earth
    gm_total = gm_earth + gm_moon
    out[0], out[1], out[2] = 1e9, 1e9, 0.0
    if inv_a <= 0.0:  # escape conic: no transfer of this model's kind
        return
    a = 1.0 / inv_a
    e = r_park * v_p * v_p / gm_earth - 1.0
    best, best_t, best_h = 1e18, 0.0, 1.0
    t = 0.0
    prev_d, prev_t = 1e18, 0.0
    while t <= t_max:
        x, y, vx, vy = ellipse_state(a, e, omega, gm_earth, t)
        mx, my, mvx, mvy = body_state_at(moon_a, moon_e, moon_perigee, moon_angle,
                                         gm_total, coast + t)
        rx, ry = x - mx, y - my
        d = math.sqrt(rx * rx + ry * ry)
        if d < r_soi:
            # enter the sphere: interpolate the crossing, then the Moon-centred conic
            f = (prev_d - r_soi) / max(prev_d - d, 1e-9) if prev_d < 1e17 else 1.0
            te = prev_t + f * (t - prev_t)
            x, y, vx, vy = ellipse_state(a, e, omega, gm_earth, te)
            mx, my, mvx, mvy = body_state_at(moon_a, moon_e, moon_perigee, moon_angle,
                                             gm_total, coast + te)
            rx, ry, wx, wy = x - mx, y - my, vx - mvx, vy - mvy
            rp = periapsis_distance(rx, ry, wx, wy, gm_moon)
            h = rx * wy - ry * wx
            # time to periapsis on the Moon-centred conic is not needed by the planner;
            # report the entry time as the encounter time
            out[0] = rp if h >= 0.0 else -rp
            out[1] = rp
            out[2] = te
            return
        if d < best:
            best, best_t = d, t
            best_h = rx * (vy - mvy) - ry * (vx - mvx)
        prev_d, prev_t = d, t
        t += min(max((d - r_soi) / MAX_CLOSING_SPEED, MIN_STEP), MAX_STEP)
    out[0] = best if best_h >= 0.0 else -best
    out[1] = best
    out[2] = best_t


@njit(cache=True)
def _batch(prm, r_soi, t_max, out):
    for i in range(prm.shape[0]):
        _one(prm[i, 0], prm[i, 1], prm[i, 2], prm[i, 3], prm[i, 4], prm[i, 5], prm[i, 6],
             prm[i, 7], prm[i, 8], prm[i, 9], r_soi[i], t_max, out[i])
    return out


def patched_conic_miss(park_radius: ArrayLike, park_angle: ArrayLike, coast_time: ArrayLike,
                       delta_v: ArrayLike, moon_a: ArrayLike, moon_e: ArrayLike,
                       moon_perigee: ArrayLike, moon_angle: ArrayLike, gm_earth: ArrayLike,
                       gm_moon: ArrayLike, r_soi: ArrayLike,
                       t_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted ``(signed miss, closest approach, time)`` of prograde launches (arrays
    broadcast together; km, s). The signed miss is the Moon-centred periapsis signed by the
    sense of the flyby (its angular momentum), as :func:`moonshot.agents.moon_planner.
    signed_miss` signs the real one; a launch that never enters the sphere reports its closest
    approach on the Earth conic, signed the same way."""
    cols = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (
        park_radius, park_angle, coast_time, delta_v, moon_a, moon_e, moon_perigee,
        moon_angle, gm_earth, gm_moon, r_soi)))
    prm = np.ascontiguousarray(np.stack([np.atleast_1d(c) for c in cols[:10]], axis=-1))
    out = np.empty((len(prm), 3))
    _batch(prm, np.atleast_1d(cols[10]).astype(np.float64), float(t_max), out)
    return out[:, 0], out[:, 1], out[:, 2]


def laplace_soi(semi_major_axis: ArrayLike, gm_small: ArrayLike,
                gm_large: ArrayLike) -> np.ndarray:
    """Radius of the sphere of influence (Laplace): ``a (m / M)^(2/5)``."""
    return np.asarray(semi_major_axis) * (np.asarray(gm_small) / np.asarray(gm_large)) ** 0.4
