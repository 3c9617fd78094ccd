"""CityNav: one drive through a city with traffic per episode."""

from __future__ import annotations

from . import World, register_world


def drive_time(info: dict, length: int, env) -> float | None:
    """Seconds of simulated driving (control steps times the env's step)."""
    return length * float(getattr(env.unwrapped, "dt", 0.1))


CITY = register_world(World(
    name="city",
    title="CityNav",
    env_id="moonshot/CityNav-v1",
    env_ids=("moonshot/CityNav-v0", "moonshot/CityNav-v1"),
    planner="moonshot.agents.city_planner:CityPlanner",
    trials_per_scenario=1,
    episode_unit="drive",
    scenario_unit="drive",
    time_unit="s",
    time_to_goal=drive_time,
    frames="moonshot.evaluation.render:city_frames",
    render_views=("top", "chase"),
    render_fps=10,
    hyperparams="city",
    pretrained="city-ppo",
    benchmark="moonshot.evaluation.benchmark:city_figures",
    episode_steps=lambda env_kwargs: int(round(float(env_kwargs.get("time_limit", 240.0))
                                               / 0.1)),
))
