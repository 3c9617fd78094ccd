"""Agents: stable-baselines3 RL agents and model-based planners behind one interface.

``Agent`` is the interface; ``MoonPlanner`` and ``CityPlanner`` are the model-based planners;
``train`` / ``TrainConfig`` train RL agents; ``load_agent`` / ``resolve_agent`` give back any
agent from its spec (``planner:WORLD``, a run folder, ``module:Class``). The RL names import
stable-baselines3 (and torch) on first use only.
"""

from __future__ import annotations

from typing import Any

from .base import Agent, AgentCosts, EpisodeRecord, run_episode
from .episodes import EvalResult, EvalSettings, evaluate
from .loading import AgentSpec, load_agent, register_agent_kind, resolve_agent
from .moon_planner import MoonPlanner

_LAZY = {"train": "training", "TrainConfig": "config", "SB3Agent": "sb3_agent",
         "CityPlanner": "city"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["Agent", "AgentCosts", "EvalResult", "EvalSettings", "evaluate", "EpisodeRecord",
           "run_episode", "MoonPlanner", "CityPlanner", "train", "TrainConfig", "load_agent",
           "resolve_agent", "AgentSpec", "register_agent_kind", "SB3Agent"]
