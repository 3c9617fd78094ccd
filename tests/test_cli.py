"""The command line end to end on tiny budgets."""

import json

import imageio.v2 as imageio
import numpy as np
import pytest
from conftest import run_as_user

from moonshot.cli import build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for cmd in ("demo", "train", "plan", "evaluate", "compare", "render", "benchmark"):
        assert cmd in text
    assert main([]) == 0


def test_unknown_env_is_a_clear_error(tmp_path, capsys):
    assert main(["plan", "mars", "--out", str(tmp_path / "x")]) == 2
    assert "moon" in capsys.readouterr().err


def test_module_entry_point_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "moonshot", "--help"], capture_output=True,
                         text=True, check=True)
    assert "moonshot" in out.stdout and "render" in out.stdout


@pytest.fixture(scope="module")
def moon_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["plan", "moon", "--episodes", "4", "--seed", "2", "--out",
                 str(root / "plan"), "--target", "soi"]) == 0
    assert main(["train", "moon", "--timesteps", "256", "--out", str(root / "ppo"),
                 "--n-envs", "16", "--eval-episodes", "4", "--no-progress", "--target", "soi",
                 "--hyperparams", "n_steps=8", "batch_size=64", "n_epochs=1"]) == 0
    return root


def test_evaluate_writes_tables_and_plots(moon_runs, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", str(moon_runs / "ppo"), str(moon_runs / "plan"), "planner:moon",
                 "--episodes", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| agent |" in printed and "gap" in printed
    data = json.loads((out / "transfer.json").read_text())
    splits = {(r["agent"], r["split"]) for r in data["results"]}
    # two planners (a plan run folder and planner:moon) are told apart
    assert ("planner (plan)", "new") in splits and ("planner (planner:moon)", "new") in splits
    assert len(splits) == 6
    assert all(0 <= r["success_low"] <= r["success_rate"] <= r["success_high"] <= 1
               for r in data["results"])
    assert (out / "transfer.png").stat().st_size > 1000
    assert (out / "transfer.md").read_text().startswith("| agent |")


def test_compare_writes_efficiency_and_curves(moon_runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(moon_runs / "ppo"), str(moon_runs / "plan"), "--out",
                 str(out)]) == 0
    rows = json.loads((out / "efficiency.json").read_text())["runs"]
    assert {r["agent"] for r in rows} == {"ppo", "planner"}
    planner = next(r for r in rows if r["agent"] == "planner")
    assert planner["episodes_to_first_success"] == 1
    assert (out / "learning_curves.png").stat().st_size > 1000
    assert (out / "training.png").stat().st_size > 1000  # the PPO run has evaluations.csv
    assert "training.png" in capsys.readouterr().out
    page = (out / "report.html").read_text()  # the table and every plot on one page
    assert 'src="learning_curves.png"' in page and 'src="training.png"' in page
    assert "| planner |" in (out / "report.md").read_text()
    assert main(["compare", str(moon_runs / "plan"), "--out", str(out)]) == 0
    assert not (out / "training.png").exists()  # planner runs have no training curve
    assert main(["compare", str(tmp_path / "nope"), "--out", str(out)]) == 2


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_render_moon_planner_writes_a_readable_video(tmp_path, suffix):
    out = tmp_path / f"moon{suffix}"
    assert main(["render", "moon", "--agent", "planner", "--out", str(out), "--seed", "3"]) == 0
    frames = (imageio.mimread(out) if suffix == ".gif"
              else [f for f in imageio.get_reader(str(out), format="FFMPEG")])
    assert len(frames) >= 10
    first, last = np.asarray(frames[0]), np.asarray(frames[-1])
    assert first.shape[:2] == last.shape[:2] and first.shape[0] >= 400
    assert np.abs(first.astype(int) - last.astype(int)).sum() > 0


def test_render_rejects_unknown_format(tmp_path):
    assert main(["render", "moon", "--out", str(tmp_path / "x.avi")]) == 2


def test_parser_documents_train_options():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for opt in ("--n-envs", "--env-kwargs", "--hyperparams", "--tensorboard", "--eval-every",
                "--checkpoint-every", "--resume", "--device"):
        assert opt in text


def test_benchmark_quick_smoke(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["benchmark", "--quick", "--out", str(out)]) == 0
    res = json.loads((out / "benchmark.json").read_text())
    assert res["moon_vec256_launches_per_s"] > 0 and res["city_steps_per_s"] > 0
    assert res["moon_planner_plan_ms_median"] > 0
    assert "| figure |" in (out / "benchmark.md").read_text()


def test_render_city_planner_gif(tmp_path):
    out = tmp_path / "city.gif"
    assert main(["render", "city", "--agent", "planner", "--split", "new", "--out", str(out),
                 "--seed", "2"]) == 0
    frames = imageio.mimread(out)
    assert len(frames) > 10 and np.asarray(frames[0]).shape[2] == 3
    assert np.abs(np.asarray(frames[0], int) - np.asarray(frames[len(frames) // 2], int)).sum()


def test_flags_are_never_abbreviated_and_typos_get_a_suggestion(tmp_path):
    """``--timestep`` is not ``--timesteps`` (argparse's abbreviations are off), and an unknown
    flag names the closest one; nothing is written for a refused run."""
    for flag in ("--timestep", "--timestpes"):
        out = run_as_user(["-m", "moonshot", "train", "moon", flag, "10", "--out",
                           str(tmp_path / "r")], tmp_path, returncode=2)
        assert f"unrecognized arguments: {flag} 10 (did you mean '--timesteps'?)" in out
    assert not (tmp_path / "r").exists()


def test_pretrained_agents_by_name_from_any_folder(tmp_path):
    out = run_as_user(["-m", "moonshot", "pretrained"], tmp_path)
    assert "pretrained:moon-ppo" in out and "pretrained:city-ppo" in out
    assert "--out" not in out
    from moonshot.agents.loading import resolve_agent

    spec = resolve_agent("pretrained:moon-ppo")
    assert spec.env_id == "moonshot/MoonLaunch-v1" and "pretrained" in spec.label
    with pytest.raises(ValueError, match="did you mean 'moon-ppo'"):
        resolve_agent("pretrained:moon-pp")
    with pytest.raises(FileNotFoundError, match="did you mean 'planner'"):
        resolve_agent("planer")


def test_shipped_sweep_specs_by_name(tmp_path):
    out = run_as_user(["-m", "moonshot", "sweep", "moon-transfer.yaml", "--out",
                       str(tmp_path / "s"), "--dry-run"], tmp_path)
    assert "cells" in out
    out = run_as_user(["-m", "moonshot", "sweep", "moon-transfr", "--out",
                       str(tmp_path / "s"), "--dry-run"], tmp_path, returncode=2)
    assert "did you mean 'moon-transfer'" in out and "full" in out


def test_world_axis_and_key_typos_get_a_suggestion():
    from moonshot.errors import check_keys
    from moonshot.worlds import get_world

    with pytest.raises(ValueError, match="did you mean 'moon'"):
        get_world("mon")
    with pytest.raises(ValueError, match="did you mean 'altitude'"):
        get_world("moon").axis("altitud")
    with pytest.raises(ValueError, match="did you mean 'time_limit'"):
        check_keys(["time_limt"], ["time_limit", "traffic_cars"])


def test_a_sweep_cell_folder_loads_as_its_run(tmp_path):
    import shutil

    from moonshot.agents.loading import resolve_agent
    from moonshot.agents.pretrained import pretrained_agents

    cell = tmp_path / "cells" / "moon-ppo-s0"
    shutil.copytree(pretrained_agents()["moon-ppo"].path, cell / "run")
    (cell / "cell.json").write_text("{}")
    spec = resolve_agent(str(cell))
    assert spec.env_id == "moonshot/MoonLaunch-v1" and spec.label == "ppo (moon-ppo-s0)"


def test_no_third_party_banner(tmp_path):
    out = run_as_user(["-c", "import moonshot.physics.bullet, pybullet as pb; "
                       "pb.connect(pb.DIRECT); print('done')"], tmp_path)
    assert out.strip() == "done"
