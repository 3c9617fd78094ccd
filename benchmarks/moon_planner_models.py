"""How good must the Moon planner's model be? Each model, 1,000 scenarios per split.

For every MoonPlanner model (the simulator's equations, two patched conics, the closed-form
first guess alone) and split: success within 5 launches, first-launch success, real launches
per scenario and imagined launches (model rollouts) per scenario - both parts of the bill.

    python benchmarks/moon_planner_models.py [--scenarios 1000] [--target landing]
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import moonshot  # noqa: F401
from moonshot.agents import MoonPlanner
from moonshot.evaluation.planning import scenario_ids
from moonshot.evaluation.rollout import run_scenarios, summarize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=1000)
    ap.add_argument("--target", default="landing")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--models", nargs="*", default=["simulator", "patched_conic",
                                                     "first_guess"])
    args = ap.parse_args()
    print(f"target {args.target}, {args.scenarios} scenarios per split, up to 5 launches each\n")
    print("| model | split | success | first launch | real launches / scenario | imagined "
          "launches / scenario | planning ms / scenario (median) |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        for split in ("train", "new"):
            env = gym.make("moonshot/MoonLaunch-v1", split=split, target=args.target).unwrapped
            planner = MoonPlanner(model=model)
            recs = run_scenarios(planner, env, n=args.scenarios, seed=args.seed, split=split,
                                 scenario_ids=scenario_ids(args.seed, args.scenarios),
                                 max_trials=5, progress=False)
            s = summarize(recs)
            print(f"| {model} | {split} | {s['success_rate']:.1%} | "
                  f"{s['first_trial_success_rate']:.1%} | {s['mean_trials_per_scenario']:.3f} "
                  f"| {s['mean_model_rollouts_per_scenario']:.1f} | "
                  f"{1e3 * s['median_compute_s_per_scenario']:.1f} |", flush=True)
            env.close()


if __name__ == "__main__":
    main()
