"""Routes along the lane graph: shortest paths (Dijkstra) and the route as a polyline.

A route runs from a start ``(lane, s)`` to a goal ``(lane, s)`` on road lanes. It follows legal
movements across intersections and may change lanes along a road (cost ``LANE_CHANGE_COST``
metres extra); the lane change is drawn as a smooth shift over the middle of the road.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit

from .geometry import Polyline, cumulative_length, resample
from .roads import CONNECTOR, LaneGraph

LANE_CHANGE_COST = 15.0
SPACING = 1.0  # m between route points
NAV_POINT_SCALE = 50.0  # m: navigator route points are divided by this
NAV_OFFSET_SCALE = 5.0  # m: the navigator's lateral offset is divided by this


@dataclass
class Route:
    """A planned route.

    ``lanes``: lane ids in driving order (consecutive road lanes of one road = a lane change);
    ``points (M, 2)`` about 1 m apart and ``cum (M,)`` their arc length; ``length`` (m);
    ``stops``: one row per signalized stop line on the way, ``[route_s, node, phase, lane]``
    (``route_s`` = arc length of the stop line along the route; ``lane`` the road lane that
    ends there); ``goal`` ``(x, y)``; ``path``: points and arc lengths as a
    :class:`~.geometry.Polyline` (what compiled kernels take).
    """

    lanes: list[int]
    points: np.ndarray
    cum: np.ndarray
    stops: np.ndarray
    goal: np.ndarray

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    @cached_property
    def path(self) -> Polyline:
        return Polyline(self.points, self.cum)


def _siblings(g: LaneGraph, lane: int) -> list[int]:
    base = g.road[lane] * g.lanes
    return [base + k for k in range(g.lanes) if base + k != lane]


def shortest_costs(g: LaneGraph, start_lane: int,
                   start_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from ``(start_lane, start_s)``: cost (m) to reach the *start* of every lane
    (the start lane itself only after going around), and the predecessor of each lane
    (``-2 - lane`` where the drive changed lanes at its start). Compiled; a heap ordered by
    ``(cost, lane)`` makes the result exactly that of the textbook algorithm with
    ``heapq``."""
    return _dijkstra(g.length, g.kind, g.dst, g.succ_ptr, g.succ_idx, g.road, int(g.lanes),
                     int(start_lane), float(start_s), LANE_CHANGE_COST)


@njit(cache=True)
def _less(ca: float, la: int, cb: float, lb: int) -> bool:
    return ca < cb or (ca == cb and la < lb)


@njit(cache=True)
def _push(hc: np.ndarray, hl: np.ndarray, size: int, c: float, lane: int) -> int:
    i = size
    hc[i], hl[i] = c, lane
    while i > 0:
        p = (i - 1) // 2
        if _less(hc[i], hl[i], hc[p], hl[p]):
            hc[i], hc[p] = hc[p], hc[i]
            hl[i], hl[p] = hl[p], hl[i]
            i = p
        else:
            break
    return size + 1


@njit(cache=True)
def _pop(hc: np.ndarray, hl: np.ndarray, size: int) -> tuple[float, int, int]:
    c, lane = hc[0], hl[0]
    size -= 1
    hc[0], hl[0] = hc[size], hl[size]
    i = 0
    while True:
        a, b, m = 2 * i + 1, 2 * i + 2, i
        if a < size and _less(hc[a], hl[a], hc[m], hl[m]):
            m = a
        if b < size and _less(hc[b], hl[b], hc[m], hl[m]):
            m = b
        if m == i:
            break
        hc[i], hc[m] = hc[m], hc[i]
        hl[i], hl[m] = hl[m], hl[i]
        i = m
    return c, lane, size


@njit(cache=True)
def _relax(x: int, dx: float, from_lane: int, cost: np.ndarray, prev: np.ndarray,
           hc: np.ndarray, hl: np.ndarray, size: int) -> int:
    if dx < cost[x]:
        cost[x] = dx
        prev[x] = from_lane
        size = _push(hc, hl, size, dx, x)
    return size


@njit(cache=True)
def _dijkstra(length: np.ndarray, kind: np.ndarray, dst: np.ndarray, succ_ptr: np.ndarray,
              succ_idx: np.ndarray, road: np.ndarray, lanes: int, start_lane: int,
              start_s: float, change_cost: float) -> tuple[np.ndarray, np.ndarray]:
    n = length.shape[0]
    cost = np.full(n, np.inf)
    prev = -np.ones(n, dtype=np.int64)
    cap = 4 * n + 16 * lanes + 16
    hc = np.empty(cap)
    hl = np.empty(cap, dtype=np.int64)
    size = 0
    base_lane = road[start_lane] * lanes
    first = np.empty(lanes, dtype=np.int64)
    first[0] = start_lane
    m = 1
    for k in range(lanes):
        if base_lane + k != start_lane:
            first[m] = base_lane + k
            m += 1
    for k in range(m):
        lane = first[k]
        base = length[lane] - start_s + (change_cost if k else 0.0)
        if kind[lane] == CONNECTOR:
            c0, c1 = lane, lane + 1  # its successor: dst[lane]
        else:
            c0, c1 = succ_ptr[lane], succ_ptr[lane + 1]
        for q in range(c0, c1):
            c = dst[q] if kind[lane] == CONNECTOR else succ_idx[q]
            if base < cost[c]:
                cost[c] = base
                prev[c] = lane if k == 0 else -2 - lane
                size = _push(hc, hl, size, base, c)
    while size > 0:
        if size + lanes + 8 >= cap:  # grow the heap (never in practice)
            hc2, hl2 = np.empty(2 * cap), np.empty(2 * cap, dtype=np.int64)
            hc2[:size], hl2[:size] = hc[:size], hl[:size]
            hc, hl, cap = hc2, hl2, 2 * cap
        d, lane, size = _pop(hc, hl, size)
        if d > cost[lane]:
            continue
        if kind[lane] == CONNECTOR:
            size = _relax(dst[lane], d + length[lane], lane, cost, prev, hc, hl, size)
        else:
            for q in range(succ_ptr[lane], succ_ptr[lane + 1]):
                size = _relax(succ_idx[q], d + length[lane], lane, cost, prev, hc, hl, size)
            base_lane = road[lane] * lanes
            for k in range(lanes):
                if base_lane + k != lane:
                    size = _relax(base_lane + k, d + change_cost, lane, cost, prev, hc, hl,
                                  size)
    return cost, prev


def plan_route(g: LaneGraph, start_lane: int, start_s: float, goal_lane: int, goal_s: float,
               costs: tuple[np.ndarray, np.ndarray] | None = None) -> Route:
    """Shortest legal route; ``costs`` = a precomputed :func:`shortest_costs` from the start."""
    same_road = g.road[goal_lane] == g.road[start_lane]
    if same_road and goal_s > start_s + 2 * LANE_CHANGE_COST:
        lanes = [start_lane] if goal_lane == start_lane else [start_lane, goal_lane]
    else:
        cost, prev = costs if costs is not None else shortest_costs(g, start_lane, start_s)
        if not np.isfinite(cost[goal_lane]):
            raise ValueError(f"no route from lane {start_lane} to lane {goal_lane}")
        lanes = [goal_lane]
        while True:
            p = int(prev[lanes[-1]])
            if p == -1:
                break
            if p <= -2:
                lanes += [-2 - p, start_lane]
                break
            lanes.append(p)
            if p == start_lane and len(lanes) > 1 and g.kind[lanes[-2]] == CONNECTOR:
                break
        lanes = lanes[::-1]
        if lanes[0] != start_lane:
            lanes.insert(0, start_lane)
    return _build(g, lanes, start_s, goal_s)


def _build(g: LaneGraph, lanes: list[int], start_s: float, goal_s: float) -> Route:
    pieces = []
    stops = []
    i = 0
    total = 0.0
    while i < len(lanes):
        lane = lanes[i]
        if g.kind[lane] == CONNECTOR:
            pts = g.pts[lane]
            pieces.append(pts)
            total += g.length[lane]
            i += 1
            continue
        j = i  # consecutive lanes of one road: a lane change
        while j + 1 < len(lanes) and g.kind[lanes[j + 1]] != CONNECTOR:
            j += 1
        a, b = lanes[i], lanes[j]
        s0 = start_s if i == 0 else 0.0
        s1 = goal_s if j == len(lanes) - 1 else g.length[a]
        n = max(2, int(np.ceil((s1 - s0) / SPACING)) + 1)
        s = np.linspace(s0, s1, n)
        p0, p1 = g.pts[a, 0], g.pts[a, -1]
        base = p0 + (p1 - p0) * (s / g.length[a])[:, None]
        if a != b:
            u = np.clip((s - s0 - 0.2 * (s1 - s0)) / (0.5 * (s1 - s0)), 0.0, 1.0)
            base = base + (u * u * (3 - 2 * u))[:, None] * (g.pts[b, 0] - g.pts[a, 0])
        pieces.append(base)
        total += s1 - s0
        if j < len(lanes) - 1 and g.phase[b] >= 0:
            stops.append((total, g.node[b], g.phase[b], b))
        i = j + 1
    pts = np.concatenate(pieces)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-6])
    pts = resample(pts[keep], SPACING)
    cum = cumulative_length(pts)
    # stop-line positions were accumulated along lane lengths; rescale to the polyline
    stops_arr = np.array(stops, dtype=np.float64).reshape(-1, 4)
    if len(stops_arr) and total > 0:
        stops_arr[:, 0] *= cum[-1] / total
    return Route(lanes=[int(x) for x in lanes], points=pts, cum=cum, stops=stops_arr,
                 goal=pts[-1].copy())


@njit(cache=True)
def project_on_route(points: np.ndarray, cum: np.ndarray, x: float, y: float, i0: int,
                     back: int, ahead: int) -> tuple[int, float, float]:
    """Index and arc length of the route point nearest ``(x, y)`` within
    ``[i0 - back, i0 + ahead]`` (a window keeps progress monotone where the route passes close
    to itself), and the distance from ``(x, y)`` to that projection on the route."""
    n = points.shape[0]
    lo = max(0, i0 - back)
    hi = min(n - 1, i0 + ahead)
    best = 1e18
    k = lo
    for i in range(lo, hi + 1):
        d = (points[i, 0] - x) ** 2 + (points[i, 1] - y) ** 2
        if d < best:
            best = d
            k = i
    k1 = min(k + 1, n - 1)
    k0 = k1 - 1
    dx = points[k1, 0] - points[k0, 0]
    dy = points[k1, 1] - points[k0, 1]
    sl = np.sqrt(dx * dx + dy * dy)
    t = ((x - points[k0, 0]) * dx + (y - points[k0, 1]) * dy) / sl
    t = min(max(t, 0.0), sl)
    off = math.hypot(x - points[k0, 0] - t * dx / sl, y - points[k0, 1] - t * dy / sl)
    return k, cum[k0] + t, off


@njit(cache=True)
def navigator_features(route: tuple, route_s: float, i: int, ego: np.ndarray, ahead: np.ndarray,
                       out: np.ndarray) -> None:
    """What a navigator tells the driver at pose ``ego = [x, y, heading, ...]``, ``route_s``
    metres along ``route`` (a :class:`~.geometry.Polyline`; ``i``: index of the route point
    nearest the car), in the ego frame (x forward, y left): the route points ``ahead`` metres
    further along the route, ``(x, y)`` pairs divided by ``NAV_POINT_SCALE``, then the lateral
    offset from the route / ``NAV_OFFSET_SCALE`` and the cos, sin of the heading relative to
    it. Writes ``2 * len(ahead) + 3`` numbers into ``out``."""
    route = Polyline(*route)
    points, cum = route.points, route.cum
    x, y, h = ego[0], ego[1], ego[2]
    c, s = math.cos(h), math.sin(h)
    n = points.shape[0]
    for q in range(ahead.shape[0]):
        sq = min(route_s + ahead[q], cum[n - 1])
        k = min(max(np.searchsorted(cum, sq), 1), n - 1)
        f = (sq - cum[k - 1]) / max(cum[k] - cum[k - 1], 1e-9)
        wx = points[k - 1, 0] + f * (points[k, 0] - points[k - 1, 0]) - x
        wy = points[k - 1, 1] + f * (points[k, 1] - points[k - 1, 1]) - y
        out[2 * q] = (c * wx + s * wy) / NAV_POINT_SCALE
        out[2 * q + 1] = (-s * wx + c * wy) / NAV_POINT_SCALE
    i = min(i, n - 2)
    rh = math.atan2(points[i + 1, 1] - points[i, 1], points[i + 1, 0] - points[i, 0])
    px, py = x - points[i, 0], y - points[i, 1]
    m = 2 * ahead.shape[0]
    out[m] = (-math.sin(rh) * px + math.cos(rh) * py) / NAV_OFFSET_SCALE
    out[m + 1] = math.cos(h - rh)
    out[m + 2] = math.sin(h - rh)
