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
from .stats import Comparison, Interval, independent_difference, paired_difference, rate_ci

__all__ = ["AgentSpec", "TransferResult", "resolve_agent", "evaluate_agent", "evaluate_jobs",
           "generalization_gap", "relearning_cost", "success_comparison"]


@dataclass
class TransferResult:
    """One frozen agent on one split: per-scenario success with its 95% Clopper-Pearson
    interval (over scenarios), first-trial success, real trials allowed and taken and
    imagined trials per scenario, deaths (the vehicle destroyed) per episode with its
    Clopper-Pearson interval, and the world's time to the goal. :meth:`row` is its
    table/JSON form."""

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
    #: real trials allowed per scenario (:func:`~moonshot.agents.episodes.trials_allowed`)
    max_trials: int | None = None
    #: per scenario: real env steps, imagined env steps (model steps), compute seconds
    env_steps_per_scenario: float | None = None
    model_steps_per_scenario: float | None = None
    compute_s_per_scenario: float | None = None
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
        s, s_lo, s_hi = rate_ci(res.scenario_success, unit="scenarios")
        d, d_lo, d_hi = rate_ci(res.deaths, unit="episodes")
        return cls(agent=res.agent, env=res.env_id, split=res.split,
                   scenarios=len(res.scenarios), episodes=len(res.records), success_rate=s,
                   success_low=s_lo, success_high=s_hi,
                   first_trial_success_rate=res.first_trial_success_rate,
                   trials_per_scenario=float(np.mean(res.trials)), death_rate=d,
                   death_low=d_lo, death_high=d_hi, deaths=int(res.deaths.sum()),
                   model_rollouts_per_scenario=res.model_rollouts_per_scenario,
                   time_to_goal=res.mean_time_to_goal, time_unit=res.time_unit,
                   max_trials=res.max_trials,
                   env_steps_per_scenario=res.env_steps_per_scenario,
                   model_steps_per_scenario=res.model_steps_per_scenario,
                   compute_s_per_scenario=res.compute_s_per_scenario, result=res)

    @property
    def success(self) -> Interval:
        """Success over scenarios as an :class:`~moonshot.evaluation.stats.Interval`."""
        return Interval(self.success_rate, self.success_low, self.success_high,
                        self.scenarios, "Clopper-Pearson", "scenarios")

    def row(self) -> dict:
        """The figures as a dict (``transfer.csv``/``transfer.json``; no episodes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "result"}


def evaluate_agent(spec: AgentSpec, settings: EvalSettings,
                   out: Path | None = None) -> TransferResult:
    """Evaluate one frozen agent (:func:`~moonshot.agents.episodes.evaluate` on the
    evaluation scenario set) and write its episodes to ``out/episodes.csv``.

    In a world that replays scenarios (MoonLaunch): ``settings.episodes`` scenarios, up to
    ``max_trials`` trials each (default: the world's ``trials_per_scenario`` for an agent
    that corrects from a miss, one for a frozen policy, which cannot:
    :func:`~moonshot.agents.episodes.trials_allowed`). Otherwise (CityNav): fresh episodes
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


def _measured(spec: AgentSpec, settings: EvalSettings, folder: Path,
              model_errors: bool) -> tuple[TransferResult, dict | None]:
    """:func:`evaluate_agent`, and with ``model_errors`` the error of an agent with a learned
    model (``model_error``/``take_seen``: pets, sysid) on the real trials of this evaluation."""
    agent: Any = spec.agent
    learned = model_errors and callable(getattr(agent, "model_error", None))
    if learned:
        agent.take_seen()
    res = evaluate_agent(spec, settings, out=folder)
    return res, (agent.model_error(agent.take_seen()) if learned else None)


def _evaluate_job(source: str, env: str | None, label: str, env_kwargs: dict,
                  modules: list[str], settings: EvalSettings, folder: Path,
                  model_errors: bool) -> tuple[TransferResult, dict | None]:
    """One evaluation in a worker process: the agent is resolved again from its spec (a loaded
    agent is not sent between processes) with the parent's label and env settings, after the
    plug-in world modules the parent had."""
    from ..agents.checkpoints import set_torch_threads
    from ..worlds.plugins import import_recorded

    set_torch_threads(1)
    import_recorded(modules, "the evaluating process")
    spec = replace(resolve_agent(source, env), label=label, env_kwargs=env_kwargs)
    return _measured(spec, settings, folder, model_errors)


def evaluate_jobs(jobs: list[tuple[AgentSpec, EvalSettings, Path]], env: str | None = None,
                  workers: int = 1, model_errors: bool = False
                  ) -> list[tuple[TransferResult, dict | None]]:
    """Run evaluations ``(spec, settings, episode folder)``; results (and, with
    ``model_errors``, each learned model's error, else ``None``) in the order of ``jobs``.

    One torch thread per evaluation, whatever ``workers`` is. With ``workers`` > 1 the jobs run
    in that many spawned processes, each agent resolved again there from the spec it was
    given (``spec.source``); an agent given as an object (kind ``object``) is evaluated in
    this process. Every scenario's seed comes from the scenario set and an agent starts each
    scenario afresh, so the figures do not depend on ``workers`` (tested); the progress is a
    line per finished job instead of a bar."""
    from ..agents.checkpoints import set_torch_threads
    from ..errors import check_int

    check_int("--workers", workers, 1)
    set_torch_threads(1)
    out: list[tuple[TransferResult, dict | None] | None] = [None] * len(jobs)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        import time
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from ..worlds import run_modules

        t0 = time.perf_counter()
        show = any(settings.progress for _, settings, _ in jobs)
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                 mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_evaluate_job, spec.source, env, spec.label,
                                   spec.env_kwargs, run_modules(spec.env_id),
                                   replace(settings, progress=False), folder,
                                   model_errors): i
                       for i, (spec, settings, folder) in enumerate(jobs)
                       if spec.kind != "object"}
            try:
                for k, fut in enumerate(as_completed(futures), 1):
                    i = futures[fut]
                    out[i] = done = fut.result()
                    if show:
                        res, settings = done[0], jobs[i][1]
                        where = settings.desc or f"{res.agent} on {res.split}"
                        print(f"moonshot: [{k}/{len(futures)}] {where}: {res.scenarios} "
                              f"scenarios, success {res.success_rate:.0%} "
                              f"({time.perf_counter() - t0:.0f} s)", flush=True)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    for i, (spec, settings, folder) in enumerate(jobs):
        if out[i] is None:
            out[i] = _measured(spec, settings, folder, model_errors)
    return [r for r in out if r is not None]


def success_comparison(a: TransferResult, b: TransferResult) -> Comparison:
    """Success of ``a`` minus success of ``b`` with its interval and test. On the same
    scenarios (the same scenario ids, or drives of the same seeds: two agents on one split or
    level, two levels of one shift axis) the outcomes are paired: the exact McNemar test and
    Newcombe's paired interval (:func:`~moonshot.evaluation.stats.paired_difference`).
    Otherwise (the train and new splits draw from disjoint seeds) they are independent:
    Fisher's exact test and Newcombe's interval for independent rates
    (:func:`~moonshot.evaluation.stats.independent_difference`). The test is named in the
    :class:`~moonshot.evaluation.stats.Comparison` and in its :meth:`claim`."""
    if a.result is None or b.result is None:
        raise ValueError("a comparison needs the episodes behind both results; a "
                         "TransferResult read back from a table has none")
    x, y = a.result.scenario_success, b.result.scenario_success
    if _scenario_keys(a) == _scenario_keys(b):
        return paired_difference(tuple(x), tuple(y))
    return independent_difference(x, y)


def _scenario_keys(res: TransferResult) -> tuple:
    """What identifies the scenarios an evaluation met: the scenario ids of a replayed world;
    otherwise the evaluation's seed set, seed, axis and count (a drive is ``reset(seed=...)``
    of a seed that the split's or axis's place fixes)."""
    ev = res.result
    assert ev is not None  # success_comparison checked it
    if any(r.trial > 1 for r in ev.records) or get_world(ev.env_id).replay_option:
        return ("ids", res.split if ev.settings.axis is None else ev.settings.axis,
                tuple(sc.trials[0].map_id for sc in ev.scenarios))
    st = ev.settings
    return ("seeds", st.seed_set, st.seed, st.axis or st.split, len(ev.scenarios))


def generalization_gap(train_res: TransferResult, new_res: TransferResult) -> dict:
    """Success on train minus success on new, with its 95% interval and test
    (:func:`success_comparison`: the splits' scenarios are different, so the test is
    unpaired; ``gap_test`` names it, ``gap_claim`` is the sentence a report prints)."""
    c = success_comparison(train_res, new_res)
    return {"agent": train_res.agent, "env": train_res.env, "gap": c.estimate,
            "gap_low": c.low, "gap_high": c.high, "gap_p": c.p_value, "gap_test": c.test,
            "gap_n": c.n, "gap_claim": c.claim(f"{train_res.agent} on train",
                                                f"{train_res.agent} on new")}


def relearning_cost(run_dir: Path, timesteps: int, out: Path, seed: int = 0,
                    window: int = 100, progress: bool = True, split: str = "new",
                    env_overrides: dict | None = None, target: float | None = None,
                    tolerance: float = 0.0) -> dict:
    """Fine-tune a trained RL agent where the world moved - the ``new`` split, or a shift
    level (``split="train"`` with ``env_overrides``, :meth:`ShiftAxis.settings`) - and count
    the env steps, episodes and deaths until its rolling success there (``window``
    episodes) is back at ``target`` minus ``tolerance``. ``target`` defaults to its success
    where it was trained: its last evaluation on the training split, else its final rolling
    training success. The cost of being dropped into a world it must relearn.

    An agent that learns its own model (``pets``, ``sysid``) keeps learning from its final
    agent (``RUN/model.json``: its data, models and fit) with its training schedule; its
    episodes count as an SB3 agent's do, exploration included."""
    from ..agents.config import TrainConfig
    from ..agents.training import train
    from ..runlog import read_episodes, read_evaluations
    from .efficiency import run_metrics
    from .stats import rolling_rate

    run_dir = Path(run_dir)
    saved = read_json(run_dir / "config.json")
    cfg = saved["train"]
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
                        "init_from": str(run_dir / ("model.json" if saved.get("model_learning")
                                                    else "model.zip"))})
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
