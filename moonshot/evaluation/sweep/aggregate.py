"""The aggregate of a finished sweep: per-cell and per-group tables with Student-t intervals
over seeds (the seed is the unit; fewer than 10 is flagged in the table), learning curves,
transfer and shift plots, ``report.md``/``report.html``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runlog import read_json, write_json
from .spec import Cell


def _ci(values):
    from ..stats import mean_over_seeds

    return mean_over_seeds(values)


def _cell(iv) -> str:
    """A table cell for an interval over seeds: its method and n, flagged below 10."""
    from ..stats import format_interval

    if iv.n < 2:
        return f"{iv.estimate:.0%} (n={iv.n} seed, no interval)"
    return format_interval(iv, percent=True)


def aggregate(out: Path, cells: list[Cell], wall_time_s: float = 0.0,
              command: str = "") -> dict:
    """One row per cell (``cells.csv``) and per group with 95% Student-t intervals over
    seeds (``summary.csv``; a one-seed group's success: Clopper-Pearson over its scenarios),
    learning curves, a transfer plot and ``report.md/html``."""
    from ...runlog import read_episodes
    from .. import report
    from ..efficiency import learning_curves, run_metrics
    from ..html_report import report_meta, write_report
    from ..transfer import TransferResult

    rows = []
    over_scenarios: dict[tuple[str, str], str] = {}  # (cell, success_SPLIT) -> its cell text
    for cell in cells:
        folder = out / "cells" / cell.id
        result = read_json(folder / "result.json")
        log = read_episodes(folder / "run")
        m = run_metrics(log)
        row = {"cell": cell.id, "group": cell.group, "seed": cell.seed, **cell.grid,
               "episodes": m["episodes"], "env_steps": m["env_steps"], "deaths": m["deaths"],
               "episodes_to_first_success": m["episodes_to_first_success"],
               "episodes_to_success_50": m["episodes_to_success_50"],
               "model_rollouts_per_scenario": m.get("model_rollouts_per_scenario"),
               "final_success_rate": m["final_success_rate"]}
        for tr in map(TransferResult.from_row, result["transfer"]):
            sp = tr.split
            row[f"success_{sp}"] = tr.success_rate
            # the interval over its scenarios (Clopper-Pearson), shown for a one-seed group
            lo, hi = report.interval_percent(tr.success_low, tr.success_high)  # outward
            over_scenarios[(cell.id, f"success_{sp}")] = (
                f"{tr.success_rate:.0%} [{lo}-{hi}]%, "
                f"n={tr.scenarios} scenarios of 1 seed, Clopper-Pearson")
            row[f"deaths_{sp}"] = tr.death_rate
            row[f"trials_{sp}"] = tr.trials_per_scenario
            row[f"max_trials_{sp}"] = tr.max_trials
            row[f"imagined_{sp}"] = tr.model_rollouts_per_scenario
        if "relearn" in result:
            row["relearn_episodes"] = result["relearn"]["episodes_to_recover"]
            row["relearn_deaths"] = result["relearn"]["deaths_to_recover"]
        rows.append(row)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    summary = []
    # the union over cells: groups of different worlds or agents report different columns
    grid = {k for c in cells for k in c.grid}
    keys = list(dict.fromkeys(k for r in rows for k in r))
    metrics = [k for k in keys if k not in ("cell", "group", "seed", *grid)]
    for name, members in groups.items():
        s = {"group": name, "seeds": len(members)}
        for k in metrics:
            vals = [m.get(k) for m in members]
            if all(v is None for v in vals):
                continue
            iv = _ci([np.nan if v is None else float(v) for v in vals])
            s[k], s[f"{k}_low"], s[f"{k}_high"] = iv
            if k.startswith("success_"):
                # one seed (an agent that draws nothing at random): over its scenarios
                one = len(members) == 1 and over_scenarios.get((members[0]["cell"], k))
                s[f"{k}_ci"] = one or _cell(iv)
            if any(v is None for v in vals):
                s[f"{k}_missing"] = sum(v is None for v in vals)
        summary.append(s)
    report.write_table(out, "cells", rows, [(k, k, "") for k in keys])
    cols = [("group", "group", ""), ("seeds", "seeds", "")]
    for sp in ("train", "new"):
        if any(f"success_{sp}" in r for r in summary):
            cols.append((f"success_{sp}_ci", f"success, {sp}", ""))
            cols.append((f"max_trials_{sp}", f"trials allowed, {sp}", ".2g"))
            cols.append((f"trials_{sp}", f"real trials/scenario, {sp}", ".2f"))
            cols.append((f"imagined_{sp}", f"imagined trials/scenario, {sp}", ".3g"))
            cols.append((f"deaths_{sp}", f"destroyed/episode, {sp}", ".1%"))
    cols += [("episodes_to_first_success", "episodes to 1st success", ".4g"),
             ("episodes_to_success_50", "episodes to 50%", ".4g"),
             ("deaths", "destroyed in training", ".4g")]
    if any("relearn_episodes" in r for r in summary):
        cols += [("relearn_episodes", "relearn: episodes", ".4g"),
                 ("relearn_deaths", "relearn: destroyed", ".4g")]
    md = report.write_table(out, "summary", summary, cols)
    curves = {}
    for name, members in groups.items():
        runs = [out / "cells" / m["cell"] / "run" for m in members]
        for key, c in learning_curves(runs).items():
            curves[f"{name} ({key.split(' · ')[0]})" if len(groups) > 1 else key] = c
    report.plot_learning_curves(curves, out / "learning_curves.png",
                                title="Learning curves (mean over seeds, 95% CI)")
    _plot_groups(summary, out / "transfer.png")
    shift_md = _aggregate_shift(out, cells)
    text = "\n".join([
        f"# Sweep {out.name}", "",
        "Seed set: " + ", ".join(sorted({c.seed_set for c in cells})) + ". "
        f"{len(cells)} cells in {len(groups)} groups; intervals are 95% Student-t intervals "
        "over seeds (each cell names its n; fewer than 10 seeds is marked <10), and a "
        "one-seed group's success is Clopper-Pearson over its scenarios. Per-cell "
        "figures in `cells.csv`, per-group in `summary.csv`.", "",
        md, "![learning curves](learning_curves.png)", "", "![transfer](transfer.png)", "",
        *(["## Along the shift axes", "", "Success per level: mean over seeds with a 95% "
           "Student-t interval over seeds (per-seed rows in `shift_cells.csv`).", "",
           "![shift](shift.png)", "", shift_md] if shift_md else [])])
    seeds = sorted({c.seed for c in cells})
    write_report(out, text, f"Sweep {out.name}",
                 report_meta(command, seeds=seeds, wall_time_s=wall_time_s))
    write_json(out / "summary.json", {"groups": summary, "cells": rows})
    return {"groups": summary, "cells": rows, "markdown": md}


def _aggregate_shift(out: Path, cells: list[Cell]) -> str:
    """The cells' shift ladders: one row per (group, axis, level) over seeds, and the plot."""
    from .. import report
    from ..shift import ShiftRow, plot_shift

    typed = []  # (cell, its row at one level of one axis)
    for cell in cells:
        result = read_json(out / "cells" / cell.id / "result.json")
        typed += [(cell, ShiftRow.from_row(r)) for r in result.get("shift", [])]
    if not typed:
        return ""
    rows = [{**r.row(), "group": c.group, "seed": c.seed} for c, r in typed]
    report.write_table(out, "shift_cells", rows,
                       [(k, k, "") for k in dict.fromkeys(k for r in rows for k in r)])
    groups: dict[tuple, list[ShiftRow]] = {}
    for c, r in typed:
        groups.setdefault((c.group, r.axis, r.level), []).append(r)
    summary = []
    for (group, axis, level), members in groups.items():
        iv = _ci([m.success for m in members])
        summary.append({"axis": axis, "level": level, "label": members[0].label,
                        "agent": group, "seeds": len(members), "success": iv.estimate,
                        "success_low": iv.low, "success_high": iv.high,
                        "success_ci": _cell(iv),
                        "deaths": float(np.mean([m.deaths for m in members])),
                        "trials": float(np.mean([m.trials for m in members])),
                        "model_rollouts": float(np.mean([m.model_rollouts
                                                         for m in members]))})
    summary.sort(key=lambda r: (r["axis"], r["level"], r["agent"]))
    plot_shift(summary, out / "shift.png", title="Success along the shift axes (over seeds)")
    return report.write_table(out, "shift", summary, [
        ("axis", "axis", ""), ("level", "level", ""), ("label", "what", ""),
        ("agent", "group", ""), ("seeds", "seeds", ""), ("success_ci", "success", ""),
        ("deaths", "destroyed/episode", ".1%"), ("trials", "real trials", ".2f"),
        ("model_rollouts", "imagined trials", ".3g")])


def _plot_groups(summary: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    from ..report import _save

    fig = Figure(figsize=(max(5, 1.3 * len(summary) + 2), 4))
    ax = fig.add_subplot()
    width = 0.38
    for k, (sp, color) in enumerate((("train", "#4c72b0"), ("new", "#dd8452"))):
        key = f"success_{sp}"
        if not any(key in r for r in summary):
            continue
        xs = np.arange(len(summary)) + (k - 0.5) * width
        ys = np.array([r.get(key, np.nan) for r in summary])
        err = np.array([[r.get(key, np.nan) - r.get(f"{key}_low", np.nan),
                         r.get(f"{key}_high", np.nan) - r.get(key, np.nan)]
                        for r in summary]).T
        ax.bar(xs, ys, width, color=color, label=f"split={sp}", yerr=err, capsize=3)
    ax.set_xticks(range(len(summary)), [r["group"] for r in summary], fontsize=7,
                  rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
