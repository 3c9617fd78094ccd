"""CityPlanner quality and decision time on CityNav (not run in CI).

    python benchmarks/bench_city_planner.py [--episodes 200] [--split new] [--cars 20 40]
        [--perception honest oracle] [--env moonshot/CityNav-v1]

For each perception and traffic level: success and death rates over the episodes (seeds
0..N-1, so each episode is a different held-out map), outcomes, imagined drives per drive, and
the median / 95th-percentile decision time of ``predict`` (one core).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

import moonshot  # noqa: E402,F401
from moonshot.agents.city_planner import CityPlanner  # noqa: E402


def evaluate(split: str, cars: int, episodes: int, seed0: int = 0, verbose: bool = False,
             perception: str = "honest", env_id: str = "moonshot/CityNav-v1"):
    env = gym.make(env_id, split=split, traffic_cars=cars).unwrapped
    agent = CityPlanner(perception=perception)
    outcomes: dict[str, int] = {}
    failures = []
    t0 = time.perf_counter()
    for ep in range(episodes):
        obs, info = env.reset(seed=seed0 + ep)
        agent.begin_episode(env.perceive(perception), obs, info)
        while True:
            action, _ = agent.predict(obs)
            obs, _, term, trunc, info = env.step(action)
            if term or trunc:
                break
        outcomes[info["outcome"]] = outcomes.get(info["outcome"], 0) + 1
        if info["outcome"] != "arrived":
            failures.append((seed0 + ep, info["map_id"], info["outcome"], info.get("crash"),
                             round(info["route_progress"], 2)))
            if verbose:
                print("  failure:", failures[-1], flush=True)
    env.close()
    imagined = agent.costs().model_rollouts  # cumulative over the episodes
    dts = np.asarray(agent.decision_times) * 1e3
    return outcomes, failures, float(np.median(dts)), float(np.percentile(dts, 95)), \
        time.perf_counter() - t0, imagined / episodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--split", default="new")
    ap.add_argument("--cars", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--perception", nargs="+", default=["honest", "oracle"])
    ap.add_argument("--env", default="moonshot/CityNav-v1")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    for perception, cars in [(p, c) for c in args.cars for p in args.perception]:
        out, fails, med, p95, wall, imagined = evaluate(
            args.split, cars, args.episodes, args.seed0, args.verbose, perception, args.env)
        n = args.episodes
        print(f"{args.env} perception={perception} split={args.split} cars={cars} "
              f"episodes={n}: success "
              f"{out.get('arrived', 0) / n:.1%}, deaths {out.get('crashed', 0)} "
              f"({out.get('crashed', 0) / n:.1%}), outcomes {out}; imagined drives per drive "
              f"{imagined:,.0f}; decision time median "
              f"{med:.2f} ms, p95 {p95:.2f} ms; wall {wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
