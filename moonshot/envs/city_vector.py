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
from .city_config import check_city_config, check_step_limit
from .city_drives import CityDrives, default_config, step_info
from .vector_slots import restore_generators, set_up_batch, slot_generators


class CityNavVectorEnv(VectorEnv):
    """``num_envs`` CityNav-v1 drives stepped together (see the module docstring).

    Same config, drives, rewards, outcomes and infos as :class:`CityNavV1Env`: drive ``i`` of
    ``reset(seed=s)`` is the single env's ``reset(seed=s + i)`` (a list of seeds gives each
    drive its own), and each drive then draws from its own generator, so every drive is the
    one a single env would have driven. With ``autoreset_mode="same-step"`` (the default,
    :class:`gymnasium.vector.AutoresetMode`) a drive that ends resets in the same step: its
    last observation is in ``infos["final_obs"]``, its final info in ``infos["final_info"]``;
    with ``"next-step"`` the step after its end resets it (reward 0, its action ignored), as
    Gymnasium's sync vector env does. Infos are built as the sync vector env builds them, from
    the single env's info of each drive (the same keys, per step and in ``final_info``).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    #: slot i is seeded on its own (``seed + i``): a batch split across processes drives
    #: the same episodes
    slot_seeding = True

    def __init__(self, num_envs: int = 8, render_mode: str | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
                 max_episode_steps: int | None = None, **config: Any) -> None:
        self.autoreset_mode = set_up_batch(self, num_envs, render_mode, autoreset_mode,
                                           "a single moonshot/CityNav-v1 env")
        cfg = default_config()
        check_keys(config, cfg, "CityNav-v1 config")
        cfg.update(config)
        check_city_config(cfg)
        self.config, self.split = cfg, cfg["split"]
        self._drives = CityDrives(self.num_envs, cfg)
        # make_vec passes the registered limit: each drive ends by its own time_limit first
        check_step_limit(max_episode_steps, self._drives.max_steps, cfg["time_limit"],
                         self._drives.batch.dt)
        self.single_observation_space = self._drives.layout.box
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator] = []
        self._obs: np.ndarray | None = None
        self._ended = np.zeros(self.num_envs, dtype=bool)  # next-step mode: reset these next

    def reset(self, *, seed: int | list | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        if not self._rngs or seed is not None:
            self._rngs = slot_generators(seed, self.num_envs)
        obs: list[np.ndarray] = []
        infos: dict = {}
        for i in range(self.num_envs):
            o, info = self._drives.reset(i, self._rngs[i], options)
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._obs = np.stack(obs)
        self._ended[:] = False
        return self._obs.copy(), infos

    def step(self, actions: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        d, n = self._drives, self.num_envs
        restarted = np.flatnonzero(self._ended).tolist()
        # next-step mode: the drives that ended last step start again and sit this step out
        # (stepped with the rest, then put back where their reset left them)
        starts: dict[int, tuple] = {}
        for i in restarted:
            o, info = d.reset(i, self._rngs[i])
            starts[i] = (o, info, d.get_state(i), self._rngs[i].bit_generator.state)
        st = d.step(actions, self._rngs)
        obs, reward = st["obs"], st["reward"].astype(np.float64)
        terminated, truncated = st["terminated"].copy(), st["truncated"].copy()
        same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        infos: dict = {}
        for i in range(n):
            if i in starts:
                obs[i], info, drive, rng = starts[i]
                d.set_state(i, drive)
                self._rngs[i].bit_generator.state = rng
                reward[i], terminated[i], truncated[i] = 0.0, False, False
            else:
                info = step_info(d, st, i)
                if same_step and (terminated[i] or truncated[i]):
                    infos = self._add_info(infos, {"final_obs": obs[i], "final_info": info}, i)
                    obs[i], info = d.reset(i, self._rngs[i])
            infos = self._add_info(infos, info, i)
        if not same_step:
            self._ended = terminated | truncated
        self._obs = obs
        return obs.copy(), reward, terminated, truncated, infos

    def get_state(self) -> dict:
        assert self._obs is not None, "call reset() before get_state()"
        return {"rngs": [r.bit_generator.state for r in self._rngs],
                "drives": [self._drives.get_state(i) for i in range(self.num_envs)],
                "obs": self._obs.copy(), "ended": self._ended.copy()}

    def set_state(self, state: dict) -> None:
        self._rngs = restore_generators(state["rngs"])
        for i, s in enumerate(state["drives"]):
            self._drives.set_state(i, s)
        self._obs = state["obs"].copy()
        self._ended = np.asarray(state.get("ended", np.zeros(self.num_envs, dtype=bool)))
