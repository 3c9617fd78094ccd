"""The agent registry: every place that takes an agent (``evaluate``, ``compare``,
``render``, the ladder, the Python API) resolves it here.

An agent spec is one of

* ``planner`` or ``planner:WORLD`` - the world's model-based planner, with options after a
  second colon: ``planner:moon:model=patched_conic``, ``planner:city:perception=oracle``;
* a run folder - a training run (its ``model.zip``) or a planner run (``moonshot plan``); a
  sweep's cell folder (``OUT/cells/ID``) stands for its run (``OUT/cells/ID/run``);
* ``search:WORLD`` - the ``simulator-search`` baseline (an ablation that owns the simulator:
  CEM in a copy of the env before each real trial of a one-step world, MPC over rehearsed
  action sequences in a world of many steps), with options after a second colon:
  ``search:moon:population=50,iterations=2``, ``search:city:population=16,horizon=20``;
* ``NAME:WORLD`` - an agent the world names itself (:attr:`~moonshot.worlds.World.agents`;
  a plug-in world declares its own), with options after a second colon:
  ``adapt:body:trial_s=1.5``;
* ``pretrained:NAME`` - an agent shipped in the package (``moonshot pretrained`` lists them;
  :mod:`moonshot.agents.pretrained`), from any folder and from a wheel install;
* ``module:Class`` - a user's :class:`~moonshot.agents.base.Agent` subclass (or a factory
  returning an agent), importable from the current directory or the Python path. Its world
  comes from the caller (``--env``) or from the class attribute ``env_id``.

Further kinds can be added with :func:`register_agent_kind`; an unknown spec is an error that
lists the kinds.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..runlog import read_json
from ..worlds import get_world, resolve_env_id
from ..worlds.plugins import import_recorded, import_user_module
from .base import Agent
from .pretrained import PREFIX, pretrained_agents, pretrained_path


@dataclass
class AgentSpec:
    """A ready agent, the env it acts in and how tables call it.

    :param label: name in tables and plots.
    :param env_id: the env the agent acts in (``""`` if it does not say).
    :param env_kwargs: env settings the agent was made for (a training run's), minus split.
    :param agent: the agent (shared interface).
    :param kind: which registered kind resolved it (``planner``, ``run``, ``class``).
    :param source: the spec as given.
    """

    label: str
    env_id: str
    env_kwargs: dict
    agent: Agent
    kind: str
    source: str
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AgentKind:
    name: str
    matches: Callable[[str], bool]
    load: Callable[[str, str | None], AgentSpec]
    usage: str


_KINDS: list[AgentKind] = []


def register_agent_kind(name: str, matches: Callable[[str], bool],
                        load: Callable[[str, str | None], AgentSpec], usage: str,
                        first: bool = True) -> None:
    """Add a kind of agent spec: ``matches(spec)`` says whether it applies, ``load(spec,
    env)`` builds the :class:`AgentSpec` (``env``: the world the caller wants, or None)."""
    global _KINDS
    _KINDS = [k for k in _KINDS if k.name != name]
    kind = AgentKind(name, matches, load, usage)
    _KINDS = [kind, *_KINDS] if first else [*_KINDS, kind]


def agent_kinds() -> list[str]:
    return [k.usage for k in _KINDS]


def resolve_agent(spec: str | Agent | AgentSpec, env: str | None = None) -> AgentSpec:
    """The :class:`AgentSpec` of ``spec`` (see the module docstring). With ``env`` (a world
    or env id), the agent is checked to belong to that world and acts in that env."""
    if isinstance(spec, AgentSpec):
        return _check_world(spec, env)
    if isinstance(spec, Agent):
        return _check_world(AgentSpec(spec.name, _class_env(type(spec), None), {}, spec,
                                      "object", repr(spec)), env)
    text = str(spec)
    for kind in _KINDS:
        if kind.matches(text):
            return _check_world(kind.load(text, env), env)
    raise FileNotFoundError(f"no such agent {text!r}{did_you_mean(text, _agent_names())}: "
                            "not a run folder, and not one of the agent forms "
                            f"{', '.join(agent_kinds())}")


def _agent_names() -> list[str]:
    """Agent specs a mistyped one may have meant: the planners, searches, pretrained agents
    and the run folders here."""
    from ..worlds import worlds

    names = ["planner", *(f"{k}:{w.name}" for w in worlds()
                          for k in ("planner", "search", *w.agents))]
    names += [PREFIX + n for n in pretrained_agents()]
    return names + [p.name for p in Path().iterdir() if p.is_dir() and not p.name.startswith(".")]


def resolve_agents(specs: Sequence[str | AgentSpec], env: str | None = None) -> list[AgentSpec]:
    """:func:`resolve_agent` of each spec, with labels made distinct: agents that would
    share a label (three run folders all called ``run``) are told apart by as much of their
    path as it takes (``ppo (city-ppo-s0/run)``) or by the spec as given, else by position.
    The specs given are not changed (relabelled copies are returned)."""
    out = [dataclasses.replace(resolve_agent(s, env)) for s in specs]
    for label in {s.label for s in out}:
        same = [s for s in out if s.label == label]
        if len(same) < 2:
            continue
        parts = [Path(s.source).resolve().parts if Path(s.source).is_dir() else (s.source,)
                 for s in same]
        tails = None
        for k in range(1, max(map(len, parts)) + 1):
            tails = ["/".join(p[-k:]) for p in parts]
            if all(tails) and len(set(tails)) == len(tails):
                break
        else:
            tails = None
        for i, s in enumerate(same):
            base = s.agent.name if s.kind == "run" else label  # a run's label names its folder
            s.label = f"{base} ({tails[i]})" if tails else f"{label} #{i + 1}"
    if len({s.label for s in out}) < len(out):  # a new label met another agent's: number all
        for i, s in enumerate(out):
            s.label = f"{s.label} #{i + 1}"
    return out


def load_agent(spec: str | os.PathLike, env: str | None = None) -> Agent:
    """The agent of ``spec``: ``planner``/``planner:WORLD``, a run folder, or
    ``module:Class`` (see :func:`resolve_agent`)."""
    return resolve_agent(str(spec), env).agent


def _check_world(spec: AgentSpec, env: str | None) -> AgentSpec:
    if env is None:
        return spec
    want = get_world(env)
    if spec.env_id and get_world(spec.env_id).name != want.name:
        raise ConfigError(f"agent {spec.source!r} acts in {spec.env_id}, not in the "
                          f"{want.name} world ({want.env_id}): choose an agent of that world")
    # A run of an older version of the world's env acts where the caller asks (same spaces).
    spec.env_id = resolve_env_id(env) if env != want.name or not spec.env_id else spec.env_id
    return spec


# --- planner ---------------------------------------------------------------------------
def _is_planner(text: str) -> bool:
    return text == "planner" or text.startswith("planner:")


def parse_options(text: str, what: str) -> dict:
    """``key=value,key=value`` (values read as YAML) into a dict."""
    import yaml

    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{what}: expected key=value, got {item!r}")
        out[key.strip()] = yaml.safe_load(val)
    return out


def _world_options(text: str, env: str | None, what: str) -> tuple[Any, dict, str]:
    """``(world, options, env_id)`` of a spec ``WHAT[:WORLD[:key=value,...]]``: the world
    named (else the caller's ``env``), the options after the second colon and the env the
    agent acts in (the caller's env when it is of that world)."""
    parts = text.split(":", 2)
    world_name = parts[1] if len(parts) > 1 and parts[1] else env
    options = parse_options(parts[2], f"{what} options of {text!r}") if len(parts) > 2 else {}
    if world_name is None:
        raise ConfigError(f"{what!r} needs a world: write {what}:WORLD (e.g. {what}:moon) "
                          "or give the env")
    world = get_world(world_name)
    env_id = resolve_env_id(env) if env is not None and get_world(env) is world else \
        world.env_id
    return world, options, env_id


def _load_planner(text: str, env: str | None) -> AgentSpec:
    world, options, env_id = _world_options(text, env, "planner")
    try:
        planner = world.make_planner(**options)
    except TypeError as exc:
        raise ConfigError(f"bad planner option in {text!r}: {exc}") from None
    return AgentSpec(planner.name, env_id, {}, planner, "planner", text,
                     info={"planner_options": options})


# --- agents a world names (NAME:WORLD) -------------------------------------------------
_BUILT_IN = ("planner", "search", "pretrained")


def _is_world_agent(text: str) -> bool:
    """``NAME:WORLD[:options]`` where the world (a plug-in is imported if need be) declares
    an agent ``NAME`` (:attr:`~moonshot.worlds.World.agents`)."""
    parts = text.split(":", 2)
    if len(parts) < 2 or parts[0] in _BUILT_IN or not parts[0].isidentifier() or \
            Path(text).exists():
        return False
    try:
        return parts[0] in get_world(parts[1]).agents
    except ConfigError:
        return False


def _load_world_agent(text: str, env: str | None) -> AgentSpec:
    name = text.split(":", 1)[0]
    world, options, env_id = _world_options(text, env, name)
    try:
        agent = world.make_agent(name, **options)
    except TypeError as exc:
        raise ConfigError(f"bad {name} option in {text!r}: {exc}") from None
    return AgentSpec(agent.name, env_id, {}, agent, "world agent", text,
                     info={"agent_options": options})


# --- simulator search ------------------------------------------------------------------
def _is_search(text: str) -> bool:
    return text == "search" or text.startswith("search:")


def _load_search(text: str, env: str | None) -> AgentSpec:
    world, options, env_id = _world_options(text, env, "search")
    steps = world.episode_steps({}) if world.episode_steps is not None else None
    from .simulator_search import search_agent

    try:  # one step: CEM over the action; more: MPC over action sequences
        agent = search_agent(steps, **options)
    except TypeError as exc:
        raise ConfigError(f"bad search option in {text!r}: {exc}") from None
    if not offers_simulator(env_id):
        from ..worlds import worlds

        have = [f"{w.name} ({i})" for w in worlds() for i in w.env_ids if offers_simulator(i)]
        raise ConfigError(f"{text!r}: {env_id} offers no simulator to search in (its "
                          f"perceive() has no 'simulator' view); worlds that do: "
                          f"{', '.join(have) or 'none'}")
    return AgentSpec(agent.name, env_id, {}, agent, "search", text,
                     info={"search_options": options})


@functools.cache
def offers_simulator(env_id: str) -> bool:
    """Whether ``env_id``'s ``perceive("simulator")`` hands out a
    :class:`~moonshot.envs.perception.Rehearsal` (asked of the env itself, at its defaults,
    after a reset: a world declares it by offering it)."""
    import warnings

    import gymnasium as gym

    from ..envs.perception import SIMULATOR, Rehearsal

    with warnings.catch_warnings():  # an older version's deprecation: beside the point here
        warnings.simplefilter("ignore")
        env = gym.make(env_id).unwrapped
    try:
        perceive = getattr(env, "perceive", None)
        if perceive is None:
            return False
        env.reset(seed=0)
        try:
            return isinstance(perceive(SIMULATOR), Rehearsal)
        except ConfigError:  # an unknown perception: the env has no simulator view
            return False
    finally:
        env.close()


# --- run folders -----------------------------------------------------------------------
def _is_run(text: str) -> bool:
    return Path(text).is_dir()


def _load_run(text: str, env: str | None) -> AgentSpec:
    path = Path(text)
    if not (path / "config.json").exists() and (path / "cell.json").exists() and \
            (path / "run").is_dir():
        path = path / "run"  # a sweep's cell folder: the run it trained or planned
    cfg_path = path / "config.json"
    cfg = read_json(cfg_path) if cfg_path.exists() else {}
    # The modules of its world (a plug-in), imported before the world is looked up; older
    # folders have none. Only module names: code runs by import, nothing is unpickled.
    import_recorded(cfg.get("modules", []), f"recorded in {cfg_path}")
    if cfg.get("command") == "plan":
        env_id = cfg["env"]
        kwargs = {k: v for k, v in cfg.get("env_kwargs", {}).items() if k != "split"}
        options = cfg.get("planner_options", {})
        planner = get_world(env_id).make_planner(**options)
        return AgentSpec(planner.name, env_id, kwargs, planner, "planner", text,
                         info={"planner_options": options})
    if cfg.get("model_learning"):  # pets, sysid: their own model, no SB3
        from .model_learning import load_learned_agent

        agent = load_learned_agent(path, cfg)
        train_cfg = cfg["train"]
        kwargs = {k: v for k, v in train_cfg.get("env_kwargs", {}).items() if k != "split"}
        return AgentSpec(f"{agent.name} ({Path(text).name})", cfg["env_id"], kwargs, agent, "run",
                         text)
    if not (path / "model.zip").exists() and not cfg_path.exists():
        raise FileNotFoundError(f"{path} is not a run folder: it has neither model.zip nor "
                                "config.json")
    from .checkpoints import load_sb3_agent

    agent = load_sb3_agent(path, env)
    train_cfg = cfg.get("train", {})
    kwargs = {k: v for k, v in train_cfg.get("env_kwargs", {}).items() if k != "split"}
    env_id = cfg.get("env_id") or (resolve_env_id(train_cfg["env"]) if "env" in train_cfg
                                   else "")
    if not env_id:
        if env is None:
            raise ConfigError(f"{path} has no config.json saying which env its agent was "
                              "trained in: give the env (--env WORLD)")
        env_id = resolve_env_id(env)
    return AgentSpec(f"{agent.name} ({Path(text).name})", env_id, kwargs, agent, "run", text)


# --- module:Class ----------------------------------------------------------------------
_CLASS_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _is_class(text: str) -> bool:
    return bool(_CLASS_SPEC.match(text)) and not Path(text).exists()


def _class_env(cls: Any, env: str | None) -> str:
    """The env an agent class declares (``env_id`` or ``world`` attribute), else ``env``."""
    declared = getattr(cls, "env_id", None) or getattr(cls, "world", None)
    if declared:
        return resolve_env_id(declared)
    return resolve_env_id(env) if env is not None else ""


def _load_class(text: str, env: str | None) -> AgentSpec:
    module_name, _, attr = text.partition(":")
    obj: Any = import_user_module(module_name, f"agent {text!r}")
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no {attr!r} (agent {text!r})") from None
    agent = obj() if callable(obj) and not isinstance(obj, Agent) else obj
    if not isinstance(agent, Agent):
        raise ConfigError(f"{text} gave a {type(agent).__name__}, not a moonshot Agent: "
                          "subclass moonshot.agents.Agent and implement predict()")
    env_id = _class_env(type(agent), env)
    if not env_id:
        raise ConfigError(f"agent {text!r} does not say which world it acts in: give the env "
                          "(e.g. --env moon) or set the class attribute env_id")
    label = agent.name if agent.name != Agent.name else type(agent).__name__
    return AgentSpec(label, env_id, {}, agent, "class", text)


def _is_pretrained(text: str) -> bool:
    return text.startswith(PREFIX)


def _load_pretrained(text: str, env: str | None) -> AgentSpec:
    spec = _load_run(str(pretrained_path(text)), env)
    return dataclasses.replace(spec, label=f"{spec.agent.name} ({text})", source=text)


register_agent_kind("class", _is_class, _load_class, "module:Class", first=False)
register_agent_kind("run", _is_run, _load_run, "a run folder", first=True)
register_agent_kind("planner", _is_planner, _load_planner, "planner, planner:WORLD",
                    first=True)
register_agent_kind("search", _is_search, _load_search, "search:WORLD", first=True)
register_agent_kind("world agent", _is_world_agent, _load_world_agent, "NAME:WORLD (an agent "
                    "the world names, e.g. adapt:body)", first=True)
register_agent_kind("pretrained", _is_pretrained, _load_pretrained, "pretrained:NAME",
                    first=True)
