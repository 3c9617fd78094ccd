"""Agents: stable-baselines3 RL agents and model-based planners behind one interface."""

from __future__ import annotations

from .base import Agent

__all__ = ["Agent"]
