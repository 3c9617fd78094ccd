"""MoonLaunch's settings, declared once: each with its default and meaning, checked, and the
ranges each split draws its scenarios from.

The env docstring's Arguments table comes from :data:`SETTINGS` (a setting cannot go
undocumented); :func:`make_config` checks a config, naming a bad key or value and what is
accepted. Shared by the single and the batched env through :mod:`moonshot.envs.moon_core`.
"""

from __future__ import annotations

from typing import Any

from ..errors import check_choice, check_keys
from ..physics.constants import MOON_ECCENTRICITY, MOON_SOI, R_MOON

SPLITS = ("train", "new")
#: Where each split draws from: parking altitude (km), and the Moon's orbit size and mass as
#: factors of the real Moon's, each a list of intervals drawn uniformly over their union.
SPLIT_RANGES: dict[str, dict[str, tuple]] = {
    "train": {"park_altitude_km": (180.0, 400.0), "moon_orbit_scale": ((1.0, 1.0),),
              "moon_mass_scale": ((1.0, 1.0),)},
    "new": {"park_altitude_km": (600.0, 2000.0),
            "moon_orbit_scale": ((0.85, 0.93), (1.07, 1.20)),
            "moon_mass_scale": ((0.5, 0.8), (1.25, 2.0))},
}
RANGE_KEYS = tuple(SPLIT_RANGES["train"])

#: Success radius (km from the Moon's centre) of each target, and what it means. ``soi`` is
#: the real Moon's; a scenario's own sphere follows its Moon
#: (:func:`~moonshot.envs.moon_core.sphere_of_influence`).
TARGETS = {
    "soi": MOON_SOI,  # enter the Moon's sphere of influence
    "flyby": R_MOON + 5000.0,  # pass within 5,000 km of the lunar surface (or hit it)
    "landing": R_MOON,  # hit the Moon
}
#: How the ``soi`` target's radius is set: Laplace's formula for the scenario's Moon
#: (MoonLaunch-v1), or the real Moon's 66,100 km for every moon (MoonLaunch-v0).
SOI_MODELS = ("laplace", "fixed")

# Execution error at scale 1: 1-sigma burn magnitude (km/s) and pointing (rad).
DV_ERROR_SIGMA = 0.5e-3
ANGLE_ERROR_SIGMA = 1e-4


def ranges_text(key: str, scale: float = 1.0) -> str:
    """How the splits draw ``key`` (a range of ``SPLIT_RANGES``), for the docs:
    ``train 0.18 .. 0.4, new 0.6 .. 2``; a fixed training value is just ``train 1``."""
    def one(rng: tuple | list) -> str:
        if isinstance(rng[0], (tuple, list)):
            return " or ".join(one(r) for r in rng)
        lo, hi = (scale * x for x in rng)
        return f"{lo:g}" if lo == hi else f"{lo:g} .. {hi:g}"

    return f"train {one(SPLIT_RANGES['train'][key])}, new {one(SPLIT_RANGES['new'][key])}"


_SHIFT = "*shift*: "  # a quantity the generalization ladder moves (see the env docstring)
#: Every MoonLaunch setting: its default and what it means, in one line. The env docstring's
#: Arguments table is generated from it, so no setting goes undocumented (tested).
SETTINGS: dict[str, tuple[object, str]] = {
    "target": ("landing", "what counts as success: ``\"soi\"`` (enter the Moon's sphere of "
               "influence), ``\"flyby\"`` (pass within "
               f"{TARGETS['flyby'] - R_MOON:,.0f} km of its surface) or ``\"landing\"`` "
               "(hit the Moon); see Episode End"),
    "split": ("train", "``\"train\"``: the training distribution; ``\"new\"``: held-out "
              "conditions (see Starting State)"),
    "execution_error": (1.0, "scale of the burn's random error: 1-sigma "
                        f"{DV_ERROR_SIGMA * 1e3:g} m/s in magnitude and "
                        f"{ANGLE_ERROR_SIGMA * 1e3:g} mrad in direction at 1; 0 for exact "
                        "burns"),
    "moon_eccentricity": (MOON_ECCENTRICITY, "the eccentricity of the Moon's orbit"),
    "max_flight_days": (10.0, "the longest flight integrated, in days (a rocket still flying "
                        "then has ``outcome=\"missed\"``)"),
    "rtol": (1e-9, "the integrator's relative tolerance (1e-9 keeps the position error below "
             "1 km over a 6-day flight with a lunar flyby)"),
    "record_trajectory": (False, "also put each flight's trajectory into the step ``info`` "
                          "(see Trajectory)"),
    "soi_radius": ("laplace", "the ``soi`` target's radius: ``\"laplace\"``, the sphere of "
                   "influence of the scenario's moon; ``\"fixed\"``, the real Moon's "
                   f"{MOON_SOI:,.0f} km for every moon (v0)"),
    "park_altitude_km": (None, _SHIFT + "parking altitudes ``[low, high]`` (km) in place of "
                         f"the split's ({ranges_text('park_altitude_km')}); ``None``: the "
                         "split's"),
    "moon_orbit_scale": (None, _SHIFT + "the Moon's orbit size as a factor of the real one's, "
                         "``[low, high]`` or two intervals drawn over their union; ``None``: "
                         f"the split's ({ranges_text('moon_orbit_scale')})"),
    "moon_mass_scale": (None, _SHIFT + "the Moon's mass as a factor of the real one's, "
                        "``[low, high]`` or two intervals drawn over their union; ``None``: "
                        f"the split's ({ranges_text('moon_mass_scale')})"),
    "sun_gravity": (0.0, _SHIFT + "the Sun's gravity as a multiple of the real Sun's (0: no "
                    "Sun, as in training)"),
    "burn_bias": (0.0, _SHIFT + "a systematic error of the engine, the same at every launch "
                  "and in no observation: it delivers ``(1 + burn_bias)`` times the commanded "
                  "delta-v (``info[\"delta_v_kms\"]`` reports the executed one, so a few launches "
                  "reveal it); 0: the engine does what it is told"),
    "burn_bias_angle_deg": (0.0, _SHIFT + "the engine's systematic pointing error: the burn "
                            "turns this many degrees counterclockwise of the commanded "
                            "direction"),
}


def default_config() -> dict:
    """The MoonLaunch configuration keys and their defaults (:data:`SETTINGS`)."""
    return {key: default for key, (default, _) in SETTINGS.items()}


def make_config(**kwargs: Any) -> dict:
    """Merge ``kwargs`` over :func:`default_config`, validating keys and values."""
    cfg = default_config()
    check_keys(kwargs, cfg, "MoonLaunch config")
    cfg.update(kwargs)
    check_choice("target", cfg["target"], TARGETS)
    check_choice("split", cfg["split"], SPLITS)
    check_choice("soi_radius", cfg["soi_radius"], SOI_MODELS)
    for key, lo, hi in (("execution_error", 0, 100), ("moon_eccentricity", 0, 0.5),
                        ("max_flight_days", 0.5, 60), ("rtol", 1e-14, 1e-5),
                        ("sun_gravity", 0, 100), ("burn_bias", -0.2, 0.2),
                        ("burn_bias_angle_deg", -10, 10)):
        val = cfg[key]
        if isinstance(val, bool) or not (isinstance(val, (int, float)) and lo <= val <= hi):
            raise ValueError(f"{key} must be a number in [{lo}, {hi}], got {val!r}")
    if cfg["park_altitude_km"] is not None:
        cfg["park_altitude_km"] = _interval("park_altitude_km", cfg["park_altitude_km"],
                                            150.0, 3000.0)
    for key, lo, hi in (("moon_orbit_scale", 0.5, 2.0), ("moon_mass_scale", 0.05, 4.0)):
        val = cfg[key]
        if val is not None:
            if not isinstance(val, (list, tuple)) or not val:
                raise ValueError(f"{key} must be a list of [low, high] intervals, got {val!r}")
            if all(isinstance(v, (int, float)) for v in val):
                val = [val]  # one interval given flat
            cfg[key] = tuple(_interval(key, v, lo, hi) for v in val)
    return cfg


def _interval(key: str, val, lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in val)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be [low, high], got {val!r}") from None
    if not lo <= a <= b <= hi:
        raise ValueError(f"{key} must be [low, high] with {lo} <= low <= high <= {hi}, "
                         f"got {val!r}")
    return a, b


def split_ranges(split: str, cfg: dict | None = None) -> dict:
    """The ranges a split draws from, with the config's shift parameters in their place."""
    ranges = dict(SPLIT_RANGES[split])
    for key in RANGE_KEYS:
        if cfg is not None and cfg.get(key) is not None:
            ranges[key] = cfg[key]
    return ranges
