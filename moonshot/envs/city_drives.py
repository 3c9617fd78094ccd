"""CityNav-v1's env logic for N drives at once: maps, rewards, observations, episode ends.

The physics of the N drives lives in :class:`~moonshot.physics.city.batch.CityBatch`;
:class:`CityDrives` adds what an env adds, for all drives at once. The single env
(:class:`~moonshot.envs.city_v1.CityNavV1Env`, ``N = 1``) and the vector env
(:class:`~moonshot.envs.city_vector.CityNavVectorEnv`) both run it, so a drive is the same
whether it runs alone or in a batch (tested). The observation layouts of v1 are declared here.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from ..errors import ConfigError, check_keys
from ..physics.city.batch import OBS_FIELDS, CityBatch, drive_features
from ..physics.city.drive import cached_city
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import NEW_SEED_BASE
from ..physics.city.roadworks import Roadworks, clear_traffic, draw_roadworks
from ..physics.city.signals import GREEN, RED, YELLOW
from ..physics.city.traffic import BOLD_SPEED
from .city_config import V1_SETTINGS, friction_range
from .city_nav import (
    GOAL_SCALE,
    LIDAR_OBSERVATION,
    LIGHT_HORIZON,
    SPEEDING_MARGIN,
    WAYPOINT_AHEAD,
)
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
    """CityNav-v1's configuration keys and defaults (:data:`V1_SETTINGS`)."""
    return {key: default for key, (default, _) in V1_SETTINGS.items()}


class CityDrives:
    """The env logic of N CityNav-v1 drives over a :class:`CityBatch` (see the module
    docstring). Each drive ``i`` draws from the generator the caller passes for it.

    :param n: the number of drives.
    :param cfg: the env's checked config (:func:`default_config` updated).
    """

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
        self.max_steps = int(round(float(cfg["time_limit"]) / self.batch.dt))
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

    def reset(self, i: int, rng: np.random.Generator,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
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
            tr = self.batch.started(i).traffic
            tr.bold = rng.random(tr.n) < float(self.cfg["bold_drivers"])
            tr.v0[tr.bold] *= BOLD_SPEED
        if self.cfg["lidar_noise"] > 0:  # a jumped copy: the drive's own draws stay the same
            self._noise[i] = np.random.Generator(cast(np.random.PCG64, rng.bit_generator).jumped())
        if self.cfg["roadworks"] > 0:  # drawn apart too (two jumps): the same drive otherwise
            self._close_lanes(i, city, np.random.Generator(
                cast(np.random.PCG64, rng.bit_generator).jumped(2)))
        self.steps[i] = 0
        self.red_run[i] = 0
        b = self.batch
        b.cast([i])
        route = b.started(i).route
        self.togo[i] = route.length - b.route_s[i] + b.route_offset[i]
        self._features(i, b.route_s[i])
        obs = self._observation([i])[0]
        return obs, self.info(i, False, False)

    def _close_lanes(self, i: int, city, rng: np.random.Generator) -> None:
        """Drive ``i``'s roadworks (:mod:`~moonshot.physics.city.roadworks`), its traffic
        cleared of them."""
        d = self.batch.started(i)
        works = draw_roadworks(city, d, rng, int(self.cfg["roadworks"]),
                               float(self.cfg["roadworks_length"]))
        if len(works.lanes):
            traffic = clear_traffic(city, d.traffic, works, rng)
            self.batch.start(i, city, None, 0, drive=d._replace(traffic=traffic))
            self.batch.close_lanes(i, works)

    def info(self, i: int, success: bool, death: bool) -> dict:
        b = self.batch
        return {"is_success": bool(success), "death": bool(death),
                "map_id": int(self.map_id[i]), "split": self.cfg["split"],
                "route_progress": float(min(max(b.route_s[i] / b.started(i).route.length, 0.0),
                                            1.0)),
                "red_lights_run": int(self.red_run[i])}

    # ---------------------------------------------------------------------------- stepping
    def step(self, actions: np.ndarray, rngs: list) -> dict:
        """One step of every drive; returns arrays: ``obs``, ``reward``, ``terminated``,
        ``truncated``, ``arrived``, ``crash`` (0 none, 1 building, 2 car, 3 roadworks),
        ``off_road``,
        ``ran_red``, ``speeding`` and the reward ``terms``."""
        a = np.asarray(actions, dtype=np.float64).reshape(self.n, 2)
        if not np.all(np.isfinite(a)):
            raise ValueError("actions must be finite numbers (values outside [-1, 1] are "
                             f"clipped), got {actions!r}")
        a = np.clip(a, -1.0, 1.0)
        p, cfg, b = self.vehicle, self.cfg, self.batch
        accel = np.where(a[:, 0] >= 0.0, a[:, 0] * p.max_accel, a[:, 0] * p.max_brake)
        s_before = b.route_s.copy()
        togo_before = self.togo.copy()
        rand = [rngs[i].random(b.started(i).traffic.n) for i in range(self.n)]
        crash = b.step(accel, a[:, 1] * p.max_steer, rand)
        self.steps += 1
        off_road = np.zeros(self.n, dtype=bool)
        red = np.zeros(self.n, dtype=np.int64)
        dist = np.zeros(self.n)
        for i in range(self.n):
            off_road[i], red[i], dist[i] = self._features(i, s_before[i])
        self.red_run += red
        length = np.array([b.started(i).route.length for i in range(self.n)])
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
        truncated = ~terminated & (self.steps >= self.max_steps)
        return {"obs": self._observation(range(self.n)), "reward": reward,
                "terminated": terminated, "truncated": truncated, "arrived": arrived,
                "crash": crash, "off_road": off_road, "ran_red": red > 0,
                "speeding": speeding, "terms": terms}

    def _features(self, i: int, s_before: float):
        """Route progress, lights and the lidar-layout observation row of drive ``i``."""
        b = self.batch
        d = b.started(i)
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
        tr = b.started(i).traffic
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
        for row in b.started(i).route.stops:
            if row[0] - b.route_s[i] >= -1.0:
                return int(row[1]), int(row[2])
        return None

    # ---------------------------------------------------------------------------- resume
    def get_state(self, i: int) -> dict:
        """Where drive ``i`` stands: copies of its arrays and its lidar noise generator's
        state (reads and draws nothing)."""
        b, d = self.batch, self.batch.started(i)
        return {"map_id": int(self.map_id[i]), "drive": d._replace(traffic=d.traffic.copy()),
                "ego": b.ego[i].copy(), "steer": float(b.steer[i]), "t": float(b.t[i]),
                "friction": float(b.friction[i]),
                "route": (int(b.route_i[i]), float(b.route_s[i]), float(b.route_offset[i])),
                "steps": int(self.steps[i]), "red_run": int(self.red_run[i]),
                "togo": float(self.togo[i]), "lidar": b.lidar[i].copy(),
                "rows": self._rows[i].copy(),
                "noise": None if self._noise[i] is None else
                self._noise[i].bit_generator.state,
                "works": tuple(a.copy() for a in b.works[i])}

    def set_state(self, i: int, state: dict,
                  noise: np.random.Generator | None = None) -> None:
        """Drive ``i`` as ``state`` (:meth:`get_state`) has it. ``noise``: the lidar noise's
        generator where ``state`` holds none (a rehearsal's twin: generators of its own)."""
        b = self.batch
        self.map_id[i] = state["map_id"]
        city = cached_city(int(self.map_id[i]), self.cfg["layout"], self.cfg["driving_side"])
        d = state["drive"]
        b.start(i, city, None, 0, drive=d._replace(traffic=d.traffic.copy()))
        b.ego[i], b.steer[i], b.t[i] = state["ego"], state["steer"], state["t"]
        if "works" in state:  # older states: none
            b.close_lanes(i, Roadworks(*state["works"]))
        b.friction[i] = state.get("friction", self._friction[0])  # older states: fixed
        b.route_i[i], b.route_s[i], b.route_offset[i] = state["route"]
        b.lidar[i] = state["lidar"]
        self._rows[i] = state["rows"]
        self.steps[i], self.red_run[i], self.togo[i] = (state["steps"], state["red_run"],
                                                        state["togo"])
        if state["noise"] is not None:
            self._noise[i] = np.random.default_rng()
            self._noise[i].bit_generator.state = state["noise"]
        elif noise is not None:
            self._noise[i] = noise


def step_info(drives: CityDrives, step: dict, i: int) -> dict:
    """The ``info`` of drive ``i`` after ``step`` (the single env's and the vector env's)."""
    info = drives.info(i, bool(step["arrived"][i]), bool(step["crash"][i]))
    info.update(off_road=bool(step["off_road"][i]), ran_red_light=bool(step["ran_red"][i]),
                speeding=bool(step["speeding"][i]),
                reward_terms={k: float(v[i]) for k, v in step["terms"].items()},
                **episode_end(step, i))
    return info


#: What a drive crashed into, by :meth:`CityBatch.step`'s crash code.
CRASH_KINDS = {1: "building", 2: "car", 3: "roadworks"}


def episode_end(step: dict, i: int) -> dict:
    """The end-of-episode keys of drive ``i`` (empty while it goes on)."""
    if step["crash"][i]:
        return {"outcome": "crashed", "crash": CRASH_KINDS[int(step["crash"][i])]}
    if step["arrived"][i]:
        return {"outcome": "arrived"}
    if step["truncated"][i]:
        return {"outcome": "timeout"}
    return {}
