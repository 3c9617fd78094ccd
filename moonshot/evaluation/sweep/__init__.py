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
with 95% Student-t intervals over seeds per group, plots and ``report.md`` / ``report.html``.

A plug-in world (:mod:`moonshot.worlds.plugins`) runs on every node: the job's Ray
``runtime_env`` carries ``MOONSHOT_WORLDS`` and ships the user's own world modules (those not
installed, such as a module beside the user), and each task imports the sweep's world modules
before its cell. A cell that fails shows its exception and the last frames of its traceback.

The spec (YAML; unknown keys, empty grids and bad values are errors before any task starts)::

    name: moon-transfer
    world: moon                      # any world, a plug-in's too (or env: a full env id)
    env_kwargs: {target: soi}        # for every cell: any setting the env accepts
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
    max_cells: 10000                 # optional: a bigger grid is refused, counted unexpanded
"""

from typing import Any

from .aggregate import aggregate  # eager: the function shadows its module's name
from .spec import (
    EVALUATE_KEYS,
    PLANNER_KEYS,
    RELEARN_KEYS,
    RESOURCE_KEYS,
    RL_KEYS,
    SCHEMA,
    SHIFT_KEYS,
    SPEC_KEYS,
    Cell,
    SpecKey,
    check_cell,
    expand,
    load_spec,
    print_plan,
    schema_help,
    shift_axes,
)

# The rest on first use: `moonshot --help` reads the spec schema and should not pay for the
# agents or Ray.
_LAZY = {"execute_cell": "cells", "SweepFailed": "driver",
         "run_sweep": "driver", "DONE": "store", "CellStore": "store", "pack": "store",
         "unpack": "store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["Cell", "CellStore", "DONE", "EVALUATE_KEYS", "PLANNER_KEYS", "RELEARN_KEYS",
           "RESOURCE_KEYS", "RL_KEYS", "SCHEMA", "SHIFT_KEYS", "SPEC_KEYS", "SpecKey",
           "SweepFailed", "aggregate", "check_cell", "execute_cell", "expand", "load_spec",
           "pack", "print_plan", "run_sweep", "schema_help", "shift_axes", "unpack"]
