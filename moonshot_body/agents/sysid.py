"""The body world's ``sysid`` agent: the planner's model of the body, with what changed in the
body identified from the body's own motion.

It is the planner (:class:`~.planner.BodyPlanner`: MPPI over its own MuJoCo model of the
blueprint) with a belief about the body it drives (:class:`~.body_model.Belief`: each leg's
servo strength and shin length, a payload on the torso), fitted to what its joint encoders and
inertial unit report:

* **During a walk** it logs each control step's state and action; every ``refit_every``
  steps it searches the belief that best predicts the last ``window`` steps (a cross-entropy
  search over the nine numbers, each candidate body compiled by :mod:`.body_model` and the
  logged steps replayed in it at once with ``mujoco.rollout``), and plans with it from then
  on. A damaged leg shows in a few seconds: the torso tips towards a short leg, a weak leg's
  joints lag their targets.
* **Across walks** the belief carries over (a body that stays broken is known from the first
  step of the next walk); :meth:`forget` (the start of an evaluation) returns it to the intact
  body of the spec sheet.
* **In training** (``moonshot train body --algo sysid``, walks of the intact body) it fits the
  two numbers of its model the spec sheet does not give - the joints' passive damping and rotor
  inertia - to the logged steps of its training walks.

What it knows is the planner's (the honest view: the blueprint, the ground as seen, its own
state); it never holds the env, its builder or the oracle view. A joint whose encoder reads
the same value with zero velocity for the whole window (a missing knee's) carries no
information and is left out of the fit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import mujoco
import numpy as np
from mujoco import rollout

from moonshot.agents.base import AgentCosts
from moonshot.errors import ConfigError

from ..anatomy import GROUND_LOGGED as GROUND
from ..anatomy import JOINTS, NQ, NV, Design, Layout
from . import body_model
from .body_model import INTACT, Belief
from .planner import MODEL_TIMESTEP, BodyPlanner

#: Walks of evaluations kept for :meth:`BodySysID.take_seen` (the oldest dropped beyond).
SEEN_WALKS = 64
#: A logged step: the state the view reported (qpos, qvel), then the action taken.
ROW = NQ + NV + len(JOINTS)
#: The numerics of its model that training fits: joints' passive damping, rotor inertia.
NUMERICS_PRIOR = (body_model.JOINT_DAMPING, body_model.ARMATURE)
NUMERICS_LOW, NUMERICS_HIGH = (0.0, 0.002), (2.0, 0.2)
#: The search's initial spread around the current belief (strength, shin, payload kg).
SPREAD = (0.35, 0.35, 3.0)
#: ``model_error.csv``: ``pred_err`` is the mean scaled squared one-step error (1 = as large
#: as the observed changes themselves).
ERROR_COLUMNS = ("env_steps", "episodes", "split", "n", "pred_err", "model_samples", "refits")


#: The training steps it keeps (the latest).
DATA_ROWS = 4000


def transitions(walk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(states, actions, next states)`` of a walk's logged rows (``(T, ROW)``)."""
    s = walk[:, :NQ + NV]
    return s[:-1], walk[:-1, NQ + NV:], s[1:]


def informative(states: np.ndarray) -> np.ndarray:
    """The eight joint slots whose encoder moved in ``states`` (a missing joint's reads its
    start value with velocity 0 throughout)."""
    return (np.abs(states[:, 7 + np.arange(len(JOINTS))] - states[:1, 7:NQ]).max(0) > 0) | \
        (np.abs(states[:, NQ + 6:]).max(0) > 0)


def apply_numerics(model: mujoco.MjModel, numerics: np.ndarray) -> None:
    """Put the fitted joint damping and rotor inertia into ``model`` (in place; the free
    joint's six velocities keep none)."""
    model.dof_damping[6:] = float(numerics[0])
    model.dof_armature[6:] = float(numerics[1])


class Replayer:
    """Replays logged steps in candidate bodies: the one-step prediction error of each
    (MuJoCo's batched rollout over every candidate and every step at once). Its costs: one
    imagined trial per candidate replayed (``rollouts``), one env step per logged step it
    replays (``model_steps``)."""

    def __init__(self, design: Design, stone_half: float, control_dt: float):
        self.design, self.stone_half, self.control_dt = design, float(stone_half), \
            float(control_dt)
        self.sub = int(round(control_dt / MODEL_TIMESTEP))
        self._models: dict[tuple, mujoco.MjModel] = {}
        self._data: mujoco.MjData | None = None
        self.rollouts = 0
        self.model_steps = 0

    def model(self, belief: Belief) -> mujoco.MjModel:
        key = tuple(np.round(belief.vector(), 3))
        if key not in self._models:
            if len(self._models) > 1024:
                self._models.clear()
            self._models[key] = body_model.build(self.design, MODEL_TIMESTEP, self.stone_half,
                                                 Belief.of(np.array(key)))
        return self._models[key]

    def errors(self, beliefs: list[Belief], numerics: np.ndarray, ground: dict,
               states: np.ndarray, actions: np.ndarray, nexts: np.ndarray) -> np.ndarray:
        """Each belief's mean squared prediction error on the steps (each component scaled
        by the spread of its observed change; uninformative joints left out)."""
        models = [self.model(b) for b in beliefs]
        near = (float(np.mean(states[:, 0])), float(np.mean(states[:, 1])))
        for m in models:
            body_model.place_ground(m, ground, near)
            apply_numerics(m, numerics)
        m0 = models[0]
        if self._data is None:
            self._data = mujoco.MjData(m0)
        data = self._data
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        size = mujoco.mj_stateSize(m0, spec)
        init = np.empty((len(states), size))
        for i, s in enumerate(states):
            data.qpos[:], data.qvel[:] = s[:NQ], s[NQ:]
            mujoco.mj_getState(m0, data, init[i], spec)
        targets = self.design.targets(actions)
        ctrl = np.repeat(targets[:, None, :], self.sub, axis=1)
        k, t = len(models), len(states)
        out, _ = rollout.rollout([m for m in models for _ in range(t)], data,
                                 np.tile(init, (k, 1)), np.tile(ctrl, (k, 1, 1)))
        self.rollouts += k  # a candidate body replayed over the window: one imagined trial
        self.model_steps += k * t  # ... of t control steps (each from a logged state)
        pred = out[:, -1, 1:1 + NQ + NV].reshape(k, t, NQ + NV)
        return self.score(pred, states, nexts)

    @staticmethod
    def score(pred: np.ndarray, states: np.ndarray, nexts: np.ndarray) -> np.ndarray:
        """Mean scaled squared error of predicted next states ``pred`` (``(k, t, NQ + NV)``)
        per candidate."""
        joints = informative(np.concatenate([states, nexts[-1:]]))
        cols = np.r_[2, 7 + np.flatnonzero(joints), NQ + np.arange(6),
                     NQ + 6 + np.flatnonzero(joints)]
        change = nexts[:, cols] - states[:, cols]
        scale = change.std(0) + 1e-3
        err = ((pred[..., cols] - nexts[None][..., cols]) / scale) ** 2
        return err.mean((1, 2))


class BodySysID(BodyPlanner):
    """The body world's ``sysid`` (see the module docstring).

    :param seed: seeds the planner's sampling and the belief search.
    :param refit_every: control steps between two fits of the belief during a walk.
    :param window: logged steps (the latest) a fit replays.
    :param candidates: candidate bodies per round of the search.
    :param rounds: rounds of the search (the elite of one centres the next).
    :param min_steps: logged steps of a walk before its first fit.
    :param prior_weight: weight of the prior that the body is as its spec sheet says: a
        belief's error gains this much per unit of departure (summed over its numbers, each
        in units of its range) - the simplest explanation of the motion wins a near tie.
    :param samples, horizon, knots, noise, temperature, replan_every: the planner's.
    """

    name = "sysid"
    perception = "honest"
    #: env steps of a training run without --timesteps: about 50 walks of the intact body
    default_timesteps = 5_000
    error_columns = ERROR_COLUMNS

    def __init__(self, seed: int = 0, refit_every: int = 25, window: int = 100,
                 candidates: int = 32, rounds: int = 3, min_steps: int = 25,
                 prior_weight: float = 0.02,
                 samples: int = 32, horizon: int = 20, knots: int = 4, noise: float = 0.35,
                 temperature: float = 0.1, replan_every: int = 2):
        super().__init__("nominal", samples, horizon, knots, noise, temperature, replan_every,
                         seed)
        for key, val, low in (("refit_every", refit_every, 1), ("window", window, 2),
                              ("candidates", candidates, 2), ("rounds", rounds, 1),
                              ("min_steps", min_steps, 2)):
            if isinstance(val, bool) or int(val) != val or int(val) < low:
                raise ConfigError(f"body sysid {key}={val!r} must be an integer >= {low}")
        if not float(prior_weight) >= 0:
            raise ConfigError(f"body sysid prior_weight={prior_weight!r} must be >= 0")
        self.name = "sysid"
        self.refit_every, self.window = int(refit_every), int(window)
        self.candidates, self.rounds, self.min_steps = int(candidates), int(rounds), \
            int(min_steps)
        self.prior_weight = float(prior_weight)
        # one belief while it trains, one while it is evaluated: an evaluation's last walk
        # never carries into a training walk (nor the reverse)
        self._beliefs: dict[bool, Belief] = {True: INTACT, False: INTACT}
        self.numerics = np.array(NUMERICS_PRIOR, dtype=np.float64)
        self.training = False
        #: walks since the last :meth:`take_seen`: logged steps, the ground's ``GROUND``
        #: numbers, the belief at the walk's end
        self.seen: list[tuple[np.ndarray, np.ndarray, Belief]] = []
        #: the logged steps of its training walks (the latest ``DATA_ROWS``), each row led by
        #: its walk's number and its ground's ``GROUND`` numbers
        self.data = np.zeros((0, 1 + len(GROUND) + ROW))
        self.model_samples = 0
        self.refits = 0
        self.walks = 0
        self._log: list[np.ndarray] = []
        self._stones: dict[tuple[float, float], float] = {}
        self._replayer: Replayer | None = None
        self._fit_rng = np.random.default_rng([self.seed, 7])

    @property
    def belief(self) -> Belief:
        """What it believes of the body now (in training or in evaluation: ``training``)."""
        return self._beliefs[bool(self.training)]

    @belief.setter
    def belief(self, value: Belief) -> None:
        self._beliefs[bool(self.training)] = value

    # --- the model it plans in -------------------------------------------------------------
    def _model_of(self, view: Any) -> mujoco.MjModel:
        self._place_ground = body_model.place_ground
        self._replayer_for(view)
        assert self._replayer is not None
        model = self._replayer.model(self.belief)
        apply_numerics(model, self.numerics)
        return model

    def _replayer_for(self, view: Any) -> Replayer:
        stone_half = float(view.ground["stone_half"])
        r = self._replayer
        if r is None or r.stone_half != stone_half or r.design != self.design or \
                r.control_dt != float(view.control_dt):
            self._replayer = r = Replayer(self.design, stone_half, float(view.control_dt))
        return r

    def _switch_model(self) -> None:
        sim = self._model_of(self._view)
        if sim is not self._sim:
            self._sim, self._data, self._layout = sim, mujoco.MjData(sim), Layout.of(sim)

    # --- episodes --------------------------------------------------------------------------
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        self._log, self._stones = [], {}
        self._fit_rng = np.random.default_rng([self.seed, 7, int(info.get("map_id", 0))
                                               % 2**31])
        super().begin_episode(view, observation, info)

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self._view is None:
            raise RuntimeError("begin_episode() before predict()")
        st = self._view.state
        for x, y, h in np.asarray(self._view.ground["stones"]).reshape(-1, 3):
            self._stones[(round(float(x), 3), round(float(y), 3))] = float(h)
        n = len(self._log)
        if n >= self.min_steps and n % self.refit_every == 0:
            t0 = time.process_time()
            self.identify()
            self._compute += time.process_time() - t0
        action, state = super().predict(observation, state, episode_start, deterministic)
        self._log.append(np.concatenate([st["qpos"], st["qvel"], action]).astype(np.float64))
        return action, state

    def end_episode(self, info: dict) -> None:
        if len(self._log) > 1 and self._view is not None:
            ground = np.array([float(self._view.ground[k]) for k in GROUND])
            self.seen = [*self.seen, (np.asarray(self._log), ground, self.belief)][-SEEN_WALKS:]
        self._log = []
        self.walks += 1

    def forget(self) -> None:
        """Back to the intact body of the spec sheet (the trained numerics stay)."""
        self._beliefs[False] = INTACT

    # --- identification --------------------------------------------------------------------
    def _ground(self) -> dict:
        g = dict(self._view.ground)
        if self._stones:
            g["stones"] = np.array([(x, y, h) for (x, y), h in self._stones.items()])
        return g

    def identify(self) -> Belief:
        """Fit the belief to the walk's latest ``window`` logged steps and plan with it."""
        walk = np.asarray(self._log[-(self.window + 1):])
        states, actions, nexts = transitions(walk)
        replayer = self._replayer_for(self._view)
        lo, hi = Belief.lows(), Belief.highs()
        n_legs = len(self.belief.strength)
        spread = np.array([SPREAD[0]] * n_legs + [SPREAD[1]] * n_legs + [SPREAD[2]])
        mean = self.belief.vector()
        best_v, best_e = mean, None
        ground = self._ground()
        for _ in range(self.rounds):
            cand = np.clip(mean + self._fit_rng.normal(0.0, 1.0, (self.candidates, len(mean)))
                           * spread, lo, hi)
            cand[0] = best_v  # the best so far competes in every round
            # ... and so does each simpler explanation: one of its numbers back to the spec
            simpler = np.repeat(best_v[None], len(best_v), 0)
            np.fill_diagonal(simpler, INTACT.vector())
            cand[1:1 + len(simpler)] = simpler[:self.candidates - 1]
            beliefs = [Belief.of(c) for c in cand]
            err = replayer.errors(beliefs, self.numerics, ground, states, actions, nexts)
            err += self.prior_weight * np.abs((cand - INTACT.vector()) / (hi - lo)).sum(1)
            order = np.argsort(err)
            if best_e is None or err[order[0]] < best_e:
                best_v, best_e = cand[order[0]], float(err[order[0]])
            elite = cand[order[:max(2, self.candidates // 6)]]
            mean, spread = elite.mean(0), np.maximum(elite.std(0), 0.02 * (hi - lo))
        self.belief = Belief.of(best_v)
        self._switch_model()
        return self.belief

    # --- learning (the trainer's interface) ------------------------------------------------
    def take_seen(self) -> list[tuple[np.ndarray, np.ndarray, Belief]]:
        seen, self.seen = self.seen, []
        return seen

    def learn(self, seen: list[tuple[np.ndarray, np.ndarray, Belief]]) -> None:
        """Add the walks ``seen`` to its data and refit the model's joint damping and rotor
        inertia on all of it (a grid search; the time counts as compute)."""
        if not seen:
            return
        t0 = time.process_time()
        first = int(self.data[-1, 0]) + 1 if len(self.data) else 0
        rows = [np.column_stack([np.full(len(w), first + i), np.tile(g, (len(w), 1)), w])
                for i, (w, g, _) in enumerate(seen)]
        self.data = np.concatenate([self.data, *rows])[-DATA_ROWS:]
        self.model_samples += sum(len(w) for w, _, _ in seen)
        ids = self.data[:, 0]
        walks = [self.data[ids == i] for i in np.unique(ids)]
        if self.refit([(w[:, 1 + len(GROUND):], w[0, 1:1 + len(GROUND)], INTACT)
                       for w in walks]):
            self.refits += 1
        self._compute += time.process_time() - t0

    def _groups(self, walks: list[tuple[np.ndarray, np.ndarray, Belief]],
                cap: int = 400) -> Iterator[tuple[dict, Belief, tuple[np.ndarray, ...]]]:
        """The walks' steps grouped by ground and belief (each group replays in one body on
        one ground), at most ``cap`` steps in all, spread evenly."""
        total = sum(max(len(w) - 1, 0) for w, _, _ in walks)
        every = max(1, int(np.ceil(total / cap)))
        groups: dict[tuple, list] = {}
        for w, g, b in walks:
            if len(w) < 2:
                continue
            key = (tuple(np.round(g, 6)), b)
            groups.setdefault(key, []).append([x[::every] for x in transitions(w)])
        for (g, b), parts in groups.items():
            ground = {**self._view.ground, **dict(zip(GROUND, g, strict=True)),
                      "stones": np.zeros((0, 3))}
            yield ground, b, tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def refit(self, walks: list[tuple[np.ndarray, np.ndarray, Belief]]) -> bool:
        """Fit the joint damping and rotor inertia to ``walks`` (each replayed on its own
        ground, in the body it was believed to be); ``False`` if it cannot yet (no view to
        build its model from, as after a resume before the first walk)."""
        if self._view is None:
            return False
        replayer = self._replayer_for(self._view)
        grid = [np.array([d, a]) for d in np.linspace(NUMERICS_LOW[0], NUMERICS_HIGH[0], 6)
                for a in np.geomspace(NUMERICS_LOW[1], NUMERICS_HIGH[1], 5)]
        grid.append(self.numerics)
        err = np.zeros(len(grid))
        for ground, belief, (states, actions, nexts) in self._groups(walks):
            for i, g in enumerate(grid):
                err[i] += len(states) * float(replayer.errors([belief], g, ground, states,
                                                              actions, nexts)[0])
        self.numerics = np.asarray(grid[int(np.argmin(err))], dtype=np.float64)
        self._switch_model()
        return True

    def model_error(self, seen: list[tuple[np.ndarray, np.ndarray, Belief]]) -> dict:
        """One-step prediction error of its model on the real steps ``seen`` (each walk
        replayed on its own ground - grip as seen, slope; no stones - in the body it believed
        in at the walk's end), scaled as the fit scales it: ``pred_err``, the mean over the
        steps."""
        if not seen or self._view is None:
            return {}
        replayer = self._replayer_for(self._view)
        n, total = 0, 0.0
        for ground, belief, (states, actions, nexts) in self._groups(seen):
            n += len(states)
            total += len(states) * float(replayer.errors([belief], self.numerics, ground,
                                                         states, actions, nexts)[0])
        return {"n": n, "pred_err": total / n} if n else {}

    def costs(self) -> AgentCosts:
        """Imagined futures and replayed steps, CPU seconds planning and fitting, and the
        env steps they stand for, so far."""
        r = self._replayer
        extra = (r.rollouts, r.model_steps) if r is not None else (0, 0)
        return AgentCosts(self._rollouts + extra[0], self._compute,
                          model_steps=self._model_steps + extra[1])

    # --- state (checkpoints: JSON and arrays, no pickles) ----------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        r = self._replayer
        meta = {"belief": self._beliefs[False].vector().tolist(),
                "training_belief": self._beliefs[True].vector().tolist(),
                "numerics": self.numerics.tolist(),
                "walks": self.walks, "model_samples": self.model_samples,
                "refits": self.refits, "compute_s": self._compute,
                "rollouts": self._rollouts + (r.rollouts if r else 0),
                "model_steps": self._model_steps + (r.model_steps if r else 0)}
        return meta, {"data": self.data}

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.data = np.asarray(arrays["data"], dtype=np.float64).reshape(
            -1, 1 + len(GROUND) + ROW)
        self._beliefs = {False: Belief.of(np.asarray(meta["belief"])),
                         True: Belief.of(np.asarray(meta["training_belief"]))}
        self.numerics = np.asarray(meta["numerics"], dtype=np.float64)
        self.walks, self.model_samples = int(meta["walks"]), int(meta["model_samples"])
        self.refits, self._compute = int(meta["refits"]), float(meta["compute_s"])
        self._rollouts, self._model_steps = int(meta["rollouts"]), int(meta["model_steps"])


__all__ = ["BodySysID", "Replayer", "transitions", "informative",
           "apply_numerics"]
