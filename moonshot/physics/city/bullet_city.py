"""One drive through a city in Bullet: the ego, the traffic, the route, lidar and collisions.

:class:`CityWorld` (CityNav-v0's engine) owns a :class:`~moonshot.physics.bullet.BulletWorld`
that holds the buildings (one static compound body, rebuilt only when the map changes), a box
per traffic car and the ego. Each :meth:`CityWorld.step` moves the ego (bicycle model), then
the traffic (IDM kernel, which sees the ego's new pose), places the bodies, asks Bullet for the
ego's contacts and casts the lidar rays. The drive itself is drawn by
:func:`~moonshot.physics.city.drive.draw_drive`.
"""

from __future__ import annotations

import math

import numpy as np

from ..bullet import GROUP_CARS, GROUP_EGO, BulletWorld
from .drive import DT, draw_drive
from .ego import EgoParams, bicycle_update
from .generator import City
from .geometry import nearest_segment_distance
from .route import Route, project_on_route
from .signals import NO_LIGHT, RED
from .traffic import CAR_LENGTH, CAR_WIDTH, Traffic, step_traffic

CAR_HEIGHT = 1.5
RAY_HEIGHT = 0.75  # lidar at mid-height of the cars
LIGHT_HEIGHT = 3.0  # m: signal heads, above the cars (only buildings hide them)


class CityWorld:
    """The physical world of CityNav. Public state (read-only for agents):

    ``city``, ``traffic`` (:class:`~moonshot.physics.city.traffic.Traffic`), ``ego``
    (``[x, y, heading, speed]``), ``steer`` (rad), ``ego_params``, ``route``, ``route_s``
    (arc length reached along the route), ``route_offset`` (m from the ego to that point of
    the route), ``start_lane``/``start_s`` and
    ``goal_lane``/``goal_s`` (where the drive begins and ends on the lane graph), ``t`` (s),
    ``lidar`` (m, per ray), ``lidar_angles`` (rad, ego frame).
    """

    def __init__(self, ego_params: EgoParams | None = None, lidar_rays: int = 32,
                 lidar_range: float = 50.0, dt: float = DT, sensor_range: float = 50.0):
        self.bullet = BulletWorld()
        self.ego_params = ego_params or EgoParams()
        self.dt = dt
        self.lidar_range = lidar_range
        self.sensor_range = sensor_range  # what the perception sees (cars, lights)
        self.lidar_angles = np.linspace(0.0, 2 * np.pi, lidar_rays, endpoint=False)
        self.city: City | None = None
        self.traffic: Traffic | None = None
        self.route: Route | None = None
        self._car_bodies: list[int] = []
        self._ego_body = -1
        self._building_bodies: set[int] = set()
        self.ego = np.zeros(4)
        self.steer = 0.0
        self.t = 0.0
        self.route_s = 0.0
        self.route_offset = 0.0  # m from the ego to its projection on the route
        self._route_i = 0
        self.lidar = np.full(lidar_rays, lidar_range)
        self._ray_cos = lidar_range * np.cos(self.lidar_angles)
        self._ray_sin = lidar_range * np.sin(self.lidar_angles)
        self._ray_z = np.full(lidar_rays, RAY_HEIGHT)
        self._placed = np.zeros(0, dtype=bool)

    # ------------------------------------------------------------------ episode set-up
    def load(self, city: City) -> None:
        """Make ``city`` the current map (Bullet bodies rebuilt only if the map changed)."""
        if self.city is not None and self.city.seed == city.seed and \
                self.city.params == city.params:
            self.city = city
            return
        self.bullet.clear()
        bodies = self.bullet.add_static_boxes(city.buildings, city.building_height)
        self._building_bodies = set(bodies)
        # bounding circles of the compound bodies, to pre-select the ones near the ego
        self._building_ids = np.asarray(bodies)
        self._building_circles = np.array(
            [self.bullet.bounding_circle(b) for b in bodies]).reshape(-1, 3)
        p = self.ego_params
        self._ego_body = self.bullet.add_box_body(p.length, p.width, CAR_HEIGHT, GROUP_EGO)
        self._car_bodies = []
        self.city = city
        self._segments = city.road_segments

    def start(self, rng: np.random.Generator, n_traffic: int,
              route_length: tuple[float, float] = (250.0, 600.0),
              traffic_idm: np.ndarray | None = None) -> None:
        """Draw the ego's start and goal, plan the route, spawn the traffic."""
        assert self.city is not None, "load() a city first"
        d = draw_drive(self.city, rng, n_traffic, route_length, traffic_idm)
        self.start_lane, self.start_s = d.start_lane, d.start_s
        self.goal_lane, self.goal_s = d.goal_lane, d.goal_s
        self.route = d.route
        self.ego = d.ego.copy()
        self.steer = 0.0
        self.t = 0.0
        self._route_i = 0
        self._route_i, self.route_s, self.route_offset = d.route_i, d.route_s, d.route_offset
        self.traffic = d.traffic
        idm = self.traffic.idm
        while len(self._car_bodies) < self.traffic.n:
            self._car_bodies.append(self.bullet.add_box_body(
                float(idm[CAR_LENGTH]), float(idm[CAR_WIDTH]), CAR_HEIGHT, GROUP_CARS))
        for b in self._car_bodies:
            self.bullet.set_pose(b, 0.0, 0.0, -50.0, 0.0)  # parked under the ground
        self._placed = np.zeros(self.traffic.n, dtype=bool)
        self._place_bodies()
        self._cast_lidar()

    # ------------------------------------------------------------------ stepping
    def step(self, accel: float, steer: float, rand: np.ndarray) -> set[int]:
        """Advance by ``dt``; returns the set of body ids the ego touches afterwards."""
        assert self.traffic is not None and self.route is not None and self.city is not None, \
            "start() a drive first"
        x, y, h, v = self.ego.tolist()  # Python floats: cheaper scalar arithmetic
        self.steer = steer
        x, y, h, v = bicycle_update(x, y, h, v, accel, steer, self.dt,
                                    tuple(self.ego_params.bicycle))
        self.ego[:] = (x, y, h, v)
        step_traffic(self.city, self.traffic, self.t, self.dt, rand, self.ego)
        self.t += self.dt
        self._route_i, self.route_s, self.route_offset = project_on_route(
            self.route.points, self.route.cum, x, y, self._route_i, 10, 40)
        self._place_bodies()
        hits = self.bullet.touching(self._ego_body, self._near_bodies(x, y))
        self._cast_lidar()
        return hits

    def _near_bodies(self, x: float, y: float) -> list[int]:
        reach = 0.5 * math.hypot(self.ego_params.length, self.ego_params.width) + 0.5
        bc = self._building_circles
        near = (bc[:, 0] - x) ** 2 + (bc[:, 1] - y) ** 2 < (bc[:, 2] + reach) ** 2
        out = self._building_ids[near].tolist()
        assert self.traffic is not None
        pose = self.traffic.pose
        close = (pose[:, 0] - x) ** 2 + (pose[:, 1] - y) ** 2 < (2 * reach + 0.5) ** 2
        out += [self._car_bodies[i] for i in np.flatnonzero(close)]
        return out

    def _place_bodies(self) -> None:
        """Pose the car bodies within lidar range (the others wait below the ground: nothing
        can see or touch them), then the ego."""
        x, y, h, _ = self.ego.tolist()
        assert self.traffic is not None
        pose = self.traffic.pose
        r = max(self.lidar_range, self.sensor_range) + 10.0
        near = (pose[:, 0] - x) ** 2 + (pose[:, 1] - y) ** 2 < r * r
        bodies, xyz, quat = [], [], []
        z = 0.5 * CAR_HEIGHT
        for i in np.flatnonzero(near | self._placed).tolist():
            bodies.append(self._car_bodies[i])
            if near[i]:
                cx, cy, ch = pose[i]
                xyz.append((cx, cy, z))
                quat.append((0.0, 0.0, math.sin(0.5 * ch), math.cos(0.5 * ch)))
            else:
                xyz.append((0.0, 0.0, -50.0))
                quat.append((0.0, 0.0, 0.0, 1.0))
        self._placed = near
        self.bullet.set_poses(bodies, xyz, quat)
        self.bullet.set_pose(self._ego_body, x, y, 0.5 * CAR_HEIGHT + 0.01, h)

    def _cast_lidar(self) -> None:
        x, y, h, _ = self.ego.tolist()
        c, s = math.cos(h), math.sin(h)
        dx = self._ray_cos * c - self._ray_sin * s
        dy = self._ray_sin * c + self._ray_cos * s
        ends = np.stack([x + dx, y + dy, self._ray_z], 1).tolist()
        origin = [(x, y, RAY_HEIGHT)] * len(ends)
        self.lidar = np.asarray(self.bullet.cast_rays(origin, ends)) * self.lidar_range

    # ------------------------------------------------------------------ queries
    def classify(self, hits: set[int]) -> str | None:
        """``"building"``, ``"car"`` or None for a set of contact body ids."""
        if not hits:
            return None
        return "building" if hits & self._building_bodies else "car"

    def off_road(self) -> bool:
        """Is the ego's centre off the carriageway (beyond the outer lane's edge)?"""
        d = nearest_segment_distance(self._segments, self.ego[0], self.ego[1])
        assert self.city is not None
        return bool(d > self.city.params.half_width + 0.5)

    def goal_distance(self) -> float:
        assert self.route is not None
        g = self.route.goal
        return float(math.hypot(g[0] - self.ego[0], g[1] - self.ego[1]))

    def next_light(self, horizon: float = 60.0) -> tuple[int, float]:
        """``(state, distance)`` of the next signalized stop line on the route within
        ``horizon`` metres (``(NO_LIGHT, horizon)`` if none)."""
        assert self.route is not None and self.city is not None
        stops = self.route.stops
        for row in stops:
            d = row[0] - self.route_s
            if d >= -1.0:
                if d > horizon:
                    break
                st = self.city.signals.state(int(row[1]), int(row[2]), self.t)
                return st, max(d, 0.0)
        return NO_LIGHT, horizon

    def red_lights_crossed(self, s_before: float, s_after: float) -> int:
        """How many of the route's signalized stop lines in ``(s_before, s_after]`` (arc
        length along the route) show red now: the lights run by a move from one to the
        other."""
        assert self.route is not None and self.city is not None
        n = 0
        for row in self.route.stops:
            if row[0] > s_after:
                break
            if row[0] > s_before and self.city.signals.state(
                    int(row[1]), int(row[2]), self.t) == RED:
                n += 1
        return n

    def visible_cars(self) -> np.ndarray:
        """Indices of the traffic cars within ``sensor_range`` of the ego that it can see: a
        ray from its sensor to the car's centre, nose or tail meets that car first."""
        x, y, h, _ = self.ego.tolist()
        assert self.traffic is not None
        pose = self.traffic.pose
        near = np.flatnonzero((pose[:, 0] - x) ** 2 + (pose[:, 1] - y) ** 2
                              < self.sensor_range ** 2)
        if len(near) == 0:
            return near
        half = 0.4 * float(self.traffic.idm[CAR_LENGTH])
        c, s = np.cos(pose[near, 2]), np.sin(pose[near, 2])
        tx = np.concatenate([pose[near, 0], pose[near, 0] + half * c, pose[near, 0] - half * c])
        ty = np.concatenate([pose[near, 1], pose[near, 1] + half * s, pose[near, 1] - half * s])
        ends = np.stack([tx, ty, np.full(len(tx), RAY_HEIGHT)], 1).tolist()
        bodies, _ = self.bullet.ray_hits([(x, y, RAY_HEIGHT)] * len(ends), ends)
        want = np.tile(np.asarray(self._car_bodies)[near], 3)
        seen = (bodies == want).reshape(3, -1).any(axis=0)
        return near[seen]

    def visible_nodes(self) -> np.ndarray:
        """Signalized intersections within ``sensor_range`` whose centre the ego sees (no
        building between; signal heads stand above the cars)."""
        x, y = float(self.ego[0]), float(self.ego[1])
        assert self.city is not None
        nodes = self.city.nodes
        lit = self.city.signals.node_phases > 0
        near = np.flatnonzero(lit & ((nodes[:, 0] - x) ** 2 + (nodes[:, 1] - y) ** 2
                                     < self.sensor_range ** 2))
        if len(near) == 0:
            return near
        ends = [(float(nodes[k, 0]), float(nodes[k, 1]), LIGHT_HEIGHT) for k in near]
        _, frac = self.bullet.ray_hits([(x, y, LIGHT_HEIGHT)] * len(ends), ends)
        return near[frac >= 1.0]

    def close(self) -> None:
        self.bullet.close()
