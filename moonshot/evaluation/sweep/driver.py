"""The sweep driver: Ray started or joined, cells scheduled as tasks, failures collected,
the aggregate written at the end."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from ...errors import ConfigError
from ...runlog import read_json, run_folder, write_json
from ...worlds import run_modules
from ...worlds.plugins import ENV_VAR
from .aggregate import aggregate
from .cells import _cell_task
from .spec import Cell, check_cell, defaults, expand, load_spec
from .store import DONE, CellStore


class SweepFailed(RuntimeError):
    """Some cells failed for good (after Ray's retries); the others are kept."""


def _init_ray(address: str | None, num_cpus: int | None, runtime_env: dict | None = None):
    """Ray started or joined, with the job's ``runtime_env`` (Ray ships local modules only
    for a whole job); a Ray this process had started already keeps its own."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError("moonshot sweep runs on Ray: pip install 'moonshot[sweep]' (or "
                          "pip install ray)") from None
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if runtime_env:
        kwargs["runtime_env"] = runtime_env
    if address:
        host = address.removeprefix("ray://").split(":")[0]
        if address.startswith("ray://"):
            kwargs = {"log_to_driver": False, **({"runtime_env": runtime_env}
                                                 if runtime_env else {})}
        elif address != "auto" and host.startswith("127."):
            kwargs["_node_ip_address"] = host  # a local cluster on a loopback address
        ray.init(address=address, **kwargs)
    else:
        # The embedded default: a one-machine Ray on a loopback address (nothing to set up,
        # nothing listening beyond this machine).
        ray.init(_node_ip_address=os.environ.get("MOONSHOT_RAY_IP", "127.0.0.2"),
                 num_cpus=num_cpus or os.cpu_count(), **kwargs)
    return ray


def world_modules(cells: list[Cell]) -> list[str]:
    """The plug-in modules a worker imports before its cell: those that declared the cells'
    worlds (the rest of ``MOONSHOT_WORLDS`` loads there as anywhere, when a name is
    unknown)."""
    return list(dict.fromkeys(m for c in cells for m in run_modules(c.env_id)))


def worker_runtime_env(modules: list[str]) -> dict:
    """Ray's ``runtime_env`` of the cells' tasks: ``MOONSHOT_WORLDS`` as the driver has it,
    and the user's own plug-in modules (files or packages outside any installed location,
    such as a module beside the user) shipped to every node as ``py_modules``; installed
    packages are expected on the nodes, as moonshot itself is."""
    env: dict[str, Any] = {}
    if os.environ.get(ENV_VAR):
        env["env_vars"] = {ENV_VAR: os.environ[ENV_VAR]}
    shipped = []
    for module in modules:
        top = module.split(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or top == __name__.split(".")[0]:
            continue
        path = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations \
            else Path(spec.origin)
        if any(part in ("site-packages", "dist-packages") for part in path.parts):
            continue
        if path.is_dir() or (path.suffix == ".py" and _ray_ships_files()):
            shipped.append(str(path))
    if shipped:
        env["py_modules"] = list(dict.fromkeys(shipped))
    return env


def _ray_ships_files() -> bool:
    """Whether this Ray ships a single-file module in ``py_modules`` (Ray 2.38 and later;
    before, such a module reaches only the workers of this machine)."""
    import ray

    try:
        return tuple(int(p) for p in ray.__version__.split(".")[:2]) >= (2, 38)
    except ValueError:  # a development build
        return True


def failure_text(exc: BaseException, frames: int = 3) -> str:
    """What a failed cell says: its exception (the cause inside Ray's wrapper, whose own
    text starts with a header and the first frames) and the last ``frames`` frames of its
    traceback, where it failed."""
    cause = getattr(exc, "cause", None) or exc
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()
    where = []
    for i, line in enumerate(lines):
        m = re.match(r'\s*File "(.+)", line (\d+), in (.+)', line)
        if m:
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            code = "" if code.startswith(("File ", "^", "~")) else code
            where.append(f"      at {m[1]}:{m[2]} in {m[3]}" + (f": {code}" if code else ""))
    message = " ".join(str(cause).split())
    if len(message) > 1000:
        message = message[:997] + "..."
    return "\n".join([f"{type(cause).__name__}: {message}", *where[-frames:]])


def _cells_that_fit(ray, res: dict) -> int:
    """Cells the cluster can run at once with the resources each asks (at least one)."""
    have = ray.cluster_resources()
    fit = have.get("CPU", 1.0) / float(res.get("num_cpus", 1))
    if res.get("num_gpus"):
        fit = min(fit, have.get("GPU", 0.0) / float(res["num_gpus"]))
    return max(1, int(fit + 1e-9))


def run_sweep(spec_path: str | os.PathLike, out: str | os.PathLike,
              address: str | None = None, resume: bool = False, progress: bool = True,
              num_cpus: int | None = None, seed_set: str | None = None) -> dict:
    """Run (or resume) the sweep of ``spec_path`` into ``out``; returns the aggregate.
    ``seed_set``: the seed set of every cell instead of the spec's ``seed_set``."""
    from ...progress import progress as progress_display

    spec = load_spec(spec_path)
    if seed_set is not None:
        spec["seed_set"] = seed_set
    cells = expand(spec)
    for cell in cells:
        check_cell(cell)
    out = Path(out)
    if not resume and (out / "sweep.json").exists():
        raise FileExistsError(f"{out} already holds a sweep; pass --resume to continue it or "
                              "choose another --out")
    ours = {"sweep.json", ".lock", ".lock.pid"}
    if out.is_dir() and not (out / "sweep.json").exists() and any(
            p.name not in ours for p in out.iterdir()):
        # cells, the report and plots are written into OUT: never into a folder of another
        # command's or the user's (docs/security.md)
        raise FileExistsError(f"--out {out} is not empty and holds no sweep: a sweep writes "
                              "into a new or empty folder, or resumes its own (nothing was "
                              "written)")
    if resume and (out / "sweep.json").exists():
        # a sweep started before the protocol ran the legacy seeds
        before = [{"seed_set": "legacy", **c} for c in read_json(out / "sweep.json")["cells"]]
        now = json.loads(json.dumps([asdict(c) for c in cells]))
        if before != now:  # not only the ids: a cell's budget or settings count too
            ids = {c["id"] for c in before}
            changed = [c["id"] for c in now if c["id"] not in ids or c not in before]
            gone = sorted(ids - {c["id"] for c in now})
            raise ConfigError(
                f"{out} holds a sweep of other cells (changed or new: "
                f"{', '.join(changed[:5]) or 'none'}; not in this spec: "
                f"{', '.join(gone[:5]) or 'none'}); resume it with its own spec "
                f"({out / 'sweep.yaml'}; a sweep started before the seed sets resumes with "
                "seed_set: legacy) or choose another --out")
    res = {**defaults("resources"), **(spec.get("resources") or {})}
    t0 = time.perf_counter()
    with run_folder(out, "sweep", fresh=False):
        write_json(out / "sweep.json", {"spec": spec, "cells": [asdict(c) for c in cells]})
        (out / "sweep.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        todo = [c for c in cells if not (out / "cells" / c.id / DONE).exists()]
        if todo:
            modules = world_modules(todo)
            ray = _init_ray(address, num_cpus, worker_runtime_env(modules))
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = ray.get_runtime_context().get_node_id()
            store = ray.remote(num_cpus=0)(CellStore).options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(
                str(out.resolve()))
            # SPREAD: a cell starts by waiting on the driver's store, which lends its CPU
            # back; Ray's default policy would then pack the next cell onto the same node
            # while other nodes stand idle.
            # The variable also per task: a Ray started before this sweep has its own job env.
            task_env = {"runtime_env": {"env_vars": {ENV_VAR: os.environ[ENV_VAR]}}} \
                if os.environ.get(ENV_VAR) else {}
            task = ray.remote(_cell_task).options(
                num_cpus=res["num_cpus"], num_gpus=res["num_gpus"],
                max_retries=int(spec.get("max_retries", defaults("top-level")["max_retries"])),
                retry_exceptions=False,
                scheduling_strategy="SPREAD", **task_env)
            queue = list(todo)
            pending: dict[Any, Cell] = {}  # Ray object ref -> its cell
            bar = progress_display(len(cells), f"sweep {spec.get('name', out.name)}",
                                   unit="cells", initial=len(cells) - len(todo),
                                   enabled=progress)
            failures = []
            try:
                while queue or pending:
                    # Ray lends a task's CPU to the next one while it waits in ray.get (the
                    # cells do, sending snapshots): submitting every cell at once would run
                    # more cells than CPUs. The driver keeps only as many in flight as fit.
                    while queue and len(pending) < _cells_that_fit(ray, res):
                        cell = queue.pop(0)
                        pending[task.remote(asdict(cell), store, modules)] = cell
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    cell = pending.pop(ready[0])
                    try:
                        ray.get(ready[0])
                    except Exception as exc:  # a cell failed for good: report, keep the rest
                        failures.append((cell.id, failure_text(exc)))
                    bar.update(1)
            finally:
                bar.close()
            if failures:
                lines = "\n".join(f"  {cid}: {msg}" for cid, msg in failures)
                raise SweepFailed(f"{len(failures)} of {len(cells)} cells failed (the others "
                                   f"are kept; fix and rerun with --resume):\n{lines}")
        summary = aggregate(out, cells, wall_time_s=time.perf_counter() - t0,
                            command=f"moonshot sweep {spec_path} --out {out}")
    return summary
