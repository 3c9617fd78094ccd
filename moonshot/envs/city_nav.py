"""CityNav-v0: drive a car through a procedurally generated city with traffic to a goal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..errors import check_choice, check_keys
from ..physics.city.bullet_city import CityWorld
from ..physics.city.drive import DT, cached_city
from ..physics.city.ego import EgoParams
from ..physics.city.generator import NEW_SEED_BASE, CityParams
from ..physics.city.route import NAV_OFFSET_SCALE, NAV_POINT_SCALE, navigator_features
from ..physics.city.signals import GREEN, NO_LIGHT, RED, YELLOW
from .city_config import SETTINGS
from .display import human_window
from .docs import arguments, fill_doc, number
from .layout import ObservationLayout, Size, Slot

if TYPE_CHECKING:  # imported by the first render() only
    from .city_perception import CityView
    from .city_render import CityRenderer

class _Driving(Protocol):
    """What :meth:`CityNavEnv.perceive`, ``_refresh_views`` and ``render`` read of their
    env: CityNav-v1's env borrows them, with its own ``world`` (a view of its batch)."""

    world: Any
    config: dict
    render_mode: str | None
    road_friction: float
    steer_rate: float
    _views: dict
    _window: bool
    _renderer: CityRenderer | None

    def _refresh_views(self, view: Any, episode: bool = False) -> None: ...


WAYPOINT_AHEAD = (5.0, 10.0, 20.0, 30.0, 50.0)  # m along the route
LIGHT_HORIZON = 60.0  # m
GOAL_SCALE = 500.0  # m: the goal distance is divided by this
SPEEDING_MARGIN = 0.5  # m/s above the speed limit before a step counts as speeding
LIGHT_SLOT = {GREEN: 0, YELLOW: 1, RED: 2}  # one-hot position of each state in "light"

_EGO = EgoParams()  # the documented defaults
_R = Size.symbol("R")
LIDAR_OBSERVATION = ObservationLayout([
    Slot("lidar", _R, 0, 1,
         "lidar: distance to the first building or car / ``lidar_range``"),
    Slot("speed", 1, 0, 1, f"speed / {_EGO.max_speed:g} m/s"),
    Slot("steer", 1, -1, 1, f"steering angle / {_EGO.max_steer:g} rad"),
    Slot("goal_distance", 1, 0, 4, f"straight-line distance to the goal / {GOAL_SCALE:g} m"),
    Slot("goal_bearing", 2, -1, 1, "cos, sin of the goal's bearing in the ego frame"),
    Slot("route_points", 2 * len(WAYPOINT_AHEAD), -3, 3,
         f"navigator: route points ahead, (x, y) in the ego frame / {NAV_POINT_SCALE:g} m"),
    Slot("route_offset", 1, -3, 3,
         f"navigator: lateral offset from the route / {NAV_OFFSET_SCALE:g} m (left positive)"),
    Slot("route_heading", 2, -1, 1, "navigator: cos, sin of the heading relative to the route"),
    Slot("light", 3, 0, 1, "next light on the route: one-hot green, yellow, red"),
    Slot("stop_distance", 1, 0, 1, f"distance to its stop line / {LIGHT_HORIZON:g} m (1: none)"),
    Slot("progress", 1, 0, 1, "route progress (fraction of the route driven)"),
], symbols={"R": "lidar_rays"})


class CityNavEnv(gym.Env):
    """
    ## Description
    Drive a car from a start to a goal across a procedurally generated city (0.4-0.9 km across)
    without hitting anything. Roads are two-way with one or two lanes per direction (right-hand
    traffic); intersections of three or more roads have traffic lights with yellow and all-red
    clearance; buildings line the streets behind $sidewalk m sidewalks. ``traffic_cars``
    ($traffic_cars) traffic cars follow their lanes, turn at intersections, keep their distance
    (Intelligent Driver Model) and obey the lights; they brake for the ego when it is on their
    path, but they do not dodge it. The world lives in :mod:`moonshot.physics.city` (generator,
    lane graph, signals, traffic kernel, bicycle model, route search) and pybullet (collisions,
    lidar). Maps: ``split="train"`` draws one of ``num_train_maps`` fixed maps (seeds
    ``0 .. num_train_maps-1``: grid and irregular cities, one lane per direction);
    ``split="new"`` draws held-out maps (seeds >= $new_seed_base: other block sizes, stronger
    irregularity, diagonal avenues, two-lane roads on a quarter of the maps, other signal
    timings and speed limits).

    ## Action Space
    ``Box(-1, 1, (2,), float32)``, one control step = $dt s:

    | index | action | mapping |
    |---|---|---|
    | 0 | acceleration | -1: brake $max_brake m/s², 0: coast, +1: throttle $max_accel m/s² |
    | 1 | steering | front-wheel angle, -1: $max_steer rad right .. +1: $max_steer rad left |

    The ego moves by a kinematic bicycle model (wheelbase $wheelbase m, $length x $width m
    body), at 0 .. $max_speed m/s (no reverse).

    ## Observation Space
    $observation_size
    "Ego frame": x forward, y left.

    $observation_table

    Ray k points at angle 2πk/R from the nose, counterclockwise; 1 means nothing within
    range. The route points lie $waypoints m ahead along the route on the road graph.
    The light is the next signalized stop line on the route within $light_horizon m (all three
    0: none). With ``navigation=False`` the navigator slots ($navigator_slots) are 0: the agent
    knows only where the goal is, not the roads that lead there. The slots by name:
    ``obs[env.unwrapped.observation_layout["speed"]]``.

    ## Rewards
    The sum of named terms (``info["reward_terms"]``): ``progress`` = $reward_progress per metre
    by which the distance still to go shrinks (negative when it grows), the distance to go
    being the rest of the route from the car's projection on it plus the car's distance from
    the route: driving along the route pays, leaving it costs, coming back pays it back (a
    potential, so no detour can earn more than the route); ``arrived`` = $reward_arrived on
    reaching the goal; ``death`` = $reward_death on a collision; ``time`` = $reward_time per
    step; ``off_road`` = $reward_off_road per step with the car's centre off the carriageway;
    ``red_light`` = $reward_red_light per red light run and ``speeding`` = $reward_speeding per
    step above the speed limit (set them below 0 to train rule-abiding drivers). Weights:
    config keys ``reward_*``.

    ## Starting State
    A map (see Description) and, from the env's seeded generator, a start on the curb lane of
    a road, at rest and aligned with the lane; a goal on a curb lane whose shortest legal route
    is ``route_length`` ($route_length m) long; ``traffic_cars`` cars on random lanes at least
    30 m from the start, at 0-60% of their desired speed (at most 7 m/s); lights at the offsets
    of their map. ``reset(options={"map_seed": k})`` drives map ``k`` for this episode.

    ## Episode End
    Terminated: ``outcome="crashed"`` when the ego's body touches a building or a car (Bullet
    contact; ``info["crash"]`` says which) - a "death"; ``outcome="arrived"`` within
    ``goal_radius`` ($goal_radius m) of the goal once the route is driven. Truncated:
    ``outcome="timeout"`` after ``time_limit`` seconds ($time_limit). Leaving the road is
    allowed: the sidewalk, squares and empty lots are drivable at the ``off_road`` cost;
    buildings kill. Running a red light is not punished as such (``info`` counts it): it kills
    when crossing traffic is there.

    ## Info
    Every step: ``is_success``, ``death``, ``map_id`` (the map's seed), ``split``,
    ``route_progress`` (0..1), ``red_lights_run`` (stop lines on the route crossed on red so
    far in the episode), ``off_road``, ``ran_red_light`` (this step), ``speeding`` (above the
    map's speed limit + $speeding_margin m/s), ``reward_terms``; at the end ``outcome`` and, on
    a crash, ``crash`` (``"building"`` or ``"car"``). Traffic rules are measured; penalties for
    breaking them are opt-in (see Rewards).

    ## Perception (for planners)
    A planner gets ``env.unwrapped.perceive()``
    (:class:`~moonshot.envs.city_perception.CityView`), never the env: the map as a driver's
    map shows it (roads, lanes and turns, where the lights are, the speed limit; not the
    signal timings), its own car and state, the start and the goal, the traffic cars in line
    of sight within ``sensor_range`` ($sensor_range m) and the current colour of the lights it
    sees; refreshed after every step. ``perceive("oracle")`` adds every car's private state
    and every light's plan (an ablation).

    ## Arguments
    $arguments

    ``render_mode="human"`` shows the frames in a window; without a display it warns and draws
    nothing (the env runs as without rendering).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **config: Any):
        cfg = self.default_config()
        check_keys(config, cfg, "CityNav config")
        cfg.update(config)
        from .city_config import check_city_config

        check_city_config(cfg)
        check_choice("render_mode", render_mode, [None] + self.metadata["render_modes"])
        # Without a display, human mode runs headless (with a warning): see envs.display.
        self._window = render_mode == "human" and human_window("CityNav")
        self.config = cfg
        self.render_mode = render_mode
        self.split = cfg["split"]
        self.world = CityWorld(lidar_rays=int(cfg["lidar_rays"]),
                               lidar_range=float(cfg["lidar_range"]),
                               sensor_range=float(cfg["sensor_range"]))
        self.dt = self.world.dt
        self.ego_params = self.world.ego_params
        self.road_friction = float("inf")  # v0: no tyre limit
        self.steer_rate = float("inf")  # v0: the wheels turn at once
        self.observation_layout = LIDAR_OBSERVATION.resolve(cfg)  # slot name -> slice
        self.observation_space = self.observation_layout.box
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._ahead = np.asarray(WAYPOINT_AHEAD)
        self._navigator = self.observation_layout.span("route_points", "route_heading")
        self.map_id = -1
        self._views: dict = {}  # perception views handed out, refreshed as the world moves
        self._steps = 0
        self._red_run = 0
        self._max_steps = int(round(float(cfg["time_limit"]) / self.dt))
        self._renderer: CityRenderer | None = None

    @classmethod
    def default_config(cls) -> dict:
        return {key: default for key, (default, _) in SETTINGS.items()}

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

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
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
        assert w.route is not None  # planned by start()
        self._togo = w.route.length - w.route_s + w.route_offset  # distance still to go, m
        info = self._info(False, False)
        for view in self._views.values():
            self._refresh_views(view, episode=True)
        if self.render_mode == "human":
            self.render()
        return self._observe(), info

    def perceive(self: _Driving, mode: str = "honest") -> CityView:
        """The perception view of a planner (:class:`~moonshot.envs.city_perception.CityView`):
        what a driver in the ego's seat can know, refreshed after every step. ``"oracle"``
        adds the traffic's and the lights' private state (an ablation)."""
        from .city_perception import new_view

        if self.world.route is None:
            raise RuntimeError("call reset() before perceive()")
        if mode not in self._views:
            self._views[mode] = new_view(mode)
            self._refresh_views(self._views[mode], episode=True)
        return self._views[mode]

    def _refresh_views(self: _Driving, view: CityView, episode: bool = False) -> None:
        from .city_perception import refresh_episode, refresh_step

        if episode:
            refresh_episode(view, self.world, self.road_friction, self.steer_rate,
                            self.config.get("weather_seen"))
        cfg = self.config
        refresh_step(view, self.world, int(cfg.get("sensor_delay", 0)), episode,
                     float(cfg.get("occlusion", 0.0)))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.world.route is None:
            raise RuntimeError("call reset() before step()")
        try:
            a0, a1 = (float(z) for z in np.ravel(action))
        except (TypeError, ValueError):
            a0 = a1 = math.nan
        if not (math.isfinite(a0) and math.isfinite(a1)):
            raise ValueError("action must be 2 finite numbers (values outside [-1, 1] are "
                             f"clipped), got {action!r}")
        a = (min(max(a0, -1.0), 1.0), min(max(a1, -1.0), 1.0))
        w, cfg, p = self.world, self.config, self.ego_params
        assert w.route is not None and w.traffic is not None and w.city is not None
        s_before, togo_before = w.route_s, self._togo
        hits = w.step(p.accel(a[0]), a[1] * p.max_steer,
                      self.np_random.random(w.traffic.n))
        self._steps += 1
        crash = w.classify(hits)
        ran_red = w.red_lights_crossed(s_before, w.route_s)
        self._red_run += ran_red
        off_road = w.off_road()
        speeding = bool(w.ego[3] > w.city.params.speed_limit + SPEEDING_MARGIN)
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
        for view in self._views.values():
            self._refresh_views(view)
        if self.render_mode == "human":
            self.render()
        return self._observe(), float(sum(terms.values())), terminated, truncated, info

    def _info(self, success: bool, death: bool) -> dict:
        w = self.world
        assert w.route is not None
        return {"is_success": bool(success), "death": bool(death), "map_id": self.map_id,
                "split": self.split,
                "route_progress": float(min(max(w.route_s / w.route.length, 0.0), 1.0)),
                "red_lights_run": self._red_run}

    def _observe(self) -> np.ndarray:
        w, p, at = self.world, self.ego_params, self.observation_layout
        x, y, h, v = w.ego.tolist()  # Python floats: cheaper scalar arithmetic
        c, s = math.cos(h), math.sin(h)
        obs = np.zeros(at.size)
        obs[at["lidar"]] = w.lidar / w.lidar_range
        obs[at["speed"]] = v / p.max_speed
        obs[at["steer"]] = w.steer / p.max_steer
        assert w.route is not None
        gx, gy = w.route.goal
        dx, dy = gx - x, gy - y
        obs[at["goal_distance"]] = math.hypot(dx, dy) / GOAL_SCALE
        bearing = math.atan2(-s * dx + c * dy, c * dx + s * dy)
        obs[at["goal_bearing"]] = math.cos(bearing), math.sin(bearing)
        route = w.route
        if self.config["navigation"]:
            navigator_features(tuple(route.path), w.route_s, w._route_i, w.ego, self._ahead,
                               obs[self._navigator])
        state, d = w.next_light(LIGHT_HORIZON)
        if state != NO_LIGHT:
            obs[at["light"].start + LIGHT_SLOT[state]] = 1.0
        obs[at["stop_distance"]] = d / LIGHT_HORIZON
        obs[at["progress"]] = w.route_s / route.length
        return obs.clip(at.low, at.high, out=obs).astype(np.float32)

    def render(self: _Driving) -> np.ndarray | None:
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

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.world.close()


def _doc_values() -> dict:
    """What the class docstring's ``$name`` placeholders stand for."""
    cfg = CityNavEnv.default_config()
    out = {k: number(v) for k, v in cfg.items() if isinstance(v, (int, float))
           and not isinstance(v, bool)}
    out.update({k: number(getattr(_EGO, k)) for k in
                ("max_brake", "max_accel", "max_steer", "wheelbase", "length", "width",
                 "max_speed")})
    lo, hi = cfg["route_length"]
    *first, last = (number(d) for d in WAYPOINT_AHEAD)
    out.update(
        route_length=f"{number(lo)}-{number(hi)}", sidewalk=number(CityParams().sidewalk),
        new_seed_base=f"{NEW_SEED_BASE:,}", dt=number(DT),
        waypoints=f"{', '.join(first)} and {last}", light_horizon=number(LIGHT_HORIZON),
        speeding_margin=number(SPEEDING_MARGIN),
        observation_size=LIDAR_OBSERVATION.summary(cfg),
        observation_table=LIDAR_OBSERVATION.table(),
        navigator_slots=LIDAR_OBSERVATION.label("route_points", "route_heading"),
        arguments=arguments(SETTINGS, "moonshot/CityNav-v0"))
    return out


CityNavEnv.__doc__ = fill_doc(CityNavEnv.__doc__, _doc_values())
