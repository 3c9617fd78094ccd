"""CityNav's settings, checked: every bad value names its key and what is accepted."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, check_choice
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import LAYOUTS, NEW_SEED_BASE

MAX_TRAFFIC = 999


def _number(cfg, key, lo, hi=None, integer=False, lo_open=False):
    val = cfg[key]
    ok = not isinstance(val, bool) and isinstance(val, (int, float, np.integer, np.floating))
    if ok and integer:
        ok = float(val) == int(val)
    if ok:
        ok = (val > lo if lo_open else val >= lo) and (hi is None or val <= hi)
    if not ok:
        kind = "an integer" if integer else "a number"
        rng = (f"> {lo}" if lo_open else f">= {lo}") + ("" if hi is None else f" and <= {hi}")
        raise ConfigError(f"CityNav config {key}={val!r}: must be {kind} {rng}")
    return int(val) if integer else float(val)


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
        lo, hi = (float(x) for x in rl)
    except (TypeError, ValueError):
        raise ConfigError(f"CityNav config route_length={rl!r}: must be [low, high] in "
                          "metres") from None
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
        _number(cfg, "road_friction", 0, 2, lo_open=True)
        check_choice("vehicle", cfg["vehicle"], VEHICLES)
        check_choice("observation", cfg["observation"], ("lidar", "objects"))
        _number(cfg, "objects", 1, 64, integer=True)
        _number(cfg, "lidar_noise", 0, 100)
        check_choice("layout", cfg["layout"], LAYOUTS)
        check_choice("driving_side", cfg["driving_side"], ("right", "left"))


