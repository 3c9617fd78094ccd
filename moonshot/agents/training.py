"""Training RL agents with stable-baselines3, every training episode logged.

A run folder holds::

    config.json        everything needed to reproduce the run (versions, seed, hyperparameters)
    episodes.csv       one row per training episode (DESIGN.md schema)
    evaluations.csv    periodic deterministic evaluations on both splits
    model.zip          the final model
    vecnormalize.pkl   observation/reward normalization statistics (runs with ``normalize``)
    checkpoints/       periodic checkpoints and latest.json (what --resume continues from)
    tensorboard/       with --tensorboard

The pieces live beside this loop: :mod:`.config` (what a run is), :mod:`.monitor` (episode
log, evaluations, checkpoints during the run), :mod:`.checkpoints` (files and loading).
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path

from ..errors import ConfigError, check_choice
from ..runlog import EpisodeLog, read_json, write_json
from ..versions import versions
from ..worlds import resolve_env_id
from .checkpoints import (
    load_model,
    load_sb3_agent,
    save_model_atomic,
    save_stats_atomic,
    set_torch_threads,
    wrap_normalize,
)
from .config import (
    ALGO_NAMES,
    TrainConfig,
    algo_class,
    command_line,
    default_hyperparams,
    parse_key_values,
    schedules,
    split_hyperparams,
)
from .monitor import EvalLog, TrainingMonitor
from .vec import make_vec_env

__all__ = ["train", "TrainConfig", "load_agent", "default_hyperparams", "parse_key_values",
           "command_line", "versions"]


def load_agent(run_dir: str | os.PathLike):
    """A trained agent from its run folder (kept for scripts; :func:`moonshot.agents.load_agent`
    also takes ``planner`` and ``module:Class``)."""
    return load_sb3_agent(run_dir)


def train(cfg: TrainConfig | None = None, *, resume: bool = False, **kwargs) -> Path:
    """Train an RL agent; returns the run folder.

    ``train(env="moon", algo="ppo", timesteps=200_000, out="runs/x", env_kwargs={"target":
    "soi"})`` or ``train(TrainConfig(...))``. With ``resume=True`` the run in ``out`` continues
    from its last checkpoint (same config; ``timesteps`` may be raised), appending to its logs
    without losing or duplicating episodes.
    """
    if cfg is None:
        cfg = TrainConfig(**kwargs)
    elif kwargs:
        raise TypeError("pass either a TrainConfig or keyword arguments, not both")
    check_choice("algo", cfg.algo, ALGO_NAMES)
    check_choice("split", cfg.split, ("train", "new"))
    if cfg.timesteps < 1:
        raise ConfigError(f"timesteps must be >= 1, got {cfg.timesteps}")
    if cfg.eval_episodes < 1:
        raise ConfigError(f"eval_episodes must be >= 1, got {cfg.eval_episodes}")
    env_id = resolve_env_id(cfg.env)
    run = Path(cfg.out)
    start_steps, wall_offset = 0, 0.0
    latest = run / "checkpoints" / "latest.json"
    saved: dict = {}
    if resume:
        if not (run / "config.json").exists():
            raise FileNotFoundError(f"nothing to resume: {run / 'config.json'} does not exist")
        saved = read_json(run / "config.json")
        cfg = TrainConfig(**{**saved["train"], "progress": cfg.progress,
                             "timesteps": max(cfg.timesteps, saved["train"]["timesteps"])})
        if latest.exists():
            meta = read_json(latest)
            start_steps, wall_offset = int(meta["env_steps"]), float(meta["wall_time_s"])
    elif (run / "episodes.csv").exists():
        raise FileExistsError(f"run folder {run} already holds a run; pass --resume to continue "
                              "it or choose another --out (nothing was overwritten)")
    if cfg.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: "
                              "pip install 'moonshot[tensorboard]' (or pip install "
                              "tensorboard)") from None
    set_torch_threads(cfg.torch_threads)
    if "resolved_hyperparams" in saved:
        # A resumed run keeps the settings it started with, whatever the packaged defaults
        # have become since (its env_kwargs were recorded with the defaults merged in).
        hp, n_envs, policy = saved["resolved_hyperparams"], saved["n_envs"], saved["policy"]
        normalize = saved.get("normalize")
        env_kwargs = dict(cfg.env_kwargs)
    else:
        hp, n_envs, policy, normalize = split_hyperparams(cfg)
        # Training-time env settings of the packaged defaults (reward shaping), under the
        # user's.
        env_kwargs = {**default_hyperparams(cfg.env, cfg.algo).get("env_kwargs", {}),
                      **cfg.env_kwargs}
        cfg.env_kwargs = dict(env_kwargs)
    run.mkdir(parents=True, exist_ok=True)
    env_kwargs["split"] = cfg.split
    # A resumed run must not replay the scenarios of its first episodes: offset the env seed.
    vec = make_vec_env(env_id, n_envs, cfg.seed + start_steps, env_kwargs)
    algo_cls = algo_class(cfg.algo)
    tb = str(run / "tensorboard") if cfg.tensorboard else None
    if start_steps > 0:
        meta = read_json(latest)
        # A normalized run resumes with its statistics or not at all (load_normalizer names
        # the missing file); fresh statistics would silently change what the policy sees.
        stats = run / "checkpoints" / meta.get("vecnormalize", f"vecnormalize_{start_steps}.pkl")
        vec = wrap_normalize(vec, normalize, stats if normalize is not None else None)
        model = load_model(run / "checkpoints" / meta["model"], cfg.algo, env=vec,
                           device=cfg.device)
        model.tensorboard_log = tb
    elif cfg.init_from:
        # model.zip -> vecnormalize.pkl, checkpoints/model_N.zip -> vecnormalize_N.pkl
        init = Path(cfg.init_from)
        stats = init.with_name(init.stem.replace("model", "vecnormalize", 1) + ".pkl")
        if (normalize is not None) != stats.exists():
            raise ConfigError(
                f"{init} was trained on normalized observations ({stats.name} beside it): "
                "fine-tune it with normalize=true" if stats.exists() else
                f"normalize is on but {init} has no statistics beside it ({stats}): it was "
                "trained on raw observations; fine-tune it without normalize")
        vec = wrap_normalize(vec, normalize, stats if stats.exists() else None)
        model = load_model(Path(cfg.init_from), cfg.algo, env=vec, device=cfg.device)
        model.set_random_seed(cfg.seed)
        model.tensorboard_log = tb
    else:
        vec = wrap_normalize(vec, normalize, None)
        # SB3 may add entries to policy_kwargs in place (A2C's optimizer): pass a copy.
        model = algo_cls(policy, vec, seed=cfg.seed, device=cfg.device, tensorboard_log=tb,
                         verbose=0, **schedules(copy.deepcopy(hp)))
    write_json(run / "config.json", {
        "train": asdict(cfg), "env_id": env_id, "resolved_hyperparams": hp, "n_envs": n_envs,
        "normalize": normalize,
        "policy": policy, "versions": versions(),
        "command": command_line(cfg)})
    log = EpisodeLog(run / "episodes.csv", flush_every=4096,
                     truncate_after_steps=start_steps if resume else None)
    evals = EvalLog(run / "evaluations.csv", truncate_after_steps=start_steps if resume else 0)
    eval_every = cfg.eval_every or max(1, cfg.timesteps // 10)
    ckpt_every = cfg.checkpoint_every or max(1, cfg.timesteps // 5)
    monitor = TrainingMonitor(run, cfg, env_id, log, evals, eval_every, ckpt_every, wall_offset,
                              cfg.timesteps)
    if tb is None:  # SB3's default logger would leave an empty folder in /tmp per run
        from stable_baselines3.common.logger import Logger

        model.set_logger(Logger(folder=None, output_formats=[]))
    try:
        model.learn(total_timesteps=max(0, cfg.timesteps - start_steps), callback=monitor,
                    reset_num_timesteps=start_steps == 0, tb_log_name="run")
    except KeyboardInterrupt:
        monitor.checkpoint()
        raise
    finally:  # whatever happens, the logged episodes are kept
        log.close()
        vec.close()
    monitor.checkpoint()
    save_model_atomic(model, run / "model.zip")
    if model.get_vec_normalize_env() is not None:
        save_stats_atomic(model.get_vec_normalize_env(), run / "vecnormalize.pkl")
    return run


