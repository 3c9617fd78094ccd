"""``sysid`` on MoonLaunch: a structured model whose few parameters are fitted from the
agent's own launches.

**Given (the form).** Newtonian point-mass gravity of the Earth and the Moon, the Moon on its
two-body orbit around the Earth, a circular parking orbit and one impulsive burn
(:mod:`.moon_newton`, this agent's own code), the documented meaning of the action and of the
observation slots, and - as the honest planner has them - the published constants of the
scenario in the perception view (``gm_earth``, ``gm_moon``, ``r_earth``, ``r_moon``,
``moon_semi_major_axis``, ``moon_soi``).

**Fitted (five numbers).** The agent does not take the published constants and its own burn
on trust: it fits ``theta = (ln k_moon, ln k_earth, dv_bias, angle_bias, coast_bias)``, the
Moon's and the Earth's GM as factors of the published values (an error in the Earth's GM is
an error in every orbit's period, the Moon's included), a systematic delta-v error (m/s), a
pointing error (mrad) and a timing error of the burn (s). Least squares
(:func:`scipy.optimize.least_squares`) on the Moon-centred miss vector and the time of flight
of its real launches, with a weak Gaussian prior at zero (so one launch cannot move five
numbers far). Why the residuals and not the constants: the published constants are what a
mission designer would start from; what experience can add is how far the world (and the
rocket) departs from them. In MoonLaunch as it is, the published constants are right and the
burn is unbiased, so the fit confirms them (the residual parameters stay near zero, absorbing
the small differences between this model and the simulator); a deliberately wrong prior
(``prior=``) is fitted back from a handful of launches (the tests show it).

**Planning.** Shooting over the fitted model: a transfer ellipse a little beyond the Moon gives
the delta-v; a scan of burn times over one parking revolution, then regula falsi on the signed
miss, every flight an imagined launch (``model_rollouts``).
"""

from __future__ import annotations

import math

import numpy as np

from . import moon_newton as mn
from .learned_moon import CONSTANTS, LearnedMoonAgent
from .shooting import illinois

PARAMS = ("ln_k_moon", "ln_k_earth", "dv_bias_ms", "angle_bias_mrad", "coast_bias_s")
#: Prior standard deviations of the fitted parameters (the scale of a plausible error).
PRIOR_SIGMA = np.array([0.3, 0.003, 5.0, 5.0, 30.0])
#: Transfer apogee as a multiple of the Moon's distance (a little beyond: ~3-day flights).
APOGEE_MARGIN = 1.15
#: Only launches that pass within this distance of the Moon inform the miss-vector fit (far
#: misses say little about the parameters and much about chaos).
INFORMATIVE_KM = 150_000.0


class MoonSysID(LearnedMoonAgent):
    """The ``sysid`` agent (see the module docstring).

    :param seed: the run's seed.
    :param prior: the parameters' starting values (:data:`PARAMS`; default all zero).
    :param scan_points: imagined launches in the scan of burn times.
    :param max_iterations: regula falsi steps after the scan.
    :param tolerance_km: the shooting stops within this signed miss of its aim.
    :param max_fit_launches: the fit uses at most this many most recent informative launches.
    """

    name = "sysid"
    #: real launches of a run without --timesteps
    default_timesteps = 50

    def __init__(self, seed: int = 0, prior=None, scan_points: int = 48,
                 max_iterations: int = 12, tolerance_km: float = 300.0,
                 max_fit_launches: int = 64):
        super().__init__(seed)
        self.prior = np.zeros(len(PARAMS)) if prior is None else np.asarray(prior, float)
        if self.prior.shape != (len(PARAMS),):
            from ..errors import ConfigError

            raise ConfigError(f"sysid prior must be {len(PARAMS)} numbers {PARAMS}, got "
                              f"{prior!r}")
        self.theta = self.prior.copy()
        self.scan_points = int(scan_points)
        self.max_iterations = int(max_iterations)
        self.tolerance_km = float(tolerance_km)
        self.max_fit_launches = int(max_fit_launches)

    # --- the model -----------------------------------------------------------------------
    def _world(self, obs: np.ndarray, constants: np.ndarray, theta: np.ndarray) -> dict:
        """The scenario as the fitted model sees it (rows of ``obs``, ``constants``)."""
        obs, constants = np.atleast_2d(obs), np.atleast_2d(constants)
        c = {k: constants[:, i] for i, k in enumerate(CONSTANTS)}
        gm_e = c["gm_earth"] * math.exp(theta[1])
        gm_m = c["gm_moon"] * math.exp(theta[0])
        moon = mn.moon_state(np.arctan2(obs[:, 3], obs[:, 2]), obs[:, 5] * mn.DISTANCE_UNIT_KM,
                             obs[:, 6] / 10.0, c["moon_semi_major_axis"], gm_e + gm_m)
        return {"park_radius": c["r_earth"] + obs[:, 4] * 1000.0,
                "park_angle": np.arctan2(obs[:, 1], obs[:, 0]), "moon": moon,
                "gm_earth": gm_e, "gm_moon": gm_m, "r_earth": float(c["r_earth"][0]),
                "r_moon": float(c["r_moon"][0]), "gm_earth_published": c["gm_earth"]}

    def _fly(self, w: dict, action: np.ndarray, theta: np.ndarray) -> dict:
        # the action means what the documentation says, with the published GM (the rocket's
        # clock does not know the fitted one); the biases act on the executed burn
        coast, dv, angle = mn.burn_from_action(action, w["park_radius"],
                                               w["gm_earth_published"])
        self.rollouts += len(coast)
        return mn.fly(w["park_radius"], w["park_angle"], coast + theta[4],
                      dv + theta[2] * 1e-3, angle + theta[3] * 1e-3, w["moon"], w["gm_earth"],
                      w["gm_moon"], w["r_earth"], w["r_moon"])

    def predict_outcome(self, obs, action, constants) -> np.ndarray:
        out = []
        for o, a, c in zip(obs, action, constants, strict=True):
            res = self._fly(self._world(o, c, self.theta), np.asarray(a)[None], self.theta)
            out.append([res["signed_miss_km"][0], res["closest_km"][0], res["tof_days"][0]])
        return np.array(out)

    # --- planning ------------------------------------------------------------------------
    def plan(self, obs, constants, aim):
        w = self._world(obs, constants, self.theta)
        r_p, gm = float(w["park_radius"][0]), float(w["gm_earth"][0])
        dist = float(obs[5]) * mn.DISTANCE_UNIT_KM
        r_a = APOGEE_MARGIN * dist
        dv = math.sqrt(2 * gm * (1 / r_p - 1 / (r_p + r_a))) - math.sqrt(gm / r_p)
        a1 = float(np.clip((dv - mn.DV_CENTER) / mn.DV_HALF_RANGE, -1, 1))
        a0 = np.linspace(-1.0, 1.0, self.scan_points, endpoint=False)
        acts = np.stack([a0, np.full_like(a0, a1), np.zeros_like(a0)], -1)
        res = self._fly(w, acts, self.theta)
        s = res["signed_miss_km"] - aim
        near = np.maximum(res["closest_km"], np.roll(res["closest_km"], -1))
        cross = np.nonzero((np.sign(s) != np.sign(np.roll(s, -1)))
                           & (near < 20 * w["r_moon"] + abs(aim)))[0]
        cross = cross[cross < len(a0) - 1]
        if len(cross) == 0:
            k = int(np.argmin(res["closest_km"]))
            return acts[k], float(res["signed_miss_km"][k])
        k = int(cross[np.argmin(near[cross])])
        best = illinois(
            lambda x: float(self._fly(w, np.array([[x, a1, 0.0]]), self.theta)
                            ["signed_miss_km"][0]) - aim,
            a0[k], s[k], a0[k + 1], s[k + 1], self.tolerance_km, self.max_iterations, 1e-9)
        return np.array([best[0], a1, 0.0]), best[1] + aim

    # --- fitting -------------------------------------------------------------------------
    def refit_due(self, n: int) -> bool:
        return n <= 8 or (n <= 64 and n % 4 == 0) or n % 16 == 0

    def refit(self) -> None:
        from scipy.optimize import least_squares

        d = self.data
        keep = np.nonzero(d["outcome"][:, 1] < INFORMATIVE_KM)[0][-self.max_fit_launches:]
        if len(keep) == 0:
            return
        obs, act, const, out = (d[k][keep] for k in ("obs", "action", "constants",
                                                     "outcome"))
        # a launch that hit the Moon has no clean miss vector (the env reports the periselene
        # of the osculating conic): its time of flight still counts
        outside = out[:, 1] > 2.0 * const[:, CONSTANTS.index("r_moon")]
        sigma = 500.0 + 0.03 * out[:, 1]

        def residuals(theta):
            w = self._world(obs, const, theta)
            res = self._fly(w, act, theta)
            r_miss = np.where(outside, (res["signed_miss_km"] - out[:, 0]) / sigma, 0.0)
            r_tof = (res["tof_days"] - out[:, 2]) / 0.01
            return np.concatenate([r_miss, r_tof, (theta - self.prior) / PRIOR_SIGMA])

        fit = least_squares(residuals, self.theta, x_scale=PRIOR_SIGMA, max_nfev=30,
                            diff_step=[1e-3] * len(self.theta))
        self.theta = np.asarray(fit.x, dtype=np.float64)

    def model_state(self):
        return {"theta": self.theta.tolist(), "prior": self.prior.tolist(),
                "params": list(PARAMS)}, {}

    def load_model_state(self, meta, arrays) -> None:
        self.theta = np.asarray(meta["theta"], dtype=np.float64)
        self.prior = np.asarray(meta["prior"], dtype=np.float64)
