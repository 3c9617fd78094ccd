"""Evaluations are paired across agents: scenario ``i`` of a seed is the same drive for every
agent, however long or short the agent's earlier episodes were."""

import gymnasium as gym
import numpy as np

import moonshot  # noqa: F401 (registers the envs)
from moonshot.agents.base import Agent
from moonshot.evaluation.rollout import run_scenarios


class _Recorder(Agent):
    """Drives with a fixed action and remembers each episode's first observation."""

    def __init__(self, action):
        self.action = np.asarray(action, dtype=np.float32)
        self.starts = []

    def begin_episode(self, view, observation, info):
        self.starts.append(np.array(observation))

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return self.action, state


def test_every_agent_meets_the_same_drives():
    env = gym.make("moonshot/CityNav-v1", split="new", traffic_cars=10, time_limit=12).unwrapped
    fast, still = _Recorder([1.0, 0.3]), _Recorder([-1.0, 0.0])  # crashes early vs. waits
    a = run_scenarios(fast, env, n=4, seed=11, split="new", progress=False)
    b = run_scenarios(still, env, n=4, seed=11, split="new", progress=False)
    assert [r.length for r in a] != [r.length for r in b]  # different histories...
    assert [r.map_id for r in a] == [r.map_id for r in b]  # ...the same drives
    for x, y in zip(fast.starts, still.starts, strict=True):
        np.testing.assert_array_equal(x, y)
    env.close()
