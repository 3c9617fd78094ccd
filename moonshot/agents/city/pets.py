"""``pets`` on CityNav: learned black-box models of its own car and of other drivers, and
model-predictive control over them (PETS, Chua et al. 2018).

**Given.** The honest perception view the city planner gets - the map and its route
(Dijkstra on the lane graph), its own state (pose, speed, wheel angle), the cars and lights
in sight, the weather's class - and the planner's route-following and checking structure
(:class:`~.planner.CityPlanner`): pure pursuit along the route (with the view's wheelbase and
steering range: the geometry of its controller), candidate motions that hold a throttle for
``commit`` s and then brake to a standstill, the margins to predicted cars, the lights and
the cars behind it; and the documented sign of ``action[0]`` (at or below zero it gains no
speed). No car model: how the car answers throttle, brakes and steering on this road is
learned.

**Learned (from its own drives).**

* The **own car**: an ensemble of small MLPs (:class:`~..ensemble.Ensemble`, Gaussian NLL,
  one bootstrap per member) maps (speed, wheel angle, the action, the weather class one-hot -
  the road's grip as a driver perceives it) to the change over one decision period
  (``step`` s, the action held): forward and sideways displacement in the car's frame, turn,
  speed and wheel-angle change (:data:`CAR_INPUTS`, :data:`CAR_OUTPUTS`).
* **Other drivers**: a second ensemble predicts a tracked car's speed change over the next
  1 s and 2 s from its speed, smoothed acceleration, the limit, the gap to and closing speed
  of whatever is ahead of it in its lane (a car it sees, or the ego), the distance to its stop
  line and the colour of its light as seen (:data:`DRIVER_INPUTS`). The upper band of the
  ensemble (mean + 2 std, the largest member) becomes that car's pull-away hypothesis in the
  planner's lane-following predictions (the other hypothesis holds its speed). Until its
  first fit it assumes the generic driver of ``sysid``'s prior.

**Planning.** Every ``step`` s (two env steps; the action is held in between) the
cross-entropy method (:func:`~..ensemble.cem`, seeded with a grid of throttles from full
brake to full throttle) searches the throttle to commit to: each candidate is rolled out in
torch, batched over candidates and ensemble members (trajectory sampling, each imagined
drive keeps to one member's mean), steered by pure pursuit along the route, holding the
throttle for ``commit`` s and then braking with ``stop_action`` to a standstill. A candidate
is safe when *every* member's drive keeps its margins to the predicted cars, respects the
lights (the farthest member's arc length) and stays within ``off_route`` m of the route (a
slide the model predicts); the safe candidate whose speed at the end of the commitment is
nearest the route's speed envelope wins (overshooting the envelope is penalised); if none is
safe, the one whose first conflict comes latest. Its speed is capped at the fastest it has
driven plus ``explored_margin`` m/s (it does not trust its model beyond its data).

**Data collection.** The untrained agent wanders: pure pursuit along the route, a random
throttle (a smooth random walk about 0.3) below half the limit; so do the first
``random_drives`` training drives. Later training drives plan with the model and add
Gaussian noise (``noise``) to the throttle; one that has stood still for ``unstick`` s
(its model has not yet learned to pull away from where it stands) wanders for half as
long. After every drive
both ensembles are refitted (warm-started) on all transitions.

Its model error (:meth:`CityPETS.model_error`) is the one-period prediction error of the
learned car model on real steps it never learned from (evaluation drives), and the error of
the driver model's 1 s speed change.
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np
import torch

from ...physics.city.roads import ROAD, match_lanes
from ...physics.city.route import project_on_route
from ...physics.city.signals import GREEN, RED, YELLOW
from ..ensemble import Ensemble, cem
from .car_model import pure_pursuit
from .drivers import LOST_AFTER, Tracks
from .planner import CityPlanner
from .sysid import PRIOR, TRANSITION, WEATHER_CLASSES, BelievedCar

CAR_INPUTS = ("v", "steer", "u_accel", "u_steer", *(f"weather_{w}" for w in WEATHER_CLASSES))
CAR_OUTPUTS = ("forward", "left", "turn", "dv", "dsteer")
DRIVER_INPUTS = ("v", "accel", "limit", "gap", "closing", "to_line", "light_none",
                 "light_green", "light_yellow", "light_red")
DRIVER_OUTPUTS = ("dv_1s", "dv_2s")
#: m: a gap or a stop line farther than this reads as "far"
FAR = 50.0
#: the throttles CEM starts from (full brake to full throttle)
THROTTLE_GRID = (-1.0, -0.8, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
ERROR_COLUMNS = ("env_steps", "episodes", "split", "n", "pos_err_m", "pos_err_p90_m",
                 "heading_err_mrad", "speed_err_ms", "driver_n", "driver_err_ms",
                 "model_samples", "refits")
_T = {k: i for i, k in enumerate(TRANSITION)}


def _wrap(a):
    return (a + math.pi) % (2 * math.pi) - math.pi


def car_inputs(trans: np.ndarray) -> np.ndarray:
    """Car-model inputs (:data:`CAR_INPUTS`) of transitions (rows of ``sysid.TRANSITION``)."""
    onehot = np.eye(len(WEATHER_CLASSES))[trans[:, _T["weather"]].astype(int)]
    return np.column_stack([trans[:, _T["v"]], trans[:, _T["steer"]], trans[:, _T["u_accel"]],
                            trans[:, _T["u_steer"]], onehot])


def car_targets(trans: np.ndarray) -> np.ndarray:
    """Car-model outputs (:data:`CAR_OUTPUTS`): the step in the car's own frame."""
    h = trans[:, _T["h"]]
    dx, dy = trans[:, _T["x1"]] - trans[:, _T["x"]], trans[:, _T["y1"]] - trans[:, _T["y"]]
    return np.column_stack([dx * np.cos(h) + dy * np.sin(h), -dx * np.sin(h) + dy * np.cos(h),
                            _wrap(trans[:, _T["h1"]] - h),
                            trans[:, _T["v1"]] - trans[:, _T["v"]],
                            trans[:, _T["steer1"]] - trans[:, _T["steer"]]])


def step_car(pose: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Poses ``(n, 3)`` moved by predicted steps ``delta`` (:data:`CAR_OUTPUTS`)."""
    c, s = np.cos(pose[:, 2]), np.sin(pose[:, 2])
    return np.column_stack([pose[:, 0] + delta[:, 0] * c - delta[:, 1] * s,
                            pose[:, 1] + delta[:, 0] * s + delta[:, 1] * c,
                            _wrap(pose[:, 2] + delta[:, 2])])


def driver_samples(rows: np.ndarray, dt: float) -> np.ndarray:
    """Labelled driver samples from one drive's records (rows: track id, env step,
    :data:`DRIVER_INPUTS`): the inputs and the speed changes 1 s and 2 s later
    (:data:`DRIVER_OUTPUTS`), for records whose track was seen again then."""
    ticks_1s = int(round(1.0 / dt))
    speed = {(int(r[0]), int(r[1])): float(r[2]) for r in rows}
    out = []
    for r in rows:
        key = int(r[0]), int(r[1])
        later = [speed.get((key[0], key[1] + k * ticks_1s)) for k in (1, 2)]
        if all(v is not None for v in later):
            out.append([*r[2:], *(v - r[2] for v in later if v is not None)])
    return np.asarray(out, dtype=np.float64).reshape(-1, len(DRIVER_INPUTS) + 2)


class TrackIds(Tracks):
    """:class:`~.drivers.Tracks` that also give each car a stable id (the base class's
    indices shift as lost tracks are dropped): the driver model's labels follow a car."""

    def __init__(self, prior_v0: float, prior_accel: float):
        super().__init__(prior_v0, prior_accel)
        self._uid = np.zeros(0, dtype=np.int64)
        self._next = 0

    def update(self, cars: np.ndarray, t: float) -> np.ndarray:
        self._uid = self._uid[t - self._t <= LOST_AFTER]  # as the base class drops them
        ids = super().update(cars, t)
        new = len(self._t) - len(self._uid)
        self._uid = np.concatenate([self._uid, np.arange(self._next, self._next + new)])
        self._next += new
        return ids

    def uid(self, ids: np.ndarray) -> np.ndarray:
        return self._uid[ids]


class CityPETS(CityPlanner):
    """The ``pets`` agent on CityNav (see the module docstring).

    :param seed: the run's seed (initial weights, bootstraps, exploration, CEM draws).
    :param members, hidden, layers: the car-model ensemble; ``driver_hidden``: the driver
        model's width (same members and layers).
    :param random_drives: training drives that wander (no model) before it plans.
    :param noise: std of the noise on a training drive's throttle.
    :param unstick: a training drive standing this long (s) wanders for half as long.
    :param population, iterations, elites: the cross-entropy method after its grid.
    :param fit_steps, fit_steps_per_sample, max_fit_steps, lr: a refit's gradient steps
        (``fit_steps`` + ``fit_steps_per_sample`` x transitions, at most ``max_fit_steps``).
    :param stop_action: the throttle of the imagined stop after the commitment.
    :param off_route: an imagined drive farther than this from the route (m) has slid off.
    :param explored_margin: its speed cap above the fastest it has driven (m/s).
    :param horizon, step, commit, margin, lateral_accel: see
        :class:`~.planner.CityPlanner` (``step`` is also the decision period).
    """

    name = "pets"
    perception = "honest"
    env_id = "moonshot/CityNav-v1"
    #: env steps of a run without --timesteps (about 30 drives on the packaged settings)
    default_timesteps = 24_000
    error_columns = ERROR_COLUMNS
    #: other drivers before the driver model's first fit: sysid's generic prior
    prior_speeding, prior_accel = PRIOR["speeding"], PRIOR["driver_accel"]

    def __init__(self, seed: int = 0, members: int = 5, hidden: int = 64, layers: int = 2,
                 driver_hidden: int = 32, random_drives: int = 2, noise: float = 0.15,
                 unstick: float = 10.0, population: int = 8,
                 iterations: int = 1, elites: int = 3, fit_steps: int = 300,
                 fit_steps_per_sample: float = 0.1, max_fit_steps: int = 1500,
                 lr: float = 1e-3, stop_action: float = -0.8, off_route: float = 2.0,
                 explored_margin: float = 2.0, horizon: float = 5.0, step: float = 0.2,
                 commit: float = 0.6, margin: float = 0.5, lateral_accel: float = 2.5):
        super().__init__("honest", horizon, step, commit, margin, 5.0, lateral_accel)
        self.name = "pets"
        self.seed = int(seed)
        self.hp = {"random_drives": int(random_drives), "noise": float(noise),
                   "unstick": float(unstick), "population": int(population),
                   "iterations": int(iterations), "elites": int(elites),
                   "fit_steps": int(fit_steps),
                   "fit_steps_per_sample": float(fit_steps_per_sample),
                   "max_fit_steps": int(max_fit_steps), "lr": float(lr)}
        self.stop_action, self.off_route = float(stop_action), float(off_route)
        self.explored_margin = float(explored_margin)
        gen = torch.Generator().manual_seed(self.seed)
        self.model = Ensemble(len(CAR_INPUTS), len(CAR_OUTPUTS), members, hidden, layers,
                              generator=gen)
        self.drivers = Ensemble(len(DRIVER_INPUTS), len(DRIVER_OUTPUTS), members,
                                driver_hidden, layers, generator=gen)
        self.training = False
        self.data = {"trans": np.zeros((0, len(TRANSITION))),
                     "drivers": np.zeros((0, len(DRIVER_INPUTS) + 2))}
        self.model_samples = 0
        self.refits = 0
        self.driver_refits = 0
        self.drives = 0
        self.v_seen = 0.0  # the fastest it has driven (m/s)
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []
        self._log: list[list[float]] = []
        self._drv: list[np.ndarray] = []
        self._last: list[float] | None = None

    # --- the car it plans with -------------------------------------------------------------
    def rng(self, *purpose: int) -> np.random.Generator:
        """A generator for one purpose (a drive's exploration, refit k): seeded by the agent's
        seed and the purpose, so no generator state needs saving."""
        return np.random.default_rng([self.seed, *purpose])

    def _gains(self, weather: int) -> tuple[float, float]:
        """Throttle and brake (m/s² at ``action[0] = +1, -1``, driving straight at 8 m/s) as
        its car model predicts them in a weather class, the weakest member's; before the
        first fit the generic prior's."""
        if self.refits == 0:
            return PRIOR["accel_gain"], PRIOR["brake_gain"]
        row = np.zeros((2, len(TRANSITION)))
        row[:, _T["v"]] = min(8.0, max(self.v_seen, 1.0))
        row[:, _T["u_accel"]] = (1.0, -1.0)
        row[:, _T["weather"]] = weather
        with torch.no_grad():
            mean, _ = self.model(torch.as_tensor(car_inputs(row), dtype=torch.float32))
        dv = mean[..., 3].numpy() / self.step  # (members, 2)
        return max(float(dv[:, 0].min()), 0.3), max(float(-dv[:, 1].max()), 0.5)

    def believed_car(self, view):
        """The view's body and steering geometry (its controller's), its learned throttle and
        brakes, the weather's published low end as the grip of its speed envelope, and its
        speed cap (:attr:`explored_margin`)."""
        veh, m = view.vehicle, view.map
        accel, brake = self._gains(WEATHER_CLASSES.index(view.weather.name))
        explored = self.v_seen + self.explored_margin if self.refits else 0.5 * m.speed_limit
        car = BelievedCar(length=float(veh.length), width=float(veh.width),
                          wheelbase=float(veh.wheelbase), rear_to_center=float(veh.rear_to_center),
                          max_steer=float(veh.max_steer), max_accel=accel, max_brake=brake,
                          max_speed=max(3.0, min(float(m.speed_limit), explored)))
        return car, float(view.weather.low), float(view.steer_rate)

    # --- episodes --------------------------------------------------------------------------
    def begin_episode(self, view, observation, info) -> None:
        self._log, self._drv, self._last = [], [], None
        self._weather = WEATHER_CLASSES.index(view.weather.name)
        super().begin_episode(view, observation, info)
        self._tracks = TrackIds(prior_v0=float(self.map.speed_limit) + self.prior_speeding,
                                prior_accel=self.prior_accel)
        self._hold = max(1, int(round(self.step / self.dt)))
        self._k = 0
        self._action = np.zeros(2, dtype=np.float32)
        self._u = 0.0  # the wandering throttle
        self._still_since, self._wander_until = float(view.time), -1.0
        self._car_means = self.model.numpy_means()  # frozen for the drive
        # a drive's draws: from the scenario (and the drive's number when training), so an
        # evaluation repeats and a resumed run draws as the straight one did
        key = zlib.crc32(np.array([*view.start, *view.goal, *view.ego]).tobytes())
        purpose = (1, self.drives) if self.training else (4,)
        self._draws = self.rng(*purpose, key)
        self._gen = torch.Generator().manual_seed(int(self._draws.integers(2 ** 62)))

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        t0 = time.perf_counter()
        view = self.view
        assert view is not None  # begin_episode hands the view over first
        if self._k % self._hold == 0:  # a decision: the action is then held for ``step`` s
            now = [*(float(z) for z in view.ego), float(view.steer)]
            if self._last is not None:
                self._log.append([*self._last, *now, self._hold * float(self.dt),
                                  float(self._weather), float(self.drives)])
            action = self._decide()
            if self.training and self.refits and now[3] > 0.3:
                action[0] += self.hp["noise"] * self._draws.standard_normal()
            action = np.clip(action, -1.0, 1.0).astype(np.float32)
            self._last = [*now, float(action[0]), float(action[1])]
            self._action = action
        self._k += 1
        dt = time.perf_counter() - t0
        self._planning += dt
        self.decision_times.append(dt)
        return self._action.copy(), state

    def end_episode(self, info: dict) -> None:
        if self._log or self._drv:
            rows = np.concatenate(self._drv) if self._drv else np.zeros((0, 12))
            self.seen.append((np.asarray(self._log, dtype=np.float64).reshape(
                -1, len(TRANSITION)), driver_samples(rows, float(self.dt))))
        self._log, self._drv, self._last = [], [], None

    def forget(self) -> None:
        """Nothing is kept per scenario."""

    # --- deciding --------------------------------------------------------------------------
    def _decide(self) -> np.ndarray:
        view, p = self.view, self.params
        assert view is not None  # set by begin_episode
        x, y, h, v = (float(z) for z in view.ego)
        works = self._notice_works(view.works)  # roadworks seen: the route bends around them
        r = self.route
        self._i, s, _ = project_on_route(r.points, r.cum, x, y, self._i, 10, 40)
        self._s = s
        steer, _, _ = pure_pursuit(x, y, h, v, self._path, self._i, p.wheelbase, p.max_steer)
        scene = self._scene(x, y, h, works)  # tracks the cars (the driver model's data) always
        if self._wandering(v):
            return np.array([self._wander(v), steer / p.max_steer])
        v_des = float(self.v_ref[min(self._i, len(self.v_ref) - 1)])
        T = len(self.times)
        kc = max(1, int(round(self.commit / self.step))) - 1
        steer0 = float(view.steer)

        def score(cand: torch.Tensor) -> torch.Tensor:
            u = cand[:, 0].numpy().astype(np.float64)
            poses, arc, speed, lateral = self._rollout(x, y, h, v, steer0, u)
            members = poses.shape[0]
            out = np.empty(len(u))
            for c in range(len(u)):
                uc = float(u[c])
                if not self._light_ok(arc[:, c].max(0), s, v):
                    out[c] = -1e6 - uc
                    continue
                off = (lateral[:, c] > self.off_route).any(0)
                k = int(np.argmax(off)) if off.any() else T
                for m in range(members):
                    a = (speed[m, c, kc] - v) / self.commit
                    k = min(k, self._conflict(scene, poses[m, c], v, a))
                if k < T:  # the latest conflict; ties braking harder
                    out[c] = -1e3 * (T - k) - uc
                    continue
                ref = self.v_ref[np.minimum(self._route_index(arc[:, c]), len(self.v_ref) - 1)]
                over = np.maximum(speed[:, c] - ref, 0.0).sum(1).mean() * self.step
                # on a tie (a model that has not seen the car move yet) it goes: it learns more
                out[c] = -abs(float(speed[:, c, kc].mean()) - v_des) - over + 1e-3 * uc
            return torch.as_tensor(out)

        hp = self.hp
        with torch.no_grad():
            best, _ = cem(score, 1, self._gen, int(hp["population"]), int(hp["iterations"]),
                          int(hp["elites"]), first=0, seeds=torch.tensor(THROTTLE_GRID)[:, None])
        return np.array([float(best[0]), steer / p.max_steer])

    def _wandering(self, v: float) -> bool:
        """Wander this decision: untrained, one of the first ``random_drives`` training
        drives, or a training drive that stood still ``unstick`` s (a model that has not
        learned to pull away from where it stands learns it so)."""
        if self.refits == 0 or (self.training and self.drives < self.hp["random_drives"]):
            return True
        if not self.training:
            return False
        assert self.view is not None  # set by begin_episode
        now = float(self.view.time)
        if v > 0.3 or now < self._wander_until:
            self._still_since = now if v > 0.3 else self._still_since
            return now < self._wander_until
        if now - self._still_since >= self.hp["unstick"]:
            self._wander_until, self._still_since = now + 0.5 * self.hp["unstick"], now
            return True
        return False

    def _route_index(self, arc: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.route.cum, arc)

    def _wander(self, v: float) -> float:
        """The untrained agent's throttle: a smooth random walk about 0.3 (it gets
        somewhere), braking above half the limit."""
        self._u = float(np.clip(0.8 * self._u + 0.06 + 0.4 * self._draws.standard_normal(),
                                -1, 1))
        return -1.0 if v > 0.5 * float(self.map.speed_limit) else self._u

    def _rollout(self, x: float, y: float, h: float, v: float, steer: float,
                 u: np.ndarray) -> tuple[np.ndarray, ...]:
        """Candidates ``u`` (n,) imagined by every member: poses ``(M, n, T, 3)``, route arc
        lengths, speeds and distances from the route ``(M, n, T)``, at :attr:`times`.
        Batched over members and candidates, in numpy (the ensemble's frozen means,
        :meth:`~..ensemble.Ensemble.numpy_means`)."""
        M, n, T = self.model.members, len(u), len(self.times)
        self._imagined += M * n
        self._model_steps += M * n * T * self._hold
        p = self.params
        pts, cum = self.route.points, self.route.cum
        R = len(cum)
        wb, max_steer = float(p.wheelbase), float(p.max_steer)
        X, Y, H, V, ST = (np.full((M, n), float(z)) for z in (x, y, h, v, steer))
        i = np.full((M, n), self._i, dtype=np.int64)
        sc = cum[i]
        window = np.arange(-2, 12)
        hold = np.broadcast_to(np.asarray(u, dtype=np.float64), (M, n))
        stop = np.full((M, n), self.stop_action)
        inp = np.zeros((M, n, len(CAR_INPUTS)))
        inp[..., 4 + self._weather] = 1.0
        kc = max(1, int(round(self.commit / self.step)))
        out = np.empty((6, M, n, T))
        for k in range(T):
            # pure pursuit towards the route point max(4, 0.6 v + 3) m ahead
            target = np.minimum(sc + np.maximum(0.6 * V + 3.0, 4.0), cum[-1])
            j = np.minimum(np.maximum(np.searchsorted(cum, target), 1), R - 1)
            f = (target - cum[j - 1]) / np.maximum(cum[j] - cum[j - 1], 1e-9)
            tx = pts[j - 1, 0] + f * (pts[j, 0] - pts[j - 1, 0])
            ty = pts[j - 1, 1] + f * (pts[j, 1] - pts[j - 1, 1])
            alpha = _wrap(np.arctan2(ty - Y, tx - X) - H)
            dist = np.maximum(np.hypot(tx - X, ty - Y), 1.0)
            cmd = np.minimum(np.maximum(np.arctan2(2.0 * wb * np.sin(alpha), dist),
                                        -max_steer), max_steer)
            inp[..., 0], inp[..., 1] = V, ST
            throttle = hold if k < kc else stop
            inp[..., 2], inp[..., 3] = throttle, cmd / max_steer
            fwd, left, turn, dv, dst = np.moveaxis(self._car_means(inp), -1, 0)
            # the action's documented sign: no throttle, no speed gained
            v_new = np.maximum(np.where(throttle > 0.0, V + dv, V + np.minimum(dv, 0.0)), 0.0)
            moving = (V + v_new) > 0.05  # a standing car stays put
            fwd, left, turn = np.maximum(fwd, 0.0) * moving, left * moving, turn * moving
            c, s_ = np.cos(H), np.sin(H)
            X, Y = X + fwd * c - left * s_, Y + fwd * s_ + left * c
            H, V, ST = _wrap(H + turn), v_new, ST + dst
            # where it is on the route: the nearest route point in a window ahead
            win = np.minimum(np.maximum(i[..., None] + window, 0), R - 1)
            d2 = (pts[win, 0] - X[..., None]) ** 2 + (pts[win, 1] - Y[..., None]) ** 2
            i = np.minimum(np.maximum(i + window[np.argmin(d2, axis=-1)], 0), R - 1)
            sc = cum[i]
            out[:, :, :, k] = X, Y, H, sc, V, np.sqrt(d2.min(-1))
        return np.ascontiguousarray(np.moveaxis(out[:3], 0, -1)), out[3], out[4], out[5]

    # --- other drivers ---------------------------------------------------------------------
    def _driver_features(self, seen: np.ndarray, ids: np.ndarray, lane: np.ndarray,
                         s: np.ndarray) -> np.ndarray:
        """:data:`DRIVER_INPUTS` of the cars seen (map-matched to ``lane`` at ``s``)."""
        view, g = self.view, self.map.lanes
        assert view is not None  # set by begin_episode
        k = len(seen)
        ego = np.asarray(view.ego, dtype=np.float64)
        e_lane, e_s = np.empty(1, dtype=np.int64), np.empty(1)
        match_lanes(self._lanes, ego[:1], ego[1:2], ego[2:3], 3.0, 0.8, e_lane, e_s)
        all_lane, all_s = np.concatenate([lane, e_lane]), np.concatenate([s, e_s])
        all_len = np.concatenate([seen[:, 4], [float(self.params.length)]])
        all_v = np.concatenate([seen[:, 3], ego[3:4]])
        gap = all_s[None] - s[:, None] - 0.5 * (seen[:, 4, None] + all_len[None])
        ahead = (lane[:, None] == all_lane[None]) & (lane[:, None] >= 0) \
            & (all_s[None] > s[:, None])
        gap = np.where(ahead, gap, np.inf)
        lead = np.argmin(gap, axis=1)
        g_min = gap[np.arange(k), lead]
        closing = np.where(np.isfinite(g_min), all_v[lead] - seen[:, 3], 0.0)
        to_line = np.full(k, FAR)
        light = np.zeros((k, 4))
        light[:, 0] = 1.0
        for j in range(k):
            ln = int(lane[j])
            if ln < 0 or g.kind[ln] != ROAD or g.phase[ln] < 0:
                continue
            to_line[j] = g.length[ln] - s[j] - 0.5 * seen[j, 4]
            state = view.lights.get((int(g.node[ln]), int(g.phase[ln])))
            if state in (GREEN, YELLOW, RED):
                light[j] = 0.0
                light[j, 1 + (GREEN, YELLOW, RED).index(state)] = 1.0
        return np.column_stack([seen[:, 3], self._tracks.accel(ids),
                                np.full(k, float(self.map.speed_limit)),
                                np.minimum(g_min, FAR), closing, np.clip(to_line, -5.0, FAR),
                                light])

    def _driver_estimates(self, seen, ids, lane, s):
        """Each car's desired speed and pull-away acceleration from the driver model's upper
        band (the prior's from its track before the first fit); records the cars' features
        (the driver model's data)."""
        view = self.view
        assert view is not None  # set by begin_episode
        feats = self._driver_features(seen, ids, lane, s)
        tick = int(round(float(view.time) / float(self.dt)))
        assert isinstance(self._tracks, TrackIds)  # begin_episode sets it
        self._drv.append(np.column_stack([self._tracks.uid(ids), np.full(len(seen), tick),
                                          feats]))
        if self.driver_refits == 0:
            return super()._driver_estimates(seen, ids, lane, s)
        with torch.no_grad():
            mean, std = self.drivers(torch.as_tensor(feats, dtype=torch.float32))
        # (bounded: a car gains no more than 10 m/s in 2 s, whatever a member extrapolates)
        hi = np.clip((mean + 2.0 * std).amax(0).numpy().astype(np.float64), 0.0, 10.0)
        gain = np.maximum(hi[:, 0], hi[:, 1])
        return seen[:, 3] + gain + 1.0, np.maximum(hi[:, 0], 0.5 * hi[:, 1]) + 0.2

    # --- learning (the trainer's interface) ------------------------------------------------
    def take_seen(self) -> list:
        seen, self.seen = self.seen, []
        return seen

    def learn(self, seen: list) -> None:
        """Add the drives ``seen`` to its data and refit both models (the time counts as
        compute; the transitions a refit passes through its model count as model steps)."""
        if not seen:
            return
        t0 = time.perf_counter()
        for trans, drivers in seen:
            self.data["trans"] = np.concatenate([self.data["trans"], trans])
            self.data["drivers"] = np.concatenate([self.data["drivers"], drivers])
            self.drives += 1
        self.refit()
        self._planning += time.perf_counter() - t0

    def _fit_steps(self, n: int) -> int:
        hp = self.hp
        return int(min(hp["max_fit_steps"], hp["fit_steps"] + hp["fit_steps_per_sample"] * n))

    def refit(self) -> None:
        trans, drivers = self.data["trans"], self.data["drivers"]
        hp = self.hp
        if len(trans) >= 20:
            torch.manual_seed(self.seed + self.refits)  # (nothing in a refit draws from it)
            self.model.fit(car_inputs(trans), car_targets(trans), self._fit_steps(len(trans)),
                           self.rng(2, self.refits), lr=hp["lr"])
            self.refits += 1
            self.model_samples += len(trans)
            self._model_steps += int(round(float(trans[:, _T["dt"]].sum()) / self.dt))
            self.v_seen = float(trans[:, _T["v1"]].max())
        if len(drivers) >= 50:
            n_in = len(DRIVER_INPUTS)
            self.drivers.fit(drivers[:, :n_in], drivers[:, n_in:], self._fit_steps(len(drivers)),
                             self.rng(3, self.driver_refits), lr=hp["lr"])
            self.driver_refits += 1

    def model_error(self, seen: list) -> dict:
        """The car model's one-period prediction error on real steps ``seen`` (mean over
        members): mean position (m, and its 90th percentile), heading (mrad) and speed (m/s)
        errors; the driver model's mean absolute error of a car's speed change over 1 s."""
        if not seen:
            return {}
        out: dict = {}
        trans = np.concatenate([s[0] for s in seen])
        if len(trans):
            with torch.no_grad():
                mean, _ = self.model(torch.as_tensor(car_inputs(trans), dtype=torch.float32))
            delta = mean.mean(0).numpy().astype(np.float64)
            cols = [_T[c] for c in ("x", "y", "h")]
            pose = step_car(trans[:, cols], delta)
            pos = np.hypot(pose[:, 0] - trans[:, _T["x1"]], pose[:, 1] - trans[:, _T["y1"]])
            out.update(n=int(len(trans)), pos_err_m=float(np.mean(pos)),
                       pos_err_p90_m=float(np.percentile(pos, 90)),
                       heading_err_mrad=float(np.mean(np.abs(_wrap(
                           pose[:, 2] - trans[:, _T["h1"]])))) * 1e3,
                       speed_err_ms=float(np.mean(np.abs(
                           trans[:, _T["v"]] + delta[:, 3] - trans[:, _T["v1"]]))))
        drivers = np.concatenate([s[1] for s in seen])
        if len(drivers):
            n_in = len(DRIVER_INPUTS)
            with torch.no_grad():
                mean, _ = self.drivers(torch.as_tensor(drivers[:, :n_in], dtype=torch.float32))
            err = np.abs(mean.mean(0).numpy()[:, 0] - drivers[:, n_in])
            out.update(driver_n=int(len(drivers)), driver_err_ms=float(np.mean(err)))
        return out

    # --- state (checkpoints: JSON and arrays, no pickles) ----------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"drives": self.drives, "rollouts": self._imagined,
                "model_steps": self._model_steps, "model_samples": self.model_samples,
                "refits": self.refits, "driver_refits": self.driver_refits,
                "compute_s": self._planning, "v_seen": self.v_seen}
        arrays = {f"data/{k}": v for k, v in self.data.items()}
        arrays.update({f"car/{k}": v for k, v in self.model.arrays().items()})
        arrays.update({f"drivers/{k}": v for k, v in self.drivers.arrays().items()})
        return meta, arrays

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

        self.data = {k: np.asarray(v, dtype=np.float64) for k, v in part("data/").items()}
        self.model.load_arrays(part("car/"))
        self.drivers.load_arrays(part("drivers/"))
        self.drives, self._imagined = int(meta["drives"]), int(meta["rollouts"])
        self._model_steps = int(meta["model_steps"])
        self.model_samples, self.refits = int(meta["model_samples"]), int(meta["refits"])
        self.driver_refits = int(meta["driver_refits"])
        self._planning, self.v_seen = float(meta["compute_s"]), float(meta["v_seen"])


__all__ = ["CityPETS", "car_inputs", "car_targets", "driver_samples"]
