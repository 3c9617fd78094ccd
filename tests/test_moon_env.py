"""MoonLaunch-v0 and its batched vector env: API compliance, determinism, errors, semantics."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import moonshot  # noqa: F401  (registers the envs)
from moonshot.envs import moon_config, moon_core
from moonshot.envs.moon_launch import MoonLaunchEnv
from moonshot.envs.moon_vector import MoonLaunchVectorEnv
from moonshot.envs.seeded_uniforms import seeded_uniforms
from moonshot.errors import ConfigError

ENV_ID = "moonshot/MoonLaunch-v0"


@pytest.mark.parametrize("split", ["train", "new"])
def test_env_checkers_pass(split):
    env = gym.make(ENV_ID, split=split)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(MoonLaunchEnv(split=split))


def test_same_seed_same_episode_bit_for_bit():
    def run(seed):
        env = gym.make(ENV_ID)
        obs, _ = env.reset(seed=seed)
        out = env.step(np.array([0.2, 0.1, -0.05], dtype=np.float32))
        return obs, out[1], out[4]

    (o1, r1, i1), (o2, r2, i2) = run(7), run(7)
    np.testing.assert_array_equal(o1, o2)
    assert r1 == r2
    assert i1["closest_approach_km"] == i2["closest_approach_km"]
    np.testing.assert_array_equal(i1["miss_vector_km"], i2["miss_vector_km"])
    o3, _, _ = run(8)
    assert not np.array_equal(o1, o3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_raises(bad):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(np.array([0.0, bad, 0.0], dtype=np.float32))


def test_unknown_target_and_kwarg_list_the_valid_ones():
    with pytest.raises(ConfigError, match="landing"):
        gym.make(ENV_ID, target="mars")
    with pytest.raises(ConfigError, match="execution_error"):
        gym.make(ENV_ID, executon_error=0.0)
    with pytest.raises(ValueError, match="execution_error"):
        gym.make(ENV_ID, execution_error=-1)
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="scenario_id"):
        env.reset(options={"scenaro": 3})


def test_scenario_replay_and_splits_differ():
    env = MoonLaunchEnv()
    o1, i1 = env.reset(options={"scenario_id": 42})
    o2, i2 = env.reset(seed=123, options={"scenario_id": 42})
    np.testing.assert_array_equal(o1, o2)
    assert i1["map_id"] == i2["map_id"] == 42
    new = MoonLaunchEnv(split="new")
    alts, mass, size = [], [], []
    for k in range(50):
        o, _ = new.reset(options={"scenario_id": k})
        alts.append(o[4])
        mass.append(o[7])
        size.append(o[8])
    assert min(alts) >= 0.6  # parking altitudes never seen in training (<= 400 km)
    assert all(abs(m - 1) > 0.19 for m in mass) and all(abs(s - 1) > 0.06 for s in size)


def test_burn_mapping_round_trips():
    r = np.array([6578.0, 7000.0])
    a = np.array([[-0.5, 0.25, 0.1], [0.9, -0.7, -1.0]], dtype=np.float32)
    coast, dv, ang = moon_core.action_to_burn(a, r)
    np.testing.assert_allclose(moon_core.burn_to_action(coast, dv, ang, r), a, atol=1e-6)
    assert np.all((dv >= 2.7) & (dv <= 3.5))


def test_outcomes_success_and_reward_by_target():
    # A Hohmann-like launch aimed with exact burns: find one that lands and check every target.
    env = MoonLaunchEnv(execution_error=0.0, moon_eccentricity=0.0)
    env.reset(options={"scenario_id": 1})
    s = env.scenario
    # Burn where the Moon leads by ~ the Hohmann lead angle; scan the coast fraction.
    best = None
    for frac in np.linspace(-1, 1, 181):
        env.reset(options={"scenario_id": 1})
        _, reward, term, trunc, info = env.step(np.array([frac, 0.12, 0.0], np.float32))
        assert term and not trunc
        assert 0.0 <= reward <= 2.0
        if best is None or info["closest_approach_km"] < best[1]["closest_approach_km"]:
            best = (frac, info, reward)
    frac, info, reward = best
    assert info["closest_approach_km"] < moon_config.TARGETS["flyby"], s
    assert info["outcome"] in ("landed", "flyby")
    for target in ("soi", "flyby"):
        e = MoonLaunchEnv(execution_error=0.0, moon_eccentricity=0.0, target=target)
        e.reset(options={"scenario_id": 1})
        _, r, _, _, inf = e.step(np.array([frac, 0.12, 0.0], np.float32))
        assert inf["is_success"] and r > 1.0 and not inf["death"]
    assert info["is_success"] == (info["outcome"] == "landed")


@pytest.mark.parametrize("bias", [{}, {"burn_bias": 0.015, "burn_bias_angle_deg": 0.5}])
def test_vector_env_matches_single_env(bias):
    vec = MoonLaunchVectorEnv(num_envs=4, execution_error=0.0, **bias)
    obs, info = vec.reset(seed=3)
    acts = np.array([[0.1, 0.1, 0.0], [-0.3, 0.05, 0.1], [0.7, -0.2, 0.0], [0.0, 0.4, -0.5]],
                    dtype=np.float32)
    ids = info["map_id"].copy()
    nobs, rew, term, trunc, vinfo = vec.step(acts)
    assert term.all() and not trunc.any()
    np.testing.assert_array_equal(vinfo["final_obs"], obs)
    single = MoonLaunchEnv(execution_error=0.0, **bias)
    for j in range(4):
        o, _ = single.reset(options={"scenario_id": int(ids[j])})
        np.testing.assert_array_equal(o, obs[j])
        _, r, _, _, inf = single.step(acts[j])
        assert r == rew[j]
        assert inf["outcome"] == vinfo["final_info"]["outcome"][j]
        assert inf["delta_v_kms"] == vinfo["final_info"]["delta_v_kms"][j]
    assert not np.array_equal(nobs, obs)  # autoreset drew new scenarios
    with pytest.raises(ValueError, match="NaN"):
        vec.step(np.full((4, 3), np.nan))
    made = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point")
    assert isinstance(made, MoonLaunchVectorEnv)


def test_burn_bias_is_a_systematic_engine_error():
    # The engine delivers (1 + b) x the commanded delta-v, turned by a fixed angle, at every
    # launch; info reports the executed delta-v; nothing in the observation shows it.
    exact, biased = MoonLaunchEnv(execution_error=0.0), MoonLaunchEnv(
        execution_error=0.0, burn_bias=0.015, burn_bias_angle_deg=0.5)
    turned = MoonLaunchEnv(execution_error=0.0, burn_bias_angle_deg=0.5)
    action = np.array([0.2, 0.1, 0.0], np.float32)
    for sid in (3, 6):  # flights that approach the Moon after the burn
        outs = []
        for env in (exact, biased, turned):
            obs, _ = env.reset(options={"scenario_id": sid})
            outs.append((obs, env.step(action)[4]))
        (o0, i0), (o1, i1), (o2, i2) = outs
        np.testing.assert_array_equal(o0, o1)
        assert i1["delta_v_kms"] == pytest.approx(1.015 * i0["delta_v_kms"], rel=1e-12)
        assert i2["delta_v_kms"] == i0["delta_v_kms"]
        assert i2["closest_approach_km"] != i0["closest_approach_km"]  # the angle acts too
    with pytest.raises(ValueError, match="burn_bias"):
        MoonLaunchEnv(burn_bias=0.5)


def test_render_shows_the_flight():
    env = MoonLaunchEnv(render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    _, _, _, _, info = env.step(np.array([0.0, 0.1, 0.0], np.float32))
    after = env.render()
    assert before.shape == after.shape == (600, 600, 3) and after.dtype == np.uint8
    assert np.abs(after.astype(int) - before.astype(int)).sum() > 0
    assert "trajectory" not in info  # variable length: kept on the env, not in info
    assert env.last_trajectory().shape[1] == 9


def _per_id_scenarios(split, scenario_ids, eccentricity, soi_radius="laplace"):
    """``sample_scenarios`` as written before issue 16 (one numpy generator per id): the
    reference that every scenario id must keep, bit for bit."""

    def two_sided(rng, lo, hi, lo2, hi2):
        u = rng.uniform(0.0, (hi - lo) + (hi2 - lo2))
        return lo + u if u < hi - lo else lo2 + (u - (hi - lo))

    ids = np.atleast_1d(np.asarray(scenario_ids, dtype=np.int64))
    n = len(ids)
    cols = {k: np.empty(n) for k in ("alt", "pa", "ma", "a", "per", "gm")}
    for j, sid in enumerate(ids):
        rng = np.random.default_rng([int(sid), moon_core._SPLIT_SALT[split]])
        cols["pa"][j], cols["ma"][j], cols["per"][j] = rng.uniform(0, 2 * np.pi, 3)
        if split == "train":
            cols["alt"][j] = rng.uniform(180.0, 400.0)
            cols["a"][j] = moon_core.EARTH_MOON_DISTANCE
            cols["gm"][j] = moon_core.GM_MOON
        else:
            cols["alt"][j] = rng.uniform(600.0, 2000.0)
            cols["a"][j] = moon_core.EARTH_MOON_DISTANCE * two_sided(rng, 0.85, 0.93, 1.07, 1.20)
            cols["gm"][j] = moon_core.GM_MOON * two_sided(rng, 0.5, 0.8, 1.25, 2.0)
    # the Sun's angle (added with the shift ladder) is the seventh draw of the same generator
    sun = np.array([np.random.default_rng([int(sid), moon_core._SPLIT_SALT[split]])
                    .uniform(0.0, 2 * np.pi, 7)[6] for sid in ids])
    return moon_core.Scenarios(
        ids, cols["alt"], cols["pa"], cols["ma"], cols["a"], np.full(n, float(eccentricity)),
        cols["per"], cols["gm"], moon_core.sphere_of_influence(cols["a"], cols["gm"], soi_radius),
        sun)


# Edge ids: the ends of the env's range [0, 2**31 - 1), and ids of two uint32 words.
EDGE_IDS = [0, 1, 2**31 - 2, 2**32 - 1, 2**32, 2**40 + 7, 2**63 - 1]


@pytest.mark.parametrize("split", moon_config.SPLITS)
def test_batched_scenario_draw_keeps_every_scenario_bit_for_bit(split):
    # No skip on any numpy version: if numpy ever changes SeedSequence or PCG64, this fails,
    # and so would the promise that a scenario id names the same scenario as before.
    ids = np.concatenate([EDGE_IDS, np.random.default_rng(16).integers(0, 2**31 - 1, 100_000)])
    got = moon_core.sample_scenarios(split, ids, 0.0549)
    ref = _per_id_scenarios(split, ids, 0.0549)
    for field in dataclasses.fields(moon_core.Scenarios):
        a, b = getattr(got, field.name), getattr(ref, field.name)
        assert a.dtype == b.dtype and a.shape == b.shape, field.name
        bad = np.flatnonzero(a.view(np.uint64) != b.view(np.uint64))
        assert bad.size == 0, (f"{split} {field.name}: numpy {np.__version__} draws other "
                               f"values for ids {ids[bad[:5]].tolist()}")


def test_seeded_uniforms_are_numpys_default_rng():
    salt = 0xFFFF_FFFF
    got = seeded_uniforms(EDGE_IDS, salt, 9)
    ref = np.array([np.random.default_rng([i, salt]).random(9) for i in EDGE_IDS])
    assert got.tobytes() == ref.tobytes(), f"numpy {np.__version__} seeds differently"
    assert seeded_uniforms([], 0, 3).shape == (0, 3)
    with pytest.raises(ValueError, match="non-negative"):
        seeded_uniforms([3, -1], 0, 1)
    with pytest.raises(ValueError, match="salt"):
        seeded_uniforms([3], 2**32, 1)
