"""The one small interface that every agent of moonshot shares.

RL policies and model-based planners are driven the same way, so the evaluator never asks what
kind of agent it holds::

    obs, info = env.reset(seed=...)
    agent.begin_episode(perception_view(agent, env), obs, info)
    while True:
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    agent.end_episode(info)

``predict`` has stable-baselines3's signature. ``begin_episode`` hands the agent what it may
know beyond its observation: an agent whose :attr:`Agent.perception` is ``"honest"`` (the
planners) receives the env's perception view (``env.unwrapped.perceive(...)``: the map or the
published constants, its own vehicle, what its sensors see - refreshed as the episode goes
on), never the env itself; ``"oracle"`` is the labelled ablation with privileged state; an
agent with ``perception = None`` (RL) receives ``None``: it knows its observation and reward.
``end_episode`` shows the agent the outcome (``info`` of the last step), so that a planner can
correct its next trial from a miss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np


class Agent:
    """Base class of all agents; subclasses override :meth:`predict` and optionally the hooks."""

    #: Short name used in logs, tables and plots.
    name: str = "agent"
    #: What the agent may know beyond its observation: ``None`` (nothing: RL), ``"honest"``
    #: (the env's perception view: what a person in its place could know) or ``"oracle"``
    #: (privileged state, an ablation).
    perception: str | None = None

    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """Called after each ``env.reset`` with the perception ``view`` (``None`` for an
        agent without perception). Default: nothing."""

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        """Return ``(action, state)`` for ``observation``, as stable-baselines3 does."""
        raise NotImplementedError

    def end_episode(self, info: dict) -> None:
        """Called with the ``info`` of the last step of each episode. Default: nothing."""

    def forget(self) -> None:
        """Drop what the agent learned from the outcomes of earlier episodes (a planner's
        corrections from its misses). The evaluator calls it before every evaluation, so each
        one starts from the same agent whatever was evaluated before. Default: nothing."""

    def planning_time_s(self) -> float:
        """Compute time spent in model-based rehearsal since the last call (0 for RL)."""
        return 0.0

    def model_rollouts(self) -> int:
        """Imagined trials (rollouts of the agent's own model of the world) since the last
        call: the rehearsed launches or imagined drives behind an episode (0 for RL)."""
        return 0


@dataclass
class EpisodeRecord:
    """One episode (a launch or a drive) as logged in ``episodes.csv``."""

    map_id: int
    trial: int
    ret: float
    length: int
    success: bool
    death: bool
    outcome: str
    compute_s: float
    wall_time_s: float
    final_info: dict
    model_rollouts: int = 0


def perception_view(agent: Agent, env) -> Any:
    """The view ``agent`` may have of ``env`` (``None`` for an agent without perception)."""
    mode = getattr(agent, "perception", None)
    if mode is None:
        return None
    perceive = getattr(env.unwrapped, "perceive", None)
    if perceive is None:
        raise TypeError(f"agent {agent.name!r} needs a perception view ({mode}) and "
                        f"{type(env.unwrapped).__name__} has no perceive()")
    return perceive(mode)


def run_episode(agent: Agent, env, *, seed: int | None = None, options: dict | None = None,
                frames: list | None = None, frame_every: int = 1) -> EpisodeRecord:
    """Run one episode of ``agent`` in ``env`` through the shared agent interface.

    With ``frames`` (a list), rendered frames are appended to it (env must have a render mode):
    the first, every ``frame_every``-th step's and the last.
    """
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed, options=options)
    agent.begin_episode(perception_view(agent, env), obs, info)
    if frames is not None:
        frames.append(env.render())
    ret, length = 0.0, 0
    while True:
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        ret += float(reward)
        length += 1
        if frames is not None and (length % frame_every == 0 or terminated or truncated):
            frames.append(env.render())
        if terminated or truncated:
            break
    agent.end_episode(info)
    return EpisodeRecord(
        map_id=int(info.get("map_id", -1)), trial=1, ret=ret, length=length,
        success=bool(info.get("is_success", False)), death=bool(info.get("death", False)),
        outcome=str(info.get("outcome", "timeout" if truncated else "")),
        compute_s=agent.planning_time_s(), wall_time_s=time.perf_counter() - t0,
        final_info=info, model_rollouts=int(agent.model_rollouts()))
