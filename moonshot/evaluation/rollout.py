"""Run any agent in any moonshot env and log every episode the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..agents.base import Agent, EpisodeRecord, run_episode
from ..progress import progress as progress_display
from ..runlog import EpisodeLog

__all__ = ["EpisodeRecord", "run_episode", "run_scenarios", "summarize"]


def run_scenarios(agent: Agent, env, *, n: int, seed: int, split: str,
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
    split), so every agent meets the same scenarios whatever happened in the ones before,
    and a further trial is a fresh reset. A scenario stops at its first success. Every
    episode is appended to ``log`` with cumulative env steps and wall time;
    ``on_scenario(records, env_steps)`` is called after each scenario with its trials.
    """
    if n < 1:
        raise ValueError(f"the number of episodes must be >= 1, got {n}")
    if max_trials < 1:
        raise ValueError(f"max_trials must be >= 1, got {max_trials}")
    name = agent_name or agent.name
    # Each evaluation starts from the same agent: a planner's corrections learned on
    # scenario ids of an earlier evaluation (another level of a ladder) must not carry over.
    agent.forget()
    records: list[EpisodeRecord] = []
    env_steps = log.last_env_steps if log else 0
    wall = log.last_wall_time if log else 0.0
    successes = 0
    bar = progress_display(n, desc or f"{name} {split}", unit="scenarios", enabled=progress,
                           leave=False)
    first = True
    try:
        for i in range(n):
            for trial in range(1, max_trials + 1):
                options, reset_seed = None, None
                if scenario_ids is not None:
                    options = (replay or _scenario_option)(int(scenario_ids[i]))
                    reset_seed = seed if first else None
                elif trial == 1:
                    reset_seed = seed + i
                rec = run_episode(agent, env, seed=reset_seed, options=options)
                first = False
                rec.trial = trial
                records.append(rec)
                env_steps += rec.length
                wall += rec.wall_time_s
                if log is not None:
                    log.add(env_steps=env_steps, wall_time_s=wall, ret=rec.ret,
                            length=rec.length, success=rec.success, death=rec.death,
                            split=split, map_id=rec.map_id, outcome=rec.outcome, trial=trial,
                            model_rollouts=rec.model_rollouts, compute_s=rec.compute_s,
                            agent=name, seed=seed)
                if rec.success:
                    break
            successes += int(records[-1].success)
            if on_scenario is not None:
                on_scenario(records[len(records) - trial:], env_steps)
            bar.set_postfix(success=f"{successes / (i + 1):.0%}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
        if log is not None:
            log.flush()
    return records


def _scenario_option(scenario_id: int) -> dict:
    return {"scenario_id": scenario_id}


def summarize(records: list[EpisodeRecord]) -> dict:
    """Success per scenario, trials per scenario, deaths, compute: the figures of a plan run."""
    if not records:
        return {}
    scen: dict[tuple[int, int], list[EpisodeRecord]] = {}
    key = 0
    for r in records:  # group consecutive trials of a scenario
        if r.trial == 1:
            key += 1
        scen.setdefault((key, r.map_id), []).append(r)
    trials = np.array([len(v) for v in scen.values()])
    solved = np.array([v[-1].success for v in scen.values()])
    compute = np.array([sum(x.compute_s for x in v) for v in scen.values()])
    out = {
        "scenarios": len(scen), "episodes": len(records),
        "success_rate": float(solved.mean()),
        "first_trial_success_rate": float(np.mean([v[0].success for v in scen.values()])),
        "mean_trials_per_scenario": float(trials.mean()),
        "max_trials_per_scenario": int(trials.max()),
        "deaths": int(sum(r.death for r in records)),
        "death_rate_per_episode": float(np.mean([r.death for r in records])),
        "median_compute_s_per_scenario": float(np.median(compute)),
        "model_rollouts": int(sum(r.model_rollouts for r in records)),
        "mean_model_rollouts_per_scenario": float(np.mean(
            [sum(x.model_rollouts for x in v) for v in scen.values()])),
        "mean_return": float(np.mean([r.ret for r in records])),
        "mean_length": float(np.mean([r.length for r in records])),
        "outcomes": {o: int(sum(r.outcome == o for r in records))
                     for o in sorted({r.outcome for r in records})},
    }
    return out
