"""The headline tables of README.md and docs/results.md, re-derived from the release
measurement's folders (every figure there comes from this script's output on the folders
named beside it).

    python benchmarks/headline_tables.py runs/headline-moon runs/headline-city \\
        [--eval runs/moon-search-eval] [--shift runs/city-ladder ...] [--out tables.md]

Each sweep folder is a ``moonshot sweep`` output (``cells/*/result.json`` and the cells'
episode logs); ``--eval`` adds ``moonshot evaluate`` folders (agents evaluated once, e.g.
``search:moon``), ``--shift`` adds ``moonshot shift`` folders.

Statistics (docs/statistics.md): an agent that learns (RL, ``pets``, ``sysid``) has one score per
training seed and its interval is Student-t over those seeds; an agent that does not learn (a
planner, ``simulator-search``) meets the same evaluation scenarios whatever its seed, so its unit
is the scenario and its interval Clopper-Pearson over them. When every seed of a learner scores
the same, the table says so and gives Clopper-Pearson over the scenarios instead of a zero-width
interval. Differences to the planner are paired by scenario inside each seed (each seed's rate
minus the planner's on the same scenarios), with Student-t over seeds, Holm-adjusted over each
table's comparisons.

Estimands: the release specs evaluate every seed on the same scenarios (``evaluate.seed``), so
a learner's interval over seeds is conditional on those scenarios (it says how much training
seeds vary on them), while a non-learner's Clopper-Pearson interval is over scenarios (it says
what another draw of scenarios would give). Both are printed with their unit and method.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from moonshot.agents.episodes import scenario_starts
from moonshot.evaluation.experiments import _slug  # the folder names evaluate writes
from moonshot.evaluation.stats import (
    Interval,
    format_interval,
    holm,
    mean_ci_over_seeds,
    paired_difference,
    proportion_ci,
)
from moonshot.worlds import get_world

LEARNS = ("ppo", "sac", "td3", "a2c", "pets", "sysid", "ppo_lstm", "tqc", "ddpg")


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


class Evaluation:
    """One agent's evaluation on one split: its first-trial outcome per scenario and the
    per-scenario costs, read from the episode log of a cell or an evaluate folder."""

    def __init__(self, row: dict, log: Path):
        self.row = row
        self.first: dict[str, int] = {}
        self.any: dict[str, int] = {}
        if log is not None:
            rows = _read_csv(log)
            # a scenario is its place in the evaluation and its map: a CityNav training map
            # returns in many drives, so the map alone does not name a drive
            starts = scenario_starts([int(r.get("trial", "1")) for r in rows],
                                     [r["map_id"] for r in rows])
            index = -1
            for r, start in zip(rows, starts, strict=True):
                index += bool(start)
                sid = f"{index}:{r['map_id']}"
                if start:
                    self.first[sid] = int(r["success"])
                self.any[sid] = max(self.any.get(sid, 0), int(r["success"]))

    @property
    def first_rate(self) -> float:
        return float(self.row.get("first_trial_success_rate", self.row["success_rate"]))


def _episode_log(eval_dir: Path, split: str) -> Path:
    """The one episode log of a sweep cell's evaluation on ``split`` (a cell evaluates one
    agent); anything else is an error, never a silent gap in a table."""
    hits = sorted(eval_dir.glob(f"episodes/*-{split}/episodes.csv"))
    if len(hits) != 1:
        raise SystemExit(f"{eval_dir}: expected one episode log for split {split}, found "
                         f"{len(hits)}")
    return hits[0]


def _training(run: Path) -> dict:
    """Episodes and destroyed vehicles of a training run, from its episode log (a sweep still
    running has no cells.csv yet)."""
    log = run / "episodes.csv"
    if not log.exists():
        return {}
    with open(log, newline="") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        i_death = head.index("death")
        n = deaths = 0
        for r in reader:
            n += 1
            deaths += int(r[i_death])
    return {"episodes": n, "deaths": deaths}


def read_sweep(folder: Path) -> dict:
    """``{group: {"learns", "seeds": {seed: {"train": Evaluation, "new": ..., "training":
    row}}, "shift": [rows]}}`` of a sweep folder."""
    groups: dict = {}
    cells_csv = {r["cell"]: r for r in _read_csv(folder / "cells.csv")} \
        if (folder / "cells.csv").exists() else {}
    for cell in sorted((folder / "cells").iterdir()):
        res_path = cell / "result.json"
        if not res_path.exists():
            continue
        res = json.loads(res_path.read_text())
        spec = json.loads((cell / "cell.json").read_text())
        label = spec["agent"].get("label") or spec["agent"].get("algo") or "planner"
        g = groups.setdefault(label, {"learns": spec["agent"].get("algo") in LEARNS,
                                      "algo": spec["agent"].get("algo"), "seeds": {},
                                      "shift": [], "world": spec["env_id"]})
        entry: dict = {"training": cells_csv.get(res["cell"]) or _training(cell / "run")}
        for row in res["transfer"]:
            entry[row["split"]] = Evaluation(row, _episode_log(cell / "eval", row["split"]))
        g["seeds"][res["seed"]] = entry
        for row in res.get("shift") or []:
            g["shift"].append({**row, "seed": res["seed"], "agent": label})
    return groups


def read_eval(folder: Path) -> dict:
    """The agents of a ``moonshot evaluate`` folder, as groups of one (non-learning) seed;
    each row's episode log is found by the exact name ``evaluate`` gave it."""
    data = json.loads((folder / "transfer.json").read_text())
    groups: dict = {}
    order: list[tuple[str, str]] = []
    for row in data["results"]:
        key = (row["agent"], row["env"])
        if key not in order:
            order.append(key)
        k = order.index(key)
        g = groups.setdefault(row["agent"], {"learns": False, "algo": None, "seeds": {0: {}},
                                             "shift": [], "world": row["env"]})
        log = folder / "episodes" / _slug(f"{k}-{row['agent']}-{row['env']}-{row['split']}") \
            / "episodes.csv"
        if not log.exists():
            raise SystemExit(f"{folder}: no episode log {log} for {row['agent']} on "
                             f"{row['split']}")
        g["seeds"][0][row["split"]] = Evaluation(row, log)
    return groups


def rate_interval(group: dict, split: str, first: bool = True) -> Interval | None:
    """The group's success on ``split``: t over seeds for a learner (Clopper-Pearson over the
    scenarios when every seed scored the same), Clopper-Pearson over the scenarios for an
    agent that does not learn."""
    evs = [s[split] for s in group["seeds"].values() if split in s]
    if not evs:
        return None
    rates = [e.first_rate if first else float(e.row["success_rate"]) for e in evs]
    if group["learns"] and len(evs) >= 2 and np.ptp(rates) > 0:
        iv = mean_ci_over_seeds(rates)  # a rate lies in [0, 1]: so do its bounds
        return Interval(iv.estimate, max(0.0, iv.low), min(1.0, iv.high), iv.n, iv.method,
                        iv.unit)
    e = evs[0]  # the scenarios every seed of it met (the same for all: evaluate.seed)
    n = int(e.row["scenarios"])
    k = round((e.first_rate if first else float(e.row["success_rate"])) * n)
    iv = proportion_ci(k, n)
    return Interval(iv.estimate, iv.low, iv.high, n, iv.method, "scenarios")


def _cell(iv: Interval | None, group: dict) -> str:
    if iv is None:
        return "-"
    text = format_interval(iv, percent=True)
    if group["learns"] and iv.unit == "scenarios" and len(group["seeds"]) > 1:
        text += f"; equal on all {len(group['seeds'])} seeds"
    return text


def _mean(values: list[float]) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _num(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.{digits}f}"


def _split_mean(g: dict, split: str, key: str) -> float:
    """Mean over the group's seeds of a per-scenario figure of its evaluation on ``split``."""
    return _mean([float(s[split].row.get(key) or 0) for s in g["seeds"].values() if split in s])


def _training_means(g: dict) -> tuple[float, float]:
    """Mean training episodes and destroyed vehicles over the group's seeds."""
    trn = [s.get("training", {}) for s in g["seeds"].values()]

    def mean(key: str) -> float:
        return _mean([float(t[key]) for t in trn if t.get(key) not in (None, "")])

    return mean("episodes"), mean("deaths")


def _mean_count(x: float) -> str:
    """A mean over seeds of a count: whole above 100, else with its tenth (one crash in ten
    seeds is 0.1, not 0)."""
    return f"{x:,.0f}" if x >= 100 or x == round(x) else f"{x:.1f}"


def _trained(g: dict, pattern: str, absent: str) -> str:
    """A group's training: mean episodes and destroyed over seeds in ``pattern``, or
    ``absent`` for an agent that does not learn."""
    return pattern.format(*map(_mean_count, _training_means(g))) if g["learns"] else absent


def headline(groups: dict, world: str) -> str:
    """The main table of a world: success per split, costs, training (deaths named as the
    world names them: rockets lost, crashes, falls)."""
    dead = get_world(world).death_label
    lines = ["| agent | seeds | success, first trial, train | success, first trial, new | "
             f"real trials per scenario (train / new) | {dead} per episode (new) | "
             f"imagined trials per scenario (new) | training: episodes / {dead} |",
             "|---|---|---|---|---|---|---|---|"]
    for name, g in groups.items():
        tr = [_split_mean(g, sp, "trials_per_scenario") for sp in ("train", "new")]
        death = _split_mean(g, "new", "death_rate")
        imag = _split_mean(g, "new", "model_rollouts_per_scenario")
        training = _trained(g, "{} / {}", "none")
        lines.append(f"| {name} | {len(g['seeds']) if g['learns'] else '-'} | "
                     f"{_cell(rate_interval(g, 'train'), g)} | "
                     f"{_cell(rate_interval(g, 'new'), g)} | {_num(tr[0])} / {_num(tr[1])} | "
                     f"{death:.1%} | {_num(imag)} | {training} |")
    return f"**{world}**\n\n" + "\n".join(lines) + "\n"


def _first_seed(group: dict, split: str) -> Evaluation | None:
    return next((s[split] for _, s in sorted(group["seeds"].items()) if split in s), None)


def _short(iv: Interval | None) -> str:
    if iv is None:
        return "-"
    how = "t" if iv.method == "t" else "CP"
    if iv.degenerate:
        return f"{iv.estimate:.0%} ({how}, no spread)"
    lo, hi = math.floor(iv.low * 100 + 1e-9), math.ceil(iv.high * 100 - 1e-9)
    return f"{iv.estimate:.0%} [{lo}-{hi}] {how}"


def compact(groups: dict, world: str) -> str:
    """The README's table of a world: one line per agent (t: Student-t over training seeds;
    CP: Clopper-Pearson over the scenarios)."""
    lines = [f"| agent | seeds | trained on ({get_world(world).death_label}) | "
             "success, 1st trial, train | "
             "success, 1st trial, new | real / imagined trials per scenario, new |",
             "|---|---|---|---|---|---|"]
    for name, g in groups.items():
        real = _split_mean(g, "new", "trials_per_scenario")
        imag = _split_mean(g, "new", "model_rollouts_per_scenario")
        trained = _trained(g, "{} ({})", "-")
        lines.append(f"| {name} | {len(g['seeds']) if g['learns'] else '-'} | {trained} | "
                     f"{_short(rate_interval(g, 'train'))} | {_short(rate_interval(g, 'new'))} | "
                     f"{real:.2f} / {imag:,.0f} |")
    return "\n".join(lines) + "\n"


def versus(groups: dict, reference: str, split: str) -> str:
    """Each agent's first-trial success minus the reference's on the same scenarios.

    * A learner (several training seeds): each seed's rate minus the reference's on the same
      scenarios (paired inside the seed), Student-t over the seeds (``ttest_1samp``). When the
      seeds' differences are all equal the t-test is undefined; the first seed's scenarios are
      compared pair by pair instead (exact McNemar), and the table says so.
    * An agent that does not learn: its seeds meet the same scenarios, so the unit is the
      scenario: exact McNemar with Newcombe's interval over the first seed's scenarios.

    Every row is a member of the table's family and its p-value is Holm-adjusted with the
    others'."""
    from scipy import stats

    ref = groups.get(reference)
    ref_ev = _first_seed(ref, split) if ref is not None else None
    if ref_ev is None:
        return ""
    base = ref_ev.first
    rows: list[tuple[str, str, str]] = []
    ps: list[float] = []
    for name, g in groups.items():
        if name == reference:
            continue
        evs = [s[split] for _, s in sorted(g["seeds"].items()) if split in s]
        if not evs:
            continue
        for ev in evs:
            if set(ev.first) != set(base):
                raise SystemExit(f"{name} and {reference} were not evaluated on the same "
                                 f"scenarios on {split} (a paired comparison needs them)")
        diffs = [float(np.mean([ev.first[c] - base[c] for c in base])) for ev in evs]
        if g["learns"] and len(diffs) >= 2 and np.ptp(diffs) > 0:
            iv = mean_ci_over_seeds(diffs)
            p = float(stats.ttest_1samp(diffs, 0.0).pvalue)
            text = f"{iv.estimate:+.1%} [{iv.low:+.1%}, {iv.high:+.1%}]"
            how = f"{len(diffs)} seeds, t over seeds (paired by scenario inside each)"
        else:
            ev = evs[0]
            common = list(base)
            c = paired_difference([ev.first[k] for k in common], [base[k] for k in common])
            p = c.p_value
            text = f"{c.estimate:+.1%} [{c.low:+.1%}, {c.high:+.1%}]"
            how = (f"{len(common)} scenarios, exact McNemar"
                   + (f"; the same difference on all {len(diffs)} seeds"
                      if g["learns"] and len(diffs) >= 2 else ""))
        rows.append((name, text, how))
        ps.append(p)
    if not rows:  # the reference alone: nothing to compare
        return ""
    adj = holm(ps) if ps else []
    out = [f"| agent | minus {reference}, first trial, {split} [95% CI] | unit and test | "
           "Holm-adjusted p |", "|---|---|---|---|"]
    for (name, text, how), p in zip(rows, adj, strict=True):
        out.append(f"| {name} | {text} | {how} | {p:.2g} |")
    return "\n".join(out) + "\n"


def ladder(shift_rows: list[dict], dead: str = "destroyed") -> str:
    """Success per axis, level and agent, with its 95% interval: Student-t over the seeds of
    a learner (clipped to [0, 1]), Clopper-Pearson over the scenarios of a single evaluation;
    deaths named ``dead`` (the world's ``death_label``)."""
    cells: dict = defaultdict(list)
    order: list = []
    for r in shift_rows:
        key = (r["axis"], int(r["level"]), r["agent"])
        if key not in cells:
            order.append(key)
        cells[key].append(r)
    agents = list(dict.fromkeys(k[2] for k in order))
    axes = list(dict.fromkeys((k[0], k[1]) for k in order))
    head = "| axis | level | " + " | ".join(agents) + " |"
    out = [head, "|---|---|" + "---|" * len(agents)]
    for axis, level in axes:
        row = [axis, str(level)]
        for a in agents:
            rs = cells.get((axis, level, a), [])
            if not rs:
                row.append("-")
                continue
            rates = [float(r.get("success_rate", r.get("success"))) for r in rs]
            deaths = _mean([float(r.get("death_rate", r.get("deaths"))) for r in rs])
            if len(rs) >= 2 and np.ptp(rates) > 0:
                iv = mean_ci_over_seeds(rates)
                lo, hi, n = max(0.0, iv.low), min(1.0, iv.high), f"{len(rs)} seeds"
                est = iv.estimate
            else:
                m = int(float(rs[0]["episodes"]))
                iv = proportion_ci(round(rates[0] * m), m)
                est, lo, hi = iv.estimate, iv.low, iv.high
                n = f"{m} scen." + (f", all {len(rs)} seeds" if len(rs) > 1 else "")
            row.append(f"{est:.0%} [{math.floor(lo * 100)}-{math.ceil(hi * 100)}] ({n})"
                       + (f", {deaths:.0%} {dead}" if deaths > 0 else ""))
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def ladder_compact(shift_rows: list[dict], dead: str = "destroyed") -> str:
    """One row per axis and level, one column per agent: success (and deaths named ``dead``)
    in percent of the level's scenarios, one evaluation each; ``*`` where the exact McNemar
    test against the same agent at level 0, Holm-adjusted over the ladder, gives p < 0.05
    (the folders' ``p_holm``). For many ladders on one page; ``ladder`` gives the intervals."""
    agents = list(dict.fromkeys(r["agent"] for r in shift_rows))
    levels: dict = {}
    cells: dict = {}
    for r in shift_rows:
        key = (r["axis"], int(r["level"]))
        levels.setdefault(key, r.get("label", ""))
        cell_key = (key[0], key[1], r["agent"])
        if cell_key in cells:
            raise SystemExit(f"{r['agent']} appears twice at {key}: one evaluation per cell")
        cells[cell_key] = r
    out = ["| axis | level | what | " + " | ".join(map(_short_agent, agents)) + " |",
           "|---|---|---|" + "---|" * len(agents)]
    for (axis, level), label in levels.items():
        row = [axis, str(level), label]
        for a in agents:
            got = cells.get((axis, level, a))
            if got is None:
                row.append("-")
                continue
            rate = float(got.get("success_rate", got.get("success")))
            deaths = float(got.get("death_rate", got.get("deaths")))
            p = got.get("p_holm", "")
            mark = "*" if p not in ("", None) and float(p) < 0.05 else ""
            row.append(f"{rate:.0%}{mark}" + (f" ({deaths:.0%} {dead})" if deaths > 0 else ""))
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def read_shift(folder: Path) -> list[dict]:
    return _read_csv(folder / "shift.csv")


def _short_agent(agent: str) -> str:
    """A shift row's agent as the compact table heads it: "ppo (ppo-lidar-s0/run)" ->
    "ppo-lidar-s0"."""
    m = re.fullmatch(r"(.+) \((?:(.+)/)?run\)", agent)
    return (m.group(2) or m.group(1)) if m else agent


def shift_outcomes(folder: Path) -> dict:
    """Per (axis, level, agent as :func:`_short_agent` names it): the level's scenarios in
    order, as (map_id, seed, success within its trials) from the episode log ``moonshot
    shift`` wrote (a CityNav drive is one trial; a MoonLaunch scenario may take several)."""
    from moonshot.evaluation.shift import cell_folder

    rows = read_shift(folder)
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    out = {}
    for r in rows:
        k = agents.index(r["agent"])
        log = cell_folder(folder, r["axis"], r["level"], k, r["agent"]) / "episodes.csv"
        if not log.is_file():
            raise SystemExit(f"missing episode log {log}: a paired comparison needs it")
        scenarios: list = []  # a scenario starts at its first trial; later trials join it
        for e in _read_csv(log):
            won = int(float(e["success"]))
            if int(float(e.get("trial") or 1)) == 1 or not scenarios:
                scenarios.append([e["map_id"], e["seed"], won])
            else:
                scenarios[-1][2] = max(scenarios[-1][2], won)
        out[(r["axis"], int(r["level"]), _short_agent(r["agent"]))] = [
            tuple(x) for x in scenarios]
    return out


def ladder_versus(folders: list[Path], reference: str, other: str) -> str:
    """``other``'s success minus ``reference``'s at every level both were run on, across
    ``folders`` (shift folders, e.g. a ladder and a second ladder of one more agent on the
    same axis and seeds): paired by drive or scenario (the same map and seed, checked), exact
    McNemar with Newcombe's interval, Holm-adjusted over every row of this table (its own
    family, not the ladders' level-0 tests)."""
    got: dict = {}
    for f in folders:
        got.update(shift_outcomes(f))
    keys = [(axis, level) for (axis, level, a) in got if a == reference
            and (axis, level, other) in got]
    if not keys:
        raise SystemExit(f"no level where both {reference!r} and {other!r} were run (agents: "
                         f"{', '.join(sorted({a for _, _, a in got}))})")
    rows, ps = [], []
    for axis, level in keys:
        ref, oth = got[(axis, level, reference)], got[(axis, level, other)]
        if [(m, s) for m, s, _ in ref] != [(m, s) for m, s, _ in oth]:
            raise SystemExit(f"{axis} level {level}: {other} and {reference} did not meet the "
                             "same drives or scenarios (a paired comparison needs them)")
        c = paired_difference([o for *_, o in oth], [o for *_, o in ref])
        rows.append((axis, level, np.mean([o for *_, o in ref]), np.mean([o for *_, o in oth]),
                     c, len(ref)))
        ps.append(c.p_value)
    adj = holm(ps)
    out = [f"| axis | level | {reference} | {other} | difference [95% CI] | n | "
           "Holm-adjusted p |", "|---|---|---|---|---|---|---|"]
    for (axis, level, r, o, c, n), p in zip(rows, adj, strict=True):
        out.append(f"| {axis} | {level} | {r:.0%} | {o:.0%} | {c.estimate:+.0%} "
                   f"[{c.low:+.0%}, {c.high:+.0%}] | {n} | {p:.2g} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="*", type=Path, help="sweep output folders")
    ap.add_argument("--eval", nargs="*", type=Path, default=[], help="evaluate folders")
    ap.add_argument("--eval-agents", nargs="*", default=None,
                    help="keep only these agents of the evaluate folders (default: all)")
    ap.add_argument("--shift", nargs="*", type=Path, default=[], help="shift folders")
    ap.add_argument("--reference", default="planner", help="the agent others are compared to")
    ap.add_argument("--out", type=Path, default=None, help="also write the tables here")
    ap.add_argument("--readme", type=Path, default=None,
                    help="compare each world's compact table with the block between "
                    "<!-- headline-WORLD:begin/end --> in this file (exit 1 on a difference)")
    ap.add_argument("--write", action="store_true", help="with --readme: put the tables in")
    ap.add_argument("--compact", action="store_true",
                    help="shift folders: one short table of all of them (success, deaths, * "
                    "where a level differs from level 0, Holm-adjusted), not one with "
                    "intervals each")
    ap.add_argument("--versus", nargs=2, metavar=("REFERENCE", "AGENT"), default=None,
                    help="shift folders: AGENT's success minus REFERENCE's at every level both "
                    "ran (names as the compact table heads them), paired by drive, exact "
                    "McNemar, Holm over the table")
    args = ap.parse_args(argv)
    text = []
    by_world: dict = defaultdict(dict)
    for f in args.eval:
        for name, g in read_eval(f).items():
            if args.eval_agents is None or name in args.eval_agents:
                by_world[g["world"]][name] = g
    for f in args.sweeps:  # an agent in both: the sweep's cells (its seeds) are the figure
        for name, g in read_sweep(f).items():
            by_world[g["world"]][name] = g
    for world in by_world:  # learners first (PPO first), then the agents that do not learn
        by_world[world] = dict(sorted(by_world[world].items(), key=lambda kv: (
            not kv[1]["learns"], kv[1]["algo"] != "ppo")))
    for world, groups in by_world.items():
        text.append(headline(groups, world))
        for split in ("train", "new"):
            v = versus(groups, args.reference, split)
            if v:
                text.append(v)
        rows = [r for g in groups.values() for r in g["shift"]]
        if rows:
            text.append(f"**{world}, shift ladders (success within the trials allowed, mean over "
                        "seeds)**\n\n"
                        + ladder(rows, get_world(world).death_label))
    shift_rows: list[dict] = []
    compact_env = None
    for f in args.shift:
        env = json.loads((f / "shift.json").read_text())["env"] \
            if (f / "shift.json").exists() else None
        label = get_world(env).death_label if env else "destroyed"
        if args.compact:
            if shift_rows and env != compact_env:
                raise SystemExit(f"--compact: {f} is of {env}, the folders before it of "
                                 f"{compact_env}: one world a table")
            compact_env = env
            shift_rows.extend(read_shift(f))
        else:
            text.append(f"**{f.name}**\n\n" + ladder(read_shift(f), label))
    if shift_rows:
        text.append(ladder_compact(shift_rows, label))
    if args.versus:
        text.append(ladder_versus(args.shift, *args.versus))
    result = "\n".join(text)
    if args.readme is None:
        print(result)
    if args.out:
        args.out.write_text(result)
    if args.readme is not None:
        return _check_readme(args.readme, by_world, args.write)
    return 0


def _check_readme(path: Path, by_world: dict, write: bool) -> int:
    """Each world's compact table against its block in ``path`` (``--write``: replace it)."""
    text, status = path.read_text(), 0
    for world, groups in by_world.items():
        short = get_world(world).name
        begin, end = f"<!-- headline-{short}:begin -->\n", f"<!-- headline-{short}:end -->"
        if begin not in text:
            continue
        i, j = text.index(begin) + len(begin), text.index(end)
        want = compact(groups, world)
        if text[i:j] != want:
            if write:
                text = text[:i] + want + text[j:]
            else:
                print(f"{path}: the {short} table differs from the folders':\n{want}")
                status = 1
    if write:
        path.write_text(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
