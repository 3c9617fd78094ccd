"""Training on the body world with its packaged defaults: SAC (PPO is trained by every
command's test in test_body_world.py) runs, logs and loads, on tiny budgets."""

from __future__ import annotations

import csv
import json

import numpy as np

import moonshot_body
from moonshot.agents import load_agent
from moonshot.cli import main
from moonshot.runlog import read_episodes
from moonshot_body.env import OBS_SIZE


def test_sac_trains_on_the_body_world_with_its_packaged_defaults(tmp_path):
    out = tmp_path / "sac"
    # the warm-up is cut to the budget; every other setting is the world's own
    rc = main(["train", "body", "--algo", "sac", "--timesteps", "300", "--seed", "0",
               "--out", str(out), "--eval-episodes", "1", "--no-progress",
               "--env-kwargs", "time_limit=2", "--hyperparams", "learning_starts=100",
               "batch_size=32"])
    assert rc == 0
    cfg = json.loads((out / "config.json").read_text())
    packaged = moonshot_body.HYPERPARAMS["sac"]
    hp = cfg["resolved_hyperparams"]
    assert hp["buffer_size"] == packaged["buffer_size"] and hp["tau"] == packaged["tau"]
    assert hp["learning_starts"] == 100 and cfg["n_envs"] == packaged["n_envs"]
    log = read_episodes(out)
    assert len(log["episode"]) >= 2  # 100-step walks (time_limit 2 s at 50 Hz)
    assert log["env_steps"][-1] <= 300
    assert set(log["outcome"]) <= {"arrived", "fell", "timeout"}
    with open(out / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["split"] for r in rows} == {"train", "new"}
    action, _ = load_agent(out).predict(np.zeros(OBS_SIZE, np.float32))
    assert action.shape == (8,) and np.all(np.abs(action) <= 1.0)
