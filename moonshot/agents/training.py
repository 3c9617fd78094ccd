"""Training RL agents with stable-baselines3, every training episode logged.

A run folder holds::

    config.json        everything needed to reproduce the run (versions, seed, hyperparameters)
    episodes.csv       one row per training episode (docs/design.md, "Run folders")
    evaluations.csv    periodic deterministic evaluations on both splits
    model.zip          the final model
    vecnormalize.npz   observation/reward normalization statistics (runs with ``normalize``)
    checkpoints/       periodic checkpoints and latest.json (what --resume continues from)
    tensorboard/       with --tensorboard

The pieces live beside this loop: :mod:`.config` (what a run is), :mod:`.monitor` (episode
log, evaluations, checkpoints during the run), :mod:`.checkpoints` (files and loading).

Why one module of ~480 lines: the training loop's set-up, resume and fine-tune share one
plan of the run; the monitor, checkpoints and config are already their own modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from ..errors import ConfigError
from ..runlog import (
    EpisodeLog,
    check_named_folder,
    read_evaluations,
    read_json,
    run_folder,
    write_json,
)
from ..tblog import check_tensorboard
from ..versions import versions
from ..worlds import get_world, resolve_env_id, run_modules
from .checkpoints import (
    STATS_FILE,
    is_checkpoint_name,
    load_model,
    load_replay_buffer,
    model_readable,
    refuse_pickle,
    save_model_atomic,
    save_stats_atomic,
    set_torch_threads,
    stats_path,
    wrap_frame_stack,
    wrap_normalize,
)
from .config import (
    DEFAULT_TIMESTEPS,
    MODEL_ALGOS,
    RESUMABLE,
    TrainConfig,
    algo_class,
    command_line,
    default_hyperparams,
    default_schedule,
    env_workers,
    parse_key_values,
    run_frame_stack,
    schedules,
    split_hyperparams,
    update_threads,
    validate_config,
)
from .monitor import EvalLog, TrainingMonitor
from .resume import load_state, restore
from .vec import make_vec_env

__all__ = ["train", "TrainConfig", "default_hyperparams", "parse_key_values", "command_line",
           "versions"]


def __getattr__(name: str) -> Any:
    # Deprecated: moonshot.agents.training.load_agent(run_dir) is moonshot.agents.load_agent,
    # the one loader (which also takes ``planner`` and ``module:Class``).
    if name == "load_agent":
        import warnings

        from .loading import load_agent

        warnings.warn("moonshot.agents.training.load_agent is deprecated: use "
                      "moonshot.agents.load_agent", DeprecationWarning, stacklevel=2)
        return load_agent
    raise AttributeError(name)


def train(cfg: TrainConfig | None = None, *, resume: bool = False,
          on_checkpoint: Callable[[Path], object] | None = None, **kwargs: Any) -> Path:
    """Train an RL agent; returns the run folder.

    ``train(env="moon", algo="ppo", timesteps=200_000, out="runs/x", env_kwargs={"target":
    "soi"})`` or ``train(TrainConfig(...))``. Every setting is checked before anything is
    written; the run folder is locked for the life of the run (:class:`~moonshot.runlog.
    RunLock`).

    With ``resume=True`` the run in ``out`` continues from its last checkpoint as the same
    experiment: its saved budget, hyperparameters, evaluation and checkpoint schedule (only
    ``timesteps`` - a new budget -, ``progress``, ``device`` and ``torch_threads`` may be
    given), its random states and the episodes in flight (an uninterrupted run and a resumed
    one give the same results, bit for bit on the same machine); rows logged after the
    checkpoint are dropped and replayed, so no episode is lost or counted twice. A finished
    run resumes to no work. ``on_checkpoint(run_folder)`` is called after each checkpoint (a
    sweep sends the folder to its driver from there).
    """
    if cfg is None:
        cfg = TrainConfig(**kwargs)
    elif kwargs:
        raise TypeError("pass either a TrainConfig or keyword arguments, not both")
    run = check_named_folder(cfg.out, "train")
    saved: dict = {}
    if resume:
        cfg, saved = _resumed_config(cfg, run)
    elif _holds_run(run):
        raise FileExistsError(f"run folder {run} already holds a run; pass --resume to continue "
                              "it or choose another --out (nothing was overwritten)")
    validate_config(cfg)
    if cfg.algo in MODEL_ALGOS:  # agents that learn their own model: no SB3
        from .model_learning import plan_run, train_model_learner

        plan_run(cfg, saved)  # every setting checked before the folder is touched
        with run_folder(run, "train", fresh=False):
            if not resume and _holds_run(run):
                raise FileExistsError(f"run folder {run} already holds a run; pass --resume")
            return train_model_learner(cfg, saved, run, resume, on_checkpoint)
    plan = _plan(cfg, saved)
    with run_folder(run, "train", fresh=False):
        if not resume and _holds_run(run):  # another start won the race for the folder
            raise FileExistsError(f"run folder {run} already holds a run; pass --resume")
        return _train_locked(cfg, plan, run, resume, on_checkpoint)


def _holds_run(run: Path) -> bool:
    return any((run / name).exists() for name in ("episodes.csv", "config.json",
                                                  "checkpoints"))


def _resumed_config(cfg: TrainConfig, run: Path) -> tuple[TrainConfig, dict]:
    """The saved config of the run in ``run`` with the settings a resume may change."""
    path = run / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"nothing to resume: {path} does not exist")
    saved = read_json(path)
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        raise ValueError(f"{path} is not the config of a training run (no 'train' section); "
                         "was the folder made by `moonshot plan` or `evaluate`?")
    base = dict(saved["train"])
    if get_world(cfg.env).name != get_world(base.get("env", "?")).name:
        raise ConfigError(f"run folder {run} holds a {base.get('env')} run "
                          f"({saved.get('env_id', '?')}); it cannot resume as {cfg.env}")
    given, default = asdict(cfg), asdict(TrainConfig(env=cfg.env))
    for key, val in given.items():
        if key in RESUMABLE or key == "env" or val == default[key]:
            continue
        was = base.get(key)
        if isinstance(val, dict) and isinstance(was, dict) and {**was, **val} == was:
            continue  # what was given agrees with the saved (defaults filled in) settings
        if val != was:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} cannot change when resuming {run}: the run was started "
                              f"with {base.get(key)!r} (you gave {val!r}); resume without it, "
                              "or start a new run")
    merged = {**base, "out": cfg.out, "progress": cfg.progress,
              "torch_threads": cfg.torch_threads}
    if cfg.timesteps is not None:
        merged["timesteps"] = cfg.timesteps
    if cfg.device != default["device"]:
        merged["device"] = cfg.device
    known = {f for f in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{k: v for k, v in merged.items() if k in known}), saved


def _plan(cfg: TrainConfig, saved: dict) -> dict:
    """Everything the run needs, resolved and checked, before anything touches the disk:
    hyperparameters, env settings (an env is built once to check them), the evaluation and
    checkpoint schedule."""
    env_id = resolve_env_id(cfg.env) if not saved else saved.get("env_id") or \
        resolve_env_id(cfg.env)
    if saved.get("resolved_hyperparams") is not None:
        # A resumed run keeps the settings it started with, whatever the packaged defaults
        # have become since (its env_kwargs were recorded with the defaults merged in).
        hp, n_envs = saved["resolved_hyperparams"], saved["n_envs"]
        policy, normalize = saved["policy"], saved.get("normalize")
        stack = int(saved.get("frame_stack") or 1)
        env_kwargs = dict(cfg.env_kwargs)
    else:
        hp, n_envs, policy, normalize = split_hyperparams(cfg)
        stack = run_frame_stack(cfg)
        # Training-time env settings of the packaged defaults (reward shaping), under the
        # user's.
        env_kwargs = {**default_hyperparams(cfg.env, cfg.algo).get("env_kwargs", {}),
                      **cfg.env_kwargs}
        cfg.env_kwargs = dict(env_kwargs)
    timesteps = cfg.timesteps if cfg.timesteps is not None else DEFAULT_TIMESTEPS
    cfg.timesteps = timesteps
    world = get_world(cfg.env)
    schedule = saved.get("schedule") or default_schedule(
        timesteps, world.episode_steps(env_kwargs) if world.episode_steps else 1000,
        cfg.eval_every, cfg.eval_episodes, cfg.checkpoint_every)
    check_env_kwargs(env_id, {**env_kwargs, "split": cfg.split}, cfg.algo, policy)
    if not saved:
        announce_budget(cfg.algo, hp, n_envs, timesteps)
    if cfg.tensorboard:
        check_tensorboard()
    if cfg.init_from and not Path(cfg.init_from).exists():
        raise FileNotFoundError(f"missing model file to start from: {cfg.init_from}")
    # the layout of the envs is part of a checkpoint's state: a resumed run keeps its own
    workers = saved.get("env_workers") or env_workers(cfg, env_id, n_envs)
    return {"env_id": env_id, "hp": hp, "n_envs": n_envs, "policy": policy,
            "normalize": normalize, "env_kwargs": env_kwargs, "schedule": schedule,
            "env_workers": int(workers), "frame_stack": stack,
            # a run started before the seed sets keeps evaluating on its legacy seeds
            "eval_seed_set": saved.get("eval_seed_set", "legacy") if saved else "dev"}


def announce_budget(algo: str, hp: dict, n_envs: int, timesteps: int) -> None:
    """Say so when the budget does not fit the algorithm: an on-policy update collects
    ``n_steps x n_envs`` steps (the run ends at a whole number of them), an off-policy one
    learns nothing before ``learning_starts``."""
    if "n_steps" in hp or algo in ("ppo", "a2c"):
        per_update = int(hp.get("n_steps", 2048 if algo == "ppo" else 5)) * int(n_envs)
        end = -(-timesteps // per_update) * per_update
        if end != timesteps:
            print(f"moonshot: {algo} collects {per_update:,} steps per update "
                  f"({hp.get('n_steps')} x {n_envs} envs): the budget of {timesteps:,} steps "
                  f"ends after {end // per_update} update(s), at {end:,} steps", flush=True)
    starts = hp.get("learning_starts")
    if starts is not None and timesteps <= int(starts):
        print(f"moonshot: warning: {algo} learns nothing before learning_starts={starts:,} "
              f"steps, and the budget is {timesteps:,}: this run only collects random "
              "experience (raise --timesteps or lower learning_starts)", flush=True)


def check_env_kwargs(env_id: str, kwargs: dict, algo: str | None = None,
                     policy: str = "MlpPolicy") -> None:
    """Build the env once with ``kwargs``: a bad setting fails here, naming its key, before
    any folder or vectorized env exists. With ``algo``, also that the algorithm can act in
    the env's spaces (an algorithm object without its networks checks them)."""
    import gymnasium as gym

    env = gym.make(env_id, **kwargs)
    try:
        if algo is not None:
            try:
                # on- and off-policy classes take _init_setup_model (BaseAlgorithm does not)
                make = cast(Callable[..., object], algo_class(algo))
                make(policy, env, device="cpu", _init_setup_model=False)
            except (AssertionError, ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"--algo {algo} cannot train in {env_id} (policy {policy}): "
                                  f"{' '.join(str(exc).split())}") from None
    finally:
        env.close()


def find_checkpoint(run: Path) -> dict | None:
    """The checkpoint to resume ``run`` from: ``latest.json``, or, if it is missing or points
    at a missing or damaged file (a truncated model, state or statistics), the newest
    complete checkpoint before it; ``None`` when the run has no checkpoint at all. A
    checkpoint written as pickles by an older moonshot is refused (``moonshot migrate``)."""
    from ..safe_store import UnsafeFileError

    ckpt = run / "checkpoints"
    latest = ckpt / "latest.json"
    if latest.exists():
        try:
            meta = read_json(latest)
            problem = _checkpoint_problem(ckpt, meta)
            if problem is None:
                return meta
        except UnsafeFileError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"is unreadable ({exc})"
        print(f"moonshot: {latest} {problem}; looking for the newest complete checkpoint",
              flush=True)
    candidates = []
    for path in ckpt.glob("model_*.zip"):
        try:
            candidates.append((int(path.stem.split("_", 1)[1]), path))
        except ValueError:
            continue
    for steps, path in sorted(candidates, reverse=True):
        meta = {"env_steps": steps, "model": path.name, "state": f"state_{steps}.npz"}
        for key, name in (("vecnormalize", f"vecnormalize_{steps}.npz"),
                          ("replay_buffer", f"replay_buffer_{steps}.npz")):
            if (ckpt / name).exists():
                meta[key] = name
        try:
            if _checkpoint_problem(ckpt, meta) is not None:
                continue
            meta = {**load_state(ckpt / meta["state"]).get("meta", {}), **meta}
        except (ValueError, FileNotFoundError):
            continue
        print(f"moonshot: resuming {run} from {path.name}, the newest complete checkpoint",
              flush=True)
        return meta
    old = sorted(ckpt.glob("state_*.pkl"))
    if old:
        refuse_pickle(old[-1], "a trainer state")
    return None


def _checkpoint_problem(ckpt: Path, meta: dict) -> str | None:
    """What is wrong with the checkpoint ``meta`` names (``None``: every file is whole)."""
    for key in ("model", "state", "vecnormalize", "replay_buffer"):
        name = meta.get(key) if key in ("vecnormalize", "replay_buffer") else meta[key]
        if name is None:
            continue
        if not is_checkpoint_name(key, name):
            return f"names {name!r} as its {key}, which is not a checkpoint file's name"
        path = ckpt / name
        if path.suffix == ".pkl":
            refuse_pickle(path, {"state": "a trainer state", "vecnormalize":
                                 "normalization statistics"}.get(key, "a replay buffer"))
        if not path.exists():
            return f"points at a missing file ({path.name})"
    if not model_readable(ckpt / meta["model"]):
        return f"points at a damaged model ({meta['model']})"
    load_state(ckpt / meta["state"])  # readable, or the caller's fallback
    if meta.get("vecnormalize"):
        from ..safe_store import load_tree

        load_tree(ckpt / meta["vecnormalize"], "normalization statistics")
    if meta.get("replay_buffer") and not model_readable(ckpt / meta["replay_buffer"],
                                                        model=False):
        return f"points at a damaged replay buffer ({meta['replay_buffer']})"
    return None


def _train_locked(cfg: TrainConfig, plan: dict, run: Path, resume: bool,
                  on_checkpoint=None) -> Path:
    from stable_baselines3.common.vec_env import VecMonitor

    env_id, hp, n_envs = plan["env_id"], plan["hp"], plan["n_envs"]
    normalize, schedule = plan["normalize"], plan["schedule"]
    assert cfg.timesteps is not None  # resolved by _plan
    meta = find_checkpoint(run) if resume else None
    if resume and meta is None:
        print(f"moonshot: {run} has no checkpoint yet; the run starts again from step 0 "
              "(its logged episodes were not checkpointed and are replaced)", flush=True)
    start_steps = int(meta["env_steps"]) if meta else 0
    if meta and start_steps >= cfg.timesteps and (run / "model.zip").exists():
        print(f"moonshot: {run} is complete ({start_steps:,} of {cfg.timesteps:,} steps); "
              "nothing to do", flush=True)
        return run
    # A resumed run's logs first: a corrupt episodes.csv fails now (naming the file), not
    # after the budget. A new run's logs come after the model (a failed start writes none).
    keep = start_steps if meta else -1
    if meta:
        _check_logs_before_resume(run, meta, start_steps)
    logs = _open_logs(run, keep) if resume else None
    if meta and logs is not None and \
            logs[0].episodes != int(meta.get("episodes", logs[0].episodes)):
        logs[0].close()
        raise ValueError(f"{run / 'episodes.csv'} holds {logs[0].episodes} episodes up to the "
                         f"checkpoint at step {start_steps:,}, which counted "
                         f"{meta['episodes']}: the log was cut or replaced, and resuming would "
                         "lose or repeat episodes (restore the file, or start a new run)")
    set_torch_threads(cfg.torch_threads)
    env_kwargs = {**plan["env_kwargs"], "split": cfg.split}
    # Same seed as the first start; the exact resume below restores the envs' states (an env
    # that cannot say where it stood restarts with its seed offset by the checkpoint's step).
    vec = make_vec_env(env_id, n_envs, cfg.seed + start_steps, env_kwargs,
                       workers=plan["env_workers"])
    # Episode returns and lengths for SB3's own rollout/ep_rew_mean, ep_len_mean (TensorBoard)
    vec = VecMonitor(vec)
    tb = str(run / "tensorboard") if cfg.tensorboard else None
    state = None
    try:
        if meta:
            ckpt = run / "checkpoints"
            # A normalized run resumes with its statistics or not at all (load_normalizer
            # names the missing file); fresh statistics would change what the policy sees.
            stats = ckpt / meta.get("vecnormalize", f"vecnormalize_{start_steps}.npz")
            vec = wrap_normalize(vec, normalize, stats if normalize is not None else None)
            vec = wrap_frame_stack(vec, plan["frame_stack"])
            model = load_model(ckpt / meta["model"], cfg.algo, env=vec, hyperparams=hp,
                               policy=plan["policy"], device=cfg.device)
            state = load_state(ckpt / meta["state"])
            if meta.get("replay_buffer") and getattr(model, "replay_buffer", None) is not None:
                load_replay_buffer(model, ckpt / meta["replay_buffer"])
            try:
                restored = restore(model, state)
            except ConfigError as exc:  # name the checkpoint it could not resume from
                raise ConfigError(f"{ckpt / meta['state']}: {exc}") from None
            if not restored:
                print("moonshot: the env cannot restore its state; resuming from a reset",
                      flush=True)
        elif cfg.init_from:
            vec, model = _fine_tune_start(cfg, vec, normalize, plan)
        else:
            vec = wrap_frame_stack(wrap_normalize(vec, normalize, None), plan["frame_stack"])
            model = _build_model(cfg, plan, vec)
        model.tensorboard_log = tb
    except BaseException:
        vec.close()
        raise
    log, evals = logs or _open_logs(run, None)
    write_json(run / "config.json", {
        "train": asdict(cfg), "env_id": env_id, "resolved_hyperparams": hp, "n_envs": n_envs,
        "normalize": normalize, "policy": plan["policy"], "schedule": schedule,
        "env_workers": plan["env_workers"], "modules": run_modules(env_id),
        "frame_stack": plan["frame_stack"], "eval_seed_set": plan["eval_seed_set"],
        "versions": versions(), "command": command_line(cfg)})
    monitor = TrainingMonitor(run, cfg, env_id, log, evals, schedule,
                              float(meta["wall_time_s"]) if meta else 0.0, cfg.timesteps,
                              resumed=None if state is None else state.get("monitor"),
                              evaluated_at=meta.get("last_eval_steps") if meta else None,
                              on_checkpoint=on_checkpoint,
                              threads=(cfg.torch_threads, update_threads(cfg)),
                              frame_stack=plan["frame_stack"],
                              eval_seed_set=plan["eval_seed_set"])
    if tb is None:  # SB3's default logger would leave an empty folder in /tmp per run
        from stable_baselines3.common.logger import Logger

        model.set_logger(Logger(folder=None, output_formats=[]))
    try:
        model.learn(total_timesteps=max(0, cfg.timesteps - start_steps), callback=monitor,
                    reset_num_timesteps=start_steps == 0, tb_log_name="run")
        monitor.finish()
    finally:  # whatever happens, the logged episodes are kept
        log.close()
        vec.close()
    save_model_atomic(model, run / "model.zip")
    norm = model.get_vec_normalize_env()
    if norm is not None:
        save_stats_atomic(norm, run / STATS_FILE)
    return run


def _check_logs_before_resume(run: Path, meta: dict, steps: int) -> None:
    """A log the checkpoint counted on must be there, whole up to the checkpoint: a missing
    or cut one is an error naming the file and the fix (a resume would leave a gap)."""
    episodes = run / "episodes.csv"
    if not episodes.exists() and int(meta.get("episodes", 0)) > 0:
        raise FileNotFoundError(f"missing episode log {episodes}: the checkpoint at step "
                                f"{steps:,} counted {meta['episodes']} episodes in it; restore "
                                "the file, or start a new run in another folder")
    path = run / "evaluations.csv"
    kept = [r for r in read_evaluations(path) if int(float(r["env_steps"])) <= steps]
    expected = meta.get("evaluations")
    if expected is None:  # a checkpoint of an older moonshot: did it evaluate at all?
        expected = len(kept) if int(meta.get("last_eval_steps", -1)) < 0 or kept else 1
    # the checkpoint's own evaluation, if lost, is run again (TrainingMonitor): one per split
    redo = int(meta.get("last_eval_steps", -1)) == steps and not any(
        int(float(r["env_steps"])) == steps for r in kept)
    if len(kept) < int(expected) - (2 if redo else 0):
        what = "missing" if not path.exists() else f"holds {len(kept)} evaluation row(s)"
        raise ValueError(f"{path} is {what} up to the checkpoint at step {steps:,}, which "
                         f"counted {expected}: the file was cut or deleted, and resuming would "
                         "leave a gap; restore the file, or start a new run in another folder")


def _open_logs(run: Path, keep: int | None) -> tuple[EpisodeLog, EvalLog]:
    """episodes.csv and evaluations.csv, cut back to step ``keep`` (-1: empty; None: new)."""
    log = EpisodeLog(run / "episodes.csv", flush_every=4096, truncate_after_steps=keep)
    evals = EvalLog(run / "evaluations.csv", truncate_after_steps=-1 if keep is None else keep)
    return log, evals


def _build_model(cfg: TrainConfig, plan: dict, vec):
    """A new SB3 model; a hyperparameter SB3 rejects becomes a ConfigError naming them."""
    try:
        # SB3 may add entries to policy_kwargs in place (A2C's optimizer): pass a copy.
        return algo_class(cfg.algo)(plan["policy"], vec, seed=cfg.seed, device=cfg.device,
                                    verbose=0, **schedules(copy.deepcopy(plan["hp"])))
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        raise ConfigError(f"{cfg.algo} rejects these hyperparameters "
                          f"({', '.join(f'{k}={v}' for k, v in plan['hp'].items())}): "
                          f"{type(exc).__name__}: {exc}") from None


def _fine_tune_start(cfg: TrainConfig, vec, normalize, plan: dict):
    assert cfg.init_from is not None  # only called for a fine-tune
    init = Path(cfg.init_from)
    stats = stats_path(init)
    if not stats.exists() and stats.with_suffix(".pkl").exists():
        refuse_pickle(stats.with_suffix(".pkl"), "normalization statistics")
    if (normalize is not None) != stats.exists():
        raise ConfigError(
            f"{init} was trained on normalized observations ({stats.name} beside it): "
            "fine-tune it with normalize=true" if stats.exists() else
            f"normalize is on but {init} has no statistics beside it ({stats}): it was "
            "trained on raw observations; fine-tune it without normalize")
    vec = wrap_frame_stack(wrap_normalize(vec, normalize, stats if stats.exists() else None),
                           plan["frame_stack"])
    model = load_model(init, cfg.algo, env=vec, hyperparams=plan["hp"], policy=plan["policy"],
                       device=cfg.device)
    model.set_random_seed(cfg.seed)
    return vec, model


