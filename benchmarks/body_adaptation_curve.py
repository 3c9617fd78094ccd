"""The adaptation curve of ``adapt:body`` (Intelligent Trial and Error, issue #31): walks in
sequence on the dev seeds of ``moonshot evaluate`` (the same scenarios, in the same order,
one agent that keeps what it learned), with per walk its outcome, the gait trials it spent
(exploring: chosen by the GP's UCB; all: every measured segment) and the gait it walked.

Run: ``MOONSHOT_WORLDS=moonshot_body python benchmarks/body_adaptation_curve.py
[--episodes 20] [--seed 0] [--split train] [damage=short damage_leg=fl ...] [--agent
adapt:body:trial_s=1.5]``.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import yaml

from moonshot.agents.base import run_episode
from moonshot.agents.loading import load_agent
from moonshot.worlds import get_world
from moonshot_body.agents.adapt import BodyAdapt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("env_kwargs", nargs="*", help="env settings KEY=VALUE")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed of the dev set")
    parser.add_argument("--split", default="train")
    parser.add_argument("--agent", default="adapt:body")
    args = parser.parse_args(argv)
    kwargs = {}
    for item in args.env_kwargs:
        key, eq, val = item.partition("=")
        if not eq:
            parser.error(f"expected KEY=VALUE, got {item!r}")
        kwargs[key] = yaml.safe_load(val)
    world = get_world("body")
    agent = load_agent(args.agent, world.name)
    if not isinstance(agent, BodyAdapt):
        parser.error(f"--agent {args.agent!r} is not an adapt agent (adapt:body[:options])")
    env = gym.make(world.env_id, split=args.split, **kwargs)
    agent.forget()
    print(f"{args.agent} on {args.split} {kwargs or 'intact'}, dev seeds (evaluation seed "
          f"{args.seed})\n")
    print("| walk | outcome | s | trials | exploring | trials so far | exploring so far | "
          "gaits |")
    print("|---|---|---|---|---|---|---|---|")
    total = explored = arrived = fell = 0
    for walk, sid in enumerate(world.evaluation_seeds("dev", args.split, args.seed,
                                                      args.episodes)):
        rec = run_episode(agent, env, options=world.replay(sid))
        mine = [t for t in agent.trials if t[0] == walk]
        total += len(mine)
        explored += sum(t[3] for t in mine)
        arrived += rec.success
        fell += rec.death
        gaits = ",".join(dict.fromkeys(str(t[1]) for t in mine))
        print(f"| {walk} | {rec.outcome} | {rec.length * 0.02:.1f} | {len(mine)} | "
              f"{sum(t[3] for t in mine)} | {total} | {explored} | {gaits} |", flush=True)
    print(f"\n{arrived}/{args.episodes} arrived, {fell} fell; {total} gait trials "
          f"({explored} exploring)")


if __name__ == "__main__":
    main()
