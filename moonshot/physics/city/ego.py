"""The ego car: a kinematic bicycle model.

State ``[x, y, heading, speed]`` of the car's centre; inputs: longitudinal acceleration and the
front-wheel steering angle. With ``beta = atan(l_r / wheelbase * tan(steer))`` the slip angle
of the centre,

    x' = v cos(heading + beta),  y' = v sin(heading + beta),  heading' = v sin(beta) / l_r,

integrated by one explicit Euler step of ``dt`` (positions from the speed at the start of the
step), then ``v <- clip(v + a dt, 0, max_speed)``: the car brakes to a stop, it does not reverse.
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

    def accel(self, throttle: float) -> float:
        """Acceleration (m/s²) commanded by ``throttle`` in [-1, 1]."""
        return throttle * (self.max_accel if throttle >= 0.0 else self.max_brake)

    def throttle(self, accel: float) -> float:
        """Inverse of :meth:`accel`, clipped to [-1, 1]."""
        u = accel / (self.max_accel if accel >= 0.0 else self.max_brake)
        return min(1.0, max(-1.0, u))

    @cached_property
    def bicycle(self) -> Bicycle:
        return Bicycle._make(float(getattr(self, f)) for f in Bicycle._fields)


@njit(cache=True)
def bicycle_update(x, y, heading, v, accel, steer, dt, car):
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


def bicycle_step(x: float, y: float, heading: float, v: float, accel: float, steer: float,
                 dt: float, p: EgoParams) -> tuple[float, float, float, float]:
    """One step of the kinematic bicycle model; returns the new ``x, y, heading, v``."""
    # floats throughout: one compiled specialization, whatever number types the caller has
    return bicycle_update(float(x), float(y), float(heading), float(v), float(accel),
                          float(steer), float(dt), tuple(p.bicycle))
