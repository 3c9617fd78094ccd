"""A tiny third world, declared from outside the package: what a contributor writes to plug
a new world into moonshot (an env, a planner, one registration)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from moonshot.agents import Agent
from moonshot.worlds import ShiftAxis, World, register_world, unregister_world

ENV_ID = "tests/Line-v0"


class LineEnv(gym.Env):
    """Walk along a line to a goal: observation ``[position, goal]``, action a step in
    [-1, 1] (times 0.2), success within 0.1 of the goal, at most 20 steps. ``split="new"``
    puts the goal on the other side; ``far`` scales its distance (a shift axis). Its
    ``default_config`` does not list ``far``: an env need not declare every setting."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(self, split: str = "train", render_mode: str | None = None, far: float = 1.0):
        self.split, self.render_mode, self.far = split, render_mode, float(far)
        self.observation_space = spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.pos = self.goal = 0.0
        self.sid = self.steps = 0

    @classmethod
    def default_config(cls) -> dict:
        return {"split": "train"}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.sid = int((options or {}).get("scenario_id", self.np_random.integers(1000)))
        rng = np.random.default_rng(self.sid)
        side = 1.0 if self.split == "train" else -1.0
        self.pos, self.goal, self.steps = 0.0, side * self.far * rng.uniform(0.5, 1.5), 0
        return self._obs(), {"map_id": self.sid, "is_success": False}

    def _obs(self):
        return np.array([self.pos, self.goal], np.float32)

    def step(self, action):
        a = float(np.clip(np.ravel(action)[0], -1, 1))
        if not np.isfinite(a):
            raise ValueError("action must be finite")
        self.pos = float(np.clip(self.pos + 0.2 * a, -2, 2))
        self.steps += 1
        done = abs(self.pos - self.goal) < 0.1
        truncated = not done and self.steps >= 20
        info = {"map_id": self.sid, "is_success": done, "death": False}
        if done or truncated:
            info["outcome"] = "arrived" if done else "timeout"
        return self._obs(), (1.0 if done else -0.01), done, truncated, info

    def render(self):
        img = np.full((32, 64, 3), 255, np.uint8)
        img[:, int(16 * (self.goal + 2)) % 64] = (0, 160, 0)
        img[8:24, int(16 * (self.pos + 2)) % 64] = (200, 0, 0)
        return img


class LinePlanner(Agent):
    """Knows the line: steps straight to the goal."""

    name = "planner"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        pos, goal = observation
        return np.array([np.clip((goal - pos) / 0.2, -1, 1)], np.float32), state


def register() -> World:
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=LineEnv)
    return register_world(World(
        name="line", title="Line", env_id=ENV_ID, planner=LinePlanner,
        trials_per_scenario=2, replay_option="scenario_id", episode_unit="walk",
        hyperparams={"ppo": {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1}},
        shift_axes={"distance": ShiftAxis("distance", ({}, {"far": 1.3}), ("x1", "x1.3"),
                                          "the goal further away")}),
        replace=True)


def unregister() -> None:
    unregister_world("line")
