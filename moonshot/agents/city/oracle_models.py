"""The oracle ablation's models: the simulator's own code and hidden state, labelled.

``CityPlanner(perception="oracle")`` plans with these instead of its own models (see
:mod:`.car_model`, :mod:`.drivers`, :mod:`.lights`): its car is the env's ``tyre_update``
on the road's exact friction; other cars are predicted from their true lane, chosen turn and
desired speed with the simulator's IDM acceleration, halting where the simulator's drivers'
rule (``stops_at_light``) stops them, on the lights' true plans; cars behind the ego are left
out, as the traffic code guarantees they never run into it. It is what the planner would do
if its models were the simulator - an upper bound, never a headline figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ...physics.city.ego import tyre_update
from ...physics.city.roads import ROAD, LaneArrays
from ...physics.city.signals import GREEN, light_state
from ...physics.city.traffic import (
    CAR_LENGTH,
    EGO_CIRCLE_OFFSETS,
    EGO_CIRCLE_RADIUS,
    IDM_A,
    STOP_GAP,
    TrafficState,
    stops_at_light,
)
from .car_model import CarModel, G, imagine_drive
from .drivers import predict_along_lanes

if TYPE_CHECKING:
    from ...envs.city_perception import CityView

#: the traffic cars' covering circles, as the simulator draws them
TRAFFIC_CIRCLES = (EGO_CIRCLE_RADIUS, np.array(EGO_CIRCLE_OFFSETS))


@njit(cache=True)
def simulator_step(x: float, y: float, h: float, v: float, steer: float, accel: float,
                   steer_cmd: float, dt: float,
                   car: tuple) -> tuple[float, float, float, float, float]:
    """The simulator's car (``tyre_update``) with the signature of
    :func:`~.car_model.car_step`: ``car`` (a ``CarModel``) carries the road's true grip."""
    c = CarModel(*car)
    return tyre_update(x, y, h, v, steer, accel, steer_cmd, dt,
                       (c.wheelbase, c.rear_to_center, c.max_steer, c.max_speed),
                       (c.grip / G, c.steer_rate))


@njit  # not cached: numba cannot cache a kernel that takes another module's model as a value
def imagine_simulator(ego: tuple, steer: float, accel: float, how: tuple, route: tuple,
                      i: int, car: tuple, out: np.ndarray, s_out: np.ndarray) -> None:
    """:func:`~.car_model.imagine_drive` with the simulator's car (:func:`simulator_step`)."""
    imagine_drive(simulator_step, ego, steer, accel, how, route, i, car, out, s_out)


@njit(cache=True)
def _stop_lines(cars, active, half, lanes, signals, t, stop_at):
    """Where each ``active`` car (``TrafficState``) halts for the light ahead of it at time
    ``t`` by the simulator's drivers' rule: the arc length on its lane into ``stop_at``."""
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


def oracle_predictions(view: CityView, lanes: tuple, active: np.ndarray, times: np.ndarray) -> list:
    """Every car's future poses (holding its speed; accelerating at the simulator's IDM
    rate towards its true desired speed), from the view's true traffic and light plans."""
    tr = view.traffic
    stop_at = np.full(tr.n, np.inf)
    _stop_lines(tuple(tr.state), active, 0.5 * tr.idm[CAR_LENGTH], lanes,
                tuple(view.signals.arrays), view.time, stop_at)
    out = []
    for a in (0.0, float(tr.idm[IDM_A])):
        pred = np.empty((len(times), tr.n, 3))
        predict_along_lanes(tr.lane, tr.s, tr.v, tr.next, tr.v0, np.full(tr.n, a), stop_at,
                            times, lanes, pred)
        out.append(pred)
    return out


def oracle_green(view: CityView, times: np.ndarray, step: float, s_traj: np.ndarray, line: float,
                 v0: float, node: int, phase: int) -> bool:
    """The light will be green when the car crosses, long enough to clear (from its plan)."""
    sig, now = view.signals, view.time
    k = min(int(np.searchsorted(s_traj, line - 1.0)), len(s_traj) - 1)
    t_cross = now + times[k]
    if sig.state(node, phase, t_cross) != GREEN:
        return False
    _, green_end = sig.next_green(node, phase, t_cross)
    # time to clear about 30 m of intersection at the planned speed (at least 4 m/s)
    v_at = max((s_traj[k] - s_traj[k - 1]) / step if k else v0, 4.0)
    return t_cross + 30.0 / v_at <= green_end + sig.yellow

