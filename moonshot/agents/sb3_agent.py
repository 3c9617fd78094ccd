"""A stable-baselines3 model behind moonshot's shared agent interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Agent


class SB3Agent(Agent):
    """Wraps a trained SB3 model (``PPO``, ``SAC``, sb3-contrib's ``RecurrentPPO``, ...):
    ``predict`` is the model's.

    ``normalizer``: the run's ``VecNormalize`` statistics, if it trained on normalized
    observations; raw observations are normalized with them (never updating them).
    ``frame_stack``: the run's ``frame_stack`` (RL Zoo's): the agent keeps its last
    ``frame_stack`` observations side by side, newest last, zeros before the episode's first -
    what SB3's ``VecFrameStack`` gave the policy in training. A recurrent policy
    (``RecurrentPPO``) keeps its LSTM state through an episode and starts each episode afresh.
    Both remember within an episode, so they act one episode at a time (``batched`` False);
    a memoryless policy acts on batches.
    """

    def __init__(self, model: Any, name: str = "rl", normalizer: Any = None,
                 frame_stack: int = 1):
        self.model = model
        self.name = name
        self.normalizer = normalizer
        self.frame_stack = max(1, int(frame_stack))
        self.recurrent = hasattr(getattr(model, "policy", None), "lstm_actor")
        #: ``predict`` takes a batch of observations and the hooks do nothing: the evaluation
        #: core may run its episodes side by side (:func:`~moonshot.agents.episodes.evaluate`).
        self.batched = self.frame_stack == 1 and not self.recurrent
        self.run_dir: Path | None = None
        self._frames: np.ndarray | None = None
        self._lstm: Any = None
        self._start = True

    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        self._frames, self._lstm, self._start = None, None, True

    def _stacked(self, observation: np.ndarray) -> np.ndarray:
        n = observation.shape[-1]
        if self._frames is None:
            self._frames = np.zeros((*observation.shape[:-1], n * self.frame_stack),
                                    dtype=observation.dtype)
        self._frames = np.roll(self._frames, -n, axis=-1)
        self._frames[..., -n:] = observation
        return self._frames.copy()

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        observation = np.asarray(observation)
        if self.normalizer is not None:
            observation = self.normalizer.normalize_obs(observation)
        if self.frame_stack > 1:
            observation = self._stacked(observation)
        if self.recurrent and state is None and episode_start is None:
            # one episode step by step (run_episode): the memory is the agent's own
            action, self._lstm = self.model.predict(
                observation, state=self._lstm, episode_start=np.array([self._start]),
                deterministic=deterministic)
            self._start = False
            return action, None
        action, state = self.model.predict(observation, state=state,
                                           episode_start=episode_start,
                                           deterministic=deterministic)
        return action, state
