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


@pytest.mark.parametrize("model", ["patched_conic", "simulator"])
def test_a_systematic_error_is_corrected_from_the_miss(model):
    # Sabotage every launch the same way (the burn 40 s late, a clock error the planner does
    # not know of): the first misses, and the planner corrects from the tracking data, so
    # the next one does much better and lands.
    from moonshot.envs.moon_core import burn_to_action

    env = MoonLaunchEnv(execution_error=0.0)
    planner = MoonPlanner(model=model)
    misses, infos = [], []
    for _ in range(2):
        obs, info = env.reset(options={"scenario_id": 5})
        planner.begin_episode(env.perceive(), obs, info)
        action, _ = planner.predict(obs)
        r_park = planner.scenario_from_observation(obs)["park_radius"]
        coast, dv, angle = action_to_burn(action, r_park)
        _, _, _, _, info = env.step(burn_to_action(coast + 40.0, dv, angle, r_park).reshape(3))
        planner.end_episode(info)
        infos.append(info)
        misses.append(abs(signed_miss(info["miss_vector_km"], info["miss_velocity_kms"])[0]))
    assert not infos[0]["is_success"] and infos[1]["is_success"]
    assert misses[1] < 0.1 * misses[0]


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


@pytest.mark.parametrize("model, label", [("first_guess", "planner[first_guess]"),
                                          ("simulator", "planner[simulator, oracle]")])
def test_other_models_plan_launches_and_count_their_imagination(model, label):
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
    assert s["scenarios"] == 4 and planner.name == label


def test_the_default_planner_counts_every_rehearsal():
    env = MoonLaunchEnv(execution_error=0.0, target="landing")
    planner = MoonPlanner()
    assert planner.model == "patched_conic" and planner.name == "planner"
    recs = run_scenarios(planner, env, n=3, seed=0, split="train", scenario_ids=[1, 2, 3],
                         max_trials=5, progress=False)
    assert sum(r.model_rollouts for r in recs) == planner.rehearsals > 3 * 90


def test_bad_model_or_perception_is_named():
    from moonshot.errors import ConfigError

    with pytest.raises(ConfigError, match="patched_conic"):
        MoonPlanner(model="kepler")
    with pytest.raises(ConfigError, match="oracle"):
        MoonPlanner(perception="psychic")


def test_a_correction_stays_on_the_transfer_it_measured():
    # A slow (7-day) transfer where the conics miss by ~15,000 km: the correction must aim
    # on that transfer, not jump to another one whose error it has never measured.
    env = MoonLaunchEnv(split="new", target="landing", execution_error=0.0)
    planner = MoonPlanner()
    recs = run_scenarios(planner, env, n=1, seed=0, split="new", scenario_ids=[290117534],
                         max_trials=5, progress=False)
    assert not recs[0].success and recs[-1].success and len(recs) == 2
    tof = [r.final_info["time_of_flight_days"] for r in recs]
    assert abs(tof[1] - tof[0]) < 1.0


def test_a_biased_engine_is_calibrated_from_the_executed_delta_v():
    # burn_bias level 3 (+4% delta-v, 1.5 deg): the first launch reveals the engine's gain,
    # and the planner commands less from then on, at every scenario.
    from moonshot.worlds import get_world

    env = MoonLaunchEnv(target="landing", **get_world("moon").axis("burn_bias").settings(3))
    planner = MoonPlanner()
    recs = run_scenarios(planner, env, n=10, seed=0, split="train", scenario_ids=range(10),
                         max_trials=5, progress=False)
    s = summarize(recs)
    assert planner.engine_gain() == pytest.approx(1.04, abs=1e-3)
    assert s["success_rate"] == 1.0 and s["mean_trials_per_scenario"] <= 1.5
    planner.forget()
    assert planner.engine_gain() == 1.0
