"""A family of gaits for the body, and a repertoire of them built in the agent's own model.

**The gait family.** A gait is a vector of :data:`GAIT_PARAMS` numbers in [0, 1]: a frequency,
a hip amplitude, how high a knee lifts its foot and at which phase of the hip's swing, the
phases of ``fr``, ``bl``, ``br`` against ``fl`` (a trot, a pace, a bound, a walk...), each
knee's rest angle (a posture: the body held level, leaning, low or high) and a steering
gain. Each leg's hip swings as a sinusoid; its knee lifts the foot over half the cycle. The
steering rule turns the body towards the goal read from the observation: with the goal's
bearing ``b`` (radians, left positive), the hips mix a forward stroke (the left legs' against
the right legs', scaled by ``max(0, cos b)``) with a turning stroke (every hip alike, scaled
by ``clip(steering * b, -1, 1)``), so that a goal aside is turned to on the spot and a goal
ahead walked to. Which way a turning stroke turns the body depends on the gait, hence a
signed steering gain among its numbers.

**The repertoire** (Cully et al., Nature 2015, "Robots that can adapt like animals": the
behaviour-performance map of Intelligent Trial and Error): MAP-Elites over the gait family,
each gait tried in the agent's *own* model of the intact body (:mod:`.body_model`, built from
the blueprint), never the simulator. A gait's *behaviour* is the posture it walks in - the
torso's mean pitch and roll (the gravity direction in its frame) and the torso's mean height
- which is what a changed body upsets (a short leg tips the body towards it; a gait that leans
the other way in the intact body may walk level on the damaged one). Its *performance* is how
fast it brings the body towards goals ahead and aside (m/s of progress, averaged over
:data:`GOAL_BEARINGS_DEG`), with a fall costing :data:`FALL_COST`. The map keeps the best gait
of each cell of a grid over the behaviour space.

The repertoire is shipped (``moonshot_body/data/repertoire.npz``, built by
``benchmarks/body_repertoire.py``, whose command and seed it records), loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from mujoco import rollout

from ..anatomy import JOINTS, LEGS, Design, Layout
from . import body_model
from .planner import MODEL_TIMESTEP
from .walk_cost import SAFE_HEIGHT, SAFE_UPRIGHT

#: The numbers of a gait, each in [0, 1] (see :func:`gait_actions` for their ranges).
GAIT_PARAMS = ("frequency", "hip_amplitude", "knee_lift", "lift_phase", "phase_fr",
               "phase_bl", "phase_br", "knee_fl", "knee_fr", "knee_bl", "knee_br", "steering")
#: The sign of each leg's forward stroke: a left leg (``fl``, ``bl``) pushes its foot back by
#: turning its hip counterclockwise, a right leg by turning it clockwise.
STROKE = np.array([1.0, -1.0, 1.0, -1.0])
#: Ranges of the numbers: frequency (Hz), hip amplitude (rad), knee lift (rad), knee rest
#: angle (rad), steering gain (per rad of bearing).
FREQUENCY = (0.75, 3.0)
HIP_AMPLITUDE = (0.05, 0.55)
KNEE_LIFT = (0.0, 0.9)
KNEE_REST = (-0.3, 0.4)
STEERING = (-3.0, 3.0)
#: The behaviour descriptor's names and their bounds (the grid of the map spans them).
DESCRIPTOR = ("pitch", "roll", "height")
DESCRIPTOR_BOUNDS = np.array([[-0.16, 0.16], [-0.16, 0.16], [0.3, 0.44]])
#: Where the goals of a gait's imagined walks lie (degrees from the heading, 2 m away), how
#: long each walk lasts (s), and what a fall costs (m/s of progress). The fastest gaits reach
#: a goal 2 m away within the walk, so the map rates no gait above ~0.65 m/s: a cap that the
#: real body's falls favour (with goals 4 m away the map's best gaits imagined 1.2 m/s and
#: did worse in real walks on dev seeds, falls included: docs/environments.md).
GOAL_BEARINGS_DEG = (0.0, 50.0, -50.0)
GOAL_DISTANCE = 2.0
WALK_S = 3.0
FALL_COST = 1.0
#: The control period of the imagined walks (s): the env's 50 Hz, as the honest view's
#: ``control_dt`` states it; the repertoire is built offline, without a view, and the agent
#: takes the view's period at every walk. (The imagined body's fall and its model's physics
#: step are the planner's: :data:`.walk_cost.SAFE_HEIGHT`, :data:`.planner.MODEL_TIMESTEP`.)
CONTROL_DT = 0.02
#: The shipped repertoire.
REPERTOIRE_FILE = "repertoire.npz"


def _span(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return bounds[0] + x * (bounds[1] - bounds[0])


def gait_actions(params: np.ndarray, t: float | np.ndarray, bearing: np.ndarray | float,
                 design: Design) -> np.ndarray:
    """The actions (``(..., 8)`` in [-1, 1]) of gaits ``params`` (``(..., 12)`` in [0, 1]) at
    time ``t`` (s since the gait's clock started) with the goal at ``bearing`` (rad, left
    positive, ``(...)``): the gait family of the module docstring."""
    p = np.clip(np.asarray(params, dtype=np.float64), 0.0, 1.0)
    b = np.asarray(bearing, dtype=np.float64)
    freq = _span(p[..., 0], FREQUENCY)
    phase = 2 * math.pi * (np.asarray(t)[..., None] * freq[..., None] + np.concatenate(
        [np.zeros_like(p[..., :1]), p[..., 4:7]], axis=-1))
    fwd = np.maximum(0.0, np.cos(b))
    turn = np.clip(_span(p[..., 11], STEERING) * b, -1.0, 1.0)
    # the forward and turning strokes share the hip's amplitude
    mix = (STROKE * fwd[..., None] + turn[..., None]) / np.maximum(1.0, fwd + np.abs(turn))[
        ..., None]
    hip = _span(p[..., 1], HIP_AMPLITUDE)[..., None] * mix * np.sin(phase)
    lift = np.maximum(0.0, -np.cos(phase + 2 * math.pi * p[..., 3:4]))
    knee = _span(p[..., 7:11], KNEE_REST) + _span(p[..., 2:3], KNEE_LIFT) * lift
    targets = np.stack([hip, knee], axis=-1).reshape(*hip.shape[:-1], len(JOINTS))
    lo, hi = design.joint_ranges()
    return np.clip((targets - lo) / (hi - lo) * 2.0 - 1.0, -1.0, 1.0)


@dataclass
class ImaginedWalks:
    """What the agent's model says of a batch of gaits (one row per gait).

    :param performance: mean progress towards the goals (m/s), minus :data:`FALL_COST` per
        walk that fell, averaged over the goals.
    :param descriptor: pitch, roll (gravity in the torso's frame, mean over the walk ahead)
        and the torso's mean height (m): ``(n, 3)``.
    :param fell: fraction of the walks that fell.
    :param rollouts: imagined walks run; ``steps``: control steps they stand for.
    """

    performance: np.ndarray
    descriptor: np.ndarray
    fell: np.ndarray
    rollouts: int
    steps: int


class BodyImagination:
    """The agent's own model of the intact body (:func:`.body_model.build` from the blueprint)
    on flat ground of the blueprint's grip, where a batch of gaits walks to goals."""

    def __init__(self, design: Design | None = None, stone_half: float = 0.12):
        self.design = design or Design()
        self.model = body_model.build(self.design, MODEL_TIMESTEP, stone_half)
        body_model.place_ground(self.model, {"friction": self.design.friction, "slope_deg": 0.0,
                                             "uphill": 0.0, "stones": np.zeros((0, 3))})
        self.data = mujoco.MjData(self.model)
        self.layout_act = Layout.of(self.model).actuator
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        mujoco.mj_resetData(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self.start = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, self.start, spec)

    def walk(self, params: np.ndarray, seconds: float = WALK_S) -> ImaginedWalks:
        """Each gait of ``params`` (``(n, 12)``) walks from a standing start towards each goal
        of :data:`GOAL_BEARINGS_DEG` for ``seconds``, steering by its rule (closed loop: the
        bearing is read from the imagined state every control step)."""
        params = np.atleast_2d(params)
        n, goals = len(params), len(GOAL_BEARINGS_DEG)
        p = np.repeat(params, goals, axis=0)
        rad = np.radians(np.tile(GOAL_BEARINGS_DEG, n))
        goal = GOAL_DISTANCE * np.stack([np.cos(rad), np.sin(rad)], axis=1)
        state = np.repeat(self.start[None], len(p), axis=0)
        sub = int(round(CONTROL_DT / MODEL_TIMESTEP))
        steps = int(round(seconds / CONTROL_DT))
        fell = np.zeros(len(p), bool)
        tilt = np.zeros((len(p), 2))
        height = np.zeros(len(p))
        ctrl = np.zeros((len(p), sub, self.model.nu))
        for k in range(steps):
            q = state[:, 1:8]  # time, then qpos: x y z qw qx qy qz
            w, x, y, z = q[:, 3], q[:, 4], q[:, 5], q[:, 6]
            yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
            to = goal - q[:, :2]
            bearing = np.angle(np.exp(1j * (np.arctan2(to[:, 1], to[:, 0]) - yaw)))
            act = gait_actions(p, k * CONTROL_DT, bearing, self.design)
            ctrl[:, :, self.layout_act] = self.design.targets(act)[:, None, :]
            out, _ = rollout.rollout(self.model, self.data, state, ctrl)
            state = out[:, -1]
            q = state[:, 1:8]
            w, x, y, z = q[:, 3], q[:, 4], q[:, 5], q[:, 6]
            # gravity in the torso's frame: minus the third row of its rotation matrix
            tilt += np.stack([-2 * (x * z - w * y), -2 * (y * z + w * x)], axis=1)
            height += q[:, 2]
            upright = 1.0 - 2.0 * (x * x + y * y)
            blew_up = ~np.isfinite(state).all(1) | (out[:, -1, 0] < out[:, 0, 0])
            fell |= (q[:, 2] < SAFE_HEIGHT) | (upright < SAFE_UPRIGHT) | blew_up
        q = state[:, 1:3]
        progress = GOAL_DISTANCE - np.hypot(goal[:, 0] - q[:, 0], goal[:, 1] - q[:, 1])
        score = np.where(fell, -FALL_COST, np.nan_to_num(progress) / seconds)
        ahead = np.arange(0, len(p), goals)  # the posture of the walk straight ahead
        desc = np.column_stack([tilt[ahead] / steps, height[ahead] / steps])
        return ImaginedWalks(score.reshape(n, goals).mean(1), desc,
                             fell.reshape(n, goals).mean(1), len(p), len(p) * steps)


@dataclass
class Repertoire:
    """A behaviour-performance map: one elite gait per filled cell.

    :param params: the gaits, ``(n, 12)`` in [0, 1].
    :param descriptor: their behaviour (:data:`DESCRIPTOR`), ``(n, 3)``.
    :param performance: their imagined performance (m/s of progress), ``(n,)``.
    :param meta: how it was built (command, seed, evaluations, imagined walks, seconds).
    """

    params: np.ndarray
    descriptor: np.ndarray
    performance: np.ndarray
    meta: dict

    def unit_descriptor(self) -> np.ndarray:
        """The descriptors scaled to [0, 1] by :data:`DESCRIPTOR_BOUNDS` (the GP's space)."""
        lo, hi = DESCRIPTOR_BOUNDS[:, 0], DESCRIPTOR_BOUNDS[:, 1]
        return np.clip((self.descriptor - lo) / (hi - lo), 0.0, 1.0)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, params=self.params, descriptor=self.descriptor,
                            performance=self.performance,
                            meta=np.array(json.dumps(self.meta, sort_keys=True)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Repertoire:
        """The repertoire at ``path``, by default the shipped one (no pickles are read)."""
        if path is None:
            ref = resources.files("moonshot_body").joinpath("data").joinpath(REPERTOIRE_FILE)
            with resources.as_file(ref) as p:
                return cls.load(p)
        try:
            with np.load(path, allow_pickle=False) as f:
                rep = cls(np.asarray(f["params"], np.float64),
                          np.asarray(f["descriptor"], np.float64),
                          np.asarray(f["performance"], np.float64), json.loads(str(f["meta"])))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"cannot read the gait repertoire {path}: {exc}") from None
        n = len(rep.params)
        if rep.params.shape != (n, len(GAIT_PARAMS)) or rep.descriptor.shape != (n, 3) or \
                rep.performance.shape != (n,) or n == 0:
            raise ValueError(f"{path} is not a gait repertoire of {len(GAIT_PARAMS)} numbers "
                             f"per gait")
        return rep


def _cell(desc: np.ndarray, bins: tuple[int, ...]) -> np.ndarray:
    lo, hi = DESCRIPTOR_BOUNDS[:, 0], DESCRIPTOR_BOUNDS[:, 1]
    idx = np.floor((desc - lo) / (hi - lo) * np.array(bins)).astype(int)
    idx = np.clip(idx, 0, np.array(bins) - 1)
    return np.ravel_multi_index(idx.T, bins)


def map_elites(evaluations: int, seed: int, batch: int = 200, initial: int = 1000,
               bins: tuple[int, ...] = (8, 8, 4), sigma: float = 0.1,
               imagination: BodyImagination | None = None, meta: dict[str, Any] | None = None,
               progress: Any = None) -> Repertoire:
    """MAP-Elites (Mouret and Clune 2015) over the gait family in the agent's own model:
    ``initial`` random gaits, then batches of mutated elites (Gaussian, ``sigma`` in the
    unit cube, plus Vassiliades' line variation towards another elite) until ``evaluations``
    gaits were tried; each cell of the ``bins`` grid keeps its best gait. Gaits that fell in
    every imagined walk are kept out."""
    rng = np.random.default_rng(seed)
    imagine = imagination or BodyImagination()
    best: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
    done, rollouts, steps, t0 = 0, 0, 0, time.process_time()
    while done < evaluations:
        size = min(initial if done == 0 else batch, evaluations - done)
        if not best:
            cand = rng.uniform(0, 1, (size, len(GAIT_PARAMS)))
        else:
            elites = np.array([v[1] for v in best.values()])
            a = elites[rng.integers(len(elites), size=size)]
            b = elites[rng.integers(len(elites), size=size)]
            cand = a + rng.normal(0, sigma, a.shape) + rng.normal(0, 0.2, (size, 1)) * (b - a)
            cand = np.clip(cand, 0.0, 1.0)
        walks = imagine.walk(cand)
        rollouts += walks.rollouts
        steps += walks.steps
        cells = _cell(walks.descriptor, bins)
        for i in range(size):
            if walks.fell[i] >= 1.0 or not np.isfinite(walks.descriptor[i]).all():
                continue
            c = int(cells[i])
            if c not in best or walks.performance[i] > best[c][0]:
                best[c] = (float(walks.performance[i]), cand[i], walks.descriptor[i])
        done += size
        if progress is not None:
            progress(done, len(best), max(v[0] for v in best.values()) if best else float("nan"))
    keys = sorted(best)
    info = dict(meta or {})
    info.update({"evaluations": done, "imagined_walks": rollouts,
                 "imagined_steps": steps, "seed": seed,
                 "bins": list(bins), "cpu_s": round(time.process_time() - t0, 1),
                 "walk_s": WALK_S, "goal_bearings_deg": list(GOAL_BEARINGS_DEG),
                 "descriptor": list(DESCRIPTOR), "params": list(GAIT_PARAMS),
                 "model": "moonshot_body.agents.body_model (intact blueprint)",
                 "mujoco": mujoco.__version__})
    return Repertoire(np.array([best[k][1] for k in keys]), np.array([best[k][2] for k in keys]),
                      np.array([best[k][0] for k in keys]), info)


__all__ = ["GAIT_PARAMS", "LEGS", "BodyImagination", "Repertoire", "gait_actions", "map_elites"]
