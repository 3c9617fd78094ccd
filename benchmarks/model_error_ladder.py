"""The learned models' error along MoonLaunch's shift ladder: each level's first launches of a
trained pets or sysid agent (frozen), their success and the model's prediction error on them
(real launches the model never learned from): ``model_error_ladder.csv``.

    python benchmarks/model_error_ladder.py RUN_DIR... [--episodes 100] [--seed 50000]
        [--axis altitude ...] [--out runs/model-error-ladder]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from moonshot.agents.episodes import EvalSettings, evaluate
from moonshot.agents.loading import resolve_agent
from moonshot.worlds import get_world

COLUMNS = ("agent", "axis", "level", "label", "episodes", "first_launch_success", "n",
           "signed_miss_err_km", "log_closest_err", "tof_err_days", "hit_agreement")


def ladder(run: str, axes: list[str] | None, episodes: int, seed: int) -> list[dict]:
    spec = resolve_agent(run)
    agent, world = spec.agent, get_world(spec.env_id)
    rows = []
    for axis in world.shift_axes.values():
        if axes and axis.name not in axes:
            continue
        for level, (settings, label) in enumerate(zip(axis.levels, axis.labels, strict=True)):
            agent.take_seen()
            res = evaluate(spec, None, EvalSettings(split="train", episodes=episodes,
                                                    seed=seed, scenarios="training",
                                                    seed_set="legacy",  # as measured
                                                    env_overrides=settings))
            err = agent.model_error(agent.take_seen())
            rows.append({"agent": spec.label, "axis": axis.name, "level": level,
                         "label": label, "episodes": episodes,
                         "first_launch_success": res.first_trial_success_rate, **err})
            print(f"{spec.label} {axis.name} {level} ({label}): success "
                  f"{res.first_trial_success_rate:.0%}, signed-miss error "
                  f"{err.get('signed_miss_err_km', float('nan')):,.0f} km", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=50_000)
    parser.add_argument("--axis", action="append")
    parser.add_argument("--out", default="runs/model-error-ladder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [r for run in args.runs for r in ladder(run, args.axis, args.episodes, args.seed)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "model_error_ladder.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out / 'model_error_ladder.csv'}")


if __name__ == "__main__":
    main()
