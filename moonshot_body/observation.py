"""The body's observation, declared once: what its joint encoders and inertial unit measure,
and where the goal lies, slot by slot. The env (:mod:`.env`) writes it; an agent reads its
slots by name (``OBS_LAYOUT["goal_direction"]``) without importing the simulator.
"""

from __future__ import annotations

import math

import numpy as np

#: The observation, slot by slot: (name, size, unit, bound, meaning); each slot lies in
#: [-bound, bound] (clipped there; a joint's angle never leaves it). Declared once: the Box,
#: the offsets (``BodyWalkEnv.observation_layout``) and the docstring's table come from it.
OBSERVATION: tuple[tuple[str, int, str, float, str], ...] = (
    ("joint_angles", 8, "rad", math.pi, "hip and knee of fl, fr, bl, br (a missing joint "
                                        "reads its start angle)"),
    ("joint_velocities", 8, "rad/s", 100.0, "same order"),
    ("gravity", 3, "1", 1.0, "the direction of gravity in the torso's frame (tilt and slope)"),
    ("velocity", 3, "m/s", 20.0, "the torso's velocity in its own frame"),
    ("angular_velocity", 3, "rad/s", 100.0, "the torso's angular velocity in its own frame"),
    ("goal_direction", 2, "1", 1.0, "unit vector to the goal in the torso's heading frame "
                                    "(x ahead, y left)"),
    ("goal_distance", 1, "m", 100.0, "distance to the goal on the ground"),
    ("height", 1, "m", 10.0, "height of the torso's centre above the ground"),
)
OBS_SIZE = sum(row[1] for row in OBSERVATION)


def _layout() -> dict[str, slice]:
    out, i = {}, 0
    for name, n, *_ in OBSERVATION:
        out[name] = slice(i, i + n)
        i += n
    return out


OBS_LAYOUT = _layout()
OBS_BOUND = np.concatenate([np.full(row[1], row[3], np.float32) for row in OBSERVATION])
