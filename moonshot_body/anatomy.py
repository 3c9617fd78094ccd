"""The body: a four-legged walker's published design, and the MuJoCo model built from it.

This module is the body's *blueprint*, what its owner knows of it (as a driver knows their
car's data sheet): :class:`Design` holds the nominal parameters, :class:`Changes` what may
have happened to one body (a damaged leg, a payload strapped on), :class:`Ground` the terrain
it stands on. :func:`build_model` turns them into a compiled ``mujoco.MjModel`` - the nominal
body through a template, every change as an edit of its ``mujoco.MjSpec`` - and
:func:`set_ground` puts the ground under it (grip, slope, stones) on the compiled model.

The env builds its body with the true changes; a planner builds its own model from
``Design()`` and ``Changes()`` (the body as it believes it to be) at its own time step. No
state of an episode lives here: the blueprint holds no random generator and no scenario.

The layout: a sphere torso; four legs on its diagonals (``fl``, ``fr``, ``bl``, ``br``), each
a hip that turns about the vertical (``hip``) and a knee that lifts the shin (``knee``); a
foot sphere at the end of each shin. Eight position servos, one per joint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

#: The legs, in the order of the action and observation slots.
LEGS = ("fl", "fr", "bl", "br")
#: The joints of each leg, in slot order.
LEG_JOINTS = ("hip", "knee")
#: Every joint by name, in slot order (``fl_hip, fl_knee, fr_hip, ...``).
JOINTS = tuple(f"{leg}_{j}" for leg in LEGS for j in LEG_JOINTS)
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


def _template(d: Design) -> str:
    """MJCF of the nominal body on flat ground (the ground is tilted by gravity, see
    :func:`set_ground`)."""
    lo, hi = d.knee_range
    legs = []
    for leg in LEGS:
        a = math.radians(LEG_ANGLES_DEG[leg])
        c, s = math.cos(a), math.sin(a)
        r = d.torso_radius
        reach = d.shin_length * d.shin_reach
        drop = d.shin_length * math.sqrt(1.0 - d.shin_reach**2)
        # the knee lifts the foot: rotation about the horizontal axis across the leg
        legs.append(f"""
      <body name="{leg}_thigh" pos="{r * c:.6f} {r * s:.6f} 0">
        <joint name="{leg}_hip" type="hinge" axis="0 0 1" range="{-d.hip_range} {d.hip_range}"/>
        <geom name="{leg}_thigh" type="capsule" size="{d.leg_radius}" mass="{d.thigh_mass}"
              fromto="0 0 0 {d.thigh_length * c:.6f} {d.thigh_length * s:.6f} 0"/>
        <body name="{leg}_shin" pos="{d.thigh_length * c:.6f} {d.thigh_length * s:.6f} 0">
          <joint name="{leg}_knee" type="hinge" axis="{s:.6f} {-c:.6f} 0" range="{lo} {hi}"/>
          <geom name="{leg}_shin" type="capsule" size="{d.leg_radius}" mass="{d.shin_mass * 0.7}"
                fromto="0 0 0 {reach * c:.6f} {reach * s:.6f} {-drop:.6f}"/>
          <geom name="{leg}_foot" type="sphere" size="{d.foot_radius}" mass="{d.shin_mass * 0.3}"
                pos="{reach * c:.6f} {reach * s:.6f} {-drop:.6f}" rgba="0.2 0.2 0.2 1"/>
        </body>
      </body>""")
    actuators = "\n".join(
        f'    <position name="{j}" joint="{j}" kp="{d.kp}" kv="{d.kv}" '
        f'forcerange="{-d.torque} {d.torque}"/>' for j in JOINTS)
    stones = "\n".join(
        f'    <geom name="stone{i}" type="box" size="{STONE_HALF} {STONE_HALF} 0.05" '
        f'pos="{100 + i} 100 -0.05" rgba="0.55 0.5 0.45 1" contype="1" conaffinity="0"/>'
        for i in range(N_STONES))
    return f"""
<mujoco model="body">
  <compiler angle="radian"/>
  <option timestep="0.005" integrator="implicitfast"/>
  <visual><global offwidth="640" offheight="480"/></visual>
  <default>
    <joint damping="{d.joint_damping}" armature="0.01" limited="true"/>
    <geom contype="0" conaffinity="1" condim="3" friction="{d.friction} 0.005 0.0001"
          rgba="0.85 0.55 0.25 1"/>
    <position ctrlrange="-10 10" forcelimited="true"/>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.32 0.36 0.4"
             rgb2="0.42 0.46 0.5" width="256" height="256"/>
    <material name="grid" texture="grid" texrepeat="20 20" reflectance="0.05"/>
  </asset>
  <worldbody>
    <light pos="0 0 6" dir="0 0 -1" directional="true"/>
    <geom name="floor" type="plane" size="40 40 0.1" material="grid" rgba="1 1 1 1" contype="1"
          conaffinity="0"/>
{stones}
    <site name="goal" type="cylinder" size="0.3 0.005" pos="0 0 0.005" rgba="0.1 0.8 0.2 0.6"/>
    <body name="torso" pos="0 0 {d.standing_height() + 0.02:.6f}">
      <freejoint name="root"/>
      <camera name="track" mode="trackcom" pos="0 -3.2 2.0" xyaxes="1 0 0 0 0.53 0.85"/>
      <geom name="torso" type="sphere" size="{d.torso_radius}" mass="{d.torso_mass}"/>
      <geom name="head" type="box" size="0.04 0.05 0.03" pos="{d.torso_radius} 0 0.03"
            mass="0.01" rgba="0.2 0.2 0.2 1"/>
{''.join(legs)}
    </body>
  </worldbody>
  <actuator>
{actuators}
  </actuator>
</mujoco>
"""


def body_spec(design: Design, changes: Changes | None = None,
              timestep: float | None = None) -> mujoco.MjSpec:
    """The ``MjSpec`` of ``design`` with ``changes`` edited in (not compiled).

    :param timestep: the physics step (default: the template's 5 ms).
    """
    spec = mujoco.MjSpec.from_string(_template(design))
    if timestep is not None:
        spec.option.timestep = float(timestep)
    c = changes or Changes()
    leg = c.leg
    if c.damage == "weak":
        for j in LEG_JOINTS:
            act = spec.actuator(f"{leg}_{j}")
            kp = design.kp * c.strength
            act.gainprm[0] = kp
            act.biasprm[1] = -kp
            act.biasprm[2] = -design.kv * c.strength
            act.forcerange = [-design.torque * c.strength, design.torque * c.strength]
    elif c.damage == "short":
        shin, foot = spec.geom(f"{leg}_shin"), spec.geom(f"{leg}_foot")
        end = np.asarray(foot.pos, dtype=float) * c.shin_scale
        shin.fromto = [0.0, 0.0, 0.0, *end]
        foot.pos = end
    elif c.damage == "missing":
        spec.delete(spec.actuator(f"{leg}_knee"))
        spec.delete(spec.body(f"{leg}_shin"))
    if c.payload_kg > 0:
        side = 0.09
        spec.body("torso").add_geom(
            name="payload", type=mujoco.mjtGeom.mjGEOM_BOX, size=[side, side, 0.04],
            pos=[0.0, 0.0, design.torso_radius + 0.03], mass=c.payload_kg,
            rgba=[0.3, 0.35, 0.7, 1.0], contype=0, conaffinity=1)
    return spec


def build_model(design: Design, changes: Changes | None = None,
                timestep: float | None = None) -> mujoco.MjModel:
    """The compiled model of ``design`` with ``changes`` (see :func:`body_spec`)."""
    return body_spec(design, changes, timestep).compile()


def set_ground(model: mujoco.MjModel, ground: Ground) -> None:
    """Put ``ground`` under ``model`` (in place): the grip on every geom (MuJoCo takes the
    larger of two touching geoms' coefficients, so feet and ground share it), the slope as
    gravity tilted by ``slope_deg`` (a plane inclined under upright gravity is the same
    world), and the stones where ``ground.stones`` puts them (a stone is a box sunk into the
    ground, its top ``height`` above it)."""
    model.geom_friction[:, 0] = float(ground.friction)
    t = math.radians(float(ground.slope_deg))
    g = 9.81
    model.opt.gravity[:] = (-g * math.sin(t) * math.cos(ground.uphill),
                            -g * math.sin(t) * math.sin(ground.uphill), -g * math.cos(t))
    first = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "stone0")
    stones = np.zeros((0, 3)) if ground.stones is None else np.asarray(ground.stones)
    for i in range(N_STONES):
        if i < len(stones):
            x, y, h = stones[i]
            model.geom_pos[first + i] = (x, y, h - model.geom_size[first + i, 2])
        else:  # unused stones lie far away, under the ground
            model.geom_pos[first + i] = (100.0 + i, 100.0, -1.0)


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

    def joints(self, vec: np.ndarray, adr: np.ndarray) -> np.ndarray:
        """The eight slots of ``vec`` (``qpos`` or ``qvel``; 0 where a joint is missing)."""
        return np.where(adr >= 0, vec[np.maximum(adr, 0)], 0.0)


def joint_strength(model: mujoco.MjModel) -> np.ndarray:
    """Each slot's servo torque limit in ``model`` (N m; 0 for a missing joint): how strong
    the body's legs are."""
    layout = Layout.of(model)
    out = np.zeros(len(JOINTS))
    for i, a in enumerate(layout.actuator):
        if a >= 0:
            out[i] = float(model.actuator_forcerange[a, 1])
    return out
