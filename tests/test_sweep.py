"""Sweeps on a real Ray cluster: two nodes on loopback addresses of this machine, a node killed
mid-sweep, resume; and the spec's errors before any task starts."""

import copy
import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from moonshot.cli import main
from moonshot.errors import ConfigError
from moonshot.evaluation.sweep import execute_cell, expand

RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
TINY_PPO = {"algo": "ppo", "n_envs": 8, "eval_episodes": 2, "checkpoint_every": 256,
            "hyperparams": {"n_steps": 16, "batch_size": 64, "n_epochs": 1}}
SPEC = {
    "name": "two-worlds",
    "world": ["moon", "city"],
    "env_kwargs": {"moon": {"target": "soi"}, "city": {"time_limit": 8}},
    "agents": [{**TINY_PPO, "timesteps": 3072, "label": "ppo"},
               {"planner": True, "episodes": 2}],
    "seeds": [0, 1],
    "evaluate": {"splits": ["train", "new"], "episodes": 2},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return s.getsockname()[1]


def _pids_of(tag: str) -> list[int]:
    """The processes whose command line holds ``tag`` (this cluster's temp dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if tag in cmd and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes, one CPU each: the head on 127.0.0.2, a worker on 127.0.0.3. Torn down
    by killing the processes this fixture started (found by their temp dir), by pid."""
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths
    port = _free_port()
    common = ["--num-cpus", "1", "--disable-usage-stats", "--temp-dir", temp]
    subprocess.run(["ray", "start", "--head", "--node-ip-address", "127.0.0.2", "--port",
                    str(port), "--include-dashboard=false", *common], env=RAY_ENV,
                   check=True, capture_output=True)
    subprocess.run(["ray", "start", "--address", f"127.0.0.2:{port}", "--node-ip-address",
                    "127.0.0.3", *common], env=RAY_ENV, check=True, capture_output=True)
    try:
        yield {"address": f"127.0.0.2:{port}", "temp": temp}
    finally:
        for pid in _pids_of(temp):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _worker_raylet(temp: str) -> int | None:
    for pid in _pids_of(temp):
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if "raylet/raylet" in cmd and "127.0.0.3" in cmd:
            return pid
    return None


def _ran_under(raylet: int, attempts: Path) -> bool:
    """Whether the last attempt logged in ``attempts`` runs in a worker of ``raylet``."""
    import json

    try:
        pid = json.loads(attempts.read_text().splitlines()[-1])["pid"]
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, IndexError, ValueError):
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == raylet


def _rows(path: Path):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in csv.DictReader(fh)]


def test_a_sweep_survives_a_dead_node_and_resumes_to_no_work(cluster, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "moonshot", "sweep", str(spec_path), "--out", str(out),
           "--address", cluster["address"], "--no-progress"]
    driver = subprocess.Popen(cmd, env=RAY_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    # kill the worker node once a cell running there has sent a checkpoint to the driver
    raylet = _worker_raylet(cluster["temp"])
    assert raylet is not None
    deadline = time.time() + 240
    while time.time() < deadline and driver.poll() is None:
        if any(_ran_under(raylet, c.parent.parent.parent / "attempts.jsonl")
               and not (c.parent.parent.parent / "DONE").exists()
               for c in (out / "cells").glob("*/run/checkpoints/latest.json")):
            break
        time.sleep(0.2)
    assert driver.poll() is None, "the sweep ended before a cell checkpointed on the worker"
    os.kill(raylet, signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr[-3000:]
    cells = expand(SPEC)
    assert len(cells) == 8
    # the cell that ran on the killed node was retried elsewhere, from its snapshot
    import json

    attempts = {c.id: [json.loads(x) for x in (out / "cells" / c.id / "attempts.jsonl")
                       .read_text().splitlines()] for c in cells}
    retried = [a for a in attempts.values() if len(a) > 1]
    assert retried, attempts
    assert all(len({x["node"] for x in a}) == 2 for a in retried)
    for cell in cells:
        folder = out / "cells" / cell.id
        assert (folder / "DONE").exists(), cell.id
        rows = _rows(folder / "run" / "episodes.csv")
        assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
        steps = [int(r["env_steps"]) for r in rows]
        assert steps == sorted(steps)
    # a retried cell resumed exactly: the same rows as the cell run without Ray
    moon_ppo = next(c for c in cells if c.id.startswith("moon-ppo"))
    ref = tmp_path / "ref"
    execute_cell(moon_ppo, ref)
    assert _rows(ref / "run" / "episodes.csv") == _rows(
        out / "cells" / moon_ppo.id / "run" / "episodes.csv")
    assert _rows(ref / "run" / "evaluations.csv") == _rows(
        out / "cells" / moon_ppo.id / "run" / "evaluations.csv")
    report = (out / "report.md").read_text()
    assert "moon-planner" in report and "city-ppo" in report
    assert (out / "report.html").exists() and (out / "learning_curves.png").exists()
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert {r["group"] for r in summary} == {"moon-ppo", "moon-planner", "city-ppo",
                                             "city-planner"}
    # --resume on a finished sweep does no work (and needs no cluster)
    before = {p: p.stat().st_mtime_ns for p in (out / "cells").rglob("episodes.csv")}
    t0 = time.perf_counter()
    assert main(["sweep", str(spec_path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert time.perf_counter() - t0 < 30
    assert before == {p: p.stat().st_mtime_ns for p in (out / "cells").rglob("episodes.csv")}
    # ...and refuses a spec whose cells differ in more than their ids (a bigger budget)
    bigger = {**SPEC, "agents": [{**SPEC["agents"][0], "timesteps": 4096}, SPEC["agents"][1]]}
    spec_path.write_text(yaml.safe_dump(bigger))
    assert main(["sweep", str(spec_path), "--out", str(out), "--resume", "--no-progress"]) == 2


def test_local_ray_runs_the_example_spec_shape(tmp_path):
    """Without --address: Ray on this machine (loopback), nothing to set up; with one CPU,
    one cell at a time (a cell waiting on the driver's store must not let the next start)."""
    spec = {"name": "local", "world": "moon", "env_kwargs": {"target": "soi"},
            "agents": [{"planner": True, "episodes": 2}], "seeds": [0, 1],
            "evaluate": {"splits": ["train", "new"], "episodes": 2}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "moonshot", "sweep", str(path), "--out",
                          str(out), "--num-cpus", "1", "--no-progress"], env=RAY_ENV,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "planner" in (out / "report.md").read_text()
    import json

    spans = []
    folders = sorted((out / "cells").iterdir())
    assert len(folders) == 2
    for folder in folders:
        start = json.loads((folder / "attempts.jsonl").read_text().splitlines()[0])["time"]
        spans.append((start, start + json.loads((folder / "result.json").read_text())
                      ["wall_time_s"]))
    spans.sort()
    assert spans[1][0] >= spans[0][1], spans

    # the release tables read a sweep folder: an agent that does not learn is one row, its
    # interval Clopper-Pearson over the scenarios, deaths named as the world names them
    import importlib.util

    tables_py = Path(__file__).resolve().parents[1] / "benchmarks" / "headline_tables.py"
    mod_spec = importlib.util.spec_from_file_location("headline_tables", tables_py)
    tables = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(tables)
    text_out = tmp_path / "tables.md"
    assert tables.main([str(out), "--out", str(text_out)]) == 0
    text = text_out.read_text()
    assert "rockets lost per episode (new)" in text and "destroyed" not in text
    row = next(line for line in text.splitlines() if line.startswith("| planner |"))
    assert "n=2 scenarios (<10), Clopper-Pearson" in row  # small n said, never hidden
    assert "minus planner" not in text  # nothing to compare the reference with
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- headline-moon:begin -->\nold\n<!-- headline-moon:end -->\n")
    assert tables.main([str(out), "--readme", str(readme)]) == 1  # differs: said, not fixed
    assert tables.main([str(out), "--readme", str(readme), "--write"]) == 0
    assert tables.main([str(out), "--readme", str(readme)]) == 0
    assert "| planner | - |" in readme.read_text()


@pytest.mark.parametrize("name", sorted(
    p.name for p in Path(__file__).resolve().parents[1].joinpath("moonshot", "sweeps")
    .glob("*.yaml")))
def test_every_shipped_spec_is_valid(name):
    """The specs behind docs/results.md and docs/generalization.md still expand and pass
    every check a sweep makes before its first task."""
    from importlib import resources

    from moonshot.evaluation.sweep import check_cell

    cells = expand(yaml.safe_load(resources.files("moonshot").joinpath("sweeps", name)
                                  .read_text()))
    assert cells
    for cell in cells:
        check_cell(cell)


def test_shipped_example_spec_expands():
    from importlib import resources

    text = resources.files("moonshot").joinpath("sweeps/moon-transfer.yaml").read_text()
    cells = expand(yaml.safe_load(text))
    assert len(cells) == 6 and {c.group for c in cells} == {"ppo", "planner"}


@pytest.mark.parametrize("change,needle", [
    ({"colour": "red"}, "unknown sweep spec key"),
    ({"seeds": []}, "empty list"),
    ({"seeds": [0, -1]}, "seeds"),
    ({"agents": [{"planner": True, "seeds": [1, 1]}]}, "agents[0].seeds repeat"),
    ({"agents": [{"algo": "ppo", "timesteps": 10, "seeds": "0"}]}, "must be a list"),
    ({"world": "mars"}, "known worlds"),
    ({"agents": [{"algo": "dqn", "timesteps": 10}]}, "dqn"),
    ({"agents": [{"algo": "ppo"}]}, "timesteps"),
    ({"agents": [{"algo": "ppo", "timesteps": 10, "hyperparams": {"gamma": 7}}]}, "gamma"),
    ({"agents": [{"planner": True, "options": {"model": "kepler"}}]}, "kepler"),
    ({"evaluate": {"splits": ["test"]}}, "train and/or new"),
    ({"evaluate": {"episodes": 0}}, "episodes"),
    ({"env_kwargs": {"target": "venus"}}, "target"),
    ({"env_grid": {"target": []}}, "empty list"),
    ({"shift": {"axis": "nope"}}, "shift axis"),
    ({"resources": {"num_cpus": 0}}, "num_cpus"),
    ({"resources": {"num_gpus": -1}}, "num_gpus"),
    ({"resources": {"memory": 4}}, "memory"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": "3"}, "max_retries"),
])
def test_bad_specs_are_refused_before_any_task(change, needle, tmp_path, capsys):
    spec = {"name": "x", "world": "moon", "agents": [{"planner": True}], "seeds": [0],
            **change}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--dry-run"]) == 2
    assert needle in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_relearn_goes_to_the_sb3_cells_only():
    """``relearn`` fine-tunes a policy from its model file: a learned-model cell (pets,
    sysid) has none, and given one it failed only after its whole evaluation (the shipped
    headline-body spec has both kinds)."""
    from importlib import resources

    spec = {"world": "moon", "relearn": {"timesteps": 10},
            "agents": [{"algo": "ppo", "timesteps": 10}, {"algo": "pets", "timesteps": 10},
                       {"algo": "SYSID", "timesteps": 10, "label": "s"}, {"planner": True}]}
    relearn = {c.group: c.relearn for c in expand(spec)}
    assert relearn == {"ppo": {"timesteps": 10}, "pets": None, "s": None, "planner": None}
    body = expand(yaml.safe_load(resources.files("moonshot").joinpath(
        "sweeps", "headline-body.yaml").read_text()))
    assert {c.group for c in body if c.relearn} == {"ppo", "sac"}


def test_grids_expand_into_cells():
    spec = {"world": "city", "agents": [{"planner": True}], "seeds": [0, 1, 2],
            "env_grid": {"traffic_cars": [20, 40]}, "num_train_maps": [1, 4]}
    cells = expand(spec)
    assert len(cells) == 12
    assert {c.env_kwargs["traffic_cars"] for c in cells} == {20, 40}
    with pytest.raises(ConfigError, match="distinct label"):
        expand({"world": "moon", "agents": [{"planner": True}, {"planner": True}]})


def test_an_agent_may_name_its_own_seeds():
    """A planner that draws nothing at random needs one seed where the learners get ten."""
    cells = expand({"world": "moon", "seeds": [0, 1, 2], "agents": [
        {"algo": "ppo", "timesteps": 10}, {"planner": True, "seeds": [0]}]})
    assert sorted(c.id for c in cells) == ["planner-s0", "ppo-s0", "ppo-s1", "ppo-s2"]


def test_the_aggregate_keeps_columns_only_some_cells_have(tmp_path):
    """A relearning cost (RL cells only) or a split one group lacks still reaches the tables,
    whichever cell comes first."""
    import json

    from moonshot.evaluation.sweep import aggregate

    spec = {"world": "moon", "env_kwargs": {"target": "soi"},
            "agents": [{"planner": True, "episodes": 2}], "seeds": [0, 1],
            "evaluate": {"splits": ["new"], "episodes": 2}}
    cells = expand(spec)
    for cell in cells:
        execute_cell(cell, tmp_path / "cells" / cell.id)
    late = tmp_path / "cells" / cells[1].id / "result.json"
    result = json.loads(late.read_text())
    result["relearn"] = {"episodes_to_recover": 40, "deaths_to_recover": 3}
    late.write_text(json.dumps(result))
    summary = aggregate(tmp_path, cells)
    assert summary["groups"][0]["relearn_episodes"] == 40
    assert summary["groups"][0]["relearn_episodes_missing"] == 1
    header = (tmp_path / "cells.csv").read_text().splitlines()[0].split(",")
    assert "relearn_episodes" in header
    assert "relearn: episodes" in (tmp_path / "summary.md").read_text()


def test_a_one_seed_group_shows_its_interval_over_scenarios(tmp_path):
    """A planner given one seed (it draws nothing at random) gets a Clopper-Pearson interval
    over its scenarios in the summary, not "no interval"."""
    from moonshot.evaluation.sweep import aggregate

    spec = {"world": "moon", "env_kwargs": {"target": "soi"}, "seeds": [0, 1],
            "agents": [{"planner": True, "episodes": 2, "seeds": [0]}],
            "evaluate": {"splits": ["new"], "episodes": 3}}
    cells = expand(spec)
    assert [c.id for c in cells] == ["planner-s0"]
    execute_cell(cells[0], tmp_path / "cells" / cells[0].id)
    summary = aggregate(tmp_path, cells)
    cell = summary["groups"][0]["success_new_ci"]
    assert "n=3 scenarios of 1 seed, Clopper-Pearson" in cell
    assert "n=3 scenarios of 1 seed" in (tmp_path / "summary.md").read_text()


def test_sweep_help_lists_every_key_of_the_schema():
    """`moonshot sweep --help` is generated from the spec schema: every section and every key
    (with its kind) appears, in its section."""
    from moonshot.evaluation.sweep import SCHEMA

    env = {**os.environ, "COLUMNS": "100"}
    text = subprocess.run([sys.executable, "-m", "moonshot", "sweep", "--help"], check=True,
                          capture_output=True, text=True, env=env).stdout
    sections, current = {}, None
    for line in text.split("spec keys")[1].splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("   "):
            current = sections.setdefault(line.strip().rstrip(":"), [])
        elif current is not None:
            current.append(line)
    assert list(sections) == list(SCHEMA)
    for section, entries in SCHEMA.items():
        for key in entries:
            assert any(line.split()[:1] == [key.name] and key.kind in line
                       for line in sections[section]), (section, key.name)


# a minimal valid spec that reaches each section's check, and where that section lives
_SECTION_SPECS = {
    "top-level": ({}, lambda s: s),
    "RL agent": ({"agents": [{"algo": "ppo", "timesteps": 10}]}, lambda s: s["agents"][0]),
    "planner agent": ({}, lambda s: s["agents"][0]),
    "evaluate": ({"evaluate": {}}, lambda s: s["evaluate"]),
    "shift": ({"shift": {"axis": "altitude"}}, lambda s: s["shift"]),
    "relearn": ({"agents": [{"algo": "ppo", "timesteps": 10}], "relearn": {"timesteps": 10}},
                lambda s: s["relearn"]),
    "resources": ({"resources": {}}, lambda s: s["resources"]),
}


@pytest.mark.parametrize("section", list(_SECTION_SPECS))
def test_an_unknown_key_names_itself_and_lists_the_known_keys(section):
    from moonshot.evaluation.sweep import SCHEMA

    change, where = _SECTION_SPECS[section]
    spec = copy.deepcopy({"world": "moon", "agents": [{"planner": True}], **change})
    expand(spec)  # valid as it is
    where(spec)["colour"] = "red"
    with pytest.raises(ConfigError) as err:
        expand(spec)
    msg = str(err.value)
    assert "'colour'" in msg
    known = msg.split("known keys are:")[1]
    assert sorted(k.strip() for k in known.split(",")) == sorted(k.name for k in
                                                                  SCHEMA[section])


@pytest.mark.parametrize("section,key,value", [
    ("planner agent", "max_trials", 0), ("evaluate", "seed", -1), ("shift", "episodes", 0),
    ("relearn", "tolerance", "small"), ("resources", "num_cpus", True)])
def test_simple_values_are_checked_from_the_schema(section, key, value):
    change, where = _SECTION_SPECS[section]
    spec = copy.deepcopy({"world": "moon", "agents": [{"planner": True}], **change})
    where(spec)[key] = value
    with pytest.raises(ConfigError, match=f"{key} must be"):
        expand(spec)


def _tables_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "headline_tables.py"
    spec = importlib.util.spec_from_file_location("headline_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_release_tables_pair_drives_on_maps_that_return(tmp_path):
    """CityNav's training split draws its drives from a few maps: the comparison with the
    planner pairs every drive (its place and map), not the last drive of each map (the first
    CityNav table paired 31 of 100), and refuses agents evaluated on other scenarios."""
    tables = _tables_module()

    def evaluation(name, maps, wins):
        log = tmp_path / f"{name}.csv"
        log.write_text("map_id,trial,success\n" + "".join(
            f"{m},1,{w}\n" for m, w in zip(maps, wins, strict=True)))
        return tables.Evaluation({"success_rate": sum(wins) / len(wins)}, log)

    maps = [5, 7, 5, 7, 5, 7]
    planner = evaluation("planner", maps, [1, 1, 1, 1, 1, 1])
    learner = {s: {"train": evaluation(f"l{s}", maps, wins)}
               for s, wins in enumerate([[0, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])}
    groups = {"planner": {"seeds": {0: {"train": planner}}, "learns": False},
              "learner": {"seeds": learner, "learns": True}}
    assert len(planner.first) == 6
    row = next(line for line in tables.versus(groups, "planner", "train").splitlines()
               if line.startswith("| learner |"))
    assert row.startswith("| learner | -25.0% [")  # (-1/6 - 2/6) / 2 over all six drives
    other = {0: {"train": evaluation("other", [7, 5, 7, 5, 7, 5], [1] * 6)}}
    groups["learner"]["seeds"] = other
    with pytest.raises(SystemExit, match="same scenarios"):
        tables.versus(groups, "planner", "train")


def test_the_compact_ladder_marks_only_holm_significant_levels():
    """``headline_tables --compact``: one cell per agent and level, deaths beside success, a
    star only where the folder's Holm-adjusted p against level 0 is below 0.05, and an agent
    evaluated twice at one level is refused rather than one of the two shown."""
    tables = _tables_module()

    def row(level, agent, success, deaths, p):
        return {"axis": "friction", "level": str(level), "label": f"level {level}",
                "agent": agent, "success": str(success), "deaths": str(deaths), "p_holm": p}

    rows = [row(0, "ppo (ppo-lidar-s0/run)", 0.5, 0.4, ""), row(0, "sysid (run)", 1.0, 0.0, ""),
            row(1, "ppo (ppo-lidar-s0/run)", 0.1, 0.9, "0.001"),
            row(1, "sysid (run)", 0.9, 0.1, "0.06")]
    lines = tables.ladder_compact(rows, "crashes").splitlines()
    assert lines[0] == "| axis | level | what | ppo-lidar-s0 | sysid |"
    assert lines[2] == "| friction | 0 | level 0 | 50% (40% crashes) | 100% |"
    assert lines[3] == "| friction | 1 | level 1 | 10%* (90% crashes) | 90% (10% crashes) |"
    with pytest.raises(SystemExit, match="twice"):
        tables.ladder_compact(rows + [row(1, "sysid (run)", 1.0, 0.0, "")], "crashes")


def test_ladder_profile_pools_shifted_levels_by_group(tmp_path):
    """``benchmarks/ladder_profile.py``: seeds of one learner are runs of one group, level 0
    is the baseline of each axis and not a task, only levels every agent met are pooled, and
    the probability of improvement counts a tie as half."""
    import importlib.util

    import numpy as np

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "ladder_profile.py"
    spec = importlib.util.spec_from_file_location("ladder_profile", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.group_of("ppo (ppo-lidar-s12/run)") == "ppo-lidar"
    assert mod.group_of("sysid (run)") == "sysid"
    assert mod.group_of("city_planner[oracle]") == "city_planner[oracle]"
    folder = tmp_path / "ladder"
    folder.mkdir()
    rows = [("a", 0, "ppo (ppo-lidar-s0/run)", 0.6), ("a", 1, "ppo (ppo-lidar-s0/run)", 0.2),
            ("a", 0, "ppo (ppo-lidar-s1/run)", 0.8), ("a", 1, "ppo (ppo-lidar-s1/run)", 1.0),
            ("a", 0, "planner", 1.0), ("a", 1, "planner", 1.0), ("a", 2, "planner", 0.5)]
    (folder / "shift.csv").write_text("axis,level,agent,success\n" + "".join(
        f"{a},{lv},{ag},{s}\n" for a, lv, ag, s in rows))
    tasks, scores, runs, drops = mod.read([folder])
    assert tasks == [("a", 1)]  # level 2 was met by the planner alone
    assert runs["ppo-lidar"] == ["ppo (ppo-lidar-s0/run)", "ppo (ppo-lidar-s1/run)"]
    np.testing.assert_allclose(scores["ppo-lidar"], [[0.2], [1.0]])
    np.testing.assert_allclose(drops["ppo-lidar"], [[-0.4], [0.2]])
    # the planner (1.0) beats one run and ties the other: 1/2 + 1/4
    assert mod.improvement(scores["planner"], scores["ppo-lidar"]) == 0.75


AIMER = '''
import numpy as np
from moonshot.agents import Agent


class Aimer(Agent):
    name = "aimer"
    env_id = "moonshot/MoonLaunch-v1"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.tanh(np.asarray(observation, np.float32)[:3] + 0.3), state
'''


def test_ladder_versus_pairs_two_agents_level_by_level(tmp_path, monkeypatch):
    """``headline_tables --versus``: from real ``moonshot shift`` folders (a second agent's
    ladder in a folder of its own), one row per level both ran, paired by scenario; folders
    whose scenarios differ (another seed) are refused rather than compared unpaired."""
    from moonshot.cli import main

    tables = _tables_module()
    (tmp_path / "my_agents.py").write_text(AIMER)
    monkeypatch.chdir(tmp_path)

    def shift(out, seed, *agents):
        args = ["shift", "moon", "--axis", "altitude", "--level", "0", "1", "--episodes", "3",
                "--seed", str(seed), "--no-progress", "--out", str(tmp_path / out)]
        for a in agents:
            args += ["--agent", a]
        assert main(args) == 0
        return tmp_path / out

    both = shift("both", 0, "my_agents:Aimer", "planner")
    lines = tables.ladder_versus([both], "planner", "aimer").splitlines()
    assert lines[0].startswith("| axis | level | planner | aimer | difference")
    assert [line.split(" | ")[:2] for line in lines[2:]] == [["| altitude", "0"],
                                                          ["| altitude", "1"]]
    planner_rates = {int(r["level"]): float(r["success"]) for r in tables.read_shift(both)
                     if r["agent"] == "planner"}
    assert lines[2].split(" | ")[2] == f"{planner_rates[0]:.0%}"
    assert lines[2].split(" | ")[5] == "3"
    alone = shift("aimer", 0, "my_agents:Aimer")
    other_seed = shift("planner5", 5, "planner")
    assert len(tables.ladder_versus([alone, both], "planner", "aimer").splitlines()) == 4
    with pytest.raises(SystemExit, match="same drives or scenarios"):
        tables.ladder_versus([alone, other_seed], "planner", "aimer")
    with pytest.raises(SystemExit, match="no level where both"):
        tables.ladder_versus([alone], "planner", "aimer")
