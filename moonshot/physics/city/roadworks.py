"""Roadworks: stretches of lane closed by barriers that the city's map does not show.

A closure is a row of barriers (a box as wide as the lane less 0.6 m, ``length`` metres long)
on the centre of one road lane of the drive's route, at least :data:`BEFORE` metres after
the lane's start and :data:`AFTER` metres before its end, so that a driver coming out of the
intersection sees it ahead and can pass it on the other side of the road (the oncoming lane,
or the next lane of a two-lane road). The ego that touches a barrier has crashed.

The street is closed to through traffic, which knows it (local drivers, the diversion signed
upstream): no traffic car turns into any lane of the street, either way, and cars on it or
on a connector into it at the start of a drive are taken out; a car whose chosen turn leads
into it chooses again among the others. (Traffic in the oncoming lane would meet the ego
passing the barrier head-on, each waiting for the other.) A street is closed only if every
lane that leads into it keeps another way out, so that no traffic car is ever trapped.

A pure function of the city, the drive and the generator it is given (:func:`draw_roadworks`);
the env draws from a generator of its own, so the drive is otherwise the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .roads import CONNECTOR, LaneArrays
from .traffic import Traffic

if TYPE_CHECKING:
    from .drive import Drive
    from .generator import City

BEFORE = 20.0  # m of open lane between a lane's start and its barrier (seen from the turn)
AFTER = 8.0  # m between the barrier's end and the lane's end (the stop line)
SIDE_GAP = 0.3  # m between a barrier and each edge of its lane


class Roadworks(NamedTuple):
    """The closures of one drive: ``boxes (K, 5)`` of the barriers (``cx, cy, half_length,
    half_width, yaw``: the rows of ``city.buildings``), the ``lanes (K,)`` they stand on and
    every lane of their streets, ``closed``, the lanes the traffic does not drive."""

    boxes: np.ndarray
    lanes: np.ndarray
    closed: np.ndarray

    @classmethod
    def none(cls) -> Roadworks:
        return cls(np.zeros((0, 5)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def street_lanes(city: City, lane: int) -> list[int]:
    """Every road lane of the street of road lane ``lane``, both ways."""
    g = city.lanes
    first = (int(g.road[lane]) // 2) * 2 * g.lanes  # directed roads 2e and 2e + 1
    return list(range(first, first + 2 * g.lanes))


def _feeders(city: City, lane: int) -> np.ndarray:
    """The road lanes whose connectors lead into road lane ``lane``."""
    g = city.lanes
    conn = np.flatnonzero((g.kind == CONNECTOR) & (g.dst == lane))
    return g.src[conn]


def _open_ways(city: City, closed: set[int], lane: int) -> int:
    g = city.lanes
    return sum(int(g.dst[c]) not in closed for c in g.successors(lane))


def draw_roadworks(city: City, drive: Drive, rng: np.random.Generator, count: int,
                   length: float) -> Roadworks:
    """Up to ``count`` closures ``length`` metres long on the road lanes of ``drive``'s route
    (never its start or goal lane, a lane where the route changes lanes, a lane too short for
    the barrier with :data:`BEFORE` and :data:`AFTER` around it, or a lane whose closure
    would leave a feeding lane without a way out), drawn from ``rng``."""
    g = city.lanes
    lanes = drive.route.lanes
    road_lanes = [ln for ln in lanes if g.kind[ln] != CONNECTOR]
    changes = {a for a, b in zip(road_lanes, road_lanes[1:], strict=False)
               if g.road[a] == g.road[b]} | {b for a, b in zip(road_lanes, road_lanes[1:],
                                                               strict=False)
                                             if g.road[a] == g.road[b]}
    candidates = [ln for ln in dict.fromkeys(road_lanes)
                  if ln not in (drive.start_lane, drive.goal_lane) and ln not in changes
                  and g.length[ln] >= BEFORE + length + AFTER]
    on: list[int] = []
    closed: list[int] = []
    boxes = []
    for ln in rng.permutation(np.asarray(candidates, dtype=np.int64)).tolist():
        if len(on) >= count:
            break
        street = street_lanes(city, ln)
        shut = {*closed, *street}
        if any(_open_ways(city, shut, int(f)) == 0 for x in street for f in _feeders(city, x)
               if int(f) not in shut):
            continue
        s = BEFORE + rng.uniform(0.0, g.length[ln] - BEFORE - length - AFTER) + 0.5 * length
        p0, p1 = g.pts[ln, 0], g.pts[ln, -1]  # road lanes are straight
        yaw = float(np.arctan2(p1[1] - p0[1], p1[0] - p0[0]))
        cx, cy = p0 + (p1 - p0) * (s / g.length[ln])
        half_width = 0.5 * city.params.lane_width - SIDE_GAP
        boxes.append((cx, cy, 0.5 * length, half_width, yaw))
        on.append(ln)
        closed += [x for x in street if x not in closed]
    if not on:
        return Roadworks.none()
    return Roadworks(np.array(boxes, dtype=np.float64), np.array(on, dtype=np.int64),
                     np.array(closed, dtype=np.int64))


def traffic_lanes(lanes: LaneArrays, closed: np.ndarray) -> tuple:
    """The lane graph as the traffic drives it (the kernel's plain tuple): ``lanes`` without
    the connectors into the ``closed`` lanes."""
    if len(closed) == 0:
        return tuple(lanes)
    keep = ~np.isin(lanes.dst[lanes.succ_idx], closed)
    n = len(lanes.succ_ptr) - 1
    owner = np.repeat(np.arange(n), np.diff(lanes.succ_ptr))
    counts = np.bincount(owner[keep], minlength=n)
    succ_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(lanes.succ_ptr.dtype)
    return tuple(lanes._replace(succ_ptr=succ_ptr, succ_idx=lanes.succ_idx[keep]))


def clear_traffic(city: City, traffic: Traffic, works: Roadworks,
                  rng: np.random.Generator) -> Traffic:
    """``traffic`` without the cars on the closed streets or on a connector into one, and
    with new turns, drawn from ``rng``, for cars whose chosen turn leads into one."""
    if len(works.closed) == 0:
        return traffic
    g = city.lanes
    shut = set(works.closed.tolist())
    into = np.where(g.kind[traffic.lane] == CONNECTOR, g.dst[traffic.lane], traffic.lane)
    keep = ~np.isin(into, works.closed)
    out = Traffic(traffic.lane[keep], traffic.s[keep], traffic.v[keep], traffic.next[keep],
                  traffic.v0[keep], traffic.pose[keep], traffic.idm.copy(),
                  traffic.bold[keep] if len(traffic.bold) == traffic.n else traffic.bold.copy())
    for k in range(out.n):
        if out.next[k] >= 0 and int(g.dst[out.next[k]]) in shut:
            ways = [int(c) for c in g.successors(int(out.lane[k])) if int(g.dst[c]) not in shut]
            out.next[k] = ways[int(rng.integers(len(ways)))]
    return out


__all__ = ["Roadworks", "draw_roadworks", "street_lanes", "traffic_lanes", "clear_traffic",
           "BEFORE", "AFTER"]
