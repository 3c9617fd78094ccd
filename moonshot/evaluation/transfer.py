"""Transfer: frozen agents on the training distribution and on held-out ("new") worlds.

An agent spec is a training run folder (its ``model.zip``), a planner run folder (its
``config.json`` says ``"agent": "planner"``), or ``planner:moon`` / ``planner:city``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from .. import ENV_IDS, resolve_env_id
from ..agents.base import Agent
from ..runlog import EpisodeLog, read_json
from .rollout import run_scenarios
from .stats import bootstrap_ci, bootstrap_diff_ci


@dataclass
class AgentSpec:
    """A frozen agent, the env it belongs to and how to call it in tables."""

    label: str
    env_id: str
    env_kwargs: dict
    agent: Agent


def resolve_agent(spec: str) -> AgentSpec:
    """Turn a command-line agent spec into an :class:`AgentSpec` (see the module docstring)."""
    from .planning import make_planner

    if spec.startswith("planner:"):
        env_id = resolve_env_id(spec.split(":", 1)[1])
        return AgentSpec("planner", env_id, {}, make_planner(_world(env_id)))
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"no such run folder: {path} (or use planner:moon, "
                                "planner:city)")
    cfg_path = path / "config.json"
    cfg = read_json(cfg_path) if cfg_path.exists() else {}
    if cfg.get("command") == "plan":
        env_id = cfg["env"]
        kwargs = {k: v for k, v in cfg.get("env_kwargs", {}).items() if k != "split"}
        return AgentSpec("planner", env_id, kwargs, make_planner(_world(env_id)))
    from ..agents.training import load_agent

    agent = load_agent(path)
    train_cfg = cfg.get("train", {})
    kwargs = {k: v for k, v in train_cfg.get("env_kwargs", {}).items() if k != "split"}
    return AgentSpec(f"{agent.name} ({path.name})", cfg.get("env_id", ""), kwargs, agent)


def _world(env_id: str) -> str:
    return "moon" if env_id == ENV_IDS["moon"] else "city"


def evaluate_agent(spec: AgentSpec, split: str, episodes: int, seed: int,
                   out: Path | None = None, max_trials: int = 5, progress: bool = True,
                   env_overrides: dict | None = None) -> dict:
    """Evaluate one frozen agent on ``split``; returns per-scenario figures with 95% CIs.

    MoonLaunch: ``episodes`` scenarios, up to ``max_trials`` launches each (a planner corrects
    between them, a frozen policy cannot). CityNav: ``episodes`` drives on maps of the split.
    """
    from .planning import scenario_ids

    kwargs = dict(spec.env_kwargs)
    kwargs.update(env_overrides or {})
    kwargs["split"] = split
    env = gym.make(spec.env_id, **kwargs).unwrapped
    is_moon = spec.env_id == ENV_IDS["moon"]
    if out is not None and (out / "episodes.csv").exists():
        (out / "episodes.csv").unlink()  # an evaluation replaces its own earlier log
    log = EpisodeLog(out / "episodes.csv") if out is not None else None
    try:
        recs = run_scenarios(
            spec.agent, env, n=episodes, seed=seed, split=split, log=log,
            scenario_ids=scenario_ids(seed + 7919, episodes) if is_moon else None,
            max_trials=max_trials if is_moon else 1, progress=progress,
            agent_name=spec.label, desc=f"{spec.label} on {split}")
    finally:
        if log is not None:
            log.close()
        env.close()
    # Per scenario: solved, first-trial solved, trials; per episode: deaths.
    scen_success, first, trials = [], [], []
    for r in recs:
        if r.trial == 1:
            scen_success.append(False)
            first.append(r.success)
            trials.append(0)
        trials[-1] += 1
        scen_success[-1] = scen_success[-1] or r.success
    deaths = np.array([r.death for r in recs], dtype=float)
    dt = getattr(env, "dt", 0.1)  # CityNav control step, s
    times = [r.length * dt for r in recs if r.success] if not is_moon else [
        r.final_info.get("time_of_flight_days", np.nan) for r in recs if r.success]
    s, s_lo, s_hi = bootstrap_ci(np.array(scen_success, float))
    d, d_lo, d_hi = bootstrap_ci(deaths)
    return {
        "agent": spec.label, "env": spec.env_id, "split": split,
        "scenarios": len(scen_success), "episodes": len(recs),
        "success_rate": s, "success_low": s_lo, "success_high": s_hi,
        "first_trial_success_rate": float(np.mean(first)),
        "trials_per_scenario": float(np.mean(trials)),
        "death_rate": d, "death_low": d_lo, "death_high": d_hi, "deaths": int(deaths.sum()),
        "time_to_goal": float(np.mean(times)) if times else None,
        "time_unit": "days" if is_moon else "s",
        "_scenario_success": scen_success,
    }


def generalization_gap(train_res: dict, new_res: dict) -> dict:
    """Success on train minus success on new, with a bootstrap 95% interval."""
    g, lo, hi = bootstrap_diff_ci(np.array(train_res["_scenario_success"], float),
                                  np.array(new_res["_scenario_success"], float))
    return {"agent": train_res["agent"], "env": train_res["env"], "gap": g, "gap_low": lo,
            "gap_high": hi}


def relearning_cost(run_dir: Path, timesteps: int, out: Path, seed: int = 0,
                    window: int = 100, progress: bool = True) -> dict:
    """Fine-tune a trained RL agent on the new split and count its deaths until its rolling
    success on the new maps is back at its final rolling success on the training maps."""
    from ..agents.training import TrainConfig, train
    from ..runlog import read_episodes
    from .efficiency import run_metrics
    from .stats import rolling_rate

    cfg = read_json(Path(run_dir) / "config.json")["train"]
    base = run_metrics(read_episodes(run_dir), window)
    target_rate = base["final_success_rate"]
    tc = TrainConfig(**{**cfg, "out": str(out), "split": "new", "timesteps": timesteps,
                        "seed": seed, "progress": progress,
                        "init_from": str(Path(run_dir) / "model.zip")})
    train(tc)
    log = read_episodes(out)
    roll = np.nan_to_num(rolling_rate(log["success"], window), nan=-1)
    back = np.flatnonzero(roll >= target_rate)
    i = int(back[0]) if len(back) else None
    return {"run": str(run_dir), "train_success_rate": target_rate,
            "episodes_to_recover": None if i is None else i + 1,
            "deaths_to_recover": int(log["death"].sum() if i is None else log["death"][:i].sum()),
            "recovered": i is not None, "finetune_episodes": int(len(log["episode"]))}
