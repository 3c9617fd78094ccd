"""CityPlanner: a model-based driver for CityNav that reads the map and watches the road.

At the start of an episode it reads its perception view (``env.unwrapped.perceive()``: the
map with its lane graph, its own car and the road's friction, the start and the goal - see
:mod:`moonshot.envs.city_perception`) and plans a route with Dijkstra over the lane graph.
Every step it then

1. predicts each traffic car it sees over the horizon with a model of its own: the car is
   map-matched to its lane and followed along every turn that lane allows, at constant speed
   and, separately, accelerating at 1 m/s² towards 1.1 x the speed limit; a car whose light
   it sees red (or yellow, close enough to stop) is expected to stop at its stop line (the
   ``oracle`` ablation reads every car's true turn, desired speed and lights' plans instead);
2. imagines candidate motions of the ego along the route (pure-pursuit steering, so the ego
   stays on the route): each holds one acceleration for ``commit`` seconds and then brakes to a
   standstill - so every accepted candidate keeps a safe stop available;
3. rejects candidates that come within a safety margin of a predicted car (three covering
   circles per car), that cross a stop line whose light it does not see green (a yellow only
   when too close to stop comfortably), or that exceed the speed the route's curvature, the
   speed limit and the tyres' grip allow;
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

from ..envs.perception import check_perception
from ..physics.city.ego import Bicycle, bicycle_update, tyre_update
from ..physics.city.geometry import Polyline, polyline_point
from ..physics.city.roads import ROAD, LaneArrays, match_lanes
from ..physics.city.route import plan_route, project_on_route
from ..physics.city.signals import GREEN, YELLOW, light_state
from ..physics.city.traffic import (
    B_YELLOW,
    CAR_LENGTH,
    EGO_CIRCLE_OFFSETS,
    EGO_CIRCLE_RADIUS,
    STOP_GAP,
    TrafficState,
    stops_at_light,
)
from .base import Agent, AgentCosts

# three covering circles per car, for the ego and the traffic alike (same 4.5 x 1.8 m body)
CIRCLE_OFFSETS = np.array(EGO_CIRCLE_OFFSETS)
CIRCLE_RADIUS = EGO_CIRCLE_RADIUS
G = 9.81  # m/s²
GRIP_SHARE = 0.8  # of the tyres' grip that braking or throttle may take (steering keeps ~60%)


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
def _first_conflict(ego_xyh, ego_off, ego_r, cars, active, car_off, car_r, margin):
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
def _rollout(ego, accel, how, route, i, car, tyres, steer, out, s_out):
    """Closed-loop imagination of a candidate from ``ego = (x, y, h, v)`` with the wheels at
    ``steer``: the ego's own bicycle model (``car``; with ``tyres`` - friction, steering rate
    - where they are finite, the model of CityNav-v1) steered by pure pursuit along ``route``
    (from route point ``i``), holding ``accel`` for ``how.commit`` s, then braking at
    ``how.brake`` to a standstill. Writes poses every ``how.sub`` steps into ``out (n_out,
    3)`` and route arc lengths into ``s_out``."""
    how, route, car = _Imagination(*how), Polyline(*route), Bicycle(*car)
    with_tyres = math.isfinite(tyres[0]) and math.isfinite(tyres[1])
    x, y, h, v = ego
    commit, brake, dt, sub = how.commit, how.brake, how.dt, how.sub
    pts, cum = route.points, route.cum
    t = 0.0
    for k in range(out.shape[0] * sub):
        cmd, i, s = pure_pursuit(x, y, h, v, route, i, car)
        a = accel if t < commit else -brake
        if with_tyres:
            x, y, h, v, steer = tyre_update(x, y, h, v, steer, a, cmd, dt, car, tyres)
        else:
            x, y, h, v = bicycle_update(x, y, h, v, a, cmd, dt, car)
        t += dt
        if (k + 1) % sub == 0:
            q = (k + 1) // sub - 1
            out[q, 0], out[q, 1], out[q, 2] = x, y, h
            _, s, _ = project_on_route(pts, cum, x, y, i, 10, 40)
            s_out[q] = s


class CityPlanner(Agent):
    """Route planning on the lane graph + sampling-based speed planning with safe stops.

    It reads only its perception view (``env.unwrapped.perceive(perception)``, see
    :mod:`moonshot.envs.city_perception`): the map, its own car, the cars and lights it sees.
    With ``perception="honest"`` (the default) it predicts the cars it sees with a model of
    its own - each map-matched to its lane, driving on at its speed and, separately,
    accelerating towards 1.1 x the speed limit, along every turn the lane allows, stopping
    at a light it sees red (or yellow, close enough to stop) - and crosses its own stop line
    only on a green it sees. ``perception="oracle"`` (an ablation) reads every car's true
    lane, chosen turn and desired speed and every light's future phases.

    :param perception: ``"honest"`` or ``"oracle"``.
    :param horizon: prediction horizon (s).
    :param step: time resolution of the prediction (s).
    :param commit: how long a candidate holds its acceleration before braking (s).
    :param margin: extra clearance between covering circles (m).
    :param brake: deceleration of the fallback stop (m/s²), below the car's maximum.
    :param lateral_accel: comfortable lateral acceleration in curves (m/s²).
    """

    name = "city_planner"

    def __init__(self, perception: str = "honest", horizon: float = 5.0, step: float = 0.2,
                 commit: float = 0.6, margin: float = 0.5, brake: float = 5.0,
                 lateral_accel: float = 2.5):
        self.perception = check_perception(perception)
        if perception != "honest":
            self.name = f"city_planner[{perception}]"
        self.horizon, self.step, self.commit = horizon, step, commit
        self.margin, self.brake, self.lateral_accel = margin, brake, lateral_accel
        self.times = np.arange(1, int(round(horizon / step)) + 1) * step
        self.view = None
        self._planning = 0.0
        self._imagined = 0
        self.decision_times: list[float] = []

    # ------------------------------------------------------------------ episode
    def begin_episode(self, world: Any, observation: np.ndarray, info: dict) -> None:
        """``world``: the env's :class:`~moonshot.envs.city_perception.CityView`."""
        if world is None:
            raise TypeError("CityPlanner needs its perception view: run it with "
                            "moonshot.agents.run_episode, or pass env.unwrapped.perceive()")
        self.view = v = world
        m = v.map
        self.map = m
        self.params = v.vehicle
        self.dt = v.dt
        # kernel bundles as plain tuples, built once (see physics.city.roads.LaneArrays)
        self._lanes = tuple(m.lanes.arrays)
        self._car = tuple(self.params.bicycle)
        x, y = float(v.ego[0]), float(v.ego[1])
        self.route = plan_route(m.lanes, *v.start, *v.goal)  # Dijkstra on the map
        self._path = tuple(self.route.path)
        pts = self.route.points
        self._i, self._s, _ = project_on_route(pts, self.route.cum, x, y, 0, 0, 10)
        # curvature speed limit along the route, then backwards braking envelope; in curves
        # no more than the tyres give (the road's friction, seen)
        lateral = min(self.lateral_accel, 0.5 * G * v.road_friction)
        h = np.unwrap(np.arctan2(np.gradient(pts[:, 1]), np.gradient(pts[:, 0])))
        kappa = np.abs(np.gradient(h)) / np.maximum(np.gradient(self.route.cum), 1e-6)
        kappa = np.convolve(kappa, np.ones(5) / 5, mode="same")
        # no faster than a stop within the prediction horizon, the limit, the car. On a
        # slippery road a stop takes longer than the horizon: the horizon grows (up to 3x) to
        # a stop within what it sees (60% of its sensor range), which caps the speed instead
        grip = GRIP_SHARE * G * v.road_friction
        fallback = min(self.brake, 0.85 * min(self.params.max_brake, grip))
        horizon = self.horizon
        v_view = math.sqrt(2.0 * fallback * 0.6 * float(v.sensor_range))
        if v_view > 0.8 * fallback * horizon:
            horizon = min(3.0 * self.horizon, v_view / (0.8 * fallback))
        self.times = np.arange(1, int(round(horizon / self.step)) + 1) * self.step
        vmax = min(self.params.max_speed, m.speed_limit, 0.8 * fallback * horizon)
        vr = np.minimum(np.sqrt(lateral / np.maximum(kappa, 1e-6)), vmax)
        vr = np.maximum(vr, min(3.0, vmax))
        ds = np.diff(self.route.cum, prepend=0.0)
        decel = min(2.0, 0.5 * G * v.road_friction)
        for i in range(len(vr) - 2, -1, -1):  # can brake comfortably to every later limit
            vr[i] = min(vr[i], math.sqrt(vr[i + 1] ** 2 + 2 * decel * ds[i + 1]))
        self.v_ref = vr
        # on a slippery road brake and throttle keep a third of the grip for steering
        grip = GRIP_SHARE * G * v.road_friction
        self._max_brake = min(self.params.max_brake, grip)
        self._max_accel = min(self.params.max_accel, grip)
        self._fallback = min(self.brake, 0.85 * self._max_brake)
        self._tyres = (float(v.road_friction), float(v.steer_rate))
        radius, offsets = self.params.circles
        self._ego_r, self._ego_off = float(radius), np.asarray(offsets)
        self._how = tuple(_Imagination(float(self.commit), float(self._fallback),
                                       float(self.dt), int(round(self.step / self.dt))))

    # ------------------------------------------------------------------ acting
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        t0 = time.perf_counter()
        action = self._decide()
        dt = time.perf_counter() - t0
        self._planning += dt
        self.decision_times.append(dt)
        return action, state

    def costs(self) -> AgentCosts:
        """Imagined drives (candidate motions rolled out in the planner's model) and seconds
        spent deciding, so far."""
        return AgentCosts(self._imagined, self._planning)

    def _ego_along(self, x, y, h, v, accel: float):
        """Imagined ego poses (T, 3) and route arc lengths (T,) for one candidate."""
        out = np.empty((len(self.times), 3))
        s_out = np.empty(len(self.times))
        self._imagined += 1
        _rollout((x, y, h, v), accel, self._how, self._path, self._i, self._car, self._tyres,
                 float(self.view.steer), out, s_out)
        return out, s_out

    def _committed(self, line: float, s0: float, v0: float) -> bool:
        """Too close to stop before the line: crossing it is the only safe move."""
        return v0 * v0 > 2 * self._max_brake * max(line - s0, 0.0) + 1e-6

    def _light_ok(self, s_traj: np.ndarray, s0: float, v0: float, now: float) -> bool:
        """Does the candidate respect the lights it reaches within the horizon?"""
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
                if not self._oracle_green(s_traj, line, v0, node, phase, now):
                    return False
                continue
            state = self.view.lights.get((node, phase))  # None: not in sight (yet)
            if state == GREEN:
                continue
            if state == YELLOW and v0 * v0 > 2 * B_YELLOW * max(line - s0, 0.0):
                continue  # too close to stop comfortably on yellow: go on
            return False
        return True

    def _oracle_green(self, s_traj, line, v0, node, phase, now) -> bool:
        """Oracle: the light will be green when the car crosses, long enough to clear."""
        sig = self.view.signals
        k = min(int(np.searchsorted(s_traj, line - 1.0)), len(s_traj) - 1)
        t_cross = now + self.times[k]
        if sig.state(node, phase, t_cross) != GREEN:
            return False
        _, green_end = sig.next_green(node, phase, t_cross)
        # time to clear about 30 m of intersection at the planned speed (at least 4 m/s)
        v_at = max((s_traj[k] - s_traj[k - 1]) / self.step if k else v0, 4.0)
        return t_cross + 30.0 / v_at <= green_end + sig.yellow

    def _decide(self) -> np.ndarray:
        view, p = self.view, self.params
        x, y, h, v = (float(z) for z in view.ego)
        r = self.route
        self._i, s, _ = project_on_route(r.points, r.cum, x, y, self._i, 10, 40)
        self._s = s
        steer, _, _ = pure_pursuit(x, y, h, v, self._path, self._i, self._car)
        # speed: desired from the curvature envelope
        i = min(self._i, len(self.v_ref) - 1)
        v_des = float(self.v_ref[i])
        a_track = max(-self._max_brake, min(self._max_accel, (v_des - v) / 0.5))
        cands = sorted({a_track, *[a for a in (2.0, 1.0, 0.0, -1.5, -3.0, -4.5)
                                   if a < a_track and a > -self._max_brake]}, reverse=True)
        cars, active = (self._oracle_predictions(x, y, h) if self.perception == "oracle"
                        else self._honest_predictions(x, y, h))
        now = view.time
        chosen = -self._max_brake
        for a in cands:
            ego_traj, s_traj = self._ego_along(x, y, h, v, a)
            if not self._light_ok(s_traj, s, v, now):
                continue
            ok = True
            for pred in cars:
                if _first_conflict(ego_traj, self._ego_off, self._ego_r, pred, active,
                                   CIRCLE_OFFSETS, CIRCLE_RADIUS, self.margin) < len(self.times):
                    ok = False
                    break
            if ok:
                chosen = a
                break
        return np.array([p.throttle(chosen), steer / p.max_steer], dtype=np.float32)

    def _mask(self, pose: np.ndarray, x: float, y: float, h: float) -> np.ndarray:
        """The cars that matter: within 90 m, and not following the ego in its lane (they
        follow it; a standing ego is not made unsafe by them)."""
        dx, dy = pose[:, 0] - x, pose[:, 1] - y
        ahead = dx * math.cos(h) + dy * math.sin(h)
        same_way = np.cos(pose[:, 2] - h) > 0.5
        lateral = np.abs(-dx * math.sin(h) + dy * math.cos(h))
        behind = (ahead < -2.0) & same_way & (lateral < 3.0)
        return (dx * dx + dy * dy < 90.0 ** 2) & ~behind

    def _oracle_predictions(self, x: float, y: float, h: float):
        """Ablation: every car's true lane, turn and desired speed; the lights' plans."""
        tr, view = self.view.traffic, self.view
        active = self._mask(tr.pose, x, y, h)
        stop_at = np.full(tr.n, np.inf)
        cars = tuple(tr.state)
        _stop_lines(cars, active, 0.5 * tr.idm[CAR_LENGTH], self._lanes,
                    tuple(view.signals.arrays), view.time, stop_at)
        return self._roll_predictions(cars, stop_at, tr.n), active

    def _honest_predictions(self, x: float, y: float, h: float):
        """The cars seen, each map-matched to its lane and predicted along every turn its
        lane allows, at its speed and accelerating towards 1.1 x the speed limit; a car whose
        light is seen red (or yellow, close enough to stop) halts at the line."""
        seen = self.view.cars
        k = len(seen)
        if k == 0:
            return [], np.zeros(0, dtype=bool)
        lane = np.empty(k, dtype=np.int64)
        s = np.empty(k)
        match_lanes(self._lanes, seen[:, 0], seen[:, 1], seen[:, 2], 3.0, 0.8, lane, s)
        g = self.map.lanes
        rows = []  # (car, lane, s, next connector)
        for j in range(k):
            if lane[j] < 0:
                continue  # off every lane (cannot happen to lane-following traffic)
            if g.kind[lane[j]] == ROAD:
                rows += [(j, lane[j], s[j], int(c)) for c in g.successors(int(lane[j]))]
            else:
                rows.append((j, lane[j], s[j], -1))
        if not rows:
            return [], np.zeros(0, dtype=bool)
        owner = np.array([r[0] for r in rows])
        n = len(rows)
        hyp_lane = np.array([r[1] for r in rows], dtype=np.int64)
        hyp_s = np.array([r[2] for r in rows])
        v = seen[owner, 3].copy()
        nxt = np.array([r[3] for r in rows], dtype=np.int64)
        v0 = np.full(n, 1.1 * self.map.speed_limit)
        # A car standing anywhere but at a stop line is yielding (to the ego, or to a queue
        # ahead of it): expected to stay until it moves (then it is predicted again).
        to_line = g.length[hyp_lane] - hyp_s - 0.5 * seen[owner, 4]
        at_line = (g.kind[hyp_lane] == ROAD) & (g.phase[hyp_lane] >= 0) & (to_line < 8.0)
        v0[(v < 0.5) & ~at_line] = 0.0
        pose = seen[owner, :3].copy()
        active = self._mask(pose, x, y, h)
        stop_at = np.full(n, np.inf)
        half = 0.5 * float(seen[0, 4])
        lights = self.view.lights
        for q in range(n):
            ln = hyp_lane[q]
            if g.kind[ln] != ROAD or g.phase[ln] < 0:
                continue
            state = lights.get((int(g.node[ln]), int(g.phase[ln])))
            d_stop = g.length[ln] - hyp_s[q] - half
            if state is not None and d_stop >= 0 and stops_at_light(state, v[q], d_stop):
                stop_at[q] = g.length[ln] - half - STOP_GAP
        cars = (hyp_lane, hyp_s, v, nxt, v0, pose)
        return self._roll_predictions(cars, stop_at, n), active

    def _roll_predictions(self, cars: tuple, stop_at: np.ndarray, n: int) -> list:
        out = []
        for accel in (0.0, 1.0):
            pred = np.empty((len(self.times), n, 3))
            _predict(cars, stop_at, self.times, accel, self._lanes, pred)
            out.append(pred)
        return out
