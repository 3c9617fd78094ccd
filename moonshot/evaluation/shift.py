"""The generalization ladder: agents along a world's shift axes, one axis at a time.

Level 0 of every axis is the training distribution; each level moves the world further in one
respect (the axis declarations live in the world registry, :class:`moonshot.worlds.ShiftAxis`).
"Local generalization" shows as success falling with the level; "extreme generalization" as
success that does not. Every agent is evaluated on the same scenarios at every level (the
same seed), frozen, as :func:`~moonshot.evaluation.transfer.evaluate_agent` does.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..agents.config import key_value_words
from ..agents.episodes import EvalSettings, scenario_set
from ..agents.loading import AgentSpec, resolve_agents
from ..runlog import write_json
from ..worlds import ShiftAxis, get_world
from . import report
from .transfer import TransferResult, evaluate_jobs

SHIFT_COLUMNS = ("axis", "level", "label", "agent", "episodes", "success", "success_low",
                 "success_high", "deaths", "trials", "model_rollouts", "time_to_goal",
                 "perceivable", "max_trials", "model_steps", "p_vs_level0", "p_holm")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text)).strip("-")


def cell_folder(out: Path, axis: str, level: int, k: int, label: str) -> Path:
    """Where a ladder in ``out`` keeps the episode log of its ``k``-th agent (``label``) at
    ``axis`` level ``level`` (readers of a shift folder find the logs here too)."""
    return Path(out) / "episodes" / _slug(f"{axis}-{level}-{k}-{label}")


@dataclass(frozen=True)
class ShiftRow:
    """One agent at one level of one axis (a row of ``shift.csv``; :meth:`row` its dict)."""

    axis: str
    level: int
    label: str
    agent: str
    episodes: int
    success: float
    success_low: float
    success_high: float
    deaths: float
    trials: float
    model_rollouts: float
    time_to_goal: float | None
    perceivable: bool
    #: real trials allowed per scenario (:func:`~moonshot.agents.episodes.trials_allowed`)
    max_trials: int | None = None
    #: imagined env steps per scenario (model steps, in the env's units)
    model_steps: float | None = None
    #: exact McNemar test of this level against level 0 (the same scenarios), raw and
    #: Holm-adjusted over the ladder's comparisons; ``None`` at level 0
    p_vs_level0: float | None = None
    p_holm: float | None = None

    @classmethod
    def of(cls, axis: ShiftAxis, level: int, res: TransferResult) -> ShiftRow:
        return cls(axis=axis.name, level=level, label=axis.labels[level], agent=res.agent,
                   episodes=res.scenarios, success=res.success_rate,
                   success_low=res.success_low, success_high=res.success_high,
                   deaths=res.death_rate, trials=res.trials_per_scenario,
                   model_rollouts=res.model_rollouts_per_scenario,
                   time_to_goal=res.time_to_goal, perceivable=axis.perceivable,
                   max_trials=res.max_trials, model_steps=res.model_steps_per_scenario)

    def row(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> ShiftRow:
        """Read back a :meth:`row` (``shift.json``, a sweep cell's ``result.json``)."""
        kwargs: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)}
        return cls(**kwargs)


def run_shift(env: str, agents: list[str | AgentSpec], axes: list[str] | None = None,
              levels: list[int] | None = None, settings: EvalSettings | None = None,
              out: Path | str = "runs/shift", *, episodes: int | None = None,
              seed: int | None = None, progress: bool | None = None,
              max_trials: int | None = None, env_kwargs: dict | None = None,
              seed_set: str | None = None, workers: int = 1) -> dict:
    """Evaluate ``agents`` in the world of ``env`` along ``axes`` (default: all of the
    world's), at ``levels`` (default: every level); writes ``shift.csv``, ``shift.json``,
    ``shift.png`` and ``report.md/html`` into ``out``.

    ``settings``: episodes, seed, trials, progress and env settings for every level
    (``env_overrides``) of each evaluation; the split is the training one and each level's
    settings go on top. Without it, the keywords ``episodes`` (default 50), ``seed`` (0),
    ``progress`` (True), ``max_trials, env_kwargs, seed_set`` (dev) make one (the older
    form); giving both is an error (a keyword would otherwise be ignored). Each axis has its
    own seeds in the seed set (:meth:`~moonshot.worlds.World.seed_range`), shared by its
    levels.

    ``workers`` > 1 evaluates the (level, agent) cells in that many processes
    (:func:`~moonshot.evaluation.transfer.evaluate_jobs`); the figures do not depend on it.

    Rows: ``axis, level, label, agent, episodes, success`` (a fraction) ``, success_low,
    success_high`` (95% Clopper-Pearson interval over scenarios) ``, deaths`` (per episode)
    ``, trials`` (real trials per scenario) ``, model_rollouts`` (imagined trials per
    scenario) ``, time_to_goal, max_trials, model_steps, p_vs_level0, p_holm``.
    """
    from ..errors import check_int
    from ..runlog import run_folder

    world = get_world(env)
    loose = {"episodes": episodes, "seed": seed, "progress": progress,
             "max_trials": max_trials, "env_kwargs": env_kwargs, "seed_set": seed_set}
    if settings is not None:
        given = [k for k, v in loose.items() if v is not None]
        if given:
            raise TypeError(f"run_shift takes settings= or the keywords {', '.join(given)}, "
                            "not both: put them in the EvalSettings")
    else:
        episodes = 50 if episodes is None else episodes
        seed = 0 if seed is None else seed
        check_int("--episodes", episodes, 1)
        check_int("--seed", seed, 0)
        settings = EvalSettings(episodes=episodes, seed=seed, max_trials=max_trials,
                                progress=True if progress is None else progress,
                                env_overrides=dict(env_kwargs or {}),
                                seed_set=seed_set or "dev")
    check_int("--seed", settings.seed, 0)
    check_int("--workers", workers, 1)
    settings = replace(settings, split="train")
    names = list(axes) if axes else list(world.shift_axes)
    chosen = [world.axis(n) for n in names]
    steps = [(ax, lv) for ax in chosen
             for lv in (levels if levels is not None else range(len(ax.levels)))]
    for ax, lv in steps:
        ax.settings(lv)  # a bad level is an error before anything runs
        scenario_set(world, "train", settings.seed, settings.episodes, "evaluation",
                     settings.max_trials, settings.seed_set, ax.name)  # and a bad seed
    specs = resolve_agents(agents, env)
    # The ladder is the world's, whatever an agent trained on: its own values of the shifted
    # quantities (a domain-randomized agent's wider ranges) give way to the levels'.
    shifted = {k for ax in world.shift_axes.values() for lv in ax.levels for k in lv}
    for spec in specs:
        spec.env_kwargs = {k: v for k, v in spec.env_kwargs.items() if k not in shifted}
    command = shlex.join([
        "moonshot", "shift", world.name, *(w for s in specs for w in ("--agent", str(s.source))),
        "--axis", *names, *(["--level", *map(str, levels)] if levels is not None else []),
        *key_value_words("--env-kwargs", settings.env_overrides),
        "--episodes", str(settings.episodes), "--seed", str(settings.seed),
        "--seed-set", settings.seed_set, "--out", str(out),
        *([] if settings.max_trials is None else ["--max-trials", str(settings.max_trials)])])
    with run_folder(out, "shift", fresh=False):
        return _ladder(world, specs, steps, settings, Path(out), command, env, workers)


def _ladder(world, specs: list[AgentSpec], steps: list, settings: EvalSettings, out: Path,
            command: str, env: str | None = None, workers: int = 1) -> dict:
    """Every agent at every ``(axis, level)`` of ``steps``; the tables, plot and report."""
    from .html_report import report_meta, write_report

    t0 = time.perf_counter()
    typed, errors, results = [], [], []
    cells = [(ax, lv, k, spec) for ax, lv in steps for k, spec in enumerate(specs)]
    jobs = [(spec, replace(settings, axis=ax.name, desc=f"{spec.label} at {ax.name} {lv}",
                           env_overrides={**settings.env_overrides, **ax.settings(lv)}),
             cell_folder(out, ax.name, lv, k, spec.label))
            for ax, lv, k, spec in cells]
    # an agent with a learned model (pets, sysid): its error on each level's real trials too
    measured = evaluate_jobs(jobs, env, workers, model_errors=True)
    for (ax, lv, _, spec), (res, error) in zip(cells, measured, strict=True):
        results.append((ax, lv, res))
        typed.append(ShiftRow.of(ax, lv, res))
        if error is not None:
            errors.append({"axis": ax.name, "level": lv, "label": ax.labels[lv],
                           "agent": spec.label, **error})
    if errors:
        _write_model_errors(out / "model_error.csv", errors)
    typed, claims = _ladder_tests(results, typed)
    rows = [r.row() for r in typed]  # the table and JSON boundary
    shown = [{**r, "_success_ci": report.interval_cell(  # display only (not in shift.csv)
        r["success_low"], r["success_high"], r["episodes"], "scenarios")} for r in rows]
    chosen = [ax for i, (ax, _) in enumerate(steps) if all(a is not ax for a, _ in steps[:i])]
    episodes, seed = settings.episodes, settings.seed
    md = report.write_table(out, "shift", shown, [
        ("axis", "axis", ""), ("level", "level", ""), ("label", "what", ""),
        ("agent", "agent", ""), ("success", "success", ".1%"),
        ("_success_ci", "95% CI", ""),
        ("deaths", f"{world.death_label}/episode", ".1%"), ("trials", "real trials", ".2f"),
        ("model_rollouts", "imagined trials", ".3g"),
        ("model_steps", "imagined env steps", ".3g"), ("max_trials", "trials allowed", ""),
        ("p_holm", "p vs level 0 (Holm)", ".3g")])
    plot_shift(rows, out / "shift.png", title=f"{world.title}: success along the shift axes")
    write_json(out / "shift.json", {"env": specs[0].env_id if specs else world.env_id,
                                    "episodes": episodes, "seed": seed,
                                    "seed_set": settings.seed_set, "rows": rows})
    text = "\n".join([
        f"# Generalization ladder: {world.title}", "",
        f"Seed set: {settings.seed_set}. {len(specs)} agent(s), {episodes} scenarios per "
        f"level, seed {seed}. Level 0 of each "
        "axis is the training distribution. Success with a 95% Clopper-Pearson interval over "
        "scenarios; real trials allowed and taken, imagined trials per scenario. The levels "
        "of an axis meet the same scenarios, so each level is compared with level 0 scenario "
        "by scenario (exact McNemar test), Holm-adjusted over the ladder's comparisons; the "
        "agents on each level likewise.", "",
        "![shift](shift.png)", "", md, "", *(f"- {c}" for c in claims),
        "", "Axes: " + "; ".join(f"**{a.name}**: {a.description}"
                                   + ("" if a.perceivable else " (not perceivable)")
                                   for a in chosen), ""])
    write_report(out, text, f"Generalization ladder: {world.title}",
                 report_meta(command, seeds=[seed], wall_time_s=time.perf_counter() - t0))
    return {"rows": rows, "markdown": md}


def _ladder_tests(results: list, typed: list[ShiftRow]) -> tuple[list[ShiftRow], list[str]]:
    """Each agent's level k against its level 0 on one axis (the same scenarios: paired) and
    the agents against each other at each level (paired too), Holm-adjusted within each of
    the two families. The rows get their level-0 p-values; the claims are the sentences of
    the report (each names its test, n and adjusted p)."""
    from .stats import holm
    from .transfer import success_comparison

    base = {(ax.name, r.agent): r for ax, lv, r in results if lv == 0}
    vs0 = [(i, ax, lv, r, success_comparison(r, base[(ax.name, r.agent)]))
           for i, (ax, lv, r) in enumerate(results) if lv != 0 and (ax.name, r.agent) in base]
    claims: list[str] = []
    if vs0:
        adjusted = holm([c.p_value for *_, c in vs0])
        for (i, ax, lv, r, c), p in zip(vs0, adjusted, strict=True):
            typed[i] = replace(typed[i], p_vs_level0=c.p_value, p_holm=float(p))
            claims.append(f"{ax.name}: " + c.claim(f"{r.agent} at level {lv}",
                                                   f"{r.agent} at level 0", float(p)))
    by_level: dict = {}
    for ax, lv, r in results:
        by_level.setdefault((ax.name, lv), []).append(r)
    pairs = [(key, a, b, success_comparison(a, b)) for key, rs in by_level.items()
             for j, a in enumerate(rs) for b in rs[j + 1:]]
    if pairs:
        adjusted = holm([c.p_value for *_, c in pairs])
        claims += [f"{name} level {lv}: " + c.claim(a.agent, b.agent, float(p))
                   for ((name, lv), a, b, c), p in zip(pairs, adjusted, strict=True)]
    return typed, claims


def _write_model_errors(path: Path, rows: list[dict]) -> None:
    """``model_error.csv`` of a ladder: the learned models' error per axis and level."""
    import csv
    import io

    from ..runlog import atomic_write_text

    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def plot_shift(rows: list[dict], path: Path, title: str = "Shift") -> Path:
    """Success against severity level, one panel per axis, one line per agent, CI bands."""
    from matplotlib.figure import Figure

    axes = list(dict.fromkeys(r["axis"] for r in rows))
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    ncol = min(3, len(axes))
    nrow = int(np.ceil(len(axes) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.0 * nrow + 0.8), layout="constrained")
    grid = fig.subplots(nrow, ncol, squeeze=False)
    panels = grid.ravel()
    for k, (ax_name, panel) in enumerate(zip(axes, panels, strict=False)):
        for i, agent in enumerate(agents):
            pts = sorted((r["level"], r["success"], r["success_low"], r["success_high"])
                         for r in rows if r["axis"] == ax_name and r["agent"] == agent)
            if not pts:
                continue
            lv, s, lo, hi = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
            panel.plot(lv, s, marker="o", color=f"C{i}", label=agent)
            panel.fill_between(lv, lo, hi, color=f"C{i}", alpha=0.15, lw=0)
        labels = {r["level"]: r["label"] for r in rows if r["axis"] == ax_name}
        panel.set_xticks(sorted(labels), [f"{k}" for k in sorted(labels)])
        panel.set_title(ax_name, fontsize=10)
        panel.set_ylim(-0.02, 1.02)
        if k + ncol >= len(axes):  # the lowest panel of its column
            panel.set_xlabel("severity level (0 = training)")
        if k % ncol == 0:
            panel.set_ylabel("success")
        panel.grid(alpha=0.3)
    for panel in panels[len(axes):]:
        panel.set_visible(False)
    handles, names = panels[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=min(4, len(agents)),
               fontsize=8)
    fig.suptitle(title, fontsize=11)
    report._save(fig, path)
    return path
