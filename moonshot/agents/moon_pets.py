"""``pets`` on MoonLaunch: a learned black-box model of a launch's outcome, and the
cross-entropy method over it.

**Given.** The honest perception view (the planner's: the scenario's published constants, of
which it uses the Moon's radius and sphere of influence to know what a hit is), the
observation, and the documented meaning of the action. No simulator code and none of the
planners' models.

**Learned.** An ensemble of five small MLPs (:class:`~.ensemble.Ensemble`) maps (scenario,
launch) to the launch's outcome: the signed miss (``asinh(s / 20,000 km)``: smooth through a
central hit, compressed far away), the log closest approach and the time of flight. The
inputs are the observation and the action written in the Moon's frame: the burn's polar angle
relative to the Moon (the parking angle plus the documented coast over a revolution, as
cos/sin) instead of the two absolute angles - a rotation of the whole scenario changes no
outcome, and the network need not learn that. Everything else is learned from the agent's own
launches.

**Planning.** The cross-entropy method over the action box, each candidate scored by the
ensemble's probability of a hit (the mean over members of the Gaussian mass of the signed miss
inside the sphere of influence), batched in torch. A further launch at the same scenario aims
against the gap between its predicted and observed miss (:class:`~.learned_moon.
LearnedMoonAgent`).

**Data collection.** Random launches until the first fit; then planned launches with a little
noise and a share of random ones; refits of the ensemble (warm-started) as the data grows by a
tenth.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .ensemble import Ensemble, cem
from .learned_moon import CONSTANTS, LearnedMoonAgent

MISS_SCALE_KM = 20_000.0


def features(obs: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Model inputs of launches: the action and the scenario in the Moon's frame."""
    obs, action = np.atleast_2d(obs), np.atleast_2d(action)
    park, moon = np.arctan2(obs[:, 1], obs[:, 0]), np.arctan2(obs[:, 3], obs[:, 2])
    psi = park + np.pi * (np.clip(action[:, 0], -1, 1) + 1.0) - moon
    return np.column_stack([np.cos(psi), np.sin(psi), action, obs[:, 4:9]])


def targets(outcome: np.ndarray, r_moon: np.ndarray) -> np.ndarray:
    """Model outputs of launch outcomes (see the module docstring)."""
    return np.column_stack([np.arcsinh(outcome[:, 0] / MISS_SCALE_KM),
                            np.log(np.maximum(outcome[:, 1], r_moon) / r_moon),
                            np.clip(outcome[:, 2], 0.0, 10.0)])


class MoonPETS(LearnedMoonAgent):
    """The ``pets`` agent (see the module docstring).

    :param seed: the run's seed.
    :param members, hidden, layers: the ensemble.
    :param random_launches: random launches before the first fit.
    :param explore: share of random launches after it; ``noise``: std of the noise on a
        planned launch's action (training only).
    :param population, iterations, elites, first: the cross-entropy method.
    :param fit_steps: gradient steps of a refit (plus ``fit_steps_per_launch`` per launch).
    """

    name = "pets"
    #: real launches of a run without --timesteps
    default_timesteps = 3000

    def __init__(self, seed: int = 0, members: int = 5, hidden: int = 128, layers: int = 3,
                 random_launches: int = 50, explore: float = 0.1, noise: float = 0.02,
                 population: int = 400, iterations: int = 5, elites: int = 40,
                 first: int = 1000, fit_steps: int = 300, fit_steps_per_launch: float = 0.2,
                 max_fit_steps: int = 1500, lr: float = 1e-3):
        super().__init__(seed)
        self.hp = {"random_launches": int(random_launches), "explore": float(explore),
                   "noise": float(noise), "population": int(population),
                   "iterations": int(iterations), "elites": int(elites), "first": int(first),
                   "fit_steps": int(fit_steps),
                   "fit_steps_per_launch": float(fit_steps_per_launch),
                   "max_fit_steps": int(max_fit_steps), "lr": float(lr)}
        gen = torch.Generator().manual_seed(self.seed)
        self.model = Ensemble(10, 3, members, hidden, layers, generator=gen)
        self.next_refit = min(20, self.hp["random_launches"])

    # --- the model -----------------------------------------------------------------------
    def _predict(self, obs, action) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(features(obs, action), dtype=torch.float32)
        with torch.no_grad():
            return self.model(x)

    def predict_outcome(self, obs, action, constants) -> np.ndarray:
        mean, _ = self._predict(obs, action)
        m = np.clip(mean.mean(0).numpy().astype(np.float64), -20.0, 20.0)  # an untrained net
        r_moon = np.asarray(constants)[:, CONSTANTS.index("r_moon")]
        return np.column_stack([MISS_SCALE_KM * np.sinh(m[:, 0]), r_moon * np.exp(m[:, 1]),
                                m[:, 2]])

    # --- planning ------------------------------------------------------------------------
    def plan(self, obs, constants, aim):
        if self.refits == 0:  # nothing learned yet: a launch drawn from the scenario
            draws = np.random.default_rng(self.obs_seed(obs))
            return draws.uniform(-1, 1, 3), None
        soi = float(constants[CONSTANTS.index("moon_soi")])
        # a hit: aim - soi < signed miss < aim + soi (aim: against this scenario's gap)
        lo = math.asinh((aim - soi) / MISS_SCALE_KM)
        hi = math.asinh((aim + soi) / MISS_SCALE_KM)
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float64))
        normal = torch.distributions.Normal(0.0, 1.0)

        def score(cand: torch.Tensor) -> torch.Tensor:
            n = len(cand)
            feats = features(obs_t.expand(n, -1).numpy(), cand.numpy().astype(np.float64))
            mean, std = self.model(torch.as_tensor(feats, dtype=torch.float32))
            mu, sd = mean[..., 0], std[..., 0]
            p_hit = normal.cdf((hi - mu) / sd) - normal.cdf((lo - mu) / sd)
            # far from any hit every probability is ~0: prefer the nearer predicted miss
            return p_hit.mean(0) - 1e-3 * (mu - 0.5 * (lo + hi)).abs().mean(0)

        gen = torch.Generator().manual_seed(self.obs_seed(obs))
        hp = self.hp
        with torch.no_grad():
            best, count = cem(score, 3, gen, int(hp["population"]), int(hp["iterations"]),
                              int(hp["elites"]), int(hp["first"]))
        self.rollouts += count * self.model.members
        action = best.numpy().astype(np.float64)
        predicted = float(self.predict_outcome(obs[None], action[None],
                                               np.asarray(constants)[None])[0, 0])
        return action, predicted

    def explore(self, obs, action):
        n = len(self.data["obs"])
        gen = self.rng(1, n)  # launch n's own draws
        if n < self.hp["random_launches"] or gen.random() < self.hp["explore"]:
            return gen.uniform(-1, 1, 3)
        return action + self.hp["noise"] * gen.standard_normal(3)

    # --- fitting -------------------------------------------------------------------------
    def refit_due(self, n: int) -> bool:
        return n >= self.next_refit

    def refit(self) -> None:
        d = self.data
        n = len(d["obs"])
        x = features(d["obs"], d["action"])
        y = targets(d["outcome"], d["constants"][:, CONSTANTS.index("r_moon")])
        hp = self.hp
        steps = int(min(hp["max_fit_steps"],
                        hp["fit_steps"] + hp["fit_steps_per_launch"] * n))
        torch.manual_seed(self.seed + self.refits)  # (nothing in a refit draws from it)
        self.model.fit(x, y, steps, self.rng(2, self.refits), lr=hp["lr"])
        self.next_refit = max(n + 10, int(math.ceil(1.1 * n)))

    def model_state(self):
        return {"next_refit": self.next_refit}, {f"model/{k}": v
                                                 for k, v in self.model.arrays().items()}

    def load_model_state(self, meta, arrays) -> None:
        self.next_refit = int(meta["next_refit"])
        self.model.load_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
