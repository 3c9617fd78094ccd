"""``--tensorboard`` shows the testbed's own scalars (issue 19): training success and death
rates, deaths, evaluation success per split; a planner's real trials and model rollouts."""

import csv
import sys

import pytest

from moonshot.cli import main

pytest.importorskip("tensorboard")
from moonshot.tblog import read_scalars  # noqa: E402


def test_training_writes_moonshot_scalars_beside_sb3s(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "moon", "--timesteps", "2048", "--n-envs", "64", "--eval-every",
                 "1024", "--eval-episodes", "4", "--target", "soi", "--tensorboard",
                 "--no-progress", "--hyperparams", "n_steps=8", "batch_size=256",
                 "n_epochs=1", "--out", str(out)]) == 0
    scalars = read_scalars(out / "tensorboard")
    assert "rollout/ep_rew_mean" in scalars  # SB3's own, in the same run
    train = {k: scalars[f"moonshot/train/{k}"]
             for k in ("success_rate", "death_rate", "episodes", "deaths")}
    assert [s for s, _ in train["episodes"]] == [512, 1024, 1536, 2048]
    assert train["episodes"][-1][1] == 2048  # one launch per step
    assert all(0 <= rate <= 1 for _, rate in train["success_rate"])
    # deaths: every rocket destroyed, as in episodes.csv
    with open(out / "episodes.csv") as fh:
        deaths = sum(row["death"] == "1" for row in csv.DictReader(fh))
    assert train["deaths"][-1] == (2048, deaths)
    for split in ("train", "new"):
        for key in ("success_rate", "death_rate", "mean_return"):
            series = scalars[f"moonshot/eval/{key}_{split}"]
            assert [s for s, _ in series] == [0, 1024, 2048]


def test_planner_run_writes_trials_and_model_rollouts(tmp_path):
    out = tmp_path / "plan"
    assert main(["plan", "moon", "--episodes", "6", "--tensorboard", "--out", str(out)]) == 0
    scalars = read_scalars(out / "tensorboard")
    trials = scalars["moonshot/plan/real_trials"]
    rollouts = scalars["moonshot/plan/model_rollouts"]
    assert len(trials) == len(rollouts) == 6
    assert all(1 <= t <= 5 for _, t in trials)
    assert all(r >= 1 for _, r in rollouts)  # the planner imagines before it launches
    total = scalars["moonshot/plan/model_rollouts_total"][-1][1]
    assert total == sum(r for _, r in rollouts)
    assert scalars["moonshot/train/episodes"][-1][1] == sum(t for _, t in trials)
    # x axis: env steps (launches), as in episodes.csv, so RL and planner curves overlay
    assert trials[-1][0] == sum(t for _, t in trials)


def test_planner_tensorboard_does_not_load_torch(tmp_path):
    import subprocess

    code = ("import sys; from moonshot.cli import main; "
            f"main(['plan', 'moon', '--episodes', '2', '--tensorboard', '--out', "
            f"{str(tmp_path / 'p')!r}]); print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert res.stdout.strip().splitlines()[-1] == "False"
