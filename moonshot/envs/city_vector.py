"""CityNav-v1's native vector env: ``num_envs`` drives stepped together.

``gymnasium.make_vec("moonshot/CityNav-v1", num_envs=N, vectorization_mode=
"vector_entry_point")``. The drives' env logic is
:class:`~moonshot.envs.city_drives.CityDrives`, the same as the single env's, so every drive
is the one a single env would have driven (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..errors import check_keys
from .city_config import check_city_config
from .city_drives import CityDrives, default_config, episode_end


class CityNavVectorEnv(VectorEnv):
    """``num_envs`` CityNav-v1 drives stepped together (see the module docstring).

    Same config, drives, rewards and outcomes as :class:`CityNavV1Env`: drive ``i`` of
    ``reset(seed=s)`` is the single env's ``reset(seed=s + i)``, and each drive then draws
    from its own generator, so every drive is the one a single env would have driven. Every
    drive that ends resets in the same step (``AutoresetMode.SAME_STEP``): its last
    observation is in ``infos["final_obs"]``, its final info in ``infos["final_info"]``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    #: slot i is seeded on its own (``seed + i``): a batch split across processes drives
    #: the same episodes
    slot_seeding = True

    def __init__(self, num_envs: int = 8, render_mode: str | None = None, **config: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or \
                num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError("CityNavVectorEnv does not render; render a single "
                             "moonshot/CityNav-v1 env instead")
        cfg = default_config()
        check_keys(config, cfg, "CityNav-v1 config")
        cfg.update(config)
        check_city_config(cfg)
        self.config, self.split = cfg, cfg["split"]
        self.num_envs = int(num_envs)
        self.render_mode = None
        self._drives = CityDrives(self.num_envs, cfg)
        self.single_observation_space = self._drives.layout.box
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator] = []
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: int | list | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        from gymnasium.utils import seeding

        seeds: list[int | None]
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if not self._rngs or seed is not None:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        obs, infos = [], []
        for i in range(self.num_envs):
            o, info = self._drives.reset(i, self._rngs[i], options)
            obs.append(o)
            infos.append(info)
        self._obs = np.stack(obs)
        return self._obs.copy(), _stack_infos(infos)

    def step(self, actions: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        st = self._drives.step(actions, self._rngs)
        obs = st["obs"]
        done = st["terminated"] | st["truncated"]
        infos: dict = {}
        if done.any():
            final_obs = np.zeros_like(obs)
            finals = []
            for i in np.flatnonzero(done).tolist():
                final_obs[i] = obs[i]
                f = self._drives.info(i, bool(st["arrived"][i]), bool(st["crash"][i]))
                f.update(episode_end(st, i))
                f.setdefault("crash", "")
                finals.append((i, f))
                obs[i], _ = self._drives.reset(i, self._rngs[i])
            infos["final_obs"] = final_obs
            infos["_final_obs"] = done.copy()
            infos["final_info"] = _final_infos(finals, self.num_envs)
            infos["_final_info"] = done.copy()
        every = np.ones(self.num_envs, dtype=bool)
        for key, val in (("off_road", st["off_road"]), ("ran_red_light", st["ran_red"]),
                         ("speeding", st["speeding"]), ("map_id", self._drives.map_id.copy()),
                         ("red_lights_run", self._drives.red_run.copy())):
            infos[key], infos["_" + key] = val, every
        self._obs = obs
        return obs.copy(), st["reward"].astype(np.float64), st["terminated"], \
            st["truncated"], infos

    def get_state(self) -> dict:
        assert self._obs is not None, "call reset() before get_state()"
        return {"rngs": [r.bit_generator.state for r in self._rngs],
                "drives": [self._drives.get_state(i) for i in range(self.num_envs)],
                "obs": self._obs.copy()}

    def set_state(self, state: dict) -> None:
        from gymnasium.utils import seeding

        self._rngs = [seeding.np_random(0)[0] for _ in range(self.num_envs)]
        for r, s in zip(self._rngs, state["rngs"], strict=True):
            r.bit_generator.state = s
        for i, s in enumerate(state["drives"]):
            self._drives.set_state(i, s)
        self._obs = state["obs"].copy()


def _stack_infos(infos: list[dict]) -> dict:
    out: dict = {}
    n = len(infos)
    for key in infos[0]:
        vals = [d[key] for d in infos]
        out[key] = np.array(vals, dtype=object if isinstance(vals[0], str) else None)
        out["_" + key] = np.ones(n, dtype=bool)
    return out


def _final_infos(finals: list[tuple[int, dict]], n: int) -> dict:
    keys = list(dict.fromkeys(k for _, f in finals for k in f))
    out: dict = {}
    for key in keys:
        sample = next(f[key] for _, f in finals if key in f)
        arr = np.zeros(n, dtype=object if isinstance(sample, str) else type(sample))
        mask = np.zeros(n, dtype=bool)
        for i, f in finals:
            if key in f:
                arr[i] = f[key]
                mask[i] = True
        out[key] = arr
        out["_" + key] = mask
    return out
