"""Costs in comparable units (issue 27): every episode logs its real env steps and the env
steps its imagined trials stand for (``model_steps``), so real + imagined add up."""

import csv
import json

from moonshot.cli import main
from moonshot.runlog import read_episodes


def _rows(folder):
    with open(folder / "episodes.csv") as fh:
        return list(csv.DictReader(fh))


def test_an_imagined_drive_counts_its_env_steps_and_a_rehearsed_launch_one(tmp_path):
    city, moon = tmp_path / "city", tmp_path / "moon"
    assert main(["plan", "city", "--episodes", "1", "--env-kwargs", "time_limit=6",
                 "traffic_cars=4", "--out", str(city)]) == 0
    assert main(["plan", "moon", "--episodes", "2", "--out", str(moon)]) == 0
    drive = _rows(city)[0]
    rollouts, steps = int(drive["model_rollouts"]), int(drive["model_steps"])
    # an imagined drive of the planner's horizon (seconds) stands for horizon / 0.1 s steps
    assert rollouts > 0 and steps >= 20 * rollouts
    for row in _rows(moon):
        assert int(row["model_steps"]) == int(row["model_rollouts"]) > 0
    summary = json.loads((city / "summary.json").read_text())
    assert summary["model_steps"] == steps and summary["env_steps"] == int(drive["length"])


def test_compare_states_real_and_imagined_steps_and_plots_both_axes(tmp_path):
    plan = tmp_path / "plan"
    assert main(["plan", "moon", "--episodes", "3", "--out", str(plan)]) == 0
    out = tmp_path / "cmp"
    assert main(["compare", str(plan), "--out", str(out)]) == 0
    row = json.loads((out / "efficiency.json").read_text())["runs"][0]
    log = read_episodes(plan)
    assert row["model_steps"] == log["model_steps"].sum() > 0
    assert row["env_steps"] == log["env_steps"][-1]
    # a wide table is split into several of at most 8 columns: the headers of all of them
    headers = " ".join(line for line in (out / "efficiency.md").read_text().splitlines()
                       if line.startswith("| run "))
    for col in ("real env steps", "imagined env steps", "imagined trials", "compute s"):
        assert col in headers


def test_a_log_from_before_model_steps_reads_them_as_unknown(tmp_path):
    (tmp_path / "episodes.csv").write_text(
        "episode,env_steps,wall_time_s,return,length,success,death,split,map_id,"
        "model_rollouts\n1,1,0.1,1.5,1,1,0,train,7,40\n2,2,0.2,0.5,1,0,0,train,8,0\n")
    steps = read_episodes(tmp_path)["model_steps"]
    assert steps[1] == 0 and steps[0] != steps[0]  # NaN: it imagined, uncounted
