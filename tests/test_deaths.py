"""A death is the vehicle destroyed (issue 27): MoonLaunch counts a rocket that falls back to
or hits the Earth short of its target; missed and escaped rockets are outcomes, not deaths."""

import csv
from types import SimpleNamespace

import gymnasium as gym
import numpy as np

import moonshot  # noqa: F401 - registers the environments
from moonshot.agents.training import TrainConfig, train
from moonshot.envs.moon_core import rocket_lost
from moonshot.physics import earth_moon as em

DESTROYED = {"fell_back", "crashed_earth"}
INTACT = {"missed", "escaped"}


def _check(outcome, death, success) -> None:
    outcome, death, success = np.asarray(outcome), np.asarray(death), np.asarray(success)
    # A destroyed outcome is always a death, an intact one never, a success never.
    assert death[np.isin(outcome, list(DESTROYED))].all()
    assert not death[np.isin(outcome, list(INTACT))].any()
    assert not (death & success).any()
    # Any other death is a Moon brush short of the flyby target whose flight then ended on the
    # Earth: the outcome names the brush, the flag the rocket's end.
    assert set(outcome[death & ~np.isin(outcome, list(DESTROYED))]) <= {"entered_soi"}
    # Rockets are lost both ways, so both counts are tested.
    assert death.sum() > 0 and (~success & ~death).sum() > 0


def test_a_small_ppo_runs_deaths_are_its_destroyed_rockets(tmp_path):
    out = tmp_path / "ppo"
    train(TrainConfig(env="moon", timesteps=1024, out=str(out), n_envs=64, progress=False,
                      eval_episodes=0, env_kwargs={"target": "flyby"},
                      hyperparams={"n_steps": 8, "batch_size": 256, "n_epochs": 1}))
    with open(out / "episodes.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1024
    _check([r["outcome"] for r in rows], [r["death"] == "1" for r in rows],
           [r["success"] == "1" for r in rows])


def test_every_version_and_the_batched_env_flag_the_same_deaths():
    for env_id in ("moonshot/MoonLaunch-v0", "moonshot/MoonLaunch-v1"):
        envs = gym.make_vec(env_id, num_envs=256, vectorization_mode="vector_entry_point",
                            target="flyby")
        envs.reset(seed=3)
        envs.action_space.seed(3)
        *_, info = envs.step(envs.action_space.sample())
        envs.close()
        launched = info["final_info"]
        _check(launched["outcome"], launched["death"], launched["is_success"])


def test_death_reads_how_the_flight_ended_not_its_label():
    events = np.array([em.EVENT_NONE, em.EVENT_MOON_IMPACT, em.EVENT_EARTH_IMPACT,
                       em.EVENT_ESCAPE, em.EVENT_FELL_BACK, em.EVENT_FELL_BACK])
    success = np.array([False, True, False, False, False, True])
    # missed, landed, hit the Earth, escaped, fell back, reached the SOI then fell back
    assert rocket_lost(SimpleNamespace(event=events), success).tolist() == [
        False, False, True, False, True, False]
