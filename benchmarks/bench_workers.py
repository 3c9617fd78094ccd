"""PPO on CityNav-v1 with the batch stepped by one process or split across two worker processes
(alternated, two runs each of 122,880 env steps): ``python benchmarks/bench_workers.py``.
Run it on a quiet machine; docs/benchmarks.md has the figures."""
import tempfile
from pathlib import Path

from moonshot.evaluation.benchmark import training_figures


def main():
    rates = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(2):
            for w in (1, 2) if rep == 0 else (2, 1):
                r = training_figures("city", 122_880, Path(tmp) / f"{w}-{rep}", key=f"w{w}",
                                     env_workers=w)
                rates[w].append(r[f"w{w}_ppo_train_steps_per_s"])
    for w, v in rates.items():
        print(f"env_workers={w}: PPO env steps/s {v}")


if __name__ == "__main__":
    main()
