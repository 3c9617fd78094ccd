"""``python -m moonshot.agents.zoo.record_video ARGS``: RL Zoo's ``record_video`` with
moonshot's envs registered (``rl_zoo3.record_video`` takes no ``--gym-packages``; ``train`` and
``enjoy`` do). ARGS are ``rl_zoo3.record_video``'s, e.g. ``--algo ppo --env
moonshot/MoonLaunch-v1 -f logs -n 40 -o videos``."""

import runpy

import moonshot  # noqa: F401  (registers the environments)

if __name__ == "__main__":
    runpy.run_module("rl_zoo3.record_video", run_name="__main__", alter_sys=True)
