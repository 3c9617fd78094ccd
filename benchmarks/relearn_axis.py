"""The cost of relearning along a shift axis: keep training a trained agent where the world
moved (a shift level) and count the env steps, episodes and deaths until its rolling success
there is back within 5 points of its success at level 0 - next to what the planner spends there
(its real trials and imagined ones, from the ladder).

    python benchmarks/relearn_axis.py RUN_DIR --axis layout --level 3 [--timesteps 500000]
        [--episodes 100] [--window 100] [--seed-set dev] [--out runs/relearn-axis]

RUN_DIR is an SB3 run (fine-tuned from its model.zip) or a run of an agent that learns its own
model (``pets``, ``sysid``: it goes on learning from its final agent, data and fit included);
``--window`` is the rolling window of training episodes the recovery is read from (a model
learner's budget is tens of episodes, not hundreds). The ladder (levels 0 and the one given,
the run and the world's planner) uses ``--seed-set`` (dev for development; test for reported
figures, docs/protocol.md) and evaluation seed ``--seed``.
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
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--seed-set", choices=["dev", "test"], default="dev")
    ap.add_argument("--env-kwargs", default="{}", help="JSON settings for every agent")
    ap.add_argument("--out", default="runs/relearn-axis")
    args = ap.parse_args()
    spec = resolve_agent(args.run)
    world = get_world(spec.env_id)
    out = Path(args.out)
    planner = f"planner:{world.name}"
    ladder = run_shift(spec.env_id, [args.run, planner], axes=[args.axis],
                       levels=[0, args.level], episodes=args.episodes, seed=args.seed,
                       seed_set=args.seed_set, out=out / "ladder", progress=False,
                       env_kwargs=json.loads(args.env_kwargs))["rows"]
    base = next(r for r in ladder if r["level"] == 0 and not r["agent"].startswith("planner"))
    res = relearning_cost(Path(args.run), args.timesteps, out / "finetune", seed=args.seed,
                          window=args.window,
                          progress=False, split="train", target=base["success"],
                          tolerance=0.05,
                          env_overrides=world.axis(args.axis).settings(args.level))
    (out / "relearn.json").write_text(json.dumps(
        {"args": vars(args), "ladder": ladder, "relearn": res}, indent=2, default=str))
    print("| agent | level | success | real trials/scenario | imagined/scenario |")
    print("|---|---|---|---|---|")
    for r in ladder:
        print(f"| {r['agent']} | {r['level']} | {r['success']:.1%} "
              f"[{r['success_low']:.0%}-{r['success_high']:.0%}] | {r['trials']:.2f} | "
              f"{r['model_rollouts']:.3g} |")
    print(f"\n{spec.label} trained on at {args.axis} level {args.level} for "
          f"{args.timesteps:,} steps: "
          f"back within 5 points of {res['train_success_rate']:.1%} after "
          f"{res['env_steps_to_recover']} env steps, {res['episodes_to_recover']} episodes, "
          f"{res['deaths_to_recover']} deaths (recovered: {res['recovered']}; "
          f"{res['finetune_episodes']} episodes in all)")


if __name__ == "__main__":
    main()
