"""Sample efficiency from ``episodes.csv`` files alone, so every agent is on the same footing.

For one run: episodes, env steps, wall time and deaths until the first success and until the
rolling success rate first reaches 50% and 90%. For several runs (seeds) of one agent: learning
curves (rolling success against real episodes and against real + imagined env steps) with
the mean, a Student-t 95% interval over the runs (seeds) and the IQM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..agents.episodes import scenario_starts
from ..errors import ConfigError
from ..runlog import read_episodes, read_json
from ..worlds import display_env, get_world
from ..worlds.plugins import import_recorded
from .stats import iqm, mean_ci_over_seeds, rolling_rate

WINDOW = 100  #: episodes in the rolling success rate


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


def run_metrics(log: dict[str, np.ndarray], window: int = WINDOW) -> dict:
    """Sample-efficiency figures of one run's episode log (see the module docstring).

    ``None`` marks a level that was never reached.
    """
    n = len(log["episode"])
    success, death = log["success"], log["death"]
    deaths_cum = np.cumsum(death)
    roll = rolling_rate(success, window)
    out: dict = {"episodes": n, "env_steps": int(log["env_steps"][-1]) if n else 0,
                 "wall_time_s": float(log["wall_time_s"][-1]) if n else 0.0,
                 "deaths": int(death.sum()), "success_rate": float(success.mean()) if n else 0.0,
                 "final_success_rate": float(np.nanmean(roll[-1:])) if n else 0.0}
    levels = {"first_success": success.astype(bool),
              "success_50": np.nan_to_num(roll, nan=-1) >= 0.5,
              "success_90": np.nan_to_num(roll, nan=-1) >= 0.9}
    for name, mask in levels.items():
        i = _first(mask) if n else None
        out[f"episodes_to_{name}"] = None if i is None else i + 1
        out[f"env_steps_to_{name}"] = None if i is None else int(log["env_steps"][i])
        out[f"wall_s_to_{name}"] = None if i is None else float(log["wall_time_s"][i])
        out[f"deaths_before_{name}"] = (int(death.sum()) if i is None else
                                        int(deaths_cum[i] - death[i]))
    # Trials per scenario, grouped as every evaluation groups them.
    if n:
        groups = np.cumsum(scenario_starts(log["trial"], log["map_id"]))
        sizes = np.bincount(groups)[1:]
        solved = np.bincount(groups, weights=success.astype(float))[1:] > 0
        imagined = np.bincount(groups, weights=log["model_rollouts"].astype(float))[1:]
        steps = np.bincount(groups, weights=log["model_steps"])[1:]
        real = np.bincount(groups, weights=log["length"].astype(float))[1:]
        out["scenarios"] = int(len(sizes))
        out["model_rollouts"] = int(log["model_rollouts"].sum())
        out["model_rollouts_per_scenario"] = float(imagined.mean())
        # imagined env steps (NaN where an old log did not count them)
        out["model_steps"] = float(log["model_steps"].sum())
        out["model_steps_per_scenario"] = float(steps.mean())
        out["env_steps_per_scenario"] = float(real.mean())
        out["compute_s"] = float(np.nansum(log["compute_s"]))
        out["trials_per_scenario"] = float(sizes.mean())
        out["scenario_success_rate"] = float(solved.mean())
    return out


def run_label(run_dir: Path) -> dict:
    """Who ran (agent), in which world (env) and at which task (target) — from config.json."""
    cfg_path = Path(run_dir) / "config.json"
    cfg = read_json(cfg_path) if cfg_path.exists() else {}
    if "train" in cfg:
        t = cfg["train"]
        agent, env, kwargs = t["algo"], cfg.get("env_id", t["env"]), t.get("env_kwargs", {})
    else:  # a planner run (`moonshot plan`)
        # the planner with its options (planner[first_guess]): two models are two agents
        agent = cfg.get("agent", "planner" if cfg.get("command") == "plan" else "?")
        env, kwargs = cfg.get("env", "?"), cfg.get("env_kwargs", {})
    try:
        import_recorded(cfg.get("modules", []), f"recorded in {cfg_path}")  # a plug-in world
        world = get_world(env)
        target = world.task(kwargs)
    except ConfigError:  # a run of a world that is not registered here: label it as it is
        target = ""
    return {"agent": agent, "env": env, "target": target, "seed": cfg.get("seed",
            cfg.get("train", {}).get("seed"))}


def learning_curves(run_dirs: list[Path], window: int = WINDOW, points: int = 60) -> dict:
    """Rolling success vs episodes for each group of runs with the same (env, agent, target).

    Returns ``{group_name: {"x": episodes, "mean", "low", "high", "iqm": arrays, "runs": n,
    "total_steps": real + imagined env steps by episode x (mean over runs),
    "imagined_per_trial": imagined trials (model rollouts) per real one}}``; the x grid is
    log-spaced up to the shortest run of the group. The band is Student-t over the runs
    (:func:`~moonshot.evaluation.stats.mean_ci_over_seeds`; none for a single run).
    """
    groups: dict[str, list[np.ndarray]] = {}
    imagined: dict[str, list[float]] = {}
    totals: dict[str, list[np.ndarray]] = {}
    for d in run_dirs:
        lab = run_label(d)
        name = f"{lab['agent']} · {display_env(lab['env'])}" + (
            f" ({lab['target']})" if lab["target"] else "")
        log = read_episodes(d)
        if len(log["episode"]) == 0:
            continue
        groups.setdefault(name, []).append(rolling_rate(log["success"], window, min_count=1))
        imagined.setdefault(name, []).append(float(log["model_rollouts"].mean()))
        totals.setdefault(name, []).append(np.cumsum(log["length"] + log["model_steps"]))
    out = {}
    for name, curves in groups.items():
        n_min = min(len(c) for c in curves)
        x = np.unique(np.geomspace(1, n_min, points).astype(int))
        ys = np.array([c[x - 1] for c in curves])
        mean: list[float] = []
        low: list[float] = []
        high: list[float] = []
        q: list[float] = []
        for j in range(len(x)):
            col = ys[:, j][~np.isnan(ys[:, j])]
            if len(col) == 0:
                for column in (mean, low, high, q):
                    column.append(np.nan)
                continue
            m, lo, hi = mean_ci_over_seeds(col) if len(col) > 1 else (col[0],) * 3
            mean.append(m)
            low.append(lo)
            high.append(hi)
            q.append(float(iqm(col)))  # one axis: a number
        out[name] = {"x": x, "mean": np.array(mean), "low": np.clip(low, 0, 1),
                     "high": np.clip(high, 0, 1), "iqm": np.array(q), "runs": len(curves),
                     "total_steps": np.mean([t[x - 1] for t in totals[name]], axis=0),
                     "imagined_per_trial": float(np.mean(imagined[name]))}
    return out


def _trials_setting(run_dir: Path) -> int:
    """The real trials a run allowed per scenario: a plan run's recorded ``max_trials``; a
    training run meets every scenario once."""
    cfg_path = run_dir / "config.json"
    cfg = read_json(cfg_path) if cfg_path.exists() else {}
    return int(cfg.get("max_trials") or 1)


def compare_runs(run_dirs: list[Path], window: int = WINDOW) -> list[dict]:
    """One row per run: its label and :func:`run_metrics`."""
    rows = []
    for d in run_dirs:
        lab = run_label(d)
        row = {"run": str(d), **lab, "env": display_env(lab["env"])}
        log = read_episodes(d)
        finished = any((Path(d) / f).exists() for f in ("model.zip", "summary.json"))
        if len(log["episode"]) == 0 and not finished:
            raise ValueError(f"run {d} has no episodes in its episodes.csv and never "
                             "finished (a start that failed or was stopped before its first "
                             "episode); leave it out or resume it")
        row.update(run_metrics(log, window))
        row["max_trials"] = _trials_setting(Path(d))
        rows.append(row)
    return rows
