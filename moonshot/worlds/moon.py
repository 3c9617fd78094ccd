"""MoonLaunch: one launch from a parking orbit to the Moon per episode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ShiftAxis, World, register_world

if TYPE_CHECKING:
    import gymnasium as gym

#: The MoonLaunch ladder (docs/environments.md, "The generalization ladder"): level 0 of every
#: axis is the training distribution; the composite ``split="new"`` is unchanged.
SHIFT_AXES = {a.name: a for a in (
    ShiftAxis("altitude", (
        {}, {"park_altitude_km": [400, 500]}, {"park_altitude_km": [500, 1000]},
        {"park_altitude_km": [1000, 2000]}),
        ("180-400 km (training)", "400-500 km (just outside)", "500-1,000 km",
         "1,000-2,000 km (far outside)"),
        "parking orbit altitude (in the observation)"),
    ShiftAxis("moon_mass", (
        {}, {"moon_mass_scale": [[0.8, 0.9], [1.1, 1.25]]},
        {"moon_mass_scale": [[0.5, 0.8], [1.25, 2.0]]},
        {"moon_mass_scale": [[0.25, 0.5], [2.0, 4.0]]}),
        ("the Moon's (training)", "x0.8-0.9 or x1.1-1.25", "x0.5-0.8 or x1.25-2",
         "x0.25-0.5 or x2-4"),
        "the Moon's mass (in the observation and the published constants)"),
    ShiftAxis("moon_orbit", (
        {}, {"moon_orbit_scale": [[0.95, 0.98], [1.02, 1.05]]},
        {"moon_orbit_scale": [[0.85, 0.93], [1.07, 1.2]]},
        {"moon_orbit_scale": [[0.75, 0.85], [1.2, 1.35]]}),
        ("384,400 km (training)", "x0.95-0.98 or x1.02-1.05", "x0.85-0.93 or x1.07-1.2",
         "x0.75-0.85 or x1.2-1.35"),
        "the size of the Moon's orbit (in the observation)"),
    ShiftAxis("burn_noise", (
        {}, {"execution_error": 3.0}, {"execution_error": 10.0}, {"execution_error": 30.0}),
        ("0.5 m/s, 0.1 mrad (training)", "x3", "x10", "x30"),
        "random error of the executed burn (not observable before the launch)",
        perceivable=False),
    ShiftAxis("sun", ({}, {"sun_gravity": 1.0}, {"sun_gravity": 10.0}, {"sun_gravity": 30.0}),
              ("no Sun (training)", "the real Sun's gravity", "10x the Sun's", "30x the Sun's"),
              "the Sun's tidal pull on the rocket and the Moon: a four-body world that the "
              "planners' models do not contain", perceivable=False),
    ShiftAxis("burn_bias", (
        {}, {"burn_bias": 0.005, "burn_bias_angle_deg": 0.2},
        {"burn_bias": 0.015, "burn_bias_angle_deg": 0.5},
        {"burn_bias": 0.04, "burn_bias_angle_deg": 1.5}),
        ("an exact engine (training)", "+0.5% delta-v, 0.2 deg", "+1.5% delta-v, 0.5 deg",
         "+4% delta-v, 1.5 deg"),
        "a systematic error of the engine, the same at every launch (not observable before "
        "a launch; the tracking data of a few reveal it)", perceivable=False),
)}
#: Combined ladders (``moonshot shift moon --axis altitude+moon_mass+moon_orbit``): level k of
#: each axis at once. New axes and ladders go at the end: the order places their seeds
#: (docs/protocol.md).
COMBINED_AXES = ("altitude+moon_mass+moon_orbit", "burn_noise+burn_bias",
                 "moon_orbit+burn_bias+sun")

#: The seed places of the axes and ladders after the splits, append-only (docs/protocol.md,
#: "Seed ranges"): a new axis or ladder goes at the end, so no existing place's seeds move.
SEED_ORDER = ("altitude", "moon_mass", "moon_orbit", "burn_noise", "sun", "burn_bias",
              "altitude+moon_mass+moon_orbit", "burn_noise+burn_bias", "moon_orbit+burn_bias+sun")


def time_of_flight(info: dict, length: int, env: gym.Env) -> float | None:
    """Days from the burn to the closest approach."""
    return info.get("time_of_flight_days")


MOON = register_world(World(
    name="moon",
    title="MoonLaunch",
    env_id="moonshot/MoonLaunch-v1",
    env_ids=("moonshot/MoonLaunch-v0", "moonshot/MoonLaunch-v1"),
    planner="moonshot.agents.moon_planner:MoonPlanner",
    trials_per_scenario=5,
    replay_option="scenario_id",
    episode_unit="launch",
    death_label="rockets lost",
    scenario_unit="scenario",
    time_unit="days",
    time_to_goal=time_of_flight,
    task_key="target",
    frames="moonshot.evaluation.render:moon_frames",
    render_fps=10,
    hyperparams="moon",
    pretrained="moon-ppo",
    benchmark="moonshot.evaluation.benchmark:moon_figures",
    shift_axes=SHIFT_AXES,
    combined_axes=COMBINED_AXES,
    seed_order=SEED_ORDER,
    episode_steps=lambda env_kwargs: 1,
    split_keys=("park_altitude_km", "moon_mass_scale", "moon_orbit_scale"),
))
