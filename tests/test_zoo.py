"""RL Baselines3 Zoo drives both envs with moonshot's packaged hyperparameters (issue 19,
defect 4: ``-conf moonshot/agents/hyperparams.yaml`` gave "Hyperparameters not found", and
RL Zoo's generic defaults ran PPO on MoonLaunch at 116 steps/s)."""

import gymnasium as gym
import numpy as np
import pytest
import yaml
from conftest import ROOT, run_as_user

from moonshot.agents.config import ALGO_NAMES
from moonshot.agents.zoo import (
    native_vec_env,
    packaged_worlds,
    render_yaml,
    shipped_file,
    zoo_hyperparams,
)

MOON = "moonshot/MoonLaunch-v1"
CITY = "moonshot/CityNav-v0"


@pytest.mark.parametrize("algo", list(ALGO_NAMES))
def test_shipped_zoo_files_are_generated_from_ours(algo):
    """One source of truth: each shipped ``<algo>.yml`` is what the generator makes of
    ``hyperparams.yaml`` (``python -m moonshot.agents.zoo`` rewrites them)."""
    assert shipped_file(algo).read_text() == render_yaml(algo)
    table = yaml.safe_load(shipped_file(algo).read_text())
    ids = {i for w in packaged_worlds() for i in w.env_ids}
    assert set(table) == ids  # every registered id of the packaged worlds (not plug-ins')
    for world in packaged_worlds():
        for env_id in world.env_ids:
            ours = world.default_hyperparams(algo)
            entry = dict(table[env_id])
            assert entry.pop("n_timesteps") == ours.pop("n_timesteps")
            wrapper = entry.pop("vec_env_wrapper", None)
            assert entry == ours
            assert (wrapper is not None) == (world.name == "moon")  # the native batched env


def test_native_vec_env_replaces_rl_zoos_single_envs(tmp_path):
    """What ``vec_env_wrapper: moonshot.agents.zoo.native_vec_env`` does inside RL Zoo: the
    256 single envs become one batched env, with their settings and seed."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecMonitor

    from moonshot.agents.vec import GymVectorToSB3

    def zoo_like(seed, **kwargs):  # as rl_zoo3's ExperimentManager.create_envs does
        spec = gym.spec(MOON)
        return make_vec_env(lambda **kw: spec.make(**kw), n_envs=4, seed=seed,
                            monitor_dir=str(tmp_path), env_kwargs=kwargs)

    vec = native_vec_env(zoo_like(3, target="soi", split="new"))
    assert isinstance(vec, VecMonitor) and isinstance(vec.venv, GymVectorToSB3)
    assert vec.venv.venv.target == "soi" and vec.venv.venv.split == "new"
    assert sorted(p.name for p in tmp_path.glob("*.monitor.csv")) == ["0.monitor.csv"]
    obs = vec.reset()
    again = native_vec_env(zoo_like(3, target="soi", split="new")).reset()
    np.testing.assert_array_equal(obs, again)  # RL Zoo's --seed decides the launches
    _, rewards, dones, infos = vec.step(np.zeros((4, 3), np.float32))
    assert dones.all() and {"episode", "is_success", "outcome"} <= set(infos[0])
    # envs that render (enjoy, record_video) keep their single envs
    rendering = make_vec_env(MOON, n_envs=1, env_kwargs={"render_mode": "rgb_array"})
    assert native_vec_env(rendering) is rendering
    with pytest.warns(UserWarning, match="without a display"):
        rendering = make_vec_env(lambda **kw: gym.make(MOON, **kw), n_envs=1,
                                 env_kwargs={"render_mode": "human"})
    assert native_vec_env(rendering) is rendering


def test_rl_zoo_trains_and_enjoys_moonlaunch_on_its_batched_env(zoo_readme_run):
    """The README's commands (``zoo_readme_run``): PPO with the packaged hyperparameters, on
    the native batched env, then ``enjoy`` rendering as by default (``render_mode="human"``,
    no display here)."""
    logs = zoo_readme_run / "logs"
    run = logs / "ppo" / "moonshot-MoonLaunch-v1_1"
    saved = yaml.load((run / "moonshot-MoonLaunch-v1" / "config.yml").read_text(),
                      Loader=yaml.UnsafeLoader)
    assert dict(saved) == zoo_hyperparams("ppo")[MOON]
    # the native batched env ran every launch: one monitor file, one row per launch
    assert sorted(p.name for p in run.glob("*.monitor.csv")) == ["0.monitor.csv"]
    assert len((run / "0.monitor.csv").read_text().splitlines()) == 2 + 2048
    out = run_as_user(["-m", "rl_zoo3.enjoy", "--algo", "ppo", "--env", MOON,
                       "--gym-packages", "moonshot", "-f", str(logs), "-n", "5"], ROOT)
    assert "Mean reward" in out and "Success rate" in out


def test_rl_zoo_trains_and_enjoys_citynav(tmp_path):
    """CityNav: the packaged config (with its training-time reward shaping) with a shorter
    rollout to keep the test at seconds; one Monitor per single env."""
    pytest.importorskip("rl_zoo3", reason="pip install 'moonshot[zoo]'")
    logs = tmp_path / "logs"
    out = run_as_user(["-m", "rl_zoo3.train", "--algo", "ppo", "--env", CITY,
                       "--gym-packages", "moonshot", "-conf", "moonshot.agents.zoo.ppo",
                       "--log-folder", str(logs), "-n", "2048", "-params", "n_steps:256",
                       "n_epochs:1"], ROOT)
    assert "Hyperparameters not found" not in out
    run = logs / "ppo" / "moonshot-CityNav-v0_1"
    saved = yaml.load((run / "moonshot-CityNav-v0" / "config.yml").read_text(),
                      Loader=yaml.UnsafeLoader)
    expected = {**zoo_hyperparams("ppo")[CITY], "n_steps": 256, "n_epochs": 1}
    assert dict(saved) == expected and saved["env_kwargs"]["reward_progress"] == 0.1
    assert len(list(run.glob("*.monitor.csv"))) == expected["n_envs"] == 8
    run_as_user(["-m", "rl_zoo3.enjoy", "--algo", "ppo", "--env", CITY, "--gym-packages",
                 "moonshot", "-f", str(logs), "-n", "30", "--no-render"], ROOT)


def test_rl_zoo_record_video_shows_the_flights(zoo_readme_run):
    """``record_video`` renders after each autoreset: the frames show the last flight
    (issue 19, defect 2: they showed none)."""
    import imageio.v3 as iio

    [video] = (zoo_readme_run / "videos").glob("*.mp4")
    frames = iio.imread(video).astype(int)
    # Every frame after the first shows the flight just made: orange pixels (#ffb000) of its
    # trajectory (frames are taken after the autoreset, which used to wipe it)
    orange = [int(((f[..., 0] > f[..., 1] + 20) & (f[..., 0] > f[..., 2] + 60)).sum())
              for f in frames]
    assert orange[0] == 0 and min(orange[1:]) >= 10, orange
