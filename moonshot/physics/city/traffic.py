"""Traffic: cars that follow lanes, turn at intersections, keep their distance and obey lights.

State lives in arrays (one entry per car), the step is one compiled kernel.

Car following is the Intelligent Driver Model (Treiber, Hennecke & Helbing 2000) with the
parameters Treiber & Kesting (*Traffic Flow Dynamics*, 2013, table 11.2) give for city traffic:
desired time gap ``T = 1.0 s``, minimum gap ``s0 = 2 m``, acceleration ``a = 1.0 m/s²``,
comfortable deceleration ``b = 1.5 m/s²``, exponent ``delta = 4``; the desired speed is the
city's speed limit times a per-driver factor. A car's leaders are found along the lanes it is
going to drive (its lane, its next connector, the road lane after it); the acceleration is the
minimum of the IDM response to each obstacle, clamped to ``[-b_max, a]``.

Obstacles a car reacts to:

* the cars ahead on its path (including cars on connectors that leave its lane, and a car
  about to merge into the same lane ahead of it);
* the ego car, wherever it overlaps the car's path ahead (its three covering circles within
  ``PATH_HALF_WIDTH`` of the lane centre line): traffic never drives into the ego from behind
  or into an ego that stands across its path, but it does not dodge one that cuts in;
* the stop line, as a standing obstacle, when the light is red, or yellow and the car can stop
  with at most ``B_YELLOW`` deceleration; when a car of another phase is still inside the
  intersection; when the lane it would enter has no room for it ("don't block the box").

With the signal phases of :mod:`.roads` (no two crossing movements share a phase), all-red
clearance and the occupancy rule, cars of different approaches are never in the intersection
together on crossing paths; on shared lanes car following keeps them apart.

At the end of a road lane a car takes the connector it chose on entering the lane (uniformly
among the legal movements, from a random number the caller supplies).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from .geometry import polyline_point, rect_corners, rects_clearance
from .roads import CONNECTOR, ROAD, LaneArrays
from .signals import RED, YELLOW, SignalArrays, light_state

if TYPE_CHECKING:
    from .generator import City

# IDM parameter vector: indices into ``Traffic.idm``.
IDM_A, IDM_B, IDM_T, IDM_S0, IDM_DELTA, IDM_BMAX, CAR_LENGTH, CAR_WIDTH = range(8)
IDM_CITY = np.array([1.0, 1.5, 1.0, 2.0, 4.0, 8.0, 4.5, 1.8])
B_YELLOW = 3.0  # m/s²: a car stops at yellow if it can with this deceleration
STOP_GAP = 1.0  # m: a car stopping for a light halts with its front this far before the line
# bold drivers (``Traffic.bold``): desired speed x BOLD_SPEED, time gap and minimum gap x
# BOLD_GAP; never stop at yellow, and run a red they would need more than IDM_B to stop for
BOLD_SPEED = 1.25
BOLD_GAP = 0.5
LOOKAHEAD = 80.0  # m
# car half-width + margin, added to the obstacle circle radius
PATH_HALF_WIDTH = 0.5 * float(IDM_CITY[CAR_WIDTH]) + 0.3  # m
EGO_CIRCLE_RADIUS = 1.2  # m: three circles at -1.5, 0, +1.5 m along the ego cover a 4.5x1.8 car
EGO_CIRCLE_OFFSETS = (-1.5, 0.0, 1.5)


class TrafficState(NamedTuple):
    """The per-car arrays of :class:`Traffic` as compiled kernels take them
    (``Traffic.state``); the step writes into them."""

    lane: np.ndarray
    s: np.ndarray
    v: np.ndarray
    next: np.ndarray
    v0: np.ndarray
    pose: np.ndarray


# the per-car arrays of a Traffic as the plain tuple kernels take (see roads.LaneArrays)
_state_tuple = operator.attrgetter(*TrafficState._fields)


@njit(cache=True)
def stops_at_light(state: int, v: float, d_stop: float) -> bool:
    """Does a driver at speed ``v`` stop for a light showing ``state``, ``d_stop`` metres
    before its stop line? At red always; at yellow if it can with ``B_YELLOW``."""
    return state == RED or (state == YELLOW and v * v <= 2.0 * B_YELLOW * d_stop)


@njit(cache=True)
def idm_acceleration(v: float, v0: float, gap: float, dv: float, a: float, b: float, T: float,
                     s0: float, delta: float) -> float:
    """IDM acceleration at speed ``v`` behind an obstacle ``gap`` metres ahead, closing at
    ``dv = v - v_leader``."""
    ss = s0 + max(0.0, v * T + v * dv / (2.0 * math.sqrt(a * b)))
    g = max(gap, 0.05)
    return a * (1.0 - (v / v0) ** delta - (ss / g) ** 2)


@njit(cache=True)
def ego_circle(ego: np.ndarray, c: int) -> float:
    """Offset along the ego of its covering circle ``c``: the car's three by default, or the
    circles of an ``ego`` row ``[x, y, h, v, radius, offset_0, ...]`` (another vehicle)."""
    if ego.shape[0] > 4:
        return ego[5 + c]
    return EGO_CIRCLE_OFFSETS[c]


@njit(cache=True)
def ego_radius(ego: np.ndarray) -> float:
    return ego[4] if ego.shape[0] > 4 else EGO_CIRCLE_RADIUS


@njit(cache=True)
def ego_circles_count(ego: np.ndarray) -> int:
    return ego.shape[0] - 5 if ego.shape[0] > 4 else 3


@njit(cache=True)
def _ego_gap(path: np.ndarray, base: np.ndarray, n_path: int, lanes: LaneArrays, ego: np.ndarray,
             lat_max: float) -> tuple[float, float]:
    """Along-path distance from a car's centre to the ego, if the ego overlaps the car's path
    ahead (the first ``n_path`` lanes of ``path``, starting ``base`` metres along it; else a
    large number), and the ego's speed along the path there."""
    pts, cum = lanes.pts, lanes.cum
    radius = ego_radius(ego)
    best = 1e9
    vlead = 0.0
    for q in range(n_path):
        ln = path[q]
        for k in range(pts.shape[1] - 1):
            ax, ay = pts[ln, k, 0], pts[ln, k, 1]
            dx, dy = pts[ln, k + 1, 0] - ax, pts[ln, k + 1, 1] - ay
            sl = math.sqrt(dx * dx + dy * dy)
            if sl <= 1e-9:
                continue
            ux, uy = dx / sl, dy / sl
            for c in range(ego_circles_count(ego)):
                off = ego_circle(ego, c)
                px = ego[0] + off * math.cos(ego[2])
                py = ego[1] + off * math.sin(ego[2])
                t = (px - ax) * ux + (py - ay) * uy
                if t < -radius or t > sl + radius:
                    continue
                lat = abs(-(px - ax) * uy + (py - ay) * ux)
                if lat > lat_max:
                    continue
                along = base[q] + cum[ln, k] + min(max(t, 0.0), sl)
                if along <= 0.0:
                    continue
                if along < best:
                    best = along
                    vlead = max(0.0, ego[3] * (math.cos(ego[2]) * ux + math.sin(ego[2]) * uy))
    return best, vlead


@njit(cache=True)
def traffic_step(cars: tuple, idm: np.ndarray, lanes: tuple, signals: tuple, ego: np.ndarray,
                 ego_on: bool, rand: np.ndarray, t: float, dt: float, bold: np.ndarray) -> None:
    """Advance every car by ``dt`` seconds at time ``t`` (in place): ``cars``
    (:class:`TrafficState`, ``pose`` receives x, y, heading), ``idm`` (parameter vector),
    ``lanes`` (:class:`~.roads.LaneArrays`), ``signals`` (:class:`~.signals.SignalArrays`),
    ``ego = [x, y, heading, speed]`` (ignored unless ``ego_on``), ``rand (n,)`` uniform
    numbers for route choices, ``bold`` which cars drive boldly (``Traffic.bold``; empty:
    none). The bundles may come as plain tuples (see ``LaneArrays``)."""
    cars, lanes, signals = TrafficState(*cars), LaneArrays(*lanes), SignalArrays(*signals)
    car_lane, car_s, car_v, car_next, car_v0 = cars.lane, cars.s, cars.v, cars.next, cars.v0
    pose = cars.pose
    pts, cum, length, kind = lanes.pts, lanes.cum, lanes.length, lanes.kind
    node, phase, src, dst = lanes.node, lanes.phase, lanes.src, lanes.dst
    succ_ptr, succ_idx = lanes.succ_ptr, lanes.succ_idx
    n = car_lane.shape[0]
    a, b, T, s0, delta = idm[IDM_A], idm[IDM_B], idm[IDM_T], idm[IDM_S0], idm[IDM_DELTA]
    bmax, L = idm[IDM_BMAX], idm[CAR_LENGTH]
    half = 0.5 * L
    acc = np.empty(n)
    path = np.empty(3, dtype=np.int64)
    base = np.empty(3)
    n_bold = bold.shape[0]
    T_all, s0_all = T, s0
    for i in range(n):
        li = car_lane[i]
        si = car_s[i]
        vi = car_v[i]
        v0 = car_v0[i]
        is_bold = i < n_bold and bold[i]
        T = T_all * BOLD_GAP if is_bold else T_all
        s0 = s0_all * BOLD_GAP if is_bold else s0_all
        ai = a * (1.0 - (vi / v0) ** delta)
        # the lanes ahead: [current, next connector, lane after it] (or [connector, exit])
        path[0] = li
        base[0] = -si
        if kind[li] == ROAD:
            c = car_next[i]
            e = dst[c]
            path[1] = c
            base[1] = length[li] - si
            path[2] = e
            base[2] = base[1] + length[c]
            n_path = 3
        else:
            c = li
            e = dst[li]
            path[1] = e
            base[1] = length[li] - si
            n_path = 2
        for j in range(n):
            if j == i:
                continue
            lj = car_lane[j]
            sj = car_s[j]
            gap = 1e9
            if lj == li:
                if sj > si or (sj == si and j > i):
                    gap = sj - si - L
            elif lj == e:
                gap = length[li] - si + (length[c] if kind[li] == ROAD else 0.0) + sj - L
            elif kind[lj] == CONNECTOR:
                if kind[li] == ROAD and src[lj] == li:
                    gap = length[li] - si + sj - L  # on a connector leaving my lane
                elif kind[li] == CONNECTOR and src[lj] == src[li] and sj > si:
                    gap = sj - si - L  # on a sibling connector, still side by side
                elif dst[lj] == e:
                    # merging into my exit lane: whoever is closer to the merge goes first
                    rem_i = length[li] - si + (length[c] if kind[li] == ROAD else 0.0)
                    rem_j = length[lj] - sj
                    if rem_j < rem_i or (rem_j == rem_i and j > i):
                        gap = rem_i - rem_j - L
            if gap < LOOKAHEAD:
                ai = min(ai, idm_acceleration(vi, v0, gap, vi - car_v[j], a, b, T, s0, delta))
        if ego_on:
            cx, cy, _ = polyline_point(pts[li], cum[li], si)
            if (cx - ego[0]) ** 2 + (cy - ego[1]) ** 2 < (LOOKAHEAD + 5.0) ** 2:
                along, ve = _ego_gap(path, base, n_path, lanes, ego,
                                     PATH_HALF_WIDTH + ego_radius(ego))
                if along < LOOKAHEAD:
                    gap = along - half - ego_radius(ego)
                    ai = min(ai, idm_acceleration(vi, v0, gap, vi - ve, a, b, T, s0, delta))
        # stop line
        if kind[li] == ROAD and phase[li] >= 0:
            d_stop = length[li] - si - half
            if 0.0 <= d_stop < LOOKAHEAD:
                st = light_state(signals, node[li], phase[li], t)
                if is_bold:
                    stop = st == RED and vi * vi <= 2.0 * b * d_stop
                else:
                    stop = stops_at_light(st, vi, d_stop)
                if not stop and d_stop < 40.0:
                    room = length[e]
                    for j in range(n):
                        lj = car_lane[j]
                        if kind[lj] == CONNECTOR and node[lj] == node[li] and \
                                phase[lj] != phase[li]:
                            stop = True  # a car of another phase is still crossing
                            break
                        if lj == e:
                            room = min(room, car_s[j] - half)
                        elif lj == c:
                            room -= L + s0
                    if room < L + s0 + 1.0:
                        stop = True  # no room behind the intersection: don't block the box
                if stop:
                    ai = min(ai, idm_acceleration(vi, v0, d_stop + s0 - STOP_GAP, vi, a, b, T,
                                                  s0, delta))
        acc[i] = min(max(ai, -bmax), a)
    for i in range(n):
        vi = car_v[i]
        vn = vi + acc[i] * dt
        if vn < 0.0:
            ds = -vi * vi / (2.0 * acc[i]) if acc[i] < 0.0 else 0.0
            vn = 0.0
        else:
            ds = vi * dt + 0.5 * acc[i] * dt * dt
        car_v[i] = vn
        s = car_s[i] + ds
        li = car_lane[i]
        while s >= length[li]:
            s -= length[li]
            if kind[li] == ROAD:
                li = car_next[i]
                car_next[i] = -1
            else:
                li = dst[li]
                k0, k1 = succ_ptr[li], succ_ptr[li + 1]
                car_next[i] = succ_idx[k0 + min(int(rand[i] * (k1 - k0)), k1 - k0 - 1)]
        car_lane[i] = li
        car_s[i] = s
        x, y, h = polyline_point(pts[li], cum[li], s)
        pose[i, 0] = x
        pose[i, 1] = y
        pose[i, 2] = h


@njit(cache=True)
def traffic_poses(car_lane: np.ndarray, car_s: np.ndarray, pts: np.ndarray, cum: np.ndarray,
                  pose: np.ndarray) -> None:
    for i in range(car_lane.shape[0]):
        x, y, h = polyline_point(pts[car_lane[i]], cum[car_lane[i]], car_s[i])
        pose[i, 0] = x
        pose[i, 1] = y
        pose[i, 2] = h


@dataclass
class Traffic:
    """The traffic of a city: arrays with one entry per car (read them, don't write them).

    ``lane``: lane id; ``s``: arc length of the car's centre along it (m); ``v``: speed (m/s);
    ``next``: connector chosen for the next intersection (-1 while crossing one); ``v0``:
    desired speed; ``pose (n, 3)``: x, y, heading; ``idm``: IDM parameters (indices
    ``IDM_*``, ``CAR_LENGTH``, ``CAR_WIDTH``); ``bold``: which cars drive boldly (empty:
    none; see :data:`BOLD_GAP`). ``state``: the :class:`TrafficState` view of the per-car
    arrays that compiled kernels take.
    """

    lane: np.ndarray
    s: np.ndarray
    v: np.ndarray
    next: np.ndarray
    v0: np.ndarray
    pose: np.ndarray
    idm: np.ndarray = field(default_factory=lambda: IDM_CITY.copy())
    bold: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))

    @property
    def n(self) -> int:
        return len(self.lane)

    @property
    def state(self) -> TrafficState:
        # built on each call: the fields may be replaced, the arrays are shared
        return TrafficState._make(_state_tuple(self))

    @property
    def position(self) -> np.ndarray:
        return self.pose[:, :2]

    @property
    def heading(self) -> np.ndarray:
        return self.pose[:, 2]

    def copy(self) -> Traffic:
        return Traffic(self.lane.copy(), self.s.copy(), self.v.copy(), self.next.copy(),
                       self.v0.copy(), self.pose.copy(), self.idm.copy(), self.bold.copy())


def spawn_traffic(city: City, n: int, rng: np.random.Generator,
                  avoid: tuple[float, float] | None = None,
                  avoid_radius: float = 30.0) -> Traffic:
    """Place ``n`` cars on distinct spawn points (15 m apart along a lane), away from ``avoid``
    (an ``(x, y)`` point: the ego's start), at moderate speeds they can stop from."""
    g = city.lanes
    ok = np.ones(len(city.spawn_lane), dtype=bool)
    if avoid is not None:
        xy = g.pts[city.spawn_lane, 0] + (g.pts[city.spawn_lane, -1] - g.pts[city.spawn_lane, 0]) \
            * (city.spawn_s / g.length[city.spawn_lane])[:, None]
        ok = np.hypot(xy[:, 0] - avoid[0], xy[:, 1] - avoid[1]) > avoid_radius
    idx = np.flatnonzero(ok)
    n = min(n, len(idx))
    pick = rng.choice(idx, size=n, replace=False)
    lane = city.spawn_lane[pick].copy()
    s = city.spawn_s[pick].copy()
    v0 = city.params.speed_limit * rng.uniform(0.85, 1.1, n)
    v = np.minimum(rng.uniform(0.0, 0.6, n) * v0, 7.0)
    nxt = np.empty(n, dtype=np.int64)
    for i in range(n):
        succ = g.successors(lane[i])
        nxt[i] = succ[rng.integers(len(succ))]
    pose = np.empty((n, 3))
    traffic_poses(lane, s, g.pts, g.cum, pose)
    return Traffic(lane=lane, s=s, v=v, next=nxt, v0=v0, pose=pose)


def step_traffic(city: City, traffic: Traffic, t: float, dt: float, rand: np.ndarray,
                 ego: np.ndarray | None = None) -> None:
    """Advance ``traffic`` by ``dt`` at time ``t`` (in place); ``ego``: ``[x, y, h, v]``."""
    ego_arr = np.zeros(4) if ego is None else np.asarray(ego, dtype=np.float64)
    traffic_step(_state_tuple(traffic), traffic.idm, tuple(city.lanes.arrays),
                 tuple(city.signals.arrays), ego_arr, ego is not None, rand, t, dt,
                 traffic.bold)


def min_pair_clearance(pose: np.ndarray, length: float, width: float) -> float:
    """Smallest separating-axis clearance over all pairs of cars (negative: overlap)."""
    corners = rect_corners(pose[:, 0], pose[:, 1], 0.5 * length, 0.5 * width, pose[:, 2])
    return _min_pair_clearance(pose, corners)


@njit(cache=True)
def _min_pair_clearance(pose: np.ndarray, corners: np.ndarray) -> float:
    n = pose.shape[0]
    best = 1e9
    for i in range(n):
        for j in range(i + 1, n):
            if (pose[i, 0] - pose[j, 0]) ** 2 + (pose[i, 1] - pose[j, 1]) ** 2 > 36.0:
                continue  # more than 6 m apart: cannot touch
            best = min(best, rects_clearance(corners[i], corners[j]))
    return best
