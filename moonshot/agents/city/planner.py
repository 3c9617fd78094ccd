"""CityPlanner: a model-based driver for CityNav that reads the map and watches the road.

At the start of an episode it reads its perception view (``env.unwrapped.perceive()``: the
map with its lane graph, its own car, the weather, the start and the goal - see
:mod:`moonshot.envs.city_perception`) and plans a route with Dijkstra over the lane graph.
Every step it then

1. tracks the cars it sees and predicts each over the horizon with its own model of drivers
   (:mod:`.drivers`): map-matched to its lane and followed along every turn that lane allows,
   holding its speed and, separately, pulling away towards the desired speed it estimates
   for that car; halting at its stop line where the planner expects it to stop
   (:mod:`.lights`);
2. imagines candidate motions of the ego along the route with its own car model
   (:mod:`.car_model`: a textbook bicycle with a friction circle at the grip the weather
   suggests, steered by pure pursuit): each holds one acceleration for ``commit`` seconds and
   then brakes to a standstill - so every accepted candidate keeps a safe stop available;
3. rejects candidates that come within a safety margin of a predicted car (covering circles),
   that a car following it could not match (:func:`.drivers.rear_conflict`), that cross a
   stop line whose light it does not see green (a yellow only when too close to stop), or
   that exceed the speed the route's curvature, the speed limit and the believed grip allow;
4. applies the fastest surviving acceleration; if none survives, the one whose first
   conflict comes latest (hard braking if no candidate respects the lights).

Roadworks are not on its map: it notices their barriers when its sensors see them, bends its
route around those in its way and treats them as standing obstacles (:mod:`.roadworks`).

``perception="oracle"`` is the labelled ablation: its models are the simulator's
(:mod:`.oracle_models`).

Why one module of ~400 lines: the planner's decision loop (route, speed envelope, candidate
motions, checks) reads as one algorithm; its models live beside it (car_model, drivers,
lights).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import njit

from ...envs.perception import check_perception
from ...physics.city.geometry import rect_corners, rects_clearance
from ...physics.city.roads import ROAD, match_lanes
from ...physics.city.route import plan_route, project_on_route
from ...physics.city.signals import GREEN, YELLOW
from ..base import Agent, AgentCosts
from .car_model import (
    G,
    Imagination,
    believed_grip,
    car_model,
    covering_circles,
    imagine_own,
    pure_pursuit,
)
from .drivers import PRIOR_ACCEL, PRIOR_SPEEDING, Tracks, predict_along_lanes, rear_conflict
from .lights import STOP_SHORT, LightMemory, ego_goes_on_yellow, expects_stop
from .roadworks import bend_route, works_key

GRIP_SHARE = 0.8  # of the tyres' grip that braking or throttle may take (steering keeps ~60%)
SENSOR_REACH = 90.0  # m: cars farther than this are not considered
STANDING = 0.5  # m/s: a car slower than this stands
#: clearance kept to a car expected to stand still (m), body to body: passing a standing car is
#: a matter of geometry (rectangles), not of prediction (covering circles)
STANDING_MARGIN = 0.3

if TYPE_CHECKING:
    from ...envs.city_perception import CityView


class Scene(NamedTuple):
    """The other cars as the planner predicts them at one decision: ``cars`` - one
    ``(T, N, 3)`` array of poses per hypothesis (holding speed, pulling away), ``active`` -
    which of the N move (the others are passed by their bodies, ``standing``: corners
    ``(T, M, 4, 2)`` or None), their covering circles (``car_r``, ``car_off``), and the cars
    following the ego in its lane (``followers``: gaps and speeds, ``(F, 2)``)."""

    cars: Any
    active: np.ndarray
    car_r: float
    car_off: np.ndarray
    followers: np.ndarray
    standing: np.ndarray | None


@njit(cache=True)
def first_conflict(ego_xyh: np.ndarray, ego_off: np.ndarray, ego_r: float, cars: np.ndarray,
                   active: np.ndarray, car_off: np.ndarray, car_r: float, margin: float) -> int:
    """Index of the first time step at which the ego (T, 3; covering circles of radius
    ``ego_r`` at ``ego_off`` along it) comes within ``margin`` of a car (T, N, 3; circles
    ``car_r``, ``car_off``) in ``active``; T if never."""
    lim = (ego_r + car_r + margin) ** 2
    reach = (np.abs(ego_off).max() + np.abs(car_off).max() + ego_r + car_r + margin) ** 2
    for k in range(ego_xyh.shape[0]):
        ex, ey, eh = ego_xyh[k, 0], ego_xyh[k, 1], ego_xyh[k, 2]
        ce, se = math.cos(eh), math.sin(eh)
        for j in range(cars.shape[1]):
            if not active[j]:
                continue
            cx, cy, ch = cars[k, j, 0], cars[k, j, 1], cars[k, j, 2]
            if (cx - ex) ** 2 + (cy - ey) ** 2 > reach:
                continue
            cc, sc = math.cos(ch), math.sin(ch)
            for a in range(ego_off.shape[0]):
                ax = ex + ego_off[a] * ce
                ay = ey + ego_off[a] * se
                for b in range(car_off.shape[0]):
                    bx = cx + car_off[b] * cc
                    by = cy + car_off[b] * sc
                    if (ax - bx) ** 2 + (ay - by) ** 2 < lim:
                        return k
    return ego_xyh.shape[0]


@njit(cache=True)
def first_contact(ego: np.ndarray, cars: np.ndarray, margin: float) -> int:
    """Index of the first time step at which the ego's body (corners ``(T, 4, 2)``) comes
    within ``margin`` of a car's body (corners ``(T, M, 4, 2)``); T if never."""
    for k in range(ego.shape[0]):
        for j in range(cars.shape[1]):
            dx = ego[k, 0, 0] - cars[k, j, 0, 0]
            dy = ego[k, 0, 1] - cars[k, j, 0, 1]
            if dx * dx + dy * dy > 400.0:
                continue  # more than 20 m apart (corner to corner): cannot touch
            if rects_clearance(ego[k], cars[k, j]) < margin:
                return k
    return ego.shape[0]


class CityPlanner(Agent):
    """Route planning on the lane graph + sampling-based speed planning with safe stops.

    It reads only its perception view (``env.unwrapped.perceive(perception)``, see
    :mod:`moonshot.envs.city_perception`): the map, its own car, the weather, the cars and
    lights it sees; its models are its own (module docstring). ``perception="oracle"`` (an
    ablation) plans with the simulator's models on the true state instead
    (:mod:`.oracle_models`).

    :param perception: ``"honest"`` or ``"oracle"``.
    :param horizon: prediction horizon (s).
    :param step: time resolution of the prediction (s).
    :param commit: how long a candidate holds its acceleration before braking (s).
    :param margin: extra clearance between covering circles (m).
    :param brake: deceleration of the fallback stop (m/s²), below the car's maximum.
    :param lateral_accel: comfortable lateral acceleration in curves (m/s²).
    """

    learns_from_outcomes = True  # corrects its next trial from a miss
    name = "city_planner"
    #: other drivers' prior (:class:`~.drivers.Tracks`): m/s over the limit, m/s² pulling away
    prior_speeding, prior_accel = PRIOR_SPEEDING, PRIOR_ACCEL

    def __init__(self, perception: str = "honest", horizon: float = 5.0, step: float = 0.2,
                 commit: float = 0.6, margin: float = 0.5, brake: float = 5.0,
                 lateral_accel: float = 2.5):
        self.perception = check_perception(perception)
        if perception != "honest":
            self.name = f"city_planner[{perception}]"
        self.horizon, self.step, self.commit = horizon, step, commit
        self.margin, self.brake, self.lateral_accel = margin, brake, lateral_accel
        self.times = np.arange(1, int(round(horizon / step)) + 1) * step
        self.view: CityView | None = None  # set by begin_episode
        self._planning = 0.0
        self._imagined = 0
        self._model_steps = 0  # the env steps the imagined drives stand for
        self.decision_times: list[float] = []

    # ------------------------------------------------------------------ episode
    def begin_episode(self, view: Any, observation: np.ndarray, info: dict) -> None:
        """``view``: the env's :class:`~moonshot.envs.city_perception.CityView`."""
        if view is None:
            raise TypeError("CityPlanner needs its perception view: run it with "
                            "moonshot.agents.run_episode, or pass env.unwrapped.perceive()")
        self.view = v = view
        m = v.map
        self.map = m
        p, mu, steer_rate = self.believed_car(v)
        self.params, self.mu = p, mu
        self.dt = v.dt
        oracle = self.perception == "oracle"
        self._lanes = tuple(m.lanes.arrays)  # kernel bundle, built once
        self._car = tuple(car_model(p, mu, steer_rate))
        x, y = float(v.ego[0]), float(v.ego[1])
        self.route = plan_route(m.lanes, *v.start, *v.goal)  # Dijkstra on the map
        self._path = tuple(self.route.path)
        pts = self.route.points
        self._i, self._s, _ = project_on_route(pts, self.route.cum, x, y, 0, 0, 10)
        self._works: dict = {}  # roadworks seen (not on the map): key -> barrier
        # no faster than a stop within the prediction horizon, the limit, the car. On a
        # slippery road a stop takes longer than the horizon: the horizon grows (up to 3x) to
        # a stop within what it sees (60% of its sensor range), which caps the speed instead
        grip = GRIP_SHARE * G * mu
        # on a slippery road brake and throttle keep a third of the grip for steering
        self._max_brake = min(p.max_brake, grip)
        self._max_accel = min(p.max_accel, grip)
        self._fallback = min(self.brake, 0.85 * self._max_brake)
        horizon = self.horizon
        v_view = math.sqrt(2.0 * self._fallback * 0.6 * float(v.sensor_range))
        if v_view > 0.8 * self._fallback * horizon:
            horizon = min(3.0 * self.horizon, v_view / (0.8 * self._fallback))
        self.times = np.arange(1, int(round(horizon / self.step)) + 1) * self.step
        self._steps_per_drive = max(1, int(round(self.times[-1] / self.dt)))
        self._vmax = min(p.max_speed, m.speed_limit, 0.8 * self._fallback * horizon)
        self.v_ref = self._speed_envelope()
        if oracle:
            from .oracle_models import imagine_simulator

            radius, offsets = p.circles  # the simulator's covering of the vehicle
            self._imagine = imagine_simulator
        else:
            radius, offsets = covering_circles(float(p.length), float(p.width))
            self._imagine = imagine_own
            self._tracks = Tracks(prior_v0=float(m.speed_limit) + self.prior_speeding,
                                  prior_accel=self.prior_accel)
            self._lights = LightMemory()
        self._ego_r, self._ego_off = float(radius), np.asarray(offsets, dtype=np.float64)
        self._how = tuple(Imagination(float(self.commit), float(self._fallback),
                                      float(self.dt), int(round(self.step / self.dt))))

    def _speed_envelope(self) -> np.ndarray:
        """The speed to drive at each point of the route: the curvature's limit (in curves no
        more than the tyres give), the car's, the limit's, then a backwards braking envelope
        (it can brake comfortably to every later limit)."""
        pts, cum, mu = self.route.points, self.route.cum, self.mu
        lateral = min(self.lateral_accel, 0.5 * G * mu)
        h = np.unwrap(np.arctan2(np.gradient(pts[:, 1]), np.gradient(pts[:, 0])))
        kappa = np.abs(np.gradient(h)) / np.maximum(np.gradient(cum), 1e-6)
        kappa = np.convolve(kappa, np.ones(5) / 5, mode="same")
        vr = np.minimum(np.sqrt(lateral / np.maximum(kappa, 1e-6)), self._vmax)
        vr = np.maximum(vr, min(3.0, self._vmax))
        ds = np.diff(cum, prepend=0.0)
        decel = min(2.0, 0.5 * G * mu)
        for i in range(len(vr) - 2, -1, -1):
            vr[i] = min(vr[i], math.sqrt(vr[i + 1] ** 2 + 2 * decel * ds[i + 1]))
        return vr

    def _notice_works(self, seen: np.ndarray) -> np.ndarray:
        """Remember the barriers of roadworks seen (:mod:`.roadworks`), bend the route around
        each new one in its way; returns every barrier known, ``(W, 5)``."""
        for box in seen:
            key = works_key(box)
            if key in self._works:
                continue
            self._works[key] = np.array(box, dtype=np.float64)
            bent = bend_route(self.route, self.map, self._works[key],
                              0.5 * float(self.params.width), self._i)
            if bent is not None:  # in the way: drive the bent route from now on
                self.route = bent
                self._path = tuple(bent.path)
                self.v_ref = self._speed_envelope()
        return np.array(list(self._works.values())).reshape(-1, 5)

    def believed_car(self, view: Any) -> tuple[Any, float, float]:
        """The car it plans with: ``(vehicle parameters, grip coefficient, steering rate)``
        - the view's vehicle and steering rack, and the grip the weather suggests (the true
        coefficient under ``perception="oracle"``). :class:`~.sysid.CitySysID` fits its own."""
        mu = float(view.road_friction) if self.perception == "oracle" \
            else believed_grip(view.weather)
        return view.vehicle, mu, float(view.steer_rate)

    # ------------------------------------------------------------------ acting
    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        t0 = time.perf_counter()
        action = self._decide()
        dt = time.perf_counter() - t0
        self._planning += dt
        self.decision_times.append(dt)
        return action, state

    def costs(self) -> AgentCosts:
        """Imagined drives (candidate motions rolled out in the planner's model), seconds
        spent deciding, and the env steps the imagined drives stand for (each its horizon
        over the env's control period), so far."""
        return AgentCosts(self._imagined, self._planning, self._model_steps)

    def _ego_along(self, x, y, h, v, accel: float):
        """Imagined ego poses (T, 3) and route arc lengths (T,) for one candidate."""
        out = np.empty((len(self.times), 3))
        s_out = np.empty(len(self.times))
        self._imagined += 1
        assert self.view is not None  # set by begin_episode
        self._model_steps += self._steps_per_drive
        ego, steer = (x, y, h, v), float(self.view.steer)
        self._imagine(ego, steer, accel, self._how, self._path, self._i, self._car, out,
                      s_out)
        return out, s_out

    def _committed(self, line: float, s0: float, v0: float) -> bool:
        """Too close to stop before the line: crossing it is the only safe move."""
        return v0 * v0 > 2 * self._max_brake * max(line - s0, 0.0) + 1e-6

    def _light_ok(self, s_traj: np.ndarray, s0: float, v0: float) -> bool:
        """Does the candidate respect the lights it reaches within the horizon?"""
        assert self.view is not None  # set by begin_episode
        half = 0.5 * self.params.length
        for row in self.route.stops:
            line = row[0] - half  # where the front bumper reaches the stop line
            if line - 1.0 > s_traj[-1]:
                break  # this candidate stops before the line
            if s0 > line + 0.5:
                continue  # the front is across the line: clear the intersection
            if self._committed(line, s0, v0):
                continue
            node, phase = int(row[1]), int(row[2])
            if self.perception == "oracle":
                from .oracle_models import oracle_green

                if not oracle_green(self.view, self.times, self.step, s_traj, line, v0, node,
                                    phase):
                    return False
                continue
            state = self.view.lights.get((node, phase))  # None: not in sight (yet)
            if state == GREEN:
                continue
            if state == YELLOW and ego_goes_on_yellow(v0, line - s0, self._max_brake):
                continue
            return False
        return True

    def _decide(self) -> np.ndarray:
        view, p = self.view, self.params
        assert view is not None  # set by begin_episode
        x, y, h, v = (float(z) for z in view.ego)
        works = self._notice_works(view.works)
        r = self.route
        self._i, s, _ = project_on_route(r.points, r.cum, x, y, self._i, 10, 40)
        self._s = s
        steer, _, _ = pure_pursuit(x, y, h, v, self._path, self._i, p.wheelbase, p.max_steer)
        # speed: desired from the curvature envelope
        i = min(self._i, len(self.v_ref) - 1)
        v_des = float(self.v_ref[i])
        a_track = max(-self._max_brake, min(self._max_accel, (v_des - v) / 0.5))
        cands = sorted({a_track, *[a for a in (2.0, 1.0, 0.0, -1.5, -3.0, -4.5)
                                   if a < a_track and a > -self._max_brake]}, reverse=True)
        scene = self._scene(x, y, h, works)

        def latest_conflict(a: float) -> int:
            """First conflict of candidate ``a`` (T: none; -1: it breaks a light)."""
            ego_traj, s_traj = self._ego_along(x, y, h, v, a)
            if not self._light_ok(s_traj, s, v):
                return -1
            return self._conflict(scene, ego_traj, v, a)

        best = (-1, -self._max_brake)  # (first conflict, acceleration)
        for a in [*cands, -self._max_brake]:
            k = latest_conflict(a)
            if k == len(self.times):
                best = (k, a)
                break
            if k >= 0 and k >= best[0]:  # none safe: the latest conflict, ties braking harder
                best = (k, a)
        chosen = best[1]
        return np.array([p.throttle(chosen), steer / p.max_steer], dtype=np.float32)

    def _scene(self, x: float, y: float, h: float, works: np.ndarray | None = None) -> Scene:
        """What the ego's candidates are checked against this step (:class:`Scene`);
        ``works``: the barriers of roadworks known, ``(W, 5)``, standing for good."""
        if self.perception == "oracle":
            cars, active, (car_r, car_off) = self._oracle_predictions(x, y, h)
            followers, standing = np.zeros((0, 2)), None
        else:
            cars, active, (car_r, car_off), followers = self._honest_predictions(x, y, h)
            standing = None  # the bodies of cars expected to stand, (T, M, 4, 2)
            if len(cars) and not active.all():
                still = cars[0][:, ~active]
                size = self._row_size[~active]
                standing = rect_corners(still[..., 0], still[..., 1], 0.5 * size[:, 0],
                                        0.5 * size[:, 1], still[..., 2])
        near = np.zeros((0, 5)) if works is None else \
            works[np.hypot(works[:, 0] - x, works[:, 1] - y) < SENSOR_REACH]
        if len(near):  # barriers stand too, for good
            body = np.repeat(rect_corners(near[:, 0], near[:, 1], near[:, 2], near[:, 3],
                                          near[:, 4])[None], len(self.times), axis=0)
            standing = body if standing is None else np.concatenate([standing, body], axis=1)
        return Scene(cars, active, car_r, car_off, followers, standing)

    def _conflict(self, scene: Scene, ego_traj: np.ndarray, v: float, a: float) -> int:
        """Index of the first of :attr:`times` at which the imagined ego poses ``ego_traj``
        (T, 3) - a candidate holding ``a`` m/s² for :attr:`commit` s from speed ``v`` - come
        too near a predicted car, touch a standing one or leave a follower too little room;
        T if never."""
        p = self.params
        k = len(self.times)
        for pred in scene.cars:
            k = min(k, first_conflict(ego_traj, self._ego_off, self._ego_r, pred, scene.active,
                                      scene.car_off, scene.car_r, self.margin))
        if scene.standing is not None:
            body = rect_corners(ego_traj[:, 0], ego_traj[:, 1], 0.5 * p.length,
                                0.5 * p.width, ego_traj[:, 2])
            k = min(k, first_contact(body, scene.standing, STANDING_MARGIN))
        for gap, v_car in scene.followers:
            k = min(k, rear_conflict(v, a, self.commit, gap, v_car, self.times, self.margin))
        return k

    def _near(self, pose: np.ndarray, x: float, y: float, h: float):
        """Which cars matter (within ``SENSOR_REACH``), and which of them follow the ego in
        its lane (behind it, the same way, within 3 m sideways)."""
        dx, dy = pose[:, 0] - x, pose[:, 1] - y
        ahead = dx * math.cos(h) + dy * math.sin(h)
        same_way = np.cos(pose[:, 2] - h) > 0.5
        lateral = np.abs(-dx * math.sin(h) + dy * math.cos(h))
        behind = (ahead < -2.0) & same_way & (lateral < 3.0)
        return dx * dx + dy * dy < SENSOR_REACH ** 2, behind, ahead

    def _oracle_predictions(self, x: float, y: float, h: float):
        """Ablation: every car's true lane, turn and desired speed; the lights' plans; cars
        following the ego left out (the traffic code guarantees they never run into it)."""
        from .oracle_models import TRAFFIC_CIRCLES, oracle_predictions

        assert self.view is not None  # set by begin_episode
        tr = self.view.traffic
        near, behind, _ = self._near(tr.pose, x, y, h)
        active = near & ~behind
        return oracle_predictions(self.view, self._lanes, active, self.times), active, \
            TRAFFIC_CIRCLES

    def _driver_estimates(self, seen: np.ndarray, ids: np.ndarray, lane: np.ndarray,
                          s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each seen car's desired speed (m/s) and pull-away acceleration (m/s²) from its
        track (:class:`~.drivers.Tracks`); ``lane``, ``s``: where each is map-matched (-1:
        off every lane). :class:`~.pets.CityPETS` learns its own."""
        return self._tracks.desired_speed(ids), self._tracks.max_accel(ids)

    def _honest_predictions(self, x: float, y: float, h: float):
        """The cars seen, tracked, each map-matched to its lane and predicted along every
        turn its lane allows, holding its speed and pulling away as estimated; halting at a
        light where it is expected to stop; the mask of those that move (the others are
        expected to stand). Cars following the ego in its lane: their gaps and speeds
        ``(F, 2)`` for :func:`~.drivers.rear_conflict`."""
        assert self.view is not None  # set by begin_episode
        seen, now = self.view.cars, float(self.view.time)
        ids = self._tracks.update(seen, now)
        lights = self.view.lights
        self._lights.update(lights, now)
        k = len(seen)
        if k == 0:
            return [], np.zeros(0, dtype=bool), (0.0, np.zeros(1)), np.zeros((0, 2))
        near, behind, ahead = self._near(seen, x, y, h)
        rear = near & behind
        follow = np.column_stack([
            -ahead[rear] - 0.5 * float(self.params.length) - 0.5 * seen[rear, 4],
            seen[rear, 3] * np.cos(seen[rear, 2] - h)])
        circles = covering_circles(float(seen[:, 4].max()), float(seen[:, 5].max()))
        lane = np.empty(k, dtype=np.int64)
        s = np.empty(k)
        match_lanes(self._lanes, seen[:, 0], seen[:, 1], seen[:, 2], 3.0, 0.8, lane, s)
        g = self.map.lanes
        rows = []  # (car, lane, s, next connector): one per turn the car may take
        for j in range(k):
            if lane[j] < 0 or not near[j] or rear[j]:
                continue  # off every lane, far away, or following the ego (see above)
            if g.kind[lane[j]] == ROAD:
                rows += [(j, lane[j], s[j], int(c)) for c in g.successors(int(lane[j]))]
            else:
                rows.append((j, lane[j], s[j], -1))
        if not rows:
            return [], np.zeros(0, dtype=bool), circles, follow
        owner = np.array([r[0] for r in rows])
        n = len(rows)
        hyp_lane = np.array([r[1] for r in rows], dtype=np.int64)
        hyp_s = np.array([r[2] for r in rows])
        nxt = np.array([r[3] for r in rows], dtype=np.int64)
        v = seen[owner, 3].copy()
        v0_seen, accel_seen = self._driver_estimates(seen, ids, lane, s)
        v0, accel = v0_seen[owner], accel_seen[owner]
        measured = self._tracks.accel(ids[owner])
        half = 0.5 * seen[owner, 4]
        # A standing car stays until it moves (then it is predicted again) - it is yielding
        # (to the ego, to a queue ahead) - unless it is at its stop line and may pull away
        # (see LightMemory.standing_car_may_go)
        to_line = g.length[hyp_lane] - hyp_s - half
        stop_at = np.full(n, np.inf)
        for q in range(n):
            ln = hyp_lane[q]
            signal = g.kind[ln] == ROAD and g.phase[ln] >= 0
            key = (int(g.node[ln]), int(g.phase[ln]))
            state = lights.get(key) if signal else None
            if v[q] < STANDING and not (signal and to_line[q] < 8.0 and
                                        self._lights.standing_car_may_go(key, state, now)):
                v0[q] = 0.0
            if state is not None and expects_stop(state, v[q], to_line[q], measured[q]):
                stop_at[q] = g.length[ln] - half[q] - STOP_SHORT
        out = []
        for a in (np.zeros(n), accel):  # holding its speed; pulling away as estimated
            pred = np.empty((len(self.times), n, 3))
            predict_along_lanes(hyp_lane, hyp_s, v, nxt, v0, a, stop_at, self.times,
                                self._lanes, pred)
            out.append(pred)
        self._row_size = seen[owner, 4:6]  # length, width of each predicted row's car
        # cars expected to stand are passed by their bodies (rectangles, a small margin), but
        # one ahead in the ego's lane is queued behind with the full margin
        dx, dy = seen[owner, 0] - x, seen[owner, 1] - y
        queued = (np.cos(seen[owner, 2] - h) > 0.5) & (dx * math.cos(h) + dy * math.sin(h) > 0) \
            & (np.abs(dy * math.cos(h) - dx * math.sin(h)) < 3.0)
        return out, ~((v0 == 0.0) & (v < STANDING)) | queued, circles, follow
