"""The simulator's body: the MuJoCo model the env runs, built from the body's design and what
happened to it (:class:`~.anatomy.Changes`), and the ground put under it.

The env's alone: a planner builds its own model of the body (``agents/body_model.py``); only
the labelled oracle (``agents/oracle_model.py``) may build the simulator's.
:func:`build_model` turns a design and its changes into a compiled ``mujoco.MjModel`` - the
nominal body through a template, every change as an edit of its ``mujoco.MjSpec`` - and
:func:`set_ground` puts the ground under it (grip, slope, stones) on the compiled model.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from .anatomy import (
    JOINTS,
    LEG_ANGLES_DEG,
    LEG_JOINTS,
    LEGS,
    N_STONES,
    STONE_HALF,
    Changes,
    Design,
    Ground,
    Layout,
)


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


def joint_strength(model: mujoco.MjModel) -> np.ndarray:
    """Each slot's servo torque limit in ``model`` (N m; 0 for a missing joint): how strong
    the body's legs are."""
    layout = Layout.of(model)
    out = np.zeros(len(JOINTS))
    for i, a in enumerate(layout.actuator):
        if a >= 0:
            out[i] = float(model.actuator_forcerange[a, 1])
    return out
