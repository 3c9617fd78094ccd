"""MoonPlanner: first guess, rehearsal, correction from the miss, and the plan CLI."""

import json

import numpy as np
import pytest

from moonshot.agents import MoonPlanner
from moonshot.agents.moon_planner import hohmann_delta_v, moon_orbit_from_ephemeris, signed_miss
from moonshot.cli import main
from moonshot.envs.moon_core import action_to_burn
from moonshot.envs.moon_launch import MoonLaunchEnv
from moonshot.evaluation.rollout import run_scenarios, summarize
from moonshot.physics.constants import EARTH_MOON_DISTANCE, GM_EARTH, GM_MOON, R_EARTH
from moonshot.runlog import read_episodes


def test_first_guess_is_hohmann_like_and_flies_2_to_6_days():
    env = MoonLaunchEnv(execution_error=0.0)
    planner = MoonPlanner()
    r_park = R_EARTH + 200.0
    dv_h = hohmann_delta_v(r_park, EARTH_MOON_DISTANCE)
    assert dv_h == pytest.approx(3.13, abs=0.01)
    for sid in range(5):
        obs, info = env.reset(options={"scenario_id": sid})
        planner.begin_episode(env.perceive(), obs, info)
        sc = planner.scenario_from_observation(obs)
        _, dv = planner.first_guess(sc)
        assert abs(dv / hohmann_delta_v(sc["park_radius"], sc["moon_dist"]) - 1) < 0.03
        action, _ = planner.predict(obs)
        _, dv_exec, _ = action_to_burn(action, sc["park_radius"])
        _, _, _, _, info = env.step(action)
        assert abs(info["delta_v_kms"] / hohmann_delta_v(sc["park_radius"], sc["moon_dist"])
                   - 1) < 0.03
        assert 2.0 <= info["time_of_flight_days"] <= 6.0


def test_moon_ellipse_is_recovered_from_the_ephemeris():
    from moonshot.physics.earth_moon import moon_state

    gm = GM_EARTH + GM_MOON
    x, y, vx, vy = moon_state(EARTH_MOON_DISTANCE, 0.0549, 1.1, 2.5, gm)
    r = np.hypot(x, y)
    e, per = moon_orbit_from_ephemeris(2.5, r, (x * vx + y * vy) / r, EARTH_MOON_DISTANCE, gm)
    assert e == pytest.approx(0.0549, rel=1e-6)
    assert per == pytest.approx(1.1, abs=1e-6)


def test_exact_world_lands_on_the_first_launch():
    env = MoonLaunchEnv(execution_error=0.0, moon_eccentricity=0.0)
    recs = run_scenarios(MoonPlanner(), env, n=10, seed=1, split="train",
                         scenario_ids=range(10), max_trials=5, progress=False)
    s = summarize(recs)
    assert s["first_trial_success_rate"] >= 0.9 and s["success_rate"] == 1.0


def test_a_biased_first_launch_is_corrected_from_the_miss():
    # Sabotage the first launch (burn 40 s late), then let the planner correct from the
    # tracking data: the next launch must do much better and land.
    env = MoonLaunchEnv(execution_error=0.0)
    planner = MoonPlanner()
    obs, info = env.reset(options={"scenario_id": 5})
    planner.begin_episode(env.perceive(), obs, info)
    action, _ = planner.predict(obs)
    sc = planner.scenario_from_observation(obs)
    coast, dv, angle = action_to_burn(action, sc["park_radius"])
    from moonshot.envs.moon_core import burn_to_action

    biased = burn_to_action(coast + 40.0, dv, angle, sc["park_radius"]).reshape(3)
    _, _, _, _, info1 = env.step(biased)
    assert not info1["is_success"]
    miss1 = abs(signed_miss(info1["miss_vector_km"], info1["miss_velocity_kms"])[0])
    # Make the planner believe its own plan produced this miss: a model bias of miss1.
    planner.end_episode(info1)
    obs, info = env.reset(options={"scenario_id": 5})
    planner.begin_episode(env.perceive(), obs, info)
    action2, _ = planner.predict(obs)
    _, _, _, _, info2 = env.step(action2)
    planner.end_episode(info2)
    miss2 = abs(signed_miss(info2["miss_vector_km"], info2["miss_velocity_kms"])[0])
    assert miss2 < miss1
    assert np.linalg.norm(action2 - biased) > 1e-4


def test_new_moon_conditions_are_solved_in_few_launches():
    env = MoonLaunchEnv(split="new")
    recs = run_scenarios(MoonPlanner(), env, n=8, seed=3, split="new",
                         scenario_ids=range(100, 108), max_trials=5, progress=False)
    s = summarize(recs)
    assert s["success_rate"] == 1.0 and s["mean_trials_per_scenario"] <= 2.5


def test_plan_cli_writes_the_episode_log(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["plan", "moon", "--episodes", "3", "--seed", "4", "--out", str(out),
                 "--split", "new"]) == 0
    log = read_episodes(out)
    assert len(log["episode"]) >= 3 and set(log["split"]) == {"new"}
    assert log["success"][-1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenarios"] == 3
    assert "success_rate" in capsys.readouterr().out
    # An existing run is never overwritten.
    assert main(["plan", "moon", "--episodes", "1", "--out", str(out)]) == 2
    assert len(read_episodes(out)["episode"]) == len(log["episode"])
    assert main(["plan", "moon", "--episodes", "1", "--out", str(tmp_path / "x"),
                 "--target", "venus"]) == 2


def test_corrections_do_not_leak_across_splits():
    # Scenario ids repeat across splits; the worlds behind them differ.
    train_env, new_env = MoonLaunchEnv(split="train"), MoonLaunchEnv(split="new")
    planner, fresh = MoonPlanner(), MoonPlanner()
    obs, info = train_env.reset(options={"scenario_id": 9})
    planner.begin_episode(train_env.perceive(), obs, info)
    planner.predict(obs)
    planner.end_episode({**info, "miss_vector_km": np.array([5000.0, 0.0]),
                         "miss_velocity_kms": np.array([0.0, 1.0])})
    obs, info = new_env.reset(options={"scenario_id": 9})
    for p in (planner, fresh):
        p.begin_episode(new_env.perceive(), obs, info)
    np.testing.assert_array_equal(planner.predict(obs)[0], fresh.predict(obs)[0])


def test_bad_scenario_id_is_named():
    with pytest.raises(ValueError, match="scenario_id"):
        MoonLaunchEnv().reset(options={"scenario_id": -3})


@pytest.mark.parametrize("model", ["patched_conic", "first_guess"])
def test_simpler_models_plan_launches_and_count_their_imagination(model):
    env = MoonLaunchEnv(split="train", target="soi")
    planner = MoonPlanner(model=model)
    recs = run_scenarios(planner, env, n=4, seed=1, split="train", scenario_ids=range(20, 24),
                         max_trials=5, progress=False)
    s = summarize(recs)
    rollouts = [r.model_rollouts for r in recs]
    if model == "first_guess":
        assert sum(rollouts) == 0  # no imagination at all: it pays with real launches
    else:
        assert all(r > 10 for r in rollouts)
    assert s["scenarios"] == 4 and planner.name == f"planner[{model}]"


def test_the_simulator_planner_counts_every_rehearsal():
    env = MoonLaunchEnv(execution_error=0.0, target="landing")
    planner = MoonPlanner()
    recs = run_scenarios(planner, env, n=3, seed=0, split="train", scenario_ids=[1, 2, 3],
                         max_trials=5, progress=False)
    assert sum(r.model_rollouts for r in recs) == planner.rehearsals > 3 * 90


def test_bad_model_or_perception_is_named():
    from moonshot.errors import ConfigError

    with pytest.raises(ConfigError, match="patched_conic"):
        MoonPlanner(model="kepler")
    with pytest.raises(ConfigError, match="oracle"):
        MoonPlanner(perception="psychic")
