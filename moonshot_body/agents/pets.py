"""``pets`` on BodyWalk: a learned black-box model of its own body, and model-predictive
control over it (PETS, Chua et al. 2018).

**Given.** The honest view (:class:`~moonshot_body.env.BodyView`): its own state as its
encoders and inertial unit report it (``qpos``, ``qvel``), the goal, the ground as seen (the
surface class's nominal grip, the slope and its uphill direction), the control period; from
the blueprint only the torso's standing height (the posture its cost keeps); the documented
meaning of the action (eight joint targets in [-1, 1]); what a fall is (the planner's margins
above the env's rule, :mod:`.walk_cost`). No model of the body: no MuJoCo model, no
:mod:`.body_model`, no simulator code - how the body answers its servos on this ground is
learned from its own walks. The stones of the view are not modelled.

**Learned (from its own walks).** An ensemble of small MLPs (:class:`~moonshot.agents.
ensemble.Ensemble`: Gaussian NLL, one bootstrap per member, inputs and outputs normalised by
the data's statistics) maps the body's state, the action and the ground to the change over
one control step (:data:`INPUTS`, :data:`OUTPUTS`). The state is written so that where the
body stands and where it faces change nothing (:func:`features`): torso height, the vertical
axis in the torso's frame (its tilt without its heading), the torso's velocity in the
heading frame, its angular velocity, the eight joint angles and velocities; the slope enters
as its rise forwards and to the left of the heading. The outputs: the change of each of those,
the step on the ground in the heading frame (forward, left) and the turn.

**Planning.** MPPI (as the body planner: smooth joint-target sequences, each linear between
``knots`` knots over a ``horizon`` of control steps, warm-started from the previous plan
shifted) with trajectory sampling: each of ``samples`` sequences is imagined by every member
of the ensemble (each imagined future keeps to one member's mean), all batched in torch.
A sequence's cost is the planner's (:func:`~.walk_cost.future_cost`: distance to the goal
along the way, sinking and tipping), averaged over members, plus the fall penalty times the
share of members whose future falls, plus ``caution`` times the members' spread of the final
distance. ``iterations`` rounds of MPPI per plan; a new plan every ``replan_every`` steps.

**Data collection.** The untrained agent wanders: smooth random joint targets (a knot every
:data:`WANDER_KNOT` steps, uniform within +-``wander``); so do the first ``random_walks``
training walks. Later training walks plan with the model and add Gaussian noise (``explore``)
to each action. After every training walk the ensemble is refitted (warm-started) on all its
transitions (the latest ``max_rows`` logged steps), for a number of gradient steps that grows
with the walk's new ones.

Its model error (:meth:`BodyPETS.model_error`) is the one-step prediction error on real
steps it never learned from (evaluation walks): each output's squared error over the
variance of that output on those steps, averaged (a model predicting the mean change scores
1; predicting no change, 1 + mean^2/variance per output). Not ``sysid``'s number: sysid
scores predicted next states (``qpos``, ``qvel``) on its informative columns; the two
``pred_err`` columns do not compare across agents, only along one agent's ladder.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from moonshot.agents.base import Agent, AgentCosts
from moonshot.agents.ensemble import Ensemble
from moonshot.errors import ConfigError

from ..anatomy import GROUND_LOGGED as GROUND
from ..anatomy import JOINTS, NQ, NV, design_of
from .walk_cost import FALL_COST, fell, future_cost

NJ = len(JOINTS)
#: A logged step: the state the view reported (qpos, qvel), the action taken, the ground.
ROW = NQ + NV + NJ + len(GROUND)
#: The body's state as the model sees it (no position, no heading).
STATE = ("height", "up_x", "up_y", "up_z", "v_forward", "v_left", "v_up", "w_x", "w_y", "w_z",
         *JOINTS, *(f"{j}_vel" for j in JOINTS))
NS = len(STATE)
INPUTS = (*STATE, *(f"u_{j}" for j in JOINTS), "grip", "rise_forward", "rise_left")
OUTPUTS = (*(f"d_{s}" for s in STATE), "forward", "left", "turn")
#: Control steps between two knots of a wandering walk's joint targets.
WANDER_KNOT = 10
#: Walks of evaluations kept for :meth:`BodyPETS.take_seen` (the oldest dropped beyond).
SEEN_WALKS = 64
#: ``model_error.csv``: ``pred_err`` the mean scaled squared one-step error over
#: :data:`OUTPUTS` (1 = as large as the observed changes); the step on the ground (mm), the
#: turn (mrad) and the torso's height (mm), mean absolute errors.
ERROR_COLUMNS = ("env_steps", "episodes", "split", "n", "pred_err", "step_err_mm",
                 "turn_err_mrad", "height_err_mm", "model_samples", "refits")


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def features(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`STATE` of logged rows (``(n, >= NQ + NV)``, qpos then qvel), and where the
    body is: ``(n, 3)``, x, y on the ground and heading (rad)."""
    q, v = rows[:, :NQ], rows[:, NQ:NQ + NV]
    w, x, y, z = q[:, 3], q[:, 4], q[:, 5], q[:, 6]
    heading = np.arctan2(2 * (x * y + w * z), 1 - 2 * (y * y + z * z))
    # the world's vertical in the torso's frame: the third row of torso -> world
    up = np.column_stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])
    c, s = np.cos(heading), np.sin(heading)
    state = np.column_stack([q[:, 2], up, c * v[:, 0] + s * v[:, 1], -s * v[:, 0] + c * v[:, 1],
                             v[:, 2], v[:, 3:6], q[:, 7:], v[:, 6:]])
    return state, np.column_stack([q[:, 0], q[:, 1], heading])


def slope_inputs(rise: Any, uphill: Any, heading: Any) -> tuple[Any, Any]:
    """The slope as the model sees it (numpy or torch): its rise (the sine of its angle)
    forwards and to the left of the heading."""
    mod = torch if isinstance(heading, torch.Tensor) else np
    return rise * mod.cos(uphill - heading), rise * mod.sin(uphill - heading)


def model_inputs(rows: np.ndarray) -> np.ndarray:
    """:data:`INPUTS` of logged rows (:data:`ROW` columns)."""
    state, pose = features(rows)
    g = rows[:, NQ + NV + NJ:]
    forward, left = slope_inputs(np.sin(np.radians(g[:, 1])), g[:, 2], pose[:, 2])
    return np.column_stack([state, rows[:, NQ + NV:NQ + NV + NJ], g[:, 0], forward, left])


def model_targets(rows: np.ndarray, nexts: np.ndarray) -> np.ndarray:
    """:data:`OUTPUTS` of the steps ``rows -> nexts``: the change of the state, the step on
    the ground in the heading frame at ``rows``, the turn."""
    s0, p0 = features(rows)
    s1, p1 = features(nexts)
    dx, dy = p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1]
    c, s = np.cos(p0[:, 2]), np.sin(p0[:, 2])
    return np.column_stack([s1 - s0, c * dx + s * dy, -s * dx + c * dy,
                            _wrap(p1[:, 2] - p0[:, 2])])


def steps_of(walks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` of the consecutive logged rows of ``walks`` (each ``(T + 1,
    ROW)``: the last row the state the walk ended in)."""
    walks = [w for w in walks if len(w) > 1]
    if not walks:
        return np.zeros((0, len(INPUTS))), np.zeros((0, len(OUTPUTS)))
    rows = np.concatenate([w[:-1] for w in walks])
    nexts = np.concatenate([w[1:] for w in walks])
    return model_inputs(rows), model_targets(rows, nexts)


class BodyPETS(Agent):
    """The ``pets`` agent on BodyWalk (see the module docstring).

    :param seed: the run's seed (initial weights, bootstraps, wandering, MPPI draws).
    :param members, hidden, layers: the ensemble.
    :param samples: action sequences per MPPI round (each imagined by every member).
    :param horizon: control steps (of 20 ms) an imagined future looks ahead.
    :param knots: knots of a sequence's joint targets over the horizon.
    :param noise: std of a sample's knots (action units).
    :param temperature: MPPI's temperature, relative to the spread of the samples' costs.
    :param iterations: MPPI rounds per plan (each around the last one's average).
    :param replan_every: control steps between two plans.
    :param caution: cost per metre of the members' spread (std) of a future's final distance
        to the goal.
    :param random_walks: training walks that wander (no model) before it plans.
    :param explore: std of the Gaussian noise on a planned training walk's actions.
    :param wander: a wandering walk's knots are uniform within +-``wander``.
    :param fit_steps, fit_steps_per_new, max_fit_steps, lr: a refit's gradient steps
        (``fit_steps`` + ``fit_steps_per_new`` x the transitions new since the last refit, at
        most ``max_fit_steps``; the first fit, from random weights, ``max_fit_steps``).
    :param max_rows: logged steps kept for fitting (the latest).
    """

    name = "pets"
    perception = "honest"
    #: env steps of a training run without --timesteps (the 20,000 of the measured run,
    #: docs/world-models.md, were 210 walks: 10/10 on both splits at 15,000, 9/10 at 20,000)
    default_timesteps = 25_000
    error_columns = ERROR_COLUMNS

    def __init__(self, seed: int = 0, members: int = 5, hidden: int = 128, layers: int = 3,
                 samples: int = 64, horizon: int = 15, knots: int = 4, noise: float = 0.35,
                 temperature: float = 0.1, iterations: int = 2, replan_every: int = 2,
                 caution: float = 0.0, random_walks: int = 3, explore: float = 0.1,
                 wander: float = 0.6, fit_steps: int = 200, fit_steps_per_new: float = 0.3,
                 max_fit_steps: int = 1500, lr: float = 1e-3, max_rows: int = 60_000):
        for key, val, low in (("members", members, 1), ("hidden", hidden, 1),
                              ("layers", layers, 1), ("samples", samples, 2),
                              ("horizon", horizon, 2), ("knots", knots, 2),
                              ("iterations", iterations, 1), ("replan_every", replan_every, 1),
                              ("random_walks", random_walks, 0), ("fit_steps", fit_steps, 1),
                              ("max_fit_steps", max_fit_steps, 1), ("max_rows", max_rows, 100)):
            if isinstance(val, bool) or int(val) != val or int(val) < low:
                raise ConfigError(f"body pets {key}={val!r} must be an integer >= {low}")
        for key, x in (("noise", noise), ("temperature", temperature), ("lr", lr),
                       ("wander", wander)):
            if not float(x) > 0:
                raise ConfigError(f"body pets {key}={x!r} must be > 0")
        for key, x in (("caution", caution), ("explore", explore),
                       ("fit_steps_per_new", fit_steps_per_new)):
            if not float(x) >= 0:
                raise ConfigError(f"body pets {key}={x!r} must be >= 0")
        self.seed = int(seed)
        self.samples, self.horizon, self.knots = int(samples), int(horizon), int(knots)
        self.noise, self.temperature = float(noise), float(temperature)
        self.iterations, self.replan_every = int(iterations), int(replan_every)
        self.caution, self.random_walks = float(caution), int(random_walks)
        self.explore, self.wander = float(explore), float(wander)
        self.fit_steps, self.fit_steps_per_new = int(fit_steps), float(fit_steps_per_new)
        self.max_fit_steps, self.lr, self.max_rows = int(max_fit_steps), float(lr), int(max_rows)
        self.model = Ensemble(len(INPUTS), len(OUTPUTS), int(members), int(hidden), int(layers),
                              generator=torch.Generator().manual_seed(self.seed))
        self.training = False
        #: its training walks' logged steps (the latest ``max_rows``), each row led by its
        #: walk's number; a walk's last row is the state it ended in (its action unused)
        self.data = np.zeros((0, 1 + ROW))
        self.model_samples = 0
        self.refits = 0
        self.walks = 0  # training walks so far
        self._new = 0  # transitions learned since the last refit
        #: walks since the last :meth:`take_seen`: ``(T + 1, ROW)`` logged rows each
        self.seen: list[np.ndarray] = []
        self.decision_times: list[float] = []
        self._rollouts = 0
        self._model_steps = 0
        self._compute = 0.0
        self._view: Any = None
        self._log: list[np.ndarray] = []
        # the knots' linear interpolation over the horizon: (horizon, knots)
        knots_t = np.linspace(0, self.horizon - 1, self.knots)
        eye = np.eye(self.knots)
        self._interp = torch.as_tensor(np.stack(
            [np.interp(np.arange(self.horizon), knots_t, eye[k]) for k in range(self.knots)],
            1), dtype=torch.float32)
        self._ramp = torch.linspace(0.5, 1.5, self.horizon)  # where it ends counts most

    # --- episodes --------------------------------------------------------------------------
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's honest :class:`~moonshot_body.env.BodyView`."""
        if view is None:
            raise ConfigError("body pets needs a perception view (perceive())")
        self._view = view
        self._log = []
        self._goal = torch.as_tensor(np.asarray(view.goal, dtype=np.float64)[:2],
                                     dtype=torch.float32)
        self._stand = design_of(view.design).standing_height()
        self._plan = np.zeros((self.horizon, NJ))
        self._since = self.replan_every  # plan at the first step
        self._wandering = self.refits == 0 or (self.training and
                                               self.walks < self.random_walks)
        self._knot_from = self._knot_to = np.zeros(NJ)
        self._k = 0
        # a walk's draws: from its scenario (and the walk's number when training), so an
        # evaluation repeats and a resumed run draws as the straight one did
        purpose = (1, self.walks) if self.training else (4,)
        self._draws = np.random.default_rng([self.seed, *purpose,
                                             int(info.get("map_id", 0)) % 2**31])
        self._gen = torch.Generator().manual_seed(int(self._draws.integers(2**62)))

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self._view is None:
            raise RuntimeError("begin_episode() before predict()")
        t0, c0 = time.perf_counter(), time.process_time()
        st = self._view.state
        now = np.concatenate([st["qpos"], st["qvel"]]).astype(np.float64)
        if self._wandering:
            action = self._wander_step()
        else:
            if self._since >= self.replan_every:
                self._replan(now)
                self._since = 0
            action = self._plan[self._since].copy()
            self._since += 1
            if self.training:
                action += self.explore * self._draws.standard_normal(NJ)
        action = np.clip(action, -1.0, 1.0)
        self._k += 1
        self._log.append(np.concatenate([now, action, self._ground()]))
        self._compute += time.process_time() - c0
        self.decision_times.append(time.perf_counter() - t0)
        return action.astype(np.float32), state

    def end_episode(self, info: dict) -> None:
        if self._log and self._view is not None:
            st = self._view.state  # the state the walk ended in
            last = np.concatenate([st["qpos"], st["qvel"], np.zeros(NJ), self._ground()])
            self.seen = [*self.seen, np.asarray([*self._log, last])][-SEEN_WALKS:]
            if self.training:
                self.walks += 1
        self._log = []

    def forget(self) -> None:
        """Nothing is kept per scenario (the model changes only in :meth:`learn`)."""

    def _ground(self) -> np.ndarray:
        g = self._view.ground
        return np.array([float(g[k]) for k in GROUND])

    def _wander_step(self) -> np.ndarray:
        """The untrained agent's action: joint targets linear between random knots."""
        i = self._k % WANDER_KNOT
        if i == 0:
            self._knot_from = self._knot_to
            self._knot_to = self._draws.uniform(-self.wander, self.wander, NJ)
        return self._knot_from + (i / WANDER_KNOT) * (self._knot_to - self._knot_from)

    # --- planning --------------------------------------------------------------------------
    def _replan(self, now: np.ndarray) -> None:
        h = self.horizon
        shift = min(self._since, h - 1)  # warm start: the last plan shifted, its end held
        mean = torch.as_tensor(np.concatenate([self._plan[shift:],
                                               np.repeat(self._plan[-1:], shift, 0)]),
                               dtype=torch.float32)
        state, pose = features(now[None])
        with torch.no_grad():
            for _ in range(self.iterations):
                noise = torch.randn(self.samples, self.knots, NJ,
                                    generator=self._gen) * self.noise
                noise[0] = 0.0  # the warm start itself is one of the futures
                actions = (mean[None] + torch.einsum("hk,nkj->nhj", self._interp, noise)
                           ).clamp(-1.0, 1.0)
                cost = self.imagine(actions, state[0], pose[0])
                spread = max(float(cost.std()), 1e-6)
                w = torch.softmax(-(cost - cost.min()) / (self.temperature * spread), 0)
                mean = torch.tensordot(w, actions, 1).clamp(-1.0, 1.0)
        self._plan = mean.numpy().astype(np.float64)

    def imagine(self, actions: torch.Tensor, state: np.ndarray,
                pose: np.ndarray) -> torch.Tensor:
        """Cost of each action sequence (``actions``: samples x horizon x 8) from the body's
        ``state`` (:data:`STATE`) and ``pose`` (x, y, heading), imagined by every member."""
        m, n, h = self.model.members, actions.shape[0], actions.shape[1]
        g = self._ground()
        s = torch.as_tensor(state, dtype=torch.float32).expand(m, n, NS).clone()
        x, y, heading = (torch.full((m, n), float(v)) for v in pose)
        grip = torch.full((m, n), float(g[0]))
        rise, uphill = math.sin(math.radians(float(g[1]))), float(g[2])
        height, upright, dist = (torch.empty(m, n, h) for _ in range(3))
        acts = actions.expand(m, n, h, NJ)
        for t in range(h):
            fwd, left = slope_inputs(rise, uphill, heading)
            inp = torch.cat([s, acts[:, :, t], grip[..., None], fwd[..., None],
                             left[..., None]], -1)
            out, _ = self.model.forward_each(inp)
            # an extrapolating member may run away: keep its futures finite
            s = (s + out[..., :NS]).clamp(-1e3, 1e3)
            s[..., 1:4] = s[..., 1:4] / s[..., 1:4].norm(dim=-1, keepdim=True).clamp_min(1e-6)
            c, sn = torch.cos(heading), torch.sin(heading)
            step_f, step_l = out[..., NS], out[..., NS + 1]
            x, y = x + c * step_f - sn * step_l, y + sn * step_f + c * step_l
            heading = heading + out[..., NS + 2]
            height[..., t], upright[..., t] = s[..., 0], s[..., 3]
            dist[..., t] = torch.hypot(x - self._goal[0], y - self._goal[1])
        self._rollouts += m * n
        self._model_steps += m * n * h
        cost = future_cost(dist, height, upright, self._stand, self._ramp).mean(0)
        cost = cost + FALL_COST * fell(height, upright).float().mean(0)
        if self.caution > 0:
            cost = cost + self.caution * dist[..., -1].std(0)
        return torch.nan_to_num(cost, nan=1e6, posinf=1e6)

    # --- learning (the trainer's interface) ------------------------------------------------
    def take_seen(self) -> list[np.ndarray]:
        seen, self.seen = self.seen, []
        return seen

    def learn(self, seen: list[np.ndarray]) -> None:
        """Add the walks ``seen`` to its data and refit the ensemble on all of it (the time
        counts as compute)."""
        if not seen:
            return
        c0 = time.process_time()
        first = int(self.data[-1, 0]) + 1 if len(self.data) else 0
        rows = [np.column_stack([np.full(len(w), first + i), w]) for i, w in enumerate(seen)]
        self.data = np.concatenate([self.data, *rows])[-self.max_rows:]
        new = sum(max(len(w) - 1, 0) for w in seen)
        self.model_samples += new
        self._new += new
        if self.refit():
            self._new = 0
        self._compute += time.process_time() - c0

    def _walks(self) -> list[np.ndarray]:
        ids = self.data[:, 0]
        cut = np.flatnonzero(np.diff(ids)) + 1
        return [w[:, 1:] for w in np.split(self.data, cut)]

    def refit(self) -> bool:
        """Fit the ensemble (from its current weights) to every logged transition; ``False``
        if there are too few yet."""
        x, y = steps_of(self._walks())
        if len(x) < 20:
            return False
        # warm-started: the steps follow the new data (all of it, from random weights)
        steps = self.max_fit_steps if self.refits == 0 else int(min(
            self.max_fit_steps, self.fit_steps + self.fit_steps_per_new * self._new))
        torch.manual_seed(self.seed + self.refits)  # (nothing in a refit draws from it)
        self.model.fit(x, y, steps, np.random.default_rng([self.seed, 2, self.refits]),
                       lr=self.lr)
        self.refits += 1
        return True

    def predict_steps(self, walks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's mean prediction (mean over members) of each step of ``walks``, and
        what happened: ``(predicted, observed)`` :data:`OUTPUTS`."""
        x, y = steps_of(walks)
        with torch.no_grad():
            mean, _ = self.model(torch.as_tensor(x, dtype=torch.float32))
        return mean.mean(0).numpy().astype(np.float64), y

    def model_error(self, seen: list[np.ndarray]) -> dict:
        """One-step prediction error on the real steps ``seen`` (see :data:`ERROR_COLUMNS`;
        each output's error scaled by the spread of its observed change, outputs that never
        change - a missing knee's - left out)."""
        pred, y = self.predict_steps(seen)
        if not len(y):
            return {}
        scale = y.std(0)
        cols = scale > 1e-9
        err = (pred - y)[:, cols] / scale[cols]
        d = pred - y
        return {"n": int(len(y)), "pred_err": float(np.mean(err ** 2)),
                "step_err_mm": 1e3 * float(np.mean(np.hypot(d[:, NS], d[:, NS + 1]))),
                "turn_err_mrad": 1e3 * float(np.mean(np.abs(_wrap(d[:, NS + 2])))),
                "height_err_mm": 1e3 * float(np.mean(np.abs(d[:, 0])))}

    def costs(self) -> AgentCosts:
        """Imagined futures (one per member and sequence), CPU seconds planning and fitting,
        and the control steps the futures imagined, so far."""
        return AgentCosts(self._rollouts, self._compute, model_steps=self._model_steps)

    # --- state (checkpoints: JSON and arrays, no pickles) ----------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"walks": self.walks, "refits": self.refits, "model_samples": self.model_samples,
                "new_samples": self._new,
                "rollouts": self._rollouts, "model_steps": self._model_steps,
                "compute_s": self._compute}
        arrays = {"data": self.data}
        arrays.update({f"model/{k}": v for k, v in self.model.arrays().items()})
        return meta, arrays

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.data = np.asarray(arrays["data"], dtype=np.float64).reshape(-1, 1 + ROW)
        self.model.load_arrays({k[len("model/"):]: v for k, v in arrays.items()
                                if k.startswith("model/")})
        self.walks, self.refits = int(meta["walks"]), int(meta["refits"])
        self.model_samples, self._new = int(meta["model_samples"]), int(meta["new_samples"])
        self._rollouts, self._model_steps = int(meta["rollouts"]), int(meta["model_steps"])
        self._compute = float(meta["compute_s"])


__all__ = ["BodyPETS", "features", "model_inputs", "model_targets", "steps_of"]
