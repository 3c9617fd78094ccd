"""Running the model-based planners the way RL runs are run: same logs, same footing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..agents.base import Agent, EpisodeRecord
from ..agents.episodes import EvalSettings, evaluate, scenario_ids, scenario_set
from ..errors import ConfigError
from ..worlds import World, get_world, run_modules

__all__ = ["PlanConfig", "make_planner", "plan", "run_planner", "scenario_ids",
           "scenario_plan"]


def make_planner(world: str, **options: Any) -> Agent:
    """The model-based planner of a world (short name or env id)."""
    return get_world(world).make_planner(**options)


def scenario_plan(world: World, seed: int, n: int, max_trials: int,
                  seed_set: str = "legacy") -> tuple[np.ndarray | None, int]:
    """``(scenario_ids, trials)`` of a plan run of ``seed``: the ``"run"`` scenario set of
    :func:`~moonshot.agents.episodes.scenario_set` (``None`` ids: fresh episodes). Rendering
    uses it with the legacy seeds (a video is not a figure: the README's stay as they are)."""
    s = scenario_set(world, "train", seed, n, "run", max_trials, seed_set)
    return (None if s.ids is None else np.array(s.ids)), s.max_trials


@dataclass(frozen=True)
class PlanConfig:
    """One ``moonshot plan`` run.

    :param world: the world (short name or env id).
    :param out: the run folder.
    :param settings: split, episodes (scenarios), seed, max_trials, progress.
    :param env_id: the env (default: the world's).
    :param env_kwargs: env settings.
    :param target: the world's task choice (``task_key``), if it has one.
    :param planner_options: keyword options of the planner.
    :param tensorboard: also write ``out/tensorboard``.
    """

    world: str
    out: Path
    settings: EvalSettings
    env_id: str | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None
    planner_options: Mapping[str, Any] = field(default_factory=dict)
    tensorboard: bool = False


def run_planner(world: str | PlanConfig, *, episodes: int = 100, seed: int = 0,
                split: str = "train", out: Path | None = None, target: str | None = None,
                max_trials: int | None = None, progress: bool = True,
                env_kwargs: dict | None = None, env_id: str | None = None,
                planner_options: dict | None = None, tensorboard: bool = False,
                seed_set: str = "dev") -> dict:
    """Run the planner of a world and write ``episodes.csv``, ``summary.json``,
    ``config.json`` into the run folder; returns the summary. With ``tensorboard``, ``out/
    tensorboard`` gets the real trials and model rollouts of each scenario and the training
    scalars of an RL run (:mod:`moonshot.tblog`).

    ``world``: a :class:`PlanConfig`, or the world's name with the run described by the
    keywords (the older form)."""
    if isinstance(world, PlanConfig):
        return plan(world)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"--episodes must be an integer >= 1, got {episodes!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {seed!r}")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"--max-trials must be >= 1, got {max_trials}")
    if out is None:
        raise ConfigError("run_planner needs out (the run folder)")
    return plan(PlanConfig(
        world=world, out=Path(out), env_id=env_id, env_kwargs=dict(env_kwargs or {}),
        target=target, planner_options=dict(planner_options or {}), tensorboard=tensorboard,
        settings=EvalSettings(split=split, episodes=episodes, seed=seed,
                              max_trials=max_trials, progress=progress, scenarios="run",
                              seed_set=seed_set)))


def plan(cfg: PlanConfig) -> dict:
    """Run the planner as ``cfg`` says (see :func:`run_planner`); everything is checked and
    the env made before the run folder is touched."""
    import gymnasium as gym

    from ..runlog import run_folder

    w = get_world(cfg.world)
    env_id = cfg.env_id or w.env_id
    settings = replace(cfg.settings, scenarios="run",
                       desc=cfg.settings.desc or f"{w.name} planner ({cfg.settings.split})")
    kwargs = {**cfg.env_kwargs, "split": settings.split}
    # a seed outside its seed set is refused before anything is written
    scenario_set(w, settings.split, settings.seed, settings.episodes, "run",
                 settings.max_trials, settings.seed_set)
    if cfg.target is not None:
        if w.task_key is None:
            raise ConfigError(f"--target does not apply to the {w.name} world (it has no "
                              "task choice)")
        kwargs[w.task_key] = cfg.target
    if cfg.tensorboard:
        from ..tblog import check_tensorboard

        check_tensorboard()
    env = gym.make(env_id, **kwargs).unwrapped
    options = dict(cfg.planner_options)
    try:
        agent = w.make_planner(**options)
    except TypeError as exc:
        env.close()
        raise ConfigError(f"bad planner option for the {w.name} planner: {exc}") from None
    try:
        with run_folder(cfg.out, "plan"):
            return _plan_locked(cfg, w, env_id, env, agent, kwargs, settings)
    finally:
        env.close()


def _plan_locked(cfg: PlanConfig, w: World, env_id: str, env, agent, kwargs: dict,
                 settings: EvalSettings) -> dict:
    from ..runlog import EpisodeLog, write_json
    from ..versions import versions

    out = Path(cfg.out)
    trials = scenario_set(w, settings.split, settings.seed, settings.episodes, "run",
                          settings.max_trials, settings.seed_set).max_trials
    config = {"command": "plan", "env": env_id, "world": w.name, "agent": agent.name,
              "seed": settings.seed, "seed_set": settings.seed_set,
              "episodes": settings.episodes, "split": settings.split,
              "env_kwargs": kwargs, "max_trials": trials,
              "planner_options": dict(cfg.planner_options), "modules": run_modules(env_id),
              "versions": versions()}
    write_json(out / "config.json", config)
    t0 = time.perf_counter()
    board = _PlanScalars(out / "tensorboard") if cfg.tensorboard else None
    try:
        with EpisodeLog(out / "episodes.csv") as log:
            res = evaluate(agent, env_id, settings, env_kwargs=kwargs, log=log, env=env,
                           on_scenario=board.scenario if board is not None else None)
    finally:
        if board is not None:
            board.close()
    summary = res.summary()
    summary.update({"env": env_id, "agent": agent.name, "split": settings.split,
                    "seed_set": settings.seed_set,
                    "wall_time_s": time.perf_counter() - t0})
    write_json(out / "summary.json", summary)
    return summary


class _PlanScalars:
    """A planner run's TensorBoard scalars (:mod:`moonshot.tblog`), one point per scenario at
    the run's env steps: its real trials, its model rollouts, and the training scalars an RL
    run logs (success and death rates, episodes, deaths), so the curves overlay."""

    def __init__(self, folder: Path):
        from ..tblog import EpisodeScalars, scalar_writer

        self.writer = scalar_writer(folder)
        self.episodes = EpisodeScalars(self.writer)
        self.rollouts = 0

    def scenario(self, records: list[EpisodeRecord], env_steps: int) -> None:
        for rec in records:
            self.episodes.add(rec.success, rec.death)
        imagined = sum(int(r.model_rollouts) for r in records)
        self.rollouts += imagined
        for tag, val in (("real_trials", len(records)), ("model_rollouts", imagined),
                         ("model_rollouts_total", self.rollouts)):
            self.writer.add_scalar(f"moonshot/plan/{tag}", val, int(env_steps))
        self.episodes.write(env_steps)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
