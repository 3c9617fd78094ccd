"""A user's own agents, given to the command line as ``module:Class``."""

from __future__ import annotations

import numpy as np

from moonshot.agents import Agent


class StraightShot(Agent):
    """A MoonLaunch agent that always burns the same way (it says which world it acts in)."""

    name = "straight-shot"
    env_id = "moonshot/MoonLaunch-v1"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.array([0.0, 0.0, 0.0], np.float32), state


class NoWorld(Agent):
    """An agent that does not say where it acts: needs ``--env``."""

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.zeros(3, np.float32), state


class NotAnAgent:
    pass
