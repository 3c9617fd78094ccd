"""CityPlanner: a model-based driver for CityNav that reads the map and watches the road.

At the start of an episode it reads the world model (``env.unwrapped``: the lane graph, the
signal plans, its own state and the bicycle-model parameters, the goal) and plans a route with
Dijkstra over the lane graph. Every step it then

1. predicts each traffic car over the horizon with a model of its own: along the car's lanes
   (its lane, the connector it is signalling, the lane after) at constant speed and,
   separately, accelerating at 1 m/s² towards its desired speed; a car that faces a red light
   (or a yellow it can stop for) is expected to stop at its stop line;
2. imagines candidate motions of the ego along the route (pure-pursuit steering, so the ego
   stays on the route): each holds one acceleration for ``commit`` seconds and then brakes to a
   standstill - so every accepted candidate keeps a safe stop available;
3. rejects candidates that come within a safety margin of a predicted car (three covering
   circles per car), that cross a stop line when the light will not be green (or leave too
   little of the green to clear the intersection), or that exceed the speed the route's
   curvature and the speed limit allow;
4. applies the fastest surviving acceleration (hard braking if none survives).

Cars behind the ego that drive the same way are left out: they follow the ego (the traffic
model sees it), and a standing ego is not made unsafe by them.
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from ..physics.city.ego import Bicycle, bicycle_update
from ..physics.city.geometry import Polyline, polyline_point
from ..physics.city.roads import ROAD, LaneArrays
from ..physics.city.route import plan_route, project_on_route
from ..physics.city.signals import GREEN, light_state
from ..physics.city.traffic import (
    CAR_LENGTH,
    EGO_CIRCLE_OFFSETS,
    EGO_CIRCLE_RADIUS,
    STOP_GAP,
    TrafficState,
    stops_at_light,
)
from .base import Agent

# three covering circles per car, for the ego and the traffic alike (same 4.5 x 1.8 m body)
CIRCLE_OFFSETS = np.array(EGO_CIRCLE_OFFSETS)
CIRCLE_RADIUS = EGO_CIRCLE_RADIUS


class _Imagination(NamedTuple):
    """How a candidate motion is imagined (see :func:`_rollout`)."""

    commit: float  # s: the candidate's acceleration is held this long
    brake: float  # m/s²: then the ego brakes at this rate to a standstill
    dt: float  # s: one step of the ego's own model (the env's control step)
    sub: int  # model steps per imagined pose


@njit(cache=True)
def _predict(cars, stop_at, times, accel, lanes, out):
    """Poses ``out (T, N, 3)`` of the cars (``TrafficState``) along their lanes
    (``LaneArrays``), ``accel`` >= 0 (capped at v0), never beyond ``stop_at[j]`` (arc length
    on the car's current lane; inf if none). Bundles may come as plain tuples."""
    cars, lanes = TrafficState(*cars), LaneArrays(*lanes)
    lane, s, v, nxt, v0 = cars.lane, cars.s, cars.v, cars.next, cars.v0
    pts, cum, length, kind, dst = lanes.pts, lanes.cum, lanes.length, lanes.kind, lanes.dst
    n = lane.shape[0]
    for j in range(n):
        path0 = lane[j]
        if kind[path0] == ROAD:
            p1 = nxt[j]
            p2 = dst[p1]
        else:
            p1 = dst[path0]
            p2 = -1
        for k in range(times.shape[0]):
            t = times[k]
            if accel > 0.0 and v[j] < v0[j]:
                t_up = (v0[j] - v[j]) / accel
                if t < t_up:
                    d = v[j] * t + 0.5 * accel * t * t
                else:
                    d = v[j] * t_up + 0.5 * accel * t_up * t_up + v0[j] * (t - t_up)
            else:
                d = v[j] * t
            ss = min(s[j] + d, stop_at[j])
            ln = path0
            if ss >= length[ln]:
                ss -= length[ln]
                ln = p1
                if ss >= length[ln] and p2 >= 0:
                    ss -= length[ln]
                    ln = p2
            x, y, h = polyline_point(pts[ln], cum[ln], ss)
            out[k, j, 0] = x
            out[k, j, 1] = y
            out[k, j, 2] = h


@njit(cache=True)
def _stop_lines(cars, active, half, lanes, signals, t, stop_at):
    """Where each ``active`` car (``TrafficState``, ``half`` its half-length) is expected to
    halt for the light ahead of it at time ``t``: the arc length on its lane (front
    ``STOP_GAP`` before the line) into ``stop_at``, if the drivers' rule that traffic obeys
    stops it there (red, or yellow it can stop for); other entries are left as they are."""
    cars, lanes = TrafficState(*cars), LaneArrays(*lanes)
    for j in range(cars.lane.shape[0]):
        ln = cars.lane[j]
        if not active[j] or lanes.kind[ln] != ROAD or lanes.phase[ln] < 0:
            continue
        d_stop = lanes.length[ln] - cars.s[j] - half
        if d_stop < 0:
            continue
        st = light_state(signals, lanes.node[ln], lanes.phase[ln], t)
        if stops_at_light(st, cars.v[j], d_stop):
            stop_at[j] = lanes.length[ln] - half - STOP_GAP


@njit(cache=True)
def _first_conflict(ego_xyh, cars, active, offsets, radius, margin):
    """Index of the first time step at which the ego (T, 3) comes within ``margin`` of a car
    (T, N, 3) in ``active``; T if never."""
    lim = (2.0 * radius + margin) ** 2
    for k in range(ego_xyh.shape[0]):
        ex, ey, eh = ego_xyh[k, 0], ego_xyh[k, 1], ego_xyh[k, 2]
        ce, se = math.cos(eh), math.sin(eh)
        for j in range(cars.shape[1]):
            if not active[j]:
                continue
            cx, cy, ch = cars[k, j, 0], cars[k, j, 1], cars[k, j, 2]
            if (cx - ex) ** 2 + (cy - ey) ** 2 > 49.0:
                continue
            cc, sc = math.cos(ch), math.sin(ch)
            for a in range(offsets.shape[0]):
                ax = ex + offsets[a] * ce
                ay = ey + offsets[a] * se
                for b in range(offsets.shape[0]):
                    bx = cx + offsets[b] * cc
                    by = cy + offsets[b] * sc
                    if (ax - bx) ** 2 + (ay - by) ** 2 < lim:
                        return k
    return ego_xyh.shape[0]


@njit(cache=True)
def pure_pursuit(x, y, h, v, route, i, car):
    """Steering angle of a car (``Bicycle`` parameters ``car``) at ``x, y, h, v`` towards the
    point of ``route`` (a ``Polyline``) ``max(4, 0.6 v + 3)`` m ahead, and the index and arc
    length of the route point nearest the car (searched forward from ``i``)."""
    route, car = Polyline(*route), Bicycle(*car)
    pts, cum = route.points, route.cum
    i, s, _ = project_on_route(pts, cum, x, y, i, 10, 40)
    look = max(4.0, 0.6 * v + 3.0)
    st = min(s + look, cum[-1])
    k = min(max(np.searchsorted(cum, st), 1), cum.shape[0] - 1)
    f = (st - cum[k - 1]) / max(cum[k] - cum[k - 1], 1e-9)
    tx = pts[k - 1, 0] + f * (pts[k, 0] - pts[k - 1, 0])
    ty = pts[k - 1, 1] + f * (pts[k, 1] - pts[k - 1, 1])
    alpha = math.atan2(ty - y, tx - x) - h
    alpha = (alpha + math.pi) % (2 * math.pi) - math.pi
    dist = max(math.hypot(tx - x, ty - y), 1.0)
    steer = math.atan2(2.0 * car.wheelbase * math.sin(alpha), dist)
    return min(max(steer, -car.max_steer), car.max_steer), i, s


@njit(cache=True)
def _rollout(ego, accel, how, route, i, car, out, s_out):
    """Closed-loop imagination of a candidate from ``ego = (x, y, h, v)``: the ego's own
    bicycle model (``car``) steered by pure pursuit along ``route`` (from route point ``i``),
    holding ``accel`` for ``how.commit`` s, then braking at ``how.brake`` to a standstill.
    Writes poses every ``how.sub`` steps into ``out (n_out, 3)`` and route arc lengths into
    ``s_out``."""
    how, route, car = _Imagination(*how), Polyline(*route), Bicycle(*car)
    x, y, h, v = ego
    commit, brake, dt, sub = how.commit, how.brake, how.dt, how.sub
    pts, cum = route.points, route.cum
    t = 0.0
    for k in range(out.shape[0] * sub):
        steer, i, s = pure_pursuit(x, y, h, v, route, i, car)
        a = accel if t < commit else -brake
        x, y, h, v = bicycle_update(x, y, h, v, a, steer, dt, car)
        t += dt
        if (k + 1) % sub == 0:
            q = (k + 1) // sub - 1
            out[q, 0], out[q, 1], out[q, 2] = x, y, h
            _, s, _ = project_on_route(pts, cum, x, y, i, 10, 40)
            s_out[q] = s


class CityPlanner(Agent):
    """Route planning on the lane graph + sampling-based speed planning with safe stops.

    :param horizon: prediction horizon (s).
    :param step: time resolution of the prediction (s).
    :param commit: how long a candidate holds its acceleration before braking (s).
    :param margin: extra clearance between covering circles (m).
    :param brake: deceleration of the fallback stop (m/s²), below the car's maximum.
    :param lateral_accel: comfortable lateral acceleration in curves (m/s²).
    """

    name = "city_planner"

    def __init__(self, horizon: float = 5.0, step: float = 0.2, commit: float = 0.6,
                 margin: float = 0.5, brake: float = 5.0, lateral_accel: float = 2.5):
        self.horizon, self.step, self.commit = horizon, step, commit
        self.margin, self.brake, self.lateral_accel = margin, brake, lateral_accel
        self.times = np.arange(1, int(round(horizon / step)) + 1) * step
        self._env = None
        self._planning = 0.0
        self._imagined = 0
        self.decision_times: list[float] = []

    # ------------------------------------------------------------------ episode
    def begin_episode(self, env: Any, observation: np.ndarray, info: dict) -> None:
        u = env.unwrapped
        self._env = u
        self.city = u.city
        self.params = u.ego_params
        self.dt = u.dt
        # kernel bundles as plain tuples, built once (see physics.city.roads.LaneArrays)
        self._how = tuple(_Imagination(float(self.commit), float(self.brake), float(self.dt),
                                       int(round(self.step / self.dt))))
        self._car = tuple(self.params.bicycle)
        g = self.city.lanes
        x, y = u.ego[:2]
        start_lane, start_s = u.route.lanes[0], u.world.start_s
        goal_lane, goal_s = u.goal
        self.route = plan_route(g, start_lane, start_s, goal_lane, goal_s)  # Dijkstra
        self._path = tuple(self.route.path)
        pts = self.route.points
        self._i, self._s, _ = project_on_route(pts, self.route.cum, x, y, 0, 0, 10)
        # curvature speed limit along the route, then backwards braking envelope
        h = np.unwrap(np.arctan2(np.gradient(pts[:, 1]), np.gradient(pts[:, 0])))
        kappa = np.abs(np.gradient(h)) / np.maximum(np.gradient(self.route.cum), 1e-6)
        kappa = np.convolve(kappa, np.ones(5) / 5, mode="same")
        vmax = min(self.params.max_speed, self.city.params.speed_limit)
        v = np.minimum(np.sqrt(self.lateral_accel / np.maximum(kappa, 1e-6)), vmax)
        v = np.maximum(v, 3.0)
        ds = np.diff(self.route.cum, prepend=0.0)
        for i in range(len(v) - 2, -1, -1):  # can brake at 2 m/s² to every later limit
            v[i] = min(v[i], math.sqrt(v[i + 1] ** 2 + 2 * 2.0 * ds[i + 1]))
        self.v_ref = v
        self.heading = np.arctan2(np.gradient(pts[:, 1]), np.gradient(pts[:, 0]))

    # ------------------------------------------------------------------ acting
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        t0 = time.perf_counter()
        action = self._decide()
        dt = time.perf_counter() - t0
        self._planning += dt
        self.decision_times.append(dt)
        return action, state

    def planning_time_s(self) -> float:
        t, self._planning = self._planning, 0.0
        return t

    def model_rollouts(self) -> int:
        """Imagined drives (candidate motions rolled out in the planner's model) since the
        last call."""
        n, self._imagined = self._imagined, 0
        return n

    def _ego_along(self, x, y, h, v, accel: float):
        """Imagined ego poses (T, 3) and route arc lengths (T,) for one candidate."""
        out = np.empty((len(self.times), 3))
        s_out = np.empty(len(self.times))
        self._imagined += 1
        _rollout((x, y, h, v), accel, self._how, self._path, self._i, self._car, out, s_out)
        return out, s_out

    def _light_ok(self, s_traj: np.ndarray, s0: float, v0: float, now: float) -> bool:
        """Does the candidate respect the lights (cross only on green, with time to clear)?"""
        sig = self.city.signals
        half = 0.5 * self.params.length
        for row in self.route.stops:
            line = row[0] - half  # where the front bumper reaches the stop line
            if line - 1.0 > s_traj[-1]:
                break  # this candidate stops before the line
            if s0 > line + 0.5:
                continue  # the front is across the line: clear the intersection
            if v0 * v0 > 2 * self.params.max_brake * max(line - s0, 0.0) + 1e-6:
                continue  # cannot stop before the line any more: committed
            k = min(int(np.searchsorted(s_traj, line - 1.0)), len(s_traj) - 1)
            node, phase = int(row[1]), int(row[2])
            t_cross = now + self.times[k]
            if sig.state(node, phase, t_cross) != GREEN:
                return False
            _, green_end = sig.next_green(node, phase, t_cross)
            # time to clear about 30 m of intersection at the planned speed (at least 4 m/s)
            v_at = max((s_traj[k] - s_traj[k - 1]) / self.step if k else v0, 4.0)
            if t_cross + 30.0 / v_at > green_end + sig.yellow:
                return False
        return True

    def _decide(self) -> np.ndarray:
        u, p = self._env, self.params
        x, y, h, v = (float(z) for z in u.ego)
        r = self.route
        self._i, s, _ = project_on_route(r.points, r.cum, x, y, self._i, 10, 40)
        self._s = s
        steer, _, _ = pure_pursuit(x, y, h, v, self._path, self._i, self._car)
        # speed: desired from the curvature envelope
        i = min(self._i, len(self.v_ref) - 1)
        v_des = float(self.v_ref[i])
        a_track = max(-p.max_brake, min(p.max_accel, (v_des - v) / 0.5))
        cands = sorted({a_track, *[a for a in (2.0, 1.0, 0.0, -1.5, -3.0, -4.5)
                                   if a < a_track]}, reverse=True)
        cars, active = self._predictions(x, y, h)
        now = u.sim_time
        chosen = -p.max_brake
        for a in cands:
            ego_traj, s_traj = self._ego_along(x, y, h, v, a)
            if not self._light_ok(s_traj, s, v, now):
                continue
            ok = True
            for pred in cars:
                if _first_conflict(ego_traj, pred, active, CIRCLE_OFFSETS, CIRCLE_RADIUS,
                                   self.margin) < len(self.times):
                    ok = False
                    break
            if ok:
                chosen = a
                break
        return np.array([p.throttle(chosen), steer / p.max_steer], dtype=np.float32)

    def _predictions(self, x: float, y: float, h: float):
        """Predicted car poses (two models) and the mask of cars that matter."""
        tr = self._env.traffic
        g, sig = self.city.lanes, self.city.signals
        pose = tr.pose
        dx, dy = pose[:, 0] - x, pose[:, 1] - y
        ahead = dx * math.cos(h) + dy * math.sin(h)
        same_way = np.cos(pose[:, 2] - h) > 0.5
        lateral = np.abs(-dx * math.sin(h) + dy * math.cos(h))
        behind = (ahead < -2.0) & same_way & (lateral < 3.0)
        active = (dx * dx + dy * dy < 90.0 ** 2) & ~behind
        stop_at = np.full(tr.n, np.inf)
        cars, lanes = tuple(tr.state), tuple(g.arrays)
        _stop_lines(cars, active, 0.5 * tr.idm[CAR_LENGTH], lanes, tuple(sig.arrays),
                    self._env.sim_time, stop_at)
        out = []
        for accel in (0.0, 1.0):
            pred = np.empty((len(self.times), tr.n, 3))
            _predict(cars, stop_at, self.times, accel, lanes, pred)
            out.append(pred)
        return out, active
