"""Decision time of BodyWalk's ``pets`` with its packaged architecture, without a trained run:
the CPU and wall time of a plan (``iterations`` MPPI rounds of ``samples`` futures imagined by
every member over ``horizon`` steps) on one torch thread, and what that makes per control step
(a plan every ``replan_every`` steps).

    python benchmarks/body_pets_decisions.py [--plans 60] [--repeats 2]

The arithmetic of a plan depends on the ensemble's shape, not on its weights, so the model is
fitted for a moment on a synthetic walk. Time it on a quiet machine: CPU time itself grows
when other processes share the cores (a measurement at load 5-7 on two cores read 96-104 ms
per plan; docs/world-models.md).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import moonshot_body
from moonshot_body.agents.pets import ROW, BodyPETS


def plan_times(plans: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, BodyPETS]:
    """Wall and CPU seconds of ``plans`` plans from one standing start."""
    torch.set_num_threads(1)
    env = gym.make(moonshot_body.ENV_ID, goal_distance=2.0).unwrapped
    obs, info = env.reset(seed=seed)
    view = env.perceive("honest")
    agent = BodyPETS(seed=1)
    agent.learn([np.random.default_rng(seed).normal(size=(400, ROW))])
    agent.begin_episode(view, obs, info)
    now = np.concatenate([view.state["qpos"], view.state["qvel"]]).astype(np.float64)
    for _ in range(5):  # warm up torch's kernels
        agent._replan(now)
    wall, cpu = [], []
    for _ in range(plans):
        t, c = time.perf_counter(), time.process_time()
        agent._replan(now)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return np.array(wall), np.array(cpu), agent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plans", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    for r in range(args.repeats):
        wall, cpu, agent = plan_times(args.plans)
        per_step = np.median(cpu) / agent.replan_every
        print(f"run {r + 1}: {args.plans} plans ({agent.iterations} rounds x "
              f"{agent.samples * agent.model.members} futures x {agent.horizon} steps): "
              f"median {1e3 * np.median(wall):.1f} ms wall, {1e3 * np.median(cpu):.1f} ms CPU "
              f"(90th percentile {1e3 * np.percentile(cpu, 90):.1f}); "
              f"{1e3 * per_step:.1f} ms CPU per control step (a plan every "
              f"{agent.replan_every})")


if __name__ == "__main__":
    main()
