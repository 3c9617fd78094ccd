"""``sysid`` on CityNav: the city planner's own models with their parameters fitted from the
agent's own drives, not read from the view.

**Given (the form).** The planner's abstract models (:mod:`.car_model`: a kinematic bicycle
with a friction circle and a steering rack, the centre of mass half-way along the wheelbase;
:mod:`.drivers`: other cars as IDM-like drivers with a desired speed and an acceleration),
its route, light and traffic reasoning (:class:`~.planner.CityPlanner`), the map, the
weather's class *name* (dry, wet, snow, ice; not its published range), the size of its own
body (length, width: a driver sees their car), and what the action means in form: throttle
and brake proportional to ``action[0]``, the commanded wheel angle to ``action[1]``.

**Fitted (from its own logged transitions).** Each step it logs its pose, speed and wheel
angle from the view and the action it took; after every training drive
:func:`fit_car` fits, by least squares and robust quantiles,

* the **wheelbase** from the yaw rate against ``v sin(atan(tan(steer) / 2)) / (L / 2)`` (a
  regression through the origin for ``1/L`` on the steps the tyres held: steps turning less
  than the fit predicts are understeer and left out, iteratively);
* the **throttle and brake gains** (m/s² at ``action[0] = ±1``) from the speed change per
  unit of action, the **steering gain** (rad at ``action[1] = ±1``) from the wheel angle the
  rack settles at, the **steering rate** from the fastest the wheels turned;
* the **grip** per weather class: on a drive whose tyres gave out (understeer, or braking
  below the fitted gain), the total acceleration where they did; otherwise the largest total
  acceleration it reached without sliding (a lower bound). The class's grip is the lowest
  slide seen, else the largest bound (at least the prior);
* **other drivers' prior** (:class:`~.drivers.Tracks`): how far above the limit the cars it
  saw drove (99th percentile of the fastest car in sight, never below the limit, plus
  0.5 m/s) and how hard they pulled away (99th percentile of the hardest smoothed
  acceleration among its tracks, plus 0.5 m/s²).

It starts from a generic car (:data:`PRIOR`: wheelbase 2.7 m, 2 m/s² throttle, 4 m/s² brake,
0.4 rad steering, a cautious grip of 0.3, drivers 4 m/s over the limit pulling away at
2.5 m/s²) and drives cautiously while unsure: its speed is capped at a share of the limit
that rises from one half as the relative standard errors of its fit fall
(:meth:`CitySysID.speed_share`). On training drives it plans with a little more grip than it
has seen (``explore_grip``), so that the bound can rise; evaluations plan with the fit.

Its model error (:meth:`CitySysID.model_error`) is the one-step prediction error of its
fitted car model on real steps it did not learn from (evaluation drives).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..base import AgentCosts
from .car_model import G, car_step
from .planner import CityPlanner

#: The generic car and drivers it starts from (see the module docstring).
PRIOR = {"wheelbase": 2.7, "accel_gain": 2.0, "brake_gain": 4.0, "steer_gain": 0.4,
         "steer_rate": 0.4, "grip": 0.3, "speeding": 4.0, "driver_accel": 2.5}
#: The weather classes a driver tells apart (names only).
WEATHER_CLASSES = ("ice", "snow", "wet", "dry", "ideal")
#: Columns of a logged transition.
TRANSITION = ("x", "y", "h", "v", "steer", "u_accel", "u_steer", "x1", "y1", "h1", "v1",
              "steer1", "dt", "weather", "drive")
_T = {k: i for i, k in enumerate(TRANSITION)}
#: Columns of a logged traffic sample: the fastest car in sight over the limit (m/s), the
#: hardest acceleration among the live tracks (m/s²), the drive.
TRAFFIC = ("speed_over", "accel", "drive")
#: The brake test of a training drive: full brake for this many steps, at the first braking
#: above this speed (m/s).
TEST_STEPS, TEST_SPEED = 5, 4.0
ERROR_COLUMNS = ("env_steps", "episodes", "split", "n", "pos_err_m", "pos_err_p90_m",
                 "heading_err_mrad", "speed_err_ms", "model_samples", "refits")


@dataclass(frozen=True)
class BelievedCar:
    """The car as the agent believes it (the planner reads these fields of a vehicle)."""

    length: float
    width: float
    wheelbase: float
    rear_to_center: float
    max_steer: float
    max_accel: float
    max_brake: float
    max_speed: float

    def throttle(self, accel: float) -> float:
        """``action[0]`` for an acceleration (m/s²) by the fitted gains, clipped to [-1, 1]."""
        u = accel / (self.max_accel if accel >= 0.0 else self.max_brake)
        return min(1.0, max(-1.0, u))


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _quantile_gain(ratio: np.ndarray, prior: float, q: float = 90.0) -> tuple[float, float]:
    """A gain from per-step ratios (a high quantile: steps the tyres or the top speed cut
    short read low) and its relative standard error."""
    if len(ratio) < 5:
        return prior, math.inf
    gain = float(np.percentile(ratio, q))
    near = ratio[ratio > 0.8 * gain]
    se = float(np.std(near) / math.sqrt(max(len(near), 1))) if len(near) > 1 else gain
    return gain, se / max(gain, 1e-9)


def fit_car(trans: np.ndarray, prior: dict | None = None) -> dict:
    """The car's parameters fitted from transitions (rows of :data:`TRANSITION`).

    :param trans: ``(n, len(TRANSITION))`` logged steps.
    :param prior: starting values (:data:`PRIOR`) for what the data cannot tell.
    :return: the fitted ``wheelbase``, ``accel_gain``, ``brake_gain``, ``steer_gain``,
        ``steer_rate``, ``grip`` (``{weather class: coefficient}``), their relative standard
        errors ``rse_*`` and ``n``.
    """
    prior = {**PRIOR, **(prior or {})}
    t = {k: trans[:, i] for k, i in _T.items()}
    dt = np.maximum(t["dt"], 1e-6)
    out: dict = {"n": int(len(trans))}
    # steering rack: the fastest the wheels turned; the gain from where they settled
    d_steer = np.abs(t["steer1"] - t["steer"]) / dt
    rate = float(d_steer.max()) if len(trans) and d_steer.max() > 1e-3 else prior["steer_rate"]
    out["steer_rate"] = rate
    settled = (np.abs(t["u_steer"]) > 0.05) & (d_steer < 0.9 * rate)
    ratio = t["steer1"][settled] / t["u_steer"][settled]
    if settled.sum() >= 5:
        out["steer_gain"] = float(np.median(ratio))
        out["rse_steer_gain"] = float(np.std(ratio) / math.sqrt(len(ratio))
                                      / max(abs(out["steer_gain"]), 1e-9))
    else:
        out["steer_gain"], out["rse_steer_gain"] = prior["steer_gain"], math.inf
    # throttle and brake gains (steps at standstill or at the top speed say nothing)
    a_obs = (t["v1"] - t["v"]) / dt
    v_top = float(t["v1"].max()) if len(trans) else 0.0
    up = (t["u_accel"] > 0.05) & (t["v1"] < v_top - 0.05) & (t["v"] > 0.0)
    down = (t["u_accel"] < -0.05) & (t["v1"] > 0.05)
    out["accel_gain"], out["rse_accel_gain"] = _quantile_gain(
        a_obs[up] / t["u_accel"][up], prior["accel_gain"])
    out["brake_gain"], out["rse_brake_gain"] = _quantile_gain(
        a_obs[down] / t["u_accel"][down], prior["brake_gain"])
    # wheelbase: yaw = vm dt sin(atan(tan(steer) / 2)) / (L / 2), a line through the origin
    # in 1/L; steps turning markedly less than the line are understeer and left out
    vm = 0.5 * (t["v"] + t["v1"])
    x = 2.0 * vm * dt * np.sin(np.arctan(0.5 * np.tan(t["steer1"])))
    y = _wrap(t["h1"] - t["h"])
    use = np.abs(x) > 2e-3
    slide = np.zeros(len(trans), dtype=bool)
    inv_l, rse_l = 1.0 / prior["wheelbase"], math.inf
    for _ in range(4):
        fit = use & ~slide
        if fit.sum() < 10:
            break
        xx, yy = x[fit], y[fit]
        inv_l = float(xx @ yy / (xx @ xx))
        resid = yy - inv_l * xx
        se = math.sqrt(float(resid @ resid) / max(len(xx) - 1, 1) / float(xx @ xx))
        rse_l = se / max(inv_l, 1e-9)
        # a turn asking for little lateral acceleration, or at a crawl, cannot be read
        asked = vm * np.abs(inv_l * x) / dt
        slide = use & (asked > 0.3) & (vm > 2.0) & (np.abs(y) < 0.9 * np.abs(inv_l * x))
    out["wheelbase"], out["rse_wheelbase"] = 1.0 / max(inv_l, 1e-3), rse_l
    # grip, per drive: where the tyres gave out (understeer, or braking short of the gain);
    # else the largest total acceleration they held (a lower bound)
    lateral = vm * np.abs(y) / dt
    total = np.hypot(lateral, a_obs)
    short = down & (-a_obs < 0.8 * out["brake_gain"] * -t["u_accel"]) \
        & np.isfinite(out["rse_brake_gain"])
    gave = slide | short
    grip: dict[str, float] = {}
    for c, name in enumerate(WEATHER_CLASSES):
        in_c = t["weather"] == c
        if not in_c.any():
            continue
        slides, bounds = [], []
        for d in np.unique(t["drive"][in_c]):
            rows = in_c & (t["drive"] == d)
            if (gave & rows).sum() >= 3:
                slides.append(float(np.median(total[gave & rows])) / G)
            elif rows.any():
                bounds.append(float(total[rows & ~gave].max(initial=0.0)) / G)
        grip[name] = min(slides) if slides else max([prior["grip"], *bounds])
    out["grip"] = grip
    return out


def fit_drivers(traffic: np.ndarray, prior: dict | None = None) -> dict:
    """Other drivers' prior from traffic samples (rows of :data:`TRAFFIC`): ``speeding``
    (m/s over the limit; a driver not yet seen may go at least the limit) and
    ``driver_accel`` (m/s²), 99th percentiles plus a margin of 0.5."""
    prior = {**PRIOR, **(prior or {})}
    over, acc = traffic[:, 0], traffic[:, 1]
    over, acc = over[np.isfinite(over)], acc[np.isfinite(acc)]
    return {"speeding": max(float(np.percentile(over, 99)), 0.0) + 0.5 if len(over) >= 50
            else prior["speeding"],
            "driver_accel": max(float(np.percentile(acc, 99)), 0.5) + 0.5 if len(acc) >= 50
            else prior["driver_accel"]}


@njit(cache=True)
def one_step_errors(trans, car_rows, out):
    """Each transition predicted one step by the car model (``car_rows``: the fields of a
    :class:`~.car_model.CarModel` per row, then the throttle, brake and steering gains):
    position, heading and speed errors into ``out (n, 3)``."""
    for r in range(trans.shape[0]):
        c = car_rows[r]
        car = (c[0], c[1], c[2], c[3], c[4], c[5])
        u = trans[r, 5]
        a = u * (c[6] if u >= 0.0 else c[7])
        x, y, h, v, _ = car_step(trans[r, 0], trans[r, 1], trans[r, 2], trans[r, 3],
                                 trans[r, 4], a, trans[r, 6] * c[8], trans[r, 12], car)
        out[r, 0] = math.hypot(x - trans[r, 7], y - trans[r, 8])
        dh = h - trans[r, 9]
        out[r, 1] = abs((dh + math.pi) % (2.0 * math.pi) - math.pi)
        out[r, 2] = abs(v - trans[r, 10])


class CitySysID(CityPlanner):
    """The ``sysid`` agent on CityNav (see the module docstring).

    :param seed: the run's seed (the agent draws nothing at random: recorded only).
    :param explore_grip: on training drives it plans with this factor more grip than fitted.
    :param caution: the speed share falls by this much per unit of the largest relative
        standard error of its fit (never below ``min_share``).
    :param min_share: the speed cap while it knows nothing, as a share of the limit.
    :param horizon: see :class:`~.planner.CityPlanner` (and its other parameters).
    """

    name = "sysid"
    perception = "honest"
    env_id = "moonshot/CityNav-v1"
    #: env steps of a run without --timesteps: 27-28 drives on the packaged settings
    default_timesteps = 22_000
    error_columns = ERROR_COLUMNS

    def __init__(self, seed: int = 0, explore_grip: float = 1.25, caution: float = 10.0,
                 min_share: float = 0.5, horizon: float = 5.0, step: float = 0.2,
                 commit: float = 0.6, margin: float = 0.5, brake: float = 5.0,
                 lateral_accel: float = 2.5):
        super().__init__("honest", horizon, step, commit, margin, brake, lateral_accel)
        self.name = "sysid"
        self.seed = int(seed)
        self.explore_grip, self.caution = float(explore_grip), float(caution)
        self.min_share = float(min_share)
        self.training = False
        self.fit: dict = {**PRIOR, "grip": {}, "n": 0}
        self.prior_speeding, self.prior_accel = PRIOR["speeding"], PRIOR["driver_accel"]
        self.data = {"trans": np.zeros((0, len(TRANSITION))),
                     "traffic": np.zeros((0, len(TRAFFIC)))}
        self.model_samples = 0
        self.refits = 0
        self.drives = 0
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []
        self._log: list[list[float]] = []
        self._traffic: list[list[float]] = []
        self._last: list[float] | None = None

    # --- the car it believes in ------------------------------------------------------------
    def speed_share(self) -> float:
        """The share of the speed limit it allows itself: ``min_share`` while it knows
        nothing, rising to 1 as the largest relative standard error of the wheelbase and the
        gains falls to 0."""
        rse = max(self.fit.get(f"rse_{k}", math.inf)
                  for k in ("wheelbase", "accel_gain", "brake_gain", "steer_gain"))
        return float(min(1.0, max(self.min_share, 1.0 - self.caution * rse)))

    def grip_for(self, weather) -> float:
        """The grip it plans with in ``weather`` (a :class:`~moonshot.envs.city_perception.
        Weather`): its fit for the class, or, for a class it has not driven in, the generic
        prior - no more than the low end of the class's published range (a driver who has
        never driven on ice still knows ice is slipperier than snow)."""
        if weather.name == "ideal":
            return math.inf  # CityNav-v0's kinematic car: no tyre limit (published)
        mu = self.fit["grip"].get(weather.name)
        mu = min(PRIOR["grip"], float(weather.low)) if mu is None else float(mu)
        return mu * self.explore_grip if self.training else mu

    def believed_car(self, view):
        f, m = self.fit, view.map
        wb = float(f["wheelbase"])
        car = BelievedCar(length=float(view.vehicle.length), width=float(view.vehicle.width),
                          wheelbase=wb, rear_to_center=0.5 * wb,
                          max_steer=float(f["steer_gain"]), max_accel=float(f["accel_gain"]),
                          max_brake=float(f["brake_gain"]),
                          max_speed=max(3.0, self.speed_share() * float(m.speed_limit)))
        return car, self.grip_for(view.weather), float(f["steer_rate"])

    # --- episodes: log what it did and what followed ---------------------------------------
    def begin_episode(self, view, observation, info) -> None:
        self._log, self._traffic, self._last = [], [], None
        self._testing = 0  # brake test: 0 not yet, k > 0 steps left, -1 done
        self._weather = float(WEATHER_CLASSES.index(view.weather.name))
        super().begin_episode(view, observation, info)

    def _state(self) -> list[float]:
        v = self.view
        assert v is not None  # begin_episode hands the view over first
        return [*(float(z) for z in v.ego), float(v.steer)]

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        now = self._state()
        if self._last is not None:
            self._log.append([*self._last, *now, float(self.dt), self._weather,
                              float(self.drives)])
        action, state = super().predict(observation, state, episode_start, deterministic)
        action = self._brakes(action, now[3])
        self._last = [*now, float(action[0]), float(action[1])]
        return action, state

    def _brakes(self, action: np.ndarray, v: float) -> np.ndarray:
        """Two uses of the brakes beyond the plan (braking harder than planned only adds
        room to what is ahead). An emergency stop (the planner's hardest, when no candidate
        is safe or the speed envelope demands it) brakes with what the tyres are believed to
        give in all, not the share the plan keeps for steering. And on a training drive the
        first braking above ``TEST_SPEED`` is a brake test: full brake for ``TEST_STEPS``
        steps, so that the fit sees what the brakes and the road give (a bound on the grip
        rises only as far as the car has been pushed)."""
        p = self.params
        hardest = p.throttle(-self._max_brake)
        if action[0] >= 0.0 or v < 0.5:
            return action
        action = action.copy()
        if self.training and (self._testing > 0 or (self._testing == 0 and v > TEST_SPEED)):
            self._testing = self._testing - 1 if self._testing > 0 else TEST_STEPS - 1
            self._testing = self._testing or -1  # -1: done for this drive
            action[0] = -1.0
        elif action[0] <= hardest + 1e-6:
            action[0] = p.throttle(-min(p.max_brake, G * self.mu))
        return action

    def _honest_predictions(self, x, y, h):
        out = super()._honest_predictions(x, y, h)
        assert self.view is not None  # set by begin_episode
        cars = self.view.cars
        over = float(cars[:, 3].max()) - float(self.map.speed_limit) if len(cars) else np.nan
        shown = self._tracks.shown_accel()
        acc = float(shown.max()) if len(cars) and len(shown) else np.nan
        self._traffic.append([over, acc, float(self.drives)])
        return out

    def end_episode(self, info: dict) -> None:
        if self._log:
            self.seen.append((np.asarray(self._log, dtype=np.float64),
                              np.asarray(self._traffic, dtype=np.float64).reshape(-1, 3)))
        self._log, self._traffic, self._last = [], [], None

    def forget(self) -> None:
        """Nothing is kept per scenario."""

    # --- learning (the trainer's interface) ------------------------------------------------
    def take_seen(self) -> list:
        seen, self.seen = self.seen, []
        return seen

    def learn(self, seen: list) -> None:
        """Add the drives ``seen`` to its data and refit (the time counts as compute)."""
        if not seen:
            return
        t0 = time.perf_counter()
        for trans, traffic in seen:
            self.data["trans"] = np.concatenate([self.data["trans"], trans])
            self.data["traffic"] = np.concatenate([self.data["traffic"], traffic])
            self.drives += 1
        self.refit()
        self.refits += 1
        self.model_samples += len(self.data["trans"])
        self._planning += time.perf_counter() - t0

    def refit(self) -> None:
        self.fit = {**fit_car(self.data["trans"]), **fit_drivers(self.data["traffic"])}
        self.prior_speeding = float(self.fit["speeding"])
        self.prior_accel = float(self.fit["driver_accel"])

    def costs(self) -> AgentCosts:
        """Imagined candidate drives, seconds deciding and fitting, and the env steps the
        imagined drives stand for, so far."""
        return AgentCosts(self._imagined, self._planning, self._model_steps)

    def model_error(self, seen: list) -> dict:
        """One-step prediction error of the fitted car model on real steps ``seen``: mean
        position (m, and its 90th percentile), heading (mrad) and speed (m/s) errors."""
        if not seen:
            return {}
        trans = np.concatenate([s[0] for s in seen])
        f = self.fit
        wb = float(f["wheelbase"])
        rows = np.empty((len(trans), 9))
        mu = np.array([self.fit["grip"].get(w, PRIOR["grip"]) if w != "ideal" else math.inf
                       for w in WEATHER_CLASSES])[trans[:, _T["weather"]].astype(int)]
        rows[:] = [wb, 0.5 * wb, f["steer_gain"], 1e9, f["steer_rate"], 0.0,
                   f["accel_gain"], f["brake_gain"], f["steer_gain"]]
        rows[:, 5] = mu * G
        err = np.empty((len(trans), 3))
        one_step_errors(trans, rows, err)
        return {"n": int(len(trans)), "pos_err_m": float(np.mean(err[:, 0])),
                "pos_err_p90_m": float(np.percentile(err[:, 0], 90)),
                "heading_err_mrad": float(np.mean(err[:, 1]) * 1e3),
                "speed_err_ms": float(np.mean(err[:, 2]))}

    # --- state (checkpoints: JSON and arrays, no pickles) ----------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        fit = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in self.fit.items()}
        meta = {"fit": fit, "drives": self.drives, "rollouts": self._imagined,
                "model_samples": self.model_samples, "refits": self.refits,
                "compute_s": self._planning}
        return meta, {f"data/{k}": v for k, v in self.data.items()}

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.data = {k[5:]: np.asarray(v, dtype=np.float64) for k, v in arrays.items()
                     if k.startswith("data/")}
        self.fit = {k: (math.inf if v is None else v) for k, v in meta["fit"].items()}
        self.prior_speeding = float(self.fit.get("speeding", PRIOR["speeding"]))
        self.prior_accel = float(self.fit.get("driver_accel", PRIOR["driver_accel"]))
        self.drives, self._imagined = int(meta["drives"]), int(meta["rollouts"])
        self.model_samples, self.refits = int(meta["model_samples"]), int(meta["refits"])
        self._planning = float(meta["compute_s"])


__all__ = ["BelievedCar", "CitySysID", "fit_car", "fit_drivers"]
