"""Transfer: frozen agents on the training distribution and on held-out ("new") worlds.

Agents are resolved by :func:`moonshot.agents.resolve_agent`: ``planner:WORLD``, a training
or planner run folder, or ``module:Class``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..agents.episodes import EvalResult, EvalSettings, evaluate
from ..agents.loading import AgentSpec, resolve_agent
from ..runlog import EpisodeLog, read_json
from ..worlds import get_world
from .stats import bootstrap_ci, bootstrap_diff_ci

__all__ = ["AgentSpec", "TransferResult", "resolve_agent", "evaluate_agent",
           "generalization_gap", "relearning_cost"]


@dataclass
class TransferResult:
    """One frozen agent on one split: per-scenario success with a 95% bootstrap interval,
    first-trial success, real and imagined trials per scenario, deaths per episode (with
    its interval) and the world's time to the goal. :meth:`row` is its table/JSON form."""

    agent: str
    env: str
    split: str
    scenarios: int
    episodes: int
    success_rate: float
    success_low: float
    success_high: float
    first_trial_success_rate: float
    trials_per_scenario: float
    death_rate: float
    death_low: float
    death_high: float
    deaths: int
    model_rollouts_per_scenario: float
    time_to_goal: float | None
    time_unit: str | None
    #: every episode behind the figures (``None`` when read back from a table)
    result: EvalResult | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: dict) -> TransferResult:
        """Read back a :meth:`row` (``transfer.json``, a sweep cell's ``result.json``);
        figures an older file lacks are ``None``."""
        kwargs: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)
                                  if f.name != "result"}
        return cls(**kwargs)

    @classmethod
    def of(cls, res: EvalResult) -> TransferResult:
        s, s_lo, s_hi = bootstrap_ci(res.scenario_success)
        d, d_lo, d_hi = bootstrap_ci(res.deaths)
        return cls(agent=res.agent, env=res.env_id, split=res.split,
                   scenarios=len(res.scenarios), episodes=len(res.records), success_rate=s,
                   success_low=s_lo, success_high=s_hi,
                   first_trial_success_rate=res.first_trial_success_rate,
                   trials_per_scenario=float(np.mean(res.trials)), death_rate=d,
                   death_low=d_lo, death_high=d_hi, deaths=int(res.deaths.sum()),
                   model_rollouts_per_scenario=res.model_rollouts_per_scenario,
                   time_to_goal=res.mean_time_to_goal, time_unit=res.time_unit, result=res)

    def row(self) -> dict:
        """The figures as a dict (``transfer.csv``/``transfer.json``; no episodes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "result"}


def evaluate_agent(spec: AgentSpec, settings: EvalSettings,
                   out: Path | None = None) -> TransferResult:
    """Evaluate one frozen agent (:func:`~moonshot.agents.episodes.evaluate` on the
    evaluation scenario set) and write its episodes to ``out/episodes.csv``.

    In a world that replays scenarios (MoonLaunch): ``settings.episodes`` scenarios, up to
    ``max_trials`` trials each (default: the world's ``trials_per_scenario``; a planner
    corrects between them, a frozen policy cannot). Otherwise (CityNav): fresh episodes
    (drives on maps of the split).
    """
    if out is not None and (out / "episodes.csv").exists():
        (out / "episodes.csv").unlink()  # an evaluation replaces its own earlier log
    settings = replace(settings, label=spec.label,
                       desc=settings.desc or f"{spec.label} on {settings.split}")
    log = EpisodeLog(out / "episodes.csv") if out is not None else None
    try:
        res = evaluate(spec, None, settings, log=log)
    finally:
        if log is not None:
            log.close()
    return TransferResult.of(res)


def generalization_gap(train_res: TransferResult, new_res: TransferResult) -> dict:
    """Success on train minus success on new, with a bootstrap 95% interval."""
    if train_res.result is None or new_res.result is None:
        raise ValueError("generalization_gap needs the episodes behind both results; a "
                         "TransferResult read back from a table has none")
    g, lo, hi = bootstrap_diff_ci(train_res.result.scenario_success,
                                  new_res.result.scenario_success)
    return {"agent": train_res.agent, "env": train_res.env, "gap": g, "gap_low": lo,
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
