"""Many shift ladders pooled: each agent's success over every shifted level (level >= 1) of
the given ``moonshot shift`` folders (or a sweep's ``shift_cells.csv``, given as a file), as a
performance profile (Agarwal et al. 2021: the fraction of levels on which an agent's success
exceeds tau), its IQM and mean over the levels, its change from its own level 0, and its
probability of improving on a reference agent level by level.

    python benchmarks/ladder_profile.py measurements/city-ladder-* \\
        [--reference ppo-lidar] [--out docs/media/release-city-ladder-profile.png]

The folders' agents are grouped as the tables name them: ``ppo (ppo-lidar-s0/run)`` and
``ppo (ppo-lidar-s1/run)`` are two runs (seeds) of the group ``ppo-lidar``. The probability of
improvement (a tie counts half) gets the statistics library's BCa interval over runs where
both agents have at least 10 runs; otherwise none (a bootstrap over one run has nothing to
resample, and below 10 the bootstraps measured in docs/statistics.md undercover; this BCa
interval's own coverage at 10 runs is not measured there). The profile carries no band: it
describes these levels, it does not estimate a population of seeds. The IQM over levels
drops the worst quarter of them, where an agent breaks: read it beside the worst level.
Every level counts once, whatever reaches the agent (an axis that acts only on another
agent's inputs leaves its success unchanged) and however often an axis recurs in the
combined ladders. A level counts
for every agent only where every agent was evaluated on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from moonshot.evaluation.stats import iqm, performance_profile, probability_of_improvement


def group_of(agent: str) -> str:
    """The table name of an agent's group: ``ppo (ppo-lidar-s2/run)`` -> ``ppo-lidar``,
    ``sysid (run)`` -> ``sysid``, anything else as it is."""
    m = re.fullmatch(r"(.+) \((?:(.+?)(?:-s\d+)?/)?run\)", agent)
    return (m.group(2) or m.group(1)) if m else agent


def read(folders: list[Path], groups: list[str] | None = None
         ) -> tuple[list[tuple[str, int]], dict[str, np.ndarray], dict, dict[str, np.ndarray]]:
    """(tasks, scores, runs, drops): the shifted levels every agent met, per group an array
    shaped (runs, tasks) of success rates, its run names, and the same array minus each
    run's success at level 0 of the level's axis."""
    by: dict = defaultdict(dict)  # group -> run (agent name) -> task -> success
    base: dict = {}  # (agent, axis) -> success at level 0
    envs = {json.loads((f / "shift.json").read_text()).get("env") for f in folders
            if f.is_dir() and (f / "shift.json").is_file()}
    if len(envs) > 1:
        raise SystemExit(f"the folders are of several worlds ({', '.join(sorted(envs))}): "
                         "pool one world at a time")
    for folder in folders:
        path = folder if folder.is_file() else folder / "shift.csv"
        if not path.is_file():
            raise SystemExit(f"{folder}: no shift.csv (not a finished `moonshot shift` folder)")
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                run = (f"{r['group']}-s{r['seed']}" if r.get("group")
                       and r.get("seed") not in (None, "") else r["agent"])
                if int(r["level"]) == 0:
                    base[(run, r["axis"])] = float(r["success"])
                    continue
                task = (r["axis"], int(r["level"]))
                group = r["group"] if run != r["agent"] else group_of(r["agent"])
                runs = by[group].setdefault(run, {})
                if task in runs:
                    raise SystemExit(f"{run} evaluated twice at {task}")
                runs[task] = float(r["success"])
    if not by:
        raise SystemExit("no shifted level (level >= 1) in the folders given")
    if groups:  # before the levels are intersected: a group left out does not narrow them
        missing = [g for g in groups if g not in by]
        if missing:
            raise SystemExit(f"--groups {' '.join(missing)}: the groups are {', '.join(by)}")
        by = {g: by[g] for g in groups}
    for runs in by.values():
        for run, tasks_of in runs.items():
            for axis in {a for a, _ in tasks_of}:
                if (run, axis) not in base:
                    raise SystemExit(f"{run} has no level 0 on {axis}: its change from level "
                                     "0 is undefined")
    every = set.intersection(*(set(t) for runs in by.values() for t in runs.values()))
    tasks = sorted(every)
    scores = {g: np.array([[runs[a][t] for t in tasks] for a in runs]) for g, runs in by.items()}
    drops = {g: np.array([[runs[a][t] - base[(a, t[0])] for t in tasks] for a in runs])
             for g, runs in by.items()}
    return tasks, scores, {g: list(runs) for g, runs in by.items()}, drops


def improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + P(X = Y) / 2 per level over every pair of runs, averaged over levels (the
    probability of improvement's estimate; ``probability_of_improvement`` adds its interval
    where both have runs to resample)."""
    diff = x[:, None, :] - y[None, :, :]
    return float(((diff > 0).mean(axis=(0, 1)) + 0.5 * (diff == 0).mean(axis=(0, 1))).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="moonshot shift output folders")
    ap.add_argument("--reference", default=None,
                    help="the group others are compared to (default: the first)")
    ap.add_argument("--groups", nargs="+", default=None,
                    help="keep only these agents (groups), in this order (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="the profile plot (PNG)")
    args = ap.parse_args(argv)
    tasks, scores, runs, drops = read(args.folders, args.groups)
    ref = args.reference or next(iter(scores))
    if ref not in scores:
        raise SystemExit(f"--reference {ref!r}: the groups are {', '.join(scores)}")
    print(f"{len(tasks)} shifted levels on {len({a for a, _ in tasks})} axes; success per "
          "level, pooled; P(better) counts a tie as half and has a BCa bootstrap interval over "
          "runs where both agents have 10 runs or more, none otherwise; the IQM drops the "
          "worst quarter of levels (the script's docstring says why)\n")
    print(f"| agent | runs | mean | worst level | IQM over levels | change from level 0, mean "
          f"| levels at >= 90% | P(better than {ref}) |")
    print("|---|---|---|---|---|---|---|---|")
    for g, x in scores.items():
        if g == ref:
            pi = "-"
        elif min(len(x), len(scores[ref])) >= 10:  # runs enough to resample
            iv = probability_of_improvement(x, scores[ref])
            pi = f"{iv.estimate:.2f} [{iv.low:.2f}-{iv.high:.2f}] (n={iv.n} runs, BCa)"
        else:
            pi = f"{improvement(x, scores[ref]):.2f}"
        per_level = x.mean(axis=0)
        worst = tasks[int(np.argmin(per_level))]
        above = float((x >= 0.9 - 1e-9).mean())  # of runs and levels, as the profile counts
        print(f"| {g} | {len(runs[g])} | {x.mean():.0%} | {per_level.min():.0%} ({worst[0]} "
              f"{worst[1]}) | {iqm(per_level):.0%} | "
              f"{int(round(100 * drops[g].mean())):+d} points | {above:.0%} | {pi} |")
    if args.out:
        import matplotlib.pyplot as plt

        taus = np.linspace(0, 1, 101)
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        styles = ["-", "--", "-.", ":"]
        for i, (g, x) in enumerate(scores.items()):
            ax.step(taus, performance_profile(x, taus), where="post", lw=2,
                    ls=styles[i % len(styles)], marker="os^vDP*"[i % 7], markevery=10,
                    label=f"{g} ({len(runs[g])} run{'s' if len(runs[g]) > 1 else ''})")
        ax.set_xlabel("success rate tau on a shifted level")
        ax.set_ylabel("share of levels (and runs) with success > tau")
        ax.set_title(f"{len(tasks)} shifted levels, pooled")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=110)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
