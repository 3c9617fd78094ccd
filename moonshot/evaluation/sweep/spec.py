"""The sweep spec: its keys, loading, expansion into cells and the checks made before any
task starts (the spec format is in :mod:`moonshot.evaluation.sweep`).

Why one module of ~470 lines: the spec's schema, its checks and its expansion into cells are
one contract (the schema generates both the checks and ``sweep --help``).
"""

from __future__ import annotations

import copy
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...errors import ConfigError, check_keys, did_you_mean
from ...worlds import LEARNER_ALGOS, World, get_world, resolve_env_id


@dataclass(frozen=True)
class SpecKey:
    """One key of the sweep spec: the table below is the single source of the keys a spec
    accepts, the checks of simple values and the key list of ``moonshot sweep --help``."""

    name: str
    kind: str  #: what a value may be, in words (the kinds in :data:`_KIND_CHECKS` are checked)
    default: Any  #: the value when the key is absent (:data:`REQUIRED`, or None: not set)
    doc: str  #: one line for ``moonshot sweep --help``


REQUIRED = "required"

#: The spec's sections and their keys, in the order ``moonshot sweep --help`` lists them.
SCHEMA: dict[str, tuple[SpecKey, ...]] = {
    "top-level": (
        SpecKey("name", "text", None, "the sweep's name (progress bar, report title)"),
        SpecKey("world", "name | list", None, "a registered world (moon, city), or a list "
                "of worlds; then env_kwargs, agents, evaluate and relearn may map each "
                "world's name to its own; world or env is required"),
        SpecKey("env", "env id", None, "a full env id instead of world"),
        SpecKey("env_kwargs", "mapping", {}, "env settings for every cell (any the env accepts)"),
        SpecKey("env_grid", "mapping of lists", {}, "one cell per combination of these env "
                "settings"),
        SpecKey("num_train_maps", "list", None, "(city) a grid over the training maps"),
        SpecKey("agents", "list", REQUIRED, "the agents: RL agents {algo: ...} or planners "
                "{planner: true} (keys below)"),
        SpecKey("seeds", "list of int >= 0", [0], "one cell per seed and agent"),
        SpecKey("seed_set", "dev | test | legacy", "dev", "the seeds of every cell's "
                "evaluations and plan runs (docs/protocol.md): test only in the results specs"),
        SpecKey("evaluate", "mapping", {}, "each cell's evaluation (keys below)"),
        SpecKey("shift", "mapping", None, "each cell's shift ladder (keys below)"),
        SpecKey("relearn", "mapping", None, "fine-tune RL cells on the new split or at a "
                "shift level (keys below)"),
        SpecKey("resources", "mapping", {}, "what each cell asks of Ray (keys below)"),
        SpecKey("max_retries", "int >= 0", 3, "the retries of a cell whose worker died"),
        SpecKey("max_cells", "int >= 1", None, "the largest grid the spec may expand to "
                "(default: 10,000); a grid over it is refused before it is expanded"),
    ),
    "RL agent": (
        SpecKey("algo", "name", REQUIRED,
                "a stable-baselines3 or sb3-contrib algorithm (ppo, sac, td3, a2c, ddpg, "
                "ppo_lstm, tqc, ...) or an agent that learns its own model (pets, sysid)"),
        SpecKey("timesteps", "int >= 1", REQUIRED, "the training budget in env steps"),
        SpecKey("hyperparams", "mapping", {}, "the algorithm's hyperparameters"),
        SpecKey("n_envs", "int >= 1", None, "parallel training envs (default: the world's)"),
        SpecKey("label", "text", None, "the agent's name in tables (default: algo)"),
        SpecKey("eval_every", "int >= 1", None, "env steps between training-time "
                "evaluations"),
        SpecKey("eval_episodes", "int >= 1", None, "episodes per training-time evaluation"),
        SpecKey("checkpoint_every", "int >= 1", None, "env steps between checkpoints"),
        SpecKey("env_kwargs", "mapping", {}, "env settings of this agent's cells"),
        SpecKey("seeds", "list of int >= 0", None, "this agent's seeds instead of the spec's"),
    ),
    "planner agent": (
        SpecKey("planner", "true", REQUIRED, "the world's planner"),
        SpecKey("options", "mapping", {}, "the planner's options (e.g. model)"),
        SpecKey("episodes", "int >= 1", None, "planned scenarios (default: evaluate "
                "episodes)"),
        SpecKey("label", "text", None, "the agent's name in tables (default: planner)"),
        SpecKey("max_trials", "int >= 1", None, "trials per scenario (default: the world's)"),
        SpecKey("env_kwargs", "mapping", {}, "env settings of this agent's cells"),
        SpecKey("seeds", "list of int >= 0", None, "this agent's seeds instead of the spec's "
                "(e.g. [0] for a planner that draws nothing at random)"),
    ),
    "evaluate": (
        SpecKey("splits", "list of train | new", ["train", "new"], "the splits evaluated"),
        SpecKey("episodes", "int >= 1", 100, "scenarios per split"),
        SpecKey("max_trials", "int >= 1", None, "trials per scenario (default: the world's)"),
        SpecKey("seed", "int >= 0", 1000, "the evaluation seed (0 .. 1999 in the dev and "
                "test seed sets)"),
    ),
    "shift": (
        SpecKey("axis", "name", None, "one shift axis of the world (axis or axes)"),
        SpecKey("axes", "list | all", None, "several shift axes, or all of the world's"),
        SpecKey("levels", "list of int", None, "the levels (default: every level)"),
        SpecKey("episodes", "int >= 1", None, "scenarios per level (default: evaluate "
                "episodes)"),
    ),
    "relearn": (
        SpecKey("timesteps", "int >= 1", REQUIRED, "the fine-tuning budget in env steps"),
        SpecKey("axis", "name", None, "relearn at a shift level instead of the new split"),
        SpecKey("level", "int", None, "the shift level (with axis)"),
        SpecKey("tolerance", "number >= 0", None, "how close to the old success counts as "
                "recovered (default: 0.05 at a shift level, else 0)"),
    ),
    "resources": (
        SpecKey("num_cpus", "number > 0", 1, "CPUs per cell"),
        SpecKey("num_gpus", "number >= 0", 0, "GPUs per cell"),
    ),
}


#: The largest grid a spec may expand to unless it says ``max_cells``: the count is made
#: before the grid is built, so a typo of a few zeros fails at once instead of filling memory.
MAX_CELLS = 10_000


def keys(section: str) -> tuple[str, ...]:
    """The keys of one section of :data:`SCHEMA`."""
    return tuple(k.name for k in SCHEMA[section])


def defaults(section: str) -> dict[str, Any]:
    """The keys of ``section`` that have a default, and their defaults (copies)."""
    return {k.name: copy.deepcopy(k.default) for k in SCHEMA[section]
            if k.default is not None and k.default != REQUIRED}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_KIND_CHECKS = {
    "int >= 0": lambda v: _is_int(v) and v >= 0,
    "int >= 1": lambda v: _is_int(v) and v >= 1,
    "number > 0": lambda v: _is_number(v) and v > 0,
    "number >= 0": lambda v: _is_number(v) and v >= 0,
}


def check_section(values: dict, section: str, where: str) -> None:
    """Unknown keys of ``values`` (listing the known ones) and simple values of the wrong
    kind raise :class:`ConfigError`; ``where`` names the place in the spec."""
    check_keys(values, keys(section), where)
    for key in SCHEMA[section]:
        check = _KIND_CHECKS.get(key.kind)
        if check is not None and key.name in values and not check(values[key.name]):
            raise ConfigError(f"{where}: {key.name} must be {_KIND_WORDS[key.kind]} "
                              f"({key.doc}), got {values[key.name]!r}")


_KIND_WORDS = {"int >= 0": "an integer >= 0", "int >= 1": "an integer >= 1",
               "number > 0": "a number > 0", "number >= 0": "a number >= 0"}


def schema_help(width: int = 100) -> str:
    """The spec's keys as text, one line per key (the epilog of ``moonshot sweep --help``)."""
    import textwrap

    lines = ["spec keys (YAML; example: moonshot/sweeps/moon-transfer.yaml):"]
    for section, entries in SCHEMA.items():
        lines.append(f"  {section}:")
        for k in entries:
            default = ("" if k.default in (None, {}) else
                       "; required" if k.default == REQUIRED else f"; default {k.default}")
            text = f"    {k.name:<17} {k.kind:<22} {k.doc}{default}"
            lines += textwrap.wrap(text, width, subsequent_indent=" " * 45)
    return "\n".join(lines)


SPEC_KEYS = keys("top-level")
RL_KEYS = keys("RL agent")
PLANNER_KEYS = keys("planner agent")
EVALUATE_KEYS = keys("evaluate")
SHIFT_KEYS = keys("shift")
RELEARN_KEYS = keys("relearn")
RESOURCE_KEYS = keys("resources")


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
    seed_set: str = "dev"  #: the seeds of its evaluations and plan run (docs/protocol.md)

    @property
    def is_planner(self) -> bool:
        return bool(self.agent.get("planner"))


def shipped_specs() -> dict[str, Path]:
    """The sweep specs shipped in the package (``moonshot/sweeps/NAME.yaml``), by name."""
    from importlib import resources

    root = Path(str(resources.files("moonshot") / "sweeps"))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))} if root.is_dir() else {}


def spec_path(path: str | os.PathLike) -> Path:
    """The spec file ``path`` names: the file itself, else a shipped spec of that name (with
    or without ``.yaml``); neither is a ``FileNotFoundError`` listing the shipped ones."""
    path = Path(path)
    if path.is_file():
        return path
    shipped = shipped_specs()
    name = path.name[:-len(".yaml")] if path.name.endswith(".yaml") else path.name
    if path.parent == Path() and name in shipped:
        return shipped[name]
    raise FileNotFoundError(f"no such sweep spec: {path}{did_you_mean(name, shipped)}; "
                            f"shipped specs (by name): {', '.join(shipped) or 'none'}")


def load_spec(path: str | os.PathLike) -> dict:
    """The sweep spec at ``path`` (a file, or a shipped spec's name: :func:`spec_path`)."""
    path = spec_path(path)
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


def _as_mapping(spec: dict, key: str) -> dict:
    """``spec[key]`` as a mapping (empty if absent), keys unchecked."""
    val = spec.get(key) or {}
    if not isinstance(val, dict):
        raise ConfigError(f"sweep spec: {key} must be a mapping, got {val!r}")
    return dict(val)


def _mapping(spec: dict, key: str, known=None) -> dict:
    """``spec[key]`` as a mapping, its keys checked: those of ``known`` or, by default, of
    the schema's section ``key``."""
    val = _as_mapping(spec, key)
    if known is None:
        check_section(val, key, f"sweep spec {key}")
    else:
        check_keys(val, known, f"sweep spec {key}")
    return dict(val)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text)).strip("-")


def expand(spec: dict) -> list[Cell]:
    """The cells of a spec, every value checked (see the module docstring). ``world`` may be
    a list of worlds; ``env_kwargs`` then maps each world's name to its settings."""
    check_section(spec, "top-level", "sweep spec")
    if isinstance(spec.get("world"), list):
        names = _list(spec, "world")
        per_world = spec.get("env_kwargs") or {}
        if not isinstance(per_world, dict) or set(per_world) - set(names):
            raise ConfigError("sweep spec: with several worlds, env_kwargs maps each world's "
                              f"name ({', '.join(map(str, names))}) to its settings")
        if "env" in spec or "env_grid" in spec:
            raise ConfigError("sweep spec: env and env_grid need a single world")
        if len(set(map(str, names))) != len(names):
            raise ConfigError(f"sweep spec: world lists a world twice: {names}")
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
    base_kwargs = _as_mapping(spec, "env_kwargs")
    grid = _as_mapping(spec, "env_grid")
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
    seeds = _seeds(spec, "seeds", [0])
    per_agent = [_seeds(a, f"agents[{k}].seeds", seeds) if isinstance(a, dict) else seeds
                 for k, a in enumerate(agents)]
    _check_grid_size(spec, sum(len(s) for s in per_agent)
                     * math.prod(len(v) for v in grid.values()))
    from ...agents.episodes import check_seed_set, scenario_set

    evaluate = {**defaults("evaluate"), **_mapping(spec, "evaluate")}
    seed_set = spec.get("seed_set", "dev")
    try:
        check_seed_set(seed_set)
    except ConfigError as exc:
        raise ConfigError(f"sweep spec: {exc}") from None
    for sp in _list(evaluate, "splits"):
        if sp not in ("train", "new"):
            raise ConfigError(f"sweep spec: evaluate splits are train and/or new, got {sp!r}")
        try:  # the evaluation seed fits its seed set
            scenario_set(world, sp, evaluate["seed"], evaluate["episodes"],
                         seed_set=seed_set)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"sweep spec: evaluate: {exc}") from None
    shift = _mapping(spec, "shift") or None
    if shift is not None:
        _check_shift(world, shift)
    relearn = _mapping(spec, "relearn") or None
    if relearn is not None:
        _positive(relearn, "timesteps", "relearn")
        if ("axis" in relearn) != ("level" in relearn):
            raise ConfigError("sweep spec: relearn along an axis needs both axis and level")
        if "axis" in relearn:
            world.axis(relearn["axis"]).settings(relearn["level"])
    _mapping(spec, "resources")
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
            for seed in per_agent[k]:
                kwargs = {**base_kwargs, **agent.get("env_kwargs", {}), **values}
                cells.append(Cell(id=f"{group}-s{seed}", group=group, env_id=env_id,
                                  env_kwargs=kwargs, agent=agent, seed=seed,
                                  evaluate=evaluate, shift=shift,
                                  relearn=relearn if _fine_tunes(agent) else None,
                                  grid=values,
                                  seed_set=seed_set))
    return cells


def _fine_tunes(agent: dict) -> bool:
    """Whether the spec's ``relearn`` applies to ``agent``: an SB3 policy, fine-tuned from
    its model file. A planner learns nothing to fine-tune, and an agent that learns its own
    model (pets, sysid) relearns within its evaluations (its relearning cost is measured
    by ``benchmarks/body_adaptation.py`` and the ladders), not from a model file."""
    return "algo" in agent and str(agent["algo"]).lower() not in LEARNER_ALGOS


def _seeds(where: dict, name: str, default: list[int]) -> list[int]:
    """The ``seeds`` of ``where`` (the spec, or one agent, called ``name`` in errors;
    ``default`` where absent): integers >= 0, none repeated."""
    seeds = _list(where, "seeds", default)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"sweep spec: {name} must be integers >= 0, got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"sweep spec: {name} repeat: {seeds}")
    return seeds


def _check_grid_size(spec: dict, cells: int) -> None:
    """Refuse a grid of more than ``max_cells`` (:data:`MAX_CELLS`) cells, counted as agents x
    env-setting combinations x seeds (never expanded for it)."""
    limit = spec.get("max_cells", MAX_CELLS)
    if cells > limit:
        raise ConfigError(f"sweep spec: the grid has {cells:,} cells (agents x env settings x "
                          f"seeds), over the limit of {limit:,}; if you mean it, say so in the "
                          f"spec with max_cells: {cells}")


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
        check_section(agent, "planner agent", f"sweep spec agents[{k}] (a planner)")
        agent = {"options": {}, **agent}
    else:
        check_section(agent, "RL agent", f"sweep spec agents[{k}] (an RL agent)")
        if "algo" not in agent:
            raise ConfigError(f"sweep spec: agents[{k}] needs algo (a stable-baselines3 or "
                              "sb3-contrib algorithm: ppo, sac, td3, ...) or planner: true")
        _positive(agent, "timesteps", f"agents[{k}]")
    return copy.deepcopy(agent)


def _check_shift(world: World, shift: dict) -> None:
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


def shift_axes(world: World, shift: dict) -> list[str]:
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
    from ...agents.config import MODEL_ALGOS, split_hyperparams, validate_config

    cfg = _train_config(cell, "unused")
    validate_config(cfg)
    if cfg.algo in MODEL_ALGOS:  # learns its own model: no SB3 policy to fit to the env
        from ...agents.model_learning import make_agent, resolved_hyperparams

        world = get_world(cell.env_id).name
        make_agent(world, cfg.algo, cell.seed,
                   resolved_hyperparams(world, cfg.algo, dict(cfg.hyperparams)))
        _check_env(cell, kwargs)
        return
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
