"""What a driver in the ego's seat can know in CityNav: the perception views.

``env.unwrapped.perceive("honest")`` returns a :class:`CityView` that the env refreshes after
every ``reset`` and ``step``. It holds

* the map, as a driver's map shows it (:class:`CityMap`): roads, the lane graph with its
  turns, where the lights are and which approach each one governs, buildings, the speed
  limit - not the signal timings;
* the ego's own vehicle (its parameters) and state, the clock, the start and the goal of the
  drive, and the weather as a driver sees it (:class:`Weather`: dry, wet, snow or ice, with
  the class's nominal grip and range - not the road's friction coefficient);
* what its sensors see now: the traffic cars in line of sight within ``sensor_range``
  (position, heading, speed, size) and the current colour of the lights of the
  intersections it sees.

It keeps no reference to the env, the traffic's arrays, the random generator, other drivers'
intents (their next turn, their desired speed) or the future phases of any light: there is
nothing to reach through it, and asking it for anything else raises ``PerceptionError``.
``perceive("oracle")`` is the labelled ablation: it adds ``road_friction`` (the exact
coefficient), ``traffic`` (every car's lane, arc length, speed, chosen turn and desired speed)
and ``signals`` (every light's plan), and lists every car and light as seen.

``perceive("simulator")`` (CityNav-v1) is not a view: it is the simulator itself, sealed in a
:class:`~moonshot.envs.perception.Rehearsal` (:func:`city_rehearsal`), for the
``simulator-search`` ablation.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..physics.city.batch import DriveView
from .perception import Rehearsal, View, check_perception

if TYPE_CHECKING:

    from ..physics.city.bullet_city import CityWorld
    from ..physics.city.generator import City
    from .city_drives import CityDrives

#: Columns of :attr:`CityView.cars`.
CAR_COLUMNS = ("x", "y", "heading", "speed", "length", "width")


@dataclass(frozen=True)
class Weather:
    """The road's grip as a driver sees the weather: a class, its nominal friction
    coefficient and the range of coefficients the class covers (``low <= mu < high``).

    A driver sees rain, snow or ice, not the coefficient; the bands (:data:`WEATHER`) are
    fixed and published, so a planner knows the range a class stands for (the true road may
    still be anywhere in it, or - black ice - below it).
    """

    name: str
    grip: float
    low: float
    high: float


#: The published weather classes, slipperiest first (``road_friction`` in ``[low, high)``
#: shows as the class; ice covers everything below 0.2, its range says 0.05 - 0.2).
#: ``ideal`` is CityNav-v0's kinematic car: no tyre limit at all.
WEATHER = (Weather("ice", 0.1, 0.05, 0.2), Weather("snow", 0.3, 0.2, 0.45),
           Weather("wet", 0.6, 0.45, 0.75), Weather("dry", 0.9, 0.75, 2.0),
           Weather("ideal", math.inf, math.inf, math.inf))
WEATHER_NAMES = tuple(w.name for w in WEATHER)


def weather_of(road_friction: float) -> Weather:
    """The weather class a driver sees on a road of friction ``road_friction``."""
    mu = float(road_friction)
    if math.isinf(mu):
        return WEATHER[-1]
    for w in WEATHER[:-1]:
        if mu < w.high:
            return w
    return WEATHER[-2]  # above the dry band (up to 2): still dry


def weather_named(name: str) -> Weather:
    """The weather class ``name`` (one of :data:`WEATHER_NAMES`)."""
    for w in WEATHER:
        if w.name == name:
            return w
    from ..errors import ConfigError

    raise ConfigError(f"unknown weather {name!r}; choose one of {list(WEATHER_NAMES)}")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class CityMap:
    """The city as a driver's map shows it (read-only arrays; no signal timings).

    ``nodes (N, 2)``, ``edges (E, 2)``, ``node_radius (N,)`` (centre to stop line);
    ``lanes``: the lane graph (:class:`~moonshot.physics.city.roads.LaneGraph`: lane
    geometry, turns, which light phase governs each approach); ``signalized (N,)``: which
    intersections have lights; ``buildings (B, 5)``; ``speed_limit`` (m/s); ``lane_width``,
    ``half_width`` (m); ``bounds``. No seed: nothing in a view can regenerate the city
    (and with it the signal plans a driver cannot know).
    """

    nodes: np.ndarray
    edges: np.ndarray
    node_radius: np.ndarray
    lanes: object
    signalized: np.ndarray
    buildings: np.ndarray
    speed_limit: float
    lane_width: float
    half_width: float
    bounds: tuple

    @classmethod
    def of(cls, city: City) -> CityMap:
        """The map of ``city`` (memoized per map: a city is a pure function of its seed)."""
        key = (city.seed, city.params)
        if key not in _MAPS:
            if len(_MAPS) > 64:
                _MAPS.clear()
            _MAPS[key] = cls._build(city)
        return _MAPS[key]

    @classmethod
    def _build(cls, city: City) -> CityMap:
        from copy import copy

        lanes = copy(city.lanes)  # same geometry, in read-only copies
        for name in ("pts", "cum", "length", "kind", "node", "phase", "road", "index", "src",
                     "dst", "succ_ptr", "succ_idx", "turn"):
            setattr(lanes, name, _frozen(getattr(lanes, name)))
        lanes.__dict__.pop("arrays", None)  # rebuilt from the copies when asked for
        p = city.params
        return cls(nodes=_frozen(city.nodes), edges=_frozen(city.edges),
                   node_radius=_frozen(city.node_radius), lanes=lanes,
                   signalized=_frozen(city.signals.node_phases > 0),
                   buildings=_frozen(city.buildings), speed_limit=float(p.speed_limit),
                   lane_width=float(p.lane_width), half_width=float(p.half_width),
                   bounds=tuple(city.bounds))


_MAPS: dict = {}


class CityView(View):
    """The driver's view of a CityNav episode (see the module docstring).

    ``map`` (:class:`CityMap`); ``vehicle`` (:class:`~moonshot.physics.city.ego.EgoParams`),
    ``weather`` (:class:`Weather`, the road's grip as seen), ``steer_rate`` (rad/s; inf:
    instant); ``dt`` (s); ``ego`` (``[x, y, heading, speed]``), ``steer`` (rad), ``time``
    (s); ``start`` and ``goal`` (``(lane, s)`` on the lane graph) and ``goal_xy``; ``cars``
    (``(K, 6)``: :data:`CAR_COLUMNS` of the cars seen); ``lights`` (``{(node, phase):
    state}`` of the lights seen, states ``GREEN``/``YELLOW``/``RED`` of
    :mod:`moonshot.physics.city.signals`); ``works`` (``(W, 5)``: the barriers of roadworks
    seen, ``cx, cy, half_length, half_width, yaw`` - not on the map, seen in line of sight
    within ``sensor_range`` as a driver sees cones; every one under ``"oracle"``);
    ``sensor_range`` (m). Oracle only:
    ``road_friction`` (the exact coefficient), ``traffic``, ``signals``.
    """

    _fields = ("map", "vehicle", "weather", "road_friction", "steer_rate", "dt", "ego", "steer",
               "time", "start", "goal", "goal_xy", "cars", "lights", "sensor_range", "traffic",
               "signals", "works")


def new_view(mode: str) -> CityView:
    return CityView(check_perception(mode))


def refresh_episode(view: CityView, world: CityWorld | DriveView, road_friction: float,
                    steer_rate: float, weather: str | None = None) -> None:
    """What stays fixed for a drive: the map, the vehicle, the weather, the start and the
    goal. ``weather``: the class the driver sees (default: the class of ``road_friction``;
    another one: the weather misleads, as black ice does)."""
    assert world.city is not None and world.route is not None  # a drive has started
    view._set("map", CityMap.of(world.city))
    view._set("vehicle", world.ego_params)
    view._set("weather", weather_of(road_friction) if weather is None else
              weather_named(weather))
    if view.mode == "oracle":
        view._set("road_friction", float(road_friction))
    view._set("steer_rate", float(steer_rate))
    view._set("dt", float(world.dt))
    view._set("start", (int(world.start_lane), float(world.start_s)))
    view._set("goal", (int(world.goal_lane), float(world.goal_s)))
    view._set("goal_xy", tuple(float(g) for g in world.route.goal))
    view._set("sensor_range", float(world.sensor_range))
    if view.mode == "oracle":
        view._set("signals", world.city.signals)


def hidden_by_hedges(city: City, eye: np.ndarray, targets: np.ndarray, reach: float) -> np.ndarray:
    """Which ``targets (K, 2)`` hedges hide from ``eye (x, y)``: hedges grow on every corner
    lot within ``reach`` m of an intersection's centre (off the roadway: farther than the
    road's half width + 0.5 m from every road's centre line), too high to see through."""
    if reach <= 0 or len(targets) == 0:
        return np.zeros(len(targets), dtype=bool)
    eye = np.asarray(eye, dtype=np.float64)[:2]
    d = targets - eye
    n = np.maximum(np.ceil(np.hypot(d[:, 0], d[:, 1])), 2).astype(int)
    f = np.concatenate([np.linspace(0.0, 1.0, k + 1)[1:-1] for k in n])  # 1 m apart, inside
    owner = np.repeat(np.arange(len(targets)), n - 1)
    pts = eye + f[:, None] * d[owner]
    near_node = np.min(np.hypot(pts[:, None, 0] - city.nodes[None, :, 0],
                                pts[:, None, 1] - city.nodes[None, :, 1]), axis=1) < reach
    seg = city.road_segments
    a, ab = seg[:, :2], seg[:, 2:] - seg[:, :2]
    t = np.clip(((pts[:, None] - a[None]) * ab[None]).sum(-1)
                / np.maximum((ab * ab).sum(-1), 1e-9)[None], 0.0, 1.0)
    off = np.min(np.hypot(*(pts[:, None] - a[None] - t[..., None] * ab[None]).transpose(2, 0,
                                                                                       1)), 1)
    blocked = near_node & (off > city.params.half_width + 0.5)
    return np.bincount(owner, weights=blocked, minlength=len(targets)) > 0


def refresh_step(view: CityView, world: CityWorld | DriveView, delay: int = 0,
                 episode: bool = False, hedges: float = 0.0) -> None:
    """What the sensors report now (``delay``: the cars and lights as they were ``delay``
    steps ago - the honest view's sensors lag; ``episode``: a new drive, no past yet;
    ``hedges``: cars and roadworks' barriers behind hedges at the intersections are hidden
    from the honest view, see :func:`hidden_by_hedges`)."""
    from ..physics.city.traffic import CAR_LENGTH, CAR_WIDTH

    tr = world.traffic
    assert tr is not None and world.city is not None  # a drive has started
    view._set("ego", _frozen(world.ego))
    view._set("steer", float(world.steer))
    view._set("time", float(world.t))
    seen = np.arange(tr.n) if view.mode == "oracle" else world.visible_cars()
    if hedges > 0 and view.mode == "honest":
        seen = seen[~hidden_by_hedges(world.city, world.ego, tr.pose[seen, :2], hedges)]
    cars = np.empty((len(seen), 6))
    cars[:, :3] = tr.pose[seen]
    cars[:, 3] = tr.v[seen]
    cars[:, 4] = tr.idm[CAR_LENGTH]
    cars[:, 5] = tr.idm[CAR_WIDTH]
    sig = world.city.signals
    nodes = np.flatnonzero(sig.node_phases > 0) if view.mode == "oracle" else \
        world.visible_nodes()
    lights = {(int(k), p): sig.state(int(k), p, world.t)
              for k in nodes for p in range(int(sig.node_phases[k]))}
    if delay > 0 and view.mode == "honest":
        frames = getattr(view, "_frames", None)
        if episode or frames is None or frames.maxlen != delay + 1:
            frames = deque(maxlen=delay + 1)
            object.__setattr__(view, "_frames", frames)  # the env's, not a field
        frames.append((cars, lights))
        cars, lights = frames[0]  # the oldest: delay steps ago (or the drive's first)
    view._set("cars", _frozen(cars))
    view._set("lights", lights)
    boxes = np.zeros((0, 5))  # CityNav-v0 (a CityWorld) has no roadworks
    if isinstance(world, DriveView):
        works = world.works.boxes
        hide = None  # hedges hide barriers as they hide cars (an end or the centre in sight)
        if hedges > 0 and view.mode == "honest":
            def hide(pts: np.ndarray) -> np.ndarray:
                return hidden_by_hedges(world.city, world.ego, pts, hedges)
        boxes = works if view.mode == "oracle" else works[world.visible_works(hide)]
    view._set("works", _frozen(boxes))
    if view.mode == "oracle":
        view._set("traffic", tr.copy())


class RehearsalFeed:
    """What the env hands a CityNav-v1 rehearsal: copies of the live drive, pushed after every
    ``reset`` and ``step`` (:meth:`push`), and the count of the episode's rehearsal calls.

    The env holds the feed and writes to it; the feed holds nothing of the env (only copies:
    the drive's state without its generators, the config, the map id), so nothing reachable
    from a :class:`~moonshot.envs.perception.Rehearsal` leads back to the real episode.
    """

    __slots__ = ("state", "calls", "_route")

    def __init__(self) -> None:
        self.state: dict | None = None
        self.calls = 0
        self._route: object = None  # a copy of the drive's route, made once per drive

    def push(self, state: dict, episode: bool = False) -> None:
        """``state``: a copy of the live drive
        (:meth:`~moonshot.envs.city_drives.CityDrives.get_state`, taken by the env; its
        generator's state is dropped here); ``episode``: a new drive, whose calls count from 0."""
        from copy import deepcopy

        d = state["drive"]  # its traffic a copy already; its route and start pose the live ones
        if episode or self._route is None:
            self._route = deepcopy(d.route)  # fixed for the drive: copied once
            self.calls = 0
        self.state = {**state, "drive": d._replace(route=self._route, ego=d.ego.copy()),
                      "noise": None}  # the twin draws from generators of its own

    def seed(self) -> list[int]:
        """The seed of the next rehearsal call: the map, the step and the call's index within
        the episode (the same whatever ran before this episode)."""
        assert self.state is not None  # pushed at reset
        self.calls += 1
        return [int(self.state["map_id"]), int(self.state["steps"]), self.calls]


def city_rehearsal(cfg: dict, feed: RehearsalFeed, action_space: object) -> Rehearsal:
    """A :class:`~moonshot.envs.perception.Rehearsal` of a CityNav-v1 drive whose env (config
    ``cfg``, copied) pushes copies of its drive into ``feed``: each call to
    ``rehearse_plans(plans)`` copies the drive as it was last pushed (the live state: the env
    pushes after every ``reset`` and ``step``) into one drive per plan of a twin
    :class:`CityDrives` and plays the plans there, all at once (one batched step per time
    step). Everything random in the twin (the traffic's draws, the lidar's noise) comes from
    generators seeded once per call by :meth:`RehearsalFeed.seed` - the same seed for every
    plan of a call, so the plans are compared on the same traffic - never from the real env's
    generators, so the real episode is the same whether or not it was rehearsed. The
    rehearsal reaches only ``feed`` and copies, never the env."""
    from .city_drives import CityDrives, step_info

    cfg = dict(cfg)
    twin: list[CityDrives] = []  # built at the first call, rebuilt for a larger population

    def play(plans: np.ndarray) -> tuple[np.ndarray, list[dict], int]:
        n, horizon = plans.shape[:2]
        if not twin or twin[0].n < n:
            twin[:] = [CityDrives(n, dict(cfg))]
        sim = twin[0]
        now, seed = feed.state, feed.seed()
        assert now is not None  # pushed at reset
        noisy = cfg["lidar_noise"] > 0
        for k in range(sim.n):
            sim.set_state(k, now, noise=np.random.default_rng([*seed, 1]) if noisy else None)
        rngs = [np.random.default_rng(seed) for _ in range(sim.n)]
        actions = np.zeros((sim.n, 2))
        returns = np.zeros(n)
        infos: list[dict] = [{} for _ in range(n)]
        done = np.zeros(sim.n, dtype=bool)
        done[n:] = True  # spare drives of a larger twin
        steps = 0
        for t in range(horizon):
            actions[:n] = plans[:, t]
            st = sim.step(actions, rngs)
            live_now = ~done
            returns += np.where(live_now[:n], st["reward"][:n], 0.0)
            steps += int(live_now.sum())
            ended = live_now & (st["terminated"] | st["truncated"])
            for k in np.flatnonzero(ended).tolist():
                infos[k] = step_info(sim, st, k)
            done |= ended
            if done.all():
                break
        for k in np.flatnonzero(~done[:n]).tolist():
            infos[k] = sim.info(k, False, False)
        return returns, infos, steps

    return Rehearsal(play, action_space)
