"""The world registry: each world of moonshot is declared once, and every consumer asks here.

A *world* is an environment family plus everything the testbed needs to run experiments in
it: its planner, how a scenario is replayed for a second trial, how many trials a scenario
allows, the unit of its time axis, how its episodes are rendered, its default
hyperparameters and its shift axes (:class:`ShiftAxis`). The command line, the evaluator, the
demo, the benchmark and training look a world up by its short name or any of its env ids
(:func:`get_world`); nothing outside the declarations compares world names.

Adding a world is one module with a :class:`World` and one :func:`register_world` call::

    from moonshot.worlds import World, register_world

    register_world(World(name="drone", title="DroneHop", env_id="mylab/DroneHop-v0",
                         planner="mylab.planner:DronePlanner", episode_unit="hop"))

Such a module becomes a *plug-in* that every command finds by name (``moonshot plan
drone``), in every process (Ray workers too), when it is declared in the entry-point group
``moonshot.worlds`` of an installed package or named in ``MOONSHOT_WORLDS=module[,module]``
(see :mod:`moonshot.worlds.plugins`). They are imported when a name is unknown. The module
that registered a world is recorded (:attr:`World.module`), and run folders of the world
record it, so loading a folder later imports it first.

This module imports nothing heavy: planners and renderers are named by import strings
(``"package.module:attribute"``) and loaded on first use, so that a planner run never loads
torch and ``import moonshot`` stays fast.

Why one module of ~520 lines: the registry's declarations (World, ShiftAxis, SeedSets) and
its lookups are the public contract of a world, read in one place; plug-in loading is its
own module (plugins.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from ..agents.base import Agent

#: A callable, or the import string ``"package.module:attribute"`` of one.
Ref = Callable[..., Any] | str
#: The algorithms of agents that learn their own model (:attr:`World.learners`), trained by
#: moonshot's own trainer rather than SB3.
LEARNER_ALGOS = ("pets", "sysid")


def load_ref(ref: Ref) -> Any:
    """The object an import string names (``"pkg.mod:attr"``), or ``ref`` if not a string."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise ConfigError(f"expected 'package.module:attribute', got {ref!r}")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ShiftAxis:
    """One axis of the generalization ladder: how far the world moves in one respect.

    :param name: the axis (``altitude``).
    :param levels: env settings per severity level; level 0 is ``{}``, the training
        distribution, and each level moves further from it.
    :param labels: what each level is, in words and units (``"400-500 km"``).
    :param description: what the axis changes.
    :param perceivable: whether a person in the agent's place could know the change (it is in
        the observation or the perception view): a planner should then keep its success; an
        unperceivable axis (execution noise, a model mismatch) shows what corrections cost.
    """

    name: str
    levels: tuple[dict, ...]
    labels: tuple[str, ...]
    description: str = ""
    perceivable: bool = True

    def __post_init__(self) -> None:
        if not self.levels or self.levels[0]:
            raise ConfigError(f"shift axis {self.name!r}: level 0 must be {{}} (training)")
        if len(self.labels) != len(self.levels):
            raise ConfigError(f"shift axis {self.name!r}: one label per level")

    @classmethod
    def combine(cls, axes: Iterable[ShiftAxis]) -> ShiftAxis:
        """The ladder that walks ``axes`` together: level k sets every axis's level k (as
        many levels as the shortest axis has). Two axes that set one key differently at
        some level cannot be combined (a :class:`ConfigError` names them and the key)."""
        axes = list(axes)
        if len(axes) < 2:
            raise ConfigError("a combined shift axis needs two axes or more (a+b)")
        levels = []
        for k in range(min(len(a.levels) for a in axes)):
            merged: dict = {}
            owner: dict = {}
            for a in axes:
                for key, val in a.levels[k].items():
                    if key in merged and merged[key] != val:
                        raise ConfigError(
                            f"shift axes {owner[key]!r} and {a.name!r} cannot be combined: "
                            f"at level {k} both set {key!r} ({merged[key]!r} and {val!r})")
                    merged[key], owner[key] = val, a.name
            levels.append(merged)
        n = len(levels)
        return cls(name="+".join(a.name for a in axes), levels=tuple(levels),
                   labels=tuple(" + ".join(a.labels[k] for a in axes) for k in range(n)),
                   description=" and ".join(a.description or a.name for a in axes),
                   perceivable=all(a.perceivable for a in axes))

    def settings(self, level: int) -> dict:
        """The env settings of ``level`` (a :class:`ConfigError` names the valid levels)."""
        if isinstance(level, bool) or not isinstance(level, int) or \
                not 0 <= level < len(self.levels):
            raise ConfigError(f"invalid level {level!r} of shift axis {self.name!r}; levels are "
                              f"0 .. {len(self.levels) - 1}")
        return dict(self.levels[level])


#: The seed sets of an evaluation (:meth:`World.seed_range`): ``dev`` for development
#: (planners, agents, hyperparameters), ``test`` for the reported figures only, ``legacy`` the
#: rule of the figures published before the protocol (docs/protocol.md).
SEED_SETS = ("dev", "test", "legacy")


@dataclass(frozen=True)
class SeedSets:
    """Where a world's development and test seeds lie (docs/protocol.md, "Seed ranges").

    Each set is a block of the seed space; inside a block each *place* - a split, or a shift
    axis (whose levels share their place, so a ladder is paired across levels) - owns
    ``place_size`` consecutive seeds, and inside a place evaluation seed ``s`` owns the
    ``seeds_per_eval`` seeds starting at ``place + s * seeds_per_eval``. The places are, in
    order, the splits of :attr:`places`, then the world's :attr:`World.seed_order` (its
    append-only list of axes and combined ladders), then any axis or ladder it does not list,
    in declaration order (see :meth:`World.seed_places`): a new axis or ladder is appended,
    so the seeds of every existing place stay where they are.
    The blocks do not overlap, so no dev seed is a test seed (checked on construction), and
    both lie above the seeds training runs reset their envs with (``seed``, ``seed + 1``, ...)
    and above the legacy evaluation seeds (below 20,000).

    :param dev: first seed of the development block.
    :param test: first seed of the test block.
    :param block_size: seeds per block.
    :param place_size: seeds per place (split or axis) inside a block.
    :param seeds_per_eval: seeds per evaluation seed: the most scenarios one evaluation meets.
    :param places: the splits, first places of a block.
    """

    dev: int = 100_000_000
    test: int = 1_000_000_000
    block_size: int = 500_000_000
    place_size: int = 10_000_000
    seeds_per_eval: int = 5_000
    places: tuple[str, ...] = ("train", "new")

    def __post_init__(self) -> None:
        lo, hi = sorted((self.dev, self.test))
        if lo + self.block_size > hi or hi + self.block_size > 2**31 - 1:
            raise ConfigError(f"seed sets: the dev block [{self.dev:,}, +{self.block_size:,}) "
                              f"and the test block [{self.test:,}, +{self.block_size:,}) must "
                              "not overlap and must lie below 2**31")
        if self.place_size % self.seeds_per_eval or self.block_size % self.place_size:
            raise ConfigError("seed sets: place_size must be a multiple of seeds_per_eval, "
                              "block_size of place_size")

    @property
    def evaluation_seeds(self) -> int:
        """How many evaluation seeds (``0 .. n-1``) a place holds."""
        return self.place_size // self.seeds_per_eval

    def block(self, seed_set: str) -> range:
        """Every seed of ``seed_set`` (``dev`` or ``test``)."""
        if seed_set not in ("dev", "test"):
            raise ConfigError(f"unknown seed set {seed_set!r}; the ranged sets are dev, test")
        start = self.dev if seed_set == "dev" else self.test
        return range(start, start + self.block_size)


@dataclass(frozen=True)
class World:
    """The declaration of one world (see the module docstring).

    :param name: short name used on the command line (``moon``).
    :param title: display name in tables and plots (``MoonLaunch``).
    :param env_id: the registered Gymnasium id used by default (the newest version).
    :param env_ids: every registered id of the world (older versions stay usable); defaults
        to ``(env_id,)``.
    :param planner: the model-based planner: a class or factory taking keyword options, or
        its import string. ``None``: the world has no planner.
    :param agents: further agents the world names itself, reachable on the command line as
        ``NAME:WORLD`` (with options ``NAME:WORLD:key=value``): name -> a class or factory
        taking keyword options, or its import string (``{"hopper":
        "mylab.hopping:HopAgent"}`` makes ``hopper:drone``).
    :param trials_per_scenario: real trials an agent may take at one scenario (a planner
        corrects between them; a frozen policy cannot); 1 means every episode is a new case.
    :param replay_option: the ``reset(options=...)`` key that replays a scenario for another
        trial (``"scenario_id"``); ``None`` when scenarios are not replayed.
    :param episode_unit: what one episode is (``launch``, ``drive``), for tables.
    :param death_label: what a death (``info["death"]``: the vehicle destroyed) is called in
        tables and plots (``rockets lost``, ``crashes``).
    :param scenario_unit: what one scenario is (``scenario``, ``drive``).
    :param time_unit: unit of :attr:`time_to_goal` (``days``, ``s``).
    :param time_to_goal: ``f(final_info, length, env) -> float | None``: how long a
        successful episode took, in ``time_unit``.
    :param task_key: the env config key that names the task (``target``), if any: shown in
        labels and settable with ``--target``.
    :param frames: renderer ``f(spec, split, episodes, seed, view=None, **kw) -> frames``;
        ``None``: every step's ``env.render()`` in ``rgb_array`` mode.
    :param render_views: the ``view`` values the renderer accepts (first = default).
    :param render_fps: frames per second of rendered videos.
    :param hyperparams: default hyperparameters per algorithm: a mapping ``{algo: {...}}``,
        or the name of a section of the packaged ``moonshot/agents/hyperparams.yaml``.
    :param pretrained: folder name of a pretrained agent under ``moonshot/pretrained``.
    :param benchmark: ``f(repeats, seconds, quick) -> dict`` of throughput figures.
    :param shift_axes: the world's shift axes (name -> declaration), for the ladder.
    :param combined_axes: combined ladders the world ships (``"friction+traffic"``: level k
        of each named axis together, see :meth:`axis`); each is checked when declared.
    :param episode_steps: ``f(env_kwargs) -> int``: the longest an episode can last (env
        steps); sizes the default evaluation budget of training runs.
    :param split_keys: env settings that redraw a split's distribution (a domain-randomized
        agent's training ranges); evaluations on a split, or a shift level, leave them out.
    :param range_keys: env settings left out of evaluations only when given as a range
        ``[low, high]`` (domain randomization); a fixed value is a condition of the task
        (a car trained on snow is evaluated on snow) and stays.
    :param module: the module that declared the world (set by :func:`register_world`):
        importing it registers the world in another process.
    :param seed_sets: where its development and test seeds lie, per split and shift axis
        (:meth:`seed_range`).
    :param learners: the agents that learn their own model of this world, trained by
        ``moonshot train WORLD --algo ALGO`` without SB3 (:mod:`moonshot.agents.
        model_learning`): ``{algo: class or import string}``, ``algo`` one of ``pets``,
        ``sysid``. MoonLaunch's and CityNav's are moonshot's own; a plug-in world names its
        own here.
    :param seed_order: the order in which its shift axes and combined ladders own their seed
        places after the splits, **append-only**: a new axis or ladder is added at its end,
        never in between, so that no existing place's seeds move (docs/protocol.md, "Seed
        ranges"). Axes and ladders it does not list take the places after it, in
        declaration order (shift axes, then combined ladders): a world that never lists
        any keeps the derived order.
    :param batched_evaluation: whether an evaluation that logs no episode (a training run's
        ``evaluations.csv``, ``moonshot tune``) may run a policy's episodes side by side in
        the env's native vector version. The policy then acts on a batch, and a network's
        batched forward pass can differ from one observation's in the last bits - enough,
        in a long episode of a chaotic body, to change an outcome. ``False`` walks them one
        by one (the same episodes as a logged evaluation).
    """

    name: str
    title: str
    env_id: str
    env_ids: tuple[str, ...] = ()
    planner: Ref | None = None
    agents: Mapping[str, Ref] = field(default_factory=dict)
    trials_per_scenario: int = 1
    replay_option: str | None = None
    episode_unit: str = "episode"
    death_label: str = "deaths"
    scenario_unit: str = "scenario"
    time_unit: str = "steps"
    time_to_goal: Callable[[dict, int, Any], float | None] | None = None
    task_key: str | None = None
    frames: Ref | None = None
    render_views: tuple[str, ...] = ()
    render_fps: int = 10
    hyperparams: Mapping[str, Mapping[str, Any]] | str | None = None
    pretrained: str | None = None
    benchmark: Ref | None = None
    shift_axes: Mapping[str, ShiftAxis] = field(default_factory=dict)
    combined_axes: tuple[str, ...] = ()
    episode_steps: Callable[[Mapping[str, Any]], int] | None = None
    split_keys: tuple[str, ...] = ()
    range_keys: tuple[str, ...] = ()
    module: str = ""
    seed_sets: SeedSets = field(default_factory=SeedSets)
    seed_order: tuple[str, ...] = ()
    learners: Mapping[str, Ref] = field(default_factory=dict)
    batched_evaluation: bool = True

    def __post_init__(self) -> None:
        if not self.env_ids:
            object.__setattr__(self, "env_ids", (self.env_id,))
        elif self.env_id not in self.env_ids:
            object.__setattr__(self, "env_ids", (*self.env_ids, self.env_id))
        if self.trials_per_scenario < 1:
            raise ConfigError(f"world {self.name!r}: trials_per_scenario must be >= 1")
        if self.trials_per_scenario > 1 and self.replay_option is None:
            raise ConfigError(f"world {self.name!r}: several trials per scenario need a "
                              "replay_option to replay the scenario")
        for name in self.combined_axes:
            if "+" not in name:
                raise ConfigError(f"world {self.name!r}: combined axis {name!r} joins no "
                                  "axes (a+b)")
            self.axis(name)  # every part exists, no two set one key differently
        for algo in self.learners:
            if algo not in LEARNER_ALGOS:
                raise ConfigError(f"world {self.name!r}: learner {algo!r} is not one of "
                                  f"{list(LEARNER_ALGOS)} (the algorithms `moonshot train "
                                  "--algo` trains without SB3)")
        for name in self.agents:
            if not name.isidentifier() or name in ("planner", "search", "pretrained"):
                raise ConfigError(f"world {self.name!r}: agent name {name!r} must be an "
                                  "identifier other than planner, search and pretrained")
        known = (*self.shift_axes, *self.combined_axes)
        for name in self.seed_order:
            if name not in known:
                raise ConfigError(f"world {self.name!r}: seed_order names {name!r}, which is "
                                  f"neither a shift axis nor a combined ladder of it; it has: "
                                  f"{', '.join(known)}")
        if len(set(self.seed_order)) != len(self.seed_order):
            raise ConfigError(f"world {self.name!r}: seed_order lists a place twice")
        places = len(self.seed_places())
        if places * self.seed_sets.place_size > self.seed_sets.block_size:
            raise ConfigError(f"world {self.name!r}: {places} seed places (splits and shift "
                              f"axes) do not fit a seed block of "
                              f"{self.seed_sets.block_size:,} seeds")

    # --- what consumers ask -------------------------------------------------------------
    def make_planner(self, **options: Any) -> Agent:
        """A fresh planner of this world (``options`` go to its constructor)."""
        if self.planner is None:
            raise ConfigError(f"world {self.name!r} has no planner")
        return load_ref(self.planner)(**options)

    def make_agent(self, name: str, **options: Any) -> Agent:
        """A fresh agent ``name`` of the world's :attr:`agents` (``options`` go to its
        constructor); a :class:`ConfigError` lists the names it has."""
        if name not in self.agents:
            raise ConfigError(f"world {self.name!r} has no agent {name!r}"
                              f"{did_you_mean(name, list(self.agents))}; its agents: "
                              f"{', '.join(self.agents) or 'none'}")
        return load_ref(self.agents[name])(**options)

    def replay(self, scenario_id: int) -> dict | None:
        """``reset`` options that replay scenario ``scenario_id`` (``None``: no replay)."""
        return None if self.replay_option is None else {self.replay_option: int(scenario_id)}

    def hyperparam_table(self) -> Mapping[str, Mapping[str, Any]]:
        """The world's default hyperparameters of every algorithm it declares them for."""
        table = self.hyperparams
        if isinstance(table, str):
            from importlib import resources

            import yaml

            text = resources.files("moonshot.agents").joinpath("hyperparams.yaml").read_text()
            table = yaml.safe_load(text).get(table, {})
        return table or {}

    def default_hyperparams(self, algo: str) -> dict:
        """The packaged default hyperparameters of ``algo`` in this world."""
        table = self.hyperparam_table()
        if algo not in table:
            raise ConfigError(
                f"world {self.name!r} has no default hyperparameters for {algo!r}; "
                f"it has defaults for: {', '.join(sorted(table)) or 'no algorithm'}")
        return dict(table[algo])

    def evaluation_kwargs(self, env_kwargs: Mapping[str, Any]) -> dict:
        """An agent's env settings as its evaluations on a split use them: without the
        settings that redraw the split (:attr:`split_keys`, and :attr:`range_keys` given as
        ranges)."""
        return {k: v for k, v in env_kwargs.items() if k not in self.split_keys and not (
            k in self.range_keys and isinstance(v, (list, tuple)))}

    def seed_places(self) -> tuple[str, ...]:
        """The places of a seed block, in order: the splits, the axes and combined ladders
        of :attr:`seed_order` (append-only), then those it does not list - the shift axes,
        then the combined ladders, in declaration order."""
        rest = [n for n in (*self.shift_axes, *self.combined_axes) if n not in self.seed_order]
        return (*self.seed_sets.places, *self.seed_order, *rest)

    def seed_range(self, seed_set: str, split: str, axis: str | None = None) -> range:
        """The seeds ``seed_set`` (``dev``, ``test``) gives evaluations on ``split``, or on
        shift ``axis`` (every level of it) when given; see :class:`SeedSets`."""
        sets = self.seed_sets
        place = axis if axis is not None else split
        if axis is not None:
            self.axis(axis)
        elif split not in sets.places:
            raise ConfigError(f"unknown split {split!r} of the {self.name} world; its splits: "
                              f"{', '.join(sets.places)}")
        places = self.seed_places()
        if place not in places:  # a combination the world does not declare: its first axis's
            place = place.split("+")[0]  # place (dev and test stay disjoint: other blocks)
        start = sets.block(seed_set).start + places.index(place) * sets.place_size
        return range(start, start + sets.place_size)

    def evaluation_seeds(self, seed_set: str, split: str, seed: int, n: int,
                         axis: str | None = None) -> range:
        """The ``n`` seeds of evaluation seed ``seed`` in :meth:`seed_range` (a
        :class:`ConfigError` when ``seed`` or ``n`` does not fit the place)."""
        sets = self.seed_sets
        if isinstance(seed, bool) or not 0 <= int(seed) < sets.evaluation_seeds:
            raise ConfigError(f"seed {seed!r} is outside the {seed_set} seed set, which has "
                              f"evaluation seeds 0 .. {sets.evaluation_seeds - 1} (seed set "
                              "legacy takes any seed: the rule before the protocol)")
        if not 1 <= n <= sets.seeds_per_eval:
            raise ConfigError(f"{n} scenarios do not fit one evaluation of the {seed_set} seed "
                              f"set (at most {sets.seeds_per_eval:,})")
        start = self.seed_range(seed_set, split, axis).start + int(seed) * sets.seeds_per_eval
        return range(start, start + n)

    def axis(self, name: str) -> ShiftAxis:
        """The shift axis ``name``, or the combined ladder ``a+b+c`` of several (see
        :meth:`ShiftAxis.combine`; a :class:`ConfigError` lists the world's axes)."""
        if "+" in name and name not in self.shift_axes:
            return ShiftAxis.combine(self.axis(part) for part in name.split("+"))
        if name not in self.shift_axes:
            combined = f"; combined ladders: {', '.join(self.combined_axes)}" \
                if self.combined_axes else ""
            hint = did_you_mean(name, [*self.shift_axes, *self.combined_axes])
            raise ConfigError(f"unknown shift axis {name!r}{hint} of the {self.name} world; its "
                              f"axes: {', '.join(self.shift_axes) or 'none'} (or several "
                              f"joined by '+'{combined})")
        return self.shift_axes[name]

    def task(self, env_kwargs: Mapping[str, Any]) -> str:
        """The task label of a run (``soi``), from its env kwargs or the env's default."""
        if self.task_key is None:
            return ""
        if self.task_key in env_kwargs:
            return str(env_kwargs[self.task_key])
        return str(env_defaults(self.env_id).get(self.task_key, ""))


def env_defaults(env_id: str) -> dict:
    """The ``default_config()`` of a registered env's class, if it declares one."""
    import gymnasium as gym

    spec = gym.spec(env_id)
    entry = spec.entry_point
    cls = load_ref(entry) if isinstance(entry, str) else entry
    getter = getattr(cls, "default_config", None)
    return dict(getter()) if callable(getter) else {}


_WORLDS: dict[str, World] = {}


def register_world(world: World, replace: bool = False, module: str | None = None) -> World:
    """Add ``world`` to the registry (``replace=True`` to redeclare a name); returns it.

    :param module: the module that declares the world (default: the caller's, unless it is
        a script's ``__main__``, which another process cannot import).
    """
    if not world.module:
        if module is None:
            module = sys._getframe(1).f_globals.get("__name__", "")
        if module and module != "__main__":
            world = dataclasses.replace(world, module=module)
    if not replace:
        if world.name in _WORLDS:
            raise ConfigError(f"a world named {world.name!r} is registered already")
        for other in _WORLDS.values():
            taken = set(other.env_ids) & set(world.env_ids)
            if taken:
                raise ConfigError(f"env id(s) {sorted(taken)} belong to world {other.name!r}")
    _WORLDS[world.name] = world
    return world


def unregister_world(name: str) -> None:
    """Remove a world (tests that register a temporary one)."""
    _WORLDS.pop(name, None)


def worlds() -> list[World]:
    """Every registered world, in registration order (plug-ins once :func:`load_plugins` or
    a lookup of an unknown name has imported them; the demo and the benchmark run the
    built-in ones)."""
    return list(_WORLDS.values())


def load_plugins() -> list[str]:
    """Import the world plug-ins not tried yet in this process: the entry points of group
    ``moonshot.worlds`` and the modules of ``MOONSHOT_WORLDS``; returns the errors of those
    that failed (each names the plug-in and its exception)."""
    from .plugins import load_plugins as load

    return load(lambda world, module: register_world(world, replace=True, module=module))


def known_worlds() -> str:
    """``moon (moonshot/MoonLaunch-v0), city (...)``: for error messages."""
    return ", ".join(f"{w.name} ({', '.join(w.env_ids)})" for w in _WORLDS.values())


def _find(key: str) -> World | None:
    if key in _WORLDS:
        return _WORLDS[key]
    return next((w for w in _WORLDS.values() if key in w.env_ids), None)


def get_world(name_or_id: str) -> World:
    """The world with this short name or env id, importing the world plug-ins when the name
    is unknown; a :class:`ConfigError` lists the known ones."""
    key = str(name_or_id)
    world = _find(key)
    if world is not None:
        return world
    failed = load_plugins()
    world = _find(key)
    if world is not None:
        return world
    if failed:  # the likely cause first
        raise ConfigError(f"unknown world or env {key!r}: a world plug-in failed to load: "
                          f"{'; '.join(failed)}. Known worlds: {known_worlds()}")
    from .plugins import ENTRY_POINT_GROUP, ENV_VAR

    hint = did_you_mean(key, [n for w in _WORLDS.values() for n in (w.name, *w.env_ids)])
    raise ConfigError(f"unknown world or env {key!r}{hint}; known worlds: {known_worlds()} "
                      f"(a world of your own: name its module in {ENV_VAR}, or declare it "
                      f"in the entry-point group {ENTRY_POINT_GROUP})")


def run_modules(*names: str) -> list[str]:
    """The modules a run folder records so that loading it imports them first: those that
    declared the worlds of ``names`` (world names or env ids), outside moonshot itself."""
    out = []
    for name in names:
        module = get_world(name).module
        if module and module.split(".")[0] != __name__.split(".")[0] and module not in out:
            out.append(module)
    return out


def resolve_env_id(name_or_id: str) -> str:
    """A short name maps to the world's default env id; a registered id maps to itself."""
    world = get_world(name_or_id)
    return world.env_id if name_or_id == world.name else str(name_or_id)


def display_env(env_id: str) -> str:
    """Display name of an env id: the world's title, plus the version when it is not the
    default one (``CityNav``, ``CityNav-v0``); unknown ids are returned unchanged."""
    try:
        world = get_world(env_id)
    except ConfigError:
        return str(env_id)
    if env_id in (world.name, world.env_id):
        return world.title
    return f"{world.title}-{str(env_id).rsplit('-', 1)[-1]}"


def check_names(names: Iterable[str]) -> list[World]:
    """The worlds of ``names`` (each validated)."""
    return [get_world(n) for n in names]


from . import moon  # noqa: E402,F401,I001  (the built-in declarations register themselves)
from . import city  # noqa: E402,F401,I001

__all__ = ["World", "ShiftAxis", "SeedSets", "SEED_SETS", "LEARNER_ALGOS", "register_world",
           "unregister_world",
           "worlds", "get_world", "resolve_env_id", "display_env", "known_worlds", "load_ref",
           "env_defaults", "load_plugins", "run_modules"]
