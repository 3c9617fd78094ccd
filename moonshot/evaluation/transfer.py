"""Transfer: frozen agents on the training distribution and on held-out ("new") worlds.

Agents are resolved by :func:`moonshot.agents.resolve_agent`: ``planner:WORLD``, a training
or planner run folder, or ``module:Class``.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from ..agents.loading import AgentSpec, resolve_agent
from ..runlog import EpisodeLog, read_json
from ..worlds import get_world
from .rollout import run_scenarios
from .stats import bootstrap_ci, bootstrap_diff_ci

__all__ = ["AgentSpec", "resolve_agent", "evaluate_agent", "generalization_gap",
           "relearning_cost"]


def evaluate_agent(spec: AgentSpec, split: str, episodes: int, seed: int,
                   out: Path | None = None, max_trials: int | None = None,
                   progress: bool = True, env_overrides: dict | None = None) -> dict:
    """Evaluate one frozen agent on ``split``; returns per-scenario figures with 95% CIs.

    In a world that replays scenarios (MoonLaunch): ``episodes`` scenarios, up to
    ``max_trials`` trials each (default: the world's ``trials_per_scenario``; a planner
    corrects between them, a frozen policy cannot). Otherwise (CityNav): ``episodes`` fresh
    episodes (drives on maps of the split).
    """
    from .planning import scenario_plan

    world = get_world(spec.env_id)
    kwargs = world.evaluation_kwargs(spec.env_kwargs)
    kwargs.update(env_overrides or {})
    kwargs["split"] = split
    env = gym.make(spec.env_id, **kwargs).unwrapped
    ids, trials = scenario_plan(world, seed + 7919, episodes,
                                world.trials_per_scenario if max_trials is None else max_trials)
    if out is not None and (out / "episodes.csv").exists():
        (out / "episodes.csv").unlink()  # an evaluation replaces its own earlier log
    log = EpisodeLog(out / "episodes.csv") if out is not None else None
    try:
        recs = run_scenarios(
            spec.agent, env, n=episodes, seed=seed, split=split, log=log, scenario_ids=ids,
            replay=world.replay, max_trials=trials, progress=progress,
            agent_name=spec.label, desc=f"{spec.label} on {split}")
    finally:
        if log is not None:
            log.close()
        env.close()
    # Per scenario: solved, first-trial solved, trials; per episode: deaths.
    scen_success, first, trials, rollouts = [], [], [], []
    for r in recs:
        if r.trial == 1:
            scen_success.append(False)
            first.append(r.success)
            trials.append(0)
            rollouts.append(0)
        trials[-1] += 1
        rollouts[-1] += r.model_rollouts
        scen_success[-1] = scen_success[-1] or r.success
    deaths = np.array([r.death for r in recs], dtype=float)
    times = []
    if world.time_to_goal is not None:
        times = [world.time_to_goal(r.final_info, r.length, env) for r in recs if r.success]
        times = [np.nan if t is None else float(t) for t in times]
    s, s_lo, s_hi = bootstrap_ci(np.array(scen_success, float))
    d, d_lo, d_hi = bootstrap_ci(deaths)
    return {
        "agent": spec.label, "env": spec.env_id, "split": split,
        "scenarios": len(scen_success), "episodes": len(recs),
        "success_rate": s, "success_low": s_lo, "success_high": s_hi,
        "first_trial_success_rate": float(np.mean(first)),
        "trials_per_scenario": float(np.mean(trials)),
        "death_rate": d, "death_low": d_lo, "death_high": d_hi, "deaths": int(deaths.sum()),
        "model_rollouts_per_scenario": float(np.mean(rollouts)),
        "time_to_goal": float(np.mean(times)) if times else None,
        "time_unit": world.time_unit,
        "_scenario_success": scen_success,
    }


def generalization_gap(train_res: dict, new_res: dict) -> dict:
    """Success on train minus success on new, with a bootstrap 95% interval."""
    g, lo, hi = bootstrap_diff_ci(np.array(train_res["_scenario_success"], float),
                                  np.array(new_res["_scenario_success"], float))
    return {"agent": train_res["agent"], "env": train_res["env"], "gap": g, "gap_low": lo,
            "gap_high": hi}


def relearning_cost(run_dir: Path, timesteps: int, out: Path, seed: int = 0,
                    window: int = 100, progress: bool = True, split: str = "new",
                    env_overrides: dict | None = None, target: float | None = None,
                    tolerance: float = 0.0) -> dict:
    """Fine-tune a trained RL agent where the world moved - the ``new`` split, or a shift
    level (``split="train"`` with ``env_overrides``, :meth:`ShiftAxis.settings`) - and count
    the env steps, episodes and deaths until its rolling success there (``window``
    episodes) is back at ``target`` minus ``tolerance``. ``target`` defaults to its success
    where it was trained: its last evaluation on the training split, else its final rolling
    training success. The cost of being dropped into a world it must relearn."""
    from ..agents.config import TrainConfig
    from ..agents.training import train
    from ..runlog import read_episodes, read_evaluations
    from .efficiency import run_metrics
    from .stats import rolling_rate

    run_dir = Path(run_dir)
    cfg = read_json(run_dir / "config.json")["train"]
    if target is None:
        evals = [r for r in read_evaluations(run_dir) if r["split"] == "train"]
        target = (float(evals[-1]["success_rate"]) if evals
                  else run_metrics(read_episodes(run_dir), window)["final_success_rate"])
    goal = target - tolerance
    env_kwargs = {**get_world(cfg["env"]).evaluation_kwargs(cfg.get("env_kwargs", {})),
                  **(env_overrides or {})}
    known = TrainConfig.__dataclass_fields__
    tc = TrainConfig(**{**{k: v for k, v in cfg.items() if k in known}, "out": str(out),
                        "split": split, "timesteps": timesteps, "seed": seed,
                        "progress": progress, "env_kwargs": env_kwargs,
                        "init_from": str(run_dir / "model.zip")})
    train(tc)
    log = read_episodes(out)
    roll = np.nan_to_num(rolling_rate(log["success"], window), nan=-1)
    back = np.flatnonzero(roll >= goal)
    i = int(back[0]) if len(back) else None
    return {"run": str(run_dir), "split": split, "env_overrides": env_overrides or {},
            "train_success_rate": target, "goal": goal,
            "episodes_to_recover": None if i is None else i + 1,
            "env_steps_to_recover": None if i is None else int(log["env_steps"][i]),
            "deaths_to_recover": int(log["death"].sum() if i is None else log["death"][:i].sum()),
            "recovered": i is not None, "finetune_episodes": int(len(log["episode"])),
            "finetune_env_steps": int(log["env_steps"][-1]) if len(log["episode"]) else 0}
