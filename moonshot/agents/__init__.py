"""Agents: stable-baselines3 RL agents and model-based planners behind one interface."""

from __future__ import annotations

from .base import Agent
from .moon_planner import MoonPlanner

__all__ = ["Agent", "MoonPlanner"]
