"""The body planner's own MuJoCo model of the body: built by this module from the design
numbers of the perception view alone (segment lengths, masses, joint ranges, servo gains and
torque: what the robot's spec sheet says), never from the simulator's builder.

It is a simplified body, written the way someone reading the spec sheet would write it:

* every leg is two capsules - a thigh, and a shin whose rounded end *is* the foot (the
  shin's radius is the foot's), the shin's and foot's mass on the one capsule;
* the torso is a sphere of the published radius and mass (no head, no payload: a payload is
  not on the spec sheet);
* its own numerics: a coarser time step (:data:`TIMESTEP` given by the planner), a short
  constraint-solver budget, MuJoCo's default contact softness, a little joint damping and
  rotor inertia of its own choosing (the spec sheet gives the servos, not the joints'
  friction), MuJoCo's default torsional and rolling friction, the body's parts touching only
  the ground and the stones;
* the ground as the view sees it: the grip of the surface's class (its nominal coefficient),
  the slope as gravity tilted by it, and only the stones the view shows (those near the
  body), each a box of the view's footprint reaching from under the ground to its height.

Its joints and servos carry the nominal names (``fl_hip``, ...), so the slots of an action map
onto them as onto any body of the design (:class:`~moonshot_body.anatomy.Layout`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from ..anatomy import JOINTS, LEG_ANGLES_DEG, LEGS, Design

#: Stone slots of the planner's model: more than a sensor range ever shows (the view's
#: stones beyond these are the farthest, dropped).
STONE_SLOTS = 24
#: The planner's own choices for what the spec sheet does not say (see the module docstring).
JOINT_DAMPING = 0.2  # N m s / rad
ARMATURE = 0.02  # kg m^2
SOLVER_ITERATIONS = 8
STONE_DEPTH = 0.1  # m, how far the planner's stone boxes reach under the ground


@dataclass(frozen=True)
class Belief:
    """What a learner believes has changed in the body it drives, in the planner's model
    family: each leg's servo ``strength`` (fraction of the spec sheet's stiffness, damping
    and torque) and ``shin`` length (fraction of the spec sheet's; its mass shrinks with it,
    so a shin near 0 is a shin gone), and a ``payload_kg`` strapped on top of the torso.
    The default is the intact body of the spec sheet (the planner's)."""

    strength: tuple[float, ...] = (1.0,) * len(LEGS)
    shin: tuple[float, ...] = (1.0,) * len(LEGS)
    payload_kg: float = 0.0

    #: The bounds a fit keeps a belief within (a shin never quite 0: MuJoCo needs a body).
    LOW = (0.05, 0.05, 0.0)
    HIGH = (1.0, 1.0, 10.0)

    def vector(self) -> np.ndarray:
        """The nine numbers: four strengths, four shins, the payload."""
        return np.array([*self.strength, *self.shin, self.payload_kg])

    @classmethod
    def of(cls, vec: np.ndarray) -> Belief:
        """The belief of nine numbers (clipped to the bounds)."""
        v = np.clip(np.asarray(vec, dtype=np.float64), cls.lows(), cls.highs())
        n = len(LEGS)
        return cls(tuple(float(x) for x in v[:n]), tuple(float(x) for x in v[n:2 * n]),
                   float(v[2 * n]))

    @classmethod
    def lows(cls) -> np.ndarray:
        n = len(LEGS)
        return np.array([cls.LOW[0]] * n + [cls.LOW[1]] * n + [cls.LOW[2]])

    @classmethod
    def highs(cls) -> np.ndarray:
        n = len(LEGS)
        return np.array([cls.HIGH[0]] * n + [cls.HIGH[1]] * n + [cls.HIGH[2]])


INTACT = Belief()


def _mjcf(d: Design, timestep: float, stone_half: float, belief: Belief = INTACT) -> str:
    """The planner's MJCF of the body ``d`` as ``belief`` has it (the intact body by
    default) on flat ground, with empty stone slots."""
    lo, hi = d.knee_range
    legs = []
    for i, leg in enumerate(LEGS):
        shin = d.shin_length * belief.shin[i]
        drop = shin * math.sqrt(1.0 - d.shin_reach**2)
        reach = shin * d.shin_reach
        a = math.radians(LEG_ANGLES_DEG[leg])
        c, s = math.cos(a), math.sin(a)
        hip = (d.torso_radius * c, d.torso_radius * s)
        knee = (d.thigh_length * c, d.thigh_length * s)
        foot = (reach * c, reach * s, -drop)
        legs.append(f"""
      <body name="{leg}_thigh" pos="{hip[0]:.6f} {hip[1]:.6f} 0">
        <joint name="{leg}_hip" axis="0 0 1" range="{-d.hip_range} {d.hip_range}"/>
        <geom type="capsule" size="{d.leg_radius}" mass="{d.thigh_mass}"
              fromto="0 0 0 {knee[0]:.6f} {knee[1]:.6f} 0"/>
        <body name="{leg}_shin" pos="{knee[0]:.6f} {knee[1]:.6f} 0">
          <joint name="{leg}_knee" axis="{s:.6f} {-c:.6f} 0" range="{lo} {hi}"/>
          <geom name="{leg}_foot" type="capsule" size="{d.foot_radius}"
                mass="{d.shin_mass * belief.shin[i]}"
                fromto="0 0 0 {foot[0]:.6f} {foot[1]:.6f} {foot[2]:.6f}"/>
        </body>
      </body>""")
    servos = "\n".join(
        f'    <position joint="{j}" name="{j}" kp="{d.kp * k}" kv="{d.kv * k}" '
        f'forcelimited="true" forcerange="{-d.torque * k} {d.torque * k}"/>'
        for j, k in zip(JOINTS, np.repeat(belief.strength, len(JOINTS) // len(LEGS)),
                        strict=True))
    # a payload as the owner would picture it: a point of mass on top of the torso
    payload = (f'<geom type="sphere" size="0.03" mass="{belief.payload_kg}" contype="0" '
               f'conaffinity="0" pos="0 0 {d.torso_radius}"/>' if belief.payload_kg > 0 else "")
    stones = "\n".join(
        f'    <geom name="rock{i}" class="ground" type="box" '
        f'size="{stone_half} {stone_half} {STONE_DEPTH / 2}" pos="{200 + i} 0 -1"/>'
        for i in range(STONE_SLOTS))
    return f"""
<mujoco model="planner body">
  <compiler angle="radian"/>
  <option timestep="{timestep}" integrator="implicitfast" iterations="{SOLVER_ITERATIONS}"
          ls_iterations="4"/>
  <default>
    <!-- the body's parts touch the ground and the stones, never each other -->
    <joint type="hinge" damping="{JOINT_DAMPING}" armature="{ARMATURE}" limited="true"/>
    <geom condim="3" friction="1 0.005 0.0001" contype="2" conaffinity="1"/>
    <default class="ground"><geom contype="1" conaffinity="2"/></default>
  </default>
  <worldbody>
    <geom name="ground" class="ground" type="plane" size="50 50 0.1"/>
{stones}
    <body name="torso" pos="0 0 {d.standing_height() + 0.02:.6f}">
      <freejoint/>
      <geom type="sphere" size="{d.torso_radius}" mass="{d.torso_mass}"/>
      {payload}
{''.join(legs)}
    </body>
  </worldbody>
  <actuator>
{servos}
  </actuator>
</mujoco>
"""


def build(design: Design, timestep: float, stone_half: float,
          belief: Belief = INTACT) -> mujoco.MjModel:
    """The planner's compiled model of ``design`` at ``timestep`` (s), with stone slots of
    ``stone_half`` (m, half a stone's side, from the view): the intact body, or the body as
    ``belief`` has it (a learner's)."""
    return mujoco.MjModel.from_xml_string(_mjcf(design, timestep, stone_half, belief))


def place_ground(model: mujoco.MjModel, ground: Mapping[str, Any],
                 near: tuple[float, float] = (0.0, 0.0)) -> None:
    """Put the ground of a view (``friction``, ``slope_deg``, ``uphill``, ``stones``) under
    the planner's ``model`` (in place); when more stones are seen than the model has slots,
    those nearest ``near`` (x, y) are kept."""
    # every geom carries the grip: MuJoCo takes the larger of two touching geoms'
    model.geom_friction[:, 0] = float(ground["friction"])
    tilt, up = math.radians(float(ground["slope_deg"])), float(ground["uphill"])
    g = 9.81
    model.opt.gravity[:] = (-g * math.sin(tilt) * math.cos(up),
                            -g * math.sin(tilt) * math.sin(up), -g * math.cos(tilt))
    stones = np.asarray(ground["stones"], dtype=np.float64).reshape(-1, 3)
    if len(stones) > STONE_SLOTS:
        order = np.argsort(np.hypot(stones[:, 0] - near[0], stones[:, 1] - near[1]))
        stones = stones[order[:STONE_SLOTS]]
    first = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "rock0")
    for i in range(STONE_SLOTS):
        if i < len(stones):
            x, y, h = stones[i]
            model.geom_pos[first + i] = (x, y, h - STONE_DEPTH / 2)
        else:  # an empty slot lies far away, under the ground
            model.geom_pos[first + i] = (200.0 + i, 0.0, -1.0)
