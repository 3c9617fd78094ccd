"""Deprecated location of :class:`~moonshot.agents.city.CityPlanner` (now the package
:mod:`moonshot.agents.city`, with the planner's own models beside it); kept so that
``from moonshot.agents.city_planner import CityPlanner`` and the import string
``moonshot.agents.city_planner:CityPlanner`` keep working."""

from __future__ import annotations

from .city.planner import CityPlanner

__all__ = ["CityPlanner"]
