"""moonshot: a testbed for local vs extreme generalization in reinforcement learning.

``import moonshot`` registers the environments ``moonshot/MoonLaunch-v0`` and
``moonshot/CityNav-v0`` with Gymnasium.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .envs import register_envs

register_envs()

ENV_IDS = {"moon": "moonshot/MoonLaunch-v0", "city": "moonshot/CityNav-v0"}


def resolve_env_id(name: str) -> str:
    """Map a short name (``moon``, ``city``) or a full id to the registered full id."""
    if name in ENV_IDS:
        return ENV_IDS[name]
    if name in ENV_IDS.values():
        return name
    from .errors import ConfigError

    raise ConfigError(
        f"unknown environment {name!r}; use one of {list(ENV_IDS)} or {list(ENV_IDS.values())}")
