"""What the two MoonLaunch agents that learn their own model share (``pets``, ``sysid``).

Both receive the honest perception view (the published constants of the scenario, as the
planner does), plan each launch over their own model, and learn from their own real launches:
the trainer (:mod:`.model_learning`) hands each training launch to :meth:`LearnedMoonAgent.
learn`. Evaluation never teaches them anything: ``end_episode`` only keeps, per scenario, the
gap between the predicted and the observed signed miss, so that a further launch at the same
scenario aims against it (the planner's use of its tracking data; :meth:`forget` drops it).

The outcome of a launch both models predict is the tracking data in ``info``: the signed miss
(the closest approach to the Moon's centre, signed by the sense of the flyby: it passes through
zero for a central hit), the closest approach and the time of flight. Their error on real
launches they never learned from is :func:`prediction_error`.
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np

from .base import Agent, AgentCosts
from .moon_newton import signed_miss

#: The published constants an agent keeps per launch, from its view (in this order).
CONSTANTS = ("gm_earth", "gm_moon", "r_earth", "r_moon", "moon_semi_major_axis", "moon_soi")
#: The outcome of a launch, per row: signed miss (km), closest approach (km), time of flight
#: (days).
OUTCOME = ("signed_miss_km", "closest_km", "tof_days")


def outcome_of(info: dict) -> np.ndarray:
    """The outcome row of a launch's ``info`` (its tracking data)."""
    s = float(signed_miss(info["miss_vector_km"], info["miss_velocity_kms"])[0])
    closest = float(info["closest_approach_km"])
    # on a Moon impact the env reports the periselene of the osculating conic: sign it too
    return np.array([math.copysign(closest, s if s != 0 else 1.0), closest,
                     float(info["time_of_flight_days"])])


class LearnedMoonAgent(Agent):
    """Base of the MoonLaunch agents that learn their model from their own launches.

    Subclasses implement :meth:`plan` (an action and its predicted signed miss, aiming at a
    given signed miss), :meth:`predict_outcome` (their model's outcome of given launches),
    :meth:`refit` (learn from :attr:`data`) and the state of their model
    (:meth:`model_state`, :meth:`load_model_state`).

    :param seed: seeds exploration and the model's own randomness (each draw is seeded by
        the seed and what it is for, so a resumed run repeats an uninterrupted one).
    """

    learns_from_outcomes = True  # corrects its next trial from a miss
    perception = "honest"
    #: the env this agent acts in (``module:Class`` loading reads it)
    env_id = "moonshot/MoonLaunch-v1"

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        #: learning (the trainer's own launches: exploration on) or frozen (evaluations)
        self.training = False
        self.data = {"obs": np.zeros((0, 9)), "action": np.zeros((0, 3)),
                     "constants": np.zeros((0, len(CONSTANTS))),
                     "outcome": np.zeros((0, len(OUTCOME)))}
        self.rollouts = 0  # imagined launches, in all
        self.model_samples = 0  # real launches the model was fitted on, summed over refits
        self.refits = 0
        self._compute = 0.0
        self._constants = np.zeros(len(CONSTANTS))
        self._key: tuple = ()  # (split, scenario id) of the episode
        self._history: dict[tuple, list[float]] = {}  # scenario -> observed - predicted
        self._pending: tuple | None = None
        #: (obs, action, constants, outcome) of every launch seen since the last take_seen()
        self.seen: list[tuple] = []

    # --- the agent interface -------------------------------------------------------------
    def begin_episode(self, view, observation, info) -> None:
        """``view``: the env's honest :class:`~moonshot.envs.moon_launch.MoonView`."""
        c = view.constants
        self._constants = np.array([float(c[k]) for k in CONSTANTS])
        self._key = (info.get("split"), int(info.get("map_id", -1)))

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        t0 = time.process_time()
        obs = np.asarray(observation, dtype=np.float64).reshape(-1)
        gaps = self._history.get(self._key, [])
        aim = -float(np.mean(gaps)) if gaps else 0.0
        action, predicted = self.plan(obs, self._constants, aim)
        if self.training:
            action = self.explore(obs, action)
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(3), -1.0, 1.0)
        self._pending = (obs, action.astype(np.float64), self._constants.copy(), predicted)
        self._compute += time.process_time() - t0
        return action, state

    def end_episode(self, info: dict) -> None:
        if self._pending is None or "miss_vector_km" not in info:
            return
        obs, action, constants, predicted = self._pending
        outcome = outcome_of(info)
        self.seen.append((obs, action, constants, outcome))
        if predicted is not None and not self.training:  # training scenarios are fresh
            self._history.setdefault(self._key, []).append(outcome[0] - predicted)
        self._pending = None

    def forget(self) -> None:
        self._history.clear()

    def costs(self) -> AgentCosts:
        """Imagined launches (model rollouts) and CPU seconds planning and fitting, so far."""
        return AgentCosts(self.rollouts, self._compute, model_steps=self.rollouts)

    # --- learning ------------------------------------------------------------------------
    def take_seen(self) -> list[tuple]:
        seen, self.seen = self.seen, []
        return seen

    def learn(self, seen: list[tuple]) -> None:
        """Add real launches ``(obs, action, constants, outcome)`` to the data, refit when
        the schedule says so (the time counts as compute)."""
        if not seen:
            return
        for key, col in zip(("obs", "action", "constants", "outcome"), zip(*seen, strict=True),
                            strict=True):
            self.data[key] = np.concatenate([self.data[key], np.stack(col)])
        if self.refit_due(len(self.data["obs"])):
            t0 = time.process_time()
            self.refit()
            self.refits += 1
            self.model_samples += len(self.data["obs"])
            self._compute += time.process_time() - t0

    def rng(self, *purpose: int) -> np.random.Generator:
        """A generator for one purpose (exploration of launch ``n``, refit ``k``, ...):
        seeded by the agent's seed and the purpose, so no generator state needs saving."""
        return np.random.default_rng([self.seed, *purpose])

    def obs_seed(self, obs: np.ndarray) -> int:
        """A seed from an observation (a plan's sampling repeats for the same scenario)."""
        return zlib.crc32(np.asarray(obs, dtype=np.float64).tobytes()) ^ self.seed

    # --- state (checkpoints) ---------------------------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(json, arrays)``: counters and fitted numbers as JSON, data and weights as
        arrays (saved as ``.npz``, never pickled)."""
        meta, arrays = self.model_state()
        meta.update(rollouts=self.rollouts, model_samples=self.model_samples,
                    refits=self.refits, compute_s=self._compute)
        arrays.update({f"data/{k}": v for k, v in self.data.items()})
        return meta, arrays

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.data = {k[5:]: np.asarray(v, dtype=np.float64) for k, v in arrays.items()
                     if k.startswith("data/")}
        self.rollouts, self.model_samples = int(meta["rollouts"]), int(meta["model_samples"])
        self.refits, self._compute = int(meta["refits"]), float(meta["compute_s"])
        self.load_model_state(meta, {k: v for k, v in arrays.items()
                                     if not k.startswith("data/")})

    def model_error(self, seen: list[tuple]) -> dict:
        """The model's error on real launches ``seen`` (:func:`prediction_error`)."""
        return prediction_error(self, seen)

    # --- for subclasses --------------------------------------------------------------------
    def plan(self, obs: np.ndarray, constants: np.ndarray, aim: float
             ) -> tuple[np.ndarray, float | None]:
        raise NotImplementedError

    def explore(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        return action

    def refit_due(self, n: int) -> bool:
        raise NotImplementedError

    def refit(self) -> None:
        raise NotImplementedError

    def predict_outcome(self, obs: np.ndarray, action: np.ndarray,
                        constants: np.ndarray) -> np.ndarray:
        """The model's outcome rows (:data:`OUTCOME`) of launches (batched)."""
        raise NotImplementedError

    def model_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        raise NotImplementedError

    def load_model_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def prediction_error(agent: LearnedMoonAgent, seen: list[tuple]) -> dict:
    """The model's error on real launches ``seen`` it did not learn from: median absolute
    error of the signed miss (km), of the log closest approach (floored at the Moon's radius),
    of the time of flight (days),
    and how often it told a hit (inside the scenario's sphere of influence) from a miss."""
    if not seen:
        return {}
    obs, action, constants, outcome = (np.stack(c) for c in zip(*seen, strict=True))
    pred = agent.predict_outcome(obs, action, constants)
    soi = constants[:, CONSTANTS.index("moon_soi")]
    # distances inside the Moon's radius are an impact's periselene: compare them as impacts
    r_moon = constants[:, CONSTANTS.index("r_moon")]
    return {
        "n": len(obs),
        "signed_miss_err_km": float(np.median(np.abs(pred[:, 0] - outcome[:, 0]))),
        "log_closest_err": float(np.median(np.abs(np.log(np.maximum(pred[:, 1], r_moon))
                                                  - np.log(np.maximum(outcome[:, 1], r_moon))))),
        "tof_err_days": float(np.median(np.abs(pred[:, 2] - outcome[:, 2]))),
        "hit_agreement": float(np.mean((np.abs(pred[:, 0]) <= soi) == (outcome[:, 1] <= soi))),
    }
