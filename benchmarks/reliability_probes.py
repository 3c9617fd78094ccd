"""Reliability probes: what a careful (and a hostile) user gets from moonshot's run folders.

Runs every case through the real command line (`python -m moonshot`, one process per call)
and prints a Markdown table: the case, what moonshot does now, and whether that is what it
should do (exit code, message naming the culprit, nothing written or lost). The kills are
real SIGKILLs at chosen phases (fault injection: ``MOONSHOT_FAULT=phase@step``); after each,
``--resume`` must give the very same episodes and evaluations as an uninterrupted run.

    python benchmarks/reliability_probes.py [--out runs/probes] [--no-disk] [--fast]

``docs/reliability.md`` is this script's output. The full-disk probe mounts a 3 MB tmpfs
(needs root; skipped otherwise). ``--fast`` runs only the probes that need no training
(refused values and folders, bounded input), calling the command line in this process; the
test suite runs that part (``tests/test_reliability_probes.py``). Each run writes into a new
folder under ``--out`` (nothing there is deleted).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TRAIN = ["--algo", "ppo", "--timesteps", "1024", "--n-envs", "8", "--eval-episodes", "4",
         "--eval-every", "256", "--checkpoint-every", "256", "--target", "soi", "--seed",
         "3", "--no-progress", "--hyperparams", "n_steps=16", "batch_size=32", "n_epochs=2"]
ROWS: list[tuple[str, str, str, bool]] = []


#: Run the command line in this process (the fast probes) instead of one process per call.
IN_PROCESS = [False]


def moonshot(*args, env=None, timeout=600, cwd=None) -> subprocess.CompletedProcess:
    if IN_PROCESS[0] and env is None:
        return _in_process([str(a) for a in args], cwd)
    return subprocess.run([sys.executable, "-m", "moonshot", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def _in_process(argv: list[str], cwd) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import traceback

    from moonshot.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception:  # what a user would see as a traceback
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def record(category: str, case: str, got: str, ok: bool) -> None:
    ROWS.append((category, case, got, ok))
    print(f"[{'ok' if ok else 'FAIL'}] {category}: {case} -> {got}", flush=True)


def _message(res: subprocess.CompletedProcess) -> str:
    text = (res.stderr or res.stdout).strip().splitlines()
    line = next((t for t in text if t.startswith("moonshot:")), text[-1] if text else "")
    return line.replace("|", "\\|")[:160]


def bad_value(root: Path, case: str, argv: list, needle: str) -> None:
    out = root / (f"bad-{len(ROWS)}" + (".gif" if argv[0] == "render" else ""))
    res = moonshot(*argv, "--out", out)
    msg = _message(res)
    tb = "Traceback" in res.stderr
    ok = res.returncode == 2 and needle in res.stderr and not tb and not out.exists()
    record("bad value", case, f"exit {res.returncode}: {msg}" + (" (TRACEBACK)" if tb else "")
           + (" (folder left)" if out.exists() else ""), ok)


def _one_line(res: subprocess.CompletedProcess) -> bool:
    lines = [ln for ln in res.stderr.splitlines()
             if ln.strip() and not ln.startswith("pybullet build")]
    return len(lines) == 1 and "Traceback" not in res.stderr


def outs(root: Path) -> None:
    """--out that names no folder, a file, or another command's run."""
    for command, argv in (("train", ["train", "moon"]), ("evaluate", ["evaluate", "planner:moon"]),
                          ("benchmark", ["benchmark", "--quick"]), ("demo", ["demo"]),
                          ("plan", ["plan", "moon"])):
        cwd = root / f"cwd-{command}"
        cwd.mkdir()
        res = moonshot(*argv, "--out", "", cwd=cwd)
        ok = res.returncode == 2 and _one_line(res) and not any(cwd.iterdir())
        record("--out", f"{command} --out ''", f"exit {res.returncode}: {_message(res)}", ok)
    afile = root / "a-file"
    afile.write_text("mine")
    for command, argv in (("train", ["train", "moon"]), ("evaluate", ["evaluate", "planner:moon"]),
                          ("demo", ["demo"]), ("sweep", ["sweep", "spec.yaml"])):
        res = moonshot(*argv, "--out", afile)
        ok = res.returncode == 2 and _one_line(res) and afile.read_text() == "mine"
        record("--out", f"{command} --out an existing file", f"exit {res.returncode}: "
               f"{_message(res)}", ok)
    run = root / "someones-run"
    run.mkdir()
    (run / "config.json").write_text('{"train": {}}')
    for command, argv in (("evaluate", ["evaluate", "planner:moon", "--episodes", "1"]),
                          ("sweep", ["sweep", "spec.yaml"]), ("compare", ["compare", run])):
        res = moonshot(*argv, "--out", run)
        ok = res.returncode == 2 and _one_line(res) and [p.name for p in run.iterdir()] == [
            "config.json"]
        record("--out", f"{command} --out a training run's folder",
               f"exit {res.returncode}: {_message(res)}", ok)


def demo_folders(root: Path) -> None:
    """The demo's folder: checked first, never deleted."""
    out = root / "demo-seed"
    res = moonshot("demo", "--seed", "-1", "--out", out)
    record("demo", "demo --seed -1 --out d", f"exit {res.returncode}: {_message(res)}",
           res.returncode == 2 and _one_line(res) and not out.exists())
    mine = root / "users-folder"
    (mine / "runs").mkdir(parents=True)
    (mine / "runs" / "precious.txt").write_text("x")
    res = moonshot("demo", "--out", mine)
    record("demo", "demo --out a non-empty folder that holds no demo",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2 and _one_line(res)
           and (mine / "runs" / "precious.txt").read_text() == "x")
    # a rerun into a previous demo's folder (the folder step of `moonshot demo`)
    from moonshot.evaluation.demo import claim_demo_folder
    from moonshot.runlog import RunFolderBusy, RunLock

    prev = root / "demo"
    (prev / "runs" / "moon-ppo-s0").mkdir(parents=True)
    (prev / "demo_config.json").write_text("{}")
    (prev / "runs" / "moon-ppo-s0" / "episodes.csv").write_text("episode\n")
    with RunLock(prev, "demo"):  # a demo still training there
        try:
            claim_demo_folder(prev)
            busy = "claimed"
        except RunFolderBusy:
            busy = "refused"
    claim_demo_folder(prev).release()
    kept = (root / "demo-1" / "runs" / "moon-ppo-s0" / "episodes.csv").exists()
    record("demo", "demo into a previous demo's folder (one still running there; then not)",
           f"while running: {busy}; after: the previous demo kept whole in demo-1: {kept}",
           busy == "refused" and kept)


def bounded(root: Path) -> None:
    """Refused runs that used to crash, and work bounded by the input."""
    for value in ('["300","400"]', "[.inf,.inf]", "[inf,inf]"):
        out = root / f"plan-{len(ROWS)}"
        res = moonshot("plan", "city", "--episodes", "1", "--env-kwargs", f"route_length={value}",
                       "--out", out)
        record("refused run", f"plan city --env-kwargs route_length={value}",
               f"exit {res.returncode}: {_message(res)}",
               res.returncode == 2 and _one_line(res) and not out.exists())
    import yaml

    spec = root / "huge.yaml"
    spec.write_text(yaml.safe_dump({
        "world": "moon", "agents": [{"planner": True}], "seeds": list(range(100)),
        "env_grid": {"execution_error": list(range(100)),
                     "moon_eccentricity": [i / 1000 for i in range(300)]}}))
    t0 = time.perf_counter()
    res = moonshot("sweep", spec, "--dry-run", "--out", root / "huge")
    took = time.perf_counter() - t0
    record("bounded input", "sweep --dry-run of a 3,000,000-cell grid",
           f"exit {res.returncode} after {took:.1f} s: {_message(res)}",
           res.returncode == 2 and "3,000,000" in res.stderr and took < 60)


def _payload(marker: Path) -> bytes:
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Payload())


def _poison_model(model: Path, marker: Path, extra: bool) -> None:
    import base64
    import json
    import zipfile

    with zipfile.ZipFile(model) as z:
        members = {n: z.read(n) for n in z.namelist()}
    data = json.loads(members["data"])
    blob = {":serialized:": base64.b64encode(_payload(marker)).decode()}
    for key, val in list(data.items()):
        if isinstance(val, dict) and ":serialized:" in val:
            data[key] = blob
    if extra:
        data["evil"] = blob
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(model, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)


def crafted(root: Path) -> None:
    """Run folders crafted to run a command when unpickled."""
    import json

    ref = root / "reference"
    marker = root / "pwned"

    def copy(name: str) -> Path:
        dst = root / name
        shutil.copytree(ref, dst)
        return dst

    run = copy("crafted-fields")
    for model in [run / "model.zip", *(run / "checkpoints").glob("model_*.zip")]:
        _poison_model(model, marker, extra=False)
    res = moonshot("evaluate", run, "--episodes", "2", "--out", root / "crafted-eval")
    res2 = moonshot("train", "moon", "--out", run, "--resume", "--timesteps", "1100",
                    "--no-progress")
    record("crafted folder", "every pickled field of model.zip runs a command; evaluate, "
           "then --resume", f"evaluate exit {res.returncode}, resume exit {res2.returncode}; "
           f"command ran: {marker.exists()}",
           res.returncode == 0 and res2.returncode == 0 and not marker.exists())
    run = copy("crafted-extra")
    _poison_model(run / "model.zip", marker, extra=True)
    res = moonshot("evaluate", run, "--episodes", "2", "--out", root / "crafted-eval2")
    record("crafted folder", "model.zip with a pickled field moonshot does not know",
           f"exit {res.returncode}: {_message(res)}; command ran: {marker.exists()}",
           res.returncode == 2 and _one_line(res) and not marker.exists())
    run = copy("crafted-stats")
    (run / "vecnormalize.pkl").write_bytes(_payload(marker))
    res = moonshot("evaluate", run, "--episodes", "2", "--out", root / "crafted-eval3")
    record("crafted folder", "vecnormalize.pkl that runs a command, evaluate",
           f"exit {res.returncode}: {_message(res)}; command ran: {marker.exists()}",
           res.returncode == 2 and "migrate" in res.stderr and not marker.exists())
    run = copy("crafted-state")
    meta = json.loads((run / "checkpoints" / "latest.json").read_text())
    (run / "checkpoints" / "state_1024.pkl").write_bytes(_payload(marker))
    (run / "checkpoints" / "state_1024.npz").unlink()  # as an older moonshot left it
    meta["state"] = "state_1024.pkl"
    (run / "checkpoints" / "latest.json").write_text(json.dumps(meta))
    res = moonshot("train", "moon", "--out", run, "--resume", "--timesteps", "1100",
                   "--no-progress")
    record("crafted folder", "checkpoints/state_N.pkl that runs a command, --resume",
           f"exit {res.returncode}: {_message(res)}; command ran: {marker.exists()}",
           res.returncode == 2 and "migrate" in res.stderr and not marker.exists())
    res = moonshot("migrate", run)
    record("crafted folder", "moonshot migrate without --trust",
           f"exit {res.returncode}: {_message(res)}; command ran: {marker.exists()}",
           res.returncode == 2 and not marker.exists())
    import numpy as np

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run = copy("crafted-npz")
    meta = json.loads((run / "checkpoints" / "latest.json").read_text())
    np.savez(run / "checkpoints" / meta["state"], __tree__=np.frombuffer(b"{}", np.uint8),
             a0=np.array([Payload()], dtype=object))
    res = moonshot("train", "moon", "--out", run, "--resume", "--timesteps", "1100",
                   "--no-progress")
    record("crafted folder", "state_N.npz holding a pickled object array, --resume",
           f"exit {res.returncode} (falls back to the checkpoint before); command ran: "
           f"{marker.exists()}", res.returncode == 0 and not marker.exists())


def interrupts(root: Path) -> None:
    """Ctrl-C (a real SIGINT) right after a flush of the episode log wrote its rows."""
    ref = root / "reference"
    for k in (1, 2, 3, 4):
        out = root / f"sigint-flush-{k}"
        res = moonshot("train", "moon", *TRAIN, "--out", out,
                       env={"MOONSHOT_FAULT": f"sigint-flush@{k}"})
        res2 = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
        ok = res.returncode in (0, 130) and res2.returncode == 0 and same(ref, out)
        record("interrupt", f"Ctrl-C in the episode log's flush #{k}, then --resume",
               f"exit {res.returncode}; resume exit {res2.returncode}; "
               f"{'identical' if same(ref, out) else 'DIFFERENT'} results", ok)


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in csv.DictReader(fh)]


def same(a: Path, b: Path) -> bool:
    return (_rows(a / "episodes.csv") == _rows(b / "episodes.csv")
            and _rows(a / "evaluations.csv") == _rows(b / "evaluations.csv"))


def kills(root: Path) -> None:
    ref = root / "reference"
    assert moonshot("train", "moon", *TRAIN, "--out", ref).returncode == 0
    for phase, at, what in (("rollout", 100, "kill -9 before the first checkpoint"),
                            ("rollout", 600, "kill -9 mid-rollout after checkpoints"),
                            ("evaluation", 512, "kill -9 between the two splits of an "
                                                "evaluation"),
                            ("checkpoint", 768, "kill -9 after the checkpoint files, before "
                                                "latest.json")):
        out = root / f"kill-{phase}-{at}"
        res = moonshot("train", "moon", *TRAIN, "--out", out,
                       env={"MOONSHOT_FAULT": f"{phase}@{at}"})
        killed = res.returncode == -signal.SIGKILL
        res2 = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
        ok = killed and res2.returncode == 0 and same(ref, out)
        record("kill", what, f"killed: {killed}; --resume exit {res2.returncode}; episodes and "
               f"evaluations {'identical to' if same(ref, out) else 'DIFFER from'} an "
               "uninterrupted run", ok)
    # Ctrl-C
    out = root / "sigint"
    proc = subprocess.Popen([sys.executable, "-m", "moonshot", "train", "moon", *TRAIN, "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    while not (out / "checkpoints" / "latest.json").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    res2 = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    ok = proc.returncode == 130 and res2.returncode == 0 and same(ref, out)
    record("kill", "Ctrl-C after the first checkpoint, then the printed `--resume` command",
           f"exit {proc.returncode}; resume exit {res2.returncode}; "
           f"{'identical' if same(ref, out) else 'DIFFERENT'} results, budget kept", ok)
    # a finished run
    before = (ref / "episodes.csv").read_text()
    res = moonshot("train", "moon", "--out", ref, "--resume")
    record("kill", "--resume on a finished run", f"exit {res.returncode}: {_message(res)}",
           res.returncode == 0 and (ref / "episodes.csv").read_text() == before)


def corrupt(root: Path) -> None:
    ref = root / "reference"
    def fresh(name: str) -> Path:
        out = root / name
        res = moonshot("train", "moon", *TRAIN, "--out", out,
                       env={"MOONSHOT_FAULT": "rollout@700"})
        assert res.returncode == -signal.SIGKILL
        return out

    out = fresh("no-latest")
    (out / "checkpoints" / "latest.json").unlink()
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "checkpoints/latest.json deleted, then --resume",
           f"exit {res.returncode}: resumes from the newest complete checkpoint; "
           f"{'identical' if same(ref, out) else 'DIFFERENT'} results",
           res.returncode == 0 and same(ref, out))
    out = fresh("bad-latest")
    (out / "checkpoints" / "latest.json").write_text("{not json")
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "latest.json garbage, then --resume",
           f"exit {res.returncode}; {'identical' if same(ref, out) else 'DIFFERENT'} results",
           res.returncode == 0 and same(ref, out))
    def falls_back(name: str, key: str, damage, case: str) -> None:
        out = fresh(name)
        meta = (out / "checkpoints" / "latest.json").read_text()
        path = out / "checkpoints" / meta.split(f'"{key}": "')[1].split('"')[0]
        path.write_bytes(damage(path.read_bytes()))
        res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
        record("corrupt file", case, f"exit {res.returncode}: falls back to the checkpoint "
               f"before; {'identical' if same(ref, out) else 'DIFFERENT'} results",
               res.returncode == 0 and same(ref, out))

    falls_back("bad-state", "state", lambda raw: b"garbage",
               "newest trainer state garbage, then --resume")
    out = fresh("no-log")
    (out / "episodes.csv").unlink()
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "episodes.csv deleted, then --resume",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2
           and "episodes" in res.stderr)
    out = fresh("bad-log")
    text = (out / "episodes.csv").read_text().splitlines()
    text[5] = text[5].replace(",", ",x", 1)
    (out / "episodes.csv").write_text("\n".join(text) + "\n")
    t0 = time.perf_counter()
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "a non-numeric field in episodes.csv, then --resume",
           f"exit {res.returncode} after {time.perf_counter() - t0:.1f} s: {_message(res)}",
           res.returncode == 2 and "line 6" in res.stderr)
    (ref / "model.zip").rename(ref / "model.zip.bak")
    (ref / "model.zip").write_bytes(b"PK\x03\x04 truncated")
    res = moonshot("evaluate", ref, "--episodes", "2", "--out", root / "ev")
    record("corrupt file", "truncated model.zip, then evaluate",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2
           and "model.zip" in res.stderr)
    (ref / "model.zip.bak").replace(ref / "model.zip")
    falls_back("short-model", "model", lambda raw: raw[: len(raw) // 2],
               "newest model checkpoint truncated, then --resume")
    out = fresh("no-evals")
    (out / "evaluations.csv").unlink()
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "evaluations.csv deleted, then --resume",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2
           and "evaluations.csv" in res.stderr and _one_line(res))
    out = fresh("random-log")
    (out / "episodes.csv").write_bytes(os.urandom(4096))
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "random bytes in episodes.csv, then --resume",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2
           and "episodes.csv" in res.stderr and _one_line(res))


def concurrent(root: Path) -> None:
    out = root / "twice"
    args = [sys.executable, "-m", "moonshot", "train", "moon", *TRAIN, "--out", str(out)]
    a = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (_, ea), (_, eb) = a.communicate(), b.communicate()
    codes = sorted([a.returncode, b.returncode])
    rows = _rows(out / "episodes.csv")
    ok = codes == [0, 2] and [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    record("concurrent writers", "two `train` on one folder at once",
           f"exit codes {codes}; the loser: {(ea + eb).strip().splitlines()[-1][:120]}; "
           f"episodes.csv consistent: {ok}", ok)
    out = root / "busy"
    p = subprocess.Popen([sys.executable, "-m", "moonshot", "train", "moon", *TRAIN,
                          "--timesteps", "200000", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (out / "config.json").exists() and p.poll() is None:
        time.sleep(0.05)
    res = moonshot("train", "moon", "--out", out, "--resume")
    p.kill()
    p.wait()
    record("concurrent writers", "`--resume` on a folder still training",
           f"exit {res.returncode}: {_message(res)}", res.returncode == 2
           and "in use by pid" in res.stderr)
    res = moonshot("train", "moon", *TRAIN, "--out", out, "--resume", "--timesteps", "1024")
    record("concurrent writers", "the same after the holder was killed -9",
           f"exit {res.returncode}: the stale lock is taken over", res.returncode == 0)


def full_disk(root: Path) -> None:
    mnt = root / "tiny"
    mnt.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        record("full disk", "train on a 3 MB file system", "skipped (cannot mount)", True)
        return
    try:
        out = mnt / "run"
        args = ["--algo", "ppo", "--timesteps", "60000", "--n-envs", "64", "--eval-episodes",
                "4", "--target", "soi", "--no-progress", "--checkpoint-every", "8192"]
        res = moonshot("train", "moon", *args, "--out", out)
        first = (res.returncode, _message(res))
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        res2 = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
        rows = _rows(out / "episodes.csv")
        ok = first[0] == 2 and "space" in first[1].lower() and res2.returncode == 0 and \
            [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1)) and \
            int(rows[-1]["env_steps"]) >= 60000
        record("full disk", "train until the disk is full, free space, `--resume`",
               f"exit {first[0]}: {first[1][:90]}; after: resume exit {res2.returncode}, "
               f"{len(rows):,} episodes, none lost or repeated", ok)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


BAD = [
    ("train --timesteps 0", ["train", "moon", "--timesteps", "0"], "--timesteps"),
    ("train --timesteps 10**23", ["train", "moon", "--timesteps", str(10**23)], "--timesteps"),
    ("train --seed -1", ["train", "moon", "--seed", "-1"], "--seed"),
    ("train --n-envs 0", ["train", "moon", "--n-envs", "0"], "--n-envs"),
    ("train --eval-every -1", ["train", "moon", "--eval-every", "-1"], "--eval-every"),
    ("train --checkpoint-every -1", ["train", "moon", "--checkpoint-every", "-1"],
     "--checkpoint-every"),
    ("train --eval-episodes -1", ["train", "moon", "--eval-episodes", "-1"],
     "--eval-episodes"),
    ("train --device bogus", ["train", "moon", "--device", "bogus"], "--device"),
    ("train --algo dqn", ["train", "moon", "--algo", "dqn"], "ppo"),
    ("train mars", ["train", "mars"], "known worlds"),
    ("--hyperparams learning_rate=abc", ["train", "moon", "--hyperparams",
                                         "learning_rate=abc"], "learning_rate"),
    ("--hyperparams n_steps=0", ["train", "moon", "--hyperparams", "n_steps=0"], "n_steps"),
    ("--hyperparams gamma=5", ["train", "moon", "--hyperparams", "gamma=5"], "gamma"),
    ("--hyperparams policy_kwargs={net_arch: abc}",
     ["train", "moon", "--hyperparams", "policy_kwargs={net_arch: abc}"], "net_arch"),
    ("--hyperparams learning_rat=1e-3 (typo)", ["train", "moon", "--hyperparams",
                                                "learning_rat=1e-3"], "learning_rate"),
    ("--hyperparams ent_coef=lin_0.01", ["train", "moon", "--hyperparams", "ent_coef=lin_0.01"],
     "learning_rate"),
    ("--hyperparams normalize=maybe", ["train", "moon", "--hyperparams", "normalize=maybe"],
     "normalize"),
    ("--env-kwargs rtol=0", ["train", "moon", "--env-kwargs", "rtol=0"], "rtol"),
    ("--env-kwargs colour=red", ["train", "moon", "--env-kwargs", "colour=red"], "colour"),
    ("--target venus", ["train", "moon", "--target", "venus"], "target"),
    ("city --env-kwargs lidar_range=0", ["train", "city", "--env-kwargs", "lidar_range=0"],
     "lidar_range"),
    ("city --env-kwargs lidar_range=-5", ["train", "city", "--env-kwargs", "lidar_range=-5"],
     "lidar_range"),
    ("city --env-kwargs time_limit=0", ["train", "city", "--env-kwargs", "time_limit=0"],
     "time_limit"),
    ("city --env-kwargs goal_radius=-1", ["train", "city", "--env-kwargs", "goal_radius=-1"],
     "goal_radius"),
    ("city --env-kwargs route_length=[600,250]", ["train", "city", "--env-kwargs",
                                                  "route_length=[600,250]"], "route_length"),
    ("city --env-kwargs render_size=0", ["train", "city", "--env-kwargs", "render_size=0"],
     "render_size"),
    ("city --env-kwargs lidar_rays=2.5", ["train", "city", "--env-kwargs", "lidar_rays=2.5"],
     "lidar_rays"),
    ("city --env-kwargs traffic_cars=1e9", ["train", "city", "--env-kwargs",
                                            "traffic_cars=1e9"], "traffic_cars"),
    ("plan --episodes 0", ["plan", "moon", "--episodes", "0"], "--episodes"),
    ("plan --max-trials 0", ["plan", "moon", "--max-trials", "0"], "--max-trials"),
    ("plan --options model=kepler", ["plan", "moon", "--options", "model=kepler"], "model"),
    ("plan city --target soi", ["plan", "city", "--target", "soi"], "--target"),
    ("render --fps 0", ["render", "moon", "--fps", "0"], "fps"),
    ("render --fps -3", ["render", "moon", "--fps", "-3"], "fps"),
    ("render moon --view chase", ["render", "moon", "--view", "chase"], "view"),
    ("render --agent no/such/run", ["render", "moon", "--agent", "no/such/run"], "no such"),
    ("evaluate no/such/run", ["evaluate", "no/such/run"], "no such"),
    ("evaluate mod:Missing", ["evaluate", "nomodule:Agent", "--env", "moon"], "import"),
    ("compare no/such/run", ["compare", "no/such/run"], "no"),
]


def fast_probes(root: Path) -> list[tuple[str, str, str, bool]]:
    """The probes that need no training, the command line called in this process."""
    IN_PROCESS[0] = True
    try:
        for case, argv, needle in BAD:
            bad_value(root, case, argv, needle)
        outs(root)
        demo_folders(root)
        bounded(root)
    finally:
        IN_PROCESS[0] = False
    return ROWS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/probes")
    ap.add_argument("--no-disk", action="store_true", help="skip the full-disk probe")
    ap.add_argument("--fast", action="store_true", help="only the probes without training")
    args = ap.parse_args()
    root = Path(args.out).resolve() / time.strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    fast_probes(root)
    if not args.fast:
        kills(root)
        corrupt(root)
        crafted(root)
        interrupts(root)
        concurrent(root)
        if not args.no_disk:
            full_disk(root)
    lines = ["| what | case | what moonshot does | as it should |", "|---|---|---|---|"]
    lines += [f"| {c} | {case} | {got} | {'yes' if ok else '**no**'} |"
              for c, case, got, ok in ROWS]
    text = "\n".join(lines) + "\n"
    (root / "probes.md").write_text(text)
    print("\n" + text)
    bad = sum(not ok for *_, ok in ROWS)
    print(f"{len(ROWS)} probes, {bad} not as they should be, {time.perf_counter() - t0:.0f} s "
          f"({root})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
