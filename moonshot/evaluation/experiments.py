"""The experiments behind ``moonshot evaluate`` and ``moonshot compare``: tables and plots."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..agents.config import key_value_words
from ..agents.episodes import EvalSettings
from ..agents.loading import AgentSpec, resolve_agents
from ..runlog import read_episodes, read_evaluations, write_json
from . import report
from .efficiency import compare_runs, learning_curves, run_label
from .html_report import report_meta, write_report
from .stats import rolling_rate
from .transfer import evaluate_jobs, generalization_gap


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-")


def _command(*words) -> str:
    return " ".join(shlex.quote(str(w)) for w in words)


def evaluate_agents(specs: Sequence[AgentSpec | str], splits: list[str], episodes: int, seed: int,
                    out: Path, progress: bool = True, max_trials: int | None = None,
                    env: str | None = None, meta: dict | None = None,
                    seed_set: str = "dev", env_kwargs: dict | None = None,
                    workers: int = 1) -> dict:
    """Evaluate frozen agents on ``splits``; writes ``transfer.{json,csv,md}``,
    ``gap.{csv,md}``, ``transfer.png``, ``report.{md,html}`` (``meta``: the report's header,
    see :func:`~moonshot.evaluation.html_report.report_meta`; by default the equivalent
    ``moonshot evaluate`` command) and per-agent episode logs into ``out``.

    ``specs``: agent specs (see :func:`moonshot.agents.resolve_agent`); ``env`` gives the
    world to agents that do not say (``planner``, ``module:Class``); ``env_kwargs`` go on top of
    each agent's own env settings (``{"target": "soi"}`` for a planner). The folder is locked
    for the evaluation (:class:`~moonshot.runlog.RunLock`): a second writer is refused.

    ``workers`` > 1 evaluates the (agent, split) pairs in that many processes, one torch
    thread each (an evaluation uses one torch thread in every case, so the figures do not
    depend on ``workers``: every episode's seed comes from the scenario set, not from the
    order in which pairs run). Agents given as objects rather than specs are evaluated in
    this process."""
    from ..errors import check_int
    from ..runlog import run_folder

    check_int("--episodes", episodes, 1)
    check_int("--seed", seed, 0)
    check_int("--workers", workers, 1)
    if max_trials is not None:
        check_int("--max-trials", max_trials, 1)
    settings = EvalSettings(episodes=episodes, seed=seed, max_trials=max_trials,
                            progress=progress, seed_set=seed_set)
    if env is not None:  # a seed outside its seed set is refused before anything is written
        from ..agents.episodes import scenario_set
        from ..worlds import get_world

        for split in splits:
            scenario_set(get_world(env), split, seed, episodes, "evaluation", max_trials,
                         seed_set)
    with run_folder(out, "evaluate", fresh=False):
        return _evaluate_agents(specs, splits, settings, Path(out), env, meta,
                                dict(env_kwargs or {}), workers)


def _evaluate_agents(specs, splits: list[str], settings: EvalSettings, out: Path,
                     env: str | None, meta: dict | None, env_kwargs: dict,
                     workers: int = 1) -> dict:
    t0 = time.perf_counter()
    episodes, seed = settings.episodes, settings.seed
    names = [s if isinstance(s, str) else s.label for s in specs]
    specs = resolve_agents(specs, env)
    for spec in specs:
        spec.env_kwargs = {**spec.env_kwargs, **env_kwargs}
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(spec, replace(settings, split=split),
             out / "episodes" / _slug(f"{k}-{spec.label}-{spec.env_id}-{split}"))
            for k, spec in enumerate(specs) for split in splits]
    evaluated = [res for res, _ in evaluate_jobs(jobs, env, workers)]
    gaps = []
    for spec in specs:
        mine = {r.split: r for r in evaluated
                if r.agent == spec.label and r.env == spec.env_id}
        if "train" in mine and "new" in mine:
            gaps.append(generalization_gap(mine["train"], mine["new"]))
    results = [r.row() for r in evaluated]  # the table and JSON boundary
    report.decorate_transfer(results)
    report.decorate_transfer(gaps)
    md = report.write_table(out, "transfer", results, report.TRANSFER_COLUMNS)
    if gaps:
        md += "\n" + report.write_table(out, "gap", gaps, report.GAP_COLUMNS)
        md += "".join(f"\n- {g['gap_claim']}" for g in gaps) + "\n"
    write_json(out / "transfer.json", {"results": results, "gaps": gaps,
                                       "episodes": episodes, "seed": seed,
                                       "seed_set": settings.seed_set})
    report.plot_transfer(results, out / "transfer.png")
    split_arg = "both" if len(splits) > 1 else splits[0]
    meta = meta or report_meta(
        _command("moonshot", "evaluate", *names, *(("--env", env) if env else ()),
                 *key_value_words("--env-kwargs", env_kwargs), "--split", split_arg,
                 "--episodes", episodes, "--seed", seed, "--seed-set", settings.seed_set,
                 "--out", out,
                 *(() if settings.max_trials is None else ("--max-trials",
                                                           settings.max_trials))), seeds=seed,
        wall_time_s=time.perf_counter() - t0)
    write_report(out, "# Transfer\n\n"
                 f"Seed set: {settings.seed_set}. {episodes} scenarios or drives per agent and "
                 f"split ({', '.join(splits)}); {_trials_text(evaluated)}. Success rates "
                 "with 95% Clopper-Pearson intervals over scenarios; the train-new gap by "
                 "Fisher's exact test (the splits' scenarios are different ones). "
                 + _destroyed_text(evaluated) +
                 "\n\n" + md +
                 "\n![success on train and new](transfer.png)\n", "moonshot evaluate", meta)
    return {"results": results, "gaps": gaps, "markdown": md}


def _destroyed_text(evaluated) -> str:
    """What the 'destroyed' column counts in each world of the table."""
    from ..worlds import get_world

    worlds = {w.name: w for w in (get_world(r.env) for r in evaluated)}
    return ("Destroyed: the vehicle lost (" + "; ".join(f"{w.title}: {w.death_label}"
                                                         for w in worlds.values()) + ").")


def _trials_text(evaluated) -> str:
    """The trials setting of a table's rows, in words (every table states it)."""
    allowed = {r.agent: r.max_trials for r in evaluated if r.max_trials is not None}
    if set(allowed.values()) <= {1}:
        return "one real trial per scenario"
    return ("real trials allowed per scenario (an agent that corrects from a miss gets the "
            "world's, a frozen policy one; `--max-trials` sets them): "
            + ", ".join(f"{a} {n}" for a, n in allowed.items()))


def training_runs(run_dirs: list[Path], window: int = 100) -> list[dict]:
    """What :func:`report.plot_training_runs` draws, for the runs with ``evaluations.csv``
    (training runs): rolling training success and evaluation success against env steps."""
    runs = []
    for d in map(Path, run_dirs):
        rows = read_evaluations(d)
        if not rows:
            continue
        log = read_episodes(d)
        evals = {}
        for split in ("train", "new"):
            pts = [(int(r["env_steps"]), float(r["success_rate"])) for r in rows
                   if r["split"] == split]
            if pts:
                evals[split] = tuple(map(list, zip(*pts, strict=True)))
        label = run_label(d)
        runs.append({"name": f"{d.name} ({label['agent']}, seed {label['seed']})",
                     "steps": log["env_steps"],
                     "rolling": rolling_rate(log["success"], window, min_count=1),
                     "evals": evals, "window": window})
    return runs


def compare(run_dirs: list[Path], out: Path, window: int = 100,
            meta: dict | None = None) -> dict:
    """Sample-efficiency table and learning curves of runs, from their ``episodes.csv``;
    for training runs also ``training.png`` (success against env steps, with their periodic
    evaluations); all of it in ``report.{md,html}`` (``meta``: the report's header, by
    default the equivalent ``moonshot compare`` command)."""
    t0 = time.perf_counter()
    if window < 1:
        raise ValueError(f"window must be >= 1 episode, got {window}")
    for d in map(Path, run_dirs):
        if not d.is_dir():
            raise FileNotFoundError(f"no such run folder: {d}")
    rows = compare_runs(run_dirs, window)  # every log read (and checked) before writing
    out.mkdir(parents=True, exist_ok=True)
    md = report.write_table(out, "efficiency", rows, report.EFFICIENCY_COLUMNS)
    curves = learning_curves(run_dirs, window)
    report.plot_learning_curves(curves, out / "learning_curves.png", window=window)
    trained = training_runs(run_dirs, window)
    if trained:
        report.plot_training_runs(trained, out / "training.png")
    else:  # never leave a stale plot of other runs beside this comparison
        (out / "training.png").unlink(missing_ok=True)
    write_json(out / "efficiency.json", {"runs": rows, "window": window,
                                         "curves": {k: {kk: vv for kk, vv in v.items()}
                                                    for k, v in curves.items()}})
    seeds = sorted({r["seed"] for r in map(run_label, run_dirs) if r["seed"] is not None})
    meta = meta or report_meta(
        _command("moonshot", "compare", *run_dirs, "--out", out, "--window", window),
        seeds=seeds, wall_time_s=time.perf_counter() - t0)
    write_report(out, _compare_markdown(run_dirs, md, window, bool(trained)),
                 "moonshot compare", meta)
    return {"rows": rows, "curves": curves, "markdown": md}


def _compare_markdown(run_dirs: list[Path], table: str, window: int, trained: bool) -> str:
    runs = ", ".join(f"`{Path(d).name}`" for d in run_dirs)
    text = ("# Sample efficiency\n\n"
            f"Runs: {runs}. Every figure is computed from their `episodes.csv`; rolling "
            f"success over {window} episodes.\n\n{table}\n"
            "![learning curves: rolling success against episodes](learning_curves.png)\n")
    if trained:
        text += ("\n![training runs: success against env steps, with periodic evaluations]"
                 "(training.png)\n")
    return text
