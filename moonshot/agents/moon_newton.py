"""The sysid agent's own model of MoonLaunch: Newtonian gravity of two bodies, written here.

This module is the *form* the ``sysid`` agent is given (:mod:`.moon_sysid`): a rocket starts
on a circular parking orbit, fires one impulsive burn, and then flies under the point-mass
gravity of the Earth and the Moon, the Moon itself on its Keplerian orbit around the Earth
(the relative two-body motion, integrated with the rocket). Nothing is imported from the
simulator (:mod:`moonshot.physics`, :mod:`moonshot.envs`): the integrator (an adaptive
Dormand-Prince 5(4) step, compiled by numba) and the launch geometry are written anew from
the textbook and from the env's documentation (the action table of
:class:`~moonshot.envs.moon_launch.MoonLaunchEnv` and the meaning of its observation slots).
Its parameters are inputs: the agent fits the ones it does not trust.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: The documented action mapping (the env's *Action Space* table): coast over one parking
#: revolution, delta-v 2.7 .. 3.5 km/s, burn direction +-30 degrees from prograde.
DV_CENTER, DV_HALF_RANGE = 3.1, 0.4
BURN_ANGLE_MAX = math.radians(30.0)
#: The documented unit of the Moon's distance and semi-major axis in the observation.
DISTANCE_UNIT_KM = 384_400.0
#: Where a flight stops (the env's documented *Episode End*): beyond this radius it escaped;
#: back inside ``FALL_BACK_KM`` after climbing beyond it, it fell back.
ESCAPE_KM, FALL_BACK_KM = 961_000.0, 60_000.0
DAY_S = 86_400.0

# Dormand-Prince 5(4) tableau.
_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_A = np.array([
    [0, 0, 0, 0, 0, 0],
    [1 / 5, 0, 0, 0, 0, 0],
    [3 / 40, 9 / 40, 0, 0, 0, 0],
    [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]])
_B5 = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0])
_B4 = np.array([5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])
_E = _B5 - _B4


@numba.njit(cache=True)
def _deriv(y, gm_e, gm_m, out):
    """Rocket (y[0:4]) and Moon (y[4:8]), Earth-centred: the rocket feels both bodies and
    the Earth's acceleration towards the Moon (the indirect term of a non-inertial frame)."""
    x, yy, mx, my = y[0], y[1], y[4], y[5]
    r3 = (x * x + yy * yy) ** 1.5
    dx, dy = x - mx, yy - my
    d3 = (dx * dx + dy * dy) ** 1.5
    m3 = (mx * mx + my * my) ** 1.5
    out[0], out[1] = y[2], y[3]
    out[2] = -gm_e * x / r3 - gm_m * dx / d3 - gm_m * mx / m3
    out[3] = -gm_e * yy / r3 - gm_m * dy / d3 - gm_m * my / m3
    out[4], out[5] = y[6], y[7]
    out[6] = -(gm_e + gm_m) * mx / m3
    out[7] = -(gm_e + gm_m) * my / m3


@numba.njit(cache=True)
def _periselene(rx, ry, vx, vy, mu, out):
    """Periselene (distance, position; velocity there) of the Moon-centred conic through
    ``(r, v)``, into ``out[0:5]``."""
    r = math.sqrt(rx * rx + ry * ry)
    v2 = vx * vx + vy * vy
    rv = rx * vx + ry * vy
    ex = ((v2 - mu / r) * rx - rv * vx) / mu
    ey = ((v2 - mu / r) * ry - rv * vy) / mu
    e = math.sqrt(ex * ex + ey * ey)
    h = rx * vy - ry * vx
    rp = h * h / mu / (1.0 + e)
    ux, uy = (ex / e, ey / e) if e > 1e-12 else (rx / r, ry / r)
    vp = abs(h) / max(rp, 1e-9)
    sense = 1.0 if h >= 0 else -1.0
    out[0] = rp
    out[1], out[2] = rp * ux, rp * uy
    out[3], out[4] = -sense * vp * uy, sense * vp * ux


@numba.njit(cache=True)
def _flight(y0, gm_e, gm_m, r_e, r_m, t_max, rtol, out):
    """Integrate one flight from the burn; ``out``: closest approach (km), Moon-centred miss
    position (2) and velocity (2) at it, time of it (s), the end code (0 time limit, 1 Moon
    impact, 2 Earth impact, 3 escape, 4 fell back) and the steps taken."""
    y = y0.copy()
    k = np.zeros((7, 8))
    tmp = np.zeros(8)
    y5 = np.zeros(8)
    t, h = 0.0, 30.0
    best = 1e300
    climbed = False
    end = 0
    steps = 0
    out[1:5] = 0.0
    out[5] = 0.0
    _deriv(y, gm_e, gm_m, k[0])
    while t < t_max and steps < 200_000:
        dx, dy = y[0] - y[4], y[1] - y[5]
        dvx, dvy = y[2] - y[6], y[3] - y[7]
        d = math.sqrt(dx * dx + dy * dy)
        # passing the Moon: resolve the closest approach (a few % of the distance per step)
        h = min(h, max(20.0, 0.03 * d / max(1e-9, math.sqrt(dvx * dvx + dvy * dvy))),
                t_max - t)
        for s in range(1, 7):
            for j in range(8):
                acc = y[j]
                for q in range(s):
                    acc += h * _A[s, q] * k[q, j]
                tmp[j] = acc
            _deriv(tmp, gm_e, gm_m, k[s])
        err = 0.0
        for j in range(8):
            acc = y[j]
            e = 0.0
            for q in range(7):
                acc += h * _B5[q] * k[q, j]
                e += h * _E[q] * k[q, j]
            y5[j] = acc
            scale = (1e-3 if j % 4 < 2 else 1e-6) + rtol * max(abs(y[j]), abs(acc))
            err = max(err, abs(e) / scale)
        if err > 1.0:
            h *= max(0.2, 0.9 * err ** -0.2)
            continue
        t += h
        steps += 1
        y[:] = y5
        _deriv(y, gm_e, gm_m, k[0])
        h *= min(5.0, 0.9 * max(err, 1e-10) ** -0.2)
        dx, dy = y[0] - y[4], y[1] - y[5]
        d = math.sqrt(dx * dx + dy * dy)
        if d < best:
            best = d
            out[1], out[2], out[3], out[4] = dx, dy, y[2] - y[6], y[3] - y[7]
            out[5] = t
        r = math.sqrt(y[0] * y[0] + y[1] * y[1])
        climbed = climbed or r > FALL_BACK_KM
        if d < r_m:
            # an impact: the closest approach is the periselene of the osculating Moon-centred
            # conic (below the surface), as the env's tracking data documents it
            _periselene(dx, dy, y[2] - y[6], y[3] - y[7], gm_m, out)
            end = 1
            break
        if r < r_e:
            end = 2
            break
        if r > ESCAPE_KM:
            end = 3
            break
        if climbed and r < FALL_BACK_KM:
            end = 4
            break
    if end != 1:
        out[0] = best
    out[6] = end
    out[7] = steps


@numba.njit(cache=True)
def _fly_batch(y0s, gm_e, gm_m, r_e, r_m, t_max, rtol):
    out = np.zeros((y0s.shape[0], 8))
    for i in range(y0s.shape[0]):
        _flight(y0s[i], gm_e[i], gm_m[i], r_e, r_m, t_max, rtol, out[i])
    return out


def moon_state(angle, dist, v_radial, a, gm_total):
    """The Moon's Earth-centred position and velocity (counterclockwise orbit) from its polar
    angle, distance (km), radial velocity (km/s) and semi-major axis: vis-viva gives the
    speed, the radial part is observed, the rest is tangential."""
    angle, dist, v_radial = (np.asarray(v, dtype=np.float64) for v in (angle, dist, v_radial))
    v2 = gm_total * (2.0 / dist - 1.0 / a)
    vt = np.sqrt(np.maximum(v2 - v_radial**2, 1e-12))
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([dist * c, dist * s, v_radial * c - vt * s, v_radial * s + vt * c], -1)


def kepler_drift(state, gm_total, t):
    """The Moon's state after ``t`` seconds of two-body motion (RK4 in 32 steps: a parking
    coast is under a tenth of a day of a 27-day orbit)."""
    y = np.array(state, dtype=np.float64, copy=True)
    t = np.asarray(t, dtype=np.float64)
    h = t / 32.0

    def f(z):
        r3 = (z[..., 0] ** 2 + z[..., 1] ** 2) ** 1.5
        return np.stack([z[..., 2], z[..., 3], -gm_total * z[..., 0] / r3,
                         -gm_total * z[..., 1] / r3], -1)

    for _ in range(32):
        k1 = f(y)
        k2 = f(y + 0.5 * h[..., None] * k1)
        k3 = f(y + 0.5 * h[..., None] * k2)
        k4 = f(y + h[..., None] * k3)
        y = y + h[..., None] / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def parking_period(park_radius, gm_earth):
    return 2.0 * np.pi * np.sqrt(np.asarray(park_radius, dtype=np.float64) ** 3 / gm_earth)


def burn_from_action(actions, park_radius, gm_earth):
    """``(coast_s, delta_v_kms, burn_angle_rad)`` of actions in [-1, 1]^3 (the documented
    table)."""
    a = np.clip(np.asarray(actions, dtype=np.float64).reshape(-1, 3), -1.0, 1.0)
    coast = 0.5 * (a[:, 0] + 1.0) * parking_period(park_radius, gm_earth)
    return coast, DV_CENTER + DV_HALF_RANGE * a[:, 1], BURN_ANGLE_MAX * a[:, 2]


def action_from_burn(coast, delta_v, burn_angle, park_radius, gm_earth) -> np.ndarray:
    period = parking_period(park_radius, gm_earth)
    frac = np.mod(coast, period) / period
    return np.stack([2 * frac - 1, (np.asarray(delta_v) - DV_CENTER) / DV_HALF_RANGE,
                     np.asarray(burn_angle) / BURN_ANGLE_MAX], -1).astype(np.float32)


def fly(park_radius, park_angle, coast, delta_v, burn_angle, moon, gm_earth, gm_moon,
        r_earth, r_moon, t_max: float = 8 * DAY_S, rtol: float = 1e-8) -> dict:
    """Fly a batch of launches in this model.

    :param moon: the Moon's state at t = 0, shape (N, 4) (:func:`moon_state`).
    :return: ``closest_km``, ``miss_km`` (N, 2), ``miss_velocity_kms`` (N, 2), ``tof_days``,
        ``signed_miss_km`` (the closest approach signed by the sense of the flyby), ``end``,
        ``steps``.
    """
    coast, delta_v, burn_angle, park_radius, park_angle, gm_earth, gm_moon = (
        np.array(np.atleast_1d(v), dtype=np.float64) for v in np.broadcast_arrays(
            coast, delta_v, burn_angle, park_radius, park_angle, gm_earth, gm_moon))
    n = len(coast)
    moon = np.broadcast_to(np.asarray(moon, dtype=np.float64), (n, 4))
    moon_at_burn = kepler_drift(moon, gm_earth + gm_moon, coast)
    phi = park_angle + coast * np.sqrt(gm_earth / park_radius**3)
    v_c = np.sqrt(gm_earth / park_radius)
    prograde = np.stack([-np.sin(phi), np.cos(phi)], -1)
    c, s = np.cos(burn_angle), np.sin(burn_angle)
    burn_dir = np.stack([c * prograde[:, 0] - s * prograde[:, 1],
                         s * prograde[:, 0] + c * prograde[:, 1]], -1)
    pos = park_radius[:, None] * np.stack([np.cos(phi), np.sin(phi)], -1)
    vel = v_c[:, None] * prograde + delta_v[:, None] * burn_dir
    y0 = np.ascontiguousarray(np.concatenate([pos, vel, moon_at_burn], -1))
    out = _fly_batch(y0, np.ascontiguousarray(gm_earth), np.ascontiguousarray(gm_moon),
                     float(r_earth), float(r_moon), float(t_max), float(rtol))
    miss, miss_v = out[:, 1:3], out[:, 3:5]
    h = miss[:, 0] * miss_v[:, 1] - miss[:, 1] * miss_v[:, 0]
    return {"closest_km": out[:, 0], "miss_km": miss, "miss_velocity_kms": miss_v,
            "tof_days": out[:, 5] / DAY_S, "signed_miss_km": np.where(h >= 0, 1.0, -1.0)
            * out[:, 0], "end": out[:, 6].astype(int), "steps": out[:, 7].astype(int)}


def signed_miss(miss, miss_velocity) -> np.ndarray:
    """Closest approach signed by the sense of the flyby (the Moon-centred angular
    momentum): it passes through zero for a central hit."""
    miss, vel = np.atleast_2d(miss), np.atleast_2d(miss_velocity)
    h = miss[:, 0] * vel[:, 1] - miss[:, 1] * vel[:, 0]
    return np.where(h >= 0, 1.0, -1.0) * np.hypot(miss[:, 0], miss[:, 1])
