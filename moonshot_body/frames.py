"""``moonshot render body``: episodes of an agent drawn every other control step (25 frames
a second of a 50 Hz body: a GIF at the world's ``render_fps`` plays in real time)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from moonshot.agents.base import run_episode
from moonshot.agents.episodes import scenario_set
from moonshot.agents.loading import AgentSpec
from moonshot.worlds import get_world

#: Control steps between two frames.
EVERY = 2


def body_frames(spec: AgentSpec, split: str, episodes: int, seed: int,
                view: str | None = None, max_frames: int = 400,
                done: Callable[[], object] | None = None) -> list[np.ndarray]:
    """Frames of ``episodes`` walks of ``spec``'s agent (the scenarios of a ``moonshot plan``
    run with the same seed), each walk's last frame held for half a second."""
    world = get_world(spec.env_id)
    scenarios = scenario_set(world, split, seed, episodes, kind="run", seed_set="legacy")
    env = gym.make(spec.env_id, render_mode="rgb_array",
                   **{**spec.env_kwargs, "split": split}).unwrapped
    per_walk = max(2, max_frames // episodes)
    frames: list[np.ndarray] = []
    try:
        for i in range(episodes):
            walk: list[np.ndarray] = []
            run_episode(spec.agent, env, seed=scenarios.seed + i, frames=walk,
                        frame_every=EVERY)
            if len(walk) > per_walk:
                walk = walk[:: int(np.ceil(len(walk) / per_walk))] + [walk[-1]]
            frames += walk + [walk[-1]] * 12
            if done is not None:
                done()
    finally:
        env.close()
    return frames
