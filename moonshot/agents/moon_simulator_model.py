"""The MoonPlanner's *simulator* model: an oracle ablation, never a headline.

This model is not the planner's own: it wraps the environment's dynamics (the planar
Earth-Moon problem of :mod:`moonshot.physics.earth_moon`, integrated by the env's compiled
Dormand-Prince code), so rehearsing in it is rehearsing in the simulator itself, with only the
Moon's ellipse reconstructed from the observation. The information rule (docs/design.md,
"The information rule") allows such a model only as a labelled ablation, in a module whose
name says so; the planner loads it only for ``MoonPlanner(model="simulator")``, whose label
says ``simulator, oracle``.
"""

from __future__ import annotations

import numpy as np

from ..physics import earth_moon
from ..physics.constants import DAY
from .moon_planner import signed_miss


def simulator_miss(sc: dict, coast: np.ndarray, dv: float,
                   rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Imagined prograde launches at burn times ``coast`` flown by the simulator's own code:
    ``(signed miss, closest approach)`` in km (``sc``: the planner's scenario, see
    :meth:`~moonshot.agents.moon_planner.MoonPlanner.scenario_from_observation`)."""
    params = earth_moon.launch_params(
        sc["park_radius"], sc["park_angle"], coast, dv, 0.0, sc["moon_angle"], sc["moon_a"],
        sc["moon_e"], sc["moon_perigee"], sc["gm_earth"], sc["gm_moon"], sc["r_earth"],
        sc["r_moon"])
    res = earth_moon.fly(params, rtol=rtol, t_max=8 * DAY)
    return signed_miss(res.miss, res.miss_velocity), res.closest_approach
