"""CityNav's settings, checked: every bad value names its key and what is accepted."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, check_choice
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import LAYOUTS, NEW_SEED_BASE

MAX_TRAFFIC = 999
#: Longest route a drive may ask for (m); the largest city is a few kilometres across.
MAX_ROUTE = 100_000


def _number(cfg, key, lo, hi=None, integer=False, lo_open=False):
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


def friction_range(value) -> tuple[float, float]:
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


