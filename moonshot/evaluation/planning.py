"""Running the model-based planners the way RL runs are run: same logs, same footing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError


def scenario_ids(seed: int, n: int) -> np.ndarray:
    """The MoonLaunch scenario ids of a run with ``seed`` (shared by planners and evaluators)."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)


def make_planner(world: str):
    """The model-based planner of a world (``moon`` or ``city``)."""
    if world == "moon":
        from ..agents import MoonPlanner

        return MoonPlanner()
    from ..agents.city_planner import CityPlanner

    return CityPlanner()


def run_planner(world: str, *, episodes: int, seed: int, split: str, out: Path,
                target: str | None = None, max_trials: int = 5, progress: bool = True,
                env_kwargs: dict | None = None) -> dict:
    """Run the planner of ``world`` and write ``episodes.csv``, ``summary.json``,
    ``config.json`` into ``out``; returns the summary."""
    import gymnasium as gym

    from .. import ENV_IDS
    from ..agents.training import versions
    from ..runlog import EpisodeLog, write_json
    from .rollout import run_scenarios, summarize

    kwargs = dict(env_kwargs or {})
    kwargs["split"] = split
    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    if target is not None:
        if world != "moon":
            raise ConfigError("--target applies to the moon world only")
        kwargs["target"] = target
    env = gym.make(ENV_IDS[world], **kwargs).unwrapped
    agent = make_planner(world)
    out.mkdir(parents=True, exist_ok=True)
    config = {"command": "plan", "env": ENV_IDS[world], "agent": agent.name, "seed": seed,
              "episodes": episodes, "split": split, "env_kwargs": kwargs,
              "max_trials": max_trials if world == "moon" else 1, "versions": versions()}
    write_json(out / "config.json", config)
    t0 = time.perf_counter()
    with EpisodeLog(out / "episodes.csv") as log:
        records = run_scenarios(
            agent, env, n=episodes, seed=seed, split=split, log=log,
            scenario_ids=scenario_ids(seed, episodes) if world == "moon" else None,
            max_trials=max_trials if world == "moon" else 1, progress=progress,
            desc=f"{world} planner ({split})")
    summary = summarize(records)
    summary.update({"env": ENV_IDS[world], "agent": agent.name, "split": split,
                    "wall_time_s": time.perf_counter() - t0})
    write_json(out / "summary.json", summary)
    env.close()
    return summary
