"""The cost of relearning along a shift axis: fine-tune a trained PPO where the world moved
(a shift level) and count the env steps, episodes and deaths until its rolling success there
is back within 5 points of its success at level 0 - next to what the planner spends there
(its real trials and imagined ones, from the ladder).

    python benchmarks/relearn_axis.py RUN_DIR --axis layout --level 3 [--timesteps 500000]
        [--episodes 100] [--out runs/relearn-axis]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import moonshot  # noqa: F401
from moonshot.agents.loading import resolve_agent
from moonshot.evaluation.shift import run_shift
from moonshot.evaluation.transfer import relearning_cost
from moonshot.worlds import get_world


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--axis", required=True)
    ap.add_argument("--level", type=int, required=True)
    ap.add_argument("--timesteps", type=int, default=500_000)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--env-kwargs", default="{}", help="JSON settings for every agent")
    ap.add_argument("--out", default="runs/relearn-axis")
    args = ap.parse_args()
    spec = resolve_agent(args.run)
    world = get_world(spec.env_id)
    out = Path(args.out)
    ladder = run_shift(spec.env_id, [args.run, "planner"], axes=[args.axis],
                       levels=[0, args.level], episodes=args.episodes, seed=1000,
                       out=out / "ladder", progress=False,
                       env_kwargs=json.loads(args.env_kwargs))["rows"]
    base = next(r for r in ladder if r["level"] == 0 and r["agent"] != "planner")
    res = relearning_cost(Path(args.run), args.timesteps, out / "finetune", seed=args.seed,
                          progress=False, split="train", target=base["success"],
                          tolerance=0.05,
                          env_overrides=world.axis(args.axis).settings(args.level))
    json.dump({"ladder": ladder, "relearn": res}, open(out / "relearn.json", "w"), indent=2,
              default=str)
    print("| agent | level | success | real trials/scenario | imagined/scenario |")
    print("|---|---|---|---|---|")
    for r in ladder:
        print(f"| {r['agent']} | {r['level']} | {r['success']:.1%} "
              f"[{r['success_low']:.0%}-{r['success_high']:.0%}] | {r['trials']:.2f} | "
              f"{r['model_rollouts']:.3g} |")
    print(f"\nPPO fine-tuned at {args.axis} level {args.level} for {args.timesteps:,} steps: "
          f"back within 5 points of {res['train_success_rate']:.1%} after "
          f"{res['env_steps_to_recover']} env steps, {res['episodes_to_recover']} episodes, "
          f"{res['deaths_to_recover']} deaths (recovered: {res['recovered']}; "
          f"{res['finetune_episodes']} episodes in all)")


if __name__ == "__main__":
    main()
