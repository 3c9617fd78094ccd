"""The ego car: a kinematic bicycle model, and the same with tyres and a steering rack.

State ``[x, y, heading, speed]`` of the car's centre; inputs: longitudinal acceleration and the
front-wheel steering angle. With ``beta = atan(l_r / wheelbase * tan(steer))`` the slip angle
of the centre,

    x' = v cos(heading + beta),  y' = v sin(heading + beta),  heading' = v sin(beta) / l_r,

integrated by one explicit Euler step of ``dt`` (positions from the speed at the start of the
step), then ``v <- clip(v + a dt, 0, max_speed)``: the car brakes to a stop, it does not reverse.

:func:`bicycle_update` is that model alone (CityNav-v0): full lock at any speed, wheels that
turn at once. :func:`tyre_update` (CityNav-v1) adds what a real car cannot escape:

* a steering rate limit: the wheels turn towards the commanded angle at ``steer_rate`` rad/s
  (full lock from straight in about a second);
* the friction circle: the tyres give at most ``mu g`` of acceleration in all. Braking and
  throttle come first (``|a| <= mu g``); the lateral acceleration of the turn,
  ``v^2 sin(beta) / l_r``, gets what is left, ``sqrt((mu g)^2 - a^2)``. Past it the car
  understeers: it follows the tightest curve the tyres hold (the slip angle shrinks to
  ``asin(a_lat,max l_r / v^2)``), not the one the wheels point at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from numba import njit


class Bicycle(NamedTuple):
    """The parameters compiled kernels read from :class:`EgoParams` (``EgoParams.bicycle``)."""

    wheelbase: float
    rear_to_center: float
    max_steer: float
    max_speed: float


@dataclass(frozen=True)
class EgoParams:
    """Bicycle-model and actuator parameters of the ego car (SI units)."""

    length: float = 4.5
    width: float = 1.8
    wheelbase: float = 2.7
    rear_to_center: float = 1.35  # l_r: rear axle to centre of mass
    max_steer: float = 0.55  # rad, at action[1] = ±1
    max_accel: float = 3.0  # m/s², at action[0] = +1
    max_brake: float = 6.0  # m/s², at action[0] = -1
    max_speed: float = 16.7  # m/s (60 km/h)
    #: CityNav-v1: the steering rack turns the wheels at most this fast (full lock in ~1 s)
    steer_rate: float = 0.55  # rad/s

    def accel(self, throttle: float) -> float:
        """Acceleration (m/s²) commanded by ``throttle`` in [-1, 1]."""
        return throttle * (self.max_accel if throttle >= 0.0 else self.max_brake)

    def throttle(self, accel: float) -> float:
        """Inverse of :meth:`accel`, clipped to [-1, 1]."""
        u = accel / (self.max_accel if accel >= 0.0 else self.max_brake)
        return min(1.0, max(-1.0, u))

    @cached_property
    def circles(self) -> tuple[float, tuple[float, ...]]:
        """Covering circles of the body: ``(radius, offsets along it)``. The 4.5 x 1.8 m car
        has three of radius 1.2 m at -1.5, 0 and 1.5 m (what traffic and planners use); a
        longer or wider vehicle scales them and adds circles to keep them overlapping."""
        radius = round(1.2 * self.width / 1.8, 9)
        reach = round(1.5 * (self.length - self.width) / (4.5 - 1.8), 9)
        n = 1 + max(2, math.ceil(round(2 * reach / (1.25 * radius), 9)))
        return radius, tuple(round(-reach + 2 * reach * k / (n - 1), 9) for k in range(n))

    @cached_property
    def bicycle(self) -> Bicycle:
        return Bicycle._make(float(getattr(self, f)) for f in Bicycle._fields)


@njit(cache=True)
def bicycle_update(x: float, y: float, heading: float, v: float, accel: float, steer: float,
                   dt: float, car: tuple) -> tuple[float, float, float, float]:
    """One step of the kinematic bicycle model with parameters ``car`` (:class:`Bicycle`, or
    its plain tuple); returns the new ``x, y, heading, v``."""
    car = Bicycle(*car)
    beta = math.atan(car.rear_to_center / car.wheelbase * math.tan(steer))
    x += v * math.cos(heading + beta) * dt
    y += v * math.sin(heading + beta) * dt
    heading += v * math.sin(beta) / car.rear_to_center * dt
    heading = (heading + math.pi) % (2.0 * math.pi) - math.pi
    v = min(max(v + accel * dt, 0.0), car.max_speed)
    return x, y, heading, v


G = 9.81  # m/s²


class Tyres(NamedTuple):
    """Grip and steering rack of CityNav-v1: ``friction`` (the road's coefficient: dry
    about 0.9, wet 0.6, snow 0.3, ice 0.1) and ``steer_rate`` (rad/s)."""

    friction: float
    steer_rate: float


@njit(cache=True)
def tyre_update(x: float, y: float, heading: float, v: float, steer: float, accel: float,
                steer_cmd: float, dt: float, car: tuple,
                tyres: tuple) -> tuple[float, float, float, float, float]:
    """One step of the bicycle model with tyres (see the module docstring): the wheels move
    from ``steer`` towards ``steer_cmd`` at most ``steer_rate`` rad/s, the tyres give at most
    ``friction * G``; returns the new ``x, y, heading, v, steer``."""
    car, tyres = Bicycle(*car), Tyres(*tyres)
    lim = tyres.steer_rate * dt
    steer = steer + min(max(steer_cmd - steer, -lim), lim)
    steer = min(max(steer, -car.max_steer), car.max_steer)
    grip = tyres.friction * G
    a = min(max(accel, -grip), grip)
    beta = math.atan(car.rear_to_center / car.wheelbase * math.tan(steer))
    if v > 1e-9:
        lateral = v * v * math.sin(beta) / car.rear_to_center
        room = math.sqrt(max(grip * grip - a * a, 0.0))
        if abs(lateral) > room:  # understeer: the tightest curve the tyres hold
            sb = min(room * car.rear_to_center / (v * v), 1.0)
            beta = math.asin(sb) if beta > 0.0 else -math.asin(sb)
    x += v * math.cos(heading + beta) * dt
    y += v * math.sin(heading + beta) * dt
    heading += v * math.sin(beta) / car.rear_to_center * dt
    heading = (heading + math.pi) % (2.0 * math.pi) - math.pi
    v = min(max(v + a * dt, 0.0), car.max_speed)
    return x, y, heading, v, steer


def bicycle_step(x: float, y: float, heading: float, v: float, accel: float, steer: float,
                 dt: float, p: EgoParams) -> tuple[float, float, float, float]:
    """One step of the kinematic bicycle model; returns the new ``x, y, heading, v``."""
    # floats throughout: one compiled specialization, whatever number types the caller has
    return bicycle_update(float(x), float(y), float(heading), float(v), float(accel),
                          float(steer), float(dt), tuple(p.bicycle))


#: The vehicles of CityNav-v1 (``vehicle=``): the shift ladder's vehicle axis.
VEHICLES = {
    "car": EgoParams(),
    "heavy": EgoParams(max_accel=2.0, max_brake=4.5),
    "weak_brakes": EgoParams(max_brake=3.0),
    "truck": EgoParams(length=9.0, width=2.5, wheelbase=5.5, rear_to_center=2.75,
                       max_steer=0.5, max_accel=1.5, max_brake=4.0, max_speed=16.7,
                       steer_rate=0.4),
}
