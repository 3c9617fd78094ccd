"""BodyWalk-v0 throughput: env steps per second of one env on one core, random actions
(``gymnasium.make``, so its checker wrappers count), the native vector env of 16 walks against
Gymnasium's sync vector env of 16 single envs (steps of all walks per CPU second, alternated
repeat by repeat; ``body_vec16_over_sync16`` their ratio), and the planner's decision time.
Run: ``MOONSHOT_WORLDS=moonshot_body python benchmarks/bench_body.py [seconds]``."""

import sys

from moonshot_body.benchmark import body_figures

if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    for key, val in body_figures(repeats=5, seconds=seconds).items():
        print(f"{key:28s} {val:10.1f}")
