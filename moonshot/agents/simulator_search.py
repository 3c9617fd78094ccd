"""The ``simulator-search`` baseline: an agent with no physics that owns the simulator.

It knows nothing of gravity, orbits or roads. Before each real trial it searches for an action
in a *copy of the env* at the current scenario (the cross-entropy method, CEM): a population
of actions is rehearsed in the copy, the best ones (the elites) set the Gaussian the next
population is drawn from, and after the last iteration the best rehearsed action is taken for
real. On a further trial at the same scenario the search continues from where it stopped.

What this measures is what owning the simulator buys, apart from owning an abstraction: the
planners reason with a model of their own (docs/design.md, "The information rule"), this
agent with the world's own code. It is therefore an ablation, labelled as such: its perception is
``"simulator"`` (the env hands it a sealed
:class:`~moonshot.envs.perception.Rehearsal`, never itself, and only worlds that offer one
can be searched), and every rehearsal is counted as an imagined trial (``model_rollouts``),
as the planners' are.

Two forms, one per kind of world, both named ``simulator-search``:

* :class:`SimulatorSearch` - a world whose episode is one step (MoonLaunch: one launch): CEM
  over that one action before each real trial;
* :class:`SimulatorMPC` - a world of many steps (CityNav: a drive): model-predictive control
  with the simulator as its model. Every ``replan`` control steps it rehearses a population
  of short action sequences (``horizon`` steps, piecewise constant over ``knots`` pieces)
  from the live state of the drive, in copies of the env
  (:meth:`~moonshot.envs.perception.Rehearsal.rehearse_plans`), improves them by CEM, and
  executes the first ``replan`` actions of the best. It scores a sequence by the env's own
  reward over the horizon (progress along the route, time, off-road, arrival, a crash), and
  warm-starts each search from the previous best sequence, shifted.

:func:`search_agent` picks the form from the world's episode length.
"""

from __future__ import annotations

import time
import zlib
from typing import Any, cast

import numpy as np

from ..envs.perception import SIMULATOR, Rehearsal
from ..errors import ConfigError
from .base import Agent, AgentCosts


class SimulatorSearch(Agent):
    """CEM in a copy of the env before each real trial (see the module docstring).

    :param population: actions rehearsed per iteration.
    :param iterations: CEM iterations per real trial (``population x iterations``
        rehearsals in all: 99 by default).
    :param elites: the best actions of an iteration that set the next one's Gaussian.
    :param seed: seed of the search's own generator (the draws of candidate actions).
    """

    learns_from_outcomes = True  # corrects its next trial from a miss
    name = "simulator-search"
    perception = SIMULATOR

    def __init__(self, population: int = 33, iterations: int = 3, elites: int = 6,
                 seed: int = 0):
        _check_ints(population=(population, 2), iterations=(iterations, 1),
                    elites=(elites, 1), seed=(seed, 0))
        if elites > population:
            raise ConfigError(f"invalid simulator-search elites={elites!r}: at most the "
                              f"population ({population})")
        self.population, self.iterations = int(population), int(iterations)
        self.elites, self.seed = int(elites), int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._rehearsal: Rehearsal | None = None
        self._key: tuple | None = None
        # (split, map_id) -> (mean, std) where the search stopped: a retry continues it
        self._search: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._trials: dict[tuple, int] = {}  # (split, map_id) -> trials begun
        # cumulative (compute seconds, rehearsals)
        self._bill = (0.0, 0)

    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot.envs.perception.Rehearsal`."""
        if not isinstance(view, Rehearsal):
            raise TypeError(f"{self.name} needs the env's simulator (perceive('simulator') "
                            f"returning a Rehearsal), got {type(view).__name__}")
        self._rehearsal = view
        self._key = (info.get("split"), int(info.get("map_id", -1)))
        # reseeded per scenario and trial: a scenario's search does not depend on the
        # scenarios searched before it
        trial = self._trials.get(self._key, 0)
        self._trials[self._key] = trial + 1
        split = zlib.crc32(str(self._key[0]).encode())
        self._rng = np.random.default_rng([self.seed, split, max(self._key[1], 0), trial])

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self._rehearsal is None:
            raise RuntimeError("begin_episode() hands the agent its simulator first")
        assert self._key is not None  # set with the rehearsal
        t0 = time.process_time()
        space = self._rehearsal.action_space
        low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
        start = self._search.get(self._key)
        mean, std = start if start is not None else (None, None)
        best_action, best_reward = None, -np.inf
        for _ in range(self.iterations):
            if mean is None or std is None:  # a fresh scenario: the whole action box, uniformly
                pop = self._rng.uniform(low, high, (self.population, len(low)))
            else:
                pop = np.clip(self._rng.normal(mean, std, (self.population, len(low))), low,
                              high)
            pop = pop.astype(space.dtype)
            rewards = np.array([self._rehearsal.rehearse(a)[0] for a in pop])
            order = np.argsort(rewards, kind="stable")
            if rewards[order[-1]] > best_reward:
                best_reward, best_action = float(rewards[order[-1]]), pop[order[-1]]
            elite = pop[order[-self.elites:]].astype(np.float64)
            # a floor on the spread, so that the search can still move on a retry
            mean, std = elite.mean(axis=0), np.maximum(elite.std(axis=0), 1e-3 * (high - low))
        assert mean is not None and std is not None  # iterations >= 1
        self._search[self._key] = (mean, std)
        compute, rehearsals = self._bill
        self._bill = (compute + time.process_time() - t0,
                      rehearsals + self.population * self.iterations)
        # (still None only if every rehearsal scored NaN: handed on as it was)
        return cast(np.ndarray, best_action), state

    def costs(self) -> AgentCosts:
        """Actions rehearsed in the copy of the env and compute seconds of the searches, so
        far (cumulative)."""
        compute, rehearsals = self._bill
        return AgentCosts(rehearsals, compute, model_steps=rehearsals)

    def forget(self) -> None:
        """Drop the searches of earlier scenarios and the count of their trials."""
        self._search.clear()
        self._trials.clear()
        self._rng = np.random.default_rng(self.seed)


def _check_ints(**values: tuple[Any, int]) -> None:
    """Each option an integer at least its bound (a :class:`ConfigError` names it)."""
    for key, (val, lo) in values.items():
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ConfigError(f"invalid simulator-search {key}={val!r}: an integer >= {lo}")


class SimulatorMPC(Agent):
    """MPC with the simulator as its model, for worlds of many steps (see the module
    docstring). Per decision it rehearses ``population x iterations`` sequences of
    ``horizon`` steps; the counts (``model_rollouts``: sequences, ``model_steps``: env steps
    rehearsed) and its compute seconds are billed like a planner's.

    :param population: action sequences rehearsed per CEM iteration.
    :param iterations: CEM iterations per decision.
    :param elites: the best sequences of an iteration that set the next one's Gaussian.
    :param horizon: env steps a sequence lasts.
    :param knots: pieces of a sequence: its action is constant over ``horizon / knots``
        steps (a coarse plan is searched faster than one action per step).
    :param replan: env steps executed between decisions (at most one knot's steps).
    :param spread: initial standard deviation of the actions around the warm start.
    :param seed: seed of the search's own generator (the candidate draws), reseeded at each
        drive from this seed and the drive's map id (a scenario's result does not depend on
        the drives evaluated before it).
    """

    name = "simulator-search"
    perception = SIMULATOR

    def __init__(self, population: int = 24, iterations: int = 2, elites: int = 4,
                 horizon: int = 30, knots: int = 6, replan: int = 5, spread: float = 0.4,
                 seed: int = 0):
        _check_ints(population=(population, 2), iterations=(iterations, 1),
                    elites=(elites, 1), horizon=(horizon, 1), knots=(knots, 1),
                    replan=(replan, 1), seed=(seed, 0))
        if elites > population:
            raise ConfigError(f"invalid simulator-search elites={elites!r}: at most the "
                              f"population ({population})")
        if knots > horizon or replan > -(-horizon // knots):
            raise ConfigError(f"invalid simulator-search knots={knots!r} or replan={replan!r}: "
                              f"knots at most the horizon ({horizon}), replan at most one "
                              f"knot's steps ({-(-horizon // max(knots, 1))})")
        if isinstance(spread, bool) or not isinstance(spread, (int, float)) or \
                not 0 < spread <= 2:
            raise ConfigError(f"invalid simulator-search spread={spread!r}: a number in (0, 2]")
        self.population, self.iterations, self.elites = int(population), int(iterations), \
            int(elites)
        self.horizon, self.knots, self.replan = int(horizon), int(knots), int(replan)
        self.spread, self.seed = float(spread), int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._rehearsal: Rehearsal | None = None
        self._mean: np.ndarray | None = None  # (knots, *action shape): the warm start
        self._queue: list[np.ndarray] = []  # actions decided, not yet executed
        self._since = 0  # env steps since the last decision
        self._bill = (0.0, 0, 0)  # cumulative compute seconds, rehearsals, rehearsed steps
        self.decision_times: list[float] = []

    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot.envs.perception.Rehearsal`."""
        if not isinstance(view, Rehearsal):
            raise TypeError(f"{self.name} needs the env's simulator (perceive('simulator') "
                            f"returning a Rehearsal), got {type(view).__name__}")
        self._rehearsal = view
        self._mean = None
        self._queue = []
        # the scenario's own draws: its outcome is the same whichever episodes ran before it
        map_id = int(info.get("map_id", -1))
        self._rng = np.random.default_rng([self.seed, int(map_id >= 0), max(map_id, 0)])

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self._rehearsal is None:
            raise RuntimeError("begin_episode() hands the agent its simulator first")
        if not self._queue:
            self._decide(self._rehearsal)
        return self._queue.pop(0), state

    def _decide(self, rehearsal: Rehearsal) -> None:
        t0 = time.process_time()
        space = rehearsal.action_space
        low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
        shape = (self.knots, *low.shape)
        per_knot = -(-self.horizon // self.knots)
        if self._mean is None:  # a new drive: no move at all as the starting guess
            mean = np.clip(np.zeros(shape), low, high)
        else:  # the last best plan, moved on by the steps executed since (its end repeated)
            mean = advance(self._mean, per_knot, self.horizon, self.replan)
        std = np.broadcast_to(self.spread * (high - low) / 2, shape).copy()
        best_plan, best_return = mean, -np.inf
        rehearsed_before = (rehearsal.rehearsals, rehearsal.steps)
        for _ in range(self.iterations):
            pop = np.clip(self._rng.normal(mean, std, (self.population, *shape)), low, high)
            pop[0] = np.clip(mean, low, high)  # the warm start itself competes
            plans = np.repeat(pop, per_knot, axis=1)[:, :self.horizon]
            returns, _ = rehearsal.rehearse_plans(plans.astype(space.dtype))
            order = np.argsort(returns, kind="stable")
            if returns[order[-1]] > best_return:
                best_return, best_plan = float(returns[order[-1]]), pop[order[-1]]
            elite = pop[order[-self.elites:]]
            mean, std = elite.mean(axis=0), np.maximum(elite.std(axis=0), 0.05)
        self._mean = best_plan
        actions = np.repeat(best_plan, per_knot, axis=0)[:self.replan].astype(space.dtype)
        self._queue = list(actions)
        spent = time.process_time() - t0
        self.decision_times.append(spent)
        compute, rollouts, steps = self._bill
        self._bill = (compute + spent, rollouts + rehearsal.rehearsals - rehearsed_before[0],
                      steps + rehearsal.steps - rehearsed_before[1])

    def costs(self) -> AgentCosts:
        """Action sequences rehearsed in copies of the env (``model_rollouts``), the env steps
        they took there (``model_steps``) and compute seconds of the searches, so far."""
        compute, rollouts, steps = self._bill
        return AgentCosts(rollouts, compute, model_steps=steps)

    def forget(self) -> None:
        """Restart the generator (a new evaluation repeats the same searches)."""
        self._rng = np.random.default_rng(self.seed)
        self._mean = None
        self._queue = []


def advance(plan: np.ndarray, per_knot: int, horizon: int, executed: int) -> np.ndarray:
    """The knots of ``plan`` (``(knots, *action_shape)``, each held ``per_knot`` steps of a
    ``horizon``) moved on by ``executed`` steps: each new knot is the mean of the actions the
    old plan takes over the steps that knot now covers (past the horizon: its last action).
    ``executed`` a multiple of ``per_knot``: the knots shifted."""
    steps = np.repeat(plan, per_knot, axis=0)[:horizon]
    need = len(plan) * per_knot + executed
    steps = np.concatenate([steps, np.repeat(steps[-1:], need - len(steps), axis=0)])
    return steps[executed:].reshape(len(plan), per_knot, *plan.shape[1:]).mean(axis=1)


def search_agent(episode_steps: int | None, **options: Any) -> Agent:
    """The ``simulator-search`` agent of a world whose episode lasts up to ``episode_steps``
    steps: :class:`SimulatorSearch` for one step, :class:`SimulatorMPC` for more (``None``:
    unknown, more)."""
    return SimulatorSearch(**options) if episode_steps == 1 else SimulatorMPC(**options)
