"""Adapters from moonshot's environments to stable-baselines3's VecEnv API.

The envs layer knows nothing of stable-baselines3, so the bridge lives here: the natively
batched MoonLaunch env becomes an SB3 ``VecEnv`` without a Python loop per launch, and any
single env is vectorized with SB3's own Dummy/Subproc VecEnvs.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from ..worlds import resolve_env_id


class GymVectorToSB3(VecEnv):
    """Present a Gymnasium ``VectorEnv`` with same-step autoreset as an SB3 ``VecEnv``.

    Per-env ``info`` dicts are rebuilt from the vector env's dict of arrays; a finished
    episode's info carries ``terminal_observation`` (SB3's convention) and the final info keys
    (``is_success``, ``outcome``, ``map_id``, ...).
    """

    def __init__(self, venv: gym.vector.VectorEnv):
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    @property
    def spec(self):
        """The Gymnasium spec of the vector env (its id, e.g. in VecMonitor's header)."""
        return getattr(self.venv, "spec", None)

    def reset(self):
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        final = info.get("final_info", {})
        final_obs = info.get("final_obs")
        infos = [{} for _ in range(self.num_envs)]
        keys = [k for k in final if not k.startswith("_")]
        for i in np.nonzero(dones)[0]:
            d = infos[i]
            for k in keys:
                v = final[k][i]
                d[k] = v.item() if isinstance(v, np.generic) else v
            d["terminal_observation"] = final_obs[i]
            d["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None):
        val = getattr(self.venv, attr_name)
        return [val for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        fn = getattr(self.venv, method_name)
        return [fn(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False for _ in self._get_indices(indices)]

    def get_images(self):
        return [None for _ in range(self.num_envs)]


def make_vec_env(env: str, n_envs: int, seed: int, env_kwargs: dict | None = None,
                 subprocess: bool = False) -> VecEnv:
    """An SB3 VecEnv of ``n_envs`` copies of ``env`` (short name or id), seeded with ``seed``.

    MoonLaunch uses its native batched env (one compiled call per step for all launches);
    other envs are stacked with ``DummyVecEnv`` (or ``SubprocVecEnv`` with ``subprocess``).
    """
    env_id = resolve_env_id(env)
    kwargs = dict(env_kwargs or {})
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            **kwargs)
        vec: VecEnv = GymVectorToSB3(venv)
    else:
        def factory() -> Callable[[], gym.Env]:
            def _make() -> gym.Env:
                from .. import register_envs  # a fresh subprocess has not registered them

                register_envs()
                return gym.make(env_id, **kwargs)
            return _make

        cls = SubprocVecEnv if subprocess and n_envs > 1 else DummyVecEnv
        vec = cls([factory() for _ in range(n_envs)])
    vec.seed(seed)
    return vec
