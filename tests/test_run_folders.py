"""Run folders you can trust (issue 15): one writer at a time, a resume that continues the same
experiment exactly, every bad value refused before anything is written."""

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from moonshot.agents import monitor as monitor_module
from moonshot.agents.config import TrainConfig
from moonshot.agents.training import train
from moonshot.cli import main
from moonshot.runlog import RunFolderBusy, RunLock, read_episodes

TINY = dict(env="moon", algo="ppo", seed=3, n_envs=8, eval_episodes=4, progress=False,
            eval_every=128, checkpoint_every=128, env_kwargs={"target": "soi"},
            hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 2})
TINY_FLAGS = ["--n-envs", "8", "--eval-episodes", "4", "--eval-every", "128",
              "--checkpoint-every", "128", "--target", "soi", "--seed", "3", "--no-progress",
              "--hyperparams", "n_steps=8", "batch_size=32", "n_epochs=2"]


def _rows(path, drop=("wall_time_s",)):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def _kill_at(monkeypatch, steps: int, where: str = "_on_step"):
    """Make the run stop (as if killed) once ``steps`` env steps are done."""
    original = getattr(monitor_module.TrainingMonitor, where)

    def stop(self, *args, **kwargs):
        if self.num_timesteps >= steps:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(monitor_module.TrainingMonitor, where, stop)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    train(TrainConfig(out=str(out), timesteps=512, **TINY))
    return out


def _same_experiment(a, b):
    assert _rows(a / "evaluations.csv") == _rows(b / "evaluations.csv")
    assert _rows(a / "episodes.csv") == _rows(b / "episodes.csv")


def test_killed_and_resumed_run_is_the_same_experiment_bit_for_bit(uninterrupted, tmp_path,
                                                                    monkeypatch):
    # defects 1 and 5: the resume keeps the budget and schedule, and drops no update
    out = tmp_path / "run"
    _kill_at(monkeypatch, 300)
    assert main(["train", "moon", "--timesteps", "512", "--out", str(out), *TINY_FLAGS]) == 130
    monkeypatch.undo()
    assert main(["train", "moon", "--out", str(out), "--resume", "--no-progress"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["timesteps"] == 512 and cfg["schedule"]["eval_every"] == 128
    _same_experiment(uninterrupted, out)
    # a finished run resumes to no work
    before = (out / "episodes.csv").read_text()
    assert main(["train", "moon", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "episodes.csv").read_text() == before


def test_a_run_stopped_during_an_evaluation_evaluates_again(uninterrupted, tmp_path,
                                                           monkeypatch):
    # defect 3: the evaluation at 256 is not lost
    out = tmp_path / "run"
    real = monitor_module.evaluate_policy_on_split
    calls = {"n": 0}

    def dies_on_the_new_split_at_256(agent, env_id, split, *a, **k):
        calls["n"] += 1
        if split == "new" and calls["n"] > 2 and agent.model.num_timesteps == 256:
            raise KeyboardInterrupt  # between the two splits
        return real(agent, env_id, split, *a, **k)

    monkeypatch.setattr(monitor_module, "evaluate_policy_on_split", dies_on_the_new_split_at_256)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(out), timesteps=512, **TINY))
    assert not any(r["env_steps"] == "256" for r in _rows(out / "evaluations.csv"))
    monkeypatch.undo()
    train(TrainConfig(out=str(out), **TINY), resume=True)
    _same_experiment(uninterrupted, out)


def test_a_kill_before_the_first_checkpoint_leaves_no_duplicate_rows(uninterrupted, tmp_path,
                                                                    monkeypatch):
    # defect 4: one step-0 evaluation per split, never two
    out = tmp_path / "run"
    _kill_at(monkeypatch, 60)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(out), timesteps=512, **TINY))
    monkeypatch.undo()
    train(TrainConfig(out=str(out), **TINY), resume=True)
    steps0 = [r for r in _rows(out / "evaluations.csv") if r["env_steps"] == "0"]
    assert sorted(r["split"] for r in steps0) == ["new", "train"]
    _same_experiment(uninterrupted, out)


def test_missing_latest_json_resumes_from_the_newest_checkpoint(uninterrupted, tmp_path,
                                                               monkeypatch, capsys):
    # defect 6: never a silent restart from zero
    out = tmp_path / "run"
    _kill_at(monkeypatch, 420)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(out), timesteps=512, **TINY))
    monkeypatch.undo()
    (out / "checkpoints" / "latest.json").unlink()
    train(TrainConfig(out=str(out), **TINY), resume=True)
    assert "model_384.zip, the newest complete checkpoint" in capsys.readouterr().out
    _same_experiment(uninterrupted, out)


def test_a_normalized_multi_step_run_resumes_with_its_running_sums(tmp_path, monkeypatch):
    """VecNormalize's discounted returns and VecMonitor's counters are mid-episode state SB3
    does not save: a resumed CityNav run with reward normalization is still the same run,
    down to the weights."""
    import torch
    from stable_baselines3 import PPO

    # two worker processes step the batch (opt-in; one by default): their state resumes too
    city = dict(TINY, env="city", n_envs=4, eval_episodes=2, env_kwargs={"time_limit": 10},
                env_workers=2,
                hyperparams={"n_steps": 16, "batch_size": 32, "n_epochs": 1,
                             "normalize": True})
    ref, out = tmp_path / "ref", tmp_path / "run"
    train(TrainConfig(out=str(ref), timesteps=384, **city))
    _kill_at(monkeypatch, 200)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(out), timesteps=384, **city))
    monkeypatch.undo()
    train(TrainConfig(out=str(out), **city), resume=True)
    assert json.loads((out / "config.json").read_text())["env_workers"] == 2
    _same_experiment(ref, out)
    a = PPO.load(ref / "model.zip").policy.state_dict()
    b = PPO.load(out / "model.zip").policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    # defect 2
    out = tmp_path / "run"
    with RunLock(out, "test"):
        assert main(["train", "moon", "--timesteps", "64", "--out", str(out),
                     *TINY_FLAGS]) == 2
        assert f"pid {os.getpid()}" in capsys.readouterr().err
        with pytest.raises(RunFolderBusy):
            RunLock(out).acquire()
    # released: the folder is free again, and a lock file left by a dead holder is no lock
    (out / RunLock.NAME).write_text("pid 999999999 on nowhere (train, since then)\n")
    with RunLock(out):
        pass


def test_evaluations_lock_their_folder(tmp_path, capsys):
    with RunLock(tmp_path / "ev", "train"):
        assert main(["evaluate", "planner:moon", "--split", "new", "--episodes", "1",
                     "--out", str(tmp_path / "ev")]) != 0
        assert main(["shift", "moon", "--agent", "planner", "--axis", "altitude",
                     "--level", "0", "--episodes", "1", "--out", str(tmp_path / "ev")]) != 0
    err = capsys.readouterr().err
    assert err.count("in use by pid") == 2
    assert not (tmp_path / "ev" / "transfer.csv").exists()


def test_resume_of_a_folder_still_training_is_refused(tmp_path):
    out = tmp_path / "run"
    code = (f"import time, moonshot.runlog as r; l = r.RunLock(r'{out}', 'train').acquire(); "
            "print('locked', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        (out / "config.json").write_text(json.dumps({"train": {"env": "moon"}}))
        res = subprocess.run([sys.executable, "-m", "moonshot", "train", "moon", "--out",
                              str(out), "--resume"], capture_output=True, text=True)
        assert res.returncode == 2 and f"pid {proc.pid}" in res.stderr
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.1)
    with RunLock(out):  # the dead holder's lock is taken over
        pass


def test_failed_starts_leave_nothing_behind(tmp_path, capsys):
    # defect 7
    for argv in (["plan", "moon", "--max-trials", "0"],
                 ["plan", "moon", "--episodes", "0"],
                 ["train", "moon", "--hyperparams", "n_steps=0"],
                 ["train", "moon", "--env-kwargs", "rtol=0"],
                 ["train", "moon", "--n-envs", "0"]):
        out = tmp_path / argv[-1].replace("=", "-")
        assert main([*argv, "--out", str(out)]) == 2, argv
        assert not out.exists(), argv
    # a header-only log is not a run to compare
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "episodes.csv").write_text("episode,env_steps,wall_time_s,return,length,success,"
                                        "death,split,map_id\n")
    assert main(["compare", str(empty), "--out", str(tmp_path / "cmp")]) == 2
    assert "no episodes" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["train", "moon", "--hyperparams", "learning_rate=abc"], "learning_rate"),
    (["train", "moon", "--hyperparams", "n_steps=0"], "n_steps"),
    (["train", "moon", "--hyperparams", "policy_kwargs={net_arch: abc}"], "net_arch"),
    (["train", "moon", "--hyperparams", "gamma=5"], "gamma"),
    (["train", "moon", "--device", "bogus"], "--device"),
    (["train", "moon", "--seed", "-1"], "--seed"),
    (["train", "moon", "--n-envs", "0"], "--n-envs"),
    (["train", "moon", "--eval-every", "-1"], "--eval-every"),
    (["train", "moon", "--checkpoint-every", "-1"], "--checkpoint-every"),
    (["train", "moon", "--timesteps", str(10**23)], "--timesteps"),
    (["render", "moon", "--fps", "0"], "fps"),
    (["render", "moon", "--fps", "-3"], "fps"),
    (["evaluate", "planner:moon", "--seed", "-1"], "--seed"),
    (["evaluate", "planner:moon", "--episodes", "0"], "--episodes"),
    (["shift", "moon", "--agent", "planner", "--seed", "-2"], "--seed"),
    (["plan", "moon", "--seed", "-1"], "--seed"),
])
def test_bad_values_are_refused_naming_the_flag(argv, needle, tmp_path, capsys):
    # defects 9, 11, 12
    out = tmp_path / ("x.gif" if argv[0] == "render" else "run")
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_corrupt_files_are_named_at_once(tmp_path, capsys):
    # defects 9 and 10: compare on a short row, evaluations without split, a corrupt log on
    # resume, resume of a config without 'train', evaluate without config.json
    out = tmp_path / "run"
    train(TrainConfig(out=str(out), timesteps=128, **TINY))
    log = out / "episodes.csv"
    good = log.read_text()
    log.write_text(good + "999,12\n")
    assert main(["compare", str(out), "--out", str(tmp_path / "c")]) == 2
    assert "episodes.csv" in capsys.readouterr().err
    log.write_text(good.replace("\n2,", "\n2,x", 1))
    assert main(["train", "moon", "--out", str(out), "--resume", "--timesteps", "100000",
                 "--no-progress"]) == 2
    assert "episodes.csv, line 3" in capsys.readouterr().err
    log.write_text(good)
    ev = out / "evaluations.csv"
    ev.write_text(ev.read_text().replace("split", "splat"))
    assert main(["compare", str(out), "--out", str(tmp_path / "c")]) == 2
    assert "evaluations.csv" in capsys.readouterr().err
    cfg = out / "config.json"
    saved = cfg.read_text()
    cfg.write_text(json.dumps({"command": "something else"}))
    assert main(["train", "moon", "--out", str(out), "--resume"]) == 2
    assert "'train' section" in capsys.readouterr().err
    cfg.unlink()
    assert main(["evaluate", str(out), "--episodes", "1", "--out", str(tmp_path / "e")]) == 2
    assert "--env" in capsys.readouterr().err
    cfg.write_text(saved)


def test_resume_refuses_another_world_before_building_anything(tmp_path, capsys):
    # defect 11: `train city --out <moon run> --resume`
    out = tmp_path / "run"
    train(TrainConfig(out=str(out), timesteps=64, **TINY))
    t0 = time.perf_counter()
    assert main(["train", "city", "--out", str(out), "--resume"]) == 2
    assert "cannot resume as city" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 5
    assert main(["train", "moon", "--out", str(out), "--resume", "--seed", "9"]) == 2
    assert "--seed cannot change" in capsys.readouterr().err


def test_a_budget_smaller_than_an_update_is_announced(tmp_path, capsys):
    # defect 12: --timesteps 64 with 2,048 launches per update
    out = tmp_path / "run"
    assert main(["train", "moon", "--timesteps", "64", "--out", str(out), "--no-progress",
                 "--eval-episodes", "2"]) == 0
    text = capsys.readouterr().out
    assert "2,048" in text and "64" in text
    assert np.all(read_episodes(out)["env_steps"] <= 2048)


def test_without_flock_the_lock_is_an_exclusive_file(tmp_path, monkeypatch):
    """On a file system without flock two writers still cannot both hold a folder."""
    import fcntl

    def no_flock(*args):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    first = RunLock(tmp_path, "train").acquire()
    with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
        RunLock(tmp_path, "plan").acquire()
    first.release()
    assert not (tmp_path / ".lock.pid").exists()
    with RunLock(tmp_path, "plan"):
        pass
    # a lock file left by a dead process of this host is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket

    (tmp_path / ".lock.pid").write_text(f"pid {dead} on {socket.gethostname()} (train)\n")
    with RunLock(tmp_path, "train"):
        assert f"pid {os.getpid()}" in (tmp_path / ".lock.pid").read_text()
