"""Gymnasium environments built on :mod:`moonshot.physics`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

#: ``max_episode_steps`` registered for CityNav: the default ``time_limit`` (240 s) at 10
#: steps a second (both versions; tested), so that ``gymnasium.make``'s ``TimeLimit`` ends a
#: drive on the step the env itself truncates it and ``spec.max_episode_steps`` is its length
CITY_MAX_EPISODE_STEPS = 2400


def register_envs() -> None:
    """Register the moonshot environments (idempotent; entry points import lazily)."""
    if "moonshot/MoonLaunch-v0" not in gym.registry:
        # v0: the soi target is the real Moon's sphere (66,100 km) for every moon
        gym.register(
            id="moonshot/MoonLaunch-v0",
            entry_point="moonshot.envs.moon_launch:MoonLaunchEnv",
            vector_entry_point="moonshot.envs.moon_vector:MoonLaunchVectorEnv",
            kwargs={"soi_radius": "fixed"},
        )
    if "moonshot/MoonLaunch-v1" not in gym.registry:
        gym.register(
            id="moonshot/MoonLaunch-v1",
            entry_point="moonshot.envs.moon_launch:MoonLaunchEnv",
            vector_entry_point="moonshot.envs.moon_vector:MoonLaunchVectorEnv",
        )
    if "moonshot/CityNav-v0" not in gym.registry:
        # v0: the kinematic car, Bullet lidar (unchanged, so published figures reproduce)
        gym.register(
            id="moonshot/CityNav-v0",
            entry_point="moonshot.envs.city_nav:CityNavEnv",
            max_episode_steps=CITY_MAX_EPISODE_STEPS,
        )
    if "moonshot/CityNav-v1" not in gym.registry:
        gym.register(
            id="moonshot/CityNav-v1",
            entry_point="moonshot.envs.city_v1:CityNavV1Env",
            vector_entry_point="moonshot.envs.city_vector:CityNavVectorEnv",
            max_episode_steps=CITY_MAX_EPISODE_STEPS,
        )


def __getattr__(name: str) -> Any:
    # Lazy exports keep `import moonshot` fast (numba and pybullet load on first use).
    if name == "MoonLaunchEnv":
        from .moon_launch import MoonLaunchEnv

        return MoonLaunchEnv
    if name == "MoonLaunchVectorEnv":
        from .moon_vector import MoonLaunchVectorEnv

        return MoonLaunchVectorEnv
    if name == "CityNavEnv":
        from .city_nav import CityNavEnv

        return CityNavEnv
    if name == "CityNavV1Env":
        from .city_v1 import CityNavV1Env

        return CityNavV1Env
    if name == "CityNavVectorEnv":
        from .city_vector import CityNavVectorEnv

        return CityNavVectorEnv
    raise AttributeError(name)


__all__ = ["register_envs", "MoonLaunchEnv", "MoonLaunchVectorEnv", "CityNavEnv",
           "CityNavV1Env", "CityNavVectorEnv"]
