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


class LidarSteer(Agent):
    """A CityNav agent that reads only its lidar: half throttle, steering towards the more
    open side (so whatever changes what the lidar sees changes its drive)."""

    name = "lidar-steer"
    env_id = "moonshot/CityNav-v1"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        lidar = np.asarray(observation)[:32]  # the default 32 rays, ray k at 2πk/32 from the nose
        left, right = lidar[1:8].mean(), lidar[25:32].mean()
        return np.array([0.5, np.clip(4.0 * (left - right), -1.0, 1.0)], np.float32), state
