"""What ``OMP_WAIT_POLICY=PASSIVE`` (moonshot's default, set on import) costs PPO on a quiet
machine: ``moonshot train`` in fresh processes with the policy PASSIVE or ACTIVE, alternated,
with the default update threads (min(4, CPUs)). Prints env steps/s per run and the ratio of
the medians. Run it on a quiet machine; docs/benchmarks.md has the figures.

    python benchmarks/bench_wait_policy.py [--world city] [--timesteps 81920] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one_run(world: str, timesteps: int, policy: str, out: Path) -> float:
    """Env steps per second of one training run's learning loop (its own clock)."""
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    subprocess.run([sys.executable, "-m", "moonshot", "train", world, "--timesteps",
                    str(timesteps), "--eval-episodes", "0", "--checkpoint-every", "0",
                    "--no-progress", "--out", str(out)], env=env, check=True,
                   capture_output=True)
    with open(out / "episodes.csv") as fh:
        last = fh.read().splitlines()[-1].split(",")
    return int(last[1]) / float(last[2])  # env_steps / wall_time_s at the last episode


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world", default="city")
    p.add_argument("--timesteps", type=int, default=81_920)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    rates: dict[str, list[float]] = {"PASSIVE": [], "ACTIVE": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            order = ("PASSIVE", "ACTIVE") if rep % 2 == 0 else ("ACTIVE", "PASSIVE")
            for policy in order:
                r = one_run(args.world, args.timesteps, policy, Path(tmp) / f"{policy}-{rep}")
                rates[policy].append(r)
                print(f"{policy:8s} run {rep}: {r:,.0f} env steps/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"world": args.world, "timesteps": args.timesteps, "rates": rates,
                      "median": med, "passive_over_active": med["PASSIVE"] / med["ACTIVE"]},
                     indent=1))


if __name__ == "__main__":
    main()
