"""How CityNav agents drive, beyond arriving: traffic rules and time (not run in CI).

    python benchmarks/city_rules.py [--episodes 50] [--split new] [--env ID] [AGENT ...]

AGENT is ``planner:city`` (options too: ``planner:city:perception=oracle``) or a training run
folder (default: the planner and the pretrained PPO); ``--env`` the CityNav version
(default: v1). For each agent, the same drives (seeds 0..N-1): success and death rates,
red lights run per drive (``info["red_lights_run"]``: stop lines on the route crossed on
red), the share of steps above the map's speed limit (``info["speeding"]``) and the median
time to the goal of the drives that arrived. CityNav measures the rules but does not
enforce them: a red light costs nothing unless crossing traffic is hit.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

import moonshot  # noqa: E402,F401  (registers the environments)
from moonshot.evaluation.demo import pretrained_runs  # noqa: E402
from moonshot.evaluation.transfer import resolve_agent  # noqa: E402


def drive(spec: str, episodes: int, split: str, env_id: str) -> dict:
    from moonshot.agents.base import perception_view

    agent = resolve_agent(spec, env_id).agent
    env = gym.make(env_id, split=split)
    succ, death, reds, speeding, steps, times = [], [], [], 0, 0, []
    for ep in range(episodes):
        obs, info = env.reset(seed=ep)
        agent.begin_episode(perception_view(agent, env), obs, info)
        done = False
        while not done:
            action, _ = agent.predict(obs, deterministic=True)
            obs, _, term, trunc, info = env.step(action)
            speeding += info["speeding"]
            steps += 1
            done = term or trunc
        agent.end_episode(info)
        succ.append(info["is_success"])
        death.append(info["death"])
        reds.append(info["red_lights_run"])
        if info["is_success"]:
            times.append(env.unwrapped.world.t)
    env.close()
    return {"agent": spec, "drives": episodes, "success": float(np.mean(succ)),
            "deaths": float(np.mean(death)), "red_lights_per_drive": float(np.mean(reds)),
            "speeding_share": speeding / max(steps, 1),
            "median_time_to_goal_s": float(np.median(times)) if times else float("nan")}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("agents", nargs="*", help="planner:city or run folders")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--split", choices=("train", "new"), default="new")
    ap.add_argument("--env", default="moonshot/CityNav-v1")
    args = ap.parse_args()
    specs = args.agents or ["planner:city", str(pretrained_runs()["city"])]
    print("| agent | drives | success | deaths | red lights run per drive | steps above the "
          "speed limit | median time to goal |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        r = drive(spec, args.episodes, args.split, args.env)
        print(f"| {r['agent']} | {r['drives']} | {r['success']:.0%} | {r['deaths']:.0%} | "
              f"{r['red_lights_per_drive']:.2f} | {r['speeding_share']:.0%} | "
              f"{r['median_time_to_goal_s']:.1f} s |")
