"""CityNav-v0: drive a car through a procedurally generated city with traffic to a goal."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..errors import ConfigError, check_choice, check_keys
from ..physics.city.generator import NEW_SEED_BASE
from ..physics.city.route import navigator_features
from ..physics.city.signals import GREEN, NO_LIGHT, RED, YELLOW
from ..physics.city.world import CityWorld, cached_city
from .display import human_window

WAYPOINT_AHEAD = (5.0, 10.0, 20.0, 30.0, 50.0)  # m along the route
LIGHT_HORIZON = 60.0  # m


class CityNavEnv(gym.Env):
    """
    ## Description
    Drive a car from a start to a goal across a procedurally generated city (0.4-0.9 km across)
    without hitting anything. Roads are two-way with one or two lanes per direction (right-hand
    traffic); intersections of three or more roads have traffic lights with yellow and all-red
    clearance; buildings line the streets behind 3 m sidewalks. About twenty traffic cars follow
    their lanes, turn at intersections, keep their distance (Intelligent Driver Model) and obey
    the lights; they brake for the ego when it is on their path, but they do not dodge it. The
    world lives in :mod:`moonshot.physics.city` (generator, lane graph, signals, traffic kernel,
    bicycle model, route search) and pybullet (collisions, lidar). Maps: ``split="train"`` draws
    one of ``num_train_maps`` fixed maps (seeds ``0 .. num_train_maps-1``: grid and irregular
    cities, one lane per direction); ``split="new"`` draws held-out maps (seeds >= 1,000,000:
    other block sizes, stronger irregularity, diagonal avenues, two-lane roads on a quarter of
    the maps, other signal timings and speed limits).

    ## Action Space
    ``Box(-1, 1, (2,), float32)``, one control step = 0.1 s:

    | index | action | mapping |
    |---|---|---|
    | 0 | acceleration | -1: brake 6 m/s², 0: coast, +1: throttle 3 m/s² |
    | 1 | steering | front-wheel angle, -1: 0.55 rad right .. +1: 0.55 rad left |

    The ego moves by a kinematic bicycle model (wheelbase 2.7 m, 4.5 x 1.8 m body), at
    0 .. 16.7 m/s (no reverse).

    ## Observation Space
    ``Box(R + 23,)`` float32 with ``R = lidar_rays`` (default 32, so 55 slots). "Ego frame":
    x forward, y left.

    | index | observation | range |
    |---|---|---|
    | 0 .. R-1 | lidar: distance to the first building or car / ``lidar_range`` | 0 .. 1 |
    | R | speed / 16.7 m/s | 0 .. 1 |
    | R+1 | steering angle / 0.55 rad | -1 .. 1 |
    | R+2 | straight-line distance to the goal / 500 m | 0 .. 4 |
    | R+3, R+4 | cos, sin of the goal's bearing in the ego frame | -1 .. 1 |
    | R+5 .. R+14 | navigator: route points ahead, (x, y) in the ego frame / 50 m | -3 .. 3 |
    | R+15 | navigator: lateral offset from the route / 5 m (left positive) | -3 .. 3 |
    | R+16, R+17 | navigator: cos, sin of the heading relative to the route | -1 .. 1 |
    | R+18 .. R+20 | next light on the route: one-hot green, yellow, red | 0 .. 1 |
    | R+21 | distance to its stop line / 60 m (1: none) | 0 .. 1 |
    | R+22 | route progress (fraction of the route driven) | 0 .. 1 |

    Ray k points at angle 2πk/R from the nose, counterclockwise; 1 means nothing within
    range. The route points lie 5, 10, 20, 30 and 50 m ahead along the route on the road
    graph. The light is the next signalized stop line on the route within 60 m (all three 0:
    none). With ``navigation=False`` the navigator slots (R+5 .. R+17) are 0: the agent knows only
    where the goal is, not the roads that lead there.

    ## Rewards
    The sum of named terms (``info["reward_terms"]``): ``progress`` = 0.02 per metre by which
    the distance still to go shrinks (negative when it grows), the distance to go being the
    rest of the route from the car's projection on it plus the car's distance from the route:
    driving along the route pays, leaving it costs, coming back pays it back (a potential, so
    no detour can earn more than the route); ``arrived`` = +10 on reaching the goal; ``death``
    = -10 on a collision; ``time`` = -0.005 per step; ``off_road`` = -0.02 per step with the
    car's centre off the carriageway; ``red_light`` per red light run and ``speeding`` per step
    above the speed limit, both 0 by default (set them to train rule-abiding drivers).
    Weights: config keys ``reward_*``.

    ## Starting State
    A map (see Description) and, from the env's seeded generator, a start on the curb lane of
    a road, at rest and aligned with the lane; a goal on a curb lane whose shortest legal route
    is ``route_length`` (250-600 m) long; ``traffic_cars`` cars on random lanes at least 30 m
    from the start, at 0-60% of their desired speed (at most 7 m/s); lights at the offsets of
    their map. ``reset(options={"map_seed": k})`` drives map ``k`` for this episode.

    ## Episode End
    Terminated: ``outcome="crashed"`` when the ego's body touches a building or a car (Bullet
    contact; ``info["crash"]`` says which) - a "death"; ``outcome="arrived"`` within
    ``goal_radius`` (6 m) of the goal once the route is driven. Truncated:
    ``outcome="timeout"`` after ``time_limit`` seconds (240). Leaving the road is allowed: the
    sidewalk, squares and empty lots are drivable at the ``off_road`` cost; buildings kill.
    Running a red light is not punished as such (``info`` counts it): it kills when crossing
    traffic is there.

    ## Info
    Every step: ``is_success``, ``death``, ``map_id`` (the map's seed), ``split``,
    ``route_progress`` (0..1), ``red_lights_run`` (stop lines on the route crossed on red so
    far in the episode), ``off_road``, ``ran_red_light`` (this step), ``speeding`` (above the
    map's speed limit + 0.5 m/s), ``reward_terms``; at the end ``outcome`` and, on a crash,
    ``crash`` (``"building"`` or ``"car"``). Traffic rules are measured; penalties for
    breaking them are opt-in (see Rewards).

    ## World model (for planners)
    ``env.unwrapped.city`` (:class:`~moonshot.physics.city.generator.City`: nodes, roads, the
    lane graph ``city.lanes``, signal plans ``city.signals``, buildings), ``traffic``
    (:class:`~moonshot.physics.city.traffic.Traffic`: lane, s, speed, pose arrays and IDM
    parameters), ``ego`` (``[x, y, heading, speed]``), ``steer``, ``ego_params``
    (:class:`~moonshot.physics.city.ego.EgoParams`), ``route``
    (:class:`~moonshot.physics.city.route.Route`), ``goal`` (``(lane, s)`` on the lane graph),
    ``sim_time`` (s), ``dt`` (0.1 s).

    ## Arguments
    ``gymnasium.make("moonshot/CityNav-v0", split="train", num_train_maps=32, map_seed=None,
    traffic_cars=20, lidar_rays=32, lidar_range=50.0, navigation=True, time_limit=240.0,
    route_length=(250.0, 600.0), goal_radius=6.0, reward_progress=0.02, reward_arrived=10.0,
    reward_death=-10.0, reward_time=-0.005, reward_off_road=-0.02, reward_red_light=0.0,
    reward_speeding=0.0, render_view="ego", render_size=480, render_mode=None)``. ``map_seed``
    pins one map; ``render_view`` is ``"ego"`` (120 m around the car, from above), ``"city"`` (the
    whole map) or ``"chase"`` (3D, from behind and above the car: pybullet's software camera
    on a visual copy of the scene, built on the first chase frame; ``render_size`` square).
    ``render_mode="human"`` shows the frames in a window; without a display it warns and
    draws nothing (the env runs as without rendering).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **config):
        cfg = self.default_config()
        check_keys(config, cfg, "CityNav config")
        cfg.update(config)
        check_choice("split", cfg["split"], ("train", "new"))
        check_choice("render_mode", render_mode, [None] + self.metadata["render_modes"])
        check_choice("render_view", cfg["render_view"], ("ego", "city", "chase"))
        if int(cfg["num_train_maps"]) < 1 or int(cfg["num_train_maps"]) > NEW_SEED_BASE:
            raise ConfigError(f"invalid num_train_maps={cfg['num_train_maps']!r}; "
                              f"use 1 .. {NEW_SEED_BASE}")
        if int(cfg["traffic_cars"]) < 0 or int(cfg["lidar_rays"]) < 1:
            raise ConfigError("traffic_cars must be >= 0 and lidar_rays >= 1")
        # Without a display, human mode runs headless (with a warning): see envs.display.
        self._window = render_mode == "human" and human_window("CityNav")
        self.config = cfg
        self.render_mode = render_mode
        self.split = cfg["split"]
        self.world = CityWorld(lidar_rays=int(cfg["lidar_rays"]),
                               lidar_range=float(cfg["lidar_range"]))
        self.dt = self.world.dt
        self.ego_params = self.world.ego_params
        n = int(cfg["lidar_rays"])
        self._n_rays = n
        low = np.concatenate([np.zeros(n), [0, -1, 0, -1, -1], np.full(11, -3.0),
                              [-1, -1, 0, 0, 0, 0, 0]]).astype(np.float32)
        high = np.concatenate([np.ones(n), [1, 1, 4, 1, 1], np.full(11, 3.0),
                               [1, 1, 1, 1, 1, 1, 1]]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._obs_low, self._obs_high = low.astype(np.float64), high.astype(np.float64)
        self._ahead = np.asarray(WAYPOINT_AHEAD)
        self.map_id = -1
        self._steps = 0
        self._red_run = 0
        self._max_steps = int(round(float(cfg["time_limit"]) / self.dt))
        self._renderer = None

    @classmethod
    def default_config(cls) -> dict:
        return dict(split="train", num_train_maps=32, map_seed=None, traffic_cars=20,
                    lidar_rays=32, lidar_range=50.0, navigation=True, time_limit=240.0,
                    route_length=(250.0, 600.0), goal_radius=6.0, reward_progress=0.02,
                    reward_arrived=10.0, reward_death=-10.0, reward_time=-0.005,
                    reward_off_road=-0.02, reward_red_light=0.0, reward_speeding=0.0,
                    render_view="ego", render_size=480)

    # world model, read by planners
    city = property(lambda self: self.world.city)
    traffic = property(lambda self: self.world.traffic)
    ego = property(lambda self: self.world.ego)
    steer = property(lambda self: self.world.steer)
    route = property(lambda self: self.world.route)
    sim_time = property(lambda self: self.world.t)
    goal = property(lambda self: (self.world.goal_lane, self.world.goal_s))

    def _pick_map(self, options: dict) -> int:
        if options.get("map_seed") is not None:
            return int(options["map_seed"])
        if self.config["map_seed"] is not None:
            return int(self.config["map_seed"])
        if self.split == "train":
            return int(self.np_random.integers(int(self.config["num_train_maps"])))
        return int(NEW_SEED_BASE + self.np_random.integers(2**31 - 1 - NEW_SEED_BASE))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        check_keys(options, ["map_seed"], "reset option")
        self.map_id = self._pick_map(options)
        self.world.load(cached_city(self.map_id))
        self.world.start(self.np_random, int(self.config["traffic_cars"]),
                         tuple(self.config["route_length"]))
        self._steps = 0
        self._red_run = 0
        w = self.world
        self._togo = w.route.length - w.route_s + w.route_offset  # distance still to go, m
        info = self._info(False, False)
        if self.render_mode == "human":
            self.render()
        return self._observe(), info

    def step(self, action):
        if self.world.route is None:
            raise RuntimeError("call reset() before step()")
        try:
            a0, a1 = (float(z) for z in np.ravel(action))
        except (TypeError, ValueError):
            a0 = a1 = math.nan
        if not (math.isfinite(a0) and math.isfinite(a1)):
            raise ValueError(f"action must be 2 finite numbers in [-1, 1], got {action!r}")
        a = (min(max(a0, -1.0), 1.0), min(max(a1, -1.0), 1.0))
        w, cfg, p = self.world, self.config, self.ego_params
        s_before, togo_before = w.route_s, self._togo
        hits = w.step(p.accel(a[0]), a[1] * p.max_steer,
                      self.np_random.random(w.traffic.n))
        self._steps += 1
        crash = w.classify(hits)
        ran_red = w.red_lights_crossed(s_before, w.route_s)
        self._red_run += ran_red
        off_road = w.off_road()
        speeding = bool(w.ego[3] > w.city.params.speed_limit + 0.5)
        arrived = crash is None and w.route_s >= w.route.length - cfg["goal_radius"] and \
            w.goal_distance() <= cfg["goal_radius"]
        self._togo = w.route.length - w.route_s + w.route_offset
        terms = {"progress": cfg["reward_progress"] * (togo_before - self._togo),
                 "arrived": cfg["reward_arrived"] if arrived else 0.0,
                 "death": cfg["reward_death"] if crash else 0.0,
                 "time": cfg["reward_time"],
                 "off_road": cfg["reward_off_road"] if off_road else 0.0,
                 "red_light": cfg["reward_red_light"] * ran_red,
                 "speeding": cfg["reward_speeding"] if speeding else 0.0}
        terminated = bool(crash) or arrived
        truncated = not terminated and self._steps >= self._max_steps
        info = self._info(arrived, bool(crash))
        info["off_road"] = off_road
        info["ran_red_light"] = ran_red > 0
        info["speeding"] = speeding
        info["reward_terms"] = terms
        if crash:
            info["outcome"], info["crash"] = "crashed", crash
        elif arrived:
            info["outcome"] = "arrived"
        elif truncated:
            info["outcome"] = "timeout"
        if self.render_mode == "human":
            self.render()
        return self._observe(), float(sum(terms.values())), terminated, truncated, info

    def _info(self, success: bool, death: bool) -> dict:
        w = self.world
        return {"is_success": bool(success), "death": bool(death), "map_id": self.map_id,
                "split": self.split,
                "route_progress": float(min(max(w.route_s / w.route.length, 0.0), 1.0)),
                "red_lights_run": self._red_run}

    def _observe(self) -> np.ndarray:
        w, p = self.world, self.ego_params
        n = self._n_rays
        x, y, h, v = w.ego
        c, s = math.cos(h), math.sin(h)
        obs = np.zeros(n + 23)
        obs[:n] = w.lidar / w.lidar_range
        obs[n] = v / p.max_speed
        obs[n + 1] = w.steer / p.max_steer
        gx, gy = w.route.goal
        dx, dy = gx - x, gy - y
        dist = math.hypot(dx, dy)
        obs[n + 2] = dist / 500.0
        bearing = math.atan2(-s * dx + c * dy, c * dx + s * dy)
        obs[n + 3], obs[n + 4] = math.cos(bearing), math.sin(bearing)
        route = w.route
        if self.config["navigation"]:
            navigator_features(route.points, route.cum, w.route_s, w._route_i, x, y, h,
                               self._ahead, obs[n + 5:n + 18])
        state, d = w.next_light(LIGHT_HORIZON)
        if state != NO_LIGHT:
            obs[n + 18 + {GREEN: 0, YELLOW: 1, RED: 2}[state]] = 1.0
        obs[n + 21] = d / LIGHT_HORIZON
        obs[n + 22] = w.route_s / route.length
        return obs.clip(self._obs_low, self._obs_high, out=obs).astype(np.float32)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        if self.render_mode == "human" and not self._window:  # no display: nothing to draw
            return None
        from .city_render import CityRenderer

        if self._renderer is None:
            self._renderer = CityRenderer(int(self.config["render_size"]))
        frame = self._renderer.draw(self.world, self.config["render_view"])
        if self.render_mode == "human":
            self._renderer.show(frame)
            return None
        return frame

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.world.close()
