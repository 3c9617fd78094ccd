"""Writes that an interrupt cannot tear (issue 29): Ctrl-C at any line of the episode log's
flush, then the flush that `finally` runs, then a resume: every episode exactly once."""

import contextlib
import csv
import inspect
import sys

import numpy as np
import pytest

from moonshot import runlog
from moonshot.agents.config import TrainConfig
from moonshot.agents.training import train
from moonshot.runlog import EpisodeLog, read_episodes


def _add(log: EpisodeLog, n: int) -> None:
    for _ in range(n):
        steps = log.last_env_steps + 3
        log.add(env_steps=steps, wall_time_s=steps / 10, ret=0.5, length=3, success=False,
                death=True, split="train", map_id=7, outcome="crashed")


@contextlib.contextmanager
def interrupt_at_line(k: int, counter: list | None = None):
    """Raise KeyboardInterrupt at the ``k``-th line run in moonshot/runlog.py (as Ctrl-C
    would between two of its lines); ``counter`` (a one-item list) counts the lines."""
    seen = [0]

    def local(frame, event, arg):
        if event == "line":
            seen[0] += 1
            if seen[0] == k:
                raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename == runlog.__file__ else None

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(None)
        if counter is not None:
            counter[0] = seen[0]


def _episodes(path) -> list[int]:
    with open(path) as fh:
        return [int(r["episode"]) for r in csv.DictReader(fh)]


def test_a_flush_runs_enough_lines_to_probe(tmp_path):
    log = EpisodeLog(tmp_path / "e.csv", flush_every=10**6, flush_seconds=1e9)
    _add(log, 5)
    counted = [0]
    with interrupt_at_line(10**9, counted):
        log.flush()
    assert counted[0] >= 10  # the probe below interrupts at each of them


def test_an_interrupt_at_every_line_of_a_flush_loses_and_duplicates_nothing(tmp_path):
    counted = [0]
    probe = EpisodeLog(tmp_path / "probe.csv", flush_every=10**6, flush_seconds=1e9)
    _add(probe, 5)
    with interrupt_at_line(10**9, counted):
        probe.flush()
    for k in range(1, counted[0] + 1):
        path = tmp_path / f"k{k}.csv"
        log = EpisodeLog(path, flush_every=10**6, flush_seconds=1e9)
        _add(log, 4)
        log.flush()
        _add(log, 5)
        with pytest.raises(KeyboardInterrupt), interrupt_at_line(k):
            log.flush()
        log.close()  # what training's `finally` does after the interrupt
        assert _episodes(path) == list(range(1, 10)), k
        # ... and interrupted again in that second flush: the log reopens whole
        path2 = tmp_path / f"k{k}-twice.csv"
        log = EpisodeLog(path2, flush_every=10**6, flush_seconds=1e9)
        _add(log, 4)
        log.flush()
        _add(log, 5)
        for _ in range(2):
            with contextlib.suppress(KeyboardInterrupt), interrupt_at_line(k):
                log.flush()
        kept = EpisodeLog(path2).episodes
        assert _episodes(path2) == list(range(1, kept + 1)) and kept >= 4, k


def test_a_torn_last_line_is_cut_before_the_next_rows(tmp_path):
    path = tmp_path / "e.csv"
    log = EpisodeLog(path, flush_every=10**6, flush_seconds=1e9)
    _add(log, 3)
    log.flush()
    _add(log, 3)
    with open(path, "a") as fh:
        fh.write("4,1")  # a write of row 4 stopped half way
    log.close()
    assert _episodes(path) == [1, 2, 3, 4, 5, 6]
    read_episodes(path)  # every row whole


def _line_of(function, text: str) -> int:
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_ctrl_c_after_the_write_of_a_flush_still_resumes_exactly(tmp_path, monkeypatch):
    """The reported case: the interrupt lands after the rows are written, before the buffer
    is cleared, and `finally: log.close()` flushes again; the resume then continues as the
    same experiment as an uninterrupted run."""
    common = dict(env="moon", algo="ppo", seed=2, n_envs=8, eval_episodes=2, progress=False,
                  checkpoint_every=64, env_kwargs={"target": "soi"},
                  hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1})
    ref = tmp_path / "ref"
    train(TrainConfig(out=str(ref), timesteps=256, **common))
    run = tmp_path / "run"
    clear = _line_of(EpisodeLog.flush, "self._buffer.clear()")
    original = EpisodeLog.flush
    calls = [0]

    def flush(self):
        calls[0] += 1
        if calls[0] != 3:  # the third flush: the 128-step checkpoint's
            return original(self)

        def local(frame, event, arg):
            if event == "line" and frame.f_lineno == clear:
                raise KeyboardInterrupt
            return local

        sys.settrace(lambda frame, event, arg: local if frame.f_code is
                     original.__code__ else None)
        try:
            original(self)
        finally:
            sys.settrace(None)

    monkeypatch.setattr(EpisodeLog, "flush", flush)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(run), timesteps=256, **common))
    assert calls[0] >= 4  # the interrupted flush, then the one of `finally`
    monkeypatch.setattr(EpisodeLog, "flush", original)
    train(TrainConfig(out=str(run), timesteps=256, **common), resume=True)
    a, b = read_episodes(run), read_episodes(ref)
    for key in ("episode", "env_steps", "return", "success", "map_id"):
        np.testing.assert_array_equal(a[key], b[key])


def test_a_missing_or_cut_log_on_resume_names_the_file_and_the_fix(tmp_path, capsys):
    from moonshot.cli import main

    common = dict(env="moon", algo="ppo", seed=2, n_envs=8, eval_episodes=2, progress=False,
                  checkpoint_every=64, eval_every=64, env_kwargs={"target": "soi"},
                  hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1})
    run = tmp_path / "run"
    train(TrainConfig(out=str(run), timesteps=128, **common))
    for name in ("evaluations.csv", "episodes.csv"):
        saved = (run / name).read_bytes()
        (run / name).unlink()
        assert main(["train", "moon", "--out", str(run), "--resume", "--timesteps", "192",
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert str(run / name) in err and "restore the file" in err
        assert not (run / name).exists()  # nothing written for the refused resume
        (run / name).write_bytes(saved)
    with open(run / "evaluations.csv") as fh:
        lines = fh.readlines()
    (run / "evaluations.csv").write_text("".join(lines[:3]))  # cut to one evaluation
    assert main(["train", "moon", "--out", str(run), "--resume", "--timesteps", "192",
                 "--no-progress"]) == 2
    assert "holds 2 evaluation row(s)" in capsys.readouterr().err
    (run / "episodes.csv").write_bytes(b"\xff\xfe\x00garbage\n")
    (run / "evaluations.csv").write_text("".join(lines))
    assert main(["train", "moon", "--out", str(run), "--resume", "--timesteps", "192",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(run / "episodes.csv") in err and "not a text CSV file" in err
