"""BodyWalk as a native batched Gymnasium vector env: ``num_envs`` walks stepped together.

``gymnasium.make_vec("moonshot/BodyWalk-v0", num_envs=N, vectorization_mode=
"vector_entry_point")``. The walks are :class:`~moonshot_body.env.Walks`, the simulator of the
single env, so every walk is the one a single env would have walked (tested, bit for bit).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from moonshot.envs.vector_slots import (
    add_column,
    restore_generators,
    set_up_batch,
    slot_generators,
)
from moonshot.errors import check_keys

from .anatomy import JOINTS
from .env import (
    BodyWalkEnv,
    Walks,
    clean_actions,
    draw_scenario_id,
    outcome_of,
    pinned_scenario,
    walk_settings,
    walk_spaces,
    walk_steps,
)

#: What a walk's saved physics holds (:meth:`BodyWalkVectorEnv.get_state`): all mj_step reads.
_PHYSICS = mujoco.mjtState.mjSTATE_INTEGRATION


class BodyWalkVectorEnv(VectorEnv):
    """``num_envs`` BodyWalk walks stepped together (see the module docstring).

    Same settings, walks, rewards, outcomes and infos as
    :class:`~moonshot_body.env.BodyWalkEnv`: walk ``i`` of ``reset(seed=s)`` is the single
    env's ``reset(seed=s + i)`` (a list of seeds gives each walk its own), and each walk then
    draws from its own generator, so every walk is the one a single env would have walked. A
    reset's ``options`` are the single env's (``scenario_id`` pins every walk to it, as
    Gymnasium's sync vector env passes them to every env). With ``autoreset_mode="same-step"``
    (the default, :class:`gymnasium.vector.AutoresetMode`) a walk that ends starts the next
    in the same step: its last observation is in ``infos["final_obs"]``, its last info in
    ``infos["final_info"]``; with ``"next-step"`` the step after its end starts the next
    (reward 0, its action ignored), as Gymnasium's sync vector env does. Infos are
    Gymnasium's dict of arrays with ``_key`` masks, the keys and values the sync vector env
    builds from the single envs' infos. It does not render (render a single env).

    Faster than the single envs in a loop (docs/environments.md, "Speed"): MuJoCo steps each
    walk (its own model: a damaged body's differs), the rest is computed over the batch.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    #: walk i is seeded on its own (``seed + i``): a batch split across processes walks the
    #: same episodes
    slot_seeding = True

    def __init__(self, num_envs: int = 8, render_mode: str | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
                 **config: Any) -> None:
        self.autoreset_mode = set_up_batch(
            self, num_envs, render_mode, autoreset_mode,
            "a single moonshot/BodyWalk-v0 env (render_mode='rgb_array')")
        cfg = BodyWalkEnv.default_config()
        check_keys(config, cfg, "BodyWalk-v0 config")
        cfg.update(config)
        self.config, self.split = cfg, cfg["split"]
        self.max_steps = walk_steps(cfg["time_limit"])
        self._walks = Walks(self.num_envs, walk_settings(**cfg), self.max_steps)
        self.single_action_space, self.single_observation_space = walk_spaces()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._rngs: list[np.random.Generator] = []
        self._ended = np.zeros(self.num_envs, dtype=bool)  # next-step mode: restart these
        self._splits = np.full(self.num_envs, self.split, dtype=object)

    # --- episodes -----------------------------------------------------------------------
    def _start(self, walks: list[int], sid: int | None = None) -> None:
        """Start the next walk of each slot in ``walks`` (drawn from its generator, or
        ``sid``)."""
        for i in walks:
            self._walks.reset(i, draw_scenario_id(self._rngs[i]) if sid is None else sid)

    def _start_infos(self, infos: dict, mask: np.ndarray) -> dict:
        """The single env's reset info of the walks ``mask`` started, batched."""
        add_column(infos, "map_id", self._walks.ids, mask)
        add_column(infos, "split", self._splits, mask)
        return add_column(infos, "is_success", np.zeros(self.num_envs, dtype=bool), mask)

    def reset(self, *, seed: int | list | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        sid = pinned_scenario(options)
        if not self._rngs or seed is not None:
            self._rngs = slot_generators(seed, self.num_envs)
        self._start(list(range(self.num_envs)), sid)
        self._ended[:] = False
        everyone = np.ones(self.num_envs, dtype=bool)
        return self._walks.observe(), self._start_infos({}, everyone)

    def step(self, actions: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self._walks.scenarios[0] is None:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        acts = clean_actions(actions, (n, len(JOINTS)))
        # next-step mode: the walks that ended last step start again and sit this step out
        restart = self._ended.copy()
        self._start(np.flatnonzero(restart).tolist())
        stepped = ~restart
        rewards, arrival, fall, truncation = self._walks.step(
            acts, stepped if restart.any() else None)
        reward = np.where(stepped, rewards, 0.0)
        arrived, fell = np.array(arrival) & stepped, np.array(fall) & stepped
        terminated = arrived | fell
        truncated = np.array(truncation) & stepped
        ended = terminated | truncated
        obs = self._walks.observe()
        outcome = np.full(n, None, dtype=object)
        for i in np.flatnonzero(ended).tolist():
            outcome[i] = outcome_of(arrival[i], fall[i], truncation[i])
        last = {"map_id": self._walks.ids.copy(), "split": self._splits, "is_success": arrived,
                "death": fell, "goal_distance": self._walks.dist.copy()}
        infos: dict = {}
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            if ended.any():
                final_obs = np.full(n, None, dtype=object)
                for i in np.flatnonzero(ended).tolist():
                    final_obs[i] = obs[i]
                final_info: dict = {}
                for key, val in last.items():
                    add_column(final_info, key, val, ended)
                add_column(final_info, "outcome", outcome, ended)
                infos.update({"final_obs": final_obs, "_final_obs": ended.copy(),
                              "final_info": final_info, "_final_info": ended.copy()})
                self._start(np.flatnonzero(ended).tolist())
                obs = self._walks.observe()
            restart = ended
        else:
            self._ended = ended
            add_column(infos, "outcome", outcome, ended)
        going = ~restart
        self._start_infos(infos, restart)
        for key, val in last.items():
            add_column(infos, key, val, going)
        return obs, reward, terminated, truncated, infos

    # --- exact resume ------------------------------------------------------------------
    def get_state(self) -> dict:
        """Where the batch stands, for an exact resume (:meth:`set_state`): each walk's
        generator, scenario, steps taken and physics (MuJoCo's integration state: all
        ``mj_step`` reads, its warm start included)."""
        w = self._walks
        if w.scenarios[0] is None:
            raise RuntimeError("call reset() before get_state()")
        physics = []
        for m, d in zip(w.models, w.datas, strict=True):
            buf = np.empty(mujoco.mj_stateSize(m, _PHYSICS))
            mujoco.mj_getState(m, d, buf, _PHYSICS)
            physics.append(buf)
        return {"rngs": [r.bit_generator.state for r in self._rngs],
                "scenario_ids": w.ids.copy(), "steps": w.steps.copy(),
                "physics": physics, "ended": self._ended.copy()}

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state`: the next steps are the ones it would have taken."""
        if len(state["rngs"]) != self.num_envs:
            raise ValueError(f"this state holds {len(state['rngs'])} walks, the env "
                             f"{self.num_envs}")
        self._rngs = restore_generators(state["rngs"])
        self._walks.restore(state["scenario_ids"], state["steps"], state["physics"], _PHYSICS)
        self._ended = np.asarray(state["ended"], dtype=bool).copy()
