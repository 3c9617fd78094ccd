"""The planner's model of other drivers: tracks of the cars it sees, their parameters
estimated online, and where they may be over the next seconds.

Nothing here comes from the simulator's traffic code. A driver sees cars (position, heading,
speed, size), not their intentions; it reads them as a driver does:

* **tracks** (:class:`Tracks`): the cars seen at one step are associated with those seen
  before by nearest neighbour on the predicted position (gated in distance and heading), so
  each car has a history over the last seconds;
* **online estimates** per track: its acceleration (the change of its speed, smoothed over
  ``TAU_ACCEL`` s), the largest it showed lately, and the highest speed it showed. A new car
  starts from a prior read off the posted limit: drivers are expected to go up to
  ``PRIOR_SPEEDING`` m/s over the limit and to pull away at ``PRIOR_ACCEL`` m/s²; a car that
  showed more is expected to do more;
* **prediction** (:func:`predict_along_lanes`): each car is map-matched to its lane and
  followed along every turn the lane allows, as a free-road IDM-like driver (Treiber,
  Hennecke & Helbing 2000: ``dv/dt = a (1 - (v / v0)^4)``) with its estimated ``a`` and
  ``v0``, and, separately, holding its speed; it halts where the planner expects it to stop
  for its light (:mod:`.lights`);
* **cars behind** the ego in its lane are predicted too (:func:`rear_gap_kept`): as
  followers that keep going for ``REACTION`` s and then brake at most ``FOLLOWER_BRAKE``
  m/s² - the planner does not count on them never running into it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...physics.city.geometry import polyline_point
from ...physics.city.roads import ROAD, LaneArrays

PRIOR_SPEEDING = 2.0  # m/s over the posted limit a driver is assumed to go (~7 km/h)
PRIOR_ACCEL = 1.5  # m/s²: how fast a city driver is assumed to pull away (1-2 m/s² typical)
TAU_ACCEL = 0.5  # s: smoothing of a track's measured acceleration
MEMORY = 5.0  # s: how long a track remembers the largest acceleration it showed
LOST_AFTER = 1.5  # s unseen: the track is dropped (a car seen again later is a new track)
GATE = 3.0  # m: the farthest a car may be from its track's predicted position to continue it
REACTION = 0.8  # s: a follower's reaction time before it brakes (1-1.5 s typical; alert)
FOLLOWER_BRAKE = 4.0  # m/s²: the hardest a follower is assumed to brake for the ego


class Tracks:
    """The cars seen over the last seconds, one track each (see the module docstring).

    :param prior_v0: desired speed assumed for a car with no history (m/s).
    :param prior_accel: acceleration assumed for a car with no history (m/s²).
    """

    def __init__(self, prior_v0: float, prior_accel: float = PRIOR_ACCEL):
        self.prior_v0, self.prior_accel = float(prior_v0), float(prior_accel)
        self._t = np.zeros(0)  # when each track was last seen
        self._pose = np.zeros((0, 4))  # x, y, heading, speed when last seen
        self._accel = np.zeros(0)  # smoothed acceleration
        self._accel_hi = np.zeros(0)  # largest acceleration shown lately (decays)
        self._v_hi = np.zeros(0)  # highest speed shown

    def update(self, cars: np.ndarray, t: float) -> np.ndarray:
        """Associate ``cars`` (``(K, >=4)``: x, y, heading, speed) seen at time ``t`` with
        the tracks, update their estimates; returns the track index of each car."""
        k = len(cars)
        keep = t - self._t <= LOST_AFTER
        self._t, self._pose, self._accel, self._accel_hi, self._v_hi = (
            a[keep] for a in (self._t, self._pose, self._accel, self._accel_hi, self._v_hi))
        ids = np.full(k, -1, dtype=np.int64)
        n = len(self._t)
        if n and k:
            el = t - self._t
            px = self._pose[:, 0] + self._pose[:, 3] * np.cos(self._pose[:, 2]) * el
            py = self._pose[:, 1] + self._pose[:, 3] * np.sin(self._pose[:, 2]) * el
            d = np.hypot(cars[:, None, 0] - px[None], cars[:, None, 1] - py[None])
            dh = np.abs((cars[:, None, 2] - self._pose[None, :, 2] + np.pi) % (2 * np.pi)
                        - np.pi)
            d[(d > GATE) | (dh > 1.0)] = np.inf
            taken = np.zeros(n, dtype=bool)
            for flat in np.argsort(d, axis=None, kind="stable"):  # greedy, nearest first
                j, q = divmod(int(flat), n)
                if not np.isfinite(d[j, q]):
                    break
                if ids[j] < 0 and not taken[q]:
                    ids[j], taken[q] = q, True
        old = ids >= 0
        if old.any():
            qs = ids[old]
            el = np.maximum(t - self._t[qs], 1e-6)
            measured = (cars[old, 3] - self._pose[qs, 3]) / el
            w = 1.0 - np.exp(-el / TAU_ACCEL)
            self._accel[qs] += w * (measured - self._accel[qs])
            self._accel_hi[qs] = np.maximum(self._accel[qs],
                                            self._accel_hi[qs] * np.exp(-el / MEMORY))
            self._v_hi[qs] = np.maximum(self._v_hi[qs], cars[old, 3])
            self._pose[qs] = cars[old, :4]
            self._t[qs] = t
        new = np.flatnonzero(~old)
        if len(new):
            ids[new] = np.arange(n, n + len(new))
            self._t = np.concatenate([self._t, np.full(len(new), t)])
            self._pose = np.concatenate([self._pose, cars[new, :4]])
            self._accel = np.concatenate([self._accel, np.zeros(len(new))])
            self._accel_hi = np.concatenate([self._accel_hi, np.zeros(len(new))])
            self._v_hi = np.concatenate([self._v_hi, cars[new, 3]])
        return ids

    def shown_accel(self) -> np.ndarray:
        """The largest acceleration each live track showed lately (m/s²; no prior)."""
        return self._accel_hi.copy()

    def accel(self, ids: np.ndarray) -> np.ndarray:
        """The smoothed measured acceleration of tracks ``ids`` (m/s²)."""
        return self._accel[ids]

    def desired_speed(self, ids: np.ndarray) -> np.ndarray:
        """Estimated desired speeds: the prior, or more if the car showed more (m/s)."""
        return np.maximum(self.prior_v0, self._v_hi[ids])

    def max_accel(self, ids: np.ndarray) -> np.ndarray:
        """Estimated accelerations when pulling away: the prior, or what the car showed."""
        return np.maximum(self.prior_accel, self._accel_hi[ids])


@njit(cache=True)
def predict_along_lanes(lane: np.ndarray, s: np.ndarray, v: np.ndarray, nxt: np.ndarray,
                        v0: np.ndarray, accel: np.ndarray, stop_at: np.ndarray,
                        times: np.ndarray, lanes: tuple, out: np.ndarray) -> None:
    """Poses ``out (T, N, 3)`` at ``times`` of N cars at arc length ``s`` on ``lane`` with
    speed ``v`` (then onto connector ``nxt`` when on a road lane), each a free-road IDM-like
    driver towards ``v0`` with acceleration ``accel`` (``accel = 0``: it holds its speed),
    never beyond ``stop_at`` (arc length on its current lane; inf if none). ``lanes``: the
    map's ``LaneArrays`` (a plain tuple)."""
    lanes = LaneArrays(*lanes)
    pts, cum, length, kind, dst = lanes.pts, lanes.cum, lanes.length, lanes.kind, lanes.dst
    for j in range(lane.shape[0]):
        path0 = lane[j]
        if kind[path0] == ROAD:
            p1 = nxt[j]
            p2 = dst[p1]
        else:
            p1 = dst[path0]
            p2 = -1
        d, vj, t_prev = 0.0, v[j], 0.0
        for k in range(times.shape[0]):
            span = times[k] - t_prev
            t_prev = times[k]
            m = max(1, int(math.ceil(span / 0.1)))
            h = span / m
            for _ in range(m):  # semi-implicit Euler, never backwards
                a = 0.0
                if accel[j] > 0.0 and v0[j] > 0.0:
                    a = accel[j] * (1.0 - (vj / v0[j]) ** 4)
                vj = max(vj + a * h, 0.0)
                d += vj * h
            ss = min(s[j] + d, stop_at[j])
            ln = path0
            if ss >= length[ln]:
                ss -= length[ln]
                ln = p1
                if ss >= length[ln] and p2 >= 0:
                    ss -= length[ln]
                    ln = p2
            x, y, hd = polyline_point(pts[ln], cum[ln], ss)
            out[k, j, 0] = x
            out[k, j, 1] = y
            out[k, j, 2] = hd


@njit(cache=True)
def rear_conflict(v_ego: float, accel: float, commit: float, gap: float, v_car: float,
                  times: np.ndarray, min_gap: float) -> int:
    """Index of the first of ``times`` at which a follower ``gap`` metres behind the ego
    (bumper to bumper, at speed ``v_car``) comes within ``min_gap`` of it when the ego, at
    speed ``v_ego``, holds ``accel`` for ``commit`` s and then its speed; T if never. The
    follower holds its speed for ``REACTION`` s, then brakes at most ``FOLLOWER_BRAKE`` m/s²,
    no slower than the ego (it follows; it does not stop for nothing). What the candidate's
    own action does to the car behind - the braking a stop may need later is the follower's
    to match, as it is now."""
    pos, vel, s_ego, ve, t_prev = -gap, v_car, 0.0, v_ego, 0.0
    for k in range(times.shape[0]):
        span = times[k] - t_prev
        t_prev = times[k]
        ve_new = max(v_ego + accel * min(times[k], commit), 0.0)
        s_ego += 0.5 * (ve + ve_new) * span
        ve = ve_new
        vel_new = vel
        if times[k] > REACTION and vel > ve:
            vel_new = max(vel - FOLLOWER_BRAKE * span, ve)
        pos += 0.5 * (vel + vel_new) * span
        vel = vel_new
        if s_ego - pos < min_gap:
            return k
    return times.shape[0]
