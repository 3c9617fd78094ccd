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

Implemented for worlds whose episode is one step (MoonLaunch: one launch); an episode of many
steps would need a copy of the env at every decision.
"""

from __future__ import annotations

import time
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
        for key, val, lo in (("population", population, 2), ("iterations", iterations, 1),
                             ("elites", elites, 1), ("seed", seed, 0)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
                raise ConfigError(f"invalid simulator-search {key}={val!r}: an integer >= {lo}")
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
        # cumulative (compute seconds, rehearsals)
        self._bill = (0.0, 0)

    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot.envs.perception.Rehearsal`."""
        if not isinstance(view, Rehearsal):
            raise TypeError(f"{self.name} needs the env's simulator (perceive('simulator') "
                            f"returning a Rehearsal), got {type(view).__name__}")
        self._rehearsal = view
        self._key = (info.get("split"), int(info.get("map_id", -1)))

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
        """Drop the searches of earlier scenarios and restart the generator."""
        self._search.clear()
        self._rng = np.random.default_rng(self.seed)
