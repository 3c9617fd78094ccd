"""Running the model-based planners the way RL runs are run: same logs, same footing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..worlds import World, get_world, run_modules


def scenario_ids(seed: int, n: int) -> np.ndarray:
    """The scenario ids of a run with ``seed`` in a world that replays scenarios (shared by
    planners and evaluators)."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)


def make_planner(world: str, **options):
    """The model-based planner of a world (short name or env id)."""
    return get_world(world).make_planner(**options)


def scenario_plan(world: World, seed: int, n: int, max_trials: int):
    """``(scenario_ids, trials)`` for ``n`` scenarios of ``world``: replayed scenarios with
    up to ``max_trials`` trials where the world replays them, fresh episodes otherwise."""
    if world.replay_option is None:
        return None, 1
    return scenario_ids(seed, n), max_trials


def run_planner(world: str, *, episodes: int, seed: int, split: str, out: Path,
                target: str | None = None, max_trials: int | None = None,
                progress: bool = True, env_kwargs: dict | None = None,
                env_id: str | None = None, planner_options: dict | None = None,
                tensorboard: bool = False) -> dict:
    """Run the planner of ``world`` and write ``episodes.csv``, ``summary.json``,
    ``config.json`` into ``out``; returns the summary. With ``tensorboard``, ``out/
    tensorboard`` gets the real trials and model rollouts of each scenario and the training
    scalars of an RL run (:mod:`moonshot.tblog`)."""
    import gymnasium as gym

    from ..runlog import run_folder

    w = get_world(world)
    env_id = env_id or w.env_id
    kwargs = dict(env_kwargs or {})
    kwargs["split"] = split
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"--episodes must be an integer >= 1, got {episodes!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {seed!r}")
    max_trials = w.trials_per_scenario if max_trials is None else max_trials
    if max_trials < 1:
        raise ConfigError(f"--max-trials must be >= 1, got {max_trials}")
    if target is not None:
        if w.task_key is None:
            raise ConfigError(f"--target does not apply to the {w.name} world (it has no "
                              "task choice)")
        kwargs[w.task_key] = target
    if tensorboard:
        from ..tblog import check_tensorboard

        check_tensorboard()
    env = gym.make(env_id, **kwargs).unwrapped
    options = dict(planner_options or {})
    try:
        agent = w.make_planner(**options)
    except TypeError as exc:
        raise ConfigError(f"bad planner option for the {w.name} planner: {exc}") from None
    ids, trials = scenario_plan(w, seed, episodes, max_trials)
    try:
        with run_folder(out, "plan"):
            return _plan_locked(w, env, agent, env_id, kwargs, options, ids, trials,
                                episodes=episodes, seed=seed, split=split, out=Path(out),
                                progress=progress, tensorboard=tensorboard)
    finally:
        env.close()


def _plan_locked(w, env, agent, env_id, kwargs, options, ids, trials, *, episodes, seed,
                 split, out, progress, tensorboard) -> dict:
    from ..runlog import EpisodeLog, write_json
    from ..versions import versions
    from .rollout import run_scenarios, summarize

    config = {"command": "plan", "env": env_id, "world": w.name, "agent": agent.name,
              "seed": seed, "episodes": episodes, "split": split, "env_kwargs": kwargs,
              "max_trials": trials, "planner_options": options,
              "modules": run_modules(env_id), "versions": versions()}
    write_json(out / "config.json", config)
    t0 = time.perf_counter()
    board = _PlanScalars(out / "tensorboard") if tensorboard else None
    try:
        with EpisodeLog(out / "episodes.csv") as log:
            records = run_scenarios(
                agent, env, n=episodes, seed=seed, split=split, log=log, scenario_ids=ids,
                replay=w.replay, max_trials=trials, progress=progress,
                desc=f"{w.name} planner ({split})",
                on_scenario=board.scenario if board is not None else None)
    finally:
        if board is not None:
            board.close()
    summary = summarize(records)
    summary.update({"env": env_id, "agent": agent.name, "split": split,
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

    def scenario(self, records, env_steps: int) -> None:
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
