"""A stable-baselines3 model behind moonshot's shared agent interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Agent


class SB3Agent(Agent):
    """Wraps a trained SB3 model (``PPO``, ``SAC``, ...): ``predict`` is the model's; the
    episode hooks do nothing, since a frozen policy does not learn between episodes."""

    def __init__(self, model: Any, name: str = "rl"):
        self.model = model
        self.name = name
        self.run_dir: Path | None = None

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        action, state = self.model.predict(np.asarray(observation), state=state,
                                           episode_start=episode_start,
                                           deterministic=deterministic)
        return action, state
