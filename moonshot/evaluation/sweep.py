"""Sweeps on Ray: a grid of runs (seeds x agents x env settings x shifts), one Ray task per
cell, on one machine or a cluster, resumable, nothing lost.

A *cell* is one train or plan run followed by its evaluations (and, if asked, its shift
ladder and relearning cost), in its own folder ``OUT/cells/<cell id>/``. Each cell runs as a
Ray task (one CPU by default). Workers keep no state of their own: a cluster has no shared
disk, so a worker sends its cell folder to the driver after every checkpoint and at the end,
through a small actor pinned to the driver's node that writes it into ``OUT`` atomically. A
worker that dies is retried by Ray (``max_retries``) and the retry fetches the cell's last
snapshot and resumes from its checkpoint (training resumes exactly, see
:func:`moonshot.agents.training.train`). A rerun with ``--resume`` skips finished cells and
resumes unfinished ones; a finished sweep resumes to no work. When every cell is done, the
driver aggregates all ``episodes.csv`` / ``evaluations.csv`` / transfer results into one table
with 95% bootstrap intervals over seeds per group, plots and ``report.md`` / ``report.html``.

The spec (YAML; unknown keys, empty grids and bad values are errors before any task starts)::

    name: moon-transfer
    world: moon                      # any registered world (or env: a full env id)
    env_kwargs: {target: soi}        # for every cell
    env_grid: {traffic_cars: [20, 40]}   # optional: one cell per combination
    # several worlds: world: [moon, city]; env_kwargs, agents, evaluate and relearn may then
    # map each world's name to its own (env_kwargs: {moon: {target: soi}})
    num_train_maps: [1, 4, 16]       # optional (city): a grid over the training maps
    agents:
      - {algo: ppo, timesteps: 300000, hyperparams: {learning_rate: 1e-4}, label: ppo-slow}
      - {planner: true, options: {model: patched_conic}, episodes: 100}
    seeds: [0, 1, 2]
    evaluate: {splits: [train, new], episodes: 100, seed: 1000}
    shift: {axis: altitude, levels: [0, 1, 2, 3], episodes: 50}    # optional: the ladder
    relearn: {timesteps: 100000}     # optional: fine-tune RL cells on the new split, or at a
                                     # shift level: {timesteps, axis: altitude, level: 3}
    resources: {num_cpus: 1, num_gpus: 0}
    max_retries: 3
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ConfigError, check_keys
from ..runlog import read_json, run_folder, write_json
from ..worlds import get_world, resolve_env_id

SPEC_KEYS = ("name", "world", "env", "env_kwargs", "env_grid", "num_train_maps", "agents",
             "seeds", "evaluate", "shift", "relearn", "resources", "max_retries")
RL_KEYS = ("algo", "timesteps", "hyperparams", "n_envs", "label", "eval_every",
           "eval_episodes", "checkpoint_every", "env_kwargs")
PLANNER_KEYS = ("planner", "options", "episodes", "label", "max_trials", "env_kwargs")
EVALUATE_KEYS = ("splits", "episodes", "max_trials", "seed")
SHIFT_KEYS = ("axis", "axes", "levels", "episodes")
RELEARN_KEYS = ("timesteps", "axis", "level", "tolerance")
RESOURCE_KEYS = ("num_cpus", "num_gpus")
DONE = "DONE"


class SweepFailed(RuntimeError):
    """Some cells failed for good (after Ray's retries); the others are kept."""


@dataclass
class Cell:
    """One run of the grid and what to do after it (JSON-able: it travels to the worker)."""

    id: str
    group: str  #: the cell without its seed: what the aggregate table groups by
    env_id: str
    env_kwargs: dict
    agent: dict
    seed: int
    evaluate: dict
    shift: dict | None = None
    relearn: dict | None = None
    grid: dict = field(default_factory=dict)

    @property
    def is_planner(self) -> bool:
        return bool(self.agent.get("planner"))


# --- the spec ----------------------------------------------------------------------------
def load_spec(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no such sweep spec: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read the sweep spec {path}: {exc}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"the sweep spec {path} must be a mapping of keys "
                          f"({', '.join(SPEC_KEYS)})")
    return spec


def _list(spec: dict, key: str, default=None) -> list:
    val = spec.get(key, default)
    if val is None:
        return []
    if not isinstance(val, list):
        raise ConfigError(f"sweep spec: {key} must be a list, got {val!r}")
    if not val:
        raise ConfigError(f"sweep spec: {key} is an empty list (an empty grid has no cells)")
    return val


def _mapping(spec: dict, key: str, known) -> dict:
    val = spec.get(key) or {}
    if not isinstance(val, dict):
        raise ConfigError(f"sweep spec: {key} must be a mapping, got {val!r}")
    check_keys(val, known, f"sweep spec {key}")
    return dict(val)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text)).strip("-")


def expand(spec: dict) -> list[Cell]:
    """The cells of a spec, every value checked (see the module docstring). ``world`` may be
    a list of worlds; ``env_kwargs`` then maps each world's name to its settings."""
    check_keys(spec, SPEC_KEYS, "sweep spec")
    if isinstance(spec.get("world"), list):
        names = _list(spec, "world")
        per_world = spec.get("env_kwargs") or {}
        if not isinstance(per_world, dict) or set(per_world) - set(names):
            raise ConfigError("sweep spec: with several worlds, env_kwargs maps each world's "
                              f"name ({', '.join(map(str, names))}) to its settings")
        if "env" in spec or "env_grid" in spec:
            raise ConfigError("sweep spec: env and env_grid need a single world")
        cells = []
        for name in names:
            sub = {**spec, "world": name, "env_kwargs": per_world.get(name, {})}
            for key in ("agents", "relearn", "evaluate"):  # may be given per world
                val = spec.get(key)
                if isinstance(val, dict) and set(val) and set(val) <= set(names):
                    if name in val:
                        sub[key] = val[name]
                    else:
                        sub.pop(key)
            if "agents" not in sub:
                continue
            if "num_train_maps" in spec and "num_train_maps" not in _env_keys(
                    get_world(name).env_id):
                sub.pop("num_train_maps")
            for cell in expand(sub):
                cell.id, cell.group = f"{name}-{cell.id}", f"{name}-{cell.group}"
                cells.append(cell)
        return cells
    if "world" not in spec and "env" not in spec:
        raise ConfigError("sweep spec: say which world (world: moon) or env (env: <id>)")
    world = get_world(spec.get("env") or spec["world"])
    if "world" in spec and "env" in spec and get_world(spec["env"]) is not world:
        raise ConfigError(f"sweep spec: env {spec['env']} is not of the world {spec['world']}")
    env_id = resolve_env_id(spec["env"]) if "env" in spec else world.env_id
    base_kwargs = _mapping(spec, "env_kwargs", _env_keys(env_id))
    grid = _mapping(spec, "env_grid", _env_keys(env_id))
    for key in grid:
        _list(grid, key)
    maps = _list(spec, "num_train_maps")
    if maps:
        if "num_train_maps" not in _env_keys(env_id):
            raise ConfigError(f"sweep spec: num_train_maps does not apply to {env_id}")
        grid["num_train_maps"] = maps
    agents = _list(spec, "agents")
    if not agents:
        raise ConfigError("sweep spec: agents is missing (a list of {algo: ...} or "
                          "{planner: true})")
    seeds = _list(spec, "seeds", [0])
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"sweep spec: seeds must be integers >= 0, got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"sweep spec: seeds repeat: {seeds}")
    evaluate = {"splits": ["train", "new"], "episodes": 100, "seed": 1000,
                **_mapping(spec, "evaluate", EVALUATE_KEYS)}
    for sp in _list(evaluate, "splits"):
        if sp not in ("train", "new"):
            raise ConfigError(f"sweep spec: evaluate splits are train and/or new, got {sp!r}")
    _positive(evaluate, "episodes", "evaluate")
    shift = _mapping(spec, "shift", SHIFT_KEYS) or None
    if shift is not None:
        _check_shift(world, shift)
    relearn = _mapping(spec, "relearn", RELEARN_KEYS) or None
    if relearn is not None:
        _positive(relearn, "timesteps", "relearn")
        if ("axis" in relearn) != ("level" in relearn):
            raise ConfigError("sweep spec: relearn along an axis needs both axis and level")
        if "axis" in relearn:
            world.axis(relearn["axis"]).settings(relearn["level"])
    _check_resources(spec)
    names = [k for k in grid]
    combos = list(itertools.product(*(grid[k] for k in names))) if names else [()]
    cells, seen = [], set()
    for k, agent in enumerate(agents):
        agent = _check_agent(agent, k)
        label = agent.get("label") or (agent["algo"] if "algo" in agent else "planner")
        for combo in combos:
            values = dict(zip(names, combo, strict=True))
            group = "-".join([_slug(label)]
                             + [f"{_slug(n)}={_slug(v)}" for n, v in values.items()])
            if group in seen:
                raise ConfigError(f"sweep spec: two agents share the label {label!r}; give "
                                  "each a distinct label")
            seen.add(group)
            for seed in seeds:
                kwargs = {**base_kwargs, **agent.get("env_kwargs", {}), **values}
                cells.append(Cell(id=f"{group}-s{seed}", group=group, env_id=env_id,
                                  env_kwargs=kwargs, agent=agent, seed=seed,
                                  evaluate=evaluate, shift=shift,
                                  relearn=relearn if "algo" in agent else None, grid=values))
    return cells


def _check_resources(spec: dict) -> None:
    res = _mapping(spec, "resources", RESOURCE_KEYS)
    for key, lo in (("num_cpus", 0.0), ("num_gpus", 0.0)):
        val = res.get(key, 1 if key == "num_cpus" else 0)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not val >= lo \
                or (key == "num_cpus" and val == 0):
            raise ConfigError(f"sweep spec: resources {key} must be a number "
                              f"{'> 0' if key == 'num_cpus' else '>= 0'}, got {val!r}")
    val = spec.get("max_retries", 3)
    if isinstance(val, bool) or not isinstance(val, int) or val < 0:
        raise ConfigError(f"sweep spec: max_retries must be an integer >= 0 (the retries of a "
                          f"cell whose worker died), got {val!r}")


def _env_keys(env_id: str) -> list[str]:
    from ..worlds import env_defaults

    return [k for k in env_defaults(env_id) if k != "split"]


def _positive(d: dict, key: str, where: str) -> None:
    val = d.get(key)
    if isinstance(val, bool) or not isinstance(val, int) or val < 1:
        raise ConfigError(f"sweep spec: {where} {key} must be an integer >= 1, got {val!r}")


def _check_agent(agent, k: int) -> dict:
    if not isinstance(agent, dict):
        raise ConfigError(f"sweep spec: agents[{k}] must be a mapping, got {agent!r}")
    if agent.get("planner"):
        check_keys(agent, PLANNER_KEYS, f"sweep spec agents[{k}] (a planner)")
        agent = {"options": {}, **agent}
        if "episodes" in agent:
            _positive(agent, "episodes", f"agents[{k}]")
    else:
        check_keys(agent, RL_KEYS, f"sweep spec agents[{k}] (an RL agent)")
        if "algo" not in agent:
            raise ConfigError(f"sweep spec: agents[{k}] needs algo (ppo, sac, td3, a2c) or "
                              "planner: true")
        _positive(agent, "timesteps", f"agents[{k}]")
    return copy.deepcopy(agent)


def _check_shift(world, shift: dict) -> None:
    """``axis: NAME`` or ``axes: [NAMES]`` / ``axes: all``; ``levels`` apply to each."""
    if ("axis" in shift) == ("axes" in shift):
        raise ConfigError("sweep spec: shift needs an axis (axis: NAME) or axes (axes: [...] or "
                          "axes: all)")
    names = shift_axes(world, shift)
    for name in names:
        try:
            axis = world.axis(name)  # one axis, or a combined ladder a+b
        except ConfigError as err:
            raise ConfigError(f"sweep spec: {err}") from None
        for lv in shift.get("levels") or range(len(axis.levels)):
            axis.settings(lv)


def shift_axes(world, shift: dict) -> list[str]:
    if "axis" in shift:
        return [shift["axis"]]
    axes = shift["axes"]
    return list(world.shift_axes) if axes == "all" else list(axes)


def check_cell(cell: Cell) -> None:
    """Everything a cell will do, checked without doing it (before any task starts)."""
    from ..agents.training import check_env_kwargs

    kwargs = {**cell.env_kwargs, "split": "train"}
    if cell.is_planner:
        check_env_kwargs(cell.env_id, kwargs)
        try:
            get_world(cell.env_id).make_planner(**cell.agent.get("options", {}))
        except TypeError as exc:
            raise ConfigError(f"sweep cell {cell.id}: bad planner option: {exc}") from None
        return
    from ..agents.config import split_hyperparams, validate_config

    cfg = _train_config(cell, "unused")
    validate_config(cfg)
    split_hyperparams(cfg)
    check_env_kwargs(cell.env_id, kwargs)


def _train_config(cell: Cell, out: str):
    from ..agents.config import TrainConfig

    a = cell.agent
    extra = {k: a[k] for k in ("n_envs", "eval_every", "eval_episodes", "checkpoint_every")
             if k in a}
    return TrainConfig(env=cell.env_id, algo=a["algo"], timesteps=a["timesteps"],
                       seed=cell.seed, out=out, env_kwargs=dict(cell.env_kwargs),
                       hyperparams=dict(a.get("hyperparams", {})), progress=False, **extra)


# --- one cell ------------------------------------------------------------------------------
def pack(folder: Path) -> bytes:
    """A folder as gzipped tar bytes (what a worker sends to the driver)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=3) as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def unpack(blob: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def execute_cell(cell: Cell, folder: Path, snapshot=None) -> dict:
    """Run ``cell`` in ``folder`` (resuming what a snapshot holds); ``snapshot(folder)`` is
    called after each checkpoint. Returns the cell's result (also ``folder/result.json``)."""
    from ..agents.training import train
    from .experiments import evaluate_agents
    from .planning import run_planner

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "cell.json", asdict(cell))
    run = folder / "run"
    t0 = time.perf_counter()
    if cell.is_planner:
        if run.exists() and not (run / "summary.json").exists():
            shutil.rmtree(run)  # an interrupted plan run: short, done again
        if not run.exists():
            a = cell.agent
            run_planner(get_world(cell.env_id).name, env_id=cell.env_id,
                        episodes=a.get("episodes", cell.evaluate["episodes"]), seed=cell.seed,
                        split="train", out=run, max_trials=a.get("max_trials"),
                        progress=False, env_kwargs=dict(cell.env_kwargs),
                        planner_options=a.get("options", {}))
    else:
        cfg = _train_config(cell, str(run))
        train(cfg, resume=(run / "config.json").exists(),
              on_checkpoint=(lambda _run: snapshot(folder)) if snapshot else None)
    if snapshot:
        snapshot(folder)
    ev = folder / "eval"
    shutil.rmtree(ev, ignore_errors=True)  # evaluations are deterministic: redone whole
    ev_res = evaluate_agents([str(run)], cell.evaluate["splits"], cell.evaluate["episodes"],
                             cell.evaluate.get("seed", 1000), ev, progress=False,
                             max_trials=cell.evaluate.get("max_trials"))
    result: dict[str, Any] = {"cell": cell.id, "group": cell.group, "seed": cell.seed,
                              "transfer": [{k: v for k, v in r.items() if not k.startswith("_")}
                                           for r in ev_res["results"]],
                              "gaps": ev_res["gaps"]}
    if cell.shift is not None:
        from .shift import run_shift

        sh = folder / "shift"
        shutil.rmtree(sh, ignore_errors=True)
        result["shift"] = run_shift(cell.env_id, [str(run)],
                                    axes=shift_axes(get_world(cell.env_id), cell.shift),
                                    levels=cell.shift.get("levels"),
                                    episodes=cell.shift.get("episodes",
                                                            cell.evaluate["episodes"]),
                                    seed=cell.evaluate.get("seed", 1000), out=sh,
                                    progress=False)["rows"]
    if cell.relearn is not None:
        from .transfer import relearning_cost

        rl = folder / "relearn"
        shutil.rmtree(rl, ignore_errors=True)
        r = cell.relearn
        where = ({"split": "train", "tolerance": float(r.get("tolerance", 0.05)),
                  "env_overrides": get_world(cell.env_id).axis(r["axis"]).settings(r["level"])}
                 if "axis" in r else {"tolerance": float(r.get("tolerance", 0.0))})
        result["relearn"] = relearning_cost(run, r["timesteps"], rl, seed=cell.seed,
                                            progress=False, **where)
    result["wall_time_s"] = time.perf_counter() - t0
    write_json(folder / "result.json", result)
    (folder / DONE).write_text("done\n")
    return result


def _cell_task(cell_dict: dict, store) -> dict:
    """The Ray task of one cell: fetch its last snapshot, run, send the folder back."""
    import ray

    cell = Cell(**cell_dict)
    work = Path(tempfile.mkdtemp(prefix="moonshot-cell-"))
    folder = work / cell.id
    try:
        blob = ray.get(store.get.remote(cell.id))
        if blob is not None:
            unpack(blob, folder)
        # where each attempt ran: a retry after a lost worker shows as a second line
        folder.mkdir(parents=True, exist_ok=True)
        ctx = ray.get_runtime_context()
        with open(folder / "attempts.jsonl", "a") as fh:
            fh.write(json.dumps({"node": ctx.get_node_id(), "pid": os.getpid(),
                                 "resumed": blob is not None, "time": time.time()}) + "\n")

        def snapshot(f: Path) -> None:
            ray.get(store.put.remote(cell.id, pack(f)))

        result = execute_cell(cell, folder, snapshot)
        ray.get(store.put.remote(cell.id, pack(folder)))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


class CellStore:
    """The driver's side of the cells: snapshots written into ``OUT/cells/<id>`` atomically
    (extracted beside, then swapped in), read back for a retry."""

    def __init__(self, root: str):
        self.root = Path(root) / "cells"
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, cell_id: str, blob: bytes) -> bool:
        final = self.root / cell_id
        tmp = self.root / f".{cell_id}.incoming"
        old = self.root / f".{cell_id}.old"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack(blob, tmp)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return True

    def get(self, cell_id: str) -> bytes | None:
        folder = self.root / cell_id
        return pack(folder) if folder.is_dir() else None


# --- the driver ----------------------------------------------------------------------------
def _init_ray(address: str | None, num_cpus: int | None):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError("moonshot sweep runs on Ray: pip install 'moonshot[sweep]' (or "
                          "pip install ray)") from None
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if address:
        host = address.removeprefix("ray://").split(":")[0]
        if address.startswith("ray://"):
            kwargs = {"log_to_driver": False}
        elif address != "auto" and host.startswith("127."):
            kwargs["_node_ip_address"] = host  # a local cluster on a loopback address
        ray.init(address=address, **kwargs)
    else:
        # The embedded default: a one-machine Ray on a loopback address (nothing to set up,
        # nothing listening beyond this machine).
        ray.init(_node_ip_address=os.environ.get("MOONSHOT_RAY_IP", "127.0.0.2"),
                 num_cpus=num_cpus or os.cpu_count(), **kwargs)
    return ray


def _cells_that_fit(ray, res: dict) -> int:
    """Cells the cluster can run at once with the resources each asks (at least one)."""
    have = ray.cluster_resources()
    fit = have.get("CPU", 1.0) / float(res.get("num_cpus", 1))
    if res.get("num_gpus"):
        fit = min(fit, have.get("GPU", 0.0) / float(res["num_gpus"]))
    return max(1, int(fit + 1e-9))


def run_sweep(spec_path: str | os.PathLike, out: str | os.PathLike,
              address: str | None = None, resume: bool = False, progress: bool = True,
              num_cpus: int | None = None) -> dict:
    """Run (or resume) the sweep of ``spec_path`` into ``out``; returns the aggregate."""
    from ..progress import progress as progress_display

    spec = load_spec(spec_path)
    cells = expand(spec)
    for cell in cells:
        check_cell(cell)
    out = Path(out)
    if not resume and (out / "sweep.json").exists():
        raise FileExistsError(f"{out} already holds a sweep; pass --resume to continue it or "
                              "choose another --out")
    if resume and (out / "sweep.json").exists():
        before = read_json(out / "sweep.json")["cells"]
        now = json.loads(json.dumps([asdict(c) for c in cells]))
        if before != now:  # not only the ids: a cell's budget or settings count too
            ids = {c["id"] for c in before}
            changed = [c["id"] for c in now if c["id"] not in ids or c not in before]
            gone = sorted(ids - {c["id"] for c in now})
            raise ConfigError(
                f"{out} holds a sweep of other cells (changed or new: "
                f"{', '.join(changed[:5]) or 'none'}; not in this spec: "
                f"{', '.join(gone[:5]) or 'none'}); resume it with its own spec "
                f"({out / 'sweep.yaml'}) or choose another --out")
    res = spec.get("resources") or {}
    t0 = time.perf_counter()
    with run_folder(out, "sweep", fresh=False):
        write_json(out / "sweep.json", {"spec": spec, "cells": [asdict(c) for c in cells]})
        (out / "sweep.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        todo = [c for c in cells if not (out / "cells" / c.id / DONE).exists()]
        if todo:
            ray = _init_ray(address, num_cpus)
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = ray.get_runtime_context().get_node_id()
            store = ray.remote(num_cpus=0)(CellStore).options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(
                str(out.resolve()))
            # SPREAD: a cell starts by waiting on the driver's store, which lends its CPU
            # back; Ray's default policy would then pack the next cell onto the same node
            # while other nodes stand idle.
            task = ray.remote(_cell_task).options(
                num_cpus=res.get("num_cpus", 1), num_gpus=res.get("num_gpus", 0),
                max_retries=int(spec.get("max_retries", 3)), retry_exceptions=False,
                scheduling_strategy="SPREAD")
            queue, pending = list(todo), {}
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
                        pending[task.remote(asdict(cell), store)] = cell
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    cell = pending.pop(ready[0])
                    try:
                        ray.get(ready[0])
                    except Exception as exc:  # a cell failed for good: report, keep the rest
                        failures.append((cell.id, f"{type(exc).__name__}: {exc}"[:500]))
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


# --- the aggregate -------------------------------------------------------------------------
def _ci(values) -> tuple[float, float, float]:
    from .stats import bootstrap_ci

    vals = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(vals) == 0:
        return float("nan"), float("nan"), float("nan")
    return bootstrap_ci(vals)


def aggregate(out: Path, cells: list[Cell], wall_time_s: float = 0.0,
              command: str = "") -> dict:
    """One row per cell (``cells.csv``) and per group with 95% bootstrap intervals over
    seeds (``summary.csv``), learning curves, a transfer plot and ``report.md/html``."""
    from ..runlog import read_episodes
    from . import report
    from .efficiency import learning_curves, run_metrics
    from .html_report import report_meta, write_report

    rows = []
    for cell in cells:
        folder = out / "cells" / cell.id
        result = read_json(folder / "result.json")
        log = read_episodes(folder / "run")
        m = run_metrics(log)
        row = {"cell": cell.id, "group": cell.group, "seed": cell.seed, **cell.grid,
               "episodes": m["episodes"], "env_steps": m["env_steps"], "deaths": m["deaths"],
               "episodes_to_first_success": m["episodes_to_first_success"],
               "episodes_to_success_50": m["episodes_to_success_50"],
               "model_rollouts_per_scenario": m.get("model_rollouts_per_scenario"),
               "final_success_rate": m["final_success_rate"]}
        for r in result["transfer"]:
            sp = r["split"]
            row[f"success_{sp}"] = r["success_rate"]
            row[f"deaths_{sp}"] = r["death_rate"]
            row[f"trials_{sp}"] = r["trials_per_scenario"]
            row[f"imagined_{sp}"] = r.get("model_rollouts_per_scenario")
        if "relearn" in result:
            row["relearn_episodes"] = result["relearn"]["episodes_to_recover"]
            row["relearn_deaths"] = result["relearn"]["deaths_to_recover"]
        rows.append(row)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    summary = []
    # the union over cells: groups of different worlds or agents report different columns
    grid = {k for c in cells for k in c.grid}
    keys = list(dict.fromkeys(k for r in rows for k in r))
    metrics = [k for k in keys if k not in ("cell", "group", "seed", *grid)]
    for name, members in groups.items():
        s = {"group": name, "seeds": len(members)}
        for k in metrics:
            vals = [m.get(k) for m in members]
            if all(v is None for v in vals):
                continue
            est, lo, hi = _ci([np.nan if v is None else float(v) for v in vals])
            s[k], s[f"{k}_low"], s[f"{k}_high"] = est, lo, hi
            if any(v is None for v in vals):
                s[f"{k}_missing"] = sum(v is None for v in vals)
        summary.append(s)
    report.write_table(out, "cells", rows, [(k, k, "") for k in keys])
    cols = [("group", "group", ""), ("seeds", "seeds", "")]
    for sp in ("train", "new"):
        if any(f"success_{sp}" in r for r in summary):
            for r in (r for r in summary if f"success_{sp}" in r):
                r[f"success_{sp}_ci"] = (f"{r[f'success_{sp}']:.0%} "
                                         f"[{r[f'success_{sp}_low']:.0%}–"
                                         f"{r[f'success_{sp}_high']:.0%}]")
            cols.append((f"success_{sp}_ci", f"success, {sp}", ""))
            cols.append((f"trials_{sp}", f"real trials/scenario, {sp}", ".2f"))
            cols.append((f"imagined_{sp}", f"imagined trials/scenario, {sp}", ".3g"))
            cols.append((f"deaths_{sp}", f"deaths/episode, {sp}", ".1%"))
    cols += [("episodes_to_first_success", "episodes to 1st success", ".4g"),
             ("episodes_to_success_50", "episodes to 50%", ".4g"),
             ("deaths", "deaths in training", ".4g")]
    if any("relearn_episodes" in r for r in summary):
        cols += [("relearn_episodes", "relearn: episodes", ".4g"),
                 ("relearn_deaths", "relearn: deaths", ".4g")]
    md = report.write_table(out, "summary", summary, cols)
    curves = {}
    for name, members in groups.items():
        runs = [out / "cells" / m["cell"] / "run" for m in members]
        for key, c in learning_curves(runs).items():
            curves[f"{name} ({key.split(' · ')[0]})" if len(groups) > 1 else key] = c
    report.plot_learning_curves(curves, out / "learning_curves.png",
                                title="Learning curves (mean over seeds, 95% CI)")
    _plot_groups(summary, out / "transfer.png")
    shift_md = _aggregate_shift(out, cells)
    text = "\n".join([
        f"# Sweep {out.name}", "",
        f"{len(cells)} cells in {len(groups)} groups; intervals are 95% bootstrap CIs over "
        "seeds. Per-cell figures in `cells.csv`, per-group in `summary.csv`.", "",
        md, "![learning curves](learning_curves.png)", "", "![transfer](transfer.png)", "",
        *(["## Along the shift axes", "", "Success per level: mean over seeds with a 95% "
           "bootstrap interval over seeds (per-seed rows in `shift_cells.csv`).", "",
           "![shift](shift.png)", "", shift_md] if shift_md else [])])
    seeds = sorted({c.seed for c in cells})
    write_report(out, text, f"Sweep {out.name}",
                 report_meta(command, seeds=seeds, wall_time_s=wall_time_s))
    write_json(out / "summary.json", {"groups": summary, "cells": rows})
    return {"groups": summary, "cells": rows, "markdown": md}


def _aggregate_shift(out: Path, cells: list[Cell]) -> str:
    """The cells' shift ladders: one row per (group, axis, level) over seeds, and the plot."""
    from . import report
    from .shift import plot_shift

    rows = []
    for cell in cells:
        result = read_json(out / "cells" / cell.id / "result.json")
        for r in result.get("shift", []):
            rows.append({**r, "group": cell.group, "seed": cell.seed})
    if not rows:
        return ""
    report.write_table(out, "shift_cells", rows,
                       [(k, k, "") for k in dict.fromkeys(k for r in rows for k in r)])
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["group"], r["axis"], r["level"]), []).append(r)
    summary = []
    for (group, axis, level), members in groups.items():
        est, lo, hi = _ci([m["success"] for m in members])
        summary.append({"axis": axis, "level": level, "label": members[0]["label"],
                        "agent": group, "seeds": len(members), "success": est,
                        "success_low": lo, "success_high": hi,
                        "deaths": float(np.mean([m["deaths"] for m in members])),
                        "trials": float(np.mean([m["trials"] for m in members])),
                        "model_rollouts": float(np.mean([m["model_rollouts"]
                                                         for m in members]))})
    summary.sort(key=lambda r: (r["axis"], r["level"], r["agent"]))
    plot_shift(summary, out / "shift.png", title="Success along the shift axes (over seeds)")
    return report.write_table(out, "shift", summary, [
        ("axis", "axis", ""), ("level", "level", ""), ("label", "what", ""),
        ("agent", "group", ""), ("seeds", "seeds", ""), ("success", "success", ".1%"),
        ("success_low", "low", ".0%"), ("success_high", "high", ".0%"),
        ("deaths", "deaths/episode", ".1%"), ("trials", "real trials", ".2f"),
        ("model_rollouts", "imagined trials", ".3g")])


def _plot_groups(summary: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    from .report import _save

    fig = Figure(figsize=(max(5, 1.3 * len(summary) + 2), 4))
    ax = fig.add_subplot()
    width = 0.38
    for k, (sp, color) in enumerate((("train", "#4c72b0"), ("new", "#dd8452"))):
        key = f"success_{sp}"
        if not any(key in r for r in summary):
            continue
        xs = np.arange(len(summary)) + (k - 0.5) * width
        ys = np.array([r.get(key, np.nan) for r in summary])
        err = np.array([[r.get(key, np.nan) - r.get(f"{key}_low", np.nan),
                         r.get(f"{key}_high", np.nan) - r.get(key, np.nan)]
                        for r in summary]).T
        ax.bar(xs, ys, width, color=color, label=f"split={sp}", yerr=err, capsize=3)
    ax.set_xticks(range(len(summary)), [r["group"] for r in summary], fontsize=7,
                  rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def print_plan(cells: list[Cell]) -> str:
    """A short description of the cells (for ``--dry-run``)."""
    groups: dict[str, int] = {}
    for c in cells:
        groups[c.group] = groups.get(c.group, 0) + 1
    lines = [f"{len(cells)} cells:"] + [f"  {g}: {n} seed(s)" for g, n in groups.items()]
    return "\n".join(lines)


__all__ = ["Cell", "load_spec", "expand", "check_cell", "execute_cell", "run_sweep",
           "aggregate"]
