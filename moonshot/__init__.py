"""moonshot: a testbed for local vs extreme generalization in reinforcement learning.

``import moonshot`` registers the environments (``moonshot/MoonLaunch-v0`` and ``-v1``,
``moonshot/CityNav-v0`` and ``-v1``) with Gymnasium and the worlds with
:mod:`moonshot.worlds`.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# The learner's updates run torch on several threads. OpenMP threads spin while they wait by
# default; on a machine whose cores are busy with other work (a second training run, a
# sweep) that spinning made PPO ~10x slower: 40k MoonLaunch steps took 110 s with 2 update
# threads against 9-11 s with one, and 13 s with 2 passive threads, next to two busy
# processes on 2 cores. Waiting passively costs little when the machine is quiet. It must be
# set before torch loads its OpenMP runtime; set OMP_WAIT_POLICY yourself to choose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .envs import register_envs

register_envs()

from .worlds import get_world, resolve_env_id, worlds  # noqa: E402

__all__ = ["__version__", "get_world", "resolve_env_id", "worlds", "register_envs"]
