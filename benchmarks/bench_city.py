"""CityNav throughput and random-policy baseline (not run in CI).

    python benchmarks/bench_city.py [--steps 20000] [--episodes 200] [--cars 20]
        [--env moonshot/CityNav-v1]

Single env, one core, random actions, 32 lidar rays. Reports env steps per second (stepping
only, and including the resets of finished episodes), the time to build a new map and reset
(uncached, split="new") and to reset on a cached map, and the random policy's success and
death rates on both splits.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

import moonshot  # noqa: E402,F401
from moonshot.physics.city import drive as city_drive  # noqa: E402

ENV_ID = "moonshot/CityNav-v1"


def CityNavEnv(**kwargs):  # noqa: N802 - the env of --env, unwrapped
    return gym.make(ENV_ID, **kwargs).unwrapped


def throughput(steps: int, cars: int) -> tuple[float, float]:
    env = CityNavEnv(traffic_cars=cars, lidar_rays=32)
    env.reset(seed=0)
    acts = np.random.default_rng(0).uniform(-1, 1, (steps, 2)).astype(np.float32)
    for a in acts[:2000]:  # warm-up (compiled kernels, map cache)
        if any(env.step(a)[2:4]):
            env.reset()
    step_time = 0.0
    t0 = time.perf_counter()
    for a in acts:
        t1 = time.perf_counter()
        _, _, term, trunc, _ = env.step(a)
        step_time += time.perf_counter() - t1
        if term or trunc:
            env.reset()
    total = time.perf_counter() - t0
    env.close()
    return steps / step_time, steps / total


def reset_times(n: int, cars: int) -> tuple[float, float]:
    env = CityNavEnv(split="new", traffic_cars=cars)
    env.reset(seed=0)
    fresh = []
    for k in range(n):
        city_drive.cached_city.cache_clear()
        t0 = time.perf_counter()
        env.reset(seed=1000 + k)
        fresh.append(time.perf_counter() - t0)
    cached = []
    env = CityNavEnv(split="train", traffic_cars=cars, num_train_maps=1)
    env.reset(seed=0)
    for k in range(n):
        t0 = time.perf_counter()
        env.reset(seed=k)
        cached.append(time.perf_counter() - t0)
    return float(np.median(fresh)), float(np.median(cached))


def random_policy(split: str, episodes: int, cars: int) -> dict:
    env = CityNavEnv(split=split, traffic_cars=cars)
    rng = np.random.default_rng(1)
    outcomes = {}
    for ep in range(episodes):
        env.reset(seed=10_000 + ep)
        while True:
            _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            if term or trunc:
                break
        outcomes[info["outcome"]] = outcomes.get(info["outcome"], 0) + 1
    env.close()
    return {k: v / episodes for k, v in sorted(outcomes.items())}


def main() -> None:
    global ENV_ID
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--cars", type=int, default=20)
    ap.add_argument("--resets", type=int, default=30)
    ap.add_argument("--env", default="moonshot/CityNav-v1")
    args = ap.parse_args()
    ENV_ID = args.env
    pure, with_resets = throughput(args.steps, args.cars)
    print(f"steps/s (step only): {pure:,.0f}   (including resets): {with_resets:,.0f}   "
          f"[{args.env}, {args.cars} cars, 32 rays, random actions, 1 env]")
    fresh, cached = reset_times(args.resets, args.cars)
    print(f"new map built + reset: median {fresh * 1e3:.1f} ms;  reset on a cached map: "
          f"median {cached * 1e3:.1f} ms")
    if args.episodes:
        for split in ("train", "new"):
            rates = random_policy(split, args.episodes, args.cars)
            print(f"random policy, split={split}, {args.episodes} episodes: "
                  + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
