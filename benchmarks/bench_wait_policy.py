"""How torch's OpenMP threads should wait, measured: ``moonshot train`` in fresh processes under
each variant of the OpenMP environment, alternated, with the default update threads
(min(4, CPUs)); alone on a quiet machine and with ``--concurrent K`` trainings at once (two
runs sharing 2 cores, as when a user trains next to a sweep). Prints env steps/s per run and
the median per variant. docs/benchmarks.md has the figures.

    python benchmarks/bench_wait_policy.py [--world city] [--timesteps 81920] [--repeats 3] \\
        [--concurrent 1] [--variant NAME=VAR=VALUE,VAR=VALUE ...]

A variant's empty value (``OMP_WAIT_POLICY=``) leaves libgomp its own default (moonshot does
not override a variable that is set; libgomp warns about the empty value once).
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

DEFAULT_VARIANTS = ["moonshot-default=", "libgomp-default=OMP_WAIT_POLICY=",
                    "spin10k=OMP_WAIT_POLICY=,GOMP_SPINCOUNT=10000",
                    "active=OMP_WAIT_POLICY=ACTIVE"]


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition("=")
    env = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        env[key] = value
    return name, env


def start(world: str, timesteps: int, env: dict[str, str], out: Path) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",
                                                             "GOMP_SPINCOUNT")}
    return subprocess.Popen([sys.executable, "-m", "moonshot", "train", world, "--timesteps",
                             str(timesteps), "--eval-episodes", "0", "--checkpoint-every", "0",
                             "--no-progress", "--out", str(out)], env={**full, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rate(out: Path) -> float:
    """Env steps per second of a finished run (its own clock, at its last episode)."""
    with open(out / "episodes.csv") as fh:
        last = fh.read().splitlines()[-1].split(",")
    return int(last[1]) / float(last[2])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world", default="city")
    p.add_argument("--timesteps", type=int, default=81_920)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--concurrent", type=int, default=1)
    p.add_argument("--variant", action="append", default=None)
    args = p.parse_args(argv)
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    rates: dict[str, list[float]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            order = variants if rep % 2 == 0 else variants[::-1]
            for name, env in order:
                outs = [Path(tmp) / f"{name}-{rep}-{k}" for k in range(args.concurrent)]
                procs = [start(args.world, args.timesteps, env, o) for o in outs]
                if any(pr.wait() for pr in procs):
                    raise SystemExit(f"a training run of variant {name} failed")
                r = statistics.mean(rate(o) for o in outs)
                rates[name].append(r)
                print(f"{name:18s} run {rep}: {r:,.0f} env steps/s per process "
                      f"({args.concurrent} at once)", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"world": args.world, "timesteps": args.timesteps,
                      "concurrent": args.concurrent, "rates": rates, "median": med}, indent=1))


if __name__ == "__main__":
    main()
