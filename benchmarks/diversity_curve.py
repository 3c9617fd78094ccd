"""The training-diversity curve of a CityNav sweep (MetaDrive's Fig. 8 experiment).

Reads every finished cell of a sweep over ``num_train_maps`` (``moonshot sweep
moonshot/sweeps/city-diversity.yaml --out runs/city-diversity``; a sweep still running is read
as far as it got) and writes ``diversity.png`` and ``diversity.md`` beside it: PPO's success on
its training maps, on new maps and on T-junction maps (a topology absent from training: the
``layout`` axis at level 3) against the number of training maps, mean over seeds with a 95%
bootstrap interval. MetaDrive's published endpoints for PPO on its procedurally generated maps
(test success about 0.05 with 1 training map and 0.71 with 1,000; Li et al., 2022, Fig. 8) are
drawn as a reference, not as a comparable measurement (other maps, other observations).

    python benchmarks/diversity_curve.py runs/city-diversity
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from moonshot.evaluation.stats import format_interval, mean_over_seeds

METADRIVE = {1: 0.05, 1000: 0.71}  # PPO test success, Li et al. (2022), Fig. 8 (read off)
SERIES = (("new", "new maps"), ("train", "its training maps"),
          ("tjunction", "T-junction maps (topology absent from training)"))


def read_cells(sweep: Path) -> dict[int, dict[str, list[float]]]:
    """``{num_train_maps: {metric: [one value per finished seed]}}``."""
    out: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for result in sorted((sweep / "cells").glob("*/result.json")):
        if not (result.parent / "DONE").exists():
            continue
        cell = json.loads((result.parent / "cell.json").read_text())
        maps = cell["grid"].get("num_train_maps")
        if maps is None:
            continue
        res = json.loads(result.read_text())
        for row in res["transfer"]:
            out[maps][row["split"]].append(row["success_rate"])
            out[maps][f"deaths_{row['split']}"].append(row["death_rate"])
        for row in res.get("shift") or []:
            if row["axis"] == "layout" and row["level"] == 3:
                out[maps]["tjunction"].append(row["success"])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path, help="the sweep's --out folder")
    args = ap.parse_args(argv)
    data = read_cells(args.sweep)
    if not data:
        raise SystemExit(f"{args.sweep}: no finished cell with a num_train_maps grid")
    maps = sorted(data)
    lines = ["| training maps | seeds | success, training maps | success, new maps | deaths, new "
             "maps | success, T-junction maps |", "|---|---|---|---|---|---|"]
    for m in maps:
        cells = []
        for key in ("train", "new", "deaths_new", "tjunction"):
            iv = mean_over_seeds(data[m][key])  # Student-t over seeds (format_interval: n)
            cells.append((format_interval(iv, percent=True) if iv.n > 1 else f"{iv.estimate:.0%}")
                         if data[m][key] else "—")
        lines.append(f"| {m} | {len(data[m]['new'])} | " + " | ".join(cells) + " |")
    (args.sweep / "diversity.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    for key, label in SERIES:
        xs = [m for m in maps if data[m][key]]
        stats = np.array([tuple(mean_over_seeds(data[m][key])) for m in xs])
        if not len(xs):
            continue
        ax.plot(xs, stats[:, 0], marker="o", label=f"moonshot PPO: {label}")
        ax.fill_between(xs, stats[:, 1], stats[:, 2], alpha=0.2)
    ax.plot(list(METADRIVE), list(METADRIVE.values()), "ks", alpha=0.6, linestyle="none",
            label="MetaDrive PPO, test maps (Li et al. 2022, Fig. 8; endpoints)")
    ax.set_xscale("log")
    ax.set_xlabel("training maps (num_train_maps), log scale")
    ax.set_ylabel("success (mean over seeds, 95% CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.set_title("CityNav-v1: PPO success against training diversity (1M steps)")
    fig.savefig(args.sweep / "diversity.png", dpi=110)
    print("\n".join(lines))
    print(f"wrote {args.sweep / 'diversity.md'} and {args.sweep / 'diversity.png'}")


if __name__ == "__main__":
    main()
