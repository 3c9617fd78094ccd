"""MoonLaunch as a native batched Gymnasium vector env: all launches in one compiled call."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import ArrayLike

from . import moon_core as core
from .moon_config import make_config, split_ranges
from .vector_slots import restore_generators, set_up_batch, slot_generators


class MoonLaunchVectorEnv(VectorEnv):
    """``num_envs`` MoonLaunch launches per ``step``, integrated in one batched numba call.

    Semantics match :class:`~moonshot.envs.moon_launch.MoonLaunchEnv` (same config keys, same
    scenarios, rewards and outcomes): slot ``i`` of ``reset(seed=s)`` is the single env's
    ``reset(seed=s + i)`` (a list of seeds gives each slot its own), and each slot then draws
    from its own generator, so every slot's launches are the ones a single env would fly.

    Every launch ends its episode. With ``autoreset_mode="same-step"`` (the default,
    :class:`gymnasium.vector.AutoresetMode`) each step resets in the same step: the returned
    observations are the next scenarios, the launched ones are in ``infos["final_obs"]`` and
    their infos in ``infos["final_info"]``. With ``"next-step"`` a step returns the launches
    (``terminated`` everywhere, the single env's infos) and the next step resets (reward 0,
    the action ignored), as Gymnasium's sync vector env does. Infos are Gymnasium's dict of
    arrays with ``_key`` masks, with the keys of the single env: ``reset`` and the new
    scenarios carry ``map_id``, ``is_success`` and ``split``; a launch every key of a
    launch's ``info`` (``is_success``, ``death``, ``outcome``, ``split``, ``target``, ...).

    Make it with ``gymnasium.make_vec("moonshot/MoonLaunch-v1", num_envs=256,
    vectorization_mode="vector_entry_point")`` or directly. For stable-baselines3, wrap it with
    :func:`moonshot.agents.vec.to_sb3` (envs know nothing of stable-baselines3).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    #: slot i is seeded on its own (``seed + i``): a batch split across processes launches
    #: the same episodes
    slot_seeding = True

    def __init__(self, num_envs: int = 8, render_mode: str | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
                 **config: Any) -> None:
        self.autoreset_mode = set_up_batch(self, num_envs, render_mode, autoreset_mode,
                                           "a MoonLaunchEnv (render_mode='rgb_array')")
        self.config = make_config(**config)
        if self.config["record_trajectory"]:
            raise ValueError("record_trajectory is not supported by the batched env")
        self.split = self.config["split"]
        self.target = self.config["target"]
        self.single_action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        self.single_observation_space = spaces.Box(core.OBS_LOW, core.OBS_HIGH,
                                                   dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.scenario: core.Scenarios | None = None
        self._obs: np.ndarray | None = None
        self._rngs: list[np.random.Generator] = []
        self._launched = False  # next-step mode: the last step launched, this one resets

    def _sample(self, ids: ArrayLike) -> np.ndarray:
        self.scenario = core.sample_scenarios(self.split, np.asarray(ids, dtype=np.int64),
                                              self.config["moon_eccentricity"],
                                              self.config["soi_radius"],
                                              split_ranges(self.split, self.config))
        self._obs = core.observe(self.scenario)
        return self._obs

    def _new_scenarios(self) -> np.ndarray:
        # one draw per slot from its own generator: the single env's reset
        return self._sample([int(r.integers(0, 2**31 - 1)) for r in self._rngs])

    def reset(self, *, seed: int | list | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; the batched env "
                             "draws its scenarios itself (use MoonLaunchEnv to pin one)")
        if not self._rngs or seed is not None:
            self._rngs = slot_generators(seed, self.num_envs)
        self._launched = False
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
        n = self.num_envs
        everyone, no_one = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        if self._launched:  # next-step mode: every slot resets, its action unused
            self._launched = False
            obs = self._new_scenarios().copy()
            return obs, np.zeros(n), no_one, no_one.copy(), self._reset_infos()
        acts = core.check_actions(actions, n)
        result, dv, _ = core.launch(self.scenario, acts, self._rngs, self.config)
        reward, success, outcome = core.score(result, self.target, self.scenario.moon_soi)
        launched = self._batched({
            **core.info_arrays(self.scenario, result, dv, success, outcome),
            "split": self.split, "target": self.target})
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._launched = True
            assert self._obs is not None  # reset() drew the scenarios
            return (self._obs.copy(), reward.astype(np.float64), everyone, no_one, launched)
        final_obs = self._obs
        obs = self._new_scenarios().copy()
        infos = {"final_obs": final_obs, "_final_obs": everyone.copy(),
                 "final_info": launched, "_final_info": everyone.copy(),
                 **self._reset_infos()}
        return (obs, reward.astype(np.float64), everyone, no_one, infos)

    def get_state(self) -> dict:
        """Where the batch stands (each slot's generator and the scenarios about to be
        launched), for an exact resume; :meth:`set_state` puts it back."""
        if self.scenario is None:
            raise RuntimeError("call reset() before get_state()")
        return {"rngs": [r.bit_generator.state for r in self._rngs],
                "scenario_ids": self.scenario.scenario_id.copy(), "launched": self._launched}

    def set_state(self, state: dict) -> None:
        if "rngs" not in state:
            raise ValueError("this state was saved by a MoonLaunchVectorEnv that drew every "
                             "slot from one generator (before per-slot seeding); its run "
                             "cannot continue bit for bit: start it again")
        self._rngs = restore_generators(state["rngs"])
        self._sample(state["scenario_ids"])
        self._launched = bool(state.get("launched", False))

    def close_extras(self, **kwargs: Any) -> None:
        self.scenario = None
