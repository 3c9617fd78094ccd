"""MoonLaunch's action space as the env publishes it: the map between an action in
``[-1, 1]^3`` and a burn (coast time, delta-v, direction).

The table of the env docstring's *Action Space*, in code. It holds no dynamics, so a planner
may use it (it is the interface between an agent and the world, as a rocket's control manual
is) without touching the simulator.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ..physics.constants import GM_EARTH

# Action scaling: a in [-1, 1]^3 -> (coast fraction of a parking revolution, delta-v, angle).
DV_CENTER = 3.1  # km/s, about the trans-lunar injection from low Earth orbit
DV_HALF_RANGE = 0.4  # km/s: delta-v in [2.7, 3.5]
BURN_ANGLE_MAX = math.radians(30.0)


def parking_period(park_radius: ArrayLike, gm_earth: float = GM_EARTH) -> np.ndarray:
    """Period (s) of a circular orbit of radius ``park_radius`` km."""
    return 2 * np.pi * np.sqrt(np.asarray(park_radius) ** 3 / gm_earth)


def action_to_burn(actions: ArrayLike,
                   park_radius: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map actions in [-1, 1]^3 to ``(coast_time_s, delta_v_kms, burn_angle_rad)``.

    coast_time covers one revolution of the parking orbit; delta_v spans 2.7–3.5 km/s;
    the burn angle spans ±30° from prograde (counterclockwise positive).
    """
    a = np.clip(np.asarray(actions, dtype=np.float64).reshape(-1, 3), -1.0, 1.0)
    coast = 0.5 * (a[:, 0] + 1.0) * parking_period(park_radius)
    dv = DV_CENTER + DV_HALF_RANGE * a[:, 1]
    angle = BURN_ANGLE_MAX * a[:, 2]
    return coast, dv, angle


def burn_to_action(coast_time: ArrayLike, delta_v: ArrayLike, burn_angle: ArrayLike,
                   park_radius: ArrayLike) -> np.ndarray:
    """Inverse of :func:`action_to_burn` (coast time taken modulo one revolution)."""
    period = parking_period(park_radius)
    frac = np.mod(coast_time, period) / period
    a = np.stack([2 * frac - 1, (np.asarray(delta_v) - DV_CENTER) / DV_HALF_RANGE,
                  np.asarray(burn_angle) / BURN_ANGLE_MAX], axis=-1)
    return a.astype(np.float32)
