"""CityNav: one drive through a city with traffic per episode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ShiftAxis, World, register_world

if TYPE_CHECKING:
    import gymnasium as gym

#: The CityNav ladder (docs/environments.md, "The generalization ladder"): level 0 of every
#: axis is the training distribution; the composite ``split="new"`` is unchanged.
SHIFT_AXES = {a.name: a for a in (
    ShiftAxis("traffic", ({}, {"traffic_cars": 30}, {"traffic_cars": 40},
                          {"traffic_cars": 60}),
              ("20 cars (training)", "30 cars", "40 cars", "60 cars"),
              "traffic density (cars in the city)"),
    ShiftAxis("layout", ({}, {"layout": "blocks"}, {"layout": "diagonals"},
                         {"layout": "t_junctions"}),
              ("the training maps", "held-out block sizes (x0.7 or x1.5)",
               "many diagonal avenues", "T-junctions only (a topology absent from training)"),
              "the maps' layout (on the map the planner reads)"),
    ShiftAxis("vehicle", ({}, {"vehicle": "heavy"}, {"vehicle": "weak_brakes"},
                          {"vehicle": "truck"}),
              ("the car (training)", "heavier: 2 m/s² throttle, 4.5 m/s² brakes",
               "weak brakes: 3 m/s²", "a 9 m truck, 5.5 m wheelbase"),
              "the ego's vehicle (its own parameters, known to its driver)"),
    ShiftAxis("friction", ({}, {"road_friction": 0.6}, {"road_friction": 0.3},
                           {"road_friction": 0.1}),
              ("dry, 0.9 (training)", "wet, 0.6", "snow, 0.3", "ice, 0.1"),
              "the road's grip (seen, as one sees rain or snow)"),
    ShiftAxis("driving_side", ({}, {"driving_side": "left"}),
              ("right-hand traffic (training)", "left-hand traffic (the city mirrored)"),
              "which side of the road traffic drives on"),
    ShiftAxis("lidar_noise", ({}, {"lidar_noise": 0.5}, {"lidar_noise": 1.0},
                              {"lidar_noise": 2.0}),
              ("none (training)", "0.5 m", "1 m", "2 m"),
              "Gaussian noise on the RL agent's lidar (the planner's perception is not "
              "the lidar)"),
    ShiftAxis("drivers", ({}, {"bold_drivers": 0.1}, {"bold_drivers": 0.25},
                          {"bold_drivers": 0.5}),
              ("lawful drivers (training)", "10% bold", "25% bold", "half bold"),
              "bold drivers among the traffic: speeding, short gaps, running yellows and "
              "reds (seen as they drive, not told)", perceivable=False),
    ShiftAxis("grip_misjudged", ({}, {"road_friction": 0.7, "weather_seen": "dry"},
                                 {"road_friction": 0.5, "weather_seen": "dry"},
                                 {"road_friction": 0.3, "weather_seen": "dry"}),
              ("dry, 0.9 (training)", "looks dry, 0.7", "looks dry, 0.5 (wet grip)",
               "looks dry, 0.3 (black ice: snow grip)"),
              "the road's true grip below what the weather shows (the view says dry)",
              perceivable=False),
    ShiftAxis("occlusion", ({}, {"occlusion": 15.0}, {"occlusion": 25.0},
                            {"occlusion": 40.0}),
              ("open corners (training)", "hedges 15 m from the crossings' centres",
               "hedges 25 m out", "hedges 40 m out"),
              "hedges on the corner lots hide cross traffic (and roadworks' barriers) from "
              "the planner's sensors (the map does not show them)", perceivable=False),
    ShiftAxis("sensor_delay", ({}, {"sensor_delay": 2}, {"sensor_delay": 5},
                               {"sensor_delay": 10}),
              ("none (training)", "0.2 s", "0.5 s", "1 s"),
              "the planner's view of the cars and lights lags by this much (its own car "
              "does not)", perceivable=False),
    ShiftAxis("roadworks", ({}, {"roadworks": 1}, {"roadworks": 2, "roadworks_length": 20.0},
                            {"roadworks": 4, "roadworks_length": 40.0}),
              ("no works (training)", "one lane closed on the route (8 m of barriers)",
               "two closures, 20 m each", "up to four closures, 40 m each"),
              "lanes of the route closed by barriers its street map does not show (a stale "
              "map); a driver sees them in line of sight within sensor range, as one sees "
              "cones, and passes on the other side of the street (closed to other traffic); "
              "touching one is a crash"),
)}


#: Combined ladders (``moonshot shift city --axis friction+traffic``): level k of each axis
#: together - the shifts a driver meets at once (snow in rush hour; a truck on an unseen
#: layout in snow; bold drivers, late eyes and black ice; roadworks behind hedges, which
#: hide the barriers from the planner's view as they hide cars).
COMBINED_AXES = ("friction+traffic", "friction+traffic+vehicle", "friction+vehicle+layout",
                 "drivers+sensor_delay+grip_misjudged", "drivers+occlusion+sensor_delay",
                 "roadworks+occlusion")


#: The seed places of the axes and ladders after the splits, append-only (docs/protocol.md,
#: "Seed ranges"): a new axis or ladder goes at the end, so no existing place's seeds move.
SEED_ORDER = ("traffic", "layout", "vehicle", "friction", "driving_side", "lidar_noise",
              "drivers", "grip_misjudged", "occlusion", "sensor_delay", "friction+traffic",
              "friction+traffic+vehicle", "friction+vehicle+layout",
              "drivers+sensor_delay+grip_misjudged", "drivers+occlusion+sensor_delay",
              "roadworks", "roadworks+occlusion")


def drive_time(info: dict, length: int, env: gym.Env) -> float | None:
    """Seconds of simulated driving (control steps times the env's step)."""
    return length * float(getattr(env.unwrapped, "dt", 0.1))


CITY = register_world(World(
    name="city",
    title="CityNav",
    env_id="moonshot/CityNav-v1",
    env_ids=("moonshot/CityNav-v0", "moonshot/CityNav-v1"),
    planner="moonshot.agents.city:CityPlanner",
    trials_per_scenario=1,
    episode_unit="drive",
    death_label="crashes",
    scenario_unit="drive",
    time_unit="s",
    time_to_goal=drive_time,
    frames="moonshot.evaluation.render:city_frames",
    render_views=("top", "chase"),
    render_fps=10,
    hyperparams="city",
    pretrained="city-ppo",
    benchmark="moonshot.evaluation.benchmark:city_figures",
    shift_axes=SHIFT_AXES,
    combined_axes=COMBINED_AXES,
    seed_order=SEED_ORDER,
    range_keys=("road_friction",),
    episode_steps=lambda env_kwargs: int(round(float(env_kwargs.get("time_limit", 240.0))
                                               / 0.1)),
))
