"""The native vector envs behave like Gymnasium's sync vector env of single envs: the same
episodes slot by slot (``seed + i`` or a list of seeds), the same info keys per step and in
``final_info``, both autoreset modes, and Gymnasium's vector wrappers on top."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

import moonshot  # noqa: F401  (registers the envs)
import moonshot_body  # noqa: F401  (registers BodyWalk, a plug-in world)

BODY = "moonshot/BodyWalk-v0"
#: every env id with a native vector env, with a small config that ends episodes quickly
NATIVE = {
    "moonshot/MoonLaunch-v0": {},
    "moonshot/MoonLaunch-v1": {},
    "moonshot/CityNav-v1": {"time_limit": 3.0, "traffic_cars": 4},
    BODY: {"time_limit": 0.4},
}
#: further settings compared slot for slot: damaged bodies (a leg drawn per walk, so the
#: slots walk different MuJoCo models; a missing shin has fewer joints)
VARIANTS = {f"{BODY}:short": (BODY, {"time_limit": 0.4, "damage": "short"}),
            f"{BODY}:missing": (BODY, {"time_limit": 0.4, "damage": "missing",
                                       "payload_kg": 3.0, "slope_deg": 10.0}),
            # the goal just beyond reach: some walks arrive (the success path), some time out
            f"{BODY}:near": (BODY, {"time_limit": 0.4, "goal_distance": 0.31})}
CASES = {**{k: (k, kw) for k, kw in NATIVE.items()}, **VARIANTS}
#: steps per seed of the slot-for-slot test (enough for episodes to end)
STEPS = {"moonshot/CityNav-v1": 40, BODY: 45}
MODES = [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP]


def test_every_native_env_is_covered():
    ids = {k for k, spec in gym.registry.items()
           if k.startswith("moonshot/") and spec.vector_entry_point is not None}
    assert ids == set(NATIVE)


def _keys(info: dict) -> set:
    """Every key path of a vector info dict, masks included."""
    out = set()
    for k, v in info.items():
        out.add(k)
        if isinstance(v, dict):
            out |= {f"{k}.{sub}" for sub in _keys(v)}
    return out


def _same_infos(a: dict, b: dict) -> None:
    """Two vector info dicts hold the same keys, dtypes and values (``final_obs`` slot by
    slot)."""
    assert _keys(a) == _keys(b)
    for key, val in a.items():
        if isinstance(val, dict):
            _same_infos(val, b[key])
        elif key == "final_obs":
            for x, y in zip(val, b[key], strict=True):
                assert (x is None and y is None) or np.array_equal(x, y)
        else:
            assert val.dtype == b[key].dtype, key
            np.testing.assert_array_equal(val, b[key], err_msg=key)


def _pair(env_id: str, n: int, mode: AutoresetMode, kw: dict):
    native = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point",
                          autoreset_mode=mode, **kw)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": mode}, **kw)
    return native, sync


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("case", sorted(CASES))
def test_native_env_is_the_sync_env_slot_for_slot(case, mode):
    env_id, kw = CASES[case]
    n, steps = 3, STEPS.get(env_id, 4)
    native, sync = _pair(env_id, n, mode, kw)
    assert native.metadata["autoreset_mode"] == mode
    rng = np.random.default_rng(0)
    terminated = 0
    for seed in (11, [4, 90, 7]):
        (o1, i1), (o2, i2) = native.reset(seed=seed), sync.reset(seed=seed)
        np.testing.assert_array_equal(o1, o2)
        assert _keys(i1) == _keys(i2)
        if env_id == BODY:
            _same_infos(i1, i2)
        ended = 0
        for _ in range(steps):
            # out-of-range values are clipped alike
            act = rng.uniform(-1.2, 1.2, native.action_space.shape).astype(np.float32)
            r1, r2 = native.step(act), sync.step(act)
            for a, b in zip(r1[:4], r2[:4], strict=True):
                np.testing.assert_array_equal(a, b)
            assert _keys(r1[4]) == _keys(r2[4])
            if env_id == BODY:
                _same_infos(r1[4], r2[4])
            if "final_info" in r2[4]:
                assert _keys(r1[4]["final_info"]) == _keys(r2[4]["final_info"])
                np.testing.assert_array_equal(r1[4]["_final_info"], r2[4]["_final_info"])
            ended += int((r2[2] | r2[3]).sum())
            terminated += int(r2[2].sum())
        assert ended > 0  # the autoreset is exercised
        if kw.get("damage", "none") != "none":
            # the slots walk different bodies: the damaged leg is drawn per walk
            assert len({sc.changes for sc in native.unwrapped._walks.scenarios}) > 1
    if "goal_distance" in kw:
        assert terminated > 0  # walks arrived: the success path is compared too
    native.close()
    sync.close()


@pytest.mark.parametrize("env_id", sorted(NATIVE))
def test_seed_lists_and_bad_seeds(env_id):
    native = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                          **NATIVE[env_id])
    a, _ = native.reset(seed=[8, 3])
    b, _ = native.reset(seed=3)
    np.testing.assert_array_equal(a[1], b[0])  # slot seeds, not slot positions
    with pytest.raises(ValueError, match="list of 2 seeds"):
        native.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                     autoreset_mode="disabled", **NATIVE[env_id])


@pytest.mark.parametrize("env_id", sorted(NATIVE))
def test_gymnasium_vector_wrappers_accept_native_envs(env_id):
    native = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                          autoreset_mode="next-step", **NATIVE[env_id])
    env = vw.NormalizeObservation(native)
    env = vw.DtypeObservation(env, np.float64)
    env = vw.TransformObservation(env, lambda o: o * 2.0)
    env = vw.FlattenObservation(env)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float64 and obs.shape[0] == 2
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs))
    env.close()


@pytest.mark.parametrize("env_id", ["moonshot/CityNav-v0", "moonshot/CityNav-v1"])
def test_city_truncates_where_its_spec_says(env_id):
    env = gym.make(env_id)
    assert gym.spec(env_id).max_episode_steps == \
        round(env.unwrapped.config["time_limit"] / env.unwrapped.dt)
    env.close()
    # a longer drive needs a longer TimeLimit: refused by the native env, naming the fix
    if gym.spec(env_id).vector_entry_point:
        with pytest.raises(ValueError, match="max_episode_steps=4800"):
            gym.make_vec(env_id, num_envs=2, time_limit=480.0)
        gym.make_vec(env_id, num_envs=2, time_limit=480.0, max_episode_steps=4800).close()


@pytest.mark.parametrize("env_id", ["moonshot/MoonLaunch-v1", "moonshot/CityNav-v1"])
def test_action_message_says_clipped(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside \[-1, 1\] are clipped"):
        env.step(np.full(env.action_space.shape, np.nan))
    env.close()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_body_resumes_mid_walk_bit_for_bit(mode):
    """A BodyWalk batch saved mid-walk (``get_state``) and restored into a fresh env walks on
    exactly as the uninterrupted one: its physics, warm start included, is restored."""
    kw = {"time_limit": 0.5, "damage": "missing"}
    a = gym.make_vec(BODY, num_envs=3, autoreset_mode=mode, **kw)
    a.reset(seed=5)
    rng = np.random.default_rng(1)
    acts = rng.uniform(-1, 1, (40, 3, 8)).astype(np.float32)
    for t in range(13):
        a.step(acts[t])
    state = a.unwrapped.get_state()
    b = gym.make_vec(BODY, num_envs=3, autoreset_mode=mode, **kw)
    b.unwrapped.set_state(state)
    for t in range(13, 40):
        r1, r2 = a.step(acts[t]), b.step(acts[t])
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        _same_infos(r1[4], r2[4])
    with pytest.raises(ValueError, match="holds 3 walks"):
        gym.make_vec(BODY, num_envs=2, **kw).unwrapped.set_state(state)


def test_body_refuses_bad_settings_naming_them():
    with pytest.raises(ValueError, match="unknown BodyWalk-v0 config key"):
        gym.make_vec(BODY, num_envs=2, time_limt=3.0)
    with pytest.raises(ValueError, match="invalid damage='broken'"):
        gym.make_vec(BODY, num_envs=2, damage="broken")
    with pytest.raises(ValueError, match="does not render"):
        gym.make_vec(BODY, num_envs=2, vectorization_mode="vector_entry_point",
                     render_mode="rgb_array")
    env = gym.make_vec(BODY, num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, 8)))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 8\)"):
        env.step(np.zeros(8))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"scenario": 3})


def test_body_scenario_option_pins_every_walk_as_the_sync_env_does():
    native, sync = _pair(BODY, 2, AutoresetMode.SAME_STEP, NATIVE[BODY])
    (o1, i1), (o2, i2) = (e.reset(seed=1, options={"scenario_id": 42}) for e in (native, sync))
    np.testing.assert_array_equal(o1, o2)
    _same_infos(i1, i2)
    assert i1["map_id"].tolist() == [42, 42]


def test_a_checkpoint_of_single_envs_is_refused_by_a_native_vector_env_by_name():
    """A BodyWalk run trained before the world had a native vector env saved its envs as a
    list of single envs; resumed now (the trainer picks the native env) it must say so, not
    fail with a bare KeyError deep in the vector env."""
    from moonshot.agents.resume import env_state, set_env_state
    from moonshot.agents.vec import make_vec_env
    from moonshot.errors import ConfigError

    vec = make_vec_env("body", 2, seed=0, env_kwargs={"time_limit": 0.2})
    vec.reset()
    saved = env_state(vec)
    assert saved is not None and saved["kind"] == "vector"
    set_env_state(vec, saved)  # its own kind: fine
    old = {"kind": "list", "states": [{"rng": {}}, {"rng": {}}]}
    with pytest.raises(ConfigError, match="single envs side by side.*native vector env"):
        set_env_state(vec, old)
    vec.close()
