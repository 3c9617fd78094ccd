"""Tables (CSV, Markdown) and plots (PNG) of evaluations and comparisons."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..runlog import atomic_write_bytes, atomic_write_text
from ..worlds import display_env
from .stats import SMALL_N

#: columns whose numbers are names, not quantities (no thousands separators)
_NAME_NUMBERS = {"seed", "map_id", "level", "cell"}
#: a table wider than this is split into several, each repeating its leading name columns
MAX_COLUMNS = 8
_NAME_COLUMNS = ("run", "agent", "env_short", "env", "axis", "level", "split")


def plain_number(v: float) -> str:
    """A number as people write it: thousands separators, a few significant digits, never
    scientific notation (``1,234,567``, ``12.3``, ``0.0012``)."""
    a = abs(v)
    if a >= 100 or v == int(v) and a >= 1:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or v == 0:
        return f"{v:.3g}"
    return f"{v:.4f}".rstrip("0") if a >= 0.0001 else "< 0.0001"


def _fmt(v, spec: str = "", key: str = "") -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if spec and not spec.endswith("g"):
        return format(v, spec)
    if isinstance(v, (int, np.integer)):
        return str(v) if key in _NAME_NUMBERS or abs(v) < 10_000 else f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return plain_number(float(v))
    return str(v)


def markdown_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """``columns``: (key, header, format spec). Missing values print as a dash; a column
    empty in every row is left out; a table of more than :data:`MAX_COLUMNS` columns is
    split into several, each repeating the leading name columns (run, agent, env, split)."""
    cells = {k: [_fmt(r.get(k), f, k) for r in rows] for k, _, f in columns}
    if rows:
        columns = [c for c in columns if any(v not in ("—", "") for v in cells[c[0]])]
    names: list[tuple[str, str, str]] = []
    for c in columns:
        if c[0] not in _NAME_COLUMNS or len(names) >= 3:
            break
        names.append(c)
    rest = columns[len(names):]
    count = -(-len(rest) // max(MAX_COLUMNS - len(names), 1))  # tables needed
    size = -(-len(rest) // max(count, 1))  # balanced: no table of one lone column
    parts = [rest[i:i + size] for i in range(0, len(rest), size)] or [[]]
    return "\n".join(_one_table(rows, names + part, cells) for part in parts)


def _one_table(rows: list[dict], columns: list[tuple[str, str, str]], cells: dict) -> str:
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cells[k][i] for k, _, _ in columns) + " |"
            for i in range(len(rows))]
    return "\n".join([head, sep, *body]) + "\n"


#: what each column header means (printed under the demo's tables)
GLOSSARY = {
    "to 1st success": "episodes (launches or drives) until the first success",
    "to 50%": "episodes until the rolling success rate (over the comparison's window of "
              "episodes) first reaches 50%; the rate counts from the 10th episode on (the "
              "last, in a shorter run), so 10 is the floor: an agent that succeeds from its "
              "first episode (the planner) shows 10, not a cost of 10",
    "to 90%": "as \"to 50%\", for 90%",
    "destroyed before 1st success": "episodes that ended with the vehicle destroyed (a "
                                    "death: a rocket lost, a crash, a fall) before the first "
                                    "success; a miss, an escape or a timeout is not one",
    "destroyed total": "every death in the run (the vehicle destroyed)",
    "env steps to 90%": "simulator steps taken until the rolling success reached 90%",
    "wall s to 90%": "wall-clock seconds until then",
    "trials allowed": "real trials the evaluation gives each scenario: one for a frozen "
                      "policy, the world's allowance for an agent that corrects from a miss",
    "real trials/scenario": "episodes run in the world per scenario (a planner may correct "
                            "its launch and try again)",
    "real env steps/scenario": "simulator steps of those episodes, per scenario",
    "real env steps": "simulator steps the run took in the world",
    "imagined trials/scenario": "rollouts in the agent's own model per scenario (its "
                                "planning cost; 0 for a model-free agent)",
    "imagined trials": "rollouts in the agent's own model over the run",
    "imagined env steps/scenario": "steps of those rollouts, in the world's own steps, so that "
                                   "they compare with the real ones",
    "imagined env steps": "steps of the run's imagined rollouts, in the world's own steps",
    "compute s/scenario": "the agent's deciding and learning time per scenario (wall clock)",
    "compute s": "the agent's deciding and learning time over the run (wall clock)",
    "final success": "success rate of the run's last training episodes (the rolling window; "
                     "a stochastic policy still exploring), not the evaluation's",
    "success": "success rate of the frozen agent, deterministic, on the evaluation scenarios",
    "95% CI": "95% confidence interval: of a success rate, Clopper-Pearson over the scenarios "
              "(its n beside it); of a gap between the splits (different scenarios), "
              "Newcombe's interval for two independent rates, its test beside it",
    "1st-trial success": "share of scenarios solved by the first trial",
    "destroyed/episode": "share of episodes that ended with the vehicle destroyed (a death)",
    "time to goal": "mean time to the goal of the successful episodes, in the unit beside it",
    "gap (train − new)": "success on the training distribution minus success on the new one",
    "test": "the test behind the gap's p-value (Fisher's exact test: the splits' scenarios "
            "differ)",
    "p": "the test's two-sided p-value",
}


def glossary(markdown_text: str) -> str:
    """The :data:`GLOSSARY` lines of the column headers used in ``markdown_text``'s tables
    (empty when none is known)."""
    lines = markdown_text.splitlines()
    headers = [h.strip() for line, below in zip(lines, lines[1:], strict=False)
               if line.startswith("|") and below.startswith("|---")
               for h in line.strip("|").split("|")]
    used = [h for h in dict.fromkeys(headers) if h in GLOSSARY]
    return "\n".join(f"- *{h}*: {GLOSSARY[h]}" for h in used) + ("\n" if used else "")


def write_table(out: Path, name: str, rows: list[dict],
                columns: list[tuple[str, str, str]]) -> str:
    """Write ``name.csv`` (all public keys) and ``name.md`` (the chosen columns) into ``out``;
    returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if not k.startswith("_")]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / f"{name}.csv", buf.getvalue())
    md = markdown_table(rows, columns)
    atomic_write_text(out / f"{name}.md", md)
    return md


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


#: Per agent a marker and a line style of its own, so that curves that coincide (two planners
#: at 100% from their first trial) stay visible and tell apart in grey print.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")


def plot_learning_curves(curves: dict, path: Path, title: str = "Learning curves",
                         window: int | None = None) -> Path:
    """Rolling success against real trials (episodes) and against total env steps (real +
    imagined: :attr:`~moonshot.agents.base.AgentCosts.model_steps`), both log x: the mean of
    each agent's runs with its 95% Student-t band over them, IQM thin. Each agent has its own
    marker and line style, and earlier lines are drawn wider, so a line under another shows.

    ``window``: the rolling window of the rates; when every curve is longer than it, the real
    trials' axis starts at the first full window (before it a rate over a few episodes is
    noise: a first lucky launch reads as 100%)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.4))
    ax_real, ax_total = fig.subplots(1, 2, sharey=True)
    n = len(curves)
    for i, (name, c) in enumerate(sorted(curves.items())):
        style = dict(color=f"C{i % 10}", marker=MARKERS[i % len(MARKERS)],
                     ls=LINESTYLES[i % len(LINESTYLES)], lw=1.5 + 1.5 * (n - 1 - i) / max(n, 1),
                     ms=7 - 3 * i / max(n, 1), markevery=max(1, len(c["x"]) // 8),
                     zorder=2 + i, alpha=0.9)
        label = f"{name} ({c['runs']} run{'s' if c['runs'] > 1 else ''}"
        if c.get("imagined_per_trial"):  # both parts of a planner's bill
            label += f"; {c['imagined_per_trial']:,.0f} imagined trials per real one"
        label += ")"
        total = c.get("total_steps")
        for ax, x in ((ax_real, c["x"]), (ax_total, total)):
            if x is None or not np.isfinite(np.asarray(x, dtype=float)).all():
                continue  # a log that did not count its imagined steps: no total curve
            ax.plot(x, c["mean"], label=label, **style)
            if c["runs"] > 1:
                ax.fill_between(x, c["low"], c["high"], color=style["color"], alpha=0.15,
                                lw=0)
                ax.plot(x, c["iqm"], color=style["color"], lw=0.8, ls=":")
    ax_real.set_xlabel("real trials: episodes (launches / drives), log scale")
    ax_total.set_xlabel("total env steps: real + imagined (model steps), log scale")
    ax_real.set_ylabel("rolling success rate")
    ax_real.set_title(f"{title}: against real trials")
    ax_total.set_title("against real + imagined env steps")
    for ax in (ax_real, ax_total):
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, which="both")
    ax_real.legend(fontsize=7, loc="best")
    if window and curves and all(len(c["x"]) and c["x"][-1] >= 2 * window
                                 for c in curves.values()):
        # every curve from its first full window on, where each still has a stretch to show
        # (a run that ends at its first full window would vanish from the panel)
        ax_real.set_xlim(left=window)
    _save(fig, path)
    return path


def plot_training_runs(runs: list[dict], path: Path, title: str = "Training runs") -> Path:
    """Per run, against env steps: the success of its training episodes (rolling) and of its
    periodic deterministic evaluations (``evaluations.csv``: train split solid, new dashed).

    ``runs``: ``{"name", "steps", "rolling", "evals": {split: (steps, success)}}`` each."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax_train, ax_eval = fig.subplots(1, 2, sharey=True)
    for i, r in enumerate(runs):
        color = f"C{i % 10}"
        x, y = _binned(np.asarray(r["steps"], dtype=float), np.asarray(r["rolling"], float))
        ax_train.plot(x, y, color=color, lw=1.5, label=r["name"])
        for split, ls in (("train", "-"), ("new", "--")):
            if split in r["evals"]:
                x, y = r["evals"][split]
                ax_eval.plot(x, y, color=color, ls=ls, marker="o", ms=3,
                             label=f"{r['name']}, {split}")
    ax_train.set_title(f"{title}: training episodes (rolling {runs[0]['window'] if runs else ''}"
                       ", averaged over at most 400 stretches)")
    ax_eval.set_title("deterministic evaluations (train —, new - -)")
    for ax in (ax_train, ax_eval):
        ax.set_xlabel("env steps")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    ax_train.set_ylabel("success rate")
    ax_train.legend(fontsize=7, loc="best")
    ax_eval.legend(fontsize=6, loc="best", ncol=2)
    _save(fig, path)
    return path


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as at most ``bins`` points, each the mean of its stretch of ``x``: a
    rolling rate over 300,000 episodes drawn point by point is a block of noise."""
    if len(x) <= bins:
        return x, y
    edges = np.linspace(0, len(x), bins + 1).astype(int)
    keep = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    with np.errstate(all="ignore"):
        ys = [np.nanmean(y[a:b]) if np.isfinite(y[a:b]).any() else np.nan for a, b in keep]
    return np.array([x[b - 1] for _, b in keep]), np.array(ys)


def plot_transfer(results: list[dict], path: Path, title: str = "Transfer") -> Path:
    """Success rate on train vs new per agent, with 95% Clopper-Pearson intervals."""
    from matplotlib.figure import Figure

    agents = list(dict.fromkeys(f"{r['agent']}\n{display_env(r['env'])}" for r in results))
    fig = Figure(figsize=(max(5, 1.6 * len(agents) + 2), 4))
    ax = fig.add_subplot()
    width = 0.38
    for k, (split, color) in enumerate((("train", "#4c72b0"), ("new", "#dd8452"))):
        xs, ys, err = [], [], []
        for i, a in enumerate(agents):
            for r in results:
                if f"{r['agent']}\n{display_env(r['env'])}" == a and r["split"] == split:
                    xs.append(i + (k - 0.5) * width)
                    ys.append(r["success_rate"])
                    err.append([r["success_rate"] - r["success_low"],
                                r["success_high"] - r["success_rate"]])
        if xs:
            ax.bar(xs, ys, width, color=color, label=f"split={split}",
                   yerr=np.array(err).T, capsize=3)
    ax.set_xticks(range(len(agents)), agents, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (per scenario / drive)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return path


TRANSFER_COLUMNS = [
    ("agent", "agent", ""), ("env_short", "env", ""), ("split", "split", ""),
    ("scenarios", "scenarios", ""), ("success_rate", "success", ".1%"),
    ("success_ci", "95% CI", ""), ("first_trial_success_rate", "1st-trial success", ".1%"),
    ("max_trials", "trials allowed", ""),
    ("trials_per_scenario", "real trials/scenario", ".2f"),
    ("env_steps_per_scenario", "real env steps/scenario", ".3g"),
    ("model_steps_per_scenario", "imagined env steps/scenario", ".3g"),
    ("model_rollouts_per_scenario", "imagined trials/scenario", ".3g"),
    ("compute_s_per_scenario", "compute s/scenario", ".3g"),
    ("death_rate", "destroyed/episode", ".1%"),
    ("time_to_goal", "time to goal", ".3g"), ("time_unit", "unit", ""),
]

GAP_COLUMNS = [("agent", "agent", ""), ("env_short", "env", ""), ("gap", "gap (train − new)",
               "+.1%"), ("gap_ci", "95% CI", ""), ("gap_test", "test", ""),
               ("gap_p", "p", ".3g")]

EFFICIENCY_COLUMNS = [
    ("run", "run", ""), ("agent", "agent", ""), ("env", "env", ""), ("target", "target", ""),
    ("episodes", "episodes", ""), ("episodes_to_first_success", "to 1st success", ""),
    ("episodes_to_success_50", "to 50%", ""), ("episodes_to_success_90", "to 90%", ""),
    ("deaths_before_first_success", "destroyed before 1st success", ""),
    ("deaths", "destroyed total", ""), ("env_steps_to_success_90", "env steps to 90%", ""),
    ("wall_s_to_success_90", "wall s to 90%", ".3g"),
    ("max_trials", "trials allowed", ""), ("trials_per_scenario", "real trials/scenario", ".2f"),
    ("env_steps", "real env steps", ""), ("model_steps", "imagined env steps", ".4g"),
    ("model_rollouts", "imagined trials", ""), ("compute_s", "compute s", ".3g"),
    ("final_success_rate", "final success", ".0%"),
]


def interval_percent(low: float, high: float) -> tuple[int, int]:
    """A rate's interval in whole percent, rounded outward (never narrower than computed,
    never a collapsed [100-100])."""
    return math.floor(low * 100 + 1e-9), math.ceil(high * 100 - 1e-9)


def interval_cell(low: float, high: float, n: int | None, unit: str,
                  method: str = "Clopper-Pearson") -> str:
    """A rate's 95% interval as a table cell: bounds rounded outward
    (:func:`interval_percent`), its n (flagged below 10) and method."""
    lo, hi = interval_percent(low, high)
    if n is None:
        return f"[{lo}-{hi}]%, {method}"
    small = f" (<{SMALL_N})" if n < SMALL_N else ""
    return f"[{lo}-{hi}]%, n={n} {unit}{small}, {method}"


def decorate_transfer(rows: list[dict]) -> list[dict]:
    """Add the display-only columns (short env name, CI text) to transfer/gap rows."""
    for r in rows:
        r["env_short"] = display_env(r["env"])
        if r.get("success_low") is not None:
            r["success_ci"] = interval_cell(r["success_low"], r["success_high"],
                                            r.get("scenarios"), "scenarios")
        if r.get("gap_low") is not None:
            r["gap_ci"] = (f"{math.floor(r['gap_low'] * 100):+d}% to "
                           f"{math.ceil(r['gap_high'] * 100):+d}%")
    return rows
