"""Validation before writing, for every command (issue 29): a refused run gets one sentence
(exit 2, no traceback) and leaves no folder; `--out` never means the current folder unnamed,
never a file, never another command's run; the demo deletes nothing."""

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moonshot.cli import main
from moonshot.evaluation.demo import claim_demo_folder
from moonshot.runlog import RunFolderBusy, RunLock
from moonshot.worlds import get_world

ROOT = Path(__file__).resolve().parents[1]
#: A flag value every command must refuse, per command: (argv without --out).
COMMANDS = {
    "train": ["train", "moon", "--timesteps", "64", "--no-progress"],
    "plan": ["plan", "moon", "--episodes", "1"],
    "evaluate": ["evaluate", "planner:moon", "--episodes", "1"],
    "shift": ["shift", "moon", "--agent", "planner", "--episodes", "1", "--no-progress"],
    "compare": ["compare", "nowhere"],
    "benchmark": ["benchmark", "--quick"],
    "demo": ["demo"],
    "render": ["render", "moon"],
    "sweep": ["sweep", "spec.yaml"],
}


@contextlib.contextmanager
def empty_cwd():
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def refused(argv, capsys, folder: Path, needle: str = "") -> str:
    """``moonshot ARGV`` exits 2 with one line naming ``needle``; ``folder`` stays empty."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("moonshot: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and needle in err, err
    assert sorted(p.name for p in folder.iterdir()) == [], argv
    return err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("out", ["", "  "])
def test_out_never_means_the_current_folder(command, out, capsys):
    with empty_cwd() as cwd:
        refused([*COMMANDS[command], "--out", out], capsys, cwd, "names no folder")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_out_naming_a_file_is_refused_with_a_sentence(command, capsys, tmp_path, monkeypatch):
    (tmp_path / "f").write_text("mine")
    folder = tmp_path / "empty"
    folder.mkdir()
    target = tmp_path / "f" if command != "render" else tmp_path
    monkeypatch.chdir(folder)
    err = refused([*COMMANDS[command], "--out", target], capsys, folder)
    assert str(target) in err and ("is a file" in err or "is a folder" in err)
    assert (tmp_path / "f").read_text() == "mine"


@pytest.mark.parametrize("command", ["evaluate", "compare", "shift", "sweep", "benchmark",
                                     "demo"])
def test_reports_never_go_into_a_run_folder(command, capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"train": {}}')
    before = sorted(p.name for p in run.iterdir())
    monkeypatch.chdir(tmp_path)
    assert main([*COMMANDS[command], "--out", str(run)]) == 2
    assert "holds a run" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == before


def test_the_demo_moves_a_previous_demo_aside_and_refuses_other_folders(tmp_path, capsys):
    out = tmp_path / "demo"
    (out / "runs" / "moon-ppo-s0").mkdir(parents=True)
    (out / "demo_config.json").write_text("{}")
    (out / "runs" / "moon-ppo-s0" / "episodes.csv").write_text("episode\n")
    lock = claim_demo_folder(out)
    lock.release()
    assert (tmp_path / "demo-1" / "runs" / "moon-ppo-s0" / "episodes.csv").exists()
    assert "kept, whole, in" in capsys.readouterr().out
    # a folder that is not a demo's is never touched
    mine = tmp_path / "mine"
    (mine / "runs").mkdir(parents=True)
    (mine / "runs" / "precious.txt").write_text("x")
    with pytest.raises(FileExistsError, match="holds no demo"):
        claim_demo_folder(mine)
    assert (mine / "runs" / "precious.txt").read_text() == "x"
    # a demo still running in the folder: refused, nothing moved
    (out / "demo_config.json").write_text("{}")
    with RunLock(out, "demo"), pytest.raises(RunFolderBusy):
        claim_demo_folder(out)
    assert (out / "demo_config.json").exists() and not (tmp_path / "demo-2").exists()


def test_the_demo_checks_its_seed_before_writing(capsys, tmp_path):
    refused(["demo", "--seed", "-1", "--out", tmp_path / "d"], capsys, tmp_path, "--seed")


def test_a_crashed_plan_leaves_no_folder_blocking_a_rerun(capsys, tmp_path):
    for value in ('["300","400"]', "[.inf,.inf]", "[400,300]", "[0,0]", "300"):
        refused(["plan", "city", "--episodes", "1", "--env-kwargs", f"route_length={value}",
                 "--out", tmp_path / "p"], capsys, tmp_path, "route_length")


def test_refusals_as_a_user_sees_them(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    for argv in (["demo", "--seed", "-1", "--out", "d"], ["train", "moon", "--out", ""],
                 ["evaluate", "planner:moon", "--out", ""]):
        res = subprocess.run([sys.executable, "-m", "moonshot", *argv], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
        lines = [ln for ln in res.stderr.splitlines() if not ln.startswith("pybullet build")]
        assert res.returncode == 2 and len(lines) == 1, res.stderr
        assert list(tmp_path.iterdir()) == []


# --- every env kwarg type: checked, or the env runs ---------------------------------------
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.lists(st.one_of(st.integers(-10**6, 10**6), st.floats(), st.text(max_size=4)),
             max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _keys(world: str) -> list[str]:
    env = gym.make(get_world(world).env_id)
    cfg = getattr(env.unwrapped, "config", None) or env.unwrapped.cfg
    env.close()
    return sorted(k for k in cfg if k not in ("render_mode",))


@pytest.mark.parametrize("world", ["moon", "city"])
def test_every_env_kwarg_value_is_refused_naming_its_key_or_runs(world):
    env_id = get_world(world).env_id

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(key=st.sampled_from(_keys(world)), value=VALUES)
    def check(key, value):
        try:
            env = gym.make(env_id, **{key: value})
        except (ValueError, TypeError) as exc:
            assert key in str(exc), (key, value, exc)
            return
        try:
            env.reset(seed=0)
            env.step(env.action_space.sample())
        finally:
            env.close()

    check()


@st.composite
def bad_argv(draw):
    """A command line with one value the command must refuse."""
    command = draw(st.sampled_from(["train", "plan", "evaluate", "shift", "demo"]))
    argv = list(COMMANDS[command])
    bad = draw(st.sampled_from(["seed", "count", "env_kwargs", "out"]))
    if bad == "seed":
        argv += ["--seed", str(draw(st.integers(-10**9, -1)))]
    elif bad == "count" and command != "demo":
        flag = {"train": "--timesteps", "plan": "--episodes", "evaluate": "--episodes",
                "shift": "--episodes"}[command]
        argv[argv.index(flag) + 1] = str(draw(st.integers(-10**9, 0)))
    elif bad == "env_kwargs" and command in ("train", "plan", "shift"):
        key = draw(st.sampled_from(["route_length", "execution_error", "max_flight_days",
                                    "no_such_key"]))
        value = draw(st.sampled_from(['["300","400"]', "[.inf,.inf]", ".nan", "-1", "abc",
                                      "{a: 1}", "[]"]))
        argv += ["--env-kwargs", f"{key}={value}"]
    else:
        return argv + ["--out", draw(st.sampled_from(["", " "]))]
    return argv + ["--out", "out"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=bad_argv())
def test_every_refused_command_line_leaves_nothing_behind(argv):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    err, out = io.StringIO(), io.StringIO()
    with empty_cwd() as cwd, redirect_stderr(err), redirect_stdout(out):
        code = main(argv)
        left = sorted(p.name for p in cwd.iterdir())
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    assert code == 2, (argv, err.getvalue(), out.getvalue()[-500:])
    assert len(lines) == 1 and "Traceback" not in err.getvalue(), (argv, err.getvalue())
    assert left == [], (argv, left)



def test_a_sweep_grid_over_the_limit_is_refused_before_it_is_expanded(tmp_path, capsys,
                                                                     monkeypatch):
    from moonshot.evaluation.sweep import expand
    from moonshot.evaluation.sweep import spec as spec_module

    spec = {"world": "moon", "agents": [{"planner": True}, {"planner": True, "label": "b"}],
            "env_grid": {"execution_error": list(range(100)),
                         "moon_eccentricity": [i / 1000 for i in range(150)]},
            "seeds": list(range(100))}
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(spec))

    def never(*args):
        raise AssertionError("the grid was expanded")

    monkeypatch.setattr(spec_module.itertools, "product", never)
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(["sweep", path, "--dry-run", "--out", empty / "out"], capsys, empty,
            "3,000,000 cells")
    monkeypatch.undo()
    # asked for on purpose, a grid over the default limit expands
    spec.update(env_grid={"execution_error": list(range(101))}, seeds=list(range(50)),
                max_cells=20_000)
    assert len(expand(spec)) == 2 * 101 * 50


def test_the_python_api_refuses_an_unnamed_folder_too(tmp_path, monkeypatch):
    from moonshot.agents.training import train
    from moonshot.evaluation.demo import run_demo

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="names no folder"):
        train(env="moon", timesteps=64, out="", progress=False)
    with pytest.raises(ValueError, match="names no folder"):
        run_demo("")
    assert list(tmp_path.iterdir()) == []


def test_runs_and_sweeps_never_write_among_other_files(tmp_path, capsys):
    """A plan or a sweep writes into a new or empty folder (or resumes its own): a folder
    holding a report or a user's file is refused, and the file is untouched."""
    for command in (["plan", "moon", "--episodes", "1"],
                    ["sweep", "moon-transfer", "--dry-run"]):
        folder = tmp_path / command[0]
        folder.mkdir()
        (folder / "notes.txt").write_text("mine\n")
        if command[0] == "sweep":
            spec = tmp_path / "s.yaml"
            spec.write_text(yaml.safe_dump({"world": "moon", "agents": [{"planner": True}],
                                            "seeds": [0], "evaluate": {"episodes": 1}}))
            command = ["sweep", str(spec)]
        assert main([*command, "--out", str(folder)]) == 2
        assert "not empty" in capsys.readouterr().err
        assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
