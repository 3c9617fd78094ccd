"""Many drives at once: the physics of N CityNav-v1 cities as arrays, one compiled call per
step for what can be batched.

:class:`CityBatch` holds N drives, each in its own city (maps may differ). A step moves every
ego (the bicycle model with tyres, :func:`~.ego.tyre_update`, one call for all), then each
city's traffic (the IDM kernel, one call per city: cities have their own lane graphs), then
asks the footprint engine (:mod:`.footprints`) for every ego's contacts and lidar in one call
each, and computes each drive's route progress, lights and observation in one compiled call
per city (:func:`drive_features`). Nothing is stored per car or per ray as a Python object.

A drive of city ``i`` depends only on city ``i``'s generator and actions: the same seed gives
the same drive whether it runs alone (``N = 1``: the single CityNav-v1 env) or among others.

:class:`DriveView` presents one drive with the attributes of a
:class:`~.bullet_city.CityWorld` (``city``, ``traffic``, ``ego``, ``route``, ``lidar``, ...), for
the renderers and the perception views.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from .drive import DT, Drive, draw_drive
from .ego import EgoParams, tyre_update
from .footprints import (
    NO_HIT,
    Cars,
    RayHits,
    Scene,
    build_scene,
    cast_rays,
    ego_contacts,
    lidar,
    stack_scenes,
)
from .geometry import Polyline, nearest_segment_distance
from .roadworks import Roadworks, traffic_lanes
from .route import navigator_features, project_on_route
from .signals import NO_LIGHT, RED, light_state
from .traffic import CAR_LENGTH, CAR_WIDTH, _state_tuple, traffic_step

if TYPE_CHECKING:
    from .generator import City

#: Where the observation kernel writes (indices into the observation row; see the env's
#: declared layout): lidar start, speed, steer, goal distance, goal bearing (2), navigator
#: start and end, light one-hot start, stop distance, progress.
OBS_FIELDS = ("lidar", "speed", "steer", "goal_distance", "goal_bearing", "nav_start",
              "nav_end", "light", "stop_distance", "progress")

_SCENES: OrderedDict = OrderedDict()  # map key -> footprint scene (maps are pure functions)
_WORKS: OrderedDict = OrderedDict()  # (map, works) -> their scene and the traffic's lanes


def scene_of(city: City | None) -> Scene:
    """The footprint scene of ``city`` (memoized; an empty one for a drive not started)."""
    if city is None:
        return build_scene(np.zeros((0, 5)))
    key = (city.seed, city.params)
    if key not in _SCENES:
        if len(_SCENES) >= 128:
            _SCENES.popitem(last=False)
        _SCENES[key] = build_scene(city.buildings)
    return _SCENES[key]


@njit(cache=True)
def egos_update(ego: np.ndarray, steer: np.ndarray, accel: np.ndarray, steer_cmd: np.ndarray,
                dt: float, car: tuple, friction: np.ndarray, steer_rate: float) -> None:
    """Every ego one step of the bicycle model with tyres (in place); ``friction[i]`` is
    the road's under drive ``i``."""
    for i in range(ego.shape[0]):
        x, y, h, v, s = tyre_update(ego[i, 0], ego[i, 1], ego[i, 2], ego[i, 3], steer[i],
                                    accel[i], steer_cmd[i], dt, car,
                                    (friction[i], steer_rate))
        ego[i, 0], ego[i, 1], ego[i, 2], ego[i, 3] = x, y, h, v
        steer[i] = s


@njit(cache=True)
def drive_features(ego: np.ndarray, steer: float, t: float, route: tuple, stops: np.ndarray,
                   signals: tuple, segments: np.ndarray, half_width: float, route_i: int,
                   route_s_before: float, lidar_m: np.ndarray, lidar_range: float,
                   ahead: np.ndarray, navigation: bool, goal_x: float, goal_y: float,
                   scales: np.ndarray, at: np.ndarray, horizon: float,
                   out: np.ndarray) -> tuple[int, float, float, bool, int, float]:
    """One drive after a step: its progress along ``route`` (a ``Polyline``; ``stops`` its
    signalized stop lines ``[s, node, phase, lane]``), whether it is off the carriageway, the
    red lights its move crossed, the next light on its route, and its observation row ``out``
    (indices ``at``, see :data:`OBS_FIELDS`; ``scales`` = max speed, max steer, goal scale).
    Returns ``route_i, route_s, route_offset, off_road, red_crossed, goal_distance``."""
    pts, cum = Polyline(*route).points, Polyline(*route).cum
    x, y, h, v = ego[0], ego[1], ego[2], ego[3]
    route_i, route_s, offset = project_on_route(pts, cum, x, y, route_i, 10, 40)
    off_road = nearest_segment_distance(segments, x, y) > half_width + 0.5
    red = 0
    light, light_d = NO_LIGHT, horizon
    found = False
    for k in range(stops.shape[0]):
        s_line = stops[k, 0]
        node, phase = int(stops[k, 1]), int(stops[k, 2])
        if route_s_before < s_line <= route_s:
            if light_state(signals, node, phase, t) == RED:
                red += 1
        if not found:
            d = s_line - route_s
            if d >= -1.0:
                found = True
                if d <= horizon:
                    light = light_state(signals, node, phase, t)
                    light_d = max(d, 0.0)
    for r in range(lidar_m.shape[0]):
        out[at[0] + r] = lidar_m[r] / lidar_range
    out[at[1]] = v / scales[0]
    out[at[2]] = steer / scales[1]
    dx, dy = goal_x - x, goal_y - y
    dist = math.hypot(dx, dy)
    out[at[3]] = dist / scales[2]
    c, s = math.cos(h), math.sin(h)
    bearing = math.atan2(-s * dx + c * dy, c * dx + s * dy)
    out[at[4]] = math.cos(bearing)
    out[at[4] + 1] = math.sin(bearing)
    if navigation:
        navigator_features(route, route_s, route_i, ego, ahead, out[at[5]:at[6]])
    else:
        out[at[5]:at[6]] = 0.0
    out[at[7]:at[7] + 3] = 0.0
    if light != NO_LIGHT:
        out[at[7] + light] = 1.0
    out[at[8]] = light_d / horizon
    out[at[9]] = route_s / cum[cum.shape[0] - 1]
    return route_i, route_s, offset, off_road, red, dist


class CityBatch:
    """N CityNav-v1 drives as arrays (see the module docstring).

    Per drive: ``ego (N, 4)``, ``steer (N,)``, ``t (N,)``, ``friction (N,)`` (the road's
    grip), ``route_i``, ``route_s``, ``route_offset``, ``lidar (N, R)`` (m), and the
    per-city ``city``, ``drive`` (:class:`~.drive.Drive`: start, goal, route, traffic) lists.
    """

    def __init__(self, n: int, vehicle: EgoParams | None = None, friction: float = 0.9,
                 lidar_rays: int = 32, lidar_range: float = 50.0, sensor_range: float = 50.0,
                 dt: float = DT):
        self.n = int(n)
        self.ego_params = vehicle or EgoParams()
        self._car = tuple(self.ego_params.bicycle)
        self.friction = np.full(self.n, float(friction))  # per drive: the road's grip
        self._steer_rate = float(self.ego_params.steer_rate)
        self.dt = float(dt)
        self.lidar_range = float(lidar_range)
        self.sensor_range = float(sensor_range)
        self.lidar_angles = np.linspace(0.0, 2 * np.pi, lidar_rays, endpoint=False)
        self.ego = np.zeros((n, 4))
        self.steer = np.zeros(n)
        self.t = np.zeros(n)
        self.route_i = np.zeros(n, dtype=np.int64)
        self.route_s = np.zeros(n)
        self.route_offset = np.zeros(n)
        self.lidar = np.full((n, lidar_rays), self.lidar_range)
        self.city: list = [None] * n
        self.drive: list[Drive | None] = [None] * n
        self._lanes: list = [None] * n
        self._signals: list = [None] * n
        self._route: list = [None] * n
        self._segments: list = [None] * n
        self._pose = np.zeros((n, 0, 3))
        self._count = np.zeros(n, dtype=np.int64)
        self._half = np.zeros((n, 2))
        # the footprint scenes of the maps driven, stacked (a bank: drives that change maps
        # among a few, like the 32 training maps, never restack it)
        self._bank_keys: list = []
        self._bank: Scene | None = None
        self._map_index = np.zeros(n, dtype=np.int64)
        self._bank_cap = 2 * self.n + 32
        self._ego_half = np.array([0.5 * self.ego_params.length, 0.5 * self.ego_params.width])
        # the ego as traffic sees it: [x, y, h, v, radius, circle offsets...] (its own size)
        radius, offsets = self.ego_params.circles
        self._ego_ext = np.zeros((n, 5 + len(offsets)))
        self._ego_ext[:, 4] = radius
        self._ego_ext[:, 5:] = offsets
        # roadworks per drive (:mod:`.roadworks`): the barriers and their scene (None: none)
        self.works: list[Roadworks] = [Roadworks.none()] * n
        self._works_scene: list[Scene | None] = [None] * n
        self._works_bank: Scene | None = None  # every drive's barriers, stacked (map i)
        self._drive_index = np.arange(n, dtype=np.int64)
        self._no_cars = Cars(np.zeros((n, 0, 3)), np.zeros(n, dtype=np.int64), np.zeros((n, 2)))

    # --------------------------------------------------------------------------- drives
    def start(self, i: int, city: City, rng: np.random.Generator | None, n_traffic: int,
              route_length: tuple[float, float] = (250.0, 600.0),
              drive: Drive | None = None) -> None:
        """Put drive ``i`` in ``city``: a new drive drawn from ``rng`` (or ``drive`` as given,
        to restore one)."""
        if drive is None:
            assert rng is not None, "a new drive is drawn from rng"
            drive = draw_drive(city, rng, n_traffic, route_length)
        d = drive
        self.city[i] = city
        self._map_index[i] = self._bank_slot(city)
        self.drive[i] = d
        self._lanes[i] = tuple(city.lanes.arrays)
        self._signals[i] = tuple(city.signals.arrays)
        self._route[i] = tuple(d.route.path)
        self._segments[i] = city.road_segments
        self.ego[i] = d.ego
        self.steer[i] = 0.0
        self.t[i] = 0.0
        self.route_i[i], self.route_s[i], self.route_offset[i] = \
            d.route_i, d.route_s, d.route_offset
        k = d.traffic.n
        if k > self._pose.shape[1]:
            pose = np.zeros((self.n, k, 3))
            pose[:, :self._pose.shape[1]] = self._pose
            self._pose = pose
        self._pose[i, k:] = 0.0
        self._count[i] = k
        self._pose[i, :k] = d.traffic.pose
        idm = d.traffic.idm
        self._half[i] = (0.5 * idm[CAR_LENGTH], 0.5 * idm[CAR_WIDTH])
        self.works[i], self._works_scene[i], self._works_bank = Roadworks.none(), None, None

    def close_lanes(self, i: int, works: Roadworks) -> None:
        """Put ``works`` (barriers the ego collides with and its lidar sees; streets the
        traffic no longer turns into) in drive ``i``, just started; its traffic must already
        be clear of them (:func:`~.roadworks.clear_traffic`)."""
        self.works[i], self._works_bank = works, None
        if len(works.lanes) == 0:
            self._works_scene[i] = None
            return
        city = self.city[i]
        key = (city.seed, city.params, works.boxes.tobytes(), works.closed.tobytes())
        if key not in _WORKS:  # a drive's works are set again at every resume or rehearsal
            if len(_WORKS) >= 64:
                _WORKS.popitem(last=False)
            _WORKS[key] = (build_scene(works.boxes),
                           traffic_lanes(city.lanes.arrays, works.closed))
        self._works_scene[i], self._lanes[i] = _WORKS[key]
    def _bank_slot(self, city: City) -> int:
        """Where ``city``'s scene sits in the bank (added if new; the bank is rebuilt from
        the maps in use when full)."""
        key = (city.seed, city.params)
        if key in self._bank_keys:
            return self._bank_keys.index(key)
        if self._bank is None or len(self._bank_keys) >= self._bank_cap:
            keep = {(c.seed, c.params): c for c in self.city if c is not None}
            keep[key] = city
            self._bank_keys = list(keep)
            self._bank = stack_scenes([scene_of(c) for c in keep.values()])
            self._map_index[:] = [self._bank_keys.index((c.seed, c.params))
                                  if c is not None else 0 for c in self.city]
        else:
            self._bank_keys.append(key)
            self._bank = stack_scenes([self._bank, scene_of(city)])
        return self._bank_keys.index(key)

    def scene(self) -> Scene:
        assert self._bank is not None, "start() a drive first"
        return self._bank

    def started(self, i: int) -> Drive:
        """Drive ``i``, which :meth:`start` has put in its city."""
        d = self.drive[i]
        assert d is not None, f"drive {i} was never started"
        return d

    def _cars(self) -> Cars:
        return Cars(self._pose, self._count, self._half)

    def cast(self, which: Sequence[int] | np.ndarray) -> None:
        """The lidar of the drives ``which`` (just started), from where they stand."""
        hits = lidar(self.scene(), self._map_index, self.ego, self.lidar_angles,
                     self.lidar_range, self._cars())
        self.lidar[which] = hits.distance[which]
        self._works_lidar(which)

    def _works(self) -> Scene | None:
        """The barriers of every drive's roadworks as one scene (map ``i``: drive ``i``'s;
        ``None``: no drive has any), stacked once per change of works."""
        if all(s is None for s in self._works_scene):
            return None
        if self._works_bank is None:
            empty = scene_of(None)
            self._works_bank = stack_scenes([empty if s is None else s
                                             for s in self._works_scene])
        return self._works_bank

    def _works_lidar(self, which: Sequence[int] | np.ndarray) -> None:
        """The lidar of the drives ``which`` with their roadworks' barriers in sight."""
        works = self._works()
        if works is not None:
            hits = lidar(works, self._drive_index, self.ego, self.lidar_angles,
                         self.lidar_range, self._no_cars)
            self.lidar[which] = np.minimum(self.lidar[which], hits.distance[which])

    def _works_contacts(self, crash: np.ndarray) -> None:
        """Drives whose ego touches a barrier of its roadworks: crash 3 (unless it hit
        something else as well)."""
        works = self._works()
        if works is not None:
            hit = ego_contacts(works, self._drive_index, self.ego, self._ego_half,
                               self._no_cars)
            crash[(crash == 0) & (hit.building != NO_HIT)] = 3

    # --------------------------------------------------------------------------- stepping
    def step(self, accel: np.ndarray, steer_cmd: np.ndarray,
             rand: list[np.ndarray]) -> np.ndarray:
        """Advance every drive by ``dt``: ``accel`` (m/s²) and ``steer_cmd`` (rad) per drive,
        ``rand[i]`` uniform numbers for city ``i``'s traffic. Returns the crash of each drive:
        0 none, 1 a building, 2 a car, 3 a roadworks barrier."""
        egos_update(self.ego, self.steer, np.asarray(accel, dtype=np.float64),
                    np.asarray(steer_cmd, dtype=np.float64), self.dt, self._car, self.friction,
                    self._steer_rate)
        self._ego_ext[:, :4] = self.ego
        for i in range(self.n):
            tr = self.started(i).traffic
            traffic_step(_state_tuple(tr), tr.idm, self._lanes[i], self._signals[i],
                         self._ego_ext[i], True, rand[i], self.t[i], self.dt, tr.bold)
            self._pose[i, :tr.n] = tr.pose
        self.t += self.dt
        cars = self._cars()
        hit = ego_contacts(self.scene(), self._map_index, self.ego, self._ego_half, cars)
        crash = np.where(hit.building != NO_HIT, 1, np.where(hit.car.any(axis=1), 2, 0))
        self.lidar[:] = lidar(self.scene(), self._map_index, self.ego, self.lidar_angles,
                              self.lidar_range, cars).distance
        self._works_contacts(crash)
        self._works_lidar(self._drive_index)
        return crash

    # --------------------------------------------------------------------------- perception
    def visible_cars(self, i: int) -> np.ndarray:
        """The traffic cars of drive ``i`` within ``sensor_range`` whose centre, nose or tail
        a ray from the ego's sensor meets first."""
        tr = self.started(i).traffic
        x, y = self.ego[i, 0], self.ego[i, 1]
        pose = tr.pose
        near = np.flatnonzero((pose[:, 0] - x) ** 2 + (pose[:, 1] - y) ** 2
                              < self.sensor_range ** 2)
        if len(near) == 0:
            return near
        half = 0.4 * float(tr.idm[CAR_LENGTH])
        c, s = np.cos(pose[near, 2]), np.sin(pose[near, 2])
        tx = np.concatenate([pose[near, 0], pose[near, 0] + half * c, pose[near, 0] - half * c])
        ty = np.concatenate([pose[near, 1], pose[near, 1] + half * s, pose[near, 1] - half * s])
        hits = self._rays_to(i, tx, ty, with_cars=True)
        want = np.tile(near, 3)
        return near[(hits.car[0] == want).reshape(3, -1).any(axis=0)]

    def visible_nodes(self, i: int) -> np.ndarray:
        """Signalized intersections within ``sensor_range`` of drive ``i`` whose centre its
        sensor sees past the buildings (signal heads stand above the cars)."""
        city = self.city[i]
        x, y = self.ego[i, 0], self.ego[i, 1]
        nodes = city.nodes
        lit = city.signals.node_phases > 0
        d = np.hypot(nodes[:, 0] - x, nodes[:, 1] - y)
        near = np.flatnonzero(lit & (d < self.sensor_range))
        if len(near) == 0:
            return near
        hits = self._rays_to(i, nodes[near, 0], nodes[near, 1], with_cars=False)
        return near[hits.distance[0] >= d[near] - 1e-6]

    def visible_works(self, i: int,
                      hidden: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The barriers of drive ``i``'s roadworks (rows of ``works[i].boxes``) within
        ``sensor_range`` whose centre or an end its sensor sees past the buildings (and past
        what ``hidden(points (K, 2)) -> (K,) bool`` hides besides: a perception's hedges)."""
        boxes = self.works[i].boxes
        if len(boxes) == 0:
            return np.zeros(0, dtype=np.int64)
        x, y = self.ego[i, 0], self.ego[i, 1]
        c, s = np.cos(boxes[:, 4]), np.sin(boxes[:, 4])
        tx = np.concatenate([boxes[:, 0], boxes[:, 0] + boxes[:, 2] * c,
                             boxes[:, 0] - boxes[:, 2] * c])
        ty = np.concatenate([boxes[:, 1], boxes[:, 1] + boxes[:, 2] * s,
                             boxes[:, 1] - boxes[:, 2] * s])
        d = np.hypot(tx - x, ty - y)
        near = d < self.sensor_range
        if not near.any():
            return np.zeros(0, dtype=np.int64)
        seen = np.zeros(len(tx), dtype=bool)
        hits = self._rays_to(i, tx[near], ty[near], with_cars=False)
        seen[near] = hits.distance[0] >= d[near] - 1e-6
        if hidden is not None and seen.any():
            at = np.flatnonzero(seen)
            seen[at] = ~np.asarray(hidden(np.stack([tx[at], ty[at]], axis=1)), dtype=bool)
        return np.flatnonzero(seen.reshape(3, -1).any(axis=0))

    def _rays_to(self, i: int, tx: np.ndarray, ty: np.ndarray, with_cars: bool) -> RayHits:
        x, y = self.ego[i, 0], self.ego[i, 1]
        dx, dy = tx - x, ty - y
        dist = np.maximum(np.hypot(dx, dy), 1e-9)
        origins = np.broadcast_to([x, y], (len(tx), 2))[None]
        dirs = np.stack([dx / dist, dy / dist], axis=1)[None]
        if with_cars:
            tr = self.started(i).traffic
            cars = Cars.single(tr.pose, (0.5 * tr.idm[CAR_LENGTH], 0.5 * tr.idm[CAR_WIDTH]))
        else:
            cars = Cars(np.zeros((1, 0, 3)), np.zeros(1, dtype=np.int64), np.zeros((1, 2)))
        one = scene_of(self.city[i])  # a one-map scene
        return cast_rays(one, np.zeros(1, dtype=np.int64), origins, dirs,
                         (dist + 1.0)[None], cars)


class DriveView:
    """Drive ``i`` of a :class:`CityBatch` with the attributes of a
    :class:`~.bullet_city.CityWorld` (what the renderers and the perception views read)."""

    def __init__(self, batch: CityBatch, i: int):
        self._b, self._i = batch, i

    city = property(lambda self: self._b.city[self._i])
    traffic = property(lambda self: self._b.drive[self._i].traffic)
    route = property(lambda self: self._b.drive[self._i].route)
    start_lane = property(lambda self: self._b.drive[self._i].start_lane)
    start_s = property(lambda self: self._b.drive[self._i].start_s)
    goal_lane = property(lambda self: self._b.drive[self._i].goal_lane)
    goal_s = property(lambda self: self._b.drive[self._i].goal_s)
    ego = property(lambda self: self._b.ego[self._i])
    steer = property(lambda self: float(self._b.steer[self._i]))
    t = property(lambda self: float(self._b.t[self._i]))
    route_s = property(lambda self: float(self._b.route_s[self._i]))
    lidar = property(lambda self: self._b.lidar[self._i])
    lidar_angles = property(lambda self: self._b.lidar_angles)
    lidar_range = property(lambda self: self._b.lidar_range)
    sensor_range = property(lambda self: self._b.sensor_range)
    ego_params = property(lambda self: self._b.ego_params)
    dt = property(lambda self: self._b.dt)

    def visible_cars(self) -> np.ndarray:
        return self._b.visible_cars(self._i)

    def visible_nodes(self) -> np.ndarray:
        return self._b.visible_nodes(self._i)

    def visible_works(self, hidden: Callable[[np.ndarray], np.ndarray] | None = None
                      ) -> np.ndarray:
        return self._b.visible_works(self._i, hidden)

    @property
    def works(self) -> Roadworks:
        return self._b.works[self._i]


__all__ = ["CityBatch", "DriveView", "drive_features", "egos_update", "OBS_FIELDS"]
