"""The evaluation core: an agent on a set of scenarios, one way for every caller.

Training-time evaluation (:mod:`moonshot.agents.monitor`), ``moonshot evaluate``, ``moonshot
shift``, ``moonshot plan``, the sweep cells and the demo all call :func:`evaluate` with an
:class:`EvalSettings`; which scenarios an evaluation meets is decided in one place,
:func:`scenario_set`, and trials are grouped into scenarios in one place,
:func:`scenario_starts`. It lives in the agents layer because training-time evaluation does
(agents never import :mod:`moonshot.evaluation`); :mod:`moonshot.evaluation` re-exports it.

Which scenarios (:func:`scenario_set`), by the seed set (``EvalSettings.seed_set``,
docs/protocol.md) and the kind of evaluation (``EvalSettings.scenarios``):

* seed sets ``"dev"`` (the default: development of planners, agents, hyperparameters) and
  ``"test"`` (reported figures only): the world's declared ranges
  (:meth:`~moonshot.worlds.World.evaluation_seeds`), disjoint by construction, one place per
  split and per shift axis (``EvalSettings.axis``). In a world that replays scenarios
  (MoonLaunch) scenario ``i`` replays scenario id ``first + i`` at every trial; otherwise
  (CityNav) scenario ``i`` is ``reset(seed=first + i)``. ``"evaluation"`` and ``"run"`` meet
  the same scenarios (every evaluation starts from a forgetful agent). ``"training"``
  (evaluations during training) resets ``reset(seed=first + i)`` fresh in the dev range of
  the split, run seed modulo the evaluation seeds of a place, one trial each.
* seed set ``"legacy"``: the rule of the figures published before the protocol, kept so that
  they reproduce. ``"evaluation"`` (``moonshot evaluate``, ``shift``, sweep cells): in a
  replaying world ``n`` scenario ids drawn from ``seed +`` :data:`EVALUATION_ID_OFFSET`,
  otherwise ``reset(seed=seed + i)``; ``"run"`` (``moonshot plan``): the same with the ids
  drawn from ``seed`` itself; ``"training"``: fresh resets ``reset(seed=``
  ``TRAINING_EVAL_SEED + seed + i)``.

Why one module of ~480 lines: it is the evaluation core (settings, the scenario rule, the
episode loop, the batched path and the typed results); one place is its point.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..envs.vector_slots import slot_info
from ..errors import ConfigError
from ..worlds import SEED_SETS
from .base import Agent, EpisodeRecord, run_episode

if TYPE_CHECKING:
    import gymnasium as gym

    from ..runlog import EpisodeLog
    from ..worlds import World
    from .loading import AgentSpec

#: Training-time evaluations reset at ``TRAINING_EVAL_SEED + run seed + i``: far above the
#: seeds a training run resets its own envs with (``seed``, ``seed + 1``, ... one per env), so
#: the evaluation episodes are not episodes the agent trained on.
TRAINING_EVAL_SEED = 10_000
#: Post-hoc evaluations draw their scenario ids from ``seed + EVALUATION_ID_OFFSET``: a plan
#: run of seed ``s`` draws its ids from ``s`` and a planner corrects itself on them, so an
#: evaluation of the same seed must not replay them (7919 is a prime, far from small seeds).
EVALUATION_ID_OFFSET = 7919
#: The kinds of scenario set (see the module docstring).
SCENARIO_SETS = ("evaluation", "run", "training")


@dataclass(frozen=True)
class EvalSettings:
    """How one evaluation runs (frozen: passed down unchanged instead of parameter chains).

    :param split: the env's split (``train``, ``new``).
    :param episodes: scenarios (replayed worlds) or fresh episodes.
    :param seed: the evaluation seed (see :func:`scenario_set`).
    :param max_trials: real trials per scenario; ``None``: :func:`trials_allowed` (the
        world's ``trials_per_scenario`` for an agent that learns from its outcomes, one
        otherwise and where scenarios are not replayed).
    :param env_overrides: env settings on top of the agent's (a shift level's).
    :param progress: show a progress bar.
    :param label: the agent's name in logs (default: the agent's ``name``).
    :param desc: the progress bar's text.
    :param scenarios: which scenario set, one of :data:`SCENARIO_SETS`.
    :param seed_set: the seeds' set, one of :data:`SEED_SETS` (docs/protocol.md).
    :param axis: the shift axis evaluated (its own seed range), ``None`` on a split.
    """

    split: str = "train"
    episodes: int = 100
    seed: int = 0
    max_trials: int | None = None
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = False
    label: str | None = None
    desc: str | None = None
    scenarios: str = "evaluation"
    seed_set: str = "dev"
    axis: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, (int, np.integer)) \
                or self.episodes < 1:
            raise ConfigError(f"the number of episodes must be an integer >= 1, got "
                              f"{self.episodes!r}")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError(f"max_trials must be >= 1, got {self.max_trials}")
        if self.scenarios not in SCENARIO_SETS:
            raise ConfigError(f"unknown scenario set {self.scenarios!r}; choose one of "
                              f"{list(SCENARIO_SETS)}")
        check_seed_set(self.seed_set)
        if self.scenarios == "training" and self.seed_set == "test":
            raise ConfigError("evaluations during training use the dev seed set, never test")


def check_seed_set(seed_set: str) -> str:
    """``seed_set`` if it is one of :data:`SEED_SETS` (a :class:`ConfigError` lists them)."""
    if seed_set not in SEED_SETS:
        raise ConfigError(f"unknown seed set {seed_set!r}; choose one of {list(SEED_SETS)}")
    return seed_set


@dataclass(frozen=True)
class ScenarioSet:
    """The scenarios of one evaluation. With ``ids``, scenario ``i`` replays ``ids[i]`` at
    every trial (the first reset of the evaluation seeded ``seed``); without, scenario ``i``
    is ``reset(seed=seed + i)`` and a further trial is a fresh reset."""

    seed: int
    n: int
    max_trials: int
    ids: tuple[int, ...] | None = None


def scenario_ids(seed: int, n: int) -> np.ndarray:
    """``n`` scenario ids drawn from ``seed`` (a world that replays scenarios)."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)


def trials_allowed(world: World, max_trials: int | None = None, learns_from_outcomes: bool = True,
                   seed_set: str = "dev") -> int:
    """The one rule for the real trials an evaluation allows per scenario (stated in every
    table): ``max_trials`` (``--max-trials``) if given; otherwise, in a world that replays
    scenarios, the world's ``trials_per_scenario`` for an agent that corrects from the
    outcome of a miss (:attr:`Agent.learns_from_outcomes`: the planners, the model
    learners, the search) and one for any other (a frozen policy would repeat its launch,
    inflating its trials and deaths). Where scenarios are not replayed, one. The ``legacy``
    seed set keeps the rule of its figures: the world's trials for every agent."""
    if world.replay_option is None:
        return 1
    if max_trials is not None:
        return int(max_trials)
    if learns_from_outcomes or seed_set == "legacy":
        return world.trials_per_scenario
    return 1


def scenario_set(world: World, split: str, seed: int, n: int, kind: str = "evaluation",
                 max_trials: int | None = None, seed_set: str = "dev",
                 axis: str | None = None, learns_from_outcomes: bool = True) -> ScenarioSet:
    """The one rule for which scenarios an evaluation of ``kind`` meets in ``world`` (a
    :class:`~moonshot.worlds.World`) on ``split`` (or shift ``axis``) with ``seed`` of
    ``seed_set``; see the module docstring. Its trials: :func:`trials_allowed` for an agent
    that does (or not) learn from outcomes."""
    check_seed_set(seed_set)
    if seed_set == "legacy":
        return _legacy_scenario_set(world, seed, n, kind, max_trials)
    if kind == "training":
        if seed_set != "dev":
            raise ConfigError("evaluations during training use the dev seed set, never test")
        first = world.evaluation_seeds("dev", split, seed % world.seed_sets.evaluation_seeds,
                                       n, axis).start
        return ScenarioSet(seed=first, n=n, max_trials=1)
    seeds = world.evaluation_seeds(seed_set, split, seed, n, axis)
    if world.replay_option is None:
        return ScenarioSet(seed=seeds.start, n=n, max_trials=1)
    trials = trials_allowed(world, max_trials, learns_from_outcomes, seed_set)
    return ScenarioSet(seed=seeds.start, n=n, max_trials=trials, ids=tuple(seeds))


def _legacy_scenario_set(world, seed: int, n: int, kind: str,
                         max_trials: int | None) -> ScenarioSet:
    """The rule before the protocol (seed set ``legacy``): published figures reproduce."""
    if kind == "training":
        return ScenarioSet(seed=TRAINING_EVAL_SEED + seed, n=n, max_trials=1)
    trials = trials_allowed(world, max_trials, seed_set="legacy")
    if world.replay_option is None:
        return ScenarioSet(seed=seed, n=n, max_trials=1)
    draw = seed + EVALUATION_ID_OFFSET if kind == "evaluation" else seed
    return ScenarioSet(seed=seed, n=n, max_trials=trials,
                       ids=tuple(int(i) for i in scenario_ids(draw, n)))


def scenario_starts(trials: ArrayLike, map_ids: ArrayLike) -> np.ndarray:
    """Where a scenario starts in a sequence of episodes: at a first trial (``trial <= 1``)
    or where the map (scenario id) changes. The one grouping of trials into scenarios."""
    t, m = np.asarray(trials), np.asarray(map_ids)
    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    return np.concatenate([[True], (m[1:] != m[:-1]) | (t[1:] <= 1)])


def group_scenarios(records: Sequence[EpisodeRecord]) -> list[list[EpisodeRecord]]:
    """``records`` split into scenarios (:func:`scenario_starts`)."""
    starts = scenario_starts([r.trial for r in records], [r.map_id for r in records])
    groups: list[list[EpisodeRecord]] = []
    for rec, start in zip(records, starts, strict=True):
        if start:
            groups.append([])
        groups[-1].append(rec)
    return groups


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario: its real trials (it stops at the first success)."""

    trials: tuple[EpisodeRecord, ...]

    @property
    def success(self) -> bool:
        return any(r.success for r in self.trials)

    @property
    def first_trial_success(self) -> bool:
        return self.trials[0].success

    @property
    def deaths(self) -> int:
        return sum(r.death for r in self.trials)

    @property
    def model_rollouts(self) -> int:
        return sum(r.model_rollouts for r in self.trials)

    @property
    def model_steps(self) -> int:
        return sum(r.model_steps for r in self.trials)

    @property
    def env_steps(self) -> int:
        return sum(r.length for r in self.trials)

    @property
    def compute_s(self) -> float:
        return sum(r.compute_s for r in self.trials)


@dataclass
class EvalResult:
    """What :func:`evaluate` returns: every episode, grouped into scenarios, and the figures
    tables show (per scenario: success, trials, imagined trials, compute; per episode:
    deaths). ``time_to_goal``: the world's time to the goal of each successful episode (NaN
    where it does not say; empty where the world has no such measure)."""

    agent: str
    env_id: str
    settings: EvalSettings
    records: list[EpisodeRecord]
    time_to_goal: list[float] = field(default_factory=list)
    time_unit: str | None = None
    wall_time_s: float = 0.0
    #: the real trials allowed per scenario (:func:`trials_allowed`), for the tables
    max_trials: int = 1
    scenarios: list[ScenarioResult] = field(init=False)

    def __post_init__(self) -> None:
        self.scenarios = [ScenarioResult(tuple(g)) for g in group_scenarios(self.records)]

    @property
    def split(self) -> str:
        return self.settings.split

    @property
    def scenario_success(self) -> np.ndarray:
        """Solved (1.0) or not (0.0), per scenario."""
        return np.array([s.success for s in self.scenarios], dtype=float)

    @property
    def success_rate(self) -> float:
        return float(self.scenario_success.mean())

    @property
    def first_trial_success_rate(self) -> float:
        return float(np.mean([s.first_trial_success for s in self.scenarios]))

    @property
    def trials(self) -> np.ndarray:
        return np.array([len(s.trials) for s in self.scenarios])

    @property
    def deaths(self) -> np.ndarray:
        """Died (1.0) or not, per episode."""
        return np.array([r.death for r in self.records], dtype=float)

    @property
    def model_rollouts_per_scenario(self) -> float:
        return float(np.mean([s.model_rollouts for s in self.scenarios]))

    @property
    def model_steps_per_scenario(self) -> float:
        """Imagined env steps per scenario (:attr:`AgentCosts.model_steps`)."""
        return float(np.mean([s.model_steps for s in self.scenarios]))

    @property
    def env_steps_per_scenario(self) -> float:
        """Real env steps per scenario, every trial's."""
        return float(np.mean([s.env_steps for s in self.scenarios]))

    @property
    def compute_s_per_scenario(self) -> float:
        return float(np.mean([s.compute_s for s in self.scenarios]))

    @property
    def mean_time_to_goal(self) -> float | None:
        return float(np.mean(self.time_to_goal)) if self.time_to_goal else None

    def summary(self) -> dict:
        """The figures of a plan run (``summary.json``), :func:`summarize`."""
        return summarize(self.records)


def summarize(records: Sequence[EpisodeRecord]) -> dict:
    """Success per scenario, trials per scenario, deaths, compute: the figures of a plan run
    (``summary.json``); ``{}`` for no records."""
    if not records:
        return {}
    scen = [ScenarioResult(tuple(g)) for g in group_scenarios(records)]
    trials = np.array([len(s.trials) for s in scen])
    return {
        "scenarios": len(scen), "episodes": len(records),
        "success_rate": float(np.mean([s.success for s in scen])),
        "first_trial_success_rate": float(np.mean([s.first_trial_success for s in scen])),
        "mean_trials_per_scenario": float(trials.mean()),
        "max_trials_per_scenario": int(trials.max()),
        "deaths": int(sum(r.death for r in records)),
        "death_rate_per_episode": float(np.mean([r.death for r in records])),
        "median_compute_s_per_scenario": float(np.median([s.compute_s for s in scen])),
        "model_rollouts": int(sum(r.model_rollouts for r in records)),
        "mean_model_rollouts_per_scenario": float(np.mean([s.model_rollouts for s in scen])),
        "model_steps": int(sum(r.model_steps for r in records)),
        "mean_model_steps_per_scenario": float(np.mean([s.model_steps for s in scen])),
        "env_steps": int(sum(r.length for r in records)),
        "mean_return": float(np.mean([r.ret for r in records])),
        "mean_length": float(np.mean([r.length for r in records])),
        "outcomes": {o: int(sum(r.outcome == o for r in records))
                     for o in sorted({r.outcome for r in records})},
    }


def _scenario_option(scenario_id: int) -> dict:
    return {"scenario_id": scenario_id}


def play_scenarios(agent: Agent, env: gym.Env, scenarios: ScenarioSet, settings: EvalSettings,
                   *, replay: Callable[[int], dict | None] | None = None,
                   log: EpisodeLog | None = None,
                   on_scenario: Callable[[list[EpisodeRecord], int], None] | None = None,
                   ) -> list[EpisodeRecord]:
    """Run ``agent`` in ``env`` (one env, episode after episode) on ``scenarios``.

    A scenario stops at its first success. Every episode is appended to ``log`` (an
    :class:`~moonshot.runlog.EpisodeLog`) with cumulative env steps and wall time;
    ``on_scenario(records, env_steps)`` is called after each scenario with its trials.
    The agent forgets its corrections first (:meth:`Agent.forget`), so each evaluation starts
    from the same agent whatever was evaluated before.
    """
    from ..progress import progress as progress_display

    name = settings.label or agent.name
    split, seed = settings.split, scenarios.seed
    agent.forget()
    records: list[EpisodeRecord] = []
    env_steps = log.last_env_steps if log else 0
    wall = log.last_wall_time if log else 0.0
    successes = 0
    bar = progress_display(scenarios.n, settings.desc or f"{name} {split}", unit="scenarios",
                           enabled=settings.progress, leave=False)
    first = True
    try:
        for i in range(scenarios.n):
            for trial in range(1, scenarios.max_trials + 1):
                options, reset_seed = None, None
                if scenarios.ids is not None:
                    options = (replay or _scenario_option)(int(scenarios.ids[i]))
                    reset_seed = seed if first else None
                elif trial == 1:
                    reset_seed = seed + i
                rec = run_episode(agent, env, seed=reset_seed, options=options)
                first = False
                rec.trial = trial
                records.append(rec)
                env_steps += rec.length
                wall += rec.wall_time_s
                if log is not None:
                    log.add(env_steps=env_steps, wall_time_s=wall, ret=rec.ret,
                            length=rec.length, success=rec.success, death=rec.death,
                            split=split, map_id=rec.map_id, outcome=rec.outcome, trial=trial,
                            model_rollouts=rec.model_rollouts, compute_s=rec.compute_s,
                            agent=name, seed=seed, model_steps=rec.model_steps)
                if rec.success:
                    break
            successes += int(records[-1].success)
            if on_scenario is not None:
                on_scenario(records[len(records) - trial:], env_steps)
            bar.set_postfix(success=f"{successes / (i + 1):.0%}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
        if log is not None:
            log.flush()
    return records


def _can_batch(agent: Agent, env_id: str, scenarios: ScenarioSet, log) -> bool:
    """The batched path plays the scenarios of the one-by-one path where the env's vector
    version seeds slot ``i`` like ``reset(seed=seed + i)``: fresh resets, one trial, an agent
    that acts on a batch and learns nothing between episodes, nothing to log per episode as
    it ends, and a world that allows it (:attr:`~moonshot.worlds.World.batched_evaluation`:
    a policy's batched forward pass may differ from one observation's in the last bits)."""
    import gymnasium as gym

    from ..worlds import get_world

    return (getattr(agent, "batched", False) and scenarios.ids is None
            and scenarios.max_trials == 1 and log is None
            and gym.spec(env_id).vector_entry_point is not None
            and get_world(env_id).batched_evaluation)


def _batched_records(agent, env_id: str, kwargs: dict, episodes: int, seed: int,
                     batch: int = 256) -> list[EpisodeRecord]:
    """The first episode of each of ``episodes`` slots of a native vector env (slot ``i``
    seeded ``seed + i``), ``batch`` slots at a time, all slots acting in one policy call."""
    import gymnasium as gym

    records: list[EpisodeRecord] = []
    for first in range(0, episodes, batch):
        n = min(batch, episodes - first)
        t0 = time.perf_counter()
        venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point",
                            **kwargs)
        try:
            obs, _ = venv.reset(seed=seed + first)
            done = np.zeros(n, dtype=bool)
            ret, length = np.zeros(n), np.zeros(n, dtype=np.int64)
            finals: list[dict | None] = [None] * n
            while not done.all():
                action, _ = agent.predict(obs, deterministic=True)
                obs, reward, term, trunc, info = venv.step(action)
                ret[~done] += reward[~done]
                length[~done] += 1
                ended = (term | trunc) & ~done
                if ended.any():
                    final = info["final_info"]
                    for j in np.flatnonzero(ended).tolist():
                        row = slot_info(final, j)
                        row["truncated"] = bool(trunc[j])
                        finals[j] = row
                    done |= ended
        finally:
            venv.close()
        wall = (time.perf_counter() - t0) / n
        for j in range(n):
            f = finals[j]
            assert f is not None  # every slot has ended
            records.append(EpisodeRecord(
                map_id=int(f.get("map_id", -1)), trial=1, ret=float(ret[j]),
                length=int(length[j]), success=bool(f.get("is_success", False)),
                death=bool(f.get("death", False)),
                outcome=str(f.get("outcome", "timeout" if f["truncated"] else "")),
                compute_s=0.0, wall_time_s=wall, final_info=f))
    return records


def evaluate(agent: Agent | AgentSpec, env_id: str | None, settings: EvalSettings, *,
             env_kwargs: Mapping[str, Any] | None = None, log: EpisodeLog | None = None,
             on_scenario: Callable[[list[EpisodeRecord], int], None] | None = None,
             env: gym.Env | None = None) -> EvalResult:
    """Evaluate ``agent`` on the scenarios of ``settings`` (:func:`scenario_set`): the one
    evaluation of moonshot.

    :param agent: an :class:`Agent`, or an :class:`~moonshot.agents.loading.AgentSpec` (then
        ``env_id`` may be ``None``, and ``env_kwargs`` default to the world's evaluation
        settings of the agent's own, :meth:`~moonshot.worlds.World.evaluation_kwargs`).
    :param env_id: the env (or a world's short name: its default env).
    :param settings: split, episodes, seed, trials, env overrides, progress.
    :param env_kwargs: env settings (``settings.env_overrides`` go on top, then the split).
    :param log: an :class:`~moonshot.runlog.EpisodeLog` that gets every episode.
    :param on_scenario: called after each scenario with its trials and the env steps so far.
    :param env: the (unwrapped) env to run in, made by the caller from the same settings
        (say, to refuse bad settings before writing anything); default: made and closed here.
    :return: an :class:`EvalResult`.

    Where the agent acts on batches (``agent.batched``, e.g. an SB3 policy), the scenarios are
    fresh resets with one trial, the env has a native vector version, nothing is logged and
    the world allows it (:attr:`~moonshot.worlds.World.batched_evaluation`), the episodes run
    side by side in it - the same scenarios as one by one, faster; the policy's batched
    forward pass may differ from one observation's in the last bits, and with them, rarely,
    an episode.
    """
    import gymnasium as gym

    from ..worlds import get_world, resolve_env_id
    from .loading import AgentSpec

    label = settings.label
    if isinstance(agent, AgentSpec):
        spec = agent
        env_id = env_id or spec.env_id
        if env_kwargs is None:
            env_kwargs = get_world(env_id).evaluation_kwargs(spec.env_kwargs)
        label = label or spec.label
        agent = spec.agent
    if env_id is None:
        raise ConfigError("env_id=None: give the env, or an AgentSpec that names its env")
    env_id = resolve_env_id(env_id)
    world = get_world(env_id)
    if label != settings.label:
        settings = replace(settings, label=label)
    kwargs = {**dict(env_kwargs or {}), **dict(settings.env_overrides),
              "split": settings.split}
    scenarios = scenario_set(world, settings.split, settings.seed, settings.episodes,
                             settings.scenarios, settings.max_trials, settings.seed_set,
                             settings.axis, getattr(agent, "learns_from_outcomes", False))
    t0 = time.perf_counter()
    if env is None and _can_batch(agent, env_id, scenarios, log):
        agent.forget()
        records = _batched_records(agent, env_id, kwargs, scenarios.n, scenarios.seed)
    else:
        own = env is None
        if own:
            env = gym.make(env_id, **kwargs).unwrapped
        assert env is not None  # the caller's, or made here
        try:
            records = play_scenarios(agent, env, scenarios, settings, replay=world.replay,
                                     log=log, on_scenario=on_scenario)
        finally:
            if own:
                env.close()
    times: list[float] = []
    if world.time_to_goal is not None and any(r.success for r in records):
        # the batched path has no single env: one is made to read its step (CityNav's dt)
        clock = env if env is not None else gym.make(env_id, **kwargs).unwrapped
        try:
            raw = [world.time_to_goal(r.final_info, r.length, clock) for r in records
                   if r.success]
        finally:
            if clock is not env:
                clock.close()
        times = [np.nan if t is None else float(t) for t in raw]
    return EvalResult(agent=settings.label or agent.name, env_id=env_id, settings=settings,
                      records=records, max_trials=scenarios.max_trials, time_to_goal=times,
                      time_unit=world.time_unit,
                      wall_time_s=time.perf_counter() - t0)


__all__ = ["EVALUATION_ID_OFFSET", "SCENARIO_SETS", "SEED_SETS", "TRAINING_EVAL_SEED",
           "check_seed_set", "EvalResult", "EvalSettings", "ScenarioResult", "ScenarioSet",
           "evaluate", "group_scenarios",
           "play_scenarios", "scenario_ids", "scenario_set", "scenario_starts", "summarize",
           "trials_allowed"]
