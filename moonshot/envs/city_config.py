"""CityNav's settings, declared once with their defaults and meanings (the env docstrings'
Arguments tables come from them), and checked: every bad value names its key and what is
accepted."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, check_choice
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import LAYOUTS, NEW_SEED_BASE

MAX_TRAFFIC = 999
#: Longest route a drive may ask for (m); the largest city is a few kilometres across.
MAX_ROUTE = 100_000

#: Every CityNav-v0 setting: its default and what it means, in one line. The env docstring's
#: Arguments table is generated from it, so no setting goes undocumented (tested).
SETTINGS: dict[str, tuple[object, str]] = {
    "split": ("train", "``\"train\"``: one of ``num_train_maps`` fixed maps; ``\"new\"``: "
              "held-out maps (see Description)"),
    "num_train_maps": (32, "how many maps the training split draws from (seeds 0 .. "
                       "``num_train_maps``-1)"),
    "map_seed": (None, "pins one map for every episode; ``None``: drawn per episode from the "
                 "split"),
    "traffic_cars": (20, "traffic cars per drive"),
    "lidar_rays": (32, "lidar rays R, evenly spaced from the nose, counterclockwise"),
    "lidar_range": (50.0, "the lidar's range, m"),
    "navigation": (True, "the navigator's slots in the observation (route points, offset, "
                   "heading); ``False``: zeros, the agent knows only where the goal is"),
    "time_limit": (240.0, "seconds before the drive is truncated (``outcome=\"timeout\"``); "
                   "registered as ``max_episode_steps=2400``, so a longer one needs "
                   "``gymnasium.make(..., max_episode_steps=N)`` too"),
    "route_length": ((250.0, 600.0), "``[low, high]``, m: the length of the shortest legal "
                     "route from the start to the goal"),
    "goal_radius": (6.0, "m: arrived within this distance of the goal once the route is "
                    "driven"),
    "reward_progress": (0.02, "reward per metre by which the distance still to go shrinks"),
    "reward_arrived": (10.0, "reward on reaching the goal"),
    "reward_death": (-10.0, "reward on a collision"),
    "reward_time": (-0.005, "reward per step"),
    "reward_off_road": (-0.02, "reward per step with the car's centre off the carriageway"),
    "reward_red_light": (0.0, "reward per red light run"),
    "reward_speeding": (0.0, "reward per step above the speed limit"),
    "render_view": ("ego", "``\"ego\"``: 120 m around the car, from above; ``\"city\"``: "
                    "the whole map; ``\"chase\"``: 3D, from behind and above the car "
                    "(pybullet's software camera on a visual copy of the scene, built on the "
                    "first chase frame)"),
    "render_size": (480, "the side of a rendered frame, pixels (square)"),
    "sensor_range": (50.0, "m: how far the driver's perception (the planner's view) sees "
                     "cars and lights, in line of sight"),
}

#: Every CityNav-v1 setting: v0's (:data:`SETTINGS`), plus the vehicle,
#: the road and the perception-based observation, each with its default and meaning.
V1_SETTINGS: dict[str, tuple[object, str]] = {
    **SETTINGS,
    "road_friction": (0.9, "the tyres' grip, a friction coefficient (dry 0.9, wet 0.6, snow "
                      "0.3, ice 0.1), or ``[low, high]`` drawn per drive (domain "
                      "randomization)"),
    "vehicle": ("car", "the ego's vehicle: " + ", ".join(f"``{k}``" for k in VEHICLES)),
    "observation": ("lidar", "``\"lidar\"`` or ``\"objects\"`` (see Observation Space)"),
    "objects": (8, "K, the nearest cars seen that ``observation=\"objects\"`` lists"),
    "lidar_noise": (0.0, "Gaussian noise on the lidar, m (1-sigma)"),
    "layout": ("default", "the maps' layout: " + ", ".join(f"``{k}``" for k in LAYOUTS)),
    "driving_side": ("right", "``\"right\"``, or ``\"left\"``: the city mirrored, "
                     "left-hand traffic"),
    "observe_friction": (False, "add the road's friction coefficient to the lidar "
                         "observation (its last slot)"),
    "weather_seen": (None, "the weather class a planner's view shows: ``None``, the class of "
                     "the road's friction (``dry`` from 0.75, ``wet`` 0.45, ``snow`` 0.2, "
                     "``ice`` below); a class name: the weather misleads (black ice under a "
                     "road that looks dry)"),
    "sensor_delay": (0, "the planner's view of cars and lights is this many steps old (0: "
                     "current)"),
    "occlusion": (0.0, "hedges on the corner lots within this many metres of every "
                  "intersection's centre hide the cars behind them from the planner's view "
                  "(0: none; the lidar and the objects observation are unchanged)"),
    "roadworks": (0, "stretches of lane on the drive's route closed by barriers that the "
                  "planner's map does not show (the ego that touches one has crashed; the "
                  "traffic knows them and turns elsewhere); fewer where the route has too few "
                  "long enough lanes"),
    "roadworks_length": (8.0, "m: the length of each closure's barriers"),
    "bold_drivers": (0.0, "the share of traffic cars that drive boldly: 25% over their desired "
                     "speed, half the time gap and minimum gap, through every yellow and "
                     "through a red they would have to brake for"),
}


def _number(cfg: dict, key: str, lo: float, hi: float | None = None, integer: bool = False,
            lo_open: bool = False) -> float:
    val = cfg[key]
    ok = not isinstance(val, bool) and isinstance(val, (int, float, np.integer, np.floating))
    if ok:
        ok = bool(np.isfinite(val))
    if ok and integer:
        ok = float(val) == int(val)
    if ok:
        ok = (val > lo if lo_open else val >= lo) and (hi is None or val <= hi)
    if not ok:
        kind = "an integer" if integer else "a number"
        rng = (f"> {lo}" if lo_open else f">= {lo}") + ("" if hi is None else f" and <= {hi}")
        raise ConfigError(f"CityNav config {key}={val!r}: must be {kind} {rng}")
    return int(val) if integer else float(val)


def friction_range(value: object) -> tuple[float, float]:
    """``road_friction`` as ``(low, high)``: a number ``mu`` is ``(mu, mu)``; ``[low, high]``
    is drawn uniformly per drive (domain randomization). Every value in (0, 2]."""
    msg = (f"CityNav config road_friction={value!r}: must be a number > 0 and <= 2 (dry "
           "0.9, wet 0.6, snow 0.3, ice 0.1) or [low, high] to draw one per drive")
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(msg)
        try:
            lo, hi = (_number({"road_friction": v}, "road_friction", 0, 2, lo_open=True)
                      for v in value)
        except ConfigError:
            raise ConfigError(msg) from None
        if lo > hi:
            raise ConfigError(msg + " with low <= high")
        return lo, hi
    try:
        mu = _number({"road_friction": value}, "road_friction", 0, 2, lo_open=True)
    except ConfigError:
        raise ConfigError(msg) from None
    return mu, mu


def check_city_config(cfg: dict) -> None:
    """Every CityNav setting checked, naming the key and what is accepted (v0 and v1)."""
    check_choice("split", cfg["split"], ("train", "new"))
    check_choice("render_view", cfg["render_view"], ("ego", "city", "chase"))
    _number(cfg, "num_train_maps", 1, NEW_SEED_BASE, integer=True)
    _number(cfg, "traffic_cars", 0, MAX_TRAFFIC, integer=True)
    _number(cfg, "lidar_rays", 1, 4096, integer=True)
    _number(cfg, "lidar_range", 0, 1000, lo_open=True)
    _number(cfg, "time_limit", 0, 100_000, lo_open=True)
    _number(cfg, "goal_radius", 0, 100)
    _number(cfg, "render_size", 16, 4096, integer=True)
    if cfg["map_seed"] is not None:
        _number(cfg, "map_seed", 0, 2**31 - 1, integer=True)
    rl = cfg["route_length"]
    try:
        if isinstance(rl, (str, bytes, dict)) or len(rl) != 2:
            raise ConfigError("not a pair")
        lo, hi = (_number({"route_length": x}, "route_length", 0, MAX_ROUTE, lo_open=True)
                  for x in rl)
    except (TypeError, ConfigError):
        raise ConfigError(f"CityNav config route_length={rl!r}: must be [low, high], two "
                          f"numbers of metres in (0, {MAX_ROUTE:,}]") from None
    if not 0 < lo <= hi:
        raise ConfigError(f"CityNav config route_length={rl!r}: must be [low, high] with "
                          "0 < low <= high")
    for key in ("reward_progress", "reward_arrived", "reward_death", "reward_time",
                "reward_off_road", "reward_red_light", "reward_speeding"):
        _number(cfg, key, -1e6, 1e6)
    if not isinstance(cfg["navigation"], bool):
        raise ConfigError(f"CityNav config navigation={cfg['navigation']!r}: true or false")
    if "sensor_range" in cfg:
        _number(cfg, "sensor_range", 0, 1000, lo_open=True)
    if "road_friction" in cfg:
        friction_range(cfg["road_friction"])
        if not isinstance(cfg["observe_friction"], (bool, np.bool_)):
            raise ConfigError(f"CityNav config observe_friction={cfg['observe_friction']!r}: "
                              "true or false")
        check_choice("vehicle", cfg["vehicle"], VEHICLES)
        check_choice("observation", cfg["observation"], ("lidar", "objects"))
        _number(cfg, "objects", 1, 64, integer=True)
        _number(cfg, "lidar_noise", 0, 100)
        check_choice("layout", cfg["layout"], LAYOUTS)
        check_choice("driving_side", cfg["driving_side"], ("right", "left"))
        if cfg["weather_seen"] is not None:
            from .city_perception import WEATHER_NAMES

            check_choice("weather_seen", cfg["weather_seen"], WEATHER_NAMES[:-1])
        _number(cfg, "sensor_delay", 0, 100, integer=True)
        _number(cfg, "bold_drivers", 0, 1)
        _number(cfg, "occlusion", 0, 1000)
        _number(cfg, "roadworks", 0, 50, integer=True)
        _number(cfg, "roadworks_length", 1, 200)




def check_step_limit(limit: int | None, max_steps: int, time_limit: float, dt: float) -> None:
    """Refuse a ``max_episode_steps`` (registered as the default ``time_limit``'s steps and
    passed by ``gymnasium.make_vec`` to the native vector env) that would cut a drive before
    the env's own ``time_limit``: the cut drive would end without its ``outcome``. (A single
    env cannot see it: ``gymnasium.make`` wraps it in ``TimeLimit``, so a longer
    ``time_limit`` needs ``max_episode_steps=`` too; the class docstring says so.)"""
    if limit is not None and limit < max_steps:
        raise ConfigError(
            f"time_limit={time_limit:g} s is {max_steps:,} steps, but max_episode_steps="
            f"{limit:,} would cut the drive first (without its outcome): for shorter drives "
            f"give time_limit={limit * dt:g}, for longer ones pass max_episode_steps="
            f"{max_steps} to gymnasium.make as well")
