"""Throughput of the body world (``moonshot benchmark`` rows, ``benchmarks/bench_body.py``):
env steps per second of one env on one core under random actions, and the planner's
decision time."""

from __future__ import annotations

import time

import numpy as np

from moonshot.evaluation.benchmark import _median_rate, _random_steps, decision_times

from . import ENV_ID


def planner_decision_ms(decisions: int = 100, **options: object) -> float:
    """Mean CPU milliseconds of one planner decision (a replanning step included every
    ``replan_every`` steps), over ``decisions`` steps from the walk of seed 0."""
    import gymnasium as gym

    from .agents.planner import BodyPlanner

    env = gym.make(ENV_ID).unwrapped
    times = decision_times(env, BodyPlanner(**options), decisions)  # type: ignore[arg-type]
    env.close()
    return 1e3 * float(np.mean(times))


def cpu_steps(env: object, seconds: float, seed: int = 0) -> tuple[int, float]:
    """Random-action steps for ``seconds`` of this process's CPU time: ``(steps, CPU s)``.
    On a shared machine the wall clock measures the neighbours; CPU time measures the env
    on one core."""
    env.reset(seed=seed)  # type: ignore[attr-defined]
    space = env.action_space  # type: ignore[attr-defined]
    space.seed(seed)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        _, _, term, trunc, _ = env.step(space.sample())  # type: ignore[attr-defined]
        n += 1
        if term or trunc:
            env.reset()  # type: ignore[attr-defined]
    return n, time.process_time() - t0


def body_figures(repeats: int, seconds: float, quick: bool = False,
                 workdir: object = None) -> dict:
    """BodyWalk: env steps per second of one env (random actions; per wall second and per
    CPU second of one core) and the planner's mean decision time (CPU ms)."""
    import gymnasium as gym

    env = gym.make(ENV_ID)
    env.reset(seed=0)
    wall = _median_rate(lambda s: _random_steps(env, s), repeats, seconds)
    cpu = _median_rate(lambda s: cpu_steps(env, s), repeats, seconds)
    env.close()
    return {"body_steps_per_s": wall, "body_steps_per_cpu_s": cpu,
            "body_sim_s_per_wall_s": wall * 0.02,
            "body_planner_decision_ms": planner_decision_ms(50 if quick else 200)}
