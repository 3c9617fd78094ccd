"""moonshot: a testbed for local vs extreme generalization in reinforcement learning.

``import moonshot`` registers the environments (``moonshot/MoonLaunch-v0`` and ``-v1``,
``moonshot/CityNav-v0`` and ``-v1``) with Gymnasium and the worlds with
:mod:`moonshot.worlds`.
"""

from __future__ import annotations

__version__ = "0.1.0"

# OpenMP's environment is left as the user set it: the learner updates on one torch thread
# by default (TrainConfig.update_threads, with the measurements), where nothing waits.
from .envs import register_envs

register_envs()

from .worlds import get_world, resolve_env_id, worlds  # noqa: E402

__all__ = ["__version__", "get_world", "resolve_env_id", "worlds", "register_envs"]
