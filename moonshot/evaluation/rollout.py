"""Run any agent in any moonshot env and log every episode the same way.

The evaluation core is :mod:`moonshot.agents.episodes` (:func:`~moonshot.agents.episodes.
evaluate`); :func:`run_scenarios` is its loop with the scenarios given explicitly, kept for
scripts and tests that pin scenario ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..agents.base import Agent, EpisodeRecord, run_episode
from ..agents.episodes import EvalSettings, ScenarioSet, play_scenarios, summarize
from ..runlog import EpisodeLog

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["EpisodeRecord", "run_episode", "run_scenarios", "summarize"]


def run_scenarios(agent: Agent, env: gym.Env, *, n: int, seed: int, split: str,
                  log: EpisodeLog | None = None, scenario_ids: Sequence[int] | None = None,
                  replay: Callable[[int], dict | None] | None = None,
                  max_trials: int = 1, agent_name: str | None = None,
                  progress: bool = True, desc: str | None = None,
                  on_scenario: Callable[[list[EpisodeRecord], int], None] | None = None,
                  ) -> list[EpisodeRecord]:
    """Run ``agent`` on ``n`` scenarios (or maps), up to ``max_trials`` tries each.

    With ``scenario_ids`` every trial at scenario ``i`` replays it (``reset(options=
    replay(id))``, the world's :meth:`~moonshot.worlds.World.replay`); otherwise scenario
    ``i`` is the env's ``reset(seed=seed + i)`` (CityNav draws a map and a drive from its
    split), so every agent meets the same scenarios whatever happened in the ones before.
    See :func:`~moonshot.agents.episodes.play_scenarios`.
    """
    if n < 1:
        raise ValueError(f"the number of episodes must be >= 1, got {n}")
    if max_trials < 1:
        raise ValueError(f"max_trials must be >= 1, got {max_trials}")
    ids = None if scenario_ids is None else tuple(int(i) for i in scenario_ids)
    settings = EvalSettings(split=split, episodes=n, seed=seed, progress=progress,
                            label=agent_name, desc=desc)
    return play_scenarios(agent, env, ScenarioSet(seed=seed, n=n, max_trials=max_trials,
                                                  ids=ids), settings, replay=replay, log=log,
                          on_scenario=on_scenario)
