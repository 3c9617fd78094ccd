"""Training the agents that learn their own model (``moonshot train WORLD --algo pets|sysid``).

The same run folder as an SB3 run (:mod:`.training`)::

    config.json        the run (``train`` section, ``command``: loadable by :mod:`.loading`)
    episodes.csv       every real training launch (or drive), deaths included, with the
                       imagined ones (``model_rollouts``) and the compute seconds they cost
    evaluations.csv    deterministic evaluations on both splits, the SB3 runs' schedule
    model_error.csv    the model's error on the evaluation launches or drives (real data it
                       never learned from), per split, at every evaluation (the columns are
                       the agent's ``error_columns``; MoonLaunch's by default)
    model.json, model.npz   the final agent: counters and fitted numbers, data and weights
    checkpoints/       agent_N.json/.npz, trainer_N.json and latest.json (what --resume reads)

Nothing is pickled: arrays go to ``.npz`` (read with ``allow_pickle=False``), the rest to
JSON. ``--timesteps`` counts real env steps (one launch is one step; a CityNav drive is hundreds,
and an evaluation or checkpoint falls after the drive that crosses its step). A resume is exact: the
agent's draws are seeded by purpose (:meth:`~.learned_moon.LearnedMoonAgent.rng`), the env's
generator is saved, and the logs are cut back to the checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..runlog import EpisodeLog, atomic_write_bytes, atomic_write_text, read_json, write_json
from ..versions import versions
from ..worlds import get_world, resolve_env_id
from .config import TrainConfig, command_line, default_schedule
from .episodes import EvalSettings, evaluate

#: moonshot's own model-learning algorithms, by world: ``algo -> module:Class`` (a plug-in
#: world declares its own: :attr:`moonshot.worlds.World.learners`).
AGENTS = {
    "moon": {"pets": "moonshot.agents.moon_pets:MoonPETS",
             "sysid": "moonshot.agents.moon_sysid:MoonSysID"},
    "city": {"pets": "moonshot.agents.city.pets:CityPETS",
             "sysid": "moonshot.agents.city.sysid:CitySysID"},
}
MODEL_ERROR_COLUMNS = ("env_steps", "episodes", "split", "n", "signed_miss_err_km",
                       "log_closest_err", "tof_err_days", "hit_agreement", "model_samples",
                       "refits")


def agent_class(world_name: str, algo: str):
    """The class of the model-learning ``algo`` in a world (a clear error where it is not
    built)."""
    from ..worlds import get_world, load_ref, worlds

    table = {**AGENTS.get(world_name, {}), **get_world(world_name).learners}
    if algo not in table:
        built = {w.name: {**AGENTS.get(w.name, {}), **w.learners} for w in worlds()}
        have = ", ".join(f"{w} ({', '.join(a)})" for w, a in built.items() if a)
        raise ConfigError(f"--algo {algo} is not built for the {world_name} world yet; "
                          f"model-learning agents exist for: {have}")
    return load_ref(table[algo])


def make_agent(world_name: str, algo: str, seed: int, hyperparams: dict):
    cls = agent_class(world_name, algo)
    try:
        return cls(seed=seed, **hyperparams)
    except TypeError as exc:
        raise ConfigError(f"{algo} rejects the hyperparameters {hyperparams}: {exc}") from None


def resolved_hyperparams(world_name: str, algo: str, given: dict) -> dict:
    """The agent's constructor defaults with ``given`` on top (recorded in ``config.json``);
    an unknown key is an error naming the known ones."""
    import inspect

    params = inspect.signature(agent_class(world_name, algo).__init__).parameters
    known = {k: p.default for k, p in params.items() if k not in ("self", "seed")}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{algo} rejects the hyperparameters {unknown}; known: "
                          f"{', '.join(sorted(known))}")
    return {**known, **given}


# --- agent files -------------------------------------------------------------------------
def save_agent(agent, stem: Path) -> None:
    """``stem.json`` and ``stem.npz`` (atomic; no pickles)."""
    import io

    meta, arrays = agent.get_state()
    buf = io.BytesIO()
    named: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez(buf, **named)
    atomic_write_bytes(stem.with_suffix(".npz"), buf.getvalue())
    write_json(stem.with_suffix(".json"), meta)


def load_agent_state(agent, stem: Path) -> None:
    meta = read_json(stem.with_suffix(".json"))
    try:
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the agent's arrays {stem.with_suffix('.npz')}: "
                         f"{exc}") from None
    agent.set_state(meta, arrays)


def load_learned_agent(run: Path, cfg: dict):
    """The frozen agent of a finished (or checkpointed) pets/sysid run folder."""
    train = cfg["train"]
    agent = make_agent(get_world(train["env"]).name, train["algo"], int(train["seed"]),
                       dict(cfg.get("resolved_hyperparams", {})))
    stem = run / "model"
    if not stem.with_suffix(".json").exists():
        latest = run / "checkpoints" / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(f"{run} holds no model.json and no checkpoint")
        stem = run / "checkpoints" / Path(read_json(latest)["agent"]).with_suffix("")
    load_agent_state(agent, stem)
    return agent


# --- logs ----------------------------------------------------------------------------------
class CsvLog:
    """A small CSV rewritten atomically per addition, cut back to a step on resume."""

    def __init__(self, path: Path, columns, keep_steps: int | None):
        self.path, self.columns = path, tuple(columns)
        self.rows: list[dict] = []
        if keep_steps is not None and path.exists():
            import csv

            with open(path, newline="") as fh:
                self.rows = [r for r in csv.DictReader(fh)
                             if int(float(r["env_steps"])) <= keep_steps]
        self._write()

    def add(self, rows: list[dict]) -> None:
        self.rows.extend({c: r.get(c, "") for c in self.columns} for r in rows)
        self._write()

    def _write(self) -> None:
        lines = [",".join(self.columns)]
        lines += [",".join(str(r.get(c, "")) for c in self.columns) for r in self.rows]
        atomic_write_text(self.path, "\n".join(lines) + "\n")


# --- the run -------------------------------------------------------------------------------
def plan_run(cfg: TrainConfig, saved: dict) -> dict:
    """Everything the run needs, checked before anything is written."""
    world = get_world(cfg.env)
    env_id = saved.get("env_id") or resolve_env_id(cfg.env)
    if cfg.n_envs not in (None, 1):
        raise ConfigError(f"--n-envs {cfg.n_envs}: {cfg.algo} learns from one env (omit it)")
    source = init_source(cfg, world.name) if cfg.init_from and not saved else None
    # a resumed run keeps the settings it started with, whatever the defaults are now; a run
    # that starts from another's agent, that agent's
    hp = dict(saved["resolved_hyperparams"]) if "resolved_hyperparams" in saved \
        else dict(source["resolved_hyperparams"]) if source \
        else resolved_hyperparams(world.name, cfg.algo, cfg.hyperparams)
    make_agent(world.name, cfg.algo, cfg.seed, hp)  # a bad hyperparameter fails now
    if cfg.timesteps is None:
        cfg.timesteps = int(saved.get("train", {}).get("timesteps")
                            or agent_class(world.name, cfg.algo).default_timesteps)
    schedule = saved.get("schedule") or default_schedule(
        cfg.timesteps, world.episode_steps(cfg.env_kwargs) if world.episode_steps else 1000,
        cfg.eval_every, cfg.eval_episodes, cfg.checkpoint_every)
    from .training import check_env_kwargs

    check_env_kwargs(env_id, {**cfg.env_kwargs, "split": cfg.split})
    return {"env_id": env_id, "hp": hp, "schedule": schedule, "world": world.name}


def init_source(cfg: TrainConfig, world_name: str) -> dict:
    """The config of the run whose final agent ``cfg.init_from`` names (its ``model.json``):
    the same world and algorithm, or a clear error. A run that starts from it keeps learning
    where it stopped - its data, models and counters - in the world ``cfg`` describes (a
    shift level: the relearning cost, :func:`moonshot.evaluation.transfer.relearning_cost`)."""
    path = Path(str(cfg.init_from))
    if path.name != "model.json" or not path.exists():
        raise ConfigError(f"{cfg.algo} starts from a finished {cfg.algo} run's agent: "
                          f"RUN/model.json, got {cfg.init_from}")
    try:
        src = read_json(path.parent / "config.json")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path.parent / 'config.json'}: {exc}") from None
    train = src.get("train", {})
    if not src.get("model_learning") or train.get("algo") != cfg.algo or \
            get_world(str(train.get("env"))).name != world_name:
        raise ConfigError(f"{path} is the agent of a {train.get('algo')} run in "
                          f"{train.get('env')}, not of {cfg.algo} in {world_name}")
    return src


def train_model_learner(cfg: TrainConfig, saved: dict, run: Path, resume: bool,
                        on_checkpoint=None) -> Path:
    """Train a pets/sysid agent in ``run`` (locked by the caller); see the module docstring."""
    import gymnasium as gym
    import torch

    plan = plan_run(cfg, saved)
    assert cfg.timesteps is not None  # plan_run sets the budget
    env_id, schedule = plan["env_id"], plan["schedule"]
    ckpt = run / "checkpoints"
    meta = read_json(ckpt / "latest.json") if resume and (ckpt / "latest.json").exists() \
        else None
    start = int(meta["env_steps"]) if meta else 0
    if meta and start >= cfg.timesteps and (run / "model.json").exists():
        print(f"moonshot: {run} is complete ({start:,} of {cfg.timesteps:,} steps); nothing "
              "to do", flush=True)
        return run
    torch.set_num_threads(cfg.torch_threads)
    agent = make_agent(plan["world"], cfg.algo, cfg.seed, plan["hp"])
    # the env's own state (get_state/set_state: moonshot's envs) makes a resume exact
    env: Any = gym.make(env_id, **{**cfg.env_kwargs, "split": cfg.split}).unwrapped
    keep = start if meta else (-1 if resume else None)
    log = EpisodeLog(run / "episodes.csv", flush_every=256, truncate_after_steps=keep)
    from .monitor import EVAL_COLUMNS

    evals = CsvLog(run / "evaluations.csv", EVAL_COLUMNS, keep)
    errors = CsvLog(run / "model_error.csv",
                    getattr(agent, "error_columns", MODEL_ERROR_COLUMNS), keep)
    wall0 = float(meta["wall_time_s"]) if meta else 0.0
    if meta:
        if log.episodes != int(meta["episodes"]):
            raise ValueError(f"{run / 'episodes.csv'} holds {log.episodes} episodes up to the "
                             f"checkpoint at step {start:,}, which counted {meta['episodes']}"
                             ": the log was cut or replaced (restore it, or start a new run)")
        load_agent_state(agent, ckpt / Path(meta["agent"]).with_suffix(""))
        trainer = read_json(ckpt / meta["trainer"])
        env.reset(seed=cfg.seed)
        if set(trainer["env"]) == {"rng"}:  # between drives (see _env_state)
            env.np_random.bit_generator.state = trainer["env"]["rng"]
        else:
            env.set_state(trainer["env"])
    elif cfg.init_from:  # the agent where its own run left it (a resume reads its checkpoint)
        load_agent_state(agent, Path(str(cfg.init_from)).with_suffix(""))
    write_json(run / "config.json", {
        "train": asdict(cfg), "env_id": env_id, "resolved_hyperparams": plan["hp"],
        "n_envs": 1, "policy": cfg.algo, "normalize": None, "schedule": schedule,
        "model_learning": True, "versions": versions(), "command": command_line(cfg)})
    eval_kwargs = {k: v for k, v in get_world(env_id).evaluation_kwargs(cfg.env_kwargs).items()
                   if k != "split"}
    every, n_eval = int(schedule["eval_every"]), int(schedule["eval_episodes"])
    ckpt_every = int(schedule["checkpoint_every"])
    t0 = time.perf_counter()

    def wall() -> float:
        return wall0 + time.perf_counter() - t0

    def evaluation(steps: int) -> None:
        agent.training = False
        agent.take_seen()
        rows, err_rows = [], []
        for split in ("train", "new"):
            res = evaluate(agent, env_id, EvalSettings(split=split, episodes=n_eval,
                                                       seed=cfg.seed, scenarios="training"),
                           env_kwargs=eval_kwargs)
            rows.append({"env_steps": steps, "episodes": log.episodes, "split": split,
                         "success_rate": res.success_rate,
                         "death_rate": float(res.deaths.mean()),
                         "mean_return": float(np.mean([r.ret for r in res.records])),
                         "n_episodes": n_eval, "wall_time_s": round(wall(), 3)})
            err = agent.model_error(agent.take_seen())
            err_rows.append({"env_steps": steps, "episodes": log.episodes, "split": split,
                             "model_samples": agent.model_samples, "refits": agent.refits,
                             **{k: (round(v, 6) if isinstance(v, float) else v)
                                for k, v in err.items()}})
        evals.add(rows)
        errors.add(err_rows)

    def checkpoint(steps: int) -> None:
        log.flush()
        ckpt.mkdir(exist_ok=True)
        save_agent(agent, ckpt / f"agent_{steps}")
        write_json(ckpt / f"trainer_{steps}.json", {"env": _env_state(env)})
        write_json(ckpt / "latest.json", {
            "env_steps": steps, "episodes": log.episodes, "wall_time_s": wall(),
            "agent": f"agent_{steps}.json", "trainer": f"trainer_{steps}.json"})
        if on_checkpoint is not None:
            on_checkpoint(run)

    from ..progress import progress

    bar = progress(cfg.timesteps, f"{cfg.algo} {cfg.env}", unit="steps", initial=start,
                   enabled=cfg.progress)
    steps = start
    try:
        if not meta:
            evaluation(0)
            first_seed: int | None = cfg.seed
        else:
            first_seed = None
        recent: list[bool] = []
        while steps < cfg.timesteps:
            agent.training = True
            rec = _training_episode(agent, env, first_seed)
            first_seed = None
            before = agent.costs()
            agent.learn(agent.take_seen())
            fitting = agent.costs() - before  # a refit is this launch's cost too
            rec.model_rollouts += fitting.model_rollouts
            rec.model_steps += fitting.model_steps
            rec.compute_s += fitting.compute_s
            before_steps, steps = steps, steps + rec.length
            log.add(env_steps=steps, wall_time_s=wall(), ret=rec.ret, length=rec.length,
                    success=rec.success, death=rec.death, split=cfg.split, map_id=rec.map_id,
                    outcome=rec.outcome, model_rollouts=rec.model_rollouts,
                    model_steps=rec.model_steps,
                    compute_s=rec.compute_s, agent=cfg.algo, seed=cfg.seed)
            recent = (recent + [rec.success])[-200:]
            bar.set_postfix(success=f"{np.mean(recent):.0%}", refresh=False)
            bar.set(steps)
            # a drive may step over a multiple of the schedule (one launch never does)
            if steps // every > before_steps // every or steps >= cfg.timesteps:
                evaluation(steps)
            if steps // ckpt_every > before_steps // ckpt_every or steps >= cfg.timesteps:
                checkpoint(steps)
    finally:
        bar.close()
        log.close()
        env.close()
    save_agent(agent, run / "model")
    return run


def _env_state(env) -> dict:
    """Where the env stands between two episodes, as JSON: its ``get_state()``, or - for a
    CityNav env, whose drive in progress holds objects (and none is in progress at a
    checkpoint) - its generator alone, all the next ``reset`` draws from."""
    state = env.get_state()
    return {"rng": state["rng"]} if "drive" in state else state


def _training_episode(agent, env, seed: int | None):
    """One real episode the agent learns from (exploration on)."""
    from .base import run_episode

    return run_episode(agent, env, seed=seed)


def read_model_error(run: Path) -> list[dict]:
    """The rows of ``model_error.csv``."""
    import csv

    with open(Path(run) / "model_error.csv", newline="") as fh:
        return list(csv.DictReader(fh))


__all__ = ["AGENTS", "agent_class", "load_learned_agent", "read_model_error",
           "train_model_learner"]
