"""Decision time of the agents that learn their own model (pets, sysid): the CPU time of
each ``predict`` of a trained agent, one core, over fresh scenarios of both splits.

    python benchmarks/learned_model_decisions.py RUN_DIR... [--scenarios 100] [--seed 50000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import moonshot  # noqa: F401  (registers the envs)
from moonshot.agents.loading import resolve_agent


def decision_times(run: str, scenarios: int, seed: int) -> dict[str, float]:
    spec = resolve_agent(run)
    agent = spec.agent
    out = {}
    for split in ("train", "new"):
        env = gym.make(spec.env_id, **{**spec.env_kwargs, "split": split}).unwrapped
        times = []
        for i in range(scenarios):
            obs, info = env.reset(seed=seed + i)
            agent.begin_episode(env.perceive("honest"), obs, info)
            t0 = time.process_time()
            agent.predict(obs)
            times.append(time.process_time() - t0)
        out[split] = float(np.median(times[1:]))  # the first call compiles
        env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--seed", type=int, default=50_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run in args.runs:
        med = decision_times(run, args.scenarios, args.seed)
        print(f"{run}: median decision {1000 * med['train']:.1f} ms (train), "
              f"{1000 * med['new']:.1f} ms (new), CPU time, one thread")


if __name__ == "__main__":
    main()
