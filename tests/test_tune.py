"""`moonshot tune`: a hyperparameter search on dev seeds whose every trial is counted
(docs/protocol.md), whose best set trains, and which continues where it stopped."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from moonshot.errors import ConfigError
from moonshot.runlog import read_episodes

TINY = ["--seeds", "1", "--timesteps", "256", "--eval-episodes", "3", "--no-progress"]


def _moonshot(*args):
    return subprocess.run([sys.executable, "-m", "moonshot", *map(str, args)],
                          capture_output=True, text=True)


def _trials(folder):
    with open(folder / "trials.csv") as fh:
        return list(csv.DictReader(fh))


def test_tune_counts_every_trial_and_its_best_set_trains(tmp_path):
    out = tmp_path / "tune"
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 2, "--out", out, *TINY)
    assert res.returncode == 0, res.stderr
    rows = _trials(out)
    assert [r["trial"] for r in rows] == ["0", "1"]
    for r in rows:
        run = out / "trials" / r["trial"] / "seed0"
        log = read_episodes(run)
        with open(run / "evaluations.csv") as fh:
            evals = list(csv.DictReader(fh))
        # deaths and episodes of training and of its evaluations, all counted
        assert int(r["deaths"]) == int(log["death"].sum()) + sum(
            round(float(e["death_rate"]) * int(e["n_episodes"])) for e in evals)
        assert int(r["episodes"]) == len(log["episode"]) + sum(int(e["n_episodes"])
                                                                for e in evals)
        assert int(r["env_steps"]) == int(log["env_steps"][-1]) >= 256
        assert int(r["eval_episodes"]) >= 3 and 0.0 <= float(r["objective"]) <= 1.0
        assert r["objective"] == r["success"]  # the default objective
        assert json.loads(r["hyperparams"])["learning_rate"] > 0
    assert int(rows[0]["deaths"]) > 0  # a newborn PPO misses the Moon
    best = json.loads((out / "best.json").read_text())
    assert best["seed_set"] == "dev" and best["trials"] == 2
    assert best["cost"]["deaths"] == sum(int(r["deaths"]) for r in rows)
    assert best["objective"] == max(float(r["objective"]) for r in rows)
    # the journal is JSON lines, not a pickle
    for line in (out / "journal.log").read_text().splitlines():
        json.loads(line)

    run = tmp_path / "best-run"
    res = _moonshot("train", "moon", "--hyperparams-from", out, "--timesteps", 256,
                    "--out", run, "--no-progress")
    assert res.returncode == 0, res.stderr
    used = json.loads((run / "config.json").read_text())["resolved_hyperparams"]
    for key, val in best["hyperparams"].items():
        assert used[key] == val, key
    refused = _moonshot("train", "moon", "--algo", "sac", "--hyperparams-from", out,
                        "--timesteps", 256, "--out", tmp_path / "no")
    assert refused.returncode == 2 and "ppo hyperparameters" in refused.stderr
    assert not (tmp_path / "no").exists()

    # a trial killed mid-run (left "running" in the journal, its run folder on disk) ...
    import shutil

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="moonshot-tune", storage=JournalStorage(
        JournalFileBackend(str(out / "journal.log"))))
    killed = study.ask().number
    shutil.copytree(out / "trials" / "0" / "seed0", out / "trials" / str(killed) / "seed0")
    # ... the same folder continues the search, and counts the killed trial's cost too
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 3, "--out", out, *TINY)
    assert res.returncode == 0, res.stderr
    now = _trials(out)
    assert [r["trial"] for r in now] == ["0", "1", "2", "3"]
    assert now[:2] == rows
    assert now[killed]["state"] == "interrupted"
    assert (now[killed]["deaths"], now[killed]["env_steps"]) == (rows[0]["deaths"],
                                                                rows[0]["env_steps"])
    assert now[3]["state"] == "complete"
    # other settings are refused
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 3, "--out", out,
                    "--seeds", "2", "--timesteps", "256", "--no-progress")
    assert res.returncode == 2 and "other settings" in res.stderr


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3", "a2c", "ppo_lstm"])
def test_each_search_space_gives_hyperparameters_train_accepts(algo):
    import optuna

    from moonshot.agents.config import TrainConfig, default_hyperparams, split_hyperparams
    from moonshot.agents.tuning import SPACES

    for world in ("moon", "city"):
        base = default_hyperparams(world, algo)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
        for _ in range(5):
            trial = study.ask()
            hp = SPACES[algo](trial, base, int(base.get("n_envs", 1)))
            json.dumps(hp)  # JSON: it goes into best.json and config.json
            split_hyperparams(TrainConfig(env=world, algo=algo, hyperparams=hp))
            study.tell(trial, float(np.random.default_rng(trial.number).random()))


def test_a_bad_search_is_refused_before_anything_is_written(tmp_path):
    from moonshot.agents.tuning import TuneConfig, tune

    with pytest.raises(ConfigError, match="trials"):
        tune(TuneConfig(env="moon", trials=0, out=str(tmp_path / "t")))
    with pytest.raises(ConfigError, match="invalid algo"):
        tune(TuneConfig(env="moon", algo="no_such_algo", out=str(tmp_path / "t")))
    with pytest.raises(ConfigError, match="no search space for 'dqn'"):  # an SB3 algorithm
        tune(TuneConfig(env="moon", algo="dqn", out=str(tmp_path / "t")))
    with pytest.raises(ConfigError, match="colour"):
        tune(TuneConfig(env="moon", env_kwargs={"colour": "red"}, out=str(tmp_path / "t")))
    with pytest.raises(ConfigError, match="objective"):
        tune(TuneConfig(env="moon", objective="reward", out=str(tmp_path / "t")))
    with pytest.raises(ConfigError, match="frame_stack"):
        tune(TuneConfig(env="moon", hyperparams={"frame_stack": -2}, out=str(tmp_path / "t")))
    assert not (tmp_path / "t").exists()


def test_a_return_objective_ranks_trials_by_their_dev_evaluations_mean_return(tmp_path):
    """--objective return: the trials' score is the mean episode return of the same dev
    evaluations (success is still logged), and the best set is the one of highest return; a
    folder from before the choice (no objective in tune.json) continues as a success search."""
    from moonshot.runlog import read_json, write_json

    out = tmp_path / "tune"
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 2, "--out", out,
                    "--objective", "return", *TINY)
    assert res.returncode == 0, res.stderr
    assert "mean dev return" in res.stdout
    from moonshot.agents.episodes import EvalSettings, evaluate
    from moonshot.agents.loading import resolve_agent

    rows = _trials(out)
    for r in rows:
        assert float(r["objective"]) == float(r["mean_return"])
        # the mean return of the trial's own dev evaluation, redone here (deterministic)
        again = evaluate(resolve_agent(str(out / "trials" / r["trial"] / "seed0")), None,
                         EvalSettings(split="train", episodes=3, seed=0, seed_set="dev",
                                      env_overrides={}))
        assert float(r["mean_return"]) == pytest.approx(np.mean([e.ret for e in again.records]))
        assert float(r["success"]) == again.success_rate
    best = json.loads((out / "best.json").read_text())
    assert best["objective_kind"] == "return"
    assert best["objective"] == max(float(r["mean_return"]) for r in rows)

    old = tmp_path / "old"
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 1, "--out", old, *TINY)
    assert res.returncode == 0, res.stderr
    settings = read_json(old / "tune.json")
    settings.pop("objective")
    write_json(old / "tune.json", settings)
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 2, "--out", old, *TINY)
    assert res.returncode == 0, res.stderr
    assert len(_trials(old)) == 2
    res = _moonshot("tune", "moon", "--algo", "ppo", "--trials", 3, "--out", old,
                    "--objective", "return", *TINY)
    assert res.returncode == 2 and "other settings" in res.stderr


def test_a_trials_env_steps_count_the_drives_its_budget_cut(tmp_path):
    """A CityNav run whose budget ends mid-drive logs no episode for the steps of that drive;
    the trial's cost counts them from the steps trained at its last evaluation."""
    from moonshot.agents.tuning import _run_cost

    run = tmp_path / "run"
    run.mkdir()
    (run / "episodes.csv").write_text(
        "episode,env_steps,wall_time_s,return,length,success,death,split,map_id,"
        "model_rollouts,outcome,trial,compute_s,agent,seed,model_steps\n"
        "1,700,1.0,3.0,700,1,0,train,5,0,arrived,1,0.0,ppo,0,0\n")
    (run / "evaluations.csv").write_text(
        "env_steps,episodes,split,success_rate,death_rate,mean_return,n_episodes,"
        "wall_time_s\n0,0,train,0.0,0.0,-12.0,1,2.7\n4096,1,train,0.0,1.0,-3.2,1,8.1\n")
    assert _run_cost(run) == {"env_steps": 4096, "episodes": 3, "deaths": 1}
