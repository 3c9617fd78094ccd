"""MoonLaunch throughput: single-env launch latency, batched launches/s, numba compile time.

    python benchmarks/bench_moon.py [--repeats 5]

Runs on one core (the batched env is a single-threaded compiled loop). Compile time is measured
in a subprocess with an empty numba cache (NUMBA_CACHE_DIR in a temporary folder).
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


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
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
