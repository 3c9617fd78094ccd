"""Throughput of the body world (``moonshot benchmark`` rows, ``benchmarks/bench_body.py``):
env steps per second of one env on one core under random actions, of the native vector env
against as many single envs stepped in a loop, and the planner's decision time."""

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


def cpu_batch_steps(venv: object, seconds: float, seed: int = 0) -> tuple[int, float]:
    """Random-action steps of every slot of the vector env ``venv`` (autoresetting) for
    ``seconds`` of this process's CPU time: ``(steps of all slots, CPU s)``."""
    venv.reset(seed=seed)  # type: ignore[attr-defined]
    shape = venv.action_space.shape  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        venv.step(rng.uniform(-1.0, 1.0, shape).astype(np.float32))  # type: ignore[attr-defined]
        n += shape[0]
    return n, time.process_time() - t0


def batch_figures(repeats: int, seconds: float, num_envs: int = 16) -> dict:
    """Steps per CPU second of the native vector env of ``num_envs`` walks and of Gymnasium's
    sync vector env of as many single envs (a loop over them), alternated repeat by repeat so
    that both see the same machine, and their ratio (medians)."""
    import gymnasium as gym

    native = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point")
    singles = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="sync")
    rates: dict[str, list[float]] = {"vec": [], "sync": []}
    for _ in range(repeats):
        for key, venv in (("vec", native), ("sync", singles)):
            n, cpu = cpu_batch_steps(venv, seconds)
            rates[key].append(n / cpu)
    native.close()
    singles.close()
    vec, sync = (float(np.median(rates[k])) for k in ("vec", "sync"))
    return {f"body_vec{num_envs}_steps_per_cpu_s": vec,
            f"body_sync{num_envs}_steps_per_cpu_s": sync,
            f"body_vec{num_envs}_over_sync{num_envs}": vec / sync}


def body_figures(repeats: int, seconds: float, quick: bool = False,
                 workdir: object = None) -> dict:
    """BodyWalk: env steps per second of one env (random actions; per wall second and per
    CPU second of one core), of the native vector env of 16 walks against 16 single envs
    (per CPU second, :func:`batch_figures`) and the planner's mean decision time (CPU ms)."""
    import gymnasium as gym

    env = gym.make(ENV_ID)
    env.reset(seed=0)
    wall = _median_rate(lambda s: _random_steps(env, s), repeats, seconds)
    cpu = _median_rate(lambda s: cpu_steps(env, s), repeats, seconds)
    env.close()
    return {"body_steps_per_s": wall, "body_steps_per_cpu_s": cpu,
            "body_sim_s_per_wall_s": wall * 0.02, **batch_figures(repeats, seconds),
            "body_planner_decision_ms": planner_decision_ms(50 if quick else 200)}
