"""The body: a four-legged walker's published design, as its spec sheet gives it.

This module is the body's *blueprint*, what its owner knows of it (as a driver knows their
car's data sheet): :class:`Design` holds the nominal parameters, :class:`Changes` what may
have happened to one body (a damaged leg, a payload strapped on), :class:`Ground` the terrain
it stands on, :class:`Layout` where the named joints live in a compiled MuJoCo model. It
builds no model: the simulator's body is :mod:`.builder`'s (the env's alone), a planner's is
its own (``agents/body_model.py``). No state of an episode lives here: the blueprint holds
no random generator and no scenario.

The layout: a sphere torso; four legs on its diagonals (``fl``, ``fr``, ``bl``, ``br``), each
a hip that turns about the vertical (``hip``) and a knee that lifts the shin (``knee``); a
foot sphere at the end of each shin. Eight position servos, one per joint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

#: The legs, in the order of the action and observation slots.
LEGS = ("fl", "fr", "bl", "br")
#: The joints of each leg, in slot order.
LEG_JOINTS = ("hip", "knee")
#: Every joint by name, in slot order (``fl_hip, fl_knee, fr_hip, ...``).
JOINTS = tuple(f"{leg}_{j}" for leg in LEGS for j in LEG_JOINTS)
#: Sizes of the state a view reports, whatever the body lost: ``qpos`` (the torso's free
#: joint, 7 numbers, then an angle per joint slot) and ``qvel`` (6, then a rate per slot).
NQ, NV = 7 + len(JOINTS), 6 + len(JOINTS)
#: The numbers of the ground as seen that a learning agent logs with each walk: grip, slope,
#: uphill direction.
GROUND_LOGGED = ("friction", "slope_deg", "uphill")
#: The leg's direction from the torso's centre, degrees counterclockwise from the front (+x).
LEG_ANGLES_DEG = {"fl": 45.0, "fr": -45.0, "bl": 135.0, "br": -135.0}
#: Stones on the ground (static boxes whose height sets the terrain's roughness).
N_STONES = 40
STONE_HALF = 0.12  # m, half the side of a stone
STONE_FIELD = 5.0  # m, stones lie within this distance of the start on both axes
#: The kinds of damage a leg may suffer (:attr:`Changes.damage`).
DAMAGES = ("none", "weak", "short", "missing")


@dataclass(frozen=True)
class Design:
    """The nominal body (SI units; angles in radians).

    :param torso_radius: radius of the torso sphere.
    :param torso_mass: mass of the torso.
    :param thigh_length: horizontal length from the hip to the knee.
    :param shin_length: length of the shin from the knee to the foot's centre.
    :param shin_reach: how far the shin leans outwards, as a fraction of its length.
    :param leg_radius: radius of the leg capsules.
    :param foot_radius: radius of the foot spheres.
    :param thigh_mass: mass of a thigh.
    :param shin_mass: mass of a shin (with its foot).
    :param kp: stiffness of each joint's position servo (N m / rad).
    :param kv: damping of each servo (N m s / rad).
    :param torque: torque limit of each servo (N m).
    :param joint_damping: passive damping of each joint.
    :param hip_range: the hip turns within +-``hip_range``.
    :param knee_range: the knee's range ``(low, high)``; positive lifts the foot.
    :param friction: the ground's nominal grip (sliding friction coefficient).
    """

    torso_radius: float = 0.15
    torso_mass: float = 4.0
    thigh_length: float = 0.2
    shin_length: float = 0.38
    shin_reach: float = 0.3
    leg_radius: float = 0.035
    foot_radius: float = 0.04
    thigh_mass: float = 0.3
    shin_mass: float = 0.3
    kp: float = 50.0
    kv: float = 1.0
    torque: float = 15.0
    joint_damping: float = 0.5
    hip_range: float = 0.6
    knee_range: tuple[float, float] = (-0.5, 0.9)
    friction: float = 1.0

    def as_dict(self) -> dict:
        """The design as plain numbers (for a perception view and the docs)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}

    def targets(self, action: np.ndarray) -> np.ndarray:
        """Joint position targets (rad) of actions in [-1, 1] (``(..., 8)``): each joint's
        range mapped linearly."""
        lo, hi = self.joint_ranges()
        a = np.clip(action, -1.0, 1.0)
        return lo + (a + 1.0) * 0.5 * (hi - lo)

    def joint_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` of the eight joints, in slot order."""
        lo = np.array([-self.hip_range, self.knee_range[0]] * len(LEGS))
        hi = np.array([self.hip_range, self.knee_range[1]] * len(LEGS))
        return lo, hi

    def standing_height(self) -> float:
        """Height of the torso's centre when it stands with every joint at 0."""
        drop = self.shin_length * math.sqrt(1.0 - self.shin_reach**2)
        return drop + self.foot_radius


def design_of(numbers: Mapping[str, Any]) -> Design:
    """The design of a view's ``design`` numbers (:meth:`Design.as_dict`; lists back to
    tuples)."""
    blueprint: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in numbers.items()}
    return Design(**blueprint)


@dataclass(frozen=True)
class Changes:
    """What happened to one body, against its design.

    :param damage: ``"none"``, ``"weak"`` (the leg's servos at ``strength`` of their
        stiffness and torque), ``"short"`` (its shin ``shin_scale`` as long) or
        ``"missing"`` (its shin and foot gone: a stump of thigh).
    :param leg: which leg is damaged (one of :data:`LEGS`).
    :param strength: servo strength of a weak leg (fraction).
    :param shin_scale: shin length of a short leg (fraction).
    :param payload_kg: mass strapped on top of the torso.
    """

    damage: str = "none"
    leg: str = "fl"
    strength: float = 0.35
    shin_scale: float = 0.5
    payload_kg: float = 0.0

    def __post_init__(self) -> None:
        if self.damage not in DAMAGES:
            raise ValueError(f"invalid damage {self.damage!r}; choose one of {list(DAMAGES)}")
        if self.leg not in LEGS:
            raise ValueError(f"invalid leg {self.leg!r}; choose one of {list(LEGS)}")
        if self.payload_kg < 0:
            raise ValueError(f"payload_kg must be >= 0, got {self.payload_kg}")


@dataclass
class Ground:
    """The terrain under the body.

    :param friction: sliding friction coefficient of the ground (and the feet).
    :param slope_deg: inclination of the ground (degrees).
    :param uphill: direction of steepest ascent (radians from +x).
    :param stones: ``(N_STONES, 3)``: each stone's centre ``x, y`` and height above the
        ground (m); ``None``: no stones.
    """

    friction: float = 1.0
    slope_deg: float = 0.0
    uphill: float = 0.0
    stones: np.ndarray | None = field(default=None)


@dataclass(frozen=True)
class Layout:
    """Where each of the eight nominal joints lives in one compiled model (a missing shin
    has no knee): addresses in ``qpos``/``qvel``, the actuator of each slot, or -1."""

    qpos: np.ndarray
    qvel: np.ndarray
    actuator: np.ndarray

    @classmethod
    def of(cls, model: mujoco.MjModel) -> Layout:
        qpos, qvel, act = [], [], []
        for name in JOINTS:
            j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            qpos.append(int(model.jnt_qposadr[j]) if j >= 0 else -1)
            qvel.append(int(model.jnt_dofadr[j]) if j >= 0 else -1)
            act.append(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name))
        return cls(np.array(qpos), np.array(qvel), np.array(act))

    def joints(self, vec: np.ndarray, adr: np.ndarray,
               absent: float | np.ndarray = 0.0) -> np.ndarray:
        """The eight slots of ``vec`` (``qpos`` or ``qvel``); ``absent`` (a number or eight)
        where a joint is missing."""
        return np.where(adr >= 0, vec[np.maximum(adr, 0)], absent)
