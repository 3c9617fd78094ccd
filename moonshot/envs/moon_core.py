"""MoonLaunch's core, vectorized over launches: scenarios, observation, action mapping, the
flight and its scoring (the settings are :mod:`moonshot.envs.moon_config`).

Shared by :class:`~moonshot.envs.moon_launch.MoonLaunchEnv` (one launch per step) and
:class:`~moonshot.envs.moon_vector.MoonLaunchVectorEnv` (a batch of launches per step), so the
two cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..physics import earth_moon
from ..physics.constants import (
    DAY,
    EARTH_MOON_DISTANCE,
    GM_EARTH,
    GM_MOON,
    GM_SUN,
    MOON_ECCENTRICITY,
    MOON_SOI,
    MU_EARTH_MOON,
    R_EARTH,
    R_MOON,
)
from .layout import ObservationLayout, Slot
from .moon_actions import (  # noqa: F401 - the action mapping is public here too
    BURN_ANGLE_MAX,
    DV_CENTER,
    DV_HALF_RANGE,
    action_to_burn,
    burn_to_action,
    parking_period,
)
from .moon_config import ANGLE_ERROR_SIGMA, DV_ERROR_SIGMA, SPLIT_RANGES, TARGETS, ranges_text
from .seeded_uniforms import seeded_uniforms

# Salts keep the scenario streams of the two splits independent for equal scenario ids.
_SPLIT_SALT = {"train": 0x5EED_7A11, "new": 0x5EED_0E3}
#: Uniforms drawn per scenario id: three angles, altitude, orbit size, mass, the Sun's angle
#: (the generator's first draws never depend on how many follow, so adding one changes none).
_DRAWS = 7

# The Moon's radial velocity peaks at sqrt(GM / p) e (km/s) on the real Moon's orbit.
_V_RADIAL = math.sqrt((GM_EARTH + GM_MOON) / (EARTH_MOON_DISTANCE * (1 - MOON_ECCENTRICITY**2))) \
    * MOON_ECCENTRICITY
#: MoonLaunch's observation, slot by slot (the Box, :func:`observe`'s columns and the env
#: docstring's table); angles in an Earth-centred inertial frame at t = 0.
MOON_OBSERVATION = ObservationLayout([
    Slot("park_angle", 2, -1, 1, "cos, sin of the rocket's polar angle on its parking orbit"),
    Slot("moon_angle", 2, -1, 1, "cos, sin of the Moon's polar angle"),
    Slot("park_altitude", 1, 0, 3,
         f"parking orbit altitude / 1000 km ({ranges_text('park_altitude_km', 1e-3)})"),
    Slot("moon_distance", 1, 0, 2,
         f"current Earth-Moon distance / {EARTH_MOON_DISTANCE:,.0f} km (about "
         f"{1 - MOON_ECCENTRICITY:.3f} .. {1 + MOON_ECCENTRICITY:.3f} on the real Moon's orbit)"),
    Slot("moon_radial_velocity", 1, -1, 1,
         f"the Moon's radial velocity x 10, km/s (about ±{10 * _V_RADIAL:.2f} on the real "
         "Moon's orbit)"),
    Slot("moon_mass_ratio", 1, 0, 4,
         f"Moon mass ratio GM_moon / (GM_earth + GM_moon) / {MU_EARTH_MOON:.5f} (about the mass "
         f"scale: {ranges_text('moon_mass_scale')})"),
    Slot("moon_semi_major_axis", 1, 0, 2,
         f"the Moon's orbital semi-major axis / {EARTH_MOON_DISTANCE:,.0f} km "
         f"({ranges_text('moon_orbit_scale')})"),
])
OBSERVATION_AT = MOON_OBSERVATION.resolve({})  # slot name -> index or slice
OBS_LOW = OBSERVATION_AT.low.astype(np.float32)
OBS_HIGH = OBSERVATION_AT.high.astype(np.float32)

OUTCOMES = ("landed", "flyby", "entered_soi", "missed", "fell_back", "crashed_earth",
            "escaped")
#: The flight ends that destroy the rocket: it hit the Earth, or fell back towards it (the
#: transfer failed and the stage comes down). A miss or an escape loses the rocket intact.
DESTROYING_EVENTS = (earth_moon.EVENT_EARTH_IMPACT, earth_moon.EVENT_FELL_BACK)
#: By event code (``LaunchResult.event``): whether the event destroys the rocket.
_DESTROYS = np.isin(np.arange(len(earth_moon.EVENT_NAMES)), DESTROYING_EVENTS)


@dataclass
class Scenarios:
    """A batch of launch scenarios (one entry per launch; km, s, rad)."""

    scenario_id: np.ndarray  #: int64 ids (the ``map_id`` of the logs)
    park_altitude: np.ndarray
    park_angle: np.ndarray
    moon_angle: np.ndarray
    moon_a: np.ndarray
    moon_e: np.ndarray
    moon_perigee: np.ndarray
    gm_moon: np.ndarray
    moon_soi: np.ndarray  #: radius of the Moon's sphere of influence, km (the ``soi`` target)
    sun_angle: np.ndarray  #: the Sun's polar angle at t = 0 (used where the Sun is on)

    @property
    def park_radius(self) -> np.ndarray:
        return R_EARTH + self.park_altitude

    def __len__(self) -> int:
        return len(self.scenario_id)


def _uniform(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``Generator.uniform(lo, hi)`` from its standard uniform ``u`` (numpy's formula)."""
    return lo + (hi - lo) * u


def _two_sided(u: np.ndarray, lo: float, hi: float, lo2: float, hi2: float) -> np.ndarray:
    """Uniform on [lo, hi] U [lo2, hi2] (held-out values on both sides of the training value)."""
    x = _uniform(u, 0.0, (hi - lo) + (hi2 - lo2))
    return np.where(x < hi - lo, lo + x, lo2 + (x - (hi - lo)))


def _intervals(u: np.ndarray, intervals) -> np.ndarray:
    """Uniform over the union of one or two intervals (the two-sided draw for two)."""
    if len(intervals) == 1:
        return _uniform(u, *intervals[0])
    if len(intervals) == 2:
        return _two_sided(u, *intervals[0], *intervals[1])
    raise ValueError(f"one or two intervals, got {len(intervals)}")


def sphere_of_influence(moon_a: ArrayLike, gm_moon: ArrayLike,
                        model: str = "laplace") -> np.ndarray:
    """Radius (km) of the sphere of influence of a moon on an orbit of semi-major axis
    ``moon_a`` with ``gm_moon``: Laplace's ``a (m/M)^(2/5)``, scaled from the real Moon's
    published 66,100 km (so the real Moon keeps exactly that); ``"fixed"``: 66,100 km."""
    moon_a, gm_moon = np.asarray(moon_a, float), np.asarray(gm_moon, float)
    if model == "fixed":
        return np.full(np.broadcast(moon_a, gm_moon).shape, MOON_SOI)
    return MOON_SOI * (moon_a / EARTH_MOON_DISTANCE) * (gm_moon / GM_MOON) ** 0.4


def sample_scenarios(split: str, scenario_ids: ArrayLike, eccentricity: float,
                     soi_radius: str = "laplace", ranges: dict | None = None) -> Scenarios:
    """Scenarios for ``scenario_ids``; a pure function of ``(split, id, eccentricity,
    ranges)``.

    ``train``: parking altitude 180–400 km, the real Moon (a = 384,400 km, GM 4902.8).
    ``new``: parking altitude 600–2,000 km and a "new moon": semi-major axis scaled by
    0.85–0.93 or 1.07–1.20 and mass scaled by 0.5–0.8 or 1.25–2.0.
    Both: uniform parking angle, Moon polar angle and lunar perigee direction. ``ranges``
    (:func:`~moonshot.envs.moon_config.split_ranges`) replaces a split's ranges (the shift
    ladder); each quantity keeps its own draw, so changing one range changes that quantity and
    nothing else.
    """
    ids = np.atleast_1d(np.asarray(scenario_ids, dtype=np.int64))
    n = len(ids)
    # Row j = default_rng([ids[j], salt]).random(...): the draws of the per-id generator this
    # function has always used (same scenario for the same id), computed for the whole batch.
    u = seeded_uniforms(ids, _SPLIT_SALT[split], _DRAWS)
    r = ranges or SPLIT_RANGES[split]
    pa, ma, per = (_uniform(u[:, k], 0.0, 2 * np.pi) for k in range(3))
    alt = _uniform(u[:, 3], *r["park_altitude_km"])
    a = EARTH_MOON_DISTANCE * _intervals(u[:, 4], r["moon_orbit_scale"])
    gm = GM_MOON * _intervals(u[:, 5], r["moon_mass_scale"])
    sun = _uniform(u[:, 6], 0.0, 2 * np.pi)
    return Scenarios(ids, alt, pa, ma, a, np.full(n, float(eccentricity)), per, gm,
                     sphere_of_influence(a, gm, soi_radius), sun)


def observe(s: Scenarios) -> np.ndarray:
    """Observation rows (float32, shape (N, 9)), the slots of :data:`MOON_OBSERVATION`."""
    gm_total = GM_EARTH + s.gm_moon
    nu = s.moon_angle - s.moon_perigee
    p = s.moon_a * (1 - s.moon_e**2)
    dist = p / (1 + s.moon_e * np.cos(nu))
    v_radial = np.sqrt(gm_total / p) * s.moon_e * np.sin(nu)
    obs = np.stack([
        np.cos(s.park_angle), np.sin(s.park_angle), np.cos(s.moon_angle), np.sin(s.moon_angle),
        s.park_altitude / 1000.0, dist / EARTH_MOON_DISTANCE, v_radial * 10.0,
        (s.gm_moon / gm_total) / MU_EARTH_MOON, s.moon_a / EARTH_MOON_DISTANCE,
    ], axis=-1)
    return np.clip(obs, OBS_LOW, OBS_HIGH).astype(np.float32)


def check_actions(actions, n: int) -> np.ndarray:
    """Validate a batch of actions: shape (n, 3) and finite, else ``ValueError`` (values
    outside [-1, 1] are clipped later, as a single env's)."""
    a = np.asarray(actions, dtype=np.float64)
    if a.size != 3 * n:
        raise ValueError(f"expected {n} action(s) of 3 numbers, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("actions must be finite (values outside [-1, 1] are clipped); got "
                         f"NaN or infinite values: {a.reshape(-1, 3).tolist()}")
    return a.reshape(n, 3)


def launch(s: Scenarios, actions: np.ndarray,
           rng: np.random.Generator | list[np.random.Generator] | None, cfg: dict,
           traced: bool = False):
    """Fly the launches; returns ``(LaunchResult, executed delta_v, trajectories or None)``.

    ``rng`` draws the burn execution error (``None`` or ``execution_error=0``: exact burns);
    a list holds one generator per launch (each draws its launch's error, as a single env's);
    ``burn_bias`` and ``burn_bias_angle_deg`` are the engine's systematic error, applied before
    the random one.
    """
    coast, dv, angle = action_to_burn(actions, s.park_radius)
    bias, bias_deg = cfg.get("burn_bias", 0.0), cfg.get("burn_bias_angle_deg", 0.0)
    if bias or bias_deg:  # skipped when exact, so the flights stay the same bit for bit
        dv = dv * (1.0 + bias)
        angle = angle + math.radians(bias_deg)
    scale = cfg["execution_error"]
    if rng is not None and scale > 0:
        noise = (np.concatenate([r.standard_normal((1, 2)) for r in rng])
                 if isinstance(rng, list) else rng.standard_normal((len(s), 2)))
        dv = dv + scale * DV_ERROR_SIGMA * noise[:, 0]
        angle = angle + scale * ANGLE_ERROR_SIGMA * noise[:, 1]
    params = earth_moon.launch_params(
        s.park_radius, s.park_angle, coast, dv, angle, s.moon_angle, s.moon_a, s.moon_e,
        s.moon_perigee, GM_EARTH, s.gm_moon, R_EARTH, R_MOON,
        gm_sun=GM_SUN * float(cfg.get("sun_gravity", 0.0)), sun_angle=s.sun_angle)
    t_max = cfg["max_flight_days"] * DAY
    if traced:
        results, trajs = [], []
        for row in params:
            res, traj = earth_moon.fly_traced(row, rtol=cfg["rtol"], t_max=t_max)
            results.append(res)
            trajs.append(traj)
        cat = {f: np.concatenate([getattr(r, f) for r in results])
               for f in earth_moon.LaunchResult.__dataclass_fields__}
        return earth_moon.LaunchResult(**cat), dv, trajs
    return earth_moon.fly(params, rtol=cfg["rtol"], t_max=t_max), dv, None


_LOG_SPAN = math.log(EARTH_MOON_DISTANCE / R_MOON)


def score(result: earth_moon.LaunchResult, target: str, soi: np.ndarray | float = MOON_SOI,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rewards, success flags and outcome indices (into ``OUTCOMES``) of a batch of launches;
    ``soi``: each scenario's sphere-of-influence radius (the ``soi`` target).

    reward = proximity + success, proximity = clip(1 - ln(d / R_moon) / ln(384400 / R_moon), 0, 1)
    with d the closest approach to the Moon's centre; success adds 1. Bounded in [0, 2].
    """
    d = result.closest_approach
    landed = result.event == earth_moon.EVENT_MOON_IMPACT
    proximity = np.clip(1.0 - np.log(np.maximum(d, R_MOON) / R_MOON) / _LOG_SPAN, 0.0, 1.0)
    radius = soi if target == "soi" else TARGETS[target]
    success = landed if target == "landing" else (landed | (d <= radius))
    outcome = np.full(len(d), OUTCOMES.index("missed"))
    outcome[result.event == earth_moon.EVENT_EARTH_IMPACT] = OUTCOMES.index("crashed_earth")
    outcome[result.event == earth_moon.EVENT_ESCAPE] = OUTCOMES.index("escaped")
    outcome[result.event == earth_moon.EVENT_FELL_BACK] = OUTCOMES.index("fell_back")
    outcome[d <= soi] = OUTCOMES.index("entered_soi")
    outcome[d <= TARGETS["flyby"]] = OUTCOMES.index("flyby")
    outcome[landed] = OUTCOMES.index("landed")
    reward = proximity + success.astype(np.float64)
    return reward, success, outcome


def rocket_lost(result: earth_moon.LaunchResult, success: np.ndarray) -> np.ndarray:
    """``info["death"]`` of a batch: the rocket destroyed short of its target (its flight ended
    on the Earth or falling back to it, :data:`DESTROYING_EVENTS`). The Moon is never a wrong
    body: hitting it reaches every target. A launch that reached its target is no death
    whatever came after (a return to the Earth after the sphere of influence), and a miss
    or an escape is a lost-but-intact outcome, not a death."""
    # a table lookup: np.isin took ~20 us per call, 15% of a single-env launch
    return _DESTROYS[result.event] & ~np.asarray(success, dtype=bool)


def info_arrays(s: Scenarios, result: earth_moon.LaunchResult, dv: np.ndarray,
                success: np.ndarray, outcome: np.ndarray) -> dict[str, np.ndarray]:
    """The per-launch ``info`` values of a batch, one array per key (the contract's keys plus
    the tracking data a planner corrects from)."""
    return {
        "is_success": np.asarray(success, dtype=bool),
        "death": rocket_lost(result, success),
        "outcome": np.array(OUTCOMES, dtype=object)[outcome],
        "map_id": s.scenario_id.copy(),
        "closest_approach_km": result.closest_approach,
        "time_of_flight_days": result.time_of_closest / DAY,
        "delta_v_kms": np.asarray(dv, dtype=np.float64),
        "miss_vector_km": result.miss,
        "miss_velocity_kms": result.miss_velocity,
        "integration_steps": result.steps,
    }


def reset_info(scenario_id: int, split: str) -> dict:
    """The ``info`` of ``reset`` for one scenario (the batched env returns the same keys)."""
    return {"map_id": int(scenario_id), "is_success": False, "split": split}


def step_infos(s: Scenarios, result: earth_moon.LaunchResult, dv: np.ndarray,
               success: np.ndarray, outcome: np.ndarray, split: str, target: str) -> list[dict]:
    """One ``info`` dict per launch: :func:`info_arrays` row by row, plus split and target."""
    arrays = info_arrays(s, result, dv, success, outcome)
    infos = []
    for j in range(len(s)):
        info = {k: (v[j].copy() if v.ndim > 1 else v[j].item() if isinstance(v[j], np.generic)
                    else v[j]) for k, v in arrays.items()}
        info.update(split=split, target=target)
        infos.append(info)
    return infos


def physical_constants(s: Scenarios, j: int = 0) -> dict:
    """What a mission designer knows about scenario ``j``: constants and ephemeris elements
    that the observation also carries (the lunar eccentricity and perigee are left out)."""
    return {
        "gm_earth": GM_EARTH, "gm_moon": float(s.gm_moon[j]), "r_earth": R_EARTH,
        "r_moon": R_MOON, "moon_semi_major_axis": float(s.moon_a[j]),
        "moon_soi": float(s.moon_soi[j]), "flyby_radius": TARGETS["flyby"],
    }
