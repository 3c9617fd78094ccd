"""MoonLaunch throughput: single-env launch latency, batched launches/s, numba compile time.

    python benchmarks/bench_moon.py [--repeats 5]
    python benchmarks/bench_moon.py --against 6632987 [--against REV ...] [--repeats 9]

Runs on one core (the batched env is a single-threaded compiled loop). Compile time is measured
in a subprocess with an empty numba cache (NUMBA_CACHE_DIR in a temporary folder).

``--against REV``: this checkout against the package of each git revision (``git archive``
into a temporary folder), measured in turns, a fresh process per measurement, so a busy
machine slows every variant alike; prints each variant's medians and the medians of the
per-turn ratios to this checkout. ``batched_python_ms`` is a batched step's time outside
the integration kernel (``earth_moon.fly``): the same flights take the same kernel time, so
it isolates what the code around the kernel costs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

COLD = """
import time
t = time.perf_counter()
import numpy as np
from moonshot.envs.moon_launch import MoonLaunchEnv
env = MoonLaunchEnv()
env.reset(seed=0)
t1 = time.perf_counter()
env.step(np.zeros(3, np.float32))
print(time.perf_counter() - t1)
"""


def compile_time() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True,
                             text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def single_env_step_ms(n: int = 2000, seed: int = 0) -> float:
    from moonshot.envs.moon_launch import MoonLaunchEnv

    env = MoonLaunchEnv()
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    acts = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    env.step(acts[0])
    times = np.empty(n)
    for i in range(n):
        env.reset()
        t = time.perf_counter()
        env.step(acts[i])
        times[i] = time.perf_counter() - t
    return float(np.median(times) * 1e3)


def batched_launches_per_s(num_envs: int = 256, steps: int = 40, seed: int = 0) -> float:
    from moonshot.envs.moon_vector import MoonLaunchVectorEnv

    env = MoonLaunchVectorEnv(num_envs=num_envs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    env.step(rng.uniform(-1, 1, (num_envs, 3)))
    t = time.perf_counter()
    for _ in range(steps):
        env.step(rng.uniform(-1, 1, (num_envs, 3)))
    return num_envs * steps / (time.perf_counter() - t)


def batched_python_ms(num_envs: int = 256, steps: int = 40, seed: int = 0) -> float:
    """Median time of a batched step outside the integration kernel, ms."""
    from moonshot.envs.moon_vector import MoonLaunchVectorEnv
    from moonshot.physics import earth_moon

    kernel: list[float] = []
    fly = earth_moon.fly

    def timed_fly(*args, **kwargs):
        t = time.perf_counter()
        out = fly(*args, **kwargs)
        kernel.append(time.perf_counter() - t)
        return out

    earth_moon.fly = timed_fly  # the envs call it through the module
    try:
        env = MoonLaunchVectorEnv(num_envs=num_envs)
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        env.step(rng.uniform(-1, 1, (num_envs, 3)))
        kernel.clear()
        total = []
        for _ in range(steps):
            actions = rng.uniform(-1, 1, (num_envs, 3))
            t = time.perf_counter()
            env.step(actions)
            total.append(time.perf_counter() - t)
    finally:
        earth_moon.fly = fly
    return float(np.median(np.array(total) - np.array(kernel)) * 1e3)


def one_turn() -> dict:
    """One measurement of each figure (a turn of ``--against``)."""
    return {"single_env_step_ms": single_env_step_ms(),
            "batched_launches_per_s": batched_launches_per_s(),
            "batched_python_ms": batched_python_ms()}


def against(revisions: list[str], repeats: int) -> dict:
    """This checkout and each revision's package, measured in turns (see the docstring)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this checkout": root}
        for rev in revisions:
            trees[rev] = os.path.join(tmp, rev)
            os.makedirs(trees[rev])
            archive = subprocess.run(["git", "-C", root, "archive", rev, "moonshot"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", trees[rev]], input=archive, check=True)
        turns: dict[str, list[dict]] = {name: [] for name in trees}
        for turn in range(repeats + 1):  # turn 0 compiles each tree's kernels: not counted
            for name, tree in trees.items():
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--one-turn"], cwd=tree,
                    env=dict(os.environ, PYTHONPATH=tree), capture_output=True, text=True,
                    check=True)
                if turn:
                    turns[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    res: dict = {"repeats": repeats, "medians": {}, "ratio_to_this_checkout": {}}
    keys = list(turns["this checkout"][0])
    for name, rows in turns.items():
        res["medians"][name] = {k: float(np.median([r[k] for r in rows])) for k in keys}
        if name != "this checkout":
            res["ratio_to_this_checkout"][name] = {k: float(np.median(
                [r[k] / mine[k] for r, mine in zip(rows, turns["this checkout"], strict=True)]))
                for k in keys}
    return res


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--against", action="append", default=[], metavar="REV",
                    help="also measure the package of this git revision, in turns")
    ap.add_argument("--one-turn", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_turn:
        print(json.dumps(one_turn()))
        return {}
    if args.against:
        res = against(args.against, args.repeats)
        print(json.dumps(res, indent=2))
        return res
    res = {
        "numba_cold_compile_s": compile_time(),
        "single_env_step_ms_median": float(np.median(
            [single_env_step_ms(seed=r) for r in range(args.repeats)])),
        "vecenv256_launches_per_s_median": float(np.median(
            [batched_launches_per_s(seed=r) for r in range(args.repeats)])),
    }
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
