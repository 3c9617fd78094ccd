"""CityNav's friction ladder for several kinds of agent on one plot (docs/generalization.md).

Reads the friction rows of sweeps (``shift_cells.csv``: one row per seed, grouped by the
sweep's agent label) and of ``moonshot shift`` folders (``shift.csv``: every row whose agent
contains a given text is one seed of a series), and writes ``friction.png`` and ``friction.md``
into ``--out``: success and deaths per drive against the level, mean over seeds with a 95%
bootstrap interval over seeds.

    python benchmarks/friction_ladder.py --out runs/friction-ladder \\
        --sweep runs/city-friction --sweep runs/city-friction-long \\
        --shift "ppo (dry roads)=runs/shift-city-friction-ppo:ppo" \\
        --shift "planner=runs/shift-city:planner"
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from moonshot.evaluation.report import interval_cell
from moonshot.evaluation.stats import mean_over_seeds
from moonshot.worlds import get_world

Series = dict[str, dict[int, list[tuple[float, float]]]]  # label -> level -> [(succ, deaths)]


def read_sweep(folder: Path, into: Series) -> None:
    with open(folder / "shift_cells.csv") as fh:
        for r in csv.DictReader(fh):
            if r["axis"] == "friction":
                into[r["group"]][int(r["level"])].append((float(r["success"]),
                                                          float(r["deaths"])))


def read_shift(label: str, folder: Path, match: str, into: Series) -> None:
    with open(folder / "shift.csv") as fh:
        for r in csv.DictReader(fh):
            if r["axis"] == "friction" and match in r["agent"]:
                into[label][int(r["level"])].append((float(r["success"]), float(r["deaths"])))


def _cell(est, n: int) -> str:
    """A mean over ``n`` seeds with its Student-t interval, rounded outward, its n and method
    named; seeds that all scored alike get no interval (a zero width is not one)."""
    if n < 2 or not np.isfinite(est.low) or est.high - est.low < 1e-12:
        return f"{est.estimate:.0%} (n={n} seeds{', all equal' if n >= 2 else ''}, no interval)"
    return f"{est.estimate:.0%} " + interval_cell(max(0.0, est.low), min(1.0, est.high), n,
                                                  "seeds", "t")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sweep", action="append", default=[], type=Path,
                   help="a sweep folder with a friction ladder (repeat)")
    p.add_argument("--shift", action="append", default=[],
                   help="LABEL=FOLDER:MATCH, a moonshot shift folder's rows whose agent "
                        "contains MATCH, one row per seed (repeat)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    series: Series = defaultdict(lambda: defaultdict(list))
    for folder in args.sweep:
        read_sweep(folder, series)
    for text in args.shift:
        label, _, rest = text.partition("=")
        folder, _, match = rest.rpartition(":")
        if not (label and folder):
            p.error(f"--shift {text!r}: expected LABEL=FOLDER:MATCH")
        read_shift(label, Path(folder), match, series)
    if not series:
        p.error("no friction rows found")
    names = get_world("city").axis("friction").labels
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| agent | seeds | " + " | ".join(f"{lv}: {n}" for lv, n in enumerate(names)) + " |",
             "|---|---|" + "---|" * len(names)]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_s, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, levels in series.items():
        xs = sorted(levels)
        ivs = [mean_over_seeds([s for s, _ in levels[x]]) for x in xs]  # Student-t
        est = [(iv.estimate, iv.low, iv.high) for iv in ivs]
        deaths = [float(np.mean([d for _, d in levels[x]])) for x in xs]
        seeds = {len(levels[x]) for x in xs}
        ax_s.errorbar(xs, [e[0] for e in est], yerr=[[e[0] - e[1] for e in est],
                                                     [e[2] - e[0] for e in est]],
                      marker="o", capsize=3, label=label)
        ax_d.plot(xs, deaths, marker="o", label=label)
        cells = {x: _cell(iv, len(levels[x])) + f", deaths {d:.0%}"
                 for x, iv, d in zip(xs, ivs, deaths, strict=True)}
        lines.append(f"| {label} | {'/'.join(map(str, sorted(seeds)))} | "
                     + " | ".join(cells.get(lv, "") for lv in range(len(names))) + " |")
    for ax, what in ((ax_s, "success"), (ax_d, "deaths per drive")):
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n.split(" (")[0] for n in names])
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    ax_s.legend(fontsize=8)
    fig.suptitle("CityNav friction ladder: mean over seeds, 95% Student-t interval over seeds")
    fig.tight_layout()
    fig.savefig(args.out / "friction.png", dpi=110)
    (args.out / "friction.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out / 'friction.png'}, {args.out / 'friction.md'}")


if __name__ == "__main__":
    main()
