"""A run folder is data, not code (issue 29): crafted model, checkpoint and statistics files
never run a command, on `moonshot evaluate` or on `--resume`; old pickles are converted only
by `moonshot migrate --trust`."""

import base64
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from moonshot.agents.config import TrainConfig
from moonshot.agents.resume import load_state
from moonshot.agents.training import train
from moonshot.runlog import read_episodes

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(env="moon", algo="ppo", seed=1, n_envs=8, eval_episodes=2, progress=False,
            checkpoint_every=64, env_kwargs={"target": "soi"},
            hyperparams={"n_steps": 8, "batch_size": 32, "n_epochs": 1, "normalize": True})


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def moonshot(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "moonshot", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "run"
    train(TrainConfig(out=str(out), timesteps=128, **TINY))
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run, dst)
    return dst


def _rewrite_data(model: Path, edit) -> None:
    """Rewrite the JSON ``data`` of an SB3 model zip with ``edit(data)``."""
    with zipfile.ZipFile(model) as z:
        members = {n: z.read(n) for n in z.namelist()}
    data = json.loads(members["data"])
    edit(data)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(model, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)


def _serialized(blob: bytes) -> dict:
    return {":type:": "<class 'x'>", ":serialized:": base64.b64encode(blob).decode()}


def test_the_payload_runs_when_unpickled(tmp_path):
    # what every test below guards against: unpickling the payload runs its command
    pickle.loads(_evil(tmp_path / "ran"))
    assert (tmp_path / "ran").exists()


def test_every_pickled_model_field_is_supplied_not_unpickled(trained, tmp_path):
    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    for model in [run / "model.zip", *sorted((run / "checkpoints").glob("model_*.zip"))]:
        # every field SB3 pickled now carries the payload
        _rewrite_data(model, lambda d: d.update({k: _serialized(_evil(marker)) for k, v in d.items()
                                                 if isinstance(v, dict) and ":serialized:" in v}))
    res = moonshot("evaluate", run, "--episodes", "2", "--split", "new", "--out",
                   tmp_path / "eval", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    train(TrainConfig(out=str(run), timesteps=192, **TINY), resume=True)
    assert not marker.exists()
    assert read_episodes(run)["env_steps"][-1] >= 192


def test_an_unknown_pickled_model_field_is_refused(trained, tmp_path):
    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    _rewrite_data(run / "model.zip", lambda d: d.update(evil=_serialized(_evil(marker))))
    res = moonshot("evaluate", run, "--episodes", "2", "--out", tmp_path / "eval", cwd=tmp_path)
    assert res.returncode == 2
    assert "'evil'" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "eval").exists()


def test_pickles_in_a_run_folder_are_refused_naming_migrate(trained, tmp_path):
    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    # an old-style folder, crafted: pickled statistics and trainer state
    (run / "vecnormalize.npz").unlink()
    (run / "vecnormalize.pkl").write_bytes(_evil(marker))
    res = moonshot("evaluate", run, "--episodes", "2", "--out", tmp_path / "eval", cwd=tmp_path)
    assert res.returncode == 2 and "moonshot migrate" in res.stderr, res.stderr
    ckpt = run / "checkpoints"
    for f in [*ckpt.glob("state_*.npz"), *ckpt.glob("vecnormalize_*.npz")]:
        f.with_suffix(".pkl").write_bytes(_evil(marker))
        f.unlink()
    meta = json.loads((ckpt / "latest.json").read_text())
    meta["state"] = meta["state"].replace(".npz", ".pkl")
    (ckpt / "latest.json").write_text(json.dumps(meta))
    res = moonshot("train", "moon", "--out", run, "--resume", "--no-progress", cwd=tmp_path)
    assert res.returncode == 2 and "moonshot migrate" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    # without --trust, migrate lists the files and loads nothing
    res = moonshot("migrate", run, cwd=tmp_path)
    assert res.returncode == 2 and "--trust" in res.stderr and "state_" in res.stdout
    assert not marker.exists()


def test_a_state_file_holding_a_pickled_array_is_not_loaded(trained, tmp_path):
    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    meta = json.loads((run / "checkpoints" / "latest.json").read_text())
    state = run / "checkpoints" / meta["state"]
    np.savez(state.with_suffix(""), __tree__=np.frombuffer(b'{"torch_rng": 1}', np.uint8),
             a0=np.array([Payload(marker)], dtype=object))
    with pytest.raises(ValueError, match=str(state)):
        load_state(state)
    # a resume passes over the damaged checkpoint for the one before it
    train(TrainConfig(out=str(run), timesteps=192, **TINY), resume=True)
    assert not marker.exists()
    log = read_episodes(run)
    np.testing.assert_array_equal(log["episode"], np.arange(1, len(log["episode"]) + 1))


def test_migrate_converts_an_old_folder_that_then_resumes(trained, tmp_path):
    from moonshot.agents.checkpoints import load_normalizer

    run = _copy(trained, tmp_path)
    ckpt = run / "checkpoints"
    # what an older moonshot wrote: pickles, named in latest.json
    for f in ckpt.glob("state_*.npz"):
        f.with_suffix(".pkl").write_bytes(pickle.dumps(load_state(f)))
        f.unlink()
    for f in [run / "vecnormalize.npz", *ckpt.glob("vecnormalize_*.npz")]:
        f.with_suffix(".pkl").write_bytes(pickle.dumps(load_normalizer(f)))
        f.unlink()
    meta = json.loads((ckpt / "latest.json").read_text())
    meta.update(state=meta["state"][:-4] + ".pkl", vecnormalize=meta["vecnormalize"][:-4] + ".pkl")
    (ckpt / "latest.json").write_text(json.dumps(meta))
    res = moonshot("migrate", run, "--trust", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stdout and (run / "vecnormalize.npz").exists()
    assert json.loads((ckpt / "latest.json").read_text())["state"].endswith(".npz")
    train(TrainConfig(out=str(run), timesteps=192, **TINY), resume=True)
    ref = tmp_path / "ref"
    shutil.copytree(trained, ref)
    train(TrainConfig(out=str(ref), timesteps=192, **TINY), resume=True)
    # the migrated folder resumes exactly as the folder it was made from
    a, b = read_episodes(run), read_episodes(ref)
    for key in ("episode", "env_steps", "return", "success", "map_id"):
        np.testing.assert_array_equal(a[key], b[key])


def test_migrate_repoints_latest_json_at_npz_files_already_there(trained, tmp_path):
    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    ckpt = run / "checkpoints"
    meta = json.loads((ckpt / "latest.json").read_text())
    (ckpt / meta["state"]).with_suffix(".pkl").write_bytes(_evil(marker))
    meta["state"] = meta["state"][:-4] + ".pkl"
    (ckpt / "latest.json").write_text(json.dumps(meta))
    res = moonshot("migrate", run, cwd=tmp_path)
    assert res.returncode == 0 and "now names the .npz" in res.stdout, res.stderr
    assert json.loads((ckpt / "latest.json").read_text())["state"].endswith(".npz")
    train(TrainConfig(out=str(run), timesteps=192, **TINY), resume=True)
    assert not marker.exists()


def test_an_off_policy_run_resumes_exactly_with_its_replay_buffer_as_npz(tmp_path,
                                                                          monkeypatch):
    from moonshot.agents import monitor as monitor_module

    common = dict(env="moon", algo="sac", seed=4, n_envs=4, eval_episodes=2, progress=False,
                  checkpoint_every=64, eval_every=64, env_kwargs={"target": "soi"},
                  hyperparams={"learning_starts": 16, "batch_size": 16, "gradient_steps": 1})
    ref = tmp_path / "ref"
    train(TrainConfig(out=str(ref), timesteps=160, **common))
    run = tmp_path / "run"
    original = monitor_module.TrainingMonitor._on_step

    def stop(self):
        if self.num_timesteps >= 100:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(monitor_module.TrainingMonitor, "_on_step", stop)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(run), timesteps=160, **common))
    monkeypatch.undo()
    meta = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert meta["replay_buffer"].endswith(".npz")
    train(TrainConfig(out=str(run), timesteps=160, **common), resume=True)
    a, b = read_episodes(run), read_episodes(ref)
    for key in ("episode", "env_steps", "return", "success", "map_id"):
        np.testing.assert_array_equal(a[key], b[key])


def test_a_recorded_world_module_is_imported_only_when_declared(tmp_path):
    """config.json's "modules" names the world's module so that a plug-in world's run can be
    loaded later; naming an undeclared module (here an evil.py beside the user) must not run
    it: the run is refused with the way to declare it, and nothing is imported."""
    marker = tmp_path / "pwned"
    (tmp_path / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(
        {"command": "plan", "env": "moonshot/MoonLaunch-v1", "modules": ["evil"]}))
    res = moonshot("evaluate", "runs/x", "--episodes", "1", "--out", "e", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "not a declared world plug-in" in res.stderr and "MOONSHOT_WORLDS=evil" in res.stderr
    assert not marker.exists() and not (tmp_path / "e").exists()
    assert "Traceback" not in res.stderr


def test_a_crafted_latest_json_cannot_delete_a_file_outside_the_run(tmp_path):
    """At each checkpoint a run deletes the replay buffer of the checkpoint it replaces, named
    by latest.json, which a folder's author controls: only moonshot's own bare names count
    (an off-policy run resumed from a latest.json that names the user's file)."""
    from moonshot.agents.checkpoints import is_checkpoint_name

    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    for name in (str(victim), "../victim.txt", "replay_buffer_1.npz/../../x", "model_1.zip"):
        assert not is_checkpoint_name("replay_buffer", name)
    assert is_checkpoint_name("replay_buffer", "replay_buffer_64.npz")
    common = dict(env="moon", algo="sac", seed=4, n_envs=4, eval_episodes=2, progress=False,
                  checkpoint_every=64, eval_every=64, env_kwargs={"target": "soi"},
                  hyperparams={"learning_starts": 16, "batch_size": 16, "gradient_steps": 1})
    run = tmp_path / "run"
    train(TrainConfig(out=str(run), timesteps=64, **common))
    latest = run / "checkpoints" / "latest.json"
    meta = json.loads(latest.read_text())
    latest.write_text(json.dumps({**meta, "replay_buffer": str(victim)}))
    train(TrainConfig(out=str(run), timesteps=192, **common), resume=True)
    assert victim.read_text() == "the user's file\n"
    assert json.loads(latest.read_text())["env_steps"] >= 128  # it did checkpoint again


def test_a_model_tensor_file_holding_objects_is_refused_in_one_line(trained, tmp_path):
    """policy.pth is a torch pickle: moonshot loads every .pth with torch's restricted
    unpickler itself first (whatever stable-baselines3's version does), so a payload in it
    never runs and the error is one sentence."""
    import io
    import zipfile

    import torch

    run = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"
    model = run / "model.zip"
    with zipfile.ZipFile(model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buf = io.BytesIO()
    torch.save({"weights": Payload(marker)}, buf)
    members["policy.pth"] = buf.getvalue()
    with zipfile.ZipFile(model, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    res = moonshot("evaluate", run, "--episodes", "1", "--out", tmp_path / "e", cwd=tmp_path)
    assert res.returncode != 0 and not marker.exists()
    assert "holds Python objects" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
