"""CityNav-v1: CityNav with tyres and a steering rack, natively batched.

The world's physics for N drives lives in :class:`~moonshot.physics.city.batch.CityBatch`;
:class:`CityDrives` adds what an env adds (maps, rewards, observations, episode ends) for all
drives at once. :class:`CityNavV1Env` is one drive (``gymnasium.make("moonshot/CityNav-v1")``)
and :class:`CityNavVectorEnv` many (``gymnasium.make_vec("moonshot/CityNav-v1", num_envs=N,
vectorization_mode="vector_entry_point")``); they run the same code, so a drive is the same
whether it runs alone or in a batch (tested).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..errors import ConfigError, check_choice, check_keys
from ..physics.city.batch import OBS_FIELDS, CityBatch, DriveView, drive_features
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import LAYOUTS, NEW_SEED_BASE
from ..physics.city.signals import GREEN, RED, YELLOW
from ..physics.city.traffic import BOLD_SPEED
from ..physics.city.world import cached_city
from .city_config import check_city_config, friction_range
from .city_nav import (
    GOAL_SCALE,
    LIDAR_OBSERVATION,
    LIGHT_HORIZON,
    SPEEDING_MARGIN,
    WAYPOINT_AHEAD,
    CityNavEnv,
)
from .display import human_window
from .docs import fill_doc, make_call, number
from .layout import ObservationLayout, Size, Slot

_F = Size.symbol("F")
#: the road's grip, a slot of width F = 1 with ``observe_friction=True`` (0 otherwise)
FRICTION_SLOT = Slot("road_friction", _F, 0, 2,
                     "the road's friction coefficient, only with ``observe_friction=True`` "
                     "(F = 1; F = 0 otherwise)")
#: CityNav-v1's lidar observation: v0's, and the road's grip when observed
V1_LIDAR_OBSERVATION = ObservationLayout(
    list(LIDAR_OBSERVATION.slots) + [FRICTION_SLOT],
    symbols={**LIDAR_OBSERVATION.symbols, "F": "observe_friction"})

OBJECT_WIDTH = 7  # per car: present, x, y (ego frame) / range, vx, vy (ego frame) / max speed,
#                   cos, sin of its heading relative to the ego's
_K = Size.symbol("K")
OBJECTS_OBSERVATION = ObservationLayout(
    [Slot("objects", OBJECT_WIDTH * _K, -1, 1,
           "the K nearest cars seen (in line of sight within ``sensor_range``): per car "
           "present (1/0), x, y in the ego frame / ``sensor_range``, velocity x, y in the ego "
           "frame / max speed, cos, sin of its heading relative to the ego's")]
    + [s for s in LIDAR_OBSERVATION.slots if s.name not in ("lidar", "light")]
    + [Slot("light_seen", 4, 0, 1, "the next light on the route as seen: one-hot green, "
            "yellow, red, not seen (all 0: none within the horizon)"), FRICTION_SLOT],
    symbols={"K": "objects", "F": "observe_friction"})


def default_config() -> dict:
    """CityNav-v1's configuration keys and defaults (v0's, plus the vehicle, the road and
    the perception-based observation)."""
    return {**CityNavEnv.default_config(), "road_friction": 0.9, "vehicle": "car",
            "sensor_range": 50.0, "observation": "lidar", "objects": 8, "lidar_noise": 0.0,
            "layout": "default", "driving_side": "right", "observe_friction": False,
            "weather_seen": None, "sensor_delay": 0, "occlusion": 0.0, "bold_drivers": 0.0}


class CityDrives:
    """The env logic of N CityNav-v1 drives over a :class:`CityBatch` (see the module
    docstring). Each drive ``i`` draws from the generator the caller passes for it."""

    def __init__(self, n: int, cfg: dict):
        self.cfg, self.n = cfg, n
        self.vehicle = VEHICLES[cfg["vehicle"]]
        self._friction = friction_range(cfg["road_friction"])
        cfg["observe_friction"] = bool(cfg["observe_friction"])  # numpy's bool too
        self.batch = CityBatch(n, self.vehicle, self._friction[0], int(cfg["lidar_rays"]),
                               float(cfg["lidar_range"]), float(cfg["sensor_range"]))
        self.lidar_layout = V1_LIDAR_OBSERVATION.resolve(cfg)
        self._friction_at = self.lidar_layout.slices["road_friction"]
        self.layout = (OBJECTS_OBSERVATION.resolve(cfg) if cfg["observation"] == "objects"
                       else self.lidar_layout)
        sl = self.lidar_layout.slices
        nav = self.lidar_layout.span("route_points", "route_heading")
        self._at = np.array([sl["lidar"].start, sl["speed"].start, sl["steer"].start,
                             sl["goal_distance"].start, sl["goal_bearing"].start, nav.start,
                             nav.stop, sl["light"].start, sl["stop_distance"].start,
                             sl["progress"].start], dtype=np.int64)
        assert len(self._at) == len(OBS_FIELDS)
        self._scales = np.array([self.vehicle.max_speed, self.vehicle.max_steer, GOAL_SCALE])
        self._ahead = np.asarray(WAYPOINT_AHEAD)
        self._rows = np.zeros((n, self.lidar_layout.size))  # the lidar layout, always
        self.map_id = np.full(n, -1, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.red_run = np.zeros(n, dtype=np.int64)
        self.togo = np.zeros(n)
        self._noise: list = [None] * n
        self._max_steps = int(round(float(cfg["time_limit"]) / self.batch.dt))
        self._goal_radius = float(cfg["goal_radius"])

    # ---------------------------------------------------------------------------- episodes
    def _pick_map(self, rng, options: dict) -> int:
        if options.get("map_seed") is not None:
            return int(options["map_seed"])
        if self.cfg["map_seed"] is not None:
            return int(self.cfg["map_seed"])
        if self.cfg["split"] == "train":
            return int(rng.integers(int(self.cfg["num_train_maps"])))
        return int(NEW_SEED_BASE + rng.integers(2**31 - 1 - NEW_SEED_BASE))

    def reset(self, i: int, rng: np.random.Generator, options: dict | None = None):
        """A new drive ``i`` from ``rng``; returns its observation and info."""
        options = dict(options or {})
        check_keys(options, ["map_seed"], "reset option")
        if options.get("map_seed") is not None:
            ms = options["map_seed"]
            if isinstance(ms, bool) or not isinstance(ms, (int, np.integer)) or \
                    not 0 <= ms < 2**31:
                raise ConfigError(f"reset option map_seed={ms!r}: a map seed is an integer "
                                  "in 0 .. 2**31-1")
        self.map_id[i] = self._pick_map(rng, options)
        city = cached_city(int(self.map_id[i]), self.cfg["layout"], self.cfg["driving_side"])
        self.batch.start(i, city, rng, int(self.cfg["traffic_cars"]),
                         tuple(self.cfg["route_length"]))
        lo, hi = self._friction
        # a range: this drive's road, drawn after the drive (the same map, route and starting
        # traffic at any grip; the traffic's later draws come one number later)
        if hi > lo:
            self.batch.friction[i] = lo + (hi - lo) * rng.random()
        self._rows[i, self._friction_at] = self.batch.friction[i]
        if self.cfg["bold_drivers"] > 0:  # drawn after the rest: the same drive otherwise
            tr = self.batch.drive[i].traffic
            tr.bold = rng.random(tr.n) < float(self.cfg["bold_drivers"])
            tr.v0[tr.bold] *= BOLD_SPEED
        if self.cfg["lidar_noise"] > 0:  # a jumped copy: the drive's own draws stay the same
            self._noise[i] = np.random.Generator(rng.bit_generator.jumped())
        self.steps[i] = 0
        self.red_run[i] = 0
        b = self.batch
        b.cast([i])
        route = b.drive[i].route
        self.togo[i] = route.length - b.route_s[i] + b.route_offset[i]
        self._features(i, b.route_s[i])
        obs = self._observation([i])[0]
        return obs, self.info(i, False, False)

    def info(self, i: int, success: bool, death: bool) -> dict:
        b = self.batch
        return {"is_success": bool(success), "death": bool(death),
                "map_id": int(self.map_id[i]), "split": self.cfg["split"],
                "route_progress": float(min(max(b.route_s[i] / b.drive[i].route.length, 0.0),
                                            1.0)),
                "red_lights_run": int(self.red_run[i])}

    # ---------------------------------------------------------------------------- stepping
    def step(self, actions: np.ndarray, rngs: list) -> dict:
        """One step of every drive; returns arrays: ``obs``, ``reward``, ``terminated``,
        ``truncated``, ``arrived``, ``crash`` (0 none, 1 building, 2 car), ``off_road``,
        ``ran_red``, ``speeding`` and the reward ``terms``."""
        a = np.asarray(actions, dtype=np.float64).reshape(self.n, 2)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"actions must be finite numbers in [-1, 1], got {actions!r}")
        a = np.clip(a, -1.0, 1.0)
        p, cfg, b = self.vehicle, self.cfg, self.batch
        accel = np.where(a[:, 0] >= 0.0, a[:, 0] * p.max_accel, a[:, 0] * p.max_brake)
        s_before = b.route_s.copy()
        togo_before = self.togo.copy()
        rand = [rngs[i].random(b.drive[i].traffic.n) for i in range(self.n)]
        crash = b.step(accel, a[:, 1] * p.max_steer, rand)
        self.steps += 1
        off_road = np.zeros(self.n, dtype=bool)
        red = np.zeros(self.n, dtype=np.int64)
        dist = np.zeros(self.n)
        for i in range(self.n):
            off_road[i], red[i], dist[i] = self._features(i, s_before[i])
        self.red_run += red
        length = np.array([d.route.length for d in b.drive])
        limit = np.array([c.params.speed_limit for c in b.city])
        speeding = b.ego[:, 3] > limit + SPEEDING_MARGIN
        arrived = (crash == 0) & (b.route_s >= length - self._goal_radius) & \
            (dist <= self._goal_radius)
        self.togo = length - b.route_s + b.route_offset
        terms = {"progress": cfg["reward_progress"] * (togo_before - self.togo),
                 "arrived": np.where(arrived, cfg["reward_arrived"], 0.0),
                 "death": np.where(crash > 0, cfg["reward_death"], 0.0),
                 "time": np.full(self.n, cfg["reward_time"]),
                 "off_road": np.where(off_road, cfg["reward_off_road"], 0.0),
                 "red_light": cfg["reward_red_light"] * red,
                 "speeding": np.where(speeding, cfg["reward_speeding"], 0.0)}
        reward = sum(terms.values())
        terminated = (crash > 0) | arrived
        truncated = ~terminated & (self.steps >= self._max_steps)
        return {"obs": self._observation(range(self.n)), "reward": reward,
                "terminated": terminated, "truncated": truncated, "arrived": arrived,
                "crash": crash, "off_road": off_road, "ran_red": red > 0,
                "speeding": speeding, "terms": terms}

    def _features(self, i: int, s_before: float):
        """Route progress, lights and the lidar-layout observation row of drive ``i``."""
        b = self.batch
        d = b.drive[i]
        city = b.city[i]
        ri, rs, off, off_road, red, dist = drive_features(
            b.ego[i], b.steer[i], b.t[i], b._route[i], d.route.stops, b._signals[i],
            b._segments[i], city.params.half_width, b.route_i[i], s_before, b.lidar[i],
            b.lidar_range, self._ahead, bool(self.cfg["navigation"]), d.route.goal[0],
            d.route.goal[1], self._scales, self._at, LIGHT_HORIZON, self._rows[i])
        b.route_i[i], b.route_s[i], b.route_offset[i] = ri, rs, off
        return off_road, red, dist

    def _observation(self, which) -> np.ndarray:
        """Observation rows of drives ``which`` (float32)."""
        which = list(which)
        rows = self._rows[which]
        lid = self.lidar_layout.slices["lidar"]
        if self.cfg["lidar_noise"] > 0:
            sigma = self.cfg["lidar_noise"] / self.batch.lidar_range
            for k, i in enumerate(which):
                rows[k, lid] += sigma * self._noise[i].standard_normal(lid.stop - lid.start)
        if self.cfg["observation"] == "objects":
            rows = np.stack([self._objects_row(i, rows[k]) for k, i in enumerate(which)])
        lay = self.layout
        return np.clip(rows, lay.low, lay.high).astype(np.float32)

    def _objects_row(self, i: int, lidar_row: np.ndarray) -> np.ndarray:
        """The objects-layout row of drive ``i``: its perception (cars and the light seen)
        and the lidar layout's other slots."""
        b, lay = self.batch, self.layout
        out = np.zeros(lay.size)
        for name, sl in lay.slices.items():
            if name in self.lidar_layout.slices and name != "objects":
                out[sl] = lidar_row[self.lidar_layout.slices[name]]
        x, y, h, v = b.ego[i]
        c, s = math.cos(h), math.sin(h)
        tr = b.drive[i].traffic
        seen = b.visible_cars(i)
        if len(seen):
            d = np.hypot(tr.pose[seen, 0] - x, tr.pose[seen, 1] - y)
            seen = seen[np.argsort(d, kind="stable")][: int(self.cfg["objects"])]
        o = lay.slices["objects"].start
        rng, vmax = b.sensor_range, self.vehicle.max_speed
        for k, j in enumerate(seen):
            dx, dy = tr.pose[j, 0] - x, tr.pose[j, 1] - y
            vx = tr.v[j] * math.cos(tr.pose[j, 2]) - v * c
            vy = tr.v[j] * math.sin(tr.pose[j, 2]) - v * s
            dh = tr.pose[j, 2] - h
            out[o + OBJECT_WIDTH * k: o + OBJECT_WIDTH * (k + 1)] = (
                1.0, (c * dx + s * dy) / rng, (-s * dx + c * dy) / rng,
                (c * vx + s * vy) / vmax, (-s * vx + c * vy) / vmax, math.cos(dh), math.sin(dh))
        light = lidar_row[self.lidar_layout.slices["light"]]
        ls = lay.slices["light_seen"].start
        if light.any():  # a light ahead within the horizon: is it in sight?
            stop = self._next_stop(i)
            if stop is not None and stop[0] in b.visible_nodes(i):
                state = int(np.argmax(light))
                out[ls + {GREEN: 0, YELLOW: 1, RED: 2}[state]] = 1.0
            else:
                out[ls + 3] = 1.0
        return out

    def _next_stop(self, i: int):
        b = self.batch
        for row in b.drive[i].route.stops:
            if row[0] - b.route_s[i] >= -1.0:
                return int(row[1]), int(row[2])
        return None

    # ---------------------------------------------------------------------------- resume
    def get_state(self, i: int) -> dict:
        b, d = self.batch, self.batch.drive[i]
        return {"map_id": int(self.map_id[i]), "drive": d._replace(traffic=d.traffic.copy()),
                "ego": b.ego[i].copy(), "steer": float(b.steer[i]), "t": float(b.t[i]),
                "friction": float(b.friction[i]),
                "route": (int(b.route_i[i]), float(b.route_s[i]), float(b.route_offset[i])),
                "steps": int(self.steps[i]), "red_run": int(self.red_run[i]),
                "togo": float(self.togo[i]), "lidar": b.lidar[i].copy(),
                "rows": self._rows[i].copy(),
                "noise": None if self._noise[i] is None else
                self._noise[i].bit_generator.state}

    def set_state(self, i: int, state: dict) -> None:
        b = self.batch
        self.map_id[i] = state["map_id"]
        city = cached_city(int(self.map_id[i]), self.cfg["layout"], self.cfg["driving_side"])
        d = state["drive"]
        b.start(i, city, None, 0, drive=d._replace(traffic=d.traffic.copy()))
        b.ego[i], b.steer[i], b.t[i] = state["ego"], state["steer"], state["t"]
        b.friction[i] = state.get("friction", self._friction[0])  # older states: fixed
        b.route_i[i], b.route_s[i], b.route_offset[i] = state["route"]
        b.lidar[i] = state["lidar"]
        self._rows[i] = state["rows"]
        self.steps[i], self.red_run[i], self.togo[i] = (state["steps"], state["red_run"],
                                                        state["togo"])
        if state["noise"] is not None:
            self._noise[i] = np.random.default_rng()
            self._noise[i].bit_generator.state = state["noise"]


def _outcome(step: dict, i: int) -> dict:
    """The end-of-episode keys of drive ``i`` (empty while it goes on)."""
    if step["crash"][i]:
        return {"outcome": "crashed", "crash": "building" if step["crash"][i] == 1 else "car"}
    if step["arrived"][i]:
        return {"outcome": "arrived"}
    if step["truncated"][i]:
        return {"outcome": "timeout"}
    return {}


class CityNavV1Env(gym.Env):
    """
    ## Description
    CityNav with a car that obeys physics: everything of ``moonshot/CityNav-v0`` (maps,
    traffic, lights, rewards, observation, episode ends; ``help(moonshot.envs.CityNavEnv)``)
    with three changes in the world:

    * **tyres**: a friction circle. The tyres give at most ``road_friction`` x 9.81 m/s² in
      all (dry $road_friction, wet about 0.6, snow 0.3, ice 0.1; ``[low, high]`` draws one per
      drive, uniformly: domain randomization); braking and throttle come
      first, the turn gets the rest, and past it the car understeers (it follows the tightest
      curve the tyres hold, not the one its wheels point at). v0's car could turn at full lock
      at top speed (about 6 g);
    * **a steering rack**: the wheels turn towards the commanded angle at most ``steer_rate``
      ($steer_rate rad/s for the car: full lock from straight in about a second); the
      observation's ``steer`` slot is where the wheels are;
    * **a compiled geometry engine** for the lidar and the contacts (the city in plan view,
      :mod:`moonshot.physics.city.footprints`; validated against Bullet to 1 mm on 100,000
      rays), so that many drives step at once (``gymnasium.make_vec(..., vectorization_mode=
      "vector_entry_point")``: :class:`CityNavVectorEnv`).

    And a perception-based observation variant: ``observation="objects"`` replaces the lidar
    by the ``objects`` (default $objects) nearest cars the driver sees (in line of sight within
    ``sensor_range``, the same perception the planner gets) and the next light as seen - so
    that "RL lacks the information" can be told from "RL lacks the model".

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: acceleration (-1: brake, +1: throttle, at the vehicle's
    limits) and the commanded front-wheel angle (-1 .. +1: full lock right .. left).

    ## Observation Space
    ``observation="lidar"`` (default): as v0 (``help(moonshot.envs.CityNavEnv)``), and with
    ``observe_friction=True`` one more number at the end: the road's friction coefficient
    (more than a driver reads from the weather: the planner's view shows the weather's class,
    dry, wet, snow or ice - ``perceive().weather`` - and only its oracle the coefficient).
    ``observation="objects"``: $objects_size

    $objects_table

    ## Vehicles
    ``vehicle=``: $vehicles. ``lidar_noise``: Gaussian noise (m, 1-sigma) on the lidar.
    ``layout``: $layouts (held-out block sizes, many diagonals, T-junctions only: a topology
    absent from training). ``driving_side="left"``: the city mirrored, left-hand traffic.
    ``bold_drivers``: the share of traffic cars that drive boldly: 25% over their desired
    speed, half the time gap and minimum gap, through every yellow and through a red they
    would have to brake for.

    ## Perception (the planner's view)
    ``weather_seen``: the weather class a planner's view shows (``None``: the class of the
    road's friction, ``dry`` from 0.75, ``wet`` 0.45, ``snow`` 0.2, ``ice`` below; a class
    name: the weather misleads, e.g. black ice under a road that looks dry).
    ``sensor_delay``: the view's cars and lights are this many steps old (0: current).
    ``occlusion``: hedges on the corner lots within this many metres of every intersection's
    centre hide the cars behind them from the view (0: none; the lidar and the objects
    observation are unchanged). None of these changes the drive itself.

    ## Arguments
    $arguments

    ## Version History
    * v1: tyres (friction circle, understeer), steering rate limit, compiled geometry engine,
      native vector env, ``observation="objects"``, vehicles, road friction (a number or a
      range drawn per drive; ``observe_friction``), layouts, driving side, lidar noise.
    * v0: the kinematic car (``moonshot/CityNav-v0``, unchanged).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **config):
        cfg = default_config()
        check_keys(config, cfg, "CityNav-v1 config")
        cfg.update(config)
        check_city_config(cfg)
        check_choice("render_mode", render_mode, [None] + self.metadata["render_modes"])
        self._window = render_mode == "human" and human_window("CityNav")
        self.config, self.render_mode, self.split = cfg, render_mode, cfg["split"]
        self._drives = CityDrives(1, cfg)
        self.world = DriveView(self._drives.batch, 0)
        self.dt = self._drives.batch.dt
        self.ego_params = self._drives.vehicle
        self.road_friction = float(self._drives.batch.friction[0])  # this drive's road
        self.steer_rate = float(self.ego_params.steer_rate)
        self.observation_layout = self._drives.layout
        self.observation_space = self.observation_layout.box
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._views: dict = {}
        self._started = False
        self._renderer = None

    @classmethod
    def default_config(cls) -> dict:
        return default_config()

    @property
    def map_id(self) -> int:
        return int(self._drives.map_id[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, info = self._drives.reset(0, self.np_random, options)
        self.road_friction = float(self._drives.batch.friction[0])
        self._started = True
        for view in self._views.values():
            self._refresh_views(view, episode=True)
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        try:
            a = np.asarray(action, dtype=np.float64).reshape(2)
        except (TypeError, ValueError):
            raise ValueError(f"action must be 2 finite numbers in [-1, 1], got {action!r}") \
                from None
        st = self._drives.step(a[None], [self.np_random])
        info = self._drives.info(0, bool(st["arrived"][0]), bool(st["crash"][0]))
        info.update(off_road=bool(st["off_road"][0]), ran_red_light=bool(st["ran_red"][0]),
                    speeding=bool(st["speeding"][0]),
                    reward_terms={k: float(v[0]) for k, v in st["terms"].items()},
                    **_outcome(st, 0))
        for view in self._views.values():
            self._refresh_views(view)
        if self.render_mode == "human":
            self.render()
        return (st["obs"][0], float(st["reward"][0]), bool(st["terminated"][0]),
                bool(st["truncated"][0]), info)

    def perceive(self, mode: str = "honest"):
        """The perception view of a planner (see :meth:`CityNavEnv.perceive`)."""
        if not self._started:
            raise RuntimeError("call reset() before perceive()")
        return CityNavEnv.perceive(self, mode)

    _refresh_views = CityNavEnv._refresh_views
    render = CityNavEnv.render

    def get_state(self) -> dict:
        """Where the drive stands, with the env's generator (exact resume of training)."""
        return {"rng": self.np_random.bit_generator.state, "drive": self._drives.get_state(0)}

    def set_state(self, state: dict) -> None:
        self._drives.set_state(0, state["drive"])
        self.road_friction = float(self._drives.batch.friction[0])
        self.np_random.bit_generator.state = state["rng"]
        self._started = True
        for view in self._views.values():  # a planner's view: this drive's map, road, goal
            self._refresh_views(view, episode=True)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class CityNavVectorEnv(VectorEnv):
    """``num_envs`` CityNav-v1 drives stepped together (see the module docstring).

    Same config, drives, rewards and outcomes as :class:`CityNavV1Env`: drive ``i`` of
    ``reset(seed=s)`` is the single env's ``reset(seed=s + i)``, and each drive then draws
    from its own generator, so every drive is the one a single env would have driven. Every
    drive that ends resets in the same step (``AutoresetMode.SAME_STEP``): its last
    observation is in ``infos["final_obs"]``, its final info in ``infos["final_info"]``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    #: slot i is seeded on its own (``seed + i``): a batch split across processes drives
    #: the same episodes
    slot_seeding = True

    def __init__(self, num_envs: int = 8, render_mode: str | None = None, **config):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or \
                num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError("CityNavVectorEnv does not render; render a single "
                             "moonshot/CityNav-v1 env instead")
        cfg = default_config()
        check_keys(config, cfg, "CityNav-v1 config")
        cfg.update(config)
        check_city_config(cfg)
        self.config, self.split = cfg, cfg["split"]
        self.num_envs = int(num_envs)
        self.render_mode = None
        self._drives = CityDrives(self.num_envs, cfg)
        self.single_observation_space = self._drives.layout.box
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator] = []
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        from gymnasium.utils import seeding

        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if not self._rngs or seed is not None:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        obs, infos = [], []
        for i in range(self.num_envs):
            o, info = self._drives.reset(i, self._rngs[i], options)
            obs.append(o)
            infos.append(info)
        self._obs = np.stack(obs)
        return self._obs.copy(), _stack_infos(infos)

    def step(self, actions):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        st = self._drives.step(actions, self._rngs)
        obs = st["obs"]
        done = st["terminated"] | st["truncated"]
        infos: dict = {}
        if done.any():
            final_obs = np.zeros_like(obs)
            finals = []
            for i in np.flatnonzero(done):
                final_obs[i] = obs[i]
                f = self._drives.info(i, bool(st["arrived"][i]), bool(st["crash"][i]))
                f.update(_outcome(st, i))
                f.setdefault("crash", "")
                finals.append((i, f))
                obs[i], _ = self._drives.reset(i, self._rngs[i])
            infos["final_obs"] = final_obs
            infos["_final_obs"] = done.copy()
            infos["final_info"] = _final_infos(finals, self.num_envs)
            infos["_final_info"] = done.copy()
        every = np.ones(self.num_envs, dtype=bool)
        for key, val in (("off_road", st["off_road"]), ("ran_red_light", st["ran_red"]),
                         ("speeding", st["speeding"]), ("map_id", self._drives.map_id.copy()),
                         ("red_lights_run", self._drives.red_run.copy())):
            infos[key], infos["_" + key] = val, every
        self._obs = obs
        return obs.copy(), st["reward"].astype(np.float64), st["terminated"], \
            st["truncated"], infos

    def get_state(self) -> dict:
        return {"rngs": [r.bit_generator.state for r in self._rngs],
                "drives": [self._drives.get_state(i) for i in range(self.num_envs)],
                "obs": self._obs.copy()}

    def set_state(self, state: dict) -> None:
        from gymnasium.utils import seeding

        self._rngs = [seeding.np_random(0)[0] for _ in range(self.num_envs)]
        for r, s in zip(self._rngs, state["rngs"], strict=True):
            r.bit_generator.state = s
        for i, s in enumerate(state["drives"]):
            self._drives.set_state(i, s)
        self._obs = state["obs"].copy()


def _stack_infos(infos: list[dict]) -> dict:
    out: dict = {}
    n = len(infos)
    for key in infos[0]:
        vals = [d[key] for d in infos]
        out[key] = np.array(vals, dtype=object if isinstance(vals[0], str) else None)
        out["_" + key] = np.ones(n, dtype=bool)
    return out


def _final_infos(finals: list[tuple[int, dict]], n: int) -> dict:
    keys = list(dict.fromkeys(k for _, f in finals for k in f))
    out: dict = {}
    for key in keys:
        sample = next(f[key] for _, f in finals if key in f)
        arr = np.zeros(n, dtype=object if isinstance(sample, str) else type(sample))
        mask = np.zeros(n, dtype=bool)
        for i, f in finals:
            if key in f:
                arr[i] = f[key]
                mask[i] = True
        out[key] = arr
        out["_" + key] = mask
    return out


def _doc_values() -> dict:
    cfg = default_config()
    return {
        "road_friction": number(cfg["road_friction"]),
        "steer_rate": number(VEHICLES["car"].steer_rate),
        "objects": str(cfg["objects"]),
        "objects_size": OBJECTS_OBSERVATION.summary(cfg),
        "objects_table": OBJECTS_OBSERVATION.table(),
        "vehicles": ", ".join(f"``{k}``" for k in VEHICLES),
        "layouts": ", ".join(f"``{k}``" for k in LAYOUTS),
        "arguments": make_call("moonshot/CityNav-v1", {**cfg, "render_mode": None}) + ".",
    }


CityNavV1Env.__doc__ = fill_doc(CityNavV1Env.__doc__, _doc_values())
