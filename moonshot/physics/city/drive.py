"""The draw of one CityNav drive: its map (memoized), start, goal, route and traffic.

A pure function of the map and the generator, shared by both engines that drive it: Bullet
(:class:`~moonshot.physics.city.bullet_city.CityWorld`, CityNav-v0) and the compiled batch
(:class:`~moonshot.physics.city.batch.CityBatch`, CityNav-v1), so a drive starts the same in
either.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .generator import City, generate_city, layout_params, mirror_city
from .route import Route, plan_route, project_on_route, shortest_costs
from .traffic import Traffic, spawn_traffic

DT = 0.1  # s: one control step


@lru_cache(maxsize=64)
def cached_city(map_seed: int, layout: str = "default", side: str = "right") -> City:
    """``generate_city(map_seed)`` in ``layout`` (see
    :func:`~.generator.layout_params`), mirrored for left-hand traffic with ``side="left"``;
    memoized (the generator is a pure function)."""
    if layout == "default" and side == "right":
        return generate_city(map_seed)
    city = generate_city(map_seed, layout_params(map_seed, layout))
    return mirror_city(city) if side == "left" else city


class Drive(NamedTuple):
    """The draw of one drive: where it starts and ends, its route, the traffic."""

    start_lane: int
    start_s: float
    goal_lane: int
    goal_s: float
    route: Route
    ego: np.ndarray  # [x, y, heading, speed] at the start
    route_i: int
    route_s: float
    route_offset: float
    traffic: Traffic


def draw_drive(city: City, rng: np.random.Generator, n_traffic: int,
               route_length: tuple[float, float] = (250.0, 600.0),
               traffic_idm: np.ndarray | None = None) -> Drive:
    """Draw a drive in ``city`` from ``rng``: a start on a curb lane, a goal whose shortest
    legal route is ``route_length`` long, the route, ``n_traffic`` cars away from the start
    (the same draws, in the same order, for every CityNav world)."""
    g = city.lanes
    curb = g.index[city.spawn_lane] == 0
    starts = np.flatnonzero(curb)
    for _ in range(50):
        k = int(rng.choice(starts))
        lane, s0 = int(city.spawn_lane[k]), float(city.spawn_s[k])
        costs = shortest_costs(g, lane, s0)
        reach = costs[0][city.spawn_lane] + city.spawn_s
        same = (city.spawn_lane == lane) & (city.spawn_s > s0)
        reach[same] = (city.spawn_s - s0)[same]
        ok = np.flatnonzero(curb & (reach >= route_length[0]) & (reach <= route_length[1]))
        if len(ok):
            break
    else:  # tiny maps: take the farthest goal
        ok = np.flatnonzero(curb & np.isfinite(reach))
        ok = ok[[int(np.argmax(reach[ok]))]]
    q = int(rng.choice(ok))
    goal_lane, goal_s = int(city.spawn_lane[q]), float(city.spawn_s[q])
    route = plan_route(g, lane, s0, goal_lane, goal_s, costs=costs)
    x, y, h = city.lane_pose(lane, s0)
    route_i, route_s, route_offset = project_on_route(route.points, route.cum, x, y, 0, 0, 10)
    traffic = spawn_traffic(city, n_traffic, rng, avoid=(x, y))
    if traffic_idm is not None:
        traffic.idm = np.asarray(traffic_idm, dtype=np.float64).copy()
    return Drive(lane, s0, goal_lane, goal_s, route, np.array([x, y, h, 0.0]), int(route_i),
                 float(route_s), float(route_offset), traffic)
