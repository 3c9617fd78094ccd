"""A stable-baselines3 model behind moonshot's shared agent interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Agent


class SB3Agent(Agent):
    """Wraps a trained SB3 model (``PPO``, ``SAC``, ...): ``predict`` is the model's; the
    episode hooks do nothing, since a frozen policy does not learn between episodes.

    ``normalizer``: the run's ``VecNormalize`` statistics, if it trained on normalized
    observations; raw observations are normalized with them (never updating them).
    """

    #: ``predict`` takes a batch of observations and the hooks do nothing: the evaluation
    #: core may run its episodes side by side (:func:`~moonshot.agents.episodes.evaluate`).
    batched = True

    def __init__(self, model: Any, name: str = "rl", normalizer: Any = None):
        self.model = model
        self.name = name
        self.normalizer = normalizer
        self.run_dir: Path | None = None

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        observation = np.asarray(observation)
        if self.normalizer is not None:
            observation = self.normalizer.normalize_obs(observation)
        action, state = self.model.predict(observation, state=state,
                                           episode_start=episode_start,
                                           deterministic=deterministic)
        return action, state
