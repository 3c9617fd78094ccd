"""The generalization ladder: agents along a world's shift axes, one axis at a time.

Level 0 of every axis is the training distribution; each level moves the world further in one
respect (the axis declarations live in the world registry, :class:`moonshot.worlds.ShiftAxis`).
"Local generalization" shows as success falling with the level; "extreme generalization" as
success that does not. Every agent is evaluated on the same scenarios at every level (the
same seed), frozen, as :func:`~moonshot.evaluation.transfer.evaluate_agent` does.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..agents.loading import AgentSpec, resolve_agents
from ..runlog import write_json
from ..worlds import get_world
from . import report
from .transfer import evaluate_agent

SHIFT_COLUMNS = ("axis", "level", "label", "agent", "episodes", "success", "success_low",
                 "success_high", "deaths", "trials", "model_rollouts", "time_to_goal",
                 "perceivable")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text)).strip("-")


def run_shift(env: str, agents: list[str | AgentSpec], axes: list[str] | None = None,
              levels: list[int] | None = None, episodes: int = 50, seed: int = 0,
              out: Path | str = "runs/shift", progress: bool = True,
              max_trials: int | None = None, env_kwargs: dict | None = None) -> dict:
    """Evaluate ``agents`` in the world of ``env`` along ``axes`` (default: all of the
    world's), at ``levels`` (default: every level), ``episodes`` each; writes ``shift.csv``,
    ``shift.json``, ``shift.png`` and ``report.md/html`` into ``out``.

    Rows: ``axis, level, label, agent, episodes, success`` (a fraction) ``, success_low,
    success_high`` (95% bootstrap CI) ``, deaths`` (per episode) ``, trials`` (real trials per
    scenario) ``, model_rollouts`` (imagined trials per scenario) ``, time_to_goal``.
    """
    from ..errors import check_int
    from ..runlog import run_folder

    world = get_world(env)
    check_int("--episodes", episodes, 1)
    check_int("--seed", seed, 0)
    names = list(axes) if axes else list(world.shift_axes)
    chosen = [world.axis(n) for n in names]
    for ax in chosen:
        for lv in (levels if levels is not None else range(len(ax.levels))):
            ax.settings(lv)  # a bad level is an error before anything runs
    specs = resolve_agents(agents, env)
    # The ladder is the world's, whatever an agent trained on: its own values of the shifted
    # quantities (a domain-randomized agent's wider ranges) give way to the levels'.
    shifted = {k for ax in world.shift_axes.values() for lv in ax.levels for k in lv}
    for spec in specs:
        spec.env_kwargs = {k: v for k, v in spec.env_kwargs.items() if k not in shifted}
    with run_folder(out, "shift", fresh=False):
        return _ladder(world, specs, chosen, names, levels, episodes, seed, Path(out),
                       max_trials, progress, env_kwargs)


def _ladder(world, specs, chosen, names, levels, episodes, seed, out, max_trials, progress,
            env_kwargs) -> dict:
    from .html_report import report_meta, write_report

    t0 = time.perf_counter()
    rows = []
    for ax in chosen:
        for lv in (levels if levels is not None else range(len(ax.levels))):
            for k, spec in enumerate(specs):
                folder = out / "episodes" / _slug(f"{ax.name}-{lv}-{k}-{spec.label}")
                res = evaluate_agent(spec, "train", episodes, seed, out=folder,
                                     max_trials=max_trials, progress=progress,
                                     env_overrides={**(env_kwargs or {}), **ax.settings(lv)})
                rows.append({
                    "axis": ax.name, "level": lv, "label": ax.labels[lv], "agent": spec.label,
                    "episodes": res["scenarios"], "success": res["success_rate"],
                    "success_low": res["success_low"], "success_high": res["success_high"],
                    "deaths": res["death_rate"], "trials": res["trials_per_scenario"],
                    "model_rollouts": res["model_rollouts_per_scenario"],
                    "time_to_goal": res["time_to_goal"], "perceivable": ax.perceivable})
    md = report.write_table(out, "shift", rows, [
        ("axis", "axis", ""), ("level", "level", ""), ("label", "what", ""),
        ("agent", "agent", ""), ("success", "success", ".1%"),
        ("success_low", "low", ".0%"), ("success_high", "high", ".0%"),
        ("deaths", "deaths/episode", ".1%"), ("trials", "real trials", ".2f"),
        ("model_rollouts", "imagined trials", ".3g")])
    plot_shift(rows, out / "shift.png", title=f"{world.title}: success along the shift axes")
    write_json(out / "shift.json", {"env": specs[0].env_id if specs else world.env_id,
                                    "episodes": episodes, "seed": seed, "rows": rows})
    text = "\n".join([
        f"# Generalization ladder: {world.title}", "",
        f"{len(specs)} agent(s), {episodes} scenarios per level, seed {seed}. Level 0 of each "
        "axis is the training distribution. Success with a 95% bootstrap interval; real and "
        "imagined trials per scenario.", "",
        "![shift](shift.png)", "", md,
        "", "Axes: " + "; ".join(f"**{a.name}**: {a.description}"
                                   + ("" if a.perceivable else " (not perceivable)")
                                   for a in chosen), ""])
    agent_words = " ".join(f"--agent {s.source}" for s in specs)
    write_report(out, text, f"Generalization ladder: {world.title}",
                 report_meta(f"moonshot shift {world.name} {agent_words} --axis "
                             f"{' '.join(names)} --episodes {episodes} --seed {seed} "
                             f"--out {out}", seeds=[seed],
                             wall_time_s=time.perf_counter() - t0))
    return {"rows": rows, "markdown": md}


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
