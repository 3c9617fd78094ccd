"""CityNav's model-based driver and its own models.

* :mod:`.planner`: :class:`CityPlanner`, the driver;
* :mod:`.car_model`: its model of its own car (a textbook bicycle with a friction circle);
* :mod:`.drivers`: its model of other drivers (tracks, online estimates, prediction);
* :mod:`.lights`: how it reads traffic lights;
* :mod:`.oracle_models`: the simulator's code and hidden state, for the labelled
  ``perception="oracle"`` ablation only. No other module here imports the env's dynamics
  (``physics.city.ego``, ``traffic``, ``batch``): tested.
"""

from __future__ import annotations

from .planner import CityPlanner

__all__ = ["CityPlanner"]
