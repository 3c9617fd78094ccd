"""Success rate of uniformly random launches at each MoonLaunch target (10,000 per cell).

    python benchmarks/moon_random_policy.py [--launches 10000] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from moonshot.envs.moon_vector import MoonLaunchVectorEnv


def random_success(target: str, split: str, launches: int, seed: int) -> tuple[float, dict]:
    env = MoonLaunchVectorEnv(num_envs=500, target=target, split=split)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    wins, total, outcomes = 0, 0, {}
    while total < launches:
        _, _, _, _, info = env.step(rng.uniform(-1, 1, (500, 3)))
        fin = info["final_info"]
        wins += int(fin["is_success"].sum())
        total += 500
        for o in fin["outcome"]:
            outcomes[o] = outcomes.get(o, 0) + 1
    return wins / total, outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--launches", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| target | split | random-policy success | launches |")
    print("|---|---|---|---|")
    for target in ("soi", "flyby", "landing"):
        for split in ("train", "new"):
            rate, _ = random_success(target, split, args.launches, args.seed)
            print(f"| {target} | {split} | {rate:.2%} | {args.launches:,} |")


if __name__ == "__main__":
    main()
