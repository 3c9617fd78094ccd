"""Launches from a parking orbit to the Moon: batched, compiled, with event detection.

Frame: Earth-centred, non-rotating, planar; km, s, rad. Angles are measured counterclockwise
from the x axis, and the parking orbit and the Moon both turn counterclockwise.

A launch is:

1. a coast of ``coast_time`` seconds on a circular parking orbit of radius ``park_radius``,
   starting at polar angle ``park_angle`` (in closed form: a Kepler circle; the Moon's tidal
   pull over the < 2.5 h coast is neglected);
2. an impulsive burn of ``delta_v`` km/s at ``burn_angle`` rad from the prograde direction
   (positive rotates the thrust counterclockwise from the velocity, i.e. inward on the
   counterclockwise parking orbit);
3. a free flight under the gravity of the Earth and the Moon until an event ends it:
   Moon impact, Earth impact, escape beyond ``r_escape``, a fall back to Earth (inside
   ``R_FALLBACK`` again after having climbed beyond it, or an apogee below it), or ``t_max``
   seconds after the burn.

The Moon starts at polar angle ``moon_angle`` on an ellipse with semi-major axis ``moon_a``,
eccentricity ``moon_e`` and perigee at polar angle ``moon_perigee``.

Along the flight the closest approach to the Moon is found between integration steps by cubic
Hermite interpolation of the Moon-centred relative motion. For a Moon impact the reported closest
approach is the periselene of the osculating Moon-centred conic at impact (the distance at which
a point-mass Moon would have been passed), so it varies continuously across the rim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from .constants import AU, DAY, EARTH_MOON_DISTANCE, GM_EARTH, GM_MOON, R_EARTH, R_MOON
from .integrators import EARTH_MOON, dopri_step, next_step_size, rhs

# Event codes (``LaunchResult.event``).
EVENT_NONE = 0  # reached t_max
EVENT_MOON_IMPACT = 1
EVENT_EARTH_IMPACT = 2
EVENT_ESCAPE = 3
EVENT_FELL_BACK = 4  # fell back inside R_FALLBACK, or turned back below it: the transfer failed
EVENT_NAMES = ("timeout", "moon_impact", "earth_impact", "escape", "fell_back")

# Columns of the (N, N_IN) launch-parameter array handed to the compiled kernel.
IN_PARK_RADIUS, IN_PARK_ANGLE, IN_COAST, IN_DV, IN_BURN_ANGLE = 0, 1, 2, 3, 4
IN_MOON_A, IN_MOON_E, IN_MOON_PERIGEE, IN_MOON_ANGLE = 5, 6, 7, 8
IN_GM_EARTH, IN_GM_MOON, IN_R_EARTH, IN_R_MOON = 9, 10, 11, 12
IN_GM_SUN, IN_SUN_DISTANCE, IN_SUN_ANGLE = 13, 14, 15  # GM_sun = 0: no Sun (three bodies)
N_IN = 16

# Columns of the (N, N_OUT) result array.
OUT_EVENT, OUT_CLOSEST, OUT_T_CLOSEST, OUT_T_END = 0, 1, 2, 3
OUT_MISS = 4  # 4..5: Moon-centred position at closest approach
OUT_MISS_VEL = 6  # 6..7: Moon-centred velocity at closest approach
OUT_STEPS = 8
N_OUT = 9

#: Columns of a recorded trajectory: t, rocket x, y, vx, vy, Moon x, y, vx, vy.
TRAJ_COLS = 9

DEFAULT_RTOL = 1e-10
DEFAULT_T_MAX = 10 * DAY
DEFAULT_R_ESCAPE = 2.5 * EARTH_MOON_DISTANCE
#: Falling back inside this radius (km; above geostationary altitude) after having climbed beyond
#: it ends the flight: the rocket is on its way back to Earth, the transfer arc is over.
R_FALLBACK = 60000.0


@njit(cache=True)
def moon_state(a: float, e: float, perigee: float, angle: float,
               gm_total: float) -> tuple[float, float, float, float]:
    """Position and velocity of the Moon at polar angle ``angle`` on its Keplerian ellipse."""
    nu = angle - perigee
    p = a * (1.0 - e * e)
    r = p / (1.0 + e * math.cos(nu))
    s = math.sqrt(gm_total / p)
    vr = s * e * math.sin(nu)
    vt = s * (1.0 + e * math.cos(nu))
    c, sn = math.cos(angle), math.sin(angle)
    return r * c, r * sn, vr * c - vt * sn, vr * sn + vt * c


@njit(cache=True)
def moon_state_at(a: float, e: float, perigee: float, angle0: float, gm_total: float,
                  t: float) -> tuple[float, float, float, float]:
    """The Moon's state ``t`` seconds after it stood at polar angle ``angle0`` (Kepler's
    equation solved by Newton's method)."""
    nu0 = angle0 - perigee
    # True -> eccentric -> mean anomaly at t=0, advance, and back.
    ecc0 = 2.0 * math.atan2(math.sqrt(1.0 - e) * math.sin(0.5 * nu0),
                            math.sqrt(1.0 + e) * math.cos(0.5 * nu0))
    m = ecc0 - e * math.sin(ecc0) + math.sqrt(gm_total / (a * a * a)) * t
    ecc = m
    for _ in range(50):
        d = (ecc - e * math.sin(ecc) - m) / (1.0 - e * math.cos(ecc))
        ecc -= d
        if abs(d) < 1e-15:
            break
    nu = 2.0 * math.atan2(math.sqrt(1.0 + e) * math.sin(0.5 * ecc),
                          math.sqrt(1.0 - e) * math.cos(0.5 * ecc))
    return moon_state(a, e, perigee, perigee + nu, gm_total)


@njit(cache=True)
def _hermite(p0: np.ndarray, v0: np.ndarray, p1: np.ndarray, v1: np.ndarray, h: float,
             s: float) -> tuple[float, float, float, float]:
    """Cubic Hermite interpolant of a 2D motion on a step of length ``h``, at fraction ``s``."""
    s2 = s * s
    s3 = s2 * s
    h00 = 2 * s3 - 3 * s2 + 1
    h10 = s3 - 2 * s2 + s
    h01 = -2 * s3 + 3 * s2
    h11 = s3 - s2
    d00 = 6 * s2 - 6 * s
    d10 = 3 * s2 - 4 * s + 1
    d01 = -6 * s2 + 6 * s
    d11 = 3 * s2 - 2 * s
    px = h00 * p0[0] + h10 * h * v0[0] + h01 * p1[0] + h11 * h * v1[0]
    py = h00 * p0[1] + h10 * h * v0[1] + h01 * p1[1] + h11 * h * v1[1]
    vx = (d00 * p0[0] + d01 * p1[0]) / h + d10 * v0[0] + d11 * v1[0]
    vy = (d00 * p0[1] + d01 * p1[1]) / h + d10 * v0[1] + d11 * v1[1]
    return px, py, vx, vy


@njit(cache=True)
def closest_in_step(p0: np.ndarray, v0: np.ndarray, p1: np.ndarray, v1: np.ndarray,
                    h: float) -> float:
    """Fraction ``s`` of the step where the distance of a relative motion is smallest.

    Call only when the range rate turns from negative (at s=0) to non-negative (at s=1);
    bisection on the sign of ``p . v`` of the Hermite interpolant.
    """
    lo, hi = 0.0, 1.0
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        px, py, vx, vy = _hermite(p0, v0, p1, v1, h, mid)
        if px * vx + py * vy < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def osculating_periapsis(rx: float, ry: float, vx: float, vy: float,
                         gm: float) -> tuple[float, float, float, float, float]:
    """Periapsis (distance, position, velocity) of the two-body conic through a state."""
    r = math.sqrt(rx * rx + ry * ry)
    v2 = vx * vx + vy * vy
    hz = rx * vy - ry * vx
    rv = rx * vx + ry * vy
    ex = ((v2 - gm / r) * rx - rv * vx) / gm
    ey = ((v2 - gm / r) * ry - rv * vy) / gm
    e = math.sqrt(ex * ex + ey * ey)
    rp = hz * hz / gm / (1.0 + e)
    if e < 1e-12:  # circular: any point is the periapsis
        ux, uy = rx / r, ry / r
    else:
        ux, uy = ex / e, ey / e
    vp = abs(hz) / rp if rp > 0 else 0.0
    sgn = 1.0 if hz >= 0 else -1.0
    return rp, rp * ux, rp * uy, -sgn * vp * uy, sgn * vp * ux


@njit(cache=True)
def _fly_one(prm: np.ndarray, rtol: float, t_max: float, r_escape: float, out: np.ndarray,
             traj: np.ndarray, traj_cap: int) -> int:
    """Integrate one launch; writes the result row ``out`` and returns the number of
    trajectory samples written into ``traj`` (rows: t, rocket state, Moon state)."""
    gm_e = prm[IN_GM_EARTH]
    gm_m = prm[IN_GM_MOON]
    r_e = prm[IN_R_EARTH]
    r_m = prm[IN_R_MOON]
    gm_s = prm[IN_GM_SUN]
    n = 9 if gm_s > 0.0 else 8  # the Sun's angle rides along as a ninth state
    p = np.empty(5)
    p[0] = gm_e
    p[1] = gm_m
    p[2] = gm_s
    p[3] = prm[IN_SUN_DISTANCE]
    p[4] = math.sqrt((gm_s + gm_e) / p[3] ** 3) if gm_s > 0.0 else 0.0
    atol = np.empty(9)
    for i in range(8):
        # km for positions, km/s for velocities; rtol dominates at these scales.
        atol[i] = 1e-6 if (i % 4) < 2 else 1e-9
    atol[8] = 1e-12  # rad
    k = np.empty((6, 9))
    y = np.empty(9)
    ynew = np.empty(9)
    f0 = np.empty(9)
    fnew = np.empty(9)

    # Initial state: rocket on its circular parking orbit, the Moon on its ellipse.
    r0 = prm[IN_PARK_RADIUS]
    th = prm[IN_PARK_ANGLE]
    vc = math.sqrt(gm_e / r0)
    steps = 0
    n_traj = 0
    # Coast: the parking orbit is a Kepler circle (the Moon's tidal pull over < 2.5 h shifts it by
    # metres), and the Moon moves on its ellipse; both are exact in closed form.
    t_coast = prm[IN_COAST]
    th = th + vc / r0 * t_coast
    y[0] = r0 * math.cos(th)
    y[1] = r0 * math.sin(th)
    y[2] = -vc * math.sin(th)
    y[3] = vc * math.cos(th)
    mx, my, mvx, mvy = moon_state_at(prm[IN_MOON_A], prm[IN_MOON_E], prm[IN_MOON_PERIGEE],
                                     prm[IN_MOON_ANGLE], gm_e + gm_m, t_coast)
    y[4], y[5], y[6], y[7] = mx, my, mvx, mvy
    y[8] = prm[IN_SUN_ANGLE] + p[4] * t_coast
    t = t_coast

    # Burn: rotate the unit velocity by burn_angle and add delta_v along it.
    vx, vy = y[2], y[3]
    vn = math.sqrt(vx * vx + vy * vy)
    ca, sa = math.cos(prm[IN_BURN_ANGLE]), math.sin(prm[IN_BURN_ANGLE])
    dv = prm[IN_DV]
    y[2] = vx + dv * (ca * vx - sa * vy) / vn
    y[3] = vy + dv * (sa * vx + ca * vy) / vn
    rhs(EARTH_MOON, y, p, f0)

    rel0 = np.empty(2)
    relv0 = np.empty(2)
    rel1 = np.empty(2)
    relv1 = np.empty(2)
    rel0[0], rel0[1] = y[0] - y[4], y[1] - y[5]
    relv0[0], relv0[1] = y[2] - y[6], y[3] - y[7]
    best = math.sqrt(rel0[0] ** 2 + rel0[1] ** 2)
    out[OUT_T_CLOSEST] = 0.0
    out[OUT_MISS], out[OUT_MISS + 1] = rel0[0], rel0[1]
    out[OUT_MISS_VEL], out[OUT_MISS_VEL + 1] = relv0[0], relv0[1]
    event = EVENT_NONE
    if traj_cap > 0:
        traj[0, 0] = 0.0
        traj[0, 1:] = y[:8]
        n_traj = 1

    # Phase 2: free flight. Start small: the rocket is deep in the Earth's well.
    t = 0.0
    h = 10.0
    climbed = False
    while t < t_max:
        if t + h > t_max:
            h = t_max - t
        err = dopri_step(EARTH_MOON, p, n, y, f0, h, k, ynew, fnew, rtol, atol)
        if err > 1.0:
            h = next_step_size(h, err)
            continue
        steps += 1
        rel1[0], rel1[1] = ynew[0] - ynew[4], ynew[1] - ynew[5]
        relv1[0], relv1[1] = ynew[2] - ynew[6], ynew[3] - ynew[7]
        d1 = math.sqrt(rel1[0] ** 2 + rel1[1] ** 2)
        # Closest approach to the Moon inside this step, else at its end.
        g0 = rel0[0] * relv0[0] + rel0[1] * relv0[1]
        g1 = rel1[0] * relv1[0] + rel1[1] * relv1[1]
        cand, cs = d1, 1.0
        cx, cy, cvx, cvy = rel1[0], rel1[1], relv1[0], relv1[1]
        if g0 < 0.0 <= g1:
            s = closest_in_step(rel0, relv0, rel1, relv1, h)
            px, py, qx, qy = _hermite(rel0, relv0, rel1, relv1, h, s)
            dm = math.sqrt(px * px + py * py)
            if dm < cand:
                cand, cs, cx, cy, cvx, cvy = dm, s, px, py, qx, qy
        if cand < best:
            best = cand
            out[OUT_T_CLOSEST] = t + cs * h
            out[OUT_MISS], out[OUT_MISS + 1] = cx, cy
            out[OUT_MISS_VEL], out[OUT_MISS_VEL + 1] = cvx, cvy
        if cand < r_m:
            # Impact: report the periselene of the osculating conic (continuous across the rim).
            rp, px, py, qx, qy = osculating_periapsis(cx, cy, cvx, cvy, gm_m)
            best = min(rp, cand)
            out[OUT_MISS], out[OUT_MISS + 1] = px, py
            out[OUT_MISS_VEL], out[OUT_MISS_VEL + 1] = qx, qy
            out[OUT_T_CLOSEST] = t + cs * h
            event = EVENT_MOON_IMPACT
        # Earth impact: the end point inside, or a perigee inside the step below the surface.
        e1 = math.sqrt(ynew[0] ** 2 + ynew[1] ** 2)
        if event == EVENT_NONE:
            if e1 < r_e:
                event = EVENT_EARTH_IMPACT
            elif (y[0] * y[2] + y[1] * y[3]) < 0.0 <= (ynew[0] * ynew[2] + ynew[1] * ynew[3]):
                s = closest_in_step(y[0:2], y[2:4], ynew[0:2], ynew[2:4], h)
                px, py, qx, qy = _hermite(y[0:2], y[2:4], ynew[0:2], ynew[2:4], h, s)
                if px * px + py * py < r_e * r_e:
                    event = EVENT_EARTH_IMPACT
            if event == EVENT_NONE and e1 > r_escape:
                event = EVENT_ESCAPE
            rv1 = ynew[0] * ynew[2] + ynew[1] * ynew[3]
            if e1 > R_FALLBACK:
                climbed = True
            elif rv1 < 0.0 and (climbed or y[0] * y[2] + y[1] * y[3] >= 0.0):
                # Back inside after climbing out, or an apogee below R_FALLBACK.
                event = EVENT_FELL_BACK
        t += h
        for i in range(n):
            y[i] = ynew[i]
            f0[i] = fnew[i]
        rel0[0], rel0[1], relv0[0], relv0[1] = rel1[0], rel1[1], relv1[0], relv1[1]
        if n_traj < traj_cap:
            traj[n_traj, 0] = t
            traj[n_traj, 1:] = y[:8]
            n_traj += 1
        if event != EVENT_NONE:
            break
        h = next_step_size(h, err)

    out[OUT_EVENT] = event
    out[OUT_CLOSEST] = best
    out[OUT_T_END] = t
    out[OUT_STEPS] = steps
    return n_traj


@njit(cache=True)
def _fly_batch(params: np.ndarray, rtol: float, t_max: float, r_escape: float) -> np.ndarray:
    n = params.shape[0]
    out = np.zeros((n, N_OUT))
    dummy = np.empty((0, TRAJ_COLS))
    for j in range(n):
        _fly_one(params[j], rtol, t_max, r_escape, out[j], dummy, 0)
    return out


@njit(cache=True)
def _fly_traced(prm: np.ndarray, rtol: float, t_max: float, r_escape: float,
                cap: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros(N_OUT)
    traj = np.empty((cap, TRAJ_COLS))
    m = _fly_one(prm, rtol, t_max, r_escape, out, traj, cap)
    return out, traj[:m]


@dataclass(frozen=True)
class LaunchResult:
    """Outcome of a batch of launches; every field is an array with one entry per launch.

    Times are seconds after the burn; positions km, velocities km/s, Moon-centred for ``miss``.
    """

    event: np.ndarray  #: int event code (``EVENT_*``)
    closest_approach: np.ndarray  #: km from the Moon's centre (periselene of the conic on impact)
    time_of_closest: np.ndarray  #: s after the burn
    time_end: np.ndarray  #: s after the burn at which the flight ended
    miss: np.ndarray  #: (N, 2) Moon-centred position at closest approach, km
    miss_velocity: np.ndarray  #: (N, 2) Moon-centred velocity at closest approach, km/s
    steps: np.ndarray  #: integration steps taken

    @classmethod
    def from_array(cls, out: np.ndarray) -> LaunchResult:
        return cls(
            event=out[:, OUT_EVENT].astype(np.int64),
            closest_approach=out[:, OUT_CLOSEST],
            time_of_closest=out[:, OUT_T_CLOSEST],
            time_end=out[:, OUT_T_END],
            miss=out[:, OUT_MISS:OUT_MISS + 2],
            miss_velocity=out[:, OUT_MISS_VEL:OUT_MISS_VEL + 2],
            steps=out[:, OUT_STEPS].astype(np.int64),
        )


def launch_params(park_radius: ArrayLike, park_angle: ArrayLike, coast_time: ArrayLike,
                  delta_v: ArrayLike, burn_angle: ArrayLike, moon_angle: ArrayLike,
                  moon_a: ArrayLike = EARTH_MOON_DISTANCE, moon_e: ArrayLike = 0.0,
                  moon_perigee: ArrayLike = 0.0, gm_earth: ArrayLike = GM_EARTH,
                  gm_moon: ArrayLike = GM_MOON, r_earth: ArrayLike = R_EARTH,
                  r_moon: ArrayLike = R_MOON, gm_sun: ArrayLike = 0.0,
                  sun_distance: ArrayLike = AU, sun_angle: ArrayLike = 0.0) -> np.ndarray:
    """Pack launch parameters (scalars or arrays, broadcast together) into the kernel's layout.
    ``gm_sun > 0`` adds the Sun (at ``sun_distance``, polar angle ``sun_angle`` at t = 0)."""
    cols = [np.asarray(v, dtype=np.float64) for v in (
        park_radius, park_angle, coast_time, delta_v, burn_angle, moon_a, moon_e, moon_perigee,
        moon_angle, gm_earth, gm_moon, r_earth, r_moon, gm_sun, sun_distance, sun_angle)]
    # filled column by column (each broadcast on assignment): a third of the time of
    # broadcast_arrays + stack, which cost ~30 us of a single-env launch
    out = np.empty((*(np.broadcast(*cols).shape or (1,)), N_IN))
    for k, c in enumerate(cols):
        out[..., k] = c
    return out


def fly(params: np.ndarray, rtol: float = DEFAULT_RTOL, t_max: float = DEFAULT_T_MAX,
        r_escape: float = DEFAULT_R_ESCAPE) -> LaunchResult:
    """Fly a batch of launches (rows of ``params`` from :func:`launch_params`)."""
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.ndim != 2 or params.shape[1] != N_IN:
        raise ValueError(f"params must have shape (N, {N_IN}); use launch_params()")
    if not np.all(np.isfinite(params)):
        raise ValueError("launch parameters contain NaN or infinite values")
    return LaunchResult.from_array(_fly_batch(params, rtol, t_max, r_escape))


def fly_traced(params: np.ndarray, rtol: float = DEFAULT_RTOL, t_max: float = DEFAULT_T_MAX,
               r_escape: float = DEFAULT_R_ESCAPE,
               capacity: int = 50_000) -> tuple[LaunchResult, np.ndarray]:
    """Fly one launch and also return its trajectory, one row per integration step:
    ``[t, x, y, vx, vy, moon_x, moon_y, moon_vx, moon_vy]`` (t in s after the burn)."""
    params = np.ascontiguousarray(params, dtype=np.float64).reshape(-1, N_IN)
    out, traj = _fly_traced(params[0], rtol, t_max, r_escape, capacity)
    return LaunchResult.from_array(out[None, :]), traj
