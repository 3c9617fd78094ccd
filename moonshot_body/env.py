"""BodyWalk-v0: a four-legged body walks to a goal on the ground; a fall is a death."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from moonshot.envs.display import human_window
from moonshot.envs.docs import fill_doc
from moonshot.envs.perception import View, check_perception

from .anatomy import (
    DAMAGES,
    JOINTS,
    LEGS,
    N_STONES,
    STONE_FIELD,
    STONE_HALF,
    Changes,
    Design,
    Ground,
    Layout,
)
from .builder import build_model, set_ground
from .observation import OBS_BOUND, OBS_LAYOUT, OBS_SIZE, OBSERVATION

#: Control period (s): 50 Hz, four physics steps of 5 ms each.
CONTROL_DT = 0.02
SUBSTEPS = 4
#: The goal is reached within this distance of the torso's centre (m, on the ground).
GOAL_RADIUS = 0.3
#: A fall: the torso's centre below this height (m), or its up axis tilted past ~73 degrees.
FALL_HEIGHT = 0.22
FALL_UPRIGHT = 0.3
#: The ground's grip as the body sees it: ``(class, lowest coefficient, nominal coefficient)``,
#: slipperiest first; a ground of friction ``mu`` is the last class whose lowest is <= ``mu``.
#: The honest view gets the class and its nominal coefficient, not the true one (as one sees
#: ice and guesses its grip); the oracle view the true coefficient.
SURFACES = (("icy", 0.0, 0.12), ("muddy", 0.25, 0.4), ("damp", 0.5, 0.65), ("dry", 0.8, 0.9))
#: The honest view shows the stones whose centre lies within this distance (m, on the
#: ground) of the torso's centre, refreshed every step: what the body's eyes reach.
SENSOR_RANGE = 1.5
#: Reward terms: per metre of progress towards the goal, on arrival, on a fall, per unit of
#: squared action (a small cost of effort).
PROGRESS_REWARD = 5.0
ARRIVAL_REWARD = 10.0
FALL_PENALTY = 10.0
EFFORT_COST = 0.002


#: The split distributions: goal distance, goal bearing from the heading (either side),
#: stone height.
SPLITS = {
    "train": {"goal_distance": (1.0, 3.0), "goal_bearing_deg": (0.0, 90.0),
              "roughness": (0.0, 0.03)},
    "new": {"goal_distance": (3.0, 4.5), "goal_bearing_deg": (100.0, 180.0),
            "roughness": (0.04, 0.07)},
}


UNITS = {"goal_distance": "m", "goal_bearing_deg": "degrees", "roughness": "m"}


def surface_of(friction: float) -> tuple[str, float]:
    """``(class, nominal coefficient)`` of a ground of grip ``friction`` (:data:`SURFACES`)."""
    name, nominal = SURFACES[0][0], SURFACES[0][2]
    for cls, low, nom in SURFACES:
        if friction >= low:
            name, nominal = cls, nom
    return name, nominal


def _table() -> str:
    rows = ["| slots | name | unit | bound | meaning |", "|---|---|---|---|---|"]
    for name, n, unit, bound, meaning in OBSERVATION:
        s = OBS_LAYOUT[name]
        slots = f"{s.start}-{s.stop - 1}" if n > 1 else f"{s.start}"
        rows.append(f"| {slots} | ``{name}`` | {unit} | {bound:.4g} | {meaning} |")
    return "\n".join(rows)


class BodyView(View):
    """What the body knows (``env.unwrapped.perceive()``): its ``design`` (the published
    blueprint, :class:`~moonshot_body.anatomy.Design` as a dict), the ``ground`` it sees
    (``surface``: its class, ``friction``: the class's nominal grip, not the true one,
    ``slope_deg``, ``uphill`` in radians, ``stone_half``: half a stone's side in m,
    ``stones``: x, y, height of each stone within ``SENSOR_RANGE`` m of the torso, refreshed
    every step), the ``goal`` (x, y on the ground), its own ``state`` (``qpos``: torso
    position and orientation quaternion then the eight joint angles; ``qvel``: torso velocity
    (world frame), angular velocity (torso frame), the eight joint velocities; a missing
    joint reads as its encoder did at the start, velocity 0), refreshed every step, and the
    ``control_dt``. The ``oracle`` view holds the true ground (exact grip, every stone) and
    adds ``changes``: what happened to this body (damage, which leg, payload), which no
    sensor shows."""

    _fields = ("design", "ground", "goal", "state", "control_dt", "changes")


@dataclass(frozen=True)
class Scenario:
    """One episode's world, a pure function of its id and the settings
    (:func:`draw_scenario`)."""

    scenario_id: int
    start_yaw: float
    joint_noise: np.ndarray
    goal: np.ndarray
    ground: Ground
    changes: Changes


def _range(value: float | Sequence[float], name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return float(value), float(value)
    lo, hi = (float(v) for v in value)
    if not math.isfinite(lo) or not math.isfinite(hi) or lo > hi:
        raise ValueError(f"invalid {name}={list(value)!r}: expected [low, high], low <= high")
    return lo, hi


def draw_scenario(scenario_id: int, settings: dict) -> Scenario:
    """The scenario ``scenario_id`` under ``settings`` (a :class:`BodyWalkEnv`'s
    configuration): start heading, goal, stones, slope direction, the damaged leg."""
    rng = np.random.default_rng([int(scenario_id), 31])
    yaw = float(rng.uniform(-math.pi, math.pi))
    noise = rng.uniform(-0.05, 0.05, len(JOINTS))
    dist = rng.uniform(*settings["goal_distance"])
    lo, hi = settings["goal_bearing_deg"]
    bearing = math.radians(rng.uniform(lo, hi)) * (1.0 if rng.random() < 0.5 else -1.0)
    goal = dist * np.array([math.cos(yaw + bearing), math.sin(yaw + bearing)])
    rough_lo, rough_hi = settings["roughness"]
    heights = rng.uniform(rough_lo, rough_hi, N_STONES)
    xy = rng.uniform(-STONE_FIELD, STONE_FIELD, (N_STONES, 2))
    # keep the start clear: a stone under a foot at reset would start the body tilted
    near = np.hypot(xy[:, 0], xy[:, 1]) < 0.8
    xy[near] *= 0.8 / np.hypot(xy[near, 0], xy[near, 1])[:, None] + 1.0
    slope = rng.uniform(*settings["slope_deg"])
    uphill = float(rng.uniform(-math.pi, math.pi))
    friction = rng.uniform(*settings["friction"])
    leg = settings["damage_leg"] or LEGS[int(rng.integers(len(LEGS)))]
    ground = Ground(friction=float(friction), slope_deg=float(slope), uphill=uphill,
                    stones=np.column_stack([xy, heights]))
    changes = Changes(damage=settings["damage"], leg=leg,
                      payload_kg=float(settings["payload_kg"]))
    return Scenario(int(scenario_id), yaw, noise, goal, ground, changes)


class BodyWalkEnv(gym.Env):
    """
    ## Description
    A four-legged body (a sphere torso, four legs of two joints each, simulated by MuJoCo)
    stands on the ground; a goal is marked a few metres away. Walk to it. Falling over - the
    torso on the ground or tipped past ~73 degrees - is a death. The body may not be the one
    it was built as: a leg may be weak, short or missing, a payload may be strapped on (the
    ``damage`` and ``payload`` settings), and the ground may be slippery or inclined
    (``friction``, ``slope_deg``).

    The physics steps every 5 ms; the body is controlled at $control_hz Hz.

    ## Action Space
    ``Box(-1, 1, (8,), float32)``: the position targets of the eight joint servos, in the
    order ``$joints``; -1 .. 1 maps linearly onto each joint's range (hip +-0.6 rad about
    the vertical, knee -0.5 .. 0.9 rad, positive lifts the foot). The servos are stiff
    springs with a torque limit (15 N m): a target is where the joint is pulled, not where
    it goes.

    ## Observation Space
    ``Box($obs_size,)`` float32, in the body's own frame (what its joint encoders and an
    inertial unit measure), plus where the goal lies:

    $observation_table

    ## Rewards
    ``$progress x`` the metres gained towards the goal in the step, ``+$arrival`` on arrival,
    ``-$fall`` on a fall, minus ``$effort x |action|^2``.

    ## Starting State
    Standing at the origin with every joint near 0 (+-0.05 rad), heading uniform. The goal
    lies ``goal_distance`` metres away at ``goal_bearing_deg`` from the heading (either
    side), and stones of heights in ``roughness`` lie scattered within $field m.
    ``split="train"``: $train. ``split="new"`` (held out): $new.
    ``reset(options={"scenario_id": k})`` replays scenario ``k`` (the ``map_id`` of the logs).

    ## Episode End
    Terminated on arrival (torso within $goal_radius m of the goal on the ground: ``info
    ["outcome"] = "arrived"``, ``is_success``) or on a fall (``"fell"``, ``info["death"]``).
    Truncated after ``time_limit`` seconds (``"timeout"``): the env is its own time limit
    (registered without ``max_episode_steps``, so any ``time_limit`` ends with its outcome;
    a ``max_episode_steps`` passed to ``gymnasium.make`` below it would cut walks without
    one). Every step's ``info`` holds
    ``map_id``, ``split``, ``is_success``, ``death`` and ``goal_distance`` (m).

    ## Arguments
    ``gymnasium.make("moonshot/BodyWalk-v0", split="train", render_mode=None, time_limit=20.0,
    goal_distance=None, goal_bearing_deg=None, roughness=None, friction=1.0, slope_deg=0.0,
    damage="none", damage_leg=None, payload_kg=0.0)``. ``None`` takes the split's range;
    a number or ``[low, high]`` overrides it. ``damage`` is one of $damages (a leg at 35% of
    its servos' strength, its shin half as long, its shin gone); ``damage_leg`` one of
    ``fl, fr, bl, br`` or drawn per scenario. ``env.unwrapped.perceive(mode)`` returns the
    :class:`BodyView` a planner gets. ``render_mode="rgb_array"``: ``render()`` returns the
    frame (the 3D view of the body following it); ``"human"``: every ``reset`` and ``step``
    shows it in a matplotlib window; without a display the env warns and runs headless.

    ## Version History
    * v0: first version (MuJoCo 3.x/4.x).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 50}  # a frame per step
    observation_layout = OBS_LAYOUT

    def __init__(self, split: str = "train", render_mode: str | None = None,
                 time_limit: float = 20.0,
                 goal_distance: float | Sequence[float] | None = None,
                 goal_bearing_deg: float | Sequence[float] | None = None,
                 roughness: float | Sequence[float] | None = None,
                 friction: float | Sequence[float] = 1.0,
                 slope_deg: float | Sequence[float] = 0.0,
                 damage: str = "none", damage_leg: str | None = None,
                 payload_kg: float = 0.0):
        if split not in SPLITS:
            raise ValueError(f"invalid split={split!r}; choose one of {list(SPLITS)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"invalid render_mode={render_mode!r}; choose None or one of "
                             f"{self.metadata['render_modes']}")
        if damage not in DAMAGES:
            raise ValueError(f"invalid damage={damage!r}; choose one of {list(DAMAGES)}")
        if damage_leg is not None and damage_leg not in LEGS:
            raise ValueError(f"invalid damage_leg={damage_leg!r}; choose None or one of "
                             f"{list(LEGS)}")
        if not float(time_limit) > 0:
            raise ValueError(f"time_limit must be > 0 s, got {time_limit!r}")
        if not float(payload_kg) >= 0:
            raise ValueError(f"payload_kg must be >= 0, got {payload_kg!r}")
        given = {"goal_distance": goal_distance, "goal_bearing_deg": goal_bearing_deg,
                 "roughness": roughness}
        self.split, self.render_mode = split, render_mode
        self.time_limit = float(time_limit)
        self.settings: dict[str, Any] = {
            **{k: _range(v if v is not None else SPLITS[split][k], k) for k, v in given.items()},
            "friction": _range(friction, "friction"), "slope_deg": _range(slope_deg, "slope_deg"),
            "damage": damage, "damage_leg": damage_leg, "payload_kg": float(payload_kg)}
        if self.settings["friction"][0] <= 0:
            raise ValueError(f"friction must be > 0, got {friction!r}")
        self.max_steps = int(round(self.time_limit / CONTROL_DT))
        self.design = Design()
        self.action_space = spaces.Box(-1.0, 1.0, (len(JOINTS),), np.float32)
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (OBS_SIZE,), np.float32)
        self._models: dict[Changes, tuple[mujoco.MjModel, Layout]] = {}
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self.scenario: Scenario | None = None
        self._views: dict[str, BodyView] = {}
        self._renderer: Any = None
        # Without a display, human mode runs headless (with a warning): moonshot.envs.display.
        self._window = render_mode == "human" and human_window("BodyWalk")
        self._viewer: Any = None
        self._steps = 0
        self._dist = 0.0

    @classmethod
    def default_config(cls) -> dict:
        """The settings and their defaults (``None``: the split's range)."""
        return {"split": "train", "time_limit": 20.0, "goal_distance": None,
                "goal_bearing_deg": None, "roughness": None, "friction": 1.0,
                "slope_deg": 0.0, "damage": "none", "damage_leg": None, "payload_kg": 0.0}

    # --- episode ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"scenario_id"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; known: ['scenario_id']")
        sid = int(options["scenario_id"]) if "scenario_id" in options else \
            int(self.np_random.integers(2**31 - 1))
        sc = draw_scenario(sid, self.settings)
        self.scenario = sc
        if sc.changes not in self._models:
            model = build_model(self.design, sc.changes)
            self._models[sc.changes] = (model, Layout.of(model))
        model, self.layout = self._models[sc.changes]
        # the slots that drive a servo (a missing knee has none), and their actuators
        self._driven = np.flatnonzero(self.layout.actuator >= 0)
        self._driven_act = self.layout.actuator[self._driven]
        if model is not self.model:
            self.model, self.data = model, mujoco.MjData(model)
            self._renderer = None
        data = self.data
        assert data is not None
        set_ground(model, sc.ground)
        model.site_pos[0, :2] = sc.goal
        mujoco.mj_resetData(model, data)
        data.qpos[3:7] = (math.cos(sc.start_yaw / 2), 0.0, 0.0, math.sin(sc.start_yaw / 2))
        for i, adr in enumerate(self.layout.qpos):
            if adr >= 0:
                data.qpos[adr] = sc.joint_noise[i]
        data.ctrl[:] = 0.0
        mujoco.mj_forward(model, data)
        self._steps = 0
        self._dist = self._goal_distance()
        for view in self._views.values():
            self._refresh(view, episode=True)
        if self.render_mode == "human":
            self.render()
        return self._obs(), {"map_id": sid, "split": self.split, "is_success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.data is None or self.model is None or self.scenario is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (len(JOINTS),):
            raise ValueError(f"action must have shape ({len(JOINTS)},), got {np.shape(action)}")
        if not np.isfinite(a).all():
            raise ValueError(f"action must be finite, got {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        targets = self.design.targets(a)
        self.data.ctrl[self._driven_act] = targets[self._driven]
        mujoco.mj_step(self.model, self.data, SUBSTEPS)
        self._steps += 1
        dist = self._goal_distance()
        reward = PROGRESS_REWARD * (self._dist - dist) - EFFORT_COST * float(a @ a)
        self._dist = dist
        height = float(self.data.qpos[2])
        upright = float(self.data.xmat[1, 8])  # the torso's up axis, vertical component
        arrived = dist < GOAL_RADIUS
        fell = not arrived and (height < FALL_HEIGHT or upright < FALL_UPRIGHT)
        truncated = not (arrived or fell) and self._steps >= self.max_steps
        info = {"map_id": self.scenario.scenario_id, "split": self.split,
                "is_success": arrived, "death": fell, "goal_distance": dist}
        if arrived:
            reward += ARRIVAL_REWARD
            info["outcome"] = "arrived"
        elif fell:
            reward -= FALL_PENALTY
            info["outcome"] = "fell"
        elif truncated:
            info["outcome"] = "timeout"
        for view in self._views.values():
            self._refresh(view)
        if self.render_mode == "human":
            self.render()
        return self._obs(), float(reward), arrived or fell, truncated, info

    def _goal_distance(self) -> float:
        assert self.data is not None and self.scenario is not None
        g = self.scenario.goal
        return math.hypot(g[0] - self.data.qpos[0], g[1] - self.data.qpos[1])

    def _obs(self) -> np.ndarray:
        d = self.data
        assert d is not None and self.model is not None and self.scenario is not None
        rot = d.xmat[1].reshape(3, 3)  # torso -> world
        qvel = d.qvel
        gravity = self.model.opt.gravity
        to_goal = self.scenario.goal - d.qpos[:2]
        heading = math.atan2(rot[1, 0], rot[0, 0])
        c, s = math.cos(heading), math.sin(heading)
        dist = math.hypot(to_goal[0], to_goal[1])
        gx, gy = (c * to_goal[0] + s * to_goal[1], -s * to_goal[0] + c * to_goal[1])
        lay, at = self.layout, OBS_LAYOUT
        out = np.empty(OBS_SIZE, np.float32)
        # a missing joint's encoder holds its reading at the start: a dead slot reading
        # exactly 0 would tell the damage before the body moves
        out[at["joint_angles"]] = lay.joints(d.qpos, lay.qpos, self.scenario.joint_noise)
        out[at["joint_velocities"]] = lay.joints(qvel, lay.qvel)
        out[at["gravity"]] = rot.T @ (gravity / np.linalg.norm(gravity))
        out[at["velocity"]] = rot.T @ qvel[0:3]  # a free joint's is in the world frame
        out[at["angular_velocity"]] = qvel[3:6]  # ...its angular one in the body's
        out[at["goal_direction"]] = (gx / dist, gy / dist) if dist > 1e-9 else (1.0, 0.0)
        out[at["goal_distance"]] = dist
        out[at["height"]] = d.qpos[2]
        return np.clip(out, -OBS_BOUND, OBS_BOUND, out=out)

    # --- what an agent may know ---------------------------------------------------------
    def perceive(self, mode: str = "honest") -> BodyView:
        """The planner's view of this episode (see :class:`BodyView`), refreshed by every
        ``reset`` and ``step``."""
        if self.scenario is None:
            raise RuntimeError("call reset() before perceive()")
        if check_perception(mode) not in self._views:
            view = BodyView(mode)
            self._refresh(view, episode=True)
            self._views[mode] = view
        return self._views[mode]

    def _refresh(self, view: BodyView, episode: bool = False) -> None:
        d, sc = self.data, self.scenario
        assert d is not None and sc is not None
        if episode:
            view._set("design", self.design.as_dict())
            view._set("goal", tuple(float(x) for x in sc.goal))
            view._set("control_dt", CONTROL_DT)
            if view.mode == "oracle":
                c = sc.changes
                view._set("changes", {"damage": c.damage, "leg": c.leg,
                                      "strength": c.strength, "shin_scale": c.shin_scale,
                                      "payload_kg": c.payload_kg})
        if episode or view.mode != "oracle":
            view._set("ground", self._ground_seen(view.mode))
        lay = self.layout
        qpos = np.concatenate([d.qpos[:7], lay.joints(d.qpos, lay.qpos, sc.joint_noise)])
        qvel = np.concatenate([d.qvel[:6], lay.joints(d.qvel, lay.qvel)])
        view._set("state", {"qpos": qpos, "qvel": qvel})

    def _ground_seen(self, mode: str) -> dict:
        """The ground in the view ``mode``: honest, the surface's class and nominal grip and
        the stones within :data:`SENSOR_RANGE` of the torso; oracle, the exact grip and every
        stone."""
        d, sc = self.data, self.scenario
        assert d is not None and sc is not None
        g = sc.ground
        stones = np.zeros((0, 3)) if g.stones is None else np.array(g.stones)
        surface, grip = surface_of(g.friction)
        if mode == "oracle":
            grip = g.friction
        else:
            near = np.hypot(stones[:, 0] - d.qpos[0], stones[:, 1] - d.qpos[1]) <= SENSOR_RANGE
            stones = stones[near]
        return {"surface": surface, "friction": float(grip), "slope_deg": g.slope_deg,
                "uphill": g.uphill, "stone_half": STONE_HALF, "stones": stones}

    # --- rendering ----------------------------------------------------------------------
    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: nothing to draw "
                            '(gymnasium.make(..., render_mode="rgb_array"))')
            return None
        if self.data is None:
            raise RuntimeError("call reset() before render()")
        if self.render_mode == "human" and not self._window:
            return None
        from .render import draw

        frame, self._renderer = draw(self.model, self.data, self._renderer)
        if self.render_mode == "human":
            from moonshot.envs.display import show

            self._viewer = show(frame, self._viewer)
            return None
        return frame

    def get_state(self) -> dict:
        """Where the env stands between two walks, as JSON: its generator's state (all the
        next ``reset`` draws from). A walk in progress is not saved: checkpoints fall
        between walks."""
        return {"rng": self.np_random.bit_generator.state}

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state` (the next ``reset`` draws what it would have)."""
        if set(state) != {"rng"}:
            raise ValueError(f"a BodyWalk state holds only 'rng', got {sorted(state)}")
        self.np_random.bit_generator.state = state["rng"]

    def close(self) -> None:
        from moonshot.envs.display import close

        close(self._viewer)
        self._viewer = None
        if self._renderer is not None and hasattr(self._renderer, "close"):
            self._renderer.close()
        self._renderer = None


BodyWalkEnv.__doc__ = fill_doc(BodyWalkEnv.__doc__, {
    "control_hz": f"{1 / CONTROL_DT:g}", "joints": ", ".join(JOINTS), "obs_size": OBS_SIZE,
    "observation_table": _table(), "progress": f"{PROGRESS_REWARD:g}",
    "arrival": f"{ARRIVAL_REWARD:g}", "fall": f"{FALL_PENALTY:g}",
    "effort": f"{EFFORT_COST:g}", "field": f"{STONE_FIELD:g}",
    "goal_radius": f"{GOAL_RADIUS:g}", "damages": ", ".join(f"``{d}``" for d in DAMAGES),
    "train": ", ".join(f"``{k}`` {lo:g}-{hi:g} {UNITS[k]}"
                       for k, (lo, hi) in SPLITS["train"].items()),
    "new": ", ".join(f"``{k}`` {lo:g}-{hi:g} {UNITS[k]}" for k, (lo, hi) in SPLITS["new"].items()),
})
