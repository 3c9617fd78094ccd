"""Test configuration: a deterministic hypothesis profile in CI (CI=true), random examples
elsewhere (where they keep finding new cases)."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


# --- the README's RL Zoo commands, run once for the tests that check their results ---------
ROOT = Path(__file__).resolve().parents[1]
TOOLS_SECTION = "## Use it with the tools you already use"
#: The README's RL Zoo budgets, cut for a test: train, enjoy, record_video.
ZOO_SHORTER = {"1000000": "2048", "1000": "5", "40": "4"}


def readme_blocks(lang: str) -> list[str]:
    """The ``lang`` code blocks of the tools section (moved from the README into
    docs/integrations.md, which the README links)."""
    text = (ROOT / "docs" / "integrations.md").read_text()
    start = text.index(TOOLS_SECTION)
    end = text.find("\n## ", start + len(TOOLS_SECTION))
    end = len(text) if end < 0 else end
    return re.findall(rf"```{lang}\n(.*?)```", text[start:end], flags=re.S)


def run_as_user(args: list[str], cwd: Path, timeout: int = 300, env: dict | None = None,
                returncode: int = 0) -> str:
    """``python ARGS`` as a user runs it on a machine without a display; its output.

    :param env: variables to set (``PYTHONPATH`` goes after this checkout's moonshot).
    :param returncode: the exit status expected.
    """
    extra = dict(env or {})
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MOONSHOT_WORLDS")}
    path = os.pathsep.join(filter(None, [str(ROOT), extra.pop("PYTHONPATH", "")]))
    env.update(MPLBACKEND="Agg", PYTHONPATH=path, **extra)  # this checkout's moonshot
    res = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == returncode, (args, res.stdout[-3000:], res.stderr[-3000:])
    return res.stdout + res.stderr


@pytest.fixture(scope="session")
def zoo_readme_run(tmp_path_factory) -> Path:
    """The folder where the README's RL Zoo commands ran (``logs/``, ``runs/``,
    ``videos/``), budgets cut to seconds."""
    pytest.importorskip("rl_zoo3", reason="pip install 'moonshot[zoo]'")
    pytest.importorskip("moviepy", reason="pip install 'moonshot[video]'")
    [block] = readme_blocks("bash")
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line) for line in lines if line.strip()]
    assert [c[2] for c in commands] == ["rl_zoo3.train", "rl_zoo3.enjoy",
                                        "moonshot.agents.zoo.record_video"]
    folder = tmp_path_factory.mktemp("zoo-readme")
    for cmd in commands:
        assert cmd[0] == "python"
        n = cmd.index("-n")
        cmd[n + 1] = ZOO_SHORTER[cmd[n + 1]]
        run_as_user(cmd[1:], folder)
    return folder


def run_without(blocked: tuple[str, ...], code: str, view, obs, info: dict, extra=None,
                env: dict | None = None):
    """Run ``code`` in a fresh Python in which importing any module of ``blocked`` raises;
    the JSON it prints, parsed. ``code`` finds ``view`` (a body world's perception view,
    rebuilt from its fields), ``obs`` (float32), ``info``, ``extra`` (any JSON) and ``np``.
    What an agent plans there it planned without those modules."""
    fields = {"design": dict(view.design),
              "ground": {k: (v.tolist() if hasattr(v, "tolist") else v)
                         for k, v in view.ground.items()},
              "goal": list(view.goal), "control_dt": view.control_dt,
              "state": {k: v.tolist() for k, v in view.state.items()}}
    script = f"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {tuple(blocked)!r}:
            raise ImportError("imported the simulator: " + name)
sys.meta_path.insert(0, Block())
from types import SimpleNamespace
import numpy as np
obs, info, fields, extra = json.loads(sys.argv[1])
obs = np.array(obs, np.float32)
fields["state"] = {{k: np.array(v) for k, v in fields["state"].items()}}
view = SimpleNamespace(mode="honest", **fields)
""" + code
    arg = json.dumps([obs.tolist(), info, fields, extra])
    res = subprocess.run([sys.executable, "-c", script, arg], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, **(env or {})})
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)
