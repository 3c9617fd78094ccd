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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym


class Agent:
    """Base class of all agents; subclasses override :meth:`predict` and optionally the hooks."""

    #: Short name used in logs, tables and plots.
    name: str = "agent"
    #: What the agent may know beyond its observation: ``None`` (nothing: RL), ``"honest"``
    #: (the env's perception view: what a person in its place could know) or ``"oracle"``
    #: (privileged state, an ablation).
    perception: str | None = None
    #: ``predict`` takes a batch of observations and the agent learns nothing between
    #: episodes: the evaluation core may run its fresh-reset episodes side by side.
    batched: bool = False
    #: The agent corrects its next trial from the outcome of a failed one (the planners and
    #: model learners read the tracking data of a miss; a frozen RL policy repeats itself).
    #: In a world that replays scenarios, such an agent gets up to the world's
    #: ``trials_per_scenario`` real trials per scenario, any other one (:func:`~moonshot.
    #: agents.episodes.trials_allowed`); ``--max-trials`` overrides both.
    learns_from_outcomes: bool = False

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

    def costs(self) -> AgentCosts:
        """What the agent spent imagining so far, cumulative (never reset by reading):
        :func:`run_episode` logs the difference across an episode. Default: nothing (RL)."""
        return AgentCosts()

    def planning_time_s(self) -> float:
        """Compute seconds spent in model-based rehearsal so far (``costs().compute_s``).

        Older subclasses overrode this (and :meth:`model_rollouts`) to return the time
        *since the last call*; :func:`run_episode` still reads such an agent that way, once
        per episode, as long as it does not override :meth:`costs`."""
        return self.costs().compute_s

    def model_rollouts(self) -> int:
        """Imagined trials (rollouts of the agent's own model of the world) so far: the
        rehearsed launches or imagined drives (``costs().model_rollouts``; see
        :meth:`planning_time_s` for subclasses written for the older per-call reading)."""
        return self.costs().model_rollouts


@dataclass(frozen=True)
class AgentCosts:
    """An agent's imagined work, cumulative: model rollouts (imagined trials), the compute
    seconds spent planning, and model steps: the env steps the imagined trials stand for, in
    the env's own units so that they add to real env steps (a rehearsed launch is one step of
    MoonLaunch; an imagined drive of 5 s is 50 steps of a 10 Hz CityNav). Subtract two
    readings for what happened between them."""

    model_rollouts: int = 0
    compute_s: float = 0.0
    model_steps: int = 0

    def __sub__(self, other: AgentCosts) -> AgentCosts:
        return AgentCosts(self.model_rollouts - other.model_rollouts,
                          self.compute_s - other.compute_s,
                          self.model_steps - other.model_steps)


def _legacy_counters(agent: Agent) -> bool:
    """An agent written for the older reading: it overrides ``model_rollouts`` or
    ``planning_time_s`` (counts since the last call) and not ``costs``."""
    cls = type(agent)
    if getattr(cls, "costs", None) is None:  # duck-typed, not an Agent
        return True
    return (cls.costs is Agent.costs
            and (getattr(cls, "model_rollouts", None) is not Agent.model_rollouts
                 or getattr(cls, "planning_time_s", None) is not Agent.planning_time_s))


def episode_costs(agent: Agent, before: AgentCosts | None) -> AgentCosts:
    """What ``agent`` spent since ``before`` (a :meth:`Agent.costs` reading taken at the
    episode's start; ``None`` for an agent with the older per-call counters)."""
    if before is None:
        return AgentCosts(int(getattr(agent, "model_rollouts", int)()),
                          float(getattr(agent, "planning_time_s", float)()))
    return agent.costs() - before


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
    #: imagined env steps behind the episode (:attr:`AgentCosts.model_steps`)
    model_steps: int = 0


def perception_view(agent: Agent, env: gym.Env) -> Any:
    """The view ``agent`` may have of ``env`` (``None`` for an agent without perception)."""
    mode = getattr(agent, "perception", None)
    if mode is None:
        return None
    perceive = getattr(env.unwrapped, "perceive", None)
    if perceive is None:
        raise TypeError(f"agent {agent.name!r} needs a perception view ({mode}) and "
                        f"{type(env.unwrapped).__name__} has no perceive()")
    return perceive(mode)


def run_episode(agent: Agent, env: gym.Env, *, seed: int | None = None, options: dict | None = None,
                frames: list | None = None, frame_every: int = 1) -> EpisodeRecord:
    """Run one episode of ``agent`` in ``env`` through the shared agent interface.

    With ``frames`` (a list), rendered frames are appended to it (env must have a render mode):
    the first, every ``frame_every``-th step's and the last.
    """
    t0 = time.perf_counter()
    before = None if _legacy_counters(agent) else agent.costs()
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
    spent = episode_costs(agent, before)
    return EpisodeRecord(
        map_id=int(info.get("map_id", -1)), trial=1, ret=ret, length=length,
        success=bool(info.get("is_success", False)), death=bool(info.get("death", False)),
        outcome=str(info.get("outcome", "timeout" if truncated else "")),
        compute_s=spent.compute_s, wall_time_s=time.perf_counter() - t0,
        final_info=info, model_rollouts=spent.model_rollouts, model_steps=spent.model_steps)
