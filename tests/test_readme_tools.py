"""The README's "Use it with the tools you already use" snippets, run as written (issue 19):
the RL Zoo commands with their budgets cut to seconds (``zoo_readme_run`` in conftest), the
CleanRL-style loop as it is."""

import pytest
import yaml
from conftest import readme_blocks


def test_the_rl_zoo_snippet_runs(zoo_readme_run):
    run = zoo_readme_run / "logs" / "ppo" / "moonshot-MoonLaunch-v1_1"
    args = yaml.load((run / "moonshot-MoonLaunch-v1" / "args.yml").read_text(),
                     Loader=yaml.UnsafeLoader)
    assert dict(args)["env_kwargs"] == {"target": "soi"}
    assert (run / "moonshot-MoonLaunch-v1.zip").exists()
    assert list((zoo_readme_run / "runs" / "zoo-tb").rglob("events.out.tfevents.*"))
    assert len(list((zoo_readme_run / "videos").glob("*.mp4"))) == 1


def test_the_cleanrl_style_snippet_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("moviepy", reason="pip install 'moonshot[video]'")
    [block] = readme_blocks("python")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.count("return ") == 4  # each 20 s drive ends by its time limit (200 steps)
    assert "of random launches reach the SOI" in out
    assert list((tmp_path / "videos" / "city").glob("*.mp4"))


def test_the_cleanrl_style_snippet_runs_on_the_native_env(tmp_path, monkeypatch, capsys):
    [block] = readme_blocks("python")
    assert block.count("NATIVE = False") == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(block.replace("NATIVE = False", "NATIVE = True"), "README.md", "exec"),
         {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.count("return ") == 4  # each 20 s drive ends by its time limit (200 steps)
    assert "of random launches reach the SOI" in out
    assert not (tmp_path / "videos").exists()
