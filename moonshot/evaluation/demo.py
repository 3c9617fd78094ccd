"""``moonshot demo``: the main job, end to end on both worlds."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_demo(out: Path, full: bool = False, seed: int = 0) -> Path:
    """Run the demo experiment into ``out`` and return the path of its report."""
    from ..agents import MoonPlanner
    from ..envs.moon_launch import MoonLaunchEnv
    from ..runlog import atomic_write_text
    from .rollout import run_scenarios, summarize

    out.mkdir(parents=True, exist_ok=True)
    lines = ["# moonshot demo", ""]
    rng = np.random.default_rng(seed)
    for split in ("train", "new"):
        env = MoonLaunchEnv(split=split)
        random_success = 0
        n_random = 200
        env.reset(seed=seed)
        for _ in range(n_random):
            env.reset()
            _, _, _, _, info = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
            random_success += info["is_success"]
        recs = run_scenarios(MoonPlanner(), env, n=20, seed=seed, split=split,
                             scenario_ids=rng.integers(0, 2**31 - 1, 20), max_trials=5)
        s = summarize(recs)
        lines.append(f"- MoonLaunch `{split}`: random launches land {random_success}/{n_random}; "
                     f"the planner lands {s['success_rate']:.0%} of 20 scenarios with "
                     f"{s['mean_trials_per_scenario']:.2f} launches per scenario")
    text = "\n".join(lines) + "\n"
    print(text)
    report = out / "report.md"
    atomic_write_text(report, text)
    return report
