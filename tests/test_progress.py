"""Progress output that suits where it goes (issue 19, defect 7): a bar on a terminal, plain
lines in a file or a CI log - never carriage-return frames."""

import io
import os
import subprocess
import sys
from pathlib import Path

from moonshot.progress import LineProgress, progress

ROOT = Path(__file__).resolve().parents[1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_every_tenth_when_the_output_is_not_a_terminal():
    out = io.StringIO()
    bar = progress(1000, "ppo moon", unit="steps", stream=out)
    assert isinstance(bar, LineProgress)
    for _ in range(100):
        bar.set_postfix(success="40%")
        bar.update(10)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10  # 10%, ..., 90%, and the end
    assert lines[0].startswith("ppo moon:  10% (100/1,000 steps) success=40%")
    assert lines[-1].startswith("ppo moon: 100% (1,000/1,000 steps)")


def test_a_bar_on_a_terminal_and_nothing_when_disabled():
    term = _Terminal()
    bar = progress(100, "scenarios", stream=term)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert "\r" in term.getvalue() and "100/100" in term.getvalue()
    quiet = io.StringIO()
    off = progress(100, "x", stream=quiet, enabled=False)
    off.set(50)
    off.close()
    assert quiet.getvalue() == "" and off.n == 50


def test_a_run_past_its_budget_reads_100_percent():
    out = io.StringIO()
    bar = LineProgress(512, "ppo moon", unit="steps", stream=out)
    bar.set(2048)
    bar.close()
    assert out.getvalue().startswith("ppo moon: 100% (2,048/2,048 steps)")


def test_commands_logged_to_a_file_print_lines_not_frames(tmp_path):
    """``moonshot train`` and ``moonshot plan`` with their output in a file (as in CI)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    log = tmp_path / "log.txt"
    for args in (["train", "moon", "--timesteps", "4096", "--n-envs", "64", "--eval-episodes",
                  "2", "--hyperparams", "n_steps=8", "batch_size=256", "n_epochs=1",
                  "--out", str(tmp_path / "train")],
                 ["plan", "moon", "--episodes", "20", "--out", str(tmp_path / "plan")]):
        with open(log, "a") as fh:
            subprocess.run([sys.executable, "-m", "moonshot", *args], cwd=ROOT, env=env,
                           stdout=fh, stderr=subprocess.STDOUT, check=True, timeout=300)
    raw = log.read_bytes()  # bytes: reading text would turn carriage returns into newlines
    assert b"\r" not in raw
    text = raw.decode()
    assert "ppo moon: 100% (4,096/4,096 steps)" in text
    assert "moon planner (train): 100% (20/20 scenarios)" in text
