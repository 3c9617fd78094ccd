"""Decision time of a CityNav agent (a run folder, ``planner:city``, ``module:Class``): the
CPU time of every ``predict`` over whole drives, one core. An agent that replans every few
steps (``pets``: every ``step`` s, the action held in between) is reported both per call and
per replanning call (calls over 0.1 ms).

    python benchmarks/city_decisions.py AGENT... [--drives 5] [--split new] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import moonshot  # noqa: F401  (registers the envs)
from moonshot.agents.base import perception_view
from moonshot.agents.loading import resolve_agent


def decision_times(ref: str, drives: int, split: str, seed: int) -> dict[str, float]:
    spec = resolve_agent(ref)
    agent = spec.agent
    env = gym.make(spec.env_id, **{**spec.env_kwargs, "split": split}).unwrapped
    times: list[float] = []
    for i in range(drives):
        obs, info = env.reset(seed=seed + i)
        agent.begin_episode(perception_view(agent, env), obs, info)
        while True:
            t0 = time.process_time()
            action, _ = agent.predict(obs)
            times.append(time.process_time() - t0)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        agent.end_episode(info)
    env.close()
    t = np.array(times[20:])  # the first calls compile
    plans = t[t > 1e-4]
    return {"calls": len(t), "median_ms": 1e3 * float(np.median(t)),
            "p90_ms": 1e3 * float(np.percentile(t, 90)), "plans": len(plans),
            "plan_median_ms": 1e3 * float(np.median(plans)) if len(plans) else 0.0,
            "plan_p90_ms": 1e3 * float(np.percentile(plans, 90)) if len(plans) else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agents", nargs="+")
    parser.add_argument("--drives", type=int, default=5)
    parser.add_argument("--split", default="new", choices=("train", "new"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for ref in args.agents:
        res = decision_times(ref, args.drives, args.split, args.seed)
        print(f"{ref}: {res['calls']} calls, median {res['median_ms']:.2f} ms (p90 "
              f"{res['p90_ms']:.2f}); {res['plans']} replanning calls, median "
              f"{res['plan_median_ms']:.2f} ms (p90 {res['plan_p90_ms']:.2f})", flush=True)


if __name__ == "__main__":
    main()
