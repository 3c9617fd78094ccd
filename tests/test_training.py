"""Training from the CLI and Python on tiny budgets: logs, resume, loader errors."""

import csv
import json

import numpy as np
import pytest

from moonshot.agents import load_agent
from moonshot.agents.training import TrainConfig, default_hyperparams, train
from moonshot.cli import main
from moonshot.errors import ConfigError
from moonshot.runlog import EPISODE_COLUMNS, read_episodes

TINY = {"moon": ["--n-envs", "8"], "city": ["--n-envs", "1"]}
TINY_HP = {
    "ppo": ["n_steps=16", "batch_size=16", "n_epochs=1"],
    "a2c": ["n_steps=4"],
    "sac": ["learning_starts=16", "batch_size=16", "gradient_steps=1"],
    "td3": ["learning_starts=16", "batch_size=16", "gradient_steps=1"],
}


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3", "a2c"])
def test_cli_trains_each_algo_on_moon(tmp_path, algo):
    out = tmp_path / algo
    rc = main(["train", "moon", "--algo", algo, "--timesteps", "128", "--seed", "1",
               "--out", str(out), "--eval-episodes", "4", "--no-progress", *TINY["moon"],
               "--hyperparams", *TINY_HP[algo], "--target", "soi"])
    assert rc == 0
    log = read_episodes(out)
    assert len(log["episode"]) >= 120  # one launch per episode
    assert np.all(np.diff(log["env_steps"]) >= 0)
    header = (out / "episodes.csv").read_text().splitlines()[0].split(",")
    assert list(header[:len(EPISODE_COLUMNS)]) == list(EPISODE_COLUMNS)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["seed"] == 1 and cfg["train"]["env_kwargs"]["target"] == "soi"
    assert "torch" in cfg["versions"]
    with open(out / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["split"] for r in rows} == {"train", "new"}
    agent = load_agent(out)
    action, _ = agent.predict(np.zeros(9, np.float32))
    assert action.shape == (3,)


def test_resume_continues_without_losing_or_duplicating(tmp_path):
    out = tmp_path / "run"
    common = dict(env="moon", algo="ppo", seed=0, out=str(out), n_envs=8, eval_episodes=2,
                  progress=False, hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1})
    train(TrainConfig(timesteps=256, checkpoint_every=128, **common))
    before = read_episodes(out)
    # Simulate a crash after the last checkpoint: rows past it and a torn last line.
    meta = json.loads((out / "checkpoints" / "latest.json").read_text())
    with open(out / "episodes.csv", "a") as fh:
        fh.write(f"{len(before['episode']) + 1},{meta['env_steps'] + 8},9.9,0.1,1,0,1,train,7,"
                 "missed,1,,ppo,0\n99,12")
    train(TrainConfig(timesteps=512, checkpoint_every=128, **common), resume=True)
    after = read_episodes(out)
    assert after["env_steps"][-1] >= 512
    np.testing.assert_array_equal(after["episode"], np.arange(1, len(after["episode"]) + 1))
    np.testing.assert_array_equal(after["episode"][:len(before["episode"])], before["episode"])
    assert np.all(np.diff(after["env_steps"]) >= 0)
    # Exactly one row per launch: no gaps, no duplicates.
    assert len(after["episode"]) == after["env_steps"][-1]


def test_a_new_run_never_overwrites_an_old_one(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "episodes.csv").write_text("keep me\n")
    with pytest.raises(FileExistsError, match="resume"):
        train(env="moon", timesteps=8, out=str(out), n_envs=8, progress=False)
    assert (out / "episodes.csv").read_text() == "keep me\n"


def test_missing_or_corrupt_model_names_the_file(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(FileNotFoundError, match="model.zip"):
        load_agent(run)
    (run / "model.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=str(run / "model.zip")):
        load_agent(run)
    assert main(["evaluate", str(run), "--episodes", "1", "--out", str(tmp_path / "e")]) == 2


def test_bad_algo_and_hyperparameters_list_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match="ppo"):
        default_hyperparams("moon", "dpq")
    assert default_hyperparams("moon", "dqn") == {}  # an algorithm's own defaults
    with pytest.raises(ConfigError, match="learning_rate"):
        train(env="moon", timesteps=8, out=str(tmp_path / "x"), n_envs=8, progress=False,
              hyperparams={"learning_rat": 1e-3})
    assert main(["train", "moon", "--timesteps", "8", "--out", str(tmp_path / "y"),
                 "--hyperparams", "oops"]) == 2


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3", "a2c"])
def test_cli_trains_each_algo_on_city(tmp_path, algo):
    out = tmp_path / algo
    hp = {"ppo": ["n_steps=32", "batch_size=32", "n_epochs=1"], "a2c": ["n_steps=8"],
          "sac": ["learning_starts=16", "batch_size=16"],
          "td3": ["learning_starts=16", "batch_size=16"]}[algo]
    rc = main(["train", "city", "--algo", algo, "--timesteps", "64", "--seed", "0",
               "--out", str(out), "--eval-episodes", "1", "--no-progress", "--n-envs", "1",
               "--env-kwargs", "time_limit=3", "--hyperparams", *hp])
    assert rc == 0
    log = read_episodes(out)
    assert len(log["episode"]) >= 1 and log["env_steps"][-1] <= 64
    assert set(log["outcome"]) <= {"arrived", "crashed", "timeout"}
    agent = load_agent(out)
    assert agent.predict(np.zeros(55, np.float32))[0].shape == (2,)


def test_relearning_cost_fine_tunes_on_the_new_split(tmp_path):
    from moonshot.evaluation.transfer import relearning_cost

    base = tmp_path / "base"
    train(TrainConfig(env="moon", timesteps=128, out=str(base), n_envs=8, eval_episodes=2,
                      progress=False, env_kwargs={"target": "soi"},
                      hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1}))
    res = relearning_cost(base, timesteps=128, out=tmp_path / "relearn", window=20,
                          progress=False)
    log = read_episodes(tmp_path / "relearn")
    assert set(log["split"]) == {"new"} and res["finetune_episodes"] == len(log["episode"])
    assert res["deaths_to_recover"] <= int(log["death"].sum())
    cfg = json.loads((tmp_path / "relearn" / "config.json").read_text())
    assert cfg["train"]["init_from"].endswith("model.zip")


def test_normalized_run_keeps_its_statistics_through_resume_and_loading(tmp_path):
    out = tmp_path / "run"
    common = dict(env="moon", algo="ppo", seed=0, out=str(out), n_envs=8, eval_episodes=2,
                  progress=False, hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1,
                                               "normalize": True})
    train(TrainConfig(timesteps=256, checkpoint_every=128, **common))
    assert json.loads((out / "config.json").read_text())["normalize"]["gamma"] == 0.0
    first = load_agent(out).normalizer.obs_rms.count
    assert first > 200  # one observation per launch went into the statistics
    meta = json.loads((out / "checkpoints" / "latest.json").read_text())
    assert (out / "checkpoints" / meta["vecnormalize"]).exists()
    train(TrainConfig(timesteps=512, checkpoint_every=128, **common), resume=True)
    agent = load_agent(out)
    assert agent.normalizer.obs_rms.count > first + 200  # continued, not restarted
    obs = np.linspace(-1, 1, 9).astype(np.float32)
    expected, _ = agent.model.predict(agent.normalizer.normalize_obs(obs), deterministic=True)
    np.testing.assert_array_equal(agent.predict(obs)[0], expected)
    # Training episodes are logged with the env's own reward, not the normalized one.
    ret = read_episodes(out)["return"]
    assert np.all((ret >= 0.0) & (ret <= 2.0))  # MoonLaunch rewards lie in [0, 2]
    # Fine-tuning from a checkpoint starts from that checkpoint's statistics.
    ckpt = out / "checkpoints" / "model_256.zip"
    tuned = tmp_path / "tuned"
    train(TrainConfig(**{**common, "out": str(tuned), "timesteps": 64,
                         "init_from": str(ckpt)}))
    assert load_agent(tuned).normalizer.obs_rms.count > first + 60
    (out / "vecnormalize.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="vecnormalize.npz"):
        load_agent(out)


def test_linear_schedules_and_bad_normalize_values(tmp_path):
    out = tmp_path / "lin"
    train(env="moon", timesteps=64, out=str(out), n_envs=8, eval_episodes=1, progress=False,
          hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1,
                       "learning_rate": "lin_1e-3"})
    model = load_agent(out).model
    assert model.lr_schedule(1.0) == pytest.approx(1e-3)
    assert model.lr_schedule(0.25) == pytest.approx(2.5e-4)
    for bad in ({"learning_rate": "lin_fast"}, {"normalize": "yes"},
                {"normalize": {"norm_obz": True}}):
        with pytest.raises(ConfigError):
            train(env="moon", timesteps=8, out=str(tmp_path / "bad"), n_envs=8,
                  progress=False, hyperparams=bad)


def test_tensorboard_logs_or_says_what_to_install(tmp_path):
    import importlib.util

    out = tmp_path / "tb"
    kwargs = dict(env="moon", timesteps=64, out=str(out), n_envs=8, eval_episodes=1,
                  progress=False, tensorboard=True,
                  hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1})
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match="pip install"):
            train(**kwargs)
        assert not out.exists()
    else:
        train(**kwargs)
        assert list((out / "tensorboard").rglob("events.out.tfevents.*"))


def test_normalization_statistics_are_never_silently_dropped_or_invented(tmp_path):
    common = dict(env="moon", algo="ppo", seed=0, n_envs=8, eval_episodes=1, progress=False)
    tiny = {"n_steps": 8, "batch_size": 32, "n_epochs": 1}
    norm, raw = tmp_path / "norm", tmp_path / "raw"
    train(TrainConfig(out=str(norm), timesteps=128, checkpoint_every=64,
                      hyperparams={**tiny, "normalize": True}, **common))
    train(TrainConfig(out=str(raw), timesteps=64, hyperparams=tiny, **common))
    # Fine-tuning must keep the source's kind of input.
    with pytest.raises(ConfigError, match="normalize=true"):
        train(TrainConfig(out=str(tmp_path / "a"), timesteps=64, hyperparams=tiny,
                          init_from=str(norm / "model.zip"), **common))
    with pytest.raises(ConfigError, match="raw observations"):
        train(TrainConfig(out=str(tmp_path / "b"), timesteps=64, init_from=str(raw / "model.zip"),
                          hyperparams={**tiny, "normalize": True}, **common))
    # A normalized run resumes and loads with its statistics or says which file is missing.
    # (a newest checkpoint without its statistics falls back to the one before)
    for stats in (norm / "checkpoints").glob("vecnormalize_*.npz"):
        stats.unlink()
    with pytest.raises(FileNotFoundError, match=r"vecnormalize_\d+\.npz"):
        train(TrainConfig(out=str(norm), timesteps=256, **common), resume=True)
    (norm / "vecnormalize.npz").unlink()
    with pytest.raises(FileNotFoundError, match="vecnormalize.npz"):
        load_agent(norm)
    with pytest.raises(ConfigError, match="learning_rate"):
        train(TrainConfig(out=str(tmp_path / "c"), timesteps=64,
                          hyperparams={**tiny, "ent_coef": "lin_0.01"}, **common))
    assert not (tmp_path / "c").exists()


def test_resume_keeps_the_hyperparameters_the_run_started_with(tmp_path, monkeypatch):
    from moonshot.agents import config

    out = tmp_path / "run"
    common = dict(env="moon", algo="ppo", seed=0, out=str(out), n_envs=8, eval_episodes=1,
                  progress=False, hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1})
    train(TrainConfig(timesteps=128, checkpoint_every=64, **common))
    before = json.loads((out / "config.json").read_text())["resolved_hyperparams"]
    real = config.default_hyperparams
    monkeypatch.setattr(config, "default_hyperparams",  # the packaged defaults change
                        lambda env, algo: {**real(env, algo), "learning_rate": 1.0})
    train(TrainConfig(timesteps=256, checkpoint_every=64, **common), resume=True)
    after = json.loads((out / "config.json").read_text())["resolved_hyperparams"]
    assert after == before and after["learning_rate"] != 1.0


def test_default_evaluations_are_bounded_by_the_budget():
    from moonshot.agents.config import default_schedule

    # a long city run: ten evaluations of a few dozen drives per split
    s = default_schedule(2_000_000, 2400)
    assert s["eval_every"] == 200_000 and 10 <= s["eval_episodes"] <= 50
    evaluation_steps = (2_000_000 // s["eval_every"] + 1) * 2 * s["eval_episodes"] * 2400
    assert evaluation_steps <= 0.2 * 4 * 2_000_000
    # a tiny one: the start and the end only, one drive per split
    assert default_schedule(400, 2400) == {"eval_every": 400, "eval_episodes": 1,
                                           "checkpoint_every": 80}
    # one-step episodes: up to 50 per split; given values are kept
    assert default_schedule(1_000_000, 1)["eval_episodes"] == 50
    assert default_schedule(1000, 2400, eval_episodes=7)["eval_episodes"] == 7


def test_sac_below_its_warm_up_says_so(tmp_path, capsys):
    out = tmp_path / "sac"
    assert main(["train", "city", "--algo", "sac", "--timesteps", "64", "--out", str(out),
                 "--no-progress", "--env-kwargs", "time_limit=3"]) == 0
    text = capsys.readouterr().out
    assert "learning_starts=5,000" in text and "random experience" in text
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["schedule"]["eval_episodes"] == 1


def test_batched_evaluation_is_the_single_env_evaluation():
    """The evaluation core runs a batch-acting agent's fresh-reset episodes side by side in
    CityNav-v1's vector env (slot i seeded like a single env's reset(seed=seed + i)): the
    episodes of the one-by-one path, whatever the batch size."""
    from moonshot.agents.base import Agent
    from moonshot.agents.episodes import EvalSettings, _batched_records, evaluate, scenario_set
    from moonshot.worlds import get_world

    class Steady(Agent):  # a frozen policy
        batched = True

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            action = np.array([0.4, 0.02], np.float32)
            return (action if np.ndim(obs) == 1 else np.tile(action, (len(obs), 1))), None

    class OneByOne(Steady):
        batched = False

    kw = {"time_limit": 6.0}
    settings = EvalSettings(split="new", episodes=10, seed=5, scenarios="training")
    together = evaluate(Steady(), "moonshot/CityNav-v1", settings, env_kwargs=kw)
    apart = evaluate(OneByOne(), "moonshot/CityNav-v1", settings, env_kwargs=kw)
    fields = ("map_id", "trial", "length", "success", "death", "outcome")
    for a, b in zip(together.records, apart.records, strict=True):
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
        assert abs(a.ret - b.ret) <= 1e-9
    assert len({r.map_id for r in apart.records}) > 1  # really different drives
    first = scenario_set(get_world("city"), "new", 5, 10, kind="training").seed
    small = _batched_records(Steady(), "moonshot/CityNav-v1", {**kw, "split": "new"}, 10,
                             first, batch=4)
    assert [r.ret for r in small] == [r.ret for r in together.records]


def test_a_world_can_keep_its_evaluations_one_by_one():
    """BodyWalk has a native vector env but ``batched_evaluation=False``: a batch-acting
    policy's unlogged evaluation walks one by one, so a last-bit difference of a batched
    forward pass cannot change a long walk's outcome (the figures of runs trained before the
    vector env existed are reproduced)."""
    import gymnasium as gym

    from moonshot.agents.base import Agent
    from moonshot.agents.episodes import EvalSettings, evaluate
    from moonshot.worlds import get_world

    shapes: list[int] = []

    class Recorder(Agent):  # acts on batches where it may
        batched = True

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            shapes.append(np.ndim(obs))
            zeros = np.zeros(np.shape(obs)[:-1] + (8,), np.float32)
            return zeros, None

    body = get_world("body")
    assert gym.spec(body.env_id).vector_entry_point is not None
    assert not body.batched_evaluation and get_world("city").batched_evaluation
    settings = EvalSettings(split="train", episodes=3, seed=0, scenarios="training")
    evaluate(Recorder(), "body", settings, env_kwargs={"time_limit": 0.1})
    assert shapes and set(shapes) == {1}


def test_updates_use_one_thread_unless_asked_and_openmp_is_left_alone():
    """Two spinning update threads made PPO ~7x slower next to a second training on 2 cores,
    and waiting passively made it ~37% slower on a quiet machine (TrainConfig.update_threads):
    one update thread by default, and moonshot does not touch OpenMP's environment."""
    import os
    import subprocess
    import sys

    from moonshot.agents.config import TrainConfig, update_threads

    assert update_threads(TrainConfig(env="city")) == 1
    assert update_threads(TrainConfig(env="city", update_threads=3)) == 3
    code = "import moonshot, os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "unset"
