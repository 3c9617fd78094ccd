"""BodyWalk-v0: a four-legged body walks to a goal on the ground; a fall is a death.

One module for the world's rules - the settings, the scenario drawn from them, the simulator
of ``n`` walks (:class:`Walks`: physics, observation, reward, ends) and the single env on
it - since the single env and the batched one (:mod:`.vector`) must share every one of them
to walk the same episodes bit for bit.
"""

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


def walk_settings(split: str = "train", time_limit: float = 20.0,
                  goal_distance: float | Sequence[float] | None = None,
                  goal_bearing_deg: float | Sequence[float] | None = None,
                  roughness: float | Sequence[float] | None = None,
                  friction: float | Sequence[float] = 1.0,
                  slope_deg: float | Sequence[float] = 0.0,
                  damage: str = "none", damage_leg: str | None = None,
                  payload_kg: float = 0.0) -> dict[str, Any]:
    """The settings :func:`draw_scenario` draws from (ranges as ``(low, high)``), checked:
    ``ValueError`` naming a bad value and what is accepted. The arguments are
    :class:`BodyWalkEnv`'s (``time_limit`` is checked here, kept by the env)."""
    if split not in SPLITS:
        raise ValueError(f"invalid split={split!r}; choose one of {list(SPLITS)}")
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
    settings: dict[str, Any] = {
        **{k: _range(v if v is not None else SPLITS[split][k], k) for k, v in given.items()},
        "friction": _range(friction, "friction"), "slope_deg": _range(slope_deg, "slope_deg"),
        "damage": damage, "damage_leg": damage_leg, "payload_kg": float(payload_kg)}
    if settings["friction"][0] <= 0:
        raise ValueError(f"friction must be > 0, got {friction!r}")
    return settings


def pinned_scenario(options: dict | None) -> int | None:
    """The ``scenario_id`` a reset's ``options`` pin, or ``None`` (``ValueError`` naming an
    unknown option)."""
    options = options or {}
    unknown = set(options) - {"scenario_id"}
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; known: ['scenario_id']")
    return int(options["scenario_id"]) if "scenario_id" in options else None


def draw_scenario_id(rng: np.random.Generator) -> int:
    """The next scenario a walk's generator draws (a reset without a pinned one)."""
    return int(rng.integers(2**31 - 1))


def walk_steps(time_limit: float) -> int:
    """Control steps of a walk of ``time_limit`` seconds."""
    return int(round(float(time_limit) / CONTROL_DT))


def walk_spaces() -> tuple[spaces.Box, spaces.Box]:
    """A walk's ``(action_space, observation_space)``."""
    return (spaces.Box(-1.0, 1.0, (len(JOINTS),), np.float32),
            spaces.Box(-OBS_BOUND, OBS_BOUND, (OBS_SIZE,), np.float32))


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


def clean_actions(actions: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``actions`` as float64 of ``shape``, clipped to [-1, 1] (``ValueError`` if they are
    not ``shape``'s size or not finite)."""
    a = np.asarray(actions, dtype=np.float64)
    if a.size != math.prod(shape):
        raise ValueError(f"action must have shape {shape}, got {np.shape(actions)}")
    a = a.reshape(shape)
    if not np.isfinite(a).all():
        raise ValueError(f"action must be finite, got {a.tolist()}")
    return np.clip(a, -1.0, 1.0)


def outcome_of(arrived: bool, fell: bool, truncated: bool) -> str | None:
    """A walk's ``info["outcome"]`` after a step: ``"arrived"``, ``"fell"``, ``"timeout"`` or
    ``None`` (still walking)."""
    return "arrived" if arrived else "fell" if fell else "timeout" if truncated else None


#: The observation's slots :meth:`Walks.observe` reads from a walk's state as they are.
_READ_SLOTS = ("joint_angles", "joint_velocities", "angular_velocity", "height")
_READ_COLUMNS = np.concatenate([np.arange(OBS_SIZE)[OBS_LAYOUT[k]] for k in _READ_SLOTS])
_GRAVITY, _VELOCITY = OBS_LAYOUT["gravity"], OBS_LAYOUT["velocity"]
_DIRECTION, _DISTANCE = OBS_LAYOUT["goal_direction"], OBS_LAYOUT["goal_distance"].start


class Walks:
    """``n`` walks stepped together: the simulator under :class:`BodyWalkEnv` (one walk)
    and :class:`~moonshot_body.vector.BodyWalkVectorEnv` (a batch), so that both walk the
    same episodes bit for bit.

    Each walk has its own MuJoCo models (one per :class:`~.anatomy.Changes` it has met; its
    ground is set on it) and data. The physics steps walk by walk (``mj_step``: MuJoCo's
    ``rollout`` costs the same CPU time and returns neither the kinematics nor the warm
    start, see docs/environments.md); the servo targets and the observations are computed
    over the batch, with the operations one walk alone would use (a batched ``matmul`` is one
    BLAS call per walk), each walk's reward and end by one walk's scalar arithmetic.

    :param n: the number of walks.
    :param settings: what scenarios are drawn from (:func:`walk_settings`).
    :param max_steps: control steps before a walk times out.
    :param design: the body's blueprint (default: :class:`~.anatomy.Design`).
    """

    def __init__(self, n: int, settings: dict[str, Any], max_steps: int,
                 design: Design | None = None):
        self.n, self.settings, self.max_steps = n, settings, max_steps
        self.design = design or Design()
        self.models: list[mujoco.MjModel | None] = [None] * n
        self.datas: list[mujoco.MjData | None] = [None] * n
        self.layouts: list[Layout | None] = [None] * n
        self.scenarios: list[Scenario | None] = [None] * n
        self._built: list[dict[Changes, tuple[mujoco.MjModel, Layout]]] = \
            [{} for _ in range(n)]
        none = np.zeros(0, dtype=np.int64)
        # the slots that drive a servo (a missing knee has none), and their actuators
        self._driven: list[tuple[np.ndarray, np.ndarray]] = [(none, none)] * n
        self.steps = np.zeros(n, dtype=np.int64)
        self.ids = np.zeros(n, dtype=np.int64)  # each walk's scenario
        self.dist = np.zeros(n)  # to the goal, on the ground (m)
        self.goal = np.zeros((n, 2))
        self._goals = [(0.0, 0.0)] * n
        self._gravity = np.zeros((n, 3))  # unit vector (the slope tilts it)
        # Each walk's state after its last reset or step, a row of qpos | qvel (padded to the
        # intact body's sizes: damage only removes joints) | the joints' readings at the
        # start | 0, and its torso's orientation (the xmat mj_step left). The observation's
        # readings are gathered from the rows in one call (:attr:`_reads`).
        intact = build_model(self.design)
        self._nq, self._nv = intact.nq, intact.nv
        self._start = self._nq + self._nv
        self._state = np.zeros((n, self._start + len(JOINTS) + 1))
        self._xmat = np.zeros((n, 9))
        self._sizes = [(0, 0)] * n
        self._reads = np.zeros((n, len(_READ_COLUMNS)), dtype=np.int64)
        self._read_cols = _READ_COLUMNS

    def reset(self, i: int, scenario_id: int) -> None:
        """Start walk ``i`` on the scenario ``scenario_id``."""
        sc = draw_scenario(scenario_id, self.settings)
        if sc.changes not in self._built[i]:
            built = build_model(self.design, sc.changes)
            if built.nq > self._nq or built.nv > self._nv:
                raise ValueError(f"{sc.changes} adds joints to the body: not a damage")
            self._built[i][sc.changes] = (built, Layout.of(built))
        model, layout = self._built[i][sc.changes]
        if model is not self.models[i]:
            self.models[i], self.datas[i] = model, mujoco.MjData(model)
        data = self.datas[i]
        assert data is not None
        set_ground(model, sc.ground)
        model.site_pos[0, :2] = sc.goal
        mujoco.mj_resetData(model, data)
        data.qpos[3:7] = (math.cos(sc.start_yaw / 2), 0.0, 0.0, math.sin(sc.start_yaw / 2))
        for j, adr in enumerate(layout.qpos):
            if adr >= 0:
                data.qpos[adr] = sc.joint_noise[j]
        data.ctrl[:] = 0.0
        mujoco.mj_forward(model, data)
        self.scenarios[i], self.layouts[i] = sc, layout
        driven = np.flatnonzero(layout.actuator >= 0)
        self._driven[i] = (driven, layout.actuator[driven])
        self.steps[i], self.ids[i] = 0, sc.scenario_id
        self.goal[i] = sc.goal
        self._goals[i] = (float(sc.goal[0]), float(sc.goal[1]))
        gravity = model.opt.gravity
        self._gravity[i] = gravity / np.linalg.norm(gravity)
        self._sizes[i] = (model.nq, model.nv)
        self._state[i] = 0.0
        self._state[i, self._start:self._start + len(JOINTS)] = sc.joint_noise
        # a missing joint's encoder holds its reading at the start (a dead slot reading
        # exactly 0 would tell the damage before the body moves), its velocity reads 0
        angles = np.where(layout.qpos >= 0, layout.qpos, self._start + np.arange(len(JOINTS)))
        speeds = np.where(layout.qvel >= 0, self._nq + layout.qvel, self._start + len(JOINTS))
        local = np.concatenate([angles, speeds, self._nq + np.arange(3, 6), [2]])
        self._reads[i] = i * self._state.shape[1] + local
        self._settle(i)

    def restore(self, scenario_ids: Sequence[int], steps: Sequence[int],
                physics: Sequence[np.ndarray], spec: int) -> None:
        """Put every walk back where a saved batch stood: on its scenario, ``steps`` into
        it, its MuJoCo state ``physics`` (of the ``mjtState`` ``spec``, everything
        ``mj_step`` reads: the next step is the one it would have taken)."""
        for i, (sid, taken, state) in enumerate(zip(scenario_ids, steps, physics,
                                                    strict=True)):
            self.reset(i, int(sid))
            mujoco.mj_setState(self.models[i], self.datas[i],
                               np.asarray(state, dtype=np.float64), spec)
            self.steps[i] = int(taken)
            self._settle(i)

    def _settle(self, i: int) -> None:
        """Read walk ``i``'s state from its data (after a reset or a restore)."""
        self._gather(i)
        self.dist[i] = self._distance(i)

    def _gather(self, i: int) -> None:
        d, row = self.datas[i], self._state[i]
        assert d is not None
        nq, nv = self._sizes[i]
        row[:nq] = d.qpos
        row[self._nq:self._nq + nv] = d.qvel
        self._xmat[i] = d.xmat[1]

    def _distance(self, i: int) -> float:
        """Walk ``i``'s distance to its goal on the ground (m)."""
        d, (gx, gy) = self.datas[i], self._goals[i]
        assert d is not None
        return math.hypot(gx - d.qpos[0], gy - d.qpos[1])

    def step(self, actions: np.ndarray, active: np.ndarray | None = None,
             ) -> tuple[list[float], list[bool], list[bool], list[bool]]:
        """Step the walks one control period with ``actions`` (``(n, 8)``, clipped:
        :func:`clean_actions`).

        :param active: which walks step (a mask; default all); the others stand as they are
            and their entries of the results mean nothing.
        :returns: each walk's ``(reward, arrived, fell, truncated)``, as lists.
        """
        targets = self.design.targets(actions)
        rewards, arrived, fell, truncated = [], [], [], []
        # walk by walk, one walk's scalar arithmetic: numpy's overhead on one walk's numbers
        # costs more than the loop
        for i in range(self.n):
            if active is not None and not active[i]:
                rewards.append(0.0)
                arrived.append(False)
                fell.append(False)
                truncated.append(False)
                continue
            d = self.datas[i]
            assert d is not None  # reset
            driven, act = self._driven[i]
            d.ctrl[act] = targets[i, driven]
            mujoco.mj_step(self.models[i], d, SUBSTEPS)
            self._gather(i)
            self.steps[i] += 1
            steps = int(self.steps[i])
            dist = self._distance(i)
            a = actions[i]
            reward = PROGRESS_REWARD * (self.dist[i] - dist) - EFFORT_COST * float(a @ a)
            self.dist[i] = dist
            height = float(d.qpos[2])
            upright = float(d.xmat[1, 8])  # the torso's up axis, vertical component
            arrives = dist < GOAL_RADIUS
            falls = not arrives and (height < FALL_HEIGHT or upright < FALL_UPRIGHT)
            if arrives:
                reward += ARRIVAL_REWARD
            elif falls:
                reward -= FALL_PENALTY
            rewards.append(float(reward))
            arrived.append(arrives)
            fell.append(falls)
            truncated.append(not (arrives or falls) and steps >= self.max_steps)
        return rewards, arrived, fell, truncated

    def observe(self) -> np.ndarray:
        """Every walk's observation (``(n, OBS_SIZE)`` float32, see :data:`OBSERVATION`)."""
        rot_t = self._xmat.reshape(-1, 3, 3).transpose(0, 2, 1)  # world -> torso
        out = np.empty((self.n, OBS_SIZE))
        out[:, self._read_cols] = self._state.take(self._reads)
        out[:, _GRAVITY] = np.matmul(rot_t, self._gravity[:, :, None])[:, :, 0]
        # a free joint's velocity is in the world frame, its angular velocity in the body's
        velocity = self._state[:, self._nq:self._nq + 3].copy()
        out[:, _VELOCITY] = np.matmul(rot_t, velocity[:, :, None])[:, :, 0]
        # the goal in the torso's heading frame, walk by walk (math's trigonometry, as one
        # walk's; numpy's may round otherwise)
        direction = []
        for (r00, r10), (tx, ty), dist in zip(self._xmat[:, [0, 3]].tolist(),
                                              (self.goal - self._state[:, :2]).tolist(),
                                              self.dist.tolist(), strict=True):
            heading = math.atan2(r10, r00)
            c, s = math.cos(heading), math.sin(heading)
            gx, gy = c * tx + s * ty, -s * tx + c * ty
            direction.append((gx / dist, gy / dist) if dist > 1e-9 else (1.0, 0.0))
        out[:, _DIRECTION] = direction
        out[:, _DISTANCE] = self.dist
        obs = out.astype(np.float32)
        np.minimum(obs, OBS_BOUND, out=obs)
        return np.maximum(obs, -OBS_BOUND, out=obs)


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
    ``gymnasium.make_vec("moonshot/BodyWalk-v0", num_envs=N)`` gives the native batched env
    (:class:`~moonshot_body.vector.BodyWalkVectorEnv`, the same settings): walk ``i`` of
    ``reset(seed=s)`` is this env's ``reset(seed=s + i)``, bit for bit.

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
        self.settings: dict[str, Any] = walk_settings(
            split=split, time_limit=time_limit, goal_distance=goal_distance,
            goal_bearing_deg=goal_bearing_deg, roughness=roughness, friction=friction,
            slope_deg=slope_deg, damage=damage, damage_leg=damage_leg, payload_kg=payload_kg)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"invalid render_mode={render_mode!r}; choose None or one of "
                             f"{self.metadata['render_modes']}")
        self.split, self.render_mode = split, render_mode
        self.time_limit = float(time_limit)
        self.max_steps = walk_steps(self.time_limit)
        self.design = Design()
        self.action_space, self.observation_space = walk_spaces()
        self._walk = Walks(1, self.settings, self.max_steps, self.design)
        self._views: dict[str, BodyView] = {}
        self._renderer: Any = None
        # Without a display, human mode runs headless (with a warning): moonshot.envs.display.
        self._window = render_mode == "human" and human_window("BodyWalk")
        self._viewer: Any = None

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
        sid = pinned_scenario(options)
        if sid is None:
            sid = draw_scenario_id(self.np_random)
        model = self.model
        self._walk.reset(0, sid)
        if self.model is not model:
            self._renderer = None
        for view in self._views.values():
            self._refresh(view, episode=True)
        if self.render_mode == "human":
            self.render()
        return self._walk.observe()[0], {"map_id": sid, "split": self.split,
                                               "is_success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.data is None or self.model is None or self.scenario is None:
            raise RuntimeError("call reset() before step()")
        a = clean_actions(action, (len(JOINTS),))
        rewards, arrival, fall, truncation = self._walk.step(a[None])
        reward, dist = rewards[0], float(self._walk.dist[0])
        arrived, fell, truncated = arrival[0], fall[0], truncation[0]
        info = {"map_id": self.scenario.scenario_id, "split": self.split,
                "is_success": arrived, "death": fell, "goal_distance": dist}
        outcome = outcome_of(arrived, fell, truncated)
        if outcome is not None:
            info["outcome"] = outcome
        for view in self._views.values():
            self._refresh(view)
        if self.render_mode == "human":
            self.render()
        return self._walk.observe()[0], reward, arrived or fell, truncated, info

    # the one walk's model, data, scenario and joints' layout (``None`` before a reset)
    @property
    def model(self) -> mujoco.MjModel | None:
        return self._walk.models[0]

    @property
    def data(self) -> mujoco.MjData | None:
        return self._walk.datas[0]

    @property
    def scenario(self) -> Scenario | None:
        return self._walk.scenarios[0]

    @property
    def layout(self) -> Layout:
        lay = self._walk.layouts[0]
        if lay is None:
            raise RuntimeError("call reset() before reading the layout")
        return lay

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
