"""The body world's adaptation agent: Intelligent Trial and Error (Cully, Clune, Tarapore and
Mouret, "Robots that can adapt like animals", Nature 2015), on a repertoire of gaits imagined
in its own model of the intact body.

What it knows: its observation (the goal's bearing and distance; the honest view only for the
control period), the gait repertoire - a behaviour-performance map built offline by MAP-Elites
in the agent's own MuJoCo model of the blueprint's intact body (:mod:`.gaits`, :mod:`.body_model`;
never the simulator or its builder) - and the outcomes of its own gait trials. It does not
know whether, or how, its body changed.

How it acts: a walk is cut into *gait trials* of ``trial_s`` seconds (stretches of one real
walk; a real trial in this project is a whole walk, an episode), each walked with one gait
of the repertoire (steering towards the goal by the gait's rule). A gait trial's performance
is measured from the real observations: metres gained towards the goal per second, or
:data:`~.gaits.FALL_COST` below zero when the body falls (the walk ends). A Gaussian process
over the gaits' behaviour descriptors (posture: pitch, roll, height), whose prior mean is the
repertoire's imagined performance, takes every gait trial (M-BOA, Cully et al.'s map-based Bayesian
optimisation); the next gait is the one of highest upper confidence bound, until the best
gait tried performs within a fraction ``1 - alpha`` of the best the GP predicts (Cully's
stopping rule, ``alpha`` times the best, taken as a margin below it so that it holds for
predictions of either sign); from then on the agent walks with the best gait tried (and
goes back to exploring if its gait trials drop below the rule again). What it learned carries
over from walk to walk of one evaluation; :meth:`BodyAdapt.forget` returns it to the prior.
The body is assumed to stay the same from walk to walk: when it changes (a damage drawn per
walk), what was learned on one body misleads the next walks until new gait trials correct
it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from moonshot.agents.base import Agent, AgentCosts
from moonshot.errors import ConfigError

from ..anatomy import Design, design_of
from ..observation import OBS_LAYOUT
from .gaits import CONTROL_DT, FALL_COST, Repertoire, gait_actions

#: A gait trial shorter than this (s; the walk arrived or timed out just after it began) is not
#: measured: its progress is mostly the previous gait's momentum.
MIN_TRIAL_S = 0.5


class MapGP:
    """A Gaussian process over a behaviour-performance map: prior mean the map's imagined
    performance, Matérn 5/2 kernel over the unit descriptors (Cully et al.'s choice).

    :param descriptors: ``(n, d)`` in [0, 1].
    :param prior: ``(n,)`` imagined performance.
    :param length_scale: the kernel's length scale (unit descriptor space).
    :param signal: prior standard deviation of the real performance about the imagined one.
    :param noise: standard deviation of one gait trial's measurement.
    """

    def __init__(self, descriptors: np.ndarray, prior: np.ndarray, length_scale: float,
                 signal: float, noise: float):
        self.x, self.prior = np.asarray(descriptors), np.asarray(prior)
        self.length_scale, self.signal, self.noise = length_scale, signal, noise
        self.tried: list[int] = []
        self.measured: list[float] = []
        self.mean, self.std = self.prior.copy(), np.full(len(self.prior), signal)

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r = np.sqrt(5.0) * np.linalg.norm(a[:, None] - b[None], axis=-1) / self.length_scale
        return self.signal**2 * (1.0 + r + r * r / 3.0) * np.exp(-r)

    def reset(self) -> None:
        """Back to the prior: no gait trial seen."""
        self.tried, self.measured = [], []
        self.mean, self.std = self.prior.copy(), np.full(len(self.prior), self.signal)

    def add(self, index: int, performance: float) -> None:
        """Take a gait trial of gait ``index`` that performed ``performance``."""
        self.tried.append(int(index))
        self.measured.append(float(performance))
        idx = np.array(self.tried)
        xs = self.x[idx]
        gram = self.kernel(xs, xs) + self.noise**2 * np.eye(len(idx))
        factor = cho_factor(gram, lower=True)
        cross = self.kernel(self.x, xs)
        self.mean = self.prior + cross @ cho_solve(factor, np.array(self.measured) -
                                                   self.prior[idx])
        var = self.signal**2 - np.einsum("ij,ji->i", cross, cho_solve(factor, cross.T))
        self.std = np.sqrt(np.maximum(var, 0.0))

    def best_tried(self) -> tuple[int, float]:
        """The tried gait of highest posterior mean, and its mean measured performance."""
        idx = np.unique(self.tried)
        i = int(idx[np.argmax(self.mean[idx])])
        measured = np.array(self.measured)[np.array(self.tried) == i]
        return i, float(measured.mean())


class BodyAdapt(Agent):
    """Intelligent Trial and Error on the body (see the module docstring).

    :param trial_s: seconds of one gait trial (one gait, within a walk).
    :param kappa: UCB's weight of the GP's standard deviation.
    :param alpha: the stopping rule: exploring stops once the best gait tried performs at
        least ``top - (1 - alpha) * |top|``, ``top`` the highest performance the GP predicts
        (``alpha * top`` when ``top > 0``, Cully's rule; below ``top`` whatever its sign).
    :param length_scale: the GP kernel's length scale (unit descriptor space).
    :param signal: the GP's prior standard deviation about the imagined performance (m/s).
    :param noise: the standard deviation of one gait trial's measurement (m/s).
    :param repertoire: path of a repertoire ``.npz`` (default: the one shipped).
    :param learn: ``False`` is the ablation without adaptation: every gait trial walks the gait
        the repertoire rates best in the intact body, and nothing is learned from it.
    """

    name = "adapt"
    perception = "honest"
    # It corrects its next walk from a failed one (the GP keeps the failed walk's gait trials,
    # its fall included), so a world that replays scenarios may give it the world's
    # ``trials_per_scenario`` walks per scenario (episodes.trials_allowed) rather than one;
    # BodyWalk's is 1, so only ``--max-trials`` gives it a retry.
    learns_from_outcomes = True

    def __init__(self, trial_s: float = 1.5, kappa: float = 1.0, alpha: float = 0.9,
                 length_scale: float = 0.25, signal: float = 0.2, noise: float = 0.1,
                 repertoire: str | None = None, learn: bool = True):
        for key, val in (("trial_s", trial_s), ("kappa", kappa), ("length_scale", length_scale),
                         ("signal", signal), ("noise", noise)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ConfigError(f"adapt {key}={val!r} must be a number > 0")
        if not (isinstance(alpha, (int, float)) and 0 < alpha <= 1):
            raise ConfigError(f"adapt alpha={alpha!r} must lie in (0, 1]")
        if not isinstance(learn, bool):
            raise ConfigError(f"adapt learn={learn!r} must be true or false")
        self.trial_s, self.kappa, self.alpha = float(trial_s), float(kappa), float(alpha)
        self.learn = learn
        if not learn:
            self.name = "adapt[no learning]"
        try:
            self.repertoire = Repertoire.load(None if repertoire is None else Path(repertoire))
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(str(exc)) from None
        self.gp = MapGP(self.repertoire.unit_descriptor(), self.repertoire.performance,
                        float(length_scale), float(signal), float(noise))
        self.design = Design()
        self.control_dt = CONTROL_DT  # until a walk's view gives its own
        self.gait = -1
        self.exploring = True
        self._explored = True
        #: every gait trial: (walk, gait, performance, explored); walks counted since forget()
        self.trials: list[tuple[int, int, float, bool]] = []
        self._walk = -1
        self._steps = 0  # control steps of this trial
        self._clock = 0  # control steps since the gait's clock started
        self._start_distance = 0.0
        self._distance = 0.0
        # the repertoire's imagined walks, charged to the first walk after every forget()
        # (and to the first walk of a new agent), so that every evaluation pays the same prior
        meta = self.repertoire.meta
        self._imagined = AgentCosts(int(meta.get("imagined_walks", 0)),
                                    float(meta.get("cpu_s", 0.0)),
                                    int(meta.get("imagined_steps", 0)))
        self._charges = 0  # how many times the repertoire was charged (costs are cumulative)
        self._owed = True  # the next walk pays for the repertoire
        self._compute = 0.0

    # --- the agent interface -------------------------------------------------------------
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's honest view (its design numbers and control period)."""
        t0 = time.process_time()
        if view is not None:
            self.design = design_of(view.design)
            self.control_dt = float(view.control_dt)
        self._walk += 1
        if self._owed:
            self._charges, self._owed = self._charges + 1, False
        self._distance = float(observation[OBS_LAYOUT["goal_distance"]][0])
        self.gait = -1  # a walk starts its gait's cycle afresh
        self._begin_trial()
        self._compute += time.process_time() - t0

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self.gait < 0:
            raise RuntimeError("begin_episode() before predict()")
        t0 = time.process_time()
        self._distance = float(observation[OBS_LAYOUT["goal_distance"]][0])
        if self._steps * self.control_dt >= self.trial_s - 1e-9:
            self._end_trial(fell=False)
            self._begin_trial()
        goal = observation[OBS_LAYOUT["goal_direction"]]
        bearing = math.atan2(float(goal[1]), float(goal[0]))
        action = gait_actions(self.repertoire.params[self.gait], self._clock * self.control_dt,
                              bearing, self.design)
        self._steps += 1
        self._clock += 1
        self._compute += time.process_time() - t0
        return action.astype(np.float32), state

    def end_episode(self, info: dict) -> None:
        """The walk's last gait trial, measured up to its end (a fall counts whatever its
        length)."""
        t0 = time.process_time()
        if "goal_distance" in info:
            self._distance = float(info["goal_distance"])
        self._end_trial(fell=bool(info.get("death", False)))
        self._compute += time.process_time() - t0

    def forget(self) -> None:
        """Back to the repertoire's prior: no gait trial remembered; the next walk pays for the
        repertoire again (see :meth:`costs`)."""
        self.gp.reset()
        self.trials, self.exploring, self._walk, self.gait = [], True, -1, -1
        self._owed = True

    def costs(self) -> AgentCosts:
        """Imagined walks (the repertoire's, charged to the first walk after every
        :meth:`forget` - and to a new agent's first walk - so that every evaluation, which
        starts with ``forget()``, pays the same prior cost), CPU seconds (the repertoire's
        build, as often, and the agent's own choices and gaits) and the control steps the
        imagined walks stand for; cumulative."""
        n, prior = self._charges, self._imagined
        return AgentCosts(n * prior.model_rollouts, n * prior.compute_s + self._compute,
                          n * prior.model_steps)

    # --- gait trials ---------------------------------------------------------------------
    def choose(self) -> int:
        """The gait of the next gait trial: the best tried once the stopping rule holds,
        else the highest upper confidence bound of the GP."""
        gp = self.gp
        if not self.learn:  # the ablation: the imagined best, never explored
            self.exploring = False
            return int(np.argmax(gp.prior))
        if gp.tried:
            best, measured = gp.best_tried()
            # within (1 - alpha) of the best prediction's size, so that the rule also stops
            # when every prediction is negative (``alpha * max`` would then lie above it)
            top = float(gp.mean.max())
            self.exploring = measured < top - (1.0 - self.alpha) * abs(top)
            if not self.exploring:
                return best
        self.exploring = True
        return int(np.argmax(gp.mean + self.kappa * gp.std))

    def _begin_trial(self) -> None:
        gait = self.choose()
        if gait != self.gait:  # a new gait starts its cycle; the same one keeps its phase
            self._clock = 0
        self.gait = gait
        self._explored = self.exploring
        self._steps = 0
        self._start_distance = self._distance

    def _end_trial(self, fell: bool) -> None:
        seconds = self._steps * self.control_dt
        if fell:
            performance = -FALL_COST
        elif seconds >= MIN_TRIAL_S:
            performance = (self._start_distance - self._distance) / seconds
        else:
            return
        if self.learn:
            self.gp.add(self.gait, performance)
        self.trials.append((self._walk, self.gait, performance, self._explored))


__all__ = ["BodyAdapt", "MapGP"]
