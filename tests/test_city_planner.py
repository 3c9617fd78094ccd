"""CityPlanner: stops behind a standing car, waits at red, reaches the goal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from moonshot.agents import CityPlanner
from moonshot.envs.city_nav import CityNavEnv
from moonshot.physics.city.traffic import traffic_poses


def _drive(env, agent, steps):
    obs = env.unwrapped._observe()
    info = {}
    for _ in range(steps):
        action, _ = agent.predict(obs)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
    return info


def test_stops_behind_a_standing_car():
    env = CityNavEnv(traffic_cars=1, map_seed=2)
    for seed in range(50):  # an episode whose first road lane has room for the test
        obs, info = env.reset(seed=seed)
        w = env.world
        lane, s0 = w.start_lane, w.start_s
        if w.city.lanes.length[lane] > s0 + 45:
            break
    tr = w.traffic
    tr.lane[0], tr.s[0], tr.v[0], tr.v0[0] = lane, s0 + 35.0, 0.0, 1e-3  # stays put
    traffic_poses(tr.lane, tr.s, w.city.lanes.pts, w.city.lanes.cum, tr.pose)
    agent = CityPlanner()
    agent.begin_episode(env.perceive(), obs, info)
    info = _drive(env, agent, 200)
    assert "outcome" not in info  # neither crashed nor drove through
    gap = np.hypot(*(tr.pose[0, :2] - w.ego[:2])) - 4.5
    assert 0.5 < gap < 8.0 and w.ego[3] < 0.5


def test_waits_at_red():
    env = CityNavEnv(traffic_cars=0, map_seed=0)
    obs, info = env.reset(seed=1)
    w = env.world
    city = w.city
    # a copy of the map whose lights never turn green (the cached map stays untouched)
    w.city = replace(city, signals=replace(city.signals, green=1e-3, yellow=0.0))
    agent = CityPlanner()
    agent.begin_episode(env.perceive(), obs, info)
    info = _drive(env, agent, 400)
    assert "outcome" not in info
    first_stop = w.route.stops[0, 0]
    assert w.route_s < first_stop - 2.0 and first_stop - w.route_s < 12.0
    assert w.ego[3] < 0.1


def test_reaches_the_goal():
    env = CityNavEnv(traffic_cars=10, split="new", route_length=(150.0, 300.0))
    agent = CityPlanner()
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        agent.begin_episode(env.perceive(), obs, info)
        info = _drive(env, agent, 1500)
        assert info["outcome"] == "arrived" and info["is_success"] and not info["death"]
    assert np.median(agent.decision_times) < 0.05


def test_reads_the_road_and_its_vehicle_through_its_view():
    """On ice it drives slowly enough to stop within sight (and still arrives in time); with
    a truck it plans with the truck's size and tyres. No crash either way."""
    import gymnasium as gym

    from moonshot.agents import run_episode

    for kwargs in ({"road_friction": 0.1}, {"vehicle": "truck"}):
        env = gym.make("moonshot/CityNav-v1", traffic_cars=20, route_length=(150.0, 300.0),
                       **kwargs).unwrapped
        for seed in range(2):
            agent = CityPlanner()
            rec = run_episode(agent, env, seed=seed)
            assert rec.outcome == "arrived" and not rec.death, (kwargs, seed, rec.outcome)
            if "road_friction" in kwargs:  # within what it can stop in: ~6 m/s on ice
                assert agent.v_ref.max() < 7.0 and agent.times[-1] > agent.horizon
