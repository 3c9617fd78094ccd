"""MoonPlanner: derives the launch from Newtonian gravity instead of sampling it.

How a mission designer would do it:

1. **First guess by patched conics.** A transfer ellipse from the parking orbit with its apogee
   a little beyond the Moon's orbit (``APOGEE_MARGIN``) gives the delta-v (within a percent of
   the Hohmann value) and, by Kepler's equation, the time of flight to the Moon's distance; the
   burn must happen where the Moon will be ahead by the transfer angle when the rocket arrives.
2. **Mental rehearsal.** The planner's *model* of the world is its own: by default two Kepler
   conics patched at the Moon's sphere of influence (:mod:`moonshot.agents.moon_conics`), with
   the Moon's ellipse reconstructed from the ephemeris in the observation (distance, radial
   velocity, semi-major axis, mass ratio). It flies a batch of imagined launches around the
   first guess, then shoots for a central hit: regula falsi on the signed periselene (the
   Moon-centred miss, signed by the sense of the flyby) as a function of the burn time. These
   rehearsals cost compute, never launches.
3. **Launch, observe, correct.** Every ``env.step`` is a trial. After a miss, the tracking data
   in ``info`` (the Moon-centred miss vector and velocity) give the observed signed miss; the
   mean gap between observed and predicted misses on this scenario is the model's bias, and the
   next launch aims against it. The executed delta-v in ``info`` calibrates the engine: when
   its mean ratio to the commanded one departs from 1 by more than its scatter (a systematic
   engine error), the planner commands that much less, at every scenario.

It reads the observation and the published constants of its perception view (as a scientist
knows G and the masses; ``env.unwrapped.perceive()``), never the env or its random state.
Burn execution errors and any mismatch between its model and the world are what it corrects
between trials.

How good must the abstract model be? ``model=`` chooses it:

* ``"patched_conic"`` (default): two Kepler conics in closed form (Earth alone, then the Moon
  alone inside its sphere of influence; :mod:`moonshot.agents.moon_conics`) - no
  integration, wrong by the pull each body is left without, and independent of the
  simulator by construction (it imports none of the env's dynamics);
* ``"first_guess"``: the closed-form transfer ellipse alone, no rehearsal at all; the
  planner then corrects its burn time from its real misses (a secant on the observed signed
  miss), so its model costs real launches instead of imagined ones;
* ``"simulator"``: an **oracle ablation** (labelled ``planner[simulator, oracle]``): the
  env's own Earth-Moon equations and compiled integrator
  (:mod:`moonshot.agents.moon_simulator_model`), with the Moon's ellipse reconstructed from
  the observation - what rehearsing in the simulator itself buys.

Every rehearsed launch is counted (:meth:`MoonPlanner.costs`, the ``model_rollouts``
column of ``episodes.csv``): real trials and imagined ones are both part of the bill.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..envs.moon_actions import action_to_burn, burn_to_action
from ..envs.perception import check_perception
from ..physics.constants import DAY, EARTH_MOON_DISTANCE, GM_EARTH, MU_EARTH_MOON, R_EARTH, R_MOON
from .base import Agent, AgentCosts
from .moon_conics import patched_conic_miss
from .shooting import illinois

#: Apogee of the first-guess transfer ellipse, as a multiple of the Moon's distance: a little
#: beyond it, so that the rocket crosses the Moon's orbit in ~3 days instead of ~5.
APOGEE_MARGIN = 1.15
#: The planner's models of the world (see the module docstring); the first is the default.
MODELS = ("patched_conic", "first_guess", "simulator")
#: How a model shows in the planner's label (``planner[...]``): the default shows nothing, the
#: simulator says it is an oracle.
MODEL_LABELS = {"patched_conic": "", "first_guess": "first_guess",
                "simulator": "simulator, oracle"}
#: first_guess: the burn-time change of its second launch, and the cap on any correction (s).
PROBE_S = 60.0
MAX_CORRECTION_S = 900.0
#: Two calibrations of the engine within this fraction of each other are the same one.
ENGINE_SAME = 5e-4


def hohmann_delta_v(r_park: float, r_target: float, gm: float = GM_EARTH) -> float:
    """Delta-v (km/s) from a circular orbit of radius ``r_park`` onto an ellipse with apogee
    ``r_target`` (the first burn of a Hohmann transfer)."""
    v_c = math.sqrt(gm / r_park)
    v_p = math.sqrt(2 * gm * (1 / r_park - 1 / (r_park + r_target)))
    return v_p - v_c


def transfer_to_radius(r_park: float, r_apogee: float, r: float,
                       gm: float = GM_EARTH) -> tuple[float, float]:
    """On the ellipse with perigee ``r_park`` and apogee ``r_apogee``: the true anomaly (rad)
    and the time (s) from perigee at which the radius first reaches ``r``."""
    a = 0.5 * (r_park + r_apogee)
    e = (r_apogee - r_park) / (r_apogee + r_park)
    p = a * (1 - e * e)
    nu = math.acos(max(-1.0, min(1.0, (p / r - 1) / e)))
    ecc = 2 * math.atan(math.sqrt((1 - e) / (1 + e)) * math.tan(nu / 2))
    t = (ecc - e * math.sin(ecc)) * math.sqrt(a**3 / gm)
    return nu, t


def moon_orbit_from_ephemeris(angle: float, dist: float, v_radial: float, a: float,
                              gm_total: float) -> tuple[float, float]:
    """Eccentricity and perigee direction of the Moon's ellipse from its current polar angle,
    distance, radial velocity and semi-major axis (vis-viva and the orbit equation)."""
    v2 = gm_total * (2 / dist - 1 / a)
    vt2 = max(v2 - v_radial**2, 1e-12)
    p = dist * dist * vt2 / gm_total
    e = math.sqrt(max(0.0, 1 - p / a))
    if e < 1e-9:
        return 0.0, 0.0
    cos_nu = max(-1.0, min(1.0, (p / dist - 1) / e))
    nu = math.acos(cos_nu) * (1.0 if v_radial >= 0 else -1.0)
    return e, angle - nu


def signed_miss(miss: np.ndarray, miss_velocity: np.ndarray) -> np.ndarray:
    """Closest-approach distance signed by the sense of the flyby (sign of the Moon-centred
    angular momentum), so that it passes through zero for a central hit."""
    miss = np.atleast_2d(miss)
    vel = np.atleast_2d(miss_velocity)
    h = miss[:, 0] * vel[:, 1] - miss[:, 1] * vel[:, 0]
    return np.where(h >= 0, 1.0, -1.0) * np.hypot(miss[:, 0], miss[:, 1])


class MoonPlanner(Agent):
    """Physics-model planner for MoonLaunch (see the module docstring).

    :param model: ``"patched_conic"`` (default), ``"first_guess"`` or ``"simulator"`` (the
        oracle ablation that rehearses in the env's own dynamics).
    :param perception: ``"honest"`` (published constants) or ``"oracle"`` (adds the Moon's
        exact eccentricity and perigee instead of reconstructing them).
    :param scan_points: imagined launches in the coarse scan of burn times.
    :param max_rehearsals: cap on imagined launches per plan (scan included).
    :param model_rtol: integrator tolerance of the ``simulator`` model.
    """

    learns_from_outcomes = True  # corrects its next trial from a miss
    name = "planner"

    def __init__(self, model: str = "patched_conic", perception: str = "honest",
                 scan_points: int = 96, max_rehearsals: int = 400, model_rtol: float = 1e-9):
        if model not in MODELS:
            from ..errors import ConfigError

            raise ConfigError(f"invalid MoonPlanner model={model!r}; choose one of "
                              f"{list(MODELS)}")
        self.model = model
        self.perception = check_perception(perception)
        self.name = "planner" + "".join(
            f"[{x}]" for x in (MODEL_LABELS[model], perception) if x not in ("", "honest"))
        self.scan_points = int(scan_points)
        self.max_rehearsals = int(max_rehearsals)
        self.model_rtol = float(model_rtol)
        self._constants: dict = {}
        self._exact: tuple[float, float] | None = None
        self._map_id: tuple | None = None
        # (split, map_id) -> [(predicted, observed signed miss, coast action, engine gain)]:
        # scenario ids repeat across splits, the worlds behind them do not.
        self._history: dict[tuple, list[tuple[float, float, float, float]]] = {}
        # (predicted signed miss, coast action, commanded delta-v, engine gain) of this trial
        self._last: tuple[float, float, float, float] | None = None
        self._engine: list[float] = []  # executed / commanded delta-v of every launch
        self._compute = 0.0
        self.rehearsals = 0  # imagined launches flown in the model, in all

    # --- the agent interface -------------------------------------------------------------
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot.envs.moon_launch.MoonView`."""
        self._constants = dict(view.constants) if view is not None else {}
        self._exact = ((view.moon_eccentricity, view.moon_perigee)
                       if view is not None and view.mode == "oracle" else None)
        self._map_id = (info.get("split"), int(info.get("map_id", -1)))

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        t0 = time.process_time()
        obs = np.asarray(observation, dtype=np.float64).reshape(-1)
        history = self._history.get(self._map_id, []) if self._map_id is not None else []
        gain = self.engine_gain()
        if self.model == "first_guess":
            action, predicted = self._secant(obs, history)
        else:
            # Misses measured with another calibration of the engine say nothing of the model.
            gaps = [o - p for p, o, _, g in history if abs(g / gain - 1.0) < ENGINE_SAME]
            bias = float(np.mean(gaps)) if gaps else 0.0
            action, predicted = self.plan(obs, aim=-bias,
                                          near_action=history[-1][2] if history else None)
        # delta-v does not depend on the parking orbit (any radius decodes it)
        self._last = (predicted, float(action[0]), float(action_to_burn(action, R_EARTH)[1][0]),
                      gain)
        self._compute += time.process_time() - t0
        return action, state

    def end_episode(self, info: dict) -> None:
        if self._last is None or "miss_vector_km" not in info:
            return
        observed = float(signed_miss(info["miss_vector_km"], info["miss_velocity_kms"])[0])
        self._history.setdefault((info.get("split"), int(info.get("map_id", -1))), []).append(
            (self._last[0], observed, self._last[1], self._last[3]))
        if "delta_v_kms" in info:
            self._engine.append(float(info["delta_v_kms"]) / self._last[2])
        self._last = None

    def costs(self) -> AgentCosts:
        """Launches rehearsed in the model and CPU seconds spent planning, so far."""
        return AgentCosts(self.rehearsals, self._compute, model_steps=self.rehearsals)

    def engine_gain(self) -> float:
        """Executed per commanded delta-v, as measured by the planner's launches so far: their
        mean ratio when it departs from 1 by more than 0.1% and three standard errors (a
        systematic engine error, not the burn's random error), else 1."""
        if not self._engine:
            return 1.0
        r = np.asarray(self._engine)
        mean = float(r.mean())
        sem = float(r.std(ddof=1) / math.sqrt(len(r))) if len(r) > 1 else 0.0
        return mean if abs(mean - 1.0) > max(1e-3, 3 * sem) else 1.0

    def forget(self) -> None:
        """Drop the per-scenario correction history (scenario ids repeat from one evaluation
        to the next: a shift ladder meets the same ids at every level) and the engine's
        calibration."""
        self._history.clear()
        self._engine.clear()

    # --- planning ------------------------------------------------------------------------
    def scenario_from_observation(self, obs: np.ndarray) -> dict:
        """The world as the planner models it, decoded from one observation."""
        c = self._constants
        gm_earth = c.get("gm_earth", GM_EARTH)
        mu = float(obs[7]) * MU_EARTH_MOON
        gm_moon = mu / (1 - mu) * gm_earth
        a = float(obs[8]) * EARTH_MOON_DISTANCE
        dist = float(obs[5]) * EARTH_MOON_DISTANCE
        moon_angle = math.atan2(obs[3], obs[2])
        e, perigee = moon_orbit_from_ephemeris(moon_angle, dist, float(obs[6]) / 10.0, a,
                                               gm_earth + gm_moon)
        exact = getattr(self, "_exact", None)
        if exact is not None:  # oracle: the true ellipse
            e, perigee = exact
        return {
            "park_radius": c.get("r_earth", R_EARTH) + float(obs[4]) * 1000.0,
            "park_angle": math.atan2(obs[1], obs[0]), "moon_angle": moon_angle,
            "moon_a": a, "moon_e": e, "moon_perigee": perigee, "moon_dist": dist,
            "gm_earth": gm_earth, "gm_moon": gm_moon,
            "r_earth": c.get("r_earth", R_EARTH), "r_moon": c.get("r_moon", R_MOON),
            "moon_soi": c.get("moon_soi", 66100.0),
        }

    def first_guess(self, sc: dict) -> tuple[float, float]:
        """Patched-conic ``(coast_time_s, delta_v_kms)``: transfer ellipse to
        ``APOGEE_MARGIN`` x the Moon's distance, Moon leading by the transfer angle."""
        r_p, d = sc["park_radius"], sc["moon_dist"]
        gm = sc["gm_earth"]
        r_a = APOGEE_MARGIN * d
        dv = hohmann_delta_v(r_p, r_a, gm)
        nu, tof = transfer_to_radius(r_p, r_a, d, gm)
        n_park = math.sqrt(gm / r_p**3)
        n_moon = math.sqrt((gm + sc["gm_moon"]) / sc["moon_a"] ** 3)
        # Burn at angle th_b = th_r + n_park*t; arrival angle th_b + nu must equal the Moon's
        # th_m + n_moon*(t + tof).  Solve for t modulo one synodic revolution.
        gap = sc["moon_angle"] + n_moon * tof - nu - sc["park_angle"]
        synodic = 2 * math.pi / (n_park - n_moon)
        t = (gap % (2 * math.pi)) / (n_park - n_moon)
        period = 2 * math.pi / n_park
        if t > period:  # the tiny sliver beyond one parking revolution: burn at its edge
            t = period if t - period < 0.5 * (synodic - period) else 0.0
        return t, dv

    def _rehearse(self, sc: dict, coast: np.ndarray, dv: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        """Imagined launches at burn times ``coast``: ``(signed miss, closest approach)``
        in the planner's model."""
        coast = np.atleast_1d(np.asarray(coast, dtype=np.float64))
        self.rehearsals += len(coast)
        if self.model == "simulator":  # the oracle ablation, loaded only when asked for
            from .moon_simulator_model import simulator_miss

            return simulator_miss(sc, coast, dv, self.model_rtol)
        signed, closest, _ = patched_conic_miss(
            sc["park_radius"], sc["park_angle"], coast, dv, sc["moon_a"], sc["moon_e"],
            sc["moon_perigee"], sc["moon_angle"], sc["gm_earth"], sc["gm_moon"],
            sc["moon_soi"], 8 * DAY)
        return signed, closest

    def _secant(self, obs: np.ndarray, history: list) -> tuple[np.ndarray, float]:
        """``first_guess``: the closed-form burn first; then a secant step on the observed
        signed miss of this scenario's real launches (no imagined launch at all)."""
        sc = self.scenario_from_observation(obs)
        t_guess, dv = self.first_guess(sc)
        r_p = sc["park_radius"]
        period = 2 * math.pi * math.sqrt(r_p**3 / sc["gm_earth"])
        if not history:
            t = t_guess
        else:
            times = [float(action_to_burn(np.array([a, 0.0, 0.0]), r_p)[0][0])
                     for _, _, a, _ in history]
            misses = [o for _, o, _, _ in history]
            if len(history) == 1:
                t = times[0] + PROBE_S
            else:
                (t0, s0), (t1, s1) = (times[-2], misses[-2]), (times[-1], misses[-1])
                step = -s1 * (t1 - t0) / (s1 - s0) if s1 != s0 else PROBE_S
                t = t1 + float(np.clip(step, -MAX_CORRECTION_S, MAX_CORRECTION_S))
        t = float(np.clip(t, 0.0, period))
        action = burn_to_action(t, dv / self.engine_gain(), 0.0, r_p)
        return action.reshape(3).astype(np.float32), 0.0

    def plan(self, obs: np.ndarray, aim: float = 0.0,
             near_action: float | None = None) -> tuple[np.ndarray, float]:
        """Plan a launch whose modelled signed miss is ``aim`` km; returns ``(action,
        predicted signed miss)``. ``near_action``: the coast action of the last real launch
        at this scenario; a correction then stays on its transfer (the bracket nearest in
        burn time), where the miss it measured says something about the model's error."""
        sc = self.scenario_from_observation(obs)
        t_guess, dv = self.first_guess(sc)
        r_p = sc["park_radius"]
        period = 2 * math.pi * math.sqrt(r_p**3 / sc["gm_earth"])
        # Coarse scan: the whole parking revolution, densest around the first guess.
        half = 0.08 * period
        # Burn times wrap around the revolution (a guess near its end has neighbours near 0).
        coast = np.concatenate([
            np.linspace(0.0, period, self.scan_points // 2, endpoint=False),
            np.mod(t_guess + np.linspace(-half, half, self.scan_points // 2), period)])
        coast = np.unique(coast)
        signed, closest = self._rehearse(sc, coast, dv)
        s = signed - aim
        # Pick the bracket (sign change of the signed miss) with the closest approach.
        near = np.maximum(closest[:-1], closest[1:])
        cross = np.nonzero((np.sign(s[:-1]) != np.sign(s[1:]))
                           & (near < 20 * sc["r_moon"] + abs(aim)))[0]
        if len(cross) == 0:
            k = int(np.argmin(np.abs(s)))
            t_best, s_best = float(coast[k]), float(s[k])
        else:
            if near_action is None:
                k = int(cross[np.argmin(near[cross])])
            else:
                last = float(action_to_burn(np.array([near_action, 0.0, 0.0]), r_p)[0][0])
                gap = np.abs(0.5 * (coast[cross] + coast[cross + 1]) - last)
                k = int(cross[np.argmin(np.minimum(gap, period - gap))])
            t_best, s_best = self._regula_falsi(sc, dv, aim, coast[k], s[k], coast[k + 1],
                                                s[k + 1])
        action = burn_to_action(t_best, dv / self.engine_gain(), 0.0, r_p).reshape(3)
        return action.astype(np.float32), s_best + aim

    def _regula_falsi(self, sc, dv, aim, t0, s0, t1, s1, tol_km: float = 5.0):
        """Illinois regula falsi on ``signed miss - aim`` between two bracketing burn times."""
        return illinois(
            lambda t: float(self._rehearse(sc, np.array([t]), dv)[0][0]) - aim,
            t0, s0, t1, s1, tol_km, max(1, self.max_rehearsals - self.scan_points))
