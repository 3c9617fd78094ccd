"""Reliability probes: what a careful (and a hostile) user gets from moonshot's run folders.

Runs every case through the real command line (`python -m moonshot`, one process per call)
and prints a Markdown table: the case, what moonshot does now, and whether that is what it
should do (exit code, message naming the culprit, nothing written or lost). The kills are
real SIGKILLs at chosen phases (fault injection: ``MOONSHOT_FAULT=phase@step``); after each,
``--resume`` must give the very same episodes and evaluations as an uninterrupted run.

    python benchmarks/reliability_probes.py [--out runs/probes] [--no-disk]

``docs/reliability.md`` is this script's output. The full-disk probe mounts a 5 MB tmpfs
(needs root; skipped otherwise).
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


def moonshot(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moonshot", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


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
    out = fresh("bad-state")
    meta = (out / "checkpoints" / "latest.json").read_text()
    state = out / "checkpoints" / meta.split('"state": "')[1].split('"')[0]
    state.write_bytes(b"garbage")
    res = moonshot("train", "moon", "--out", out, "--resume", "--no-progress")
    record("corrupt file", "newest trainer state garbage, then --resume",
           f"exit {res.returncode}: falls back to the checkpoint before; "
           f"{'identical' if same(ref, out) else 'DIFFERENT'} results",
           res.returncode == 0 and same(ref, out))
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/probes")
    ap.add_argument("--no-disk", action="store_true", help="skip the full-disk probe")
    args = ap.parse_args()
    root = Path(args.out).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    for case, argv, needle in BAD:
        bad_value(root, case, argv, needle)
    kills(root)
    corrupt(root)
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
    print(f"{len(ROWS)} probes, {bad} not as they should be, {time.perf_counter() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
