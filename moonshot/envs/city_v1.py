"""CityNav-v1: CityNav with tyres and a steering rack, natively batched.

:class:`CityNavV1Env` is one drive (``gymnasium.make("moonshot/CityNav-v1")``); the drives'
env logic is :class:`~moonshot.envs.city_drives.CityDrives` (for N drives at once), and
:class:`~moonshot.envs.city_vector.CityNavVectorEnv` runs many
(``gymnasium.make_vec("moonshot/CityNav-v1", num_envs=N, vectorization_mode=
"vector_entry_point")``; importable from here too). The class docstring is generated from the
config and the layouts (:func:`_doc_values`, tested).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..errors import check_choice, check_keys
from ..physics.city.batch import DriveView
from ..physics.city.ego import VEHICLES
from ..physics.city.generator import LAYOUTS
from .city_config import V1_SETTINGS, check_city_config
from .city_drives import (
    FRICTION_SLOT,
    OBJECT_WIDTH,
    OBJECTS_OBSERVATION,
    V1_LIDAR_OBSERVATION,
    CityDrives,
    default_config,
    step_info,
)
from .city_nav import CityNavEnv
from .city_vector import CityNavVectorEnv
from .display import human_window
from .docs import arguments, fill_doc, number
from .perception import SIMULATOR, Rehearsal

if TYPE_CHECKING:
    from .city_perception import CityView, RehearsalFeed
    from .city_render import CityRenderer

__all__ = ["CityNavV1Env", "CityNavVectorEnv", "CityDrives", "default_config",
           "V1_LIDAR_OBSERVATION", "OBJECTS_OBSERVATION", "FRICTION_SLOT", "OBJECT_WIDTH"]


class CityNavV1Env(gym.Env):
    """
    ## Description
    CityNav with a car that obeys physics: everything of ``moonshot/CityNav-v0`` (maps,
    traffic, lights, rewards, observation, episode ends; ``help(moonshot.envs.CityNavEnv)``)
    with three changes in the world:

    * **tyres**: a friction circle. The tyres give at most ``road_friction`` x 9.81 m/s² in
      all (dry $road_friction, wet about 0.6, snow 0.3, ice 0.1; ``[low, high]`` draws one per
      drive, uniformly: domain randomization); braking and throttle come
      first, the turn gets the rest, and past it the car understeers (it follows the tightest
      curve the tyres hold, not the one its wheels point at). v0's car could turn at full lock
      at top speed (about 6 g);
    * **a steering rack**: the wheels turn towards the commanded angle at most ``steer_rate``
      ($steer_rate rad/s for the car: full lock from straight in about a second); the
      observation's ``steer`` slot is where the wheels are;
    * **a compiled geometry engine** for the lidar and the contacts (the city in plan view,
      :mod:`moonshot.physics.city.footprints`; validated against Bullet to 1 mm on 100,000
      rays), so that many drives step at once (``gymnasium.make_vec(..., vectorization_mode=
      "vector_entry_point")``: :class:`CityNavVectorEnv`).

    And a perception-based observation variant: ``observation="objects"`` replaces the lidar
    by the ``objects`` (default $objects) nearest cars the driver sees (in line of sight within
    ``sensor_range``, the same perception the planner gets) and the next light as seen - so
    that "RL lacks the information" can be told from "RL lacks the model".

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: acceleration (-1: brake, +1: throttle, at the vehicle's
    limits) and the commanded front-wheel angle (-1 .. +1: full lock right .. left).

    ## Observation Space
    ``observation="lidar"`` (default): as v0 (``help(moonshot.envs.CityNavEnv)``), and with
    ``observe_friction=True`` one more number at the end: the road's friction coefficient
    (more than a driver reads from the weather: the planner's view shows the weather's class,
    dry, wet, snow or ice - ``perceive().weather`` - and only its oracle the coefficient).
    ``observation="objects"``: $objects_size

    $objects_table

    ## Vehicles
    ``vehicle=``: $vehicles. ``lidar_noise``: Gaussian noise (m, 1-sigma) on the lidar.
    ``layout``: $layouts (held-out block sizes, many diagonals, T-junctions only: a topology
    absent from training). ``driving_side="left"``: the city mirrored, left-hand traffic.
    ``bold_drivers``, ``weather_seen``, ``sensor_delay`` and ``occlusion`` move the traffic's
    behaviour and what the planner's view shows (the shift axes ``drivers``,
    ``grip_misjudged``, ``sensor_delay``, ``occlusion``); ``roadworks`` closes lanes of the
    route with barriers the planner's map does not show (the axis ``roadworks``: touching one
    is a crash, ``info["crash"] == "roadworks"``; the lidar sees them, the planner's view once
    they are in sight, :mod:`moonshot.physics.city.roadworks`); see Arguments. With their
    defaults none of these changes a drive.

    ## Arguments
    $arguments

    ## Version History
    * v1: tyres (friction circle, understeer), steering rate limit, compiled geometry engine,
      native vector env, ``observation="objects"``, vehicles, road friction (a number or a
      range drawn per drive; ``observe_friction``), layouts, driving side, lidar noise.
    * v0: the kinematic car (``moonshot/CityNav-v0``, unchanged).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        cfg = default_config()
        check_keys(config, cfg, "CityNav-v1 config")
        cfg.update(config)
        check_city_config(cfg)
        check_choice("render_mode", render_mode, [None] + self.metadata["render_modes"])
        self._window = render_mode == "human" and human_window("CityNav")
        self.config, self.render_mode, self.split = cfg, render_mode, cfg["split"]
        self._drives = CityDrives(1, cfg)
        self.world = DriveView(self._drives.batch, 0)
        self.dt = self._drives.batch.dt
        self.ego_params = self._drives.vehicle
        self.road_friction = float(self._drives.batch.friction[0])  # this drive's road
        self.steer_rate = float(self.ego_params.steer_rate)
        self.observation_layout = self._drives.layout
        self.observation_space = self.observation_layout.box
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._views: dict = {}
        self._feed: RehearsalFeed | None = None  # pushed to, once perceive("simulator") asked
        self._rehearsal: Rehearsal | None = None
        self._started = False
        self._renderer: CityRenderer | None = None

    @classmethod
    def default_config(cls) -> dict:
        return default_config()

    @property
    def map_id(self) -> int:
        return int(self._drives.map_id[0])

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, info = self._drives.reset(0, self.np_random, options)
        self.road_friction = float(self._drives.batch.friction[0])
        self._started = True
        for view in self._views.values():
            self._refresh_views(view, episode=True)
        self._push(episode=True)
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        try:
            a = np.asarray(action, dtype=np.float64).reshape(2)
        except (TypeError, ValueError):
            raise ValueError("action must be 2 finite numbers (values outside [-1, 1] are "
                             f"clipped), got {action!r}") from None
        st = self._drives.step(a[None], [self.np_random])
        info = step_info(self._drives, st, 0)
        for view in self._views.values():
            self._refresh_views(view)
        self._push()
        if self.render_mode == "human":
            self.render()
        return (st["obs"][0], float(st["reward"][0]), bool(st["terminated"][0]),
                bool(st["truncated"][0]), info)

    def perceive(self, mode: str = "honest") -> CityView | Rehearsal:
        """The perception view of a planner (see :meth:`CityNavEnv.perceive`); for
        ``mode="simulator"`` (an agent that owns the simulator) a
        :class:`~moonshot.envs.perception.Rehearsal` (the same one at every call, like the
        views): action sequences played in copies of this drive as it stands at each call
        (:func:`~.city_perception.city_rehearsal`; the env pushes copies of its drive to it
        after every ``reset`` and ``step``, the rehearsal holds nothing of the env), whose
        randomness comes from generators of their own, seeded per call by the map, the step
        and the call's index within the episode, so a run repeats."""
        if not self._started:
            raise RuntimeError("call reset() before perceive()")
        if mode == SIMULATOR:
            if self._rehearsal is None:
                from .city_perception import RehearsalFeed, city_rehearsal

                self._feed = RehearsalFeed()
                self._push(episode=True)
                self._rehearsal = city_rehearsal(self.config, self._feed,
                                                 copy.deepcopy(self.action_space))
            return self._rehearsal
        return CityNavEnv.perceive(self, mode)

    def _push(self, episode: bool = False) -> None:
        """A copy of the drive as it stands now, to the rehearsal (if one was asked for)."""
        if self._feed is not None:
            self._feed.push(self._drives.get_state(0), episode)

    _refresh_views = CityNavEnv._refresh_views
    render = CityNavEnv.render

    def get_state(self) -> dict:
        """Where the drive stands, with the env's generator (exact resume of training)."""
        return {"rng": self.np_random.bit_generator.state, "drive": self._drives.get_state(0)}

    def set_state(self, state: dict) -> None:
        self._drives.set_state(0, state["drive"])
        self.road_friction = float(self._drives.batch.friction[0])
        self.np_random.bit_generator.state = state["rng"]
        self._started = True
        for view in self._views.values():  # a planner's view: this drive's map, road, goal
            self._refresh_views(view, episode=True)
        self._push(episode=True)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _doc_values() -> dict:
    cfg = default_config()
    return {
        "road_friction": number(cfg["road_friction"]),
        "steer_rate": number(VEHICLES["car"].steer_rate),
        "objects": str(cfg["objects"]),
        "objects_size": OBJECTS_OBSERVATION.summary(cfg),
        "objects_table": OBJECTS_OBSERVATION.table(),
        "vehicles": ", ".join(f"``{k}``" for k in VEHICLES),
        "layouts": ", ".join(f"``{k}``" for k in LAYOUTS),
        "arguments": arguments(V1_SETTINGS, "moonshot/CityNav-v1"),
    }


CityNavV1Env.__doc__ = fill_doc(CityNavV1Env.__doc__, _doc_values())
