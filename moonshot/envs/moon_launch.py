"""MoonLaunch-v1: one launch from a parking orbit around the Earth, aimed at the Moon."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import moon_core as core
from .display import human_window
from .docs import arguments, fill_doc, number
from .moon_config import SETTINGS, default_config, make_config, split_ranges
from .perception import SIMULATOR, Rehearsal, View, check_perception

if TYPE_CHECKING:
    from matplotlib.image import AxesImage


class MoonView(View):
    """What a mission designer knows about the scenario (``env.unwrapped.perceive()``).

    ``constants``: the published physical constants of this world (``gm_earth``,
    ``gm_moon``, ``r_earth``, ``r_moon``, ``moon_semi_major_axis``, ``moon_soi``,
    ``flyby_radius``; the observation carries the Moon's ephemeris); ``target``. The
    ``oracle`` view adds the Moon's exact ``moon_eccentricity`` and ``moon_perigee`` (rad),
    which an honest planner reconstructs from the ephemeris. The outcome of each launch comes
    to the agent through ``end_episode(info)``.
    """

    _fields = ("constants", "target", "split", "moon_eccentricity", "moon_perigee")


class MoonLaunchEnv(gym.Env):
    """
    ## Description
    A rocket circles the Earth on a low parking orbit. Choose *when* to fire its upper stage,
    *how hard* and *in which direction*, so that the free flight that follows reaches the Moon.
    One episode is one launch: ``reset`` draws a scenario, a single ``step`` integrates the whole
    flight (up to ``max_flight_days``) under the gravity of the Earth and the Moon and ends the
    episode. The physics is the planar Earth–Moon problem with real constants
    (:mod:`moonshot.physics.constants`): the Moon moves on its eccentric Keplerian orbit, the
    rocket feels both bodies, integrated by a compiled adaptive Dormand–Prince 5(4) method with
    event detection (Moon impact, Earth impact, escape, closest approach).

    A planner that knows Newtonian gravity derives the launch in one to three tries; model-free
    RL must sample it. Three targets span orders of magnitude of difficulty.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``:

    | index | meaning | range mapped to |
    |---|---|---|
    | 0 | coast time on the parking orbit before the burn | 0 .. one full revolution |
    | 1 | burn delta-v | $dv_low .. $dv_high km/s ($dv_center at 0) |
    | 2 | burn direction from prograde, counterclockwise | -$burn_angle° .. +$burn_angle° |

    ## Observation Space
    ``Box($obs_size,)`` float32, the scenario (angles in an Earth-centred inertial frame, t = 0; the
    slots by name: ``obs[env.unwrapped.observation_layout["park_altitude"]]``):

    $observation_table

    The parking orbit is circular and counterclockwise, like the Moon's orbit.

    ## Rewards
    ``proximity + success`` in [0, 2]: ``proximity = clip(1 - ln(d / R_moon) / ln(384400 km /
    R_moon), 0, 1)`` with ``d`` the closest approach to the Moon's centre (dense: every factor
    of distance counts the same), and ``success`` = 1 when the target is reached.

    ## Starting State
    ``split="train"``: parking altitude uniform in 180–400 km; rocket angle, Moon angle and the
    direction of the lunar perigee uniform; the real Moon (a = 384,400 km, e = 0.0549,
    GM = 4902.8 km³/s²). ``split="new"``: held-out conditions: parking altitude 600–2,000 km and
    a "new moon" whose orbit is 0.85–0.93 or 1.07–1.20 times as large and whose mass is 0.5–0.8 or
    1.25–2.0 times the Moon's. ``reset(options={"scenario_id": k})`` replays scenario ``k`` (the
    ``map_id`` of the logs); otherwise the id is drawn from the env's seeded generator.

    ## Episode End
    Always after one step (``terminated=True``). ``info["outcome"]`` is one of ``"landed"`` (hit
    the Moon), ``"flyby"`` (within 5,000 km of its surface), ``"entered_soi"`` (inside its sphere of
    influence, see below), ``"missed"`` (still flying at ``max_flight_days``), ``"fell_back"``
    (fell back inside 60,000 km towards the Earth, or never climbed beyond it), ``"crashed_earth"``,
    ``"escaped"`` (beyond 961,000 km). A flight ends at the first of: Moon impact, Earth impact,
    fall back, escape, time limit; the outcome names the closest brush with the Moon first.
    Success by ``target``: ``"soi"`` closest approach within the Moon's sphere of influence
    (66,100 km for the real Moon; for a "new moon" Laplace's ``a (m/M)^(2/5)`` of that moon,
    about 42,600-104,800 km: ``physical_constants["moon_soi"]``); ``"flyby"`` <= R_moon +
    5,000 km; ``"landing"`` a Moon impact.

    A launch that misses its target ends in one of two ways. The rocket is *lost* (destroyed,
    ``info["death"]``) when its flight ends on the Earth: ``"crashed_earth"``, or
    ``"fell_back"`` (the transfer failed and the stage comes back down; a flight that brushed
    the Moon short of a ``flyby`` or ``landing`` target and then fell back is lost too, though
    its outcome names the brush). ``"missed"`` and ``"escaped"`` rockets are lost to the
    mission but intact: outcomes, not deaths. The Moon is never a wrong body to hit (a Moon
    impact reaches every target), and a launch that reached its target is never a death.

    ## Info
    ``is_success``, ``death`` (the rocket destroyed short of its target, see Episode End),
    ``outcome``, ``map_id``, ``split``, ``target``, ``closest_approach_km`` (on impact: the
    periselene of the osculating conic, below R_moon), ``time_of_flight_days`` (burn to closest
    approach), ``delta_v_kms`` (as executed), ``miss_vector_km`` and ``miss_velocity_kms`` (the
    Moon-centred position and velocity at closest approach: the tracking data a planner corrects
    from), ``integration_steps``; with ``record_trajectory=True`` also ``trajectory`` (below).
    ``reset`` returns ``map_id``, ``split`` and ``is_success`` (False). The batched env
    (:class:`~moonshot.envs.moon_vector.MoonLaunchVectorEnv`) returns the same keys.

    ## Trajectory
    With ``record_trajectory=True`` or a render mode every launch is traced:
    ``env.unwrapped.last_trajectory()`` returns the last flight's rows ``[t_s, x, y, vx, vy,
    moon_x, moon_y, moon_vx, moon_vy]`` (km, km/s; one row per integration step) and keeps it
    after ``reset`` (in a vector env: ``envs.call("last_trajectory")``). Its length changes
    from launch to launch, so only ``record_trajectory=True`` also puts it in the step
    ``info`` (``info["trajectory"]``, for a single env: Gymnasium's vector envs cannot stack it).

    ## Rendering
    ``render_mode="rgb_array"``: a top-down frame of the Earth, the Moon's orbit and the last
    flight with its outcome; after ``reset`` the new scenario with the previous flight faded,
    so frames taken after an autoreset (vector envs, RL Zoo's ``record_video``) show every
    flight. ``render_mode="human"`` shows the frames in a matplotlib window; without a display
    it warns and draws nothing (the env runs as without rendering).

    ## Arguments
    $arguments

    Settings marked *shift* move one quantity away from the training distribution for the
    generalization ladder (``moonshot shift``, :class:`moonshot.worlds.ShiftAxis`). The physical
    constants in force are in ``env.unwrapped.physical_constants`` after ``reset``; a planner
    receives them through ``env.unwrapped.perceive()`` (:class:`MoonView`).

    ## Version History
    * Both versions, without changing observations, rewards or outcomes: a render mode no
      longer puts the variable-length ``trajectory`` into ``info`` (Gymnasium's vector envs
      could not stack it; ``last_trajectory()`` returns it), the frame after ``reset`` shows
      the previous flight, and ``render_mode="human"`` without a display warns instead of
      raising.
    * All versions, without changing observations, rewards, outcomes or episode ends:
      ``info["death"]`` is the rocket destroyed (see Episode End); it used to be every launch
      that missed its target, counting missed and escaped rockets as deaths. No new version:
      nothing an agent observes, is rewarded for or learns from changed, and the same flag
      for every version keeps the death counts of all runs comparable.
    * v1: the ``soi`` target and the ``entered_soi`` outcome use the sphere of influence of
      the scenario's moon (Laplace's formula) instead of the real Moon's 66,100 km for every
      moon (``soi_radius="laplace"``). The training split is unchanged.
    * v0: initial version (``soi_radius="fixed"``).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        self.config = make_config(**config)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, got {render_mode!r}")
        self.render_mode = render_mode
        # Without a display, human mode runs headless (with a warning): see envs.display.
        self._window = render_mode == "human" and human_window("MoonLaunch")
        self.target = self.config["target"]
        self.split = self.config["split"]
        self.action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        self.observation_space = spaces.Box(core.OBS_LOW, core.OBS_HIGH, dtype=np.float32)
        self.observation_layout = core.OBSERVATION_AT  # slot name -> index or slice
        self.scenario: core.Scenarios | None = None
        self.physical_constants: dict = {}
        self._obs: np.ndarray | None = None
        self._last: dict | None = None  # info of this scenario's launch (None: not launched)
        self._flight: tuple[dict, np.ndarray | None] | None = None  # last launch, any scenario
        # copies handed out by perceive("simulator") per scenario id, each its own generator
        self._copies: dict[int, int] = {}
        self._viewer: AxesImage | None = None

    @classmethod
    def default_config(cls) -> dict:
        return default_config()

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        sid = options.pop("scenario_id", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: ['scenario_id']")
        if sid is None:
            sid = int(self.np_random.integers(0, 2**31 - 1))
        elif not isinstance(sid, (int, np.integer)) or not 0 <= sid < 2**63:
            raise ValueError(f"scenario_id must be a non-negative integer, got {sid!r}")
        self.scenario = core.sample_scenarios(self.split, [int(sid)],
                                              self.config["moon_eccentricity"],
                                              self.config["soi_radius"],
                                              split_ranges(self.split, self.config))
        self.physical_constants = core.physical_constants(self.scenario)
        self._obs = core.observe(self.scenario)[0]
        self._last = None
        return self._obs.copy(), core.reset_info(int(sid), self.split)

    def get_state(self) -> dict:
        """The env's generator and current scenario (exact resume of a training run)."""
        if self.scenario is None:
            raise RuntimeError("call reset() before get_state()")
        return {"rng": self.np_random.bit_generator.state,
                "scenario_id": int(self.scenario.scenario_id[0])}

    def set_state(self, state: dict) -> None:
        self.reset(options={"scenario_id": state["scenario_id"]})
        self.np_random.bit_generator.state = state["rng"]

    def perceive(self, mode: str = "honest") -> MoonView | Rehearsal:
        """The planner's view of the current scenario (see :class:`MoonView`); for
        ``mode="simulator"`` (an agent that owns the simulator) a
        :class:`~moonshot.envs.perception.Rehearsal`: launches in a copy of this env at the
        current scenario, whose burn errors come from a generator of its own (seeded by the
        scenario id and the count of this scenario's copies so far: the same rehearsals at a
        scenario whatever ran before it in this env)."""
        if self.scenario is None:
            raise RuntimeError("call reset() before perceive()")
        if mode == SIMULATOR:
            return self._rehearsal()
        extra = {}
        if check_perception(mode) == "oracle":
            extra = {"moon_eccentricity": float(self.scenario.moon_e[0]),
                     "moon_perigee": float(self.scenario.moon_perigee[0])}
        return MoonView(mode, constants=self.physical_constants, target=self.target,
                        split=self.split, **extra)

    def _rehearsal(self) -> Rehearsal:
        assert self.scenario is not None  # drawn by reset()
        sid = int(self.scenario.scenario_id[0])
        twin = type(self)(**{**self.config, "record_trajectory": False})
        twin.reset(options={"scenario_id": sid})
        # the k-th copy of a scenario draws the same burn errors whatever ran before it
        self._copies[sid] = k = self._copies.get(sid, 0) + 1
        twin.np_random = np.random.default_rng([sid, k])

        def launch(plans: np.ndarray) -> tuple[np.ndarray, list[dict], int]:
            # an episode is one launch: each plan's first action is launched
            rewards, infos = [], []
            for plan in plans:
                _, reward, _, _, info = twin.step(plan[0])
                rewards.append(reward)
                infos.append(info)
            return np.asarray(rewards), infos, len(plans)

        return Rehearsal(launch, self.action_space)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.scenario is None:
            raise RuntimeError("call reset() before step()")
        actions = core.check_actions(action, 1)
        traced = self.config["record_trajectory"] or self.render_mode is not None
        result, dv, trajs = core.launch(self.scenario, actions, self.np_random, self.config,
                                        traced=traced)
        reward, success, outcome = core.score(result, self.target, self.scenario.moon_soi)
        info = core.step_infos(self.scenario, result, dv, success, outcome, self.split,
                                self.target)[0]
        traj = trajs[0] if trajs is not None else None  # traced: the flight's rows
        self._flight = (info, traj)
        if self.config["record_trajectory"]:
            info["trajectory"] = traj
        self._last = info
        if self.render_mode == "human":
            self.render()
        assert self._obs is not None  # set by reset()
        return self._obs.copy(), float(reward[0]), True, False, info

    def last_trajectory(self) -> np.ndarray | None:
        """The rows of the last traced flight (see *Trajectory* in the class docstring), kept
        after ``reset``; ``None`` before the first launch or when flights are not traced."""
        if self._flight is None or self._flight[1] is None:
            return None
        return self._flight[1].copy()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        if self.render_mode == "human" and not self._window:
            return None
        from .moon_render import render_launch

        if self._last is not None:
            assert self._flight is not None  # set with _last by the launch
            frame = render_launch(self.scenario, self._last, self.physical_constants,
                                  trajectories=[self._flight[1]])
        else:
            frame = render_launch(self.scenario, None, self.physical_constants,
                                  previous=self._flight)
        if self.render_mode == "human":
            from .display import show

            self._viewer = show(frame, self._viewer)
            return None
        return frame

    def close(self) -> None:
        from .display import close

        close(self._viewer)
        self._viewer = None


def _doc_values() -> dict:
    """What the class docstring's ``$name`` placeholders stand for."""
    return {
        "dv_low": number(core.DV_CENTER - core.DV_HALF_RANGE),
        "dv_high": number(core.DV_CENTER + core.DV_HALF_RANGE),
        "dv_center": number(core.DV_CENTER),
        "burn_angle": f"{math.degrees(core.BURN_ANGLE_MAX):.0f}",
        "obs_size": str(core.OBSERVATION_AT.size),
        "observation_table": core.MOON_OBSERVATION.table(),
        "arguments": arguments(SETTINGS, "moonshot/MoonLaunch-v1"),
    }


MoonLaunchEnv.__doc__ = fill_doc(MoonLaunchEnv.__doc__, _doc_values())
