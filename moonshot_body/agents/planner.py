"""The body world's planner: sampling-based model-predictive control (MPPI) over a MuJoCo
model of the body *as it believes it to be*.

Before each decision the planner imagines ``samples`` futures of ``horizon`` control steps in
its own model - the intact body of the published blueprint (the view's design numbers),
built by :mod:`.body_model`, its own code, not the simulator's builder: a simpler body (two
capsules a leg, the foot the shin's rounded end), its own joint damping, rotor inertia and
contact solver budget, at a coarser physics step (10 ms against the env's 5 ms), on the
ground it sees (the surface class's nominal grip, the slope, the stones near it) - and acts
on their cost-weighted average (Williams et al., "Information theoretic MPC", 2017). A future's cost
is its distance to the goal along the way, how far the torso sinks or tips, and a large
penalty for a fall. The joint targets of a future are interpolated between a few knots, so
that a sample is a smooth motion rather than noise at 50 Hz.

What it knows comes from the view (``perception="honest"``): the blueprint, the ground as
seen, the goal and its own state. It never holds the env, its model or its builder: when a
leg is damaged or a payload strapped on, its model is wrong and its plans show it.
``model="oracle"`` is the labelled ablation that plans with the simulator's own model of the
true body on the true ground (:mod:`.oracle_model`, fed by the ``oracle`` view).
"""

from __future__ import annotations

import time
from typing import Any

import mujoco
import numpy as np
from mujoco import rollout

from moonshot.agents.base import Agent, AgentCosts
from moonshot.errors import ConfigError

from ..anatomy import JOINTS, Design, Layout, design_of
from . import body_model
from .walk_cost import FALL_COST, fell, future_cost

#: The planner's models: its own of the intact body it believes in, or the simulator's of the
#: true one (an ablation).
MODELS = ("nominal", "oracle")
#: The physics step of the planner's own model (s): twice the env's, half the work.
MODEL_TIMESTEP = 0.01


class BodyPlanner(Agent):
    """MPPI over the planner's own MuJoCo model of the body (see the module docstring).

    :param model: ``"nominal"`` (its own model of the blueprint's intact body) or
        ``"oracle"`` (the simulator's model of the true, possibly damaged body from the
        oracle view: a labelled ablation).
    :param samples: imagined futures per decision.
    :param horizon: control steps (of the env's 20 ms) each future looks ahead.
    :param knots: knots of the joint-target spline over the horizon.
    :param noise: standard deviation of a sample's knots (action units, [-1, 1] scale).
    :param temperature: MPPI's temperature, relative to the spread of the samples' costs.
    :param replan_every: control steps between two plans (the plan's next steps in
        between).
    :param seed: seed of the planner's own sampling generator (the env's is never read).
    """

    name = "planner"
    perception = "honest"

    def __init__(self, model: str = "nominal", samples: int = 32, horizon: int = 20,
                 knots: int = 4, noise: float = 0.35, temperature: float = 0.1,
                 replan_every: int = 2, seed: int = 0):
        if model not in MODELS:
            raise ConfigError(f"invalid body planner model={model!r}; choose one of "
                              f"{list(MODELS)}")
        for key, val, low in (("samples", samples, 2), ("horizon", horizon, 2),
                              ("knots", knots, 2), ("replan_every", replan_every, 1)):
            if int(val) < low:
                raise ConfigError(f"body planner {key}={val!r} must be >= {low}")
        if not float(noise) > 0 or not float(temperature) > 0:
            raise ConfigError(f"body planner noise={noise!r} and temperature={temperature!r} "
                              "must be > 0")
        self.model = model
        if model == "oracle":
            self.perception = "oracle"
            self.name = "planner[oracle body]"
        self.samples, self.horizon, self.knots = int(samples), int(horizon), int(knots)
        self.noise, self.temperature = float(noise), float(temperature)
        self.replan_every, self.seed = int(replan_every), int(seed)
        self.design = Design()
        self._rng = np.random.default_rng(self.seed)
        self._models: dict[Any, mujoco.MjModel] = {}
        self._place_ground: Any = body_model.place_ground
        self._sim: mujoco.MjModel | None = None
        self._data: mujoco.MjData | None = None
        self._layout: Layout | None = None
        self._view: Any = None
        self._plan = np.zeros((self.horizon, len(JOINTS)))
        self._since = 0
        self._rollouts = 0
        self._model_steps = 0
        self._compute = 0.0

    # --- the agent interface -------------------------------------------------------------
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot_body.env.BodyView`."""
        if view is None:
            raise ConfigError("the body planner needs a perception view (perceive())")
        self._view = view
        self.design = design_of(view.design)
        sim = self._model_of(view)
        if sim is not self._sim:
            self._sim, self._data, self._layout = sim, mujoco.MjData(sim), Layout.of(sim)
        self._goal = np.asarray(view.goal, dtype=np.float64)
        self._plan = np.zeros((self.horizon, len(JOINTS)))
        self._since = self.replan_every  # plan at the first step
        self._rng = np.random.default_rng([self.seed, int(info.get("map_id", 0)) % 2**31])

    def _model_of(self, view: Any) -> mujoco.MjModel:
        """The model the planner imagines in: its own of the intact blueprint (one per
        design, kept), or the oracle's of the true body."""
        if self.model == "oracle":  # the ablation, loaded only when asked for
            from .oracle_model import place_true_ground, true_model

            self._place_ground = place_true_ground
            key: tuple = ("oracle", self.design, tuple(sorted(dict(view.changes).items())))
            if key not in self._models:
                self._models[key] = true_model(view, self.design, MODEL_TIMESTEP)
            return self._models[key]
        self._place_ground = body_model.place_ground
        key = (self.design, float(view.ground["stone_half"]))
        if key not in self._models:
            self._models[key] = body_model.build(self.design, MODEL_TIMESTEP, key[1])
        return self._models[key]

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self._view is None:
            raise RuntimeError("begin_episode() before predict()")
        t0 = time.process_time()
        if self._since >= self.replan_every:
            self._replan()
            self._since = 0
        action = self._plan[self._since].astype(np.float32)
        self._since += 1
        self._compute += time.process_time() - t0
        return np.clip(action, -1.0, 1.0), state

    def costs(self) -> AgentCosts:
        """Imagined futures, CPU seconds spent planning and the env steps the futures stand
        for (``horizon`` control steps each), so far."""
        return AgentCosts(self._rollouts, self._compute, model_steps=self._model_steps)

    # --- planning ------------------------------------------------------------------------
    def _initial_state(self) -> np.ndarray:
        sim, data = self._sim, self._data
        assert sim is not None and data is not None
        lay = self._layout
        assert lay is not None
        st = self._view.state
        qpos, qvel = np.asarray(st["qpos"]), np.asarray(st["qvel"])
        # the ground as seen now (an honest view's stones are those near the body)
        self._place_ground(sim, self._view.ground, (float(qpos[0]), float(qpos[1])))
        data.qpos[:7], data.qvel[:6] = qpos[:7], qvel[:6]
        # the nominal slots into the model's joints (an oracle's missing knee has none)
        have = lay.qpos >= 0
        data.qpos[lay.qpos[have]] = qpos[7:][have]
        data.qvel[lay.qvel[have]] = qvel[6:][have]
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        out = np.empty(mujoco.mj_stateSize(sim, spec))
        mujoco.mj_getState(sim, data, out, spec)
        return out

    def _replan(self) -> None:
        sim, data = self._sim, self._data
        assert sim is not None and data is not None
        h, k = self.horizon, self.samples
        # warm start: the previous plan shifted by the steps taken, its last step held
        shift = min(self._since, h - 1)
        mean = np.concatenate([self._plan[shift:], np.repeat(self._plan[-1:], shift, 0)])
        knots_t = np.linspace(0, h - 1, self.knots)
        noise = self._rng.normal(0.0, self.noise, (k, self.knots, len(JOINTS)))
        noise[0] = 0.0  # the warm start itself is one of the futures
        steps = np.arange(h)
        smooth = np.stack([np.stack([np.interp(steps, knots_t, noise[s, :, j])
                                     for j in range(len(JOINTS))], 1) for s in range(k)])
        actions = np.clip(mean[None] + smooth, -1.0, 1.0)
        cost = self._rollout_cost(actions)
        spread = max(float(np.std(cost)), 1e-6)
        w = np.exp(-(cost - cost.min()) / (self.temperature * spread))
        w /= w.sum()
        self._plan = np.clip(np.tensordot(w, actions, 1), -1.0, 1.0)

    def _rollout_cost(self, actions: np.ndarray) -> np.ndarray:
        """Cost of each imagined future (``actions``: samples x horizon x 8)."""
        sim, data = self._sim, self._data
        assert sim is not None and data is not None
        sub = int(round(self._view.control_dt / sim.opt.timestep))
        targets = self.design.targets(actions)
        act = self._layout.actuator if self._layout is not None else np.arange(len(JOINTS))
        ctrl = np.zeros((*actions.shape[:2], sim.nu))
        ctrl[..., act[act >= 0]] = targets[..., act >= 0]
        ctrl = np.repeat(ctrl, sub, axis=1)
        state, _ = rollout.rollout(sim, data, self._initial_state(), ctrl)
        self._rollouts += len(actions)
        self._model_steps += actions.shape[0] * actions.shape[1]
        q = state[:, sub - 1::sub, 1:1 + 7]  # time, then qpos: x y z qw qx qy qz
        dist = np.hypot(q[..., 0] - self._goal[0], q[..., 1] - self._goal[1])
        height = q[..., 2]
        upright = 1.0 - 2.0 * (q[..., 4] ** 2 + q[..., 5] ** 2)
        ramp = np.linspace(0.5, 1.5, dist.shape[1])  # where it ends counts most
        cost = future_cost(dist, height, upright, self.design.standing_height(), ramp)
        # a future whose physics blew up was reset by MuJoCo (its clock back to 0): a fall
        blew_up = (np.diff(state[:, :, 0], axis=1) < 0).any(1)
        cost += FALL_COST * (fell(height, upright) | blew_up)
        return cost

    def forget(self) -> None:
        """Nothing learned between walks (a fresh plan every walk)."""
