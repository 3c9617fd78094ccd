"""The sweep spec: its keys, loading, expansion into cells and the checks made before any
task starts (the spec format is in :mod:`moonshot.evaluation.sweep`)."""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ...errors import ConfigError, check_keys
from ...worlds import get_world, resolve_env_id

SPEC_KEYS = ("name", "world", "env", "env_kwargs", "env_grid", "num_train_maps", "agents",
             "seeds", "evaluate", "shift", "relearn", "resources", "max_retries")
RL_KEYS = ("algo", "timesteps", "hyperparams", "n_envs", "label", "eval_every",
           "eval_episodes", "checkpoint_every", "env_kwargs")
PLANNER_KEYS = ("planner", "options", "episodes", "label", "max_trials", "env_kwargs")
EVALUATE_KEYS = ("splits", "episodes", "max_trials", "seed")
SHIFT_KEYS = ("axis", "axes", "levels", "episodes")
RELEARN_KEYS = ("timesteps", "axis", "level", "tolerance")
RESOURCE_KEYS = ("num_cpus", "num_gpus")


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


def _mapping(spec: dict, key: str, known=None) -> dict:
    """``spec[key]``, a mapping (of the ``known`` keys, where given)."""
    val = spec.get(key) or {}
    if not isinstance(val, dict):
        raise ConfigError(f"sweep spec: {key} must be a mapping, got {val!r}")
    if known is not None:
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
    # Env settings are whatever the env accepts: check_cell builds it once with each cell's
    # (as `moonshot plan` does), so an env need not list every setting in default_config().
    base_kwargs = _mapping(spec, "env_kwargs")
    grid = _mapping(spec, "env_grid")
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
    from ...worlds import env_defaults

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
            raise ConfigError(f"sweep spec: agents[{k}] needs algo (a stable-baselines3 or "
                              "sb3-contrib algorithm: ppo, sac, td3, ...) or planner: true")
        _positive(agent, "timesteps", f"agents[{k}]")
    return copy.deepcopy(agent)


def _check_shift(world, shift: dict) -> None:
    """``axis: NAME`` or ``axes: [NAMES]`` / ``axes: all``; ``levels`` apply to each."""
    if ("axis" in shift) == ("axes" in shift):
        raise ConfigError("sweep spec: shift needs an axis (axis: NAME) or axes (axes: [...] or "
                          "axes: all)")
    names = shift_axes(world, shift)
    for name in names:
        if name not in world.shift_axes:
            raise ConfigError(f"sweep spec: unknown shift axis {name!r} of the "
                              f"{world.name} world; its axes: "
                              f"{', '.join(world.shift_axes) or 'none'}")
        for lv in shift.get("levels") or range(len(world.shift_axes[name].levels)):
            world.shift_axes[name].settings(lv)


def shift_axes(world, shift: dict) -> list[str]:
    if "axis" in shift:
        return [shift["axis"]]
    axes = shift["axes"]
    return list(world.shift_axes) if axes == "all" else list(axes)


def check_cell(cell: Cell) -> None:
    """Everything a cell will do, checked without doing it (before any task starts)."""
    kwargs = {**cell.env_kwargs, "split": "train"}
    if cell.is_planner:
        _check_env(cell, kwargs)
        try:
            get_world(cell.env_id).make_planner(**cell.agent.get("options", {}))
        except TypeError as exc:
            raise ConfigError(f"sweep cell {cell.id}: bad planner option: {exc}") from None
        return
    from ...agents.config import split_hyperparams, validate_config

    cfg = _train_config(cell, "unused")
    validate_config(cfg)
    policy = split_hyperparams(cfg)[2]
    _check_env(cell, kwargs, cfg.algo, policy)


def _check_env(cell: Cell, kwargs: dict, *algo) -> None:
    """The cell's env built once with ``kwargs`` (and ``algo`` checked to fit it); an env
    that refuses a setting its own way (a ``TypeError`` of its constructor) is a
    :class:`ConfigError` naming the cell."""
    from ...agents.training import check_env_kwargs

    try:
        check_env_kwargs(cell.env_id, kwargs, *algo)
    except ConfigError:
        raise
    except TypeError as exc:
        raise ConfigError(f"sweep cell {cell.id}: {cell.env_id} refuses the env settings "
                          f"{cell.env_kwargs}: {exc}") from None


def _train_config(cell: Cell, out: str):
    from ...agents.config import TrainConfig

    a = cell.agent
    extra = {k: a[k] for k in ("n_envs", "eval_every", "eval_episodes", "checkpoint_every")
             if k in a}
    return TrainConfig(env=cell.env_id, algo=a["algo"], timesteps=a["timesteps"],
                       seed=cell.seed, out=out, env_kwargs=dict(cell.env_kwargs),
                       hyperparams=dict(a.get("hyperparams", {})), progress=False, **extra)


def print_plan(cells: list[Cell]) -> str:
    """A short description of the cells (for ``--dry-run``)."""
    groups: dict[str, int] = {}
    for c in cells:
        groups[c.group] = groups.get(c.group, 0) + 1
    lines = [f"{len(cells)} cells:"] + [f"  {g}: {n} seed(s)" for g, n in groups.items()]
    return "\n".join(lines)
