"""Worlds as plug-ins, met as a user meets them: the command line in a subprocess, from the
user's own folder, with a world named in MOONSHOT_WORLDS or installed as a package that
declares the entry-point group ``moonshot.worlds``; and ``--algo`` open to every
stable-baselines3 algorithm."""

import json
from pathlib import Path

import imageio.v2 as imageio
import line_world
import pytest
import yaml
from conftest import run_as_user
from hypothesis import given
from hypothesis import strategies as st

from moonshot.cli import main
from moonshot.runlog import read_episodes

#: A user's world module: tests/line_world.py, registering itself on import (a plug-in),
#: plus a second world whose planner fails once it acts (in a sweep's worker).
WORLD_MODULE = Path(line_world.__file__).read_text() + '''

register()  # a plug-in registers its world when it is imported


class LostPlanner(LinePlanner):
    """Fails when it acts: a sweep must say why, from the worker."""

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        raise ValueError("the planner lost its map")


if "tests/Brittle-v0" not in gym.registry:
    gym.register("tests/Brittle-v0", entry_point=LineEnv)
register_world(World(name="brittle", title="Brittle", env_id="tests/Brittle-v0",
                     planner=LostPlanner), replace=True)
'''
PLUGIN = {"MOONSHOT_WORLDS": "line_plugin"}


def moonshot(args: list[str], cwd: Path, env: dict | None = None, returncode: int = 0) -> str:
    return run_as_user(["-m", "moonshot", *args], cwd, env=env, returncode=returncode)


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    """The user's folder: their world module beside them."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "line_plugin.py").write_text(WORLD_MODULE)
    return folder


def test_a_world_named_in_moonshot_worlds_runs_through_every_command(user):
    # without the variable the world is unknown, and the error says how to plug it in
    err = moonshot(["plan", "line", "--out", "runs/nothing"], user, returncode=2)
    assert "unknown world or env 'line'" in err and "MOONSHOT_WORLDS" in err
    assert not (user / "runs" / "nothing").exists()
    assert "line" in moonshot(["plan", "--help"], user, PLUGIN)
    moonshot(["plan", "line", "--episodes", "3", "--out", "runs/plan", "--seed", "1"], user,
             PLUGIN)
    assert read_episodes(user / "runs" / "plan")["success"].all()
    moonshot(["train", "line", "--timesteps", "64", "--out", "runs/ppo", "--eval-episodes",
              "1", "--no-progress"], user, PLUGIN)
    for run in ("plan", "ppo"):  # each folder records the module of its world
        cfg = json.loads((user / "runs" / run / "config.json").read_text())
        assert cfg["modules"] == ["line_plugin"]
    # ...and a folder never imports it by itself (docs/security.md): without the variable
    # the run is refused with the module to declare, and nothing of it runs
    err = moonshot(["evaluate", "runs/ppo", "--episodes", "1", "--out", "runs/refused"], user,
                   returncode=2)
    assert "'line_plugin', which is not a declared world plug-in" in err
    assert "MOONSHOT_WORLDS=line_plugin" in err and not (user / "runs" / "refused").exists()
    # declared, it is resumed, evaluated, compared, shifted
    moonshot(["train", "line", "--out", "runs/ppo", "--resume", "--timesteps", "128",
              "--no-progress"], user, PLUGIN)
    assert read_episodes(user / "runs" / "ppo")["env_steps"].max() > 64
    moonshot(["evaluate", "runs/ppo", "runs/plan", "--episodes", "2", "--out", "runs/ev"], user,
             PLUGIN)
    results = json.loads((user / "runs" / "ev" / "transfer.json").read_text())["results"]
    assert {r["env"] for r in results} == {line_world.ENV_ID}
    assert all(r["success_rate"] == 1.0 for r in results if r["agent"] == "planner")
    moonshot(["compare", "runs/ppo", "runs/plan", "--out", "runs/cmp"], user, PLUGIN)
    rows = json.loads((user / "runs" / "cmp" / "efficiency.json").read_text())["runs"]
    assert {r["env"] for r in rows} == {"Line"}  # the world's title: its module was imported
    moonshot(["shift", "line", "--agent", "planner", "--agent", "runs/ppo", "--episodes", "2",
              "--out", "runs/shift", "--no-progress"], user, PLUGIN)
    shift = (user / "runs" / "shift" / "shift.csv").read_text()
    assert "distance" in shift and "ppo (ppo)" in shift
    moonshot(["render", "line", "--agent", "planner", "--out", "line.gif"], user, PLUGIN)
    assert len(imageio.mimread(user / "line.gif")) > 1


def test_an_unknown_world_lists_the_plugin_worlds(user):
    err = moonshot(["plan", "mars", "--out", "runs/mars"], user, PLUGIN, returncode=2)
    assert "'mars'" in err and "line (tests/Line-v0)" in err and "brittle" in err
    assert "Traceback" not in err


def test_a_broken_plugin_is_one_clear_line(user):
    (user / "broken_world.py").write_text("raise RuntimeError('no licence for this world')\n")
    err = moonshot(["plan", "line", "--out", "runs/b"], user,
                   {"MOONSHOT_WORLDS": "broken_world"}, returncode=2)
    assert err.strip().count("\n") == 0, err
    for needle in ("'broken_world'", "MOONSHOT_WORLDS", "RuntimeError", "no licence"):
        assert needle in err
    # the other plug-ins still load
    moonshot(["plan", "line", "--episodes", "1", "--out", "runs/b"], user,
             {"MOONSHOT_WORLDS": "broken_world,line_plugin"})


def _distribution(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_an_installed_package_declares_its_world_by_entry_point(tmp_path):
    site = tmp_path / "site-packages-of-the-user"
    (site / "dashlab").mkdir(parents=True)
    source = Path(line_world.__file__).read_text()
    for old, new in (('"tests/Line-v0"', '"dashlab/Dash-v0"'),
                     ('name="line", title="Line"', 'name="dash", title="Dash"')):
        assert old in source
        source = source.replace(old, new)
    source += ('\nSPARE = World(name="spare", title="Spare", env_id="dashlab/Spare-v0", '
               'planner=LinePlanner)\ngym.register(SPARE.env_id, entry_point=LineEnv)\n')
    (site / "dashlab" / "__init__.py").write_text(source)
    # a function that registers its world, and a World object registered by moonshot
    _distribution(site, "dashlab", "[moonshot.worlds]\ndash = dashlab:register\n"
                                   "spare = dashlab:SPARE\n")
    _distribution(site, "brokenlab", "[moonshot.worlds]\nbroken = brokenlab_is_gone\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site)}
    out = moonshot(["plan", "dash", "--episodes", "2", "--out", "runs/dash"], elsewhere, env)
    assert "Dash" in out or "dash" in out
    cfg = json.loads((elsewhere / "runs" / "dash" / "config.json").read_text())
    assert cfg["env"] == "dashlab/Dash-v0" and cfg["modules"] == ["dashlab"]
    moonshot(["plan", "spare", "--episodes", "1", "--out", "runs/spare"], elsewhere, env)
    cfg = json.loads((elsewhere / "runs" / "spare" / "config.json").read_text())
    assert cfg["env"] == "dashlab/Spare-v0" and cfg["modules"] == ["dashlab"]
    err = moonshot(["plan", "nowhere", "--out", "runs/x"], elsewhere, env, returncode=2)
    assert err.strip().count("\n") == 0, err
    for needle in ("'broken' of distribution 'brokenlab'", "brokenlab_is_gone",
                   "ModuleNotFoundError", "dash (dashlab/Dash-v0)"):
        assert needle in err
    # every command meets the installed world, and its run folders load through the entry
    # point alone (the recorded module is a declared plug-in)
    moonshot(["train", "dash", "--timesteps", "64", "--out", "runs/ppo", "--eval-episodes",
              "1", "--no-progress"], elsewhere, env)
    moonshot(["evaluate", "runs/ppo", "runs/dash", "--episodes", "2", "--out", "runs/ev"],
             elsewhere, env)
    results = json.loads((elsewhere / "runs" / "ev" / "transfer.json").read_text())["results"]
    assert {r["env"] for r in results} == {"dashlab/Dash-v0"}
    moonshot(["shift", "dash", "--agent", "planner", "--agent", "runs/ppo", "--episodes", "2",
              "--out", "runs/shift", "--no-progress"], elsewhere, env)
    assert "distance" in (elsewhere / "runs" / "shift" / "shift.csv").read_text()
    moonshot(["render", "dash", "--agent", "planner", "--out", "dash.gif"], elsewhere, env)
    assert len(imageio.mimread(elsewhere / "dash.gif")) > 1


def test_a_sweep_runs_a_users_world_on_ray_and_says_why_a_cell_failed(user):
    """Ray's workers import the user's world (shipped to them, as to any node); a setting
    that only the env accepts (not in its default_config) is accepted; a cell that fails in
    its worker shows its exception and where it was raised."""
    pytest.importorskip("ray")
    spec = {"name": "plugins", "world": ["line", "brittle"],
            "env_kwargs": {"line": {"far": 1.2}},
            "agents": {"line": [{"algo": "ppo", "timesteps": 32, "eval_episodes": 1},
                                {"planner": True, "episodes": 2}],
                       "brittle": [{"planner": True, "episodes": 1}]},
            "seeds": [0], "evaluate": {"splits": ["new"], "episodes": 2}, "max_retries": 0}
    (user / "sweep.yaml").write_text(yaml.safe_dump(spec))
    env = {**PLUGIN, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    err = moonshot(["sweep", "sweep.yaml", "--out", "runs/sweep", "--num-cpus", "2",
                    "--no-progress"], user, env, returncode=1)
    assert "1 of 3 cells failed" in err
    assert "ValueError: the planner lost its map" in err
    assert "line_plugin.py" in err and "in predict" in err
    cells = user / "runs" / "sweep" / "cells"
    for cell in ("line-ppo-s0", "line-planner-s0"):
        result = json.loads((cells / cell / "result.json").read_text())
        assert result["transfer"] and result["transfer"][0]["env"] == line_world.ENV_ID
    assert json.loads((cells / "line-planner-s0" / "result.json").read_text())[
        "transfer"][0]["success_rate"] == 1.0


# --- --algo: any stable-baselines3 algorithm ------------------------------------------
@pytest.fixture
def line():
    world = line_world.register()
    yield world
    line_world.unregister()


def test_ddpg_trains_on_moonlaunch(tmp_path):
    out = tmp_path / "ddpg"
    assert main(["train", "moon", "--algo", "ddpg", "--timesteps", "16", "--out", str(out),
                 "--eval-episodes", "1", "--no-progress", "--hyperparams",
                 "learning_starts=8", "batch_size=8", "buffer_size=100"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["algo"] == "ddpg"
    assert main(["evaluate", str(out), "--episodes", "1", "--split", "train", "--out",
                 str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "transfer.json").read_text())["results"]
    assert res[0]["agent"].startswith("ddpg")


def test_an_algorithm_without_world_defaults_starts_from_its_own(line, tmp_path, capsys):
    out = tmp_path / "sac"
    assert main(["train", "line", "--algo", "sac", "--timesteps", "16", "--out", str(out),
                 "--eval-episodes", "1", "--no-progress"]) == 0
    assert "declares no sac hyperparameters" in capsys.readouterr().out
    assert len(read_episodes(out)) >= 1


@pytest.mark.parametrize("algo,needle", [("dqn", "cannot train in"), ("her", "invalid algo"),
                                         ("gpt", "ddpg")])
def test_an_algorithm_that_cannot_train_is_refused_before_anything_is_written(
        algo, needle, line, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["train", "line", "--algo", algo, "--timesteps", "16", "--out", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


@given(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,5})?", fullmatch=True),
                max_size=4), st.sampled_from([",", " , ", ",,", ", "]))
def test_moonshot_worlds_is_a_comma_separated_list(names, sep):
    import os

    from moonshot.worlds.plugins import ENV_VAR, env_modules

    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = sep + sep.join(names) + sep
    try:
        assert env_modules() == names
    finally:
        if before is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = before


def test_a_sweep_ships_the_users_own_world_modules_to_its_workers(tmp_path, monkeypatch):
    """What a node without the user's folder needs: the variable, and the user's module as a
    file (or package); installed packages and moonshot itself stay where they are."""
    pytest.importorskip("ray")
    from moonshot.evaluation.sweep.driver import _ray_ships_files, worker_runtime_env

    (tmp_path / "my_world.py").write_text("")
    (tmp_path / "my_lab").mkdir()
    (tmp_path / "my_lab" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MOONSHOT_WORLDS", "my_world,my_lab.drone")
    env = worker_runtime_env(["my_world", "my_lab.drone", "yaml", "moonshot.worlds.moon"])
    assert env["env_vars"] == {"MOONSHOT_WORLDS": "my_world,my_lab.drone"}
    files = [str(tmp_path / "my_world.py")] if _ray_ships_files() else []  # Ray >= 2.38
    assert env["py_modules"] == [*files, str(tmp_path / "my_lab")]
    monkeypatch.delenv("MOONSHOT_WORLDS")
    assert worker_runtime_env(["yaml"]) == {}
