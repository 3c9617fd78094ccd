"""One cell: its run, evaluations, shift ladder and relearning cost, and the Ray task that
runs it on a worker."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ...agents.episodes import EvalSettings
from ...runlog import write_json
from ...worlds import get_world
from ...worlds.plugins import import_trusted
from .spec import Cell, _train_config, shift_axes
from .store import DONE, pack, unpack


def execute_cell(cell: Cell, folder: Path,
                 snapshot: Callable[[Path], None] | None = None) -> dict:
    """Run ``cell`` in ``folder`` (resuming what a snapshot holds); ``snapshot(folder)`` is
    called after each checkpoint. Returns the cell's result (also ``folder/result.json``)."""
    from ...agents.training import train
    from ..experiments import evaluate_agents
    from ..planning import PlanConfig, plan

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "cell.json", asdict(cell))
    run = folder / "run"
    t0 = time.perf_counter()
    if cell.is_planner:
        if run.exists() and not (run / "summary.json").exists():
            shutil.rmtree(run)  # an interrupted plan run: short, done again
        if not run.exists():
            a = cell.agent
            plan(PlanConfig(
                world=get_world(cell.env_id).name, env_id=cell.env_id, out=run,
                env_kwargs=dict(cell.env_kwargs), planner_options=a.get("options", {}),
                settings=EvalSettings(split="train", seed=cell.seed,
                                      episodes=a.get("episodes", cell.evaluate["episodes"]),
                                      max_trials=a.get("max_trials"), scenarios="run",
                                      seed_set=cell.seed_set)))
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
                             max_trials=cell.evaluate.get("max_trials"),
                             seed_set=cell.seed_set)
    result: dict[str, Any] = {"cell": cell.id, "group": cell.group, "seed": cell.seed,
                              "transfer": ev_res["results"],
                              "gaps": ev_res["gaps"]}
    if cell.shift is not None:
        from ..shift import run_shift

        sh = folder / "shift"
        shutil.rmtree(sh, ignore_errors=True)
        settings = EvalSettings(episodes=cell.shift.get("episodes", cell.evaluate["episodes"]),
                                seed=cell.evaluate.get("seed", 1000), seed_set=cell.seed_set)
        result["shift"] = run_shift(cell.env_id, [str(run)],
                                    axes=shift_axes(get_world(cell.env_id), cell.shift),
                                    levels=cell.shift.get("levels"), settings=settings,
                                    out=sh)["rows"]
    if cell.relearn is not None:
        from ..transfer import relearning_cost

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


def _cell_task(cell_dict: dict, store, modules: list[str] | tuple = ()) -> dict:
    """The Ray task of one cell: import the sweep's world modules (plug-ins this worker has
    not met), fetch its last snapshot, run, send the folder back."""
    import ray

    import_trusted(list(modules))
    cell = Cell(**{"seed_set": "legacy", **cell_dict})  # a cell from before the protocol
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
