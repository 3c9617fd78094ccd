"""MoonLaunch: one launch from a parking orbit to the Moon per episode."""

from __future__ import annotations

from . import World, register_world


def time_of_flight(info: dict, length: int, env) -> float | None:
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
    scenario_unit="scenario",
    time_unit="days",
    time_to_goal=time_of_flight,
    task_key="target",
    frames="moonshot.evaluation.render:moon_frames",
    render_fps=10,
    hyperparams="moon",
    pretrained="moon-ppo",
    benchmark="moonshot.evaluation.benchmark:moon_figures",
))
