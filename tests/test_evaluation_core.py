"""One evaluation core: training-time evaluation, `moonshot evaluate`, `plan` and `shift` run the
same code on the same scenarios; an agent's cost counters are cumulative and never reset when
read."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import moonshot
from moonshot.agents import Agent
from moonshot.agents.base import AgentCosts, run_episode
from moonshot.agents.episodes import (
    EVALUATION_ID_OFFSET,
    TRAINING_EVAL_SEED,
    EvalSettings,
    evaluate,
    scenario_set,
    scenario_starts,
)
from moonshot.agents.loading import resolve_agent
from moonshot.agents.monitor import evaluate_policy_on_split
from moonshot.cli import main
from moonshot.errors import ConfigError
from moonshot.evaluation.transfer import evaluate_agent
from moonshot.worlds import get_world

CITY = {"time_limit": 8.0, "traffic_cars": 6}
FIELDS = ("map_id", "trial", "ret", "length", "success", "death", "outcome", "model_rollouts")


class Wobbly(Agent):
    """A CityNav agent whose episodes differ from drive to drive (it steers with the obs)."""

    name = "wobbly"
    env_id = "moonshot/CityNav-v1"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float32)
        return np.array([0.6, np.tanh(obs.sum())], np.float32), state


def _same_records(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert [getattr(x, f) for f in FIELDS] == [getattr(y, f) for f in FIELDS]


def test_training_time_evaluation_and_evaluate_share_the_core():
    """The monitor's evaluation of a run of seed s meets the drives `moonshot evaluate` meets
    at seed TRAINING_EVAL_SEED + s (CityNav: fresh resets), and gets the same episodes."""
    calls = []
    agent = Wobbly()
    real_predict = agent.predict
    agent.predict = lambda obs, *a, **k: (calls.append(1), real_predict(obs, *a, **k))[1]
    during = evaluate_policy_on_split(agent, "moonshot/CityNav-v1", "new", 4, seed=3,
                                      env_kwargs=CITY)
    first = scenario_set(get_world("city"), "new", 3, 4, kind="training").seed
    assert calls
    spec = resolve_agent("tests.user_agents:StraightShot")  # a spec to carry our agent
    spec.agent, spec.env_id, spec.env_kwargs, spec.label = agent, "moonshot/CityNav-v1", \
        dict(CITY), "wobbly"
    # the dev seeds of a training evaluation are the dev evaluation of the same seed
    after = evaluate_agent(spec, EvalSettings(split="new", episodes=4, seed=3))
    assert first == get_world("city").evaluation_seeds("dev", "new", 3, 4).start
    training = evaluate(agent, "moonshot/CityNav-v1",
                        EvalSettings(split="new", episodes=4, seed=3, scenarios="training"),
                        env_kwargs=CITY)
    _same_records(training.records, after.result.records)
    assert during["success_rate"] == after.success_rate
    assert during["death_rate"] == pytest.approx(after.death_rate)
    assert during["mean_return"] == pytest.approx(np.mean([r.ret for r in after.result.records]))


def test_the_legacy_scenario_rule_is_kept():
    moon, city = get_world("moon"), get_world("city")
    ev = scenario_set(moon, "new", 5, 3, seed_set="legacy")
    run = scenario_set(moon, "new", 5 + EVALUATION_ID_OFFSET, 3, kind="run", seed_set="legacy")
    assert ev.ids == run.ids and ev.max_trials == moon.trials_per_scenario
    training = scenario_set(moon, "new", 5, 3, kind="training", seed_set="legacy")
    assert training.ids is None and training.seed == TRAINING_EVAL_SEED + 5
    assert scenario_set(city, "new", 5, 3, seed_set="legacy").ids is None
    assert scenario_set(city, "new", 5, 3, max_trials=4, seed_set="legacy").max_trials == 1


def test_the_scenario_rule_is_one_function():
    moon, city = get_world("moon"), get_world("city")
    ev = scenario_set(moon, "new", 5, 3)
    assert ev.ids == tuple(moon.evaluation_seeds("dev", "new", 5, 3))
    assert scenario_set(moon, "new", 5, 3, kind="run") == ev
    assert ev.max_trials == moon.trials_per_scenario
    assert scenario_set(moon, "new", 5, 3, kind="training").ids is None
    assert scenario_set(city, "new", 5, 3).ids is None
    assert scenario_set(city, "new", 5, 3, max_trials=4).max_trials == 1
    with pytest.raises(ConfigError, match="seed set 'holdout'"):
        EvalSettings(seed_set="holdout")
    with pytest.raises(ConfigError, match="outside the dev seed set"):
        scenario_set(city, "new", 10**6, 3)
    with pytest.raises(ConfigError, match="scenario set"):
        EvalSettings(scenarios="holdout")
    with pytest.raises(ConfigError, match="episodes"):
        EvalSettings(episodes=0)


def test_no_module_draws_scenarios_but_the_core():
    """The scenario rule is :func:`scenario_set`: no other module of moonshot draws scenario
    ids or evaluation seeds itself (render did, with a rule of its own)."""
    import re

    root = Path(moonshot.__file__).parent
    drawing = re.compile(r"(?<!def )\b(scenario_ids|evaluation_seeds|seed_range)\(")
    found = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).as_posix() in ("agents/episodes.py", "worlds/__init__.py"):
            continue
        found += [f"{path.name}:{k}" for k, line in enumerate(path.read_text().splitlines(), 1)
                  if drawing.search(line)]
    assert found == []


def test_scenarios_start_at_a_first_trial_or_a_new_map():
    starts = scenario_starts([1, 2, 3, 1, 1, 2], [7, 7, 7, 7, 9, 9])
    assert starts.tolist() == [True, False, False, True, True, False]
    assert scenario_starts([1, 2], [7, 8]).tolist() == [True, True]


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 3)), min_size=1, max_size=30))
def test_grouping_recovers_the_scenarios_an_evaluation_ran(scenarios):
    """Scenarios of any number of trials, on maps that may repeat from one scenario to the
    next, are grouped back exactly as they were run; the summary counts them so."""
    from moonshot.agents.base import EpisodeRecord
    from moonshot.agents.episodes import group_scenarios, summarize

    records = [EpisodeRecord(map_id=m, trial=k, ret=0.0, length=1, success=k == n,
                             death=False, outcome="", compute_s=0.0, wall_time_s=0.0,
                             final_info={})
               for n, m in scenarios for k in range(1, n + 1)]
    assert [len(g) for g in group_scenarios(records)] == [n for n, _ in scenarios]
    s = summarize(records)
    assert s["scenarios"] == len(scenarios) and s["success_rate"] == 1.0
    assert s["max_trials_per_scenario"] == max(n for n, _ in scenarios)


def _rows(path):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k not in ("wall_time_s", "compute_s")}
                for r in csv.DictReader(fh)]


def test_shift_level_zero_is_a_plain_evaluation_on_the_training_split(tmp_path):
    """(legacy seeds: one seed rule for the ladder and the splits; in dev and test each axis
    has its own seeds)"""
    assert main(["shift", "moon", "--agent", "planner", "--axis", "altitude", "--level", "0",
                 "--episodes", "3", "--seed", "4", "--out", str(tmp_path / "shift"),
                 "--no-progress", "--seed-set", "legacy"]) == 0
    assert main(["evaluate", "planner:moon", "--split", "train", "--episodes", "3", "--seed",
                 "4", "--out", str(tmp_path / "ev"), "--seed-set", "legacy"]) == 0
    row = json.loads((tmp_path / "shift" / "shift.json").read_text())["rows"][0]
    res = json.loads((tmp_path / "ev" / "transfer.json").read_text())["results"][0]
    assert (row["success"], row["trials"], row["model_rollouts"], row["deaths"]) == (
        res["success_rate"], res["trials_per_scenario"], res["model_rollouts_per_scenario"],
        res["death_rate"])
    shift_log = next((tmp_path / "shift" / "episodes").glob("*/episodes.csv"))
    ev_log = next((tmp_path / "ev" / "episodes").glob("*/episodes.csv"))
    assert _rows(shift_log) == _rows(ev_log)


def test_a_plan_run_is_the_run_scenario_set(tmp_path):
    """`moonshot plan` evaluates through the core on the "run" scenarios of its seed."""
    out = tmp_path / "plan"
    assert main(["plan", "moon", "--episodes", "3", "--seed", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    res = evaluate(get_world("moon").make_planner(), "moon",  # a world's name will do
                   EvalSettings(episodes=3, seed=2, scenarios="run"))
    assert res.env_id == "moonshot/MoonLaunch-v1"
    assert res.summary()["success_rate"] == summary["success_rate"]
    assert res.summary()["model_rollouts"] == summary["model_rollouts"]
    ids = [int(r["map_id"]) for r in _rows(out / "episodes.csv")]
    assert ids == [r.map_id for r in res.records]


def test_cost_counters_are_cumulative_and_reading_them_changes_nothing():
    import gymnasium as gym

    planner = get_world("moon").make_planner()
    env = gym.make("moonshot/MoonLaunch-v1").unwrapped
    rec = run_episode(planner, env, seed=1)
    assert rec.model_rollouts > 0
    first = planner.costs()
    assert planner.costs() == first and planner.model_rollouts() == first.model_rollouts
    assert planner.model_rollouts() == first.model_rollouts  # read twice: unchanged
    rec2 = run_episode(planner, env, seed=2)
    assert planner.costs().model_rollouts == first.model_rollouts + rec2.model_rollouts
    assert planner.costs() - first == AgentCosts(rec2.model_rollouts,
                                                 planner.costs().compute_s - first.compute_s,
                                                 model_steps=rec2.model_rollouts)
    assert rec2.model_steps == rec2.model_rollouts  # a rehearsed launch is one env step


def test_an_agent_with_the_older_per_call_counters_still_logs_its_episodes():
    """A user's Agent written before costs(): model_rollouts() counted since the last call."""
    import gymnasium as gym

    class Legacy(Agent):
        def __init__(self):
            self.pending = 0

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            self.pending += 7
            return np.zeros(3, np.float32), state

        def model_rollouts(self):
            n, self.pending = self.pending, 0
            return n

    env = gym.make("moonshot/MoonLaunch-v1").unwrapped
    agent = Legacy()
    assert [run_episode(agent, env, seed=s).model_rollouts for s in (1, 2)] == [7, 7]


USER_AGENT = '''
import numpy as np
from moonshot.agents import Agent


class Aimer(Agent):
    """A MoonLaunch agent whose launch depends on the scenario (it aims with the obs)."""

    name = "aimer"
    env_id = "moonshot/MoonLaunch-v1"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float32)
        return np.tanh(obs[:3] + 0.3).astype(np.float32), state
'''


def _figures(folder: Path) -> tuple:
    """transfer.json and every episode log of an evaluation, without their timings."""
    data = json.loads((folder / "transfer.json").read_text())
    for row in data["results"]:
        row.pop("compute_s_per_scenario", None)
    logs = {p.parent.name: _rows(p) for p in (folder / "episodes").glob("*/episodes.csv")}
    return data, logs


def test_evaluate_in_worker_processes_gives_the_figures_of_one_process(tmp_path):
    """`moonshot evaluate --workers 2` (a user's module:Class agent and a planner, both
    splits, in spawned processes) writes the same table and episodes as `--workers 1`."""
    import subprocess
    import sys

    (tmp_path / "my_agents.py").write_text(USER_AGENT)
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"ev{workers}"
        proc = subprocess.run(
            [sys.executable, "-m", "moonshot", "evaluate", "my_agents:Aimer", "planner:moon",
             "--env-kwargs", "target=soi", "--episodes", "3", "--seed", "2",
             "--workers", str(workers), "--out", str(out)],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs[workers] = _figures(out)
    assert len(outs[2][1]) == 4  # two agents, two splits
    assert outs[1] == outs[2]
    rates = {(r["agent"], r["split"]): r["success_rate"] for r in outs[2][0]["results"]}
    assert rates[("planner", "new")] == 1.0 and len(rates) == 4


def test_evaluate_refuses_workers_below_one(tmp_path, capsys):
    assert main(["evaluate", "planner:moon", "--episodes", "1", "--workers", "0",
                 "--out", str(tmp_path / "ev")]) != 0
    assert "--workers must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "ev").exists()
