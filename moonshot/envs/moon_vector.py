"""MoonLaunch as a native batched Gymnasium vector env: all launches in one compiled call."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import moon_core as core
from .moon_config import make_config, split_ranges


class MoonLaunchVectorEnv(VectorEnv):
    """``num_envs`` MoonLaunch launches per ``step``, integrated in one batched numba call.

    Semantics match :class:`~moonshot.envs.moon_launch.MoonLaunchEnv` (same config keys, same
    scenarios, rewards and outcomes). Every launch ends its episode, so each step autoresets in
    the same step (``AutoresetMode.SAME_STEP``): the returned observations are the next
    scenarios, the launched ones are in ``infos["final_obs"]`` and their infos in
    ``infos["final_info"]``. Infos are Gymnasium's dict of arrays with ``_key`` masks, with
    the keys of the single env: ``reset`` and the new scenarios of each step carry
    ``map_id``, ``is_success`` and ``split``; ``final_info`` every key of a launch's ``info``
    (``is_success``, ``death``, ``outcome``, ``split``, ``target``, ...).

    Make it with ``gymnasium.make_vec("moonshot/MoonLaunch-v0", num_envs=256,
    vectorization_mode="vector_entry_point")`` or directly. For stable-baselines3, wrap it with
    :func:`moonshot.agents.vec.to_sb3` (envs know nothing of stable-baselines3).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 8, render_mode: str | None = None, **config: Any):
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError("MoonLaunchVectorEnv does not render; render a MoonLaunchEnv "
                             "(render_mode='rgb_array') instead")
        self.config = make_config(**config)
        if self.config["record_trajectory"]:
            raise ValueError("record_trajectory is not supported by the batched env")
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.split = self.config["split"]
        self.target = self.config["target"]
        self.single_action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        self.single_observation_space = spaces.Box(core.OBS_LOW, core.OBS_HIGH,
                                                   dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.scenario: core.Scenarios | None = None
        self._obs: np.ndarray | None = None

    def _new_scenarios(self) -> np.ndarray:
        ids = self.np_random.integers(0, 2**31 - 1, size=self.num_envs)
        self.scenario = core.sample_scenarios(self.split, ids, self.config["moon_eccentricity"],
                                              self.config["soi_radius"],
                                              split_ranges(self.split, self.config))
        self._obs = core.observe(self.scenario)
        return self._obs

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; the batched env "
                             "draws its scenarios itself (use MoonLaunchEnv to pin one)")
        obs = self._new_scenarios().copy()
        return obs, self._reset_infos()

    def _batched(self, single: dict) -> dict:
        """Gymnasium's dict of arrays (with ``_key`` masks, everyone set) of per-launch
        values: arrays pass through, a scalar shared by all launches is repeated."""
        out: dict = {}
        everyone = np.ones(self.num_envs, dtype=bool)
        for key, val in single.items():
            if not isinstance(val, np.ndarray):
                dtype = object if isinstance(val, str) else type(val)
                val = np.full(self.num_envs, val, dtype=dtype)
            out[key], out["_" + key] = val, everyone.copy()
        return out

    def _reset_infos(self) -> dict:
        """The reset infos of the current scenarios: the single env's keys, batched."""
        assert self.scenario is not None  # drawn by reset()
        info = core.reset_info(0, self.split)
        info["map_id"] = self.scenario.scenario_id.copy()
        return self._batched(info)

    def step(self, actions: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self.scenario is None:
            raise RuntimeError("call reset() before step()")
        acts = core.check_actions(actions, self.num_envs)
        result, dv, _ = core.launch(self.scenario, acts, self.np_random, self.config)
        reward, success, outcome = core.score(result, self.target, self.scenario.moon_soi)
        n = self.num_envs
        everyone = np.ones(n, dtype=bool)
        final_info = self._batched({
            **core.info_arrays(self.scenario, result, dv, success, outcome),
            "split": self.split, "target": self.target})
        final_obs = self._obs
        obs = self._new_scenarios().copy()
        infos = {"final_obs": final_obs, "_final_obs": everyone.copy(),
                 "final_info": final_info, "_final_info": everyone.copy(),
                 **self._reset_infos()}
        return (obs, reward.astype(np.float64), everyone.copy(), np.zeros(n, dtype=bool), infos)

    def get_state(self) -> dict:
        """Where the batch stands (its generator and the scenarios about to be launched), for
        an exact resume; :meth:`set_state` puts it back."""
        if self.scenario is None:
            raise RuntimeError("call reset() before get_state()")
        return {"rng": self.np_random.bit_generator.state,
                "scenario_ids": self.scenario.scenario_id.copy()}

    def set_state(self, state: dict) -> None:
        self._np_random = np.random.Generator(np.random.PCG64())
        self._np_random.bit_generator.state = state["rng"]
        ids = np.asarray(state["scenario_ids"], dtype=np.int64)
        self.scenario = core.sample_scenarios(self.split, ids, self.config["moon_eccentricity"],
                                              self.config["soi_radius"],
                                              split_ranges(self.split, self.config))
        self._obs = core.observe(self.scenario)

    def close_extras(self, **kwargs: Any) -> None:
        self.scenario = None
