"""The planner's own model of its car: a kinematic bicycle with a friction circle and a
steering rack, written from the textbook, not from the simulator.

The model is the kinematic bicycle about the centre of mass (Rajamani, *Vehicle Dynamics and
Control*, 2nd ed. 2012, sec. 2.2; Kong et al., "Kinematic and dynamic vehicle models for
autonomous driving control design", IV 2015): with the slip angle of the centre
``beta = atan(l_r / wheelbase * tan(steer))`` the car drives a circle of curvature
``kappa = sin(beta) / l_r``. Its tyres are one friction circle (Milliken & Milliken, *Race Car
Vehicle Dynamics*, 1995, ch. 2): at most ``grip`` m/s² in all, braking and throttle first;
the turn's lateral acceleration ``v² kappa`` gets what is left, and a turn asking for more is
flattened to the curve the tyres hold. The wheels follow the command at most ``steer_rate``
rad/s. A step integrates with the midpoint rule (the mean speed and the heading half-way
through the step).

What it is given: the vehicle's published parameters (its own car, known to its driver) and a
*believed* grip - the weather the driver sees, planned at the low end of its class (see
:func:`believed_grip`), never the road's true coefficient. The simulator integrates a
different scheme with the true grip; the difference is this model's error, on purpose.

Steering is pure pursuit (Coulter, 1992) towards a point on the route ahead, the same
controller the planner then drives with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
from numba import njit

from ...physics.city.geometry import Polyline
from ...physics.city.route import project_on_route

if TYPE_CHECKING:
    from ...envs.city_perception import Weather

G = 9.81  # m/s², standard gravity


class Vehicle(Protocol):
    """What the planner reads of the vehicle in its view (its published specification, not
    the simulator's dynamics)."""

    wheelbase: float
    rear_to_center: float
    max_steer: float
    max_speed: float


class CarModel(NamedTuple):
    """The planner's car: the vehicle's geometry and limits, and the grip it believes in
    (m/s²; ``inf``: no tyre limit, CityNav-v0's kinematic car)."""

    wheelbase: float
    rear_to_center: float
    max_steer: float
    max_speed: float
    steer_rate: float
    grip: float


class Imagination(NamedTuple):
    """How a candidate motion is imagined (see :func:`imagine_drive`)."""

    commit: float  # s: the candidate's acceleration is held this long
    brake: float  # m/s²: then the ego brakes at this rate to a standstill
    dt: float  # s: one step of the model (the env's control step)
    sub: int  # model steps per imagined pose


def believed_grip(weather: Weather) -> float:
    """The friction coefficient the planner plans with for a weather class (a
    :class:`~moonshot.envs.city_perception.Weather`): the low end of the class's range. A
    driver who sees snow does not know whether the road gives 0.2 or 0.45, and drives for 0.2
    (honest uncertainty; a road below its class - black ice - still fools it)."""
    return float(weather.low)


def car_model(vehicle: Vehicle, mu: float, steer_rate: float) -> CarModel:
    """The model of ``vehicle`` (its parameters) on a road believed to give ``mu``."""
    return CarModel(float(vehicle.wheelbase), float(vehicle.rear_to_center),
                    float(vehicle.max_steer), float(vehicle.max_speed), float(steer_rate),
                    float(mu) * G)


@njit(cache=True)
def car_step(x: float, y: float, h: float, v: float, steer: float, accel: float,
             steer_cmd: float, dt: float,
             car: tuple) -> tuple[float, float, float, float, float]:
    """One step of the planner's car model (module docstring) from ``x, y, h, v`` with the
    wheels at ``steer``; returns the new ``x, y, h, v, steer``."""
    car = CarModel(*car)
    lim = car.steer_rate * dt
    steer = min(max(steer + min(max(steer_cmd - steer, -lim), lim), -car.max_steer),
                car.max_steer)
    a = min(max(accel, -car.grip), car.grip)
    kappa = math.sin(math.atan(car.rear_to_center / car.wheelbase * math.tan(steer))) \
        / car.rear_to_center
    if v > 1e-6:  # the friction circle: the turn gets what the longitudinal force leaves
        room = math.sqrt(max(car.grip * car.grip - a * a, 0.0))
        if v * v * abs(kappa) > room:
            kappa = math.copysign(room / (v * v), kappa)
    beta = math.asin(min(max(kappa * car.rear_to_center, -1.0), 1.0))
    v_new = min(max(v + a * dt, 0.0), car.max_speed)
    vm = 0.5 * (v + v_new)
    hm = h + 0.5 * vm * kappa * dt
    x += vm * math.cos(hm + beta) * dt
    y += vm * math.sin(hm + beta) * dt
    h += vm * kappa * dt
    h = (h + math.pi) % (2.0 * math.pi) - math.pi
    return x, y, h, v_new, steer


@njit(cache=True)
def pure_pursuit(x: float, y: float, h: float, v: float, route: tuple, i: int, wheelbase: float,
                 max_steer: float) -> tuple[float, int, float]:
    """Steering angle of a car (``wheelbase``, ``max_steer``) at ``x, y, h, v`` towards the
    point of ``route`` (a ``Polyline``) ``max(4, 0.6 v + 3)`` m ahead, and the index and arc
    length of the route point nearest the car (searched forward from ``i``)."""
    route = Polyline(*route)
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
    steer = math.atan2(2.0 * wheelbase * math.sin(alpha), dist)
    return min(max(steer, -max_steer), max_steer), i, s


@njit(cache=True)
def imagine_drive(step: Callable, ego: tuple, steer: float, accel: float, how: tuple,
                  route: tuple, i: int, car: tuple, out: np.ndarray, s_out: np.ndarray) -> None:
    """Closed-loop imagination of a candidate from ``ego = (x, y, h, v)`` with the wheels at
    ``steer``: the car model ``step`` (:func:`car_step`, or a compiled function of the same
    signature) with parameters ``car`` steered by pure pursuit along ``route`` (from route
    point ``i``), holding ``accel`` for ``how.commit`` s, then braking at ``how.brake`` to a
    standstill. Writes poses every ``how.sub`` steps into ``out (n_out, 3)`` and route arc
    lengths into ``s_out``."""
    how, car_ = Imagination(*how), CarModel(*car)
    x, y, h, v = ego
    pts, cum = route[0], route[1]
    t = 0.0
    for k in range(out.shape[0] * how.sub):
        cmd, i, s = pure_pursuit(x, y, h, v, route, i, car_.wheelbase, car_.max_steer)
        a = accel if t < how.commit else -how.brake
        x, y, h, v, steer = step(x, y, h, v, steer, a, cmd, how.dt, car)
        t += how.dt
        if (k + 1) % how.sub == 0:
            q = (k + 1) // how.sub - 1
            out[q, 0], out[q, 1], out[q, 2] = x, y, h
            _, s, _ = project_on_route(pts, cum, x, y, i, 10, 40)
            s_out[q] = s


def covering_circles(length: float, width: float) -> tuple[float, np.ndarray]:
    """Circles that cover a ``length`` x ``width`` body: ``(radius, offsets along it)``.
    The body is cut into ``n = max(3, ceil(length / width))`` equal pieces along its length,
    each covered by the circle through its corners."""
    n = max(3, math.ceil(length / width - 1e-9))
    piece = length / n
    radius = math.hypot(0.5 * width, 0.5 * piece)
    return radius, (np.arange(n) - 0.5 * (n - 1)) * piece


@njit(cache=False)
def imagine_own(ego: tuple, steer: float, accel: float, how: tuple, route: tuple, i: int,
                car: tuple, out: np.ndarray, s_out: np.ndarray) -> None:
    """:func:`imagine_drive` with the planner's own car model (:func:`car_step`); compiled
    once per process here, so that a call does not type the model function again. Not
    cached on disk: numba cannot cache a function that passes another compiled function
    along (it said so on every run, as a warning)."""
    imagine_drive(car_step, ego, steer, accel, how, route, i, car, out, s_out)
